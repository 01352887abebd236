//! The provisioner's metrics: one embedded-metric line per request event, in namespace `NotebookFleet`.
//!
//! | metric | unit | dimension | value |
//! | --- | --- | --- | --- |
//! | `Requests` | Count | `RequestKind`: the request's `detail-type` (`unknown` for any other) | 1 |
//! | `RequestLatency` | Milliseconds | `RequestKind` | time to handle the event |
//! | `Outcomes` | Count | `OutcomeType`: the outcome's `detail-type` | 1, when the request was answered |
//! | `Rejections` | Count | `RejectionClass` (below) | 1, when the answer is a rejection |
//! | `Failures` | Count | none | 1 when the event failed (retryable: the invocation fails and is retried), else 0 |
//!
//! Each dimensioned metric is also published without its dimension, as a total.

use super::metrics::{emf_line_of, Metric, NAMESPACE};
use super::outcome::NOTEBOOK_REQUEST_REJECTED;
use super::request::REQUEST_DETAIL_TYPES;
use super::validation::Problem;

/// How a request event ended, as far as the metrics care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled<'a> {
    /// Answered with an outcome of this `detail-type`; a rejection's problems (empty for other outcomes).
    Answered { outcome: &'a str, problems: &'a [Problem] },
    /// A retryable failure: no outcome; the invocation fails, so EventBridge and Lambda retry it.
    Failed,
}

/// Why a request was refused, in a small fixed set of classes (the `RejectionClass` dimension), derived
/// from the rejection's first problem: its field and the wording of its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionClass {
    /// `source-not-allowed`: the event's source may not send this kind of request.
    SourceNotAllowed,
    /// `not-entitled`: data the team has no entitlement for, or a custodian scope outside the owner's data.
    NotEntitled,
    /// `not-permitted`: who asks may not (a deactivated person, not the owner, an owner still active).
    NotPermitted,
    /// `not-found`: no such notebook, or one this project does not manage.
    NotFound,
    /// `conflict`: the name (notebook or role) is taken by another request or by something else.
    Conflict,
    /// `locked`: the notebook is locked, or its custodian access expired.
    Locked,
    /// `wrong-state`: the notebook is in a state that does not allow it now (ask again later).
    WrongState,
    /// `not-isolated`: the notebook's network is not isolated, so it is not started.
    NotIsolated,
    /// `invalid-field`: a field breaks a rule (type, format, limits, unknown field or request kind): the default.
    InvalidField,
}

impl RejectionClass {
    pub const ALL: [RejectionClass; 9] = [
        RejectionClass::SourceNotAllowed,
        RejectionClass::NotEntitled,
        RejectionClass::NotPermitted,
        RejectionClass::NotFound,
        RejectionClass::Conflict,
        RejectionClass::Locked,
        RejectionClass::WrongState,
        RejectionClass::NotIsolated,
        RejectionClass::InvalidField,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectionClass::SourceNotAllowed => "source-not-allowed",
            RejectionClass::NotEntitled => "not-entitled",
            RejectionClass::NotPermitted => "not-permitted",
            RejectionClass::NotFound => "not-found",
            RejectionClass::Conflict => "conflict",
            RejectionClass::Locked => "locked",
            RejectionClass::WrongState => "wrong-state",
            RejectionClass::NotIsolated => "not-isolated",
            RejectionClass::InvalidField => "invalid-field",
        }
    }

    /// The class of a rejection: that of its first problem (a rejection lists problems of one kind).
    pub fn of(problems: &[Problem]) -> Self {
        let Some(problem) = problems.first() else { return RejectionClass::InvalidField };
        let says = |phrase: &str| problem.reason.contains(phrase);
        if problem.field == "source" {
            RejectionClass::SourceNotAllowed
        } else if says("not covered by an entitlement")
            || says("is not inside the data of")
            || says("was ever given data access")
        {
            RejectionClass::NotEntitled
        } else if says("already exists") || says("exists and is not managed") {
            RejectionClass::Conflict
        } else if says("there is no notebook named") || says("is not managed by notebook-fleet") {
            RejectionClass::NotFound
        } else if says("is locked") || says("custodian access of notebook") {
            RejectionClass::Locked
        } else if says("is not isolated") || says("is in no subnet") || says("restore the isolation") {
            RejectionClass::NotIsolated
        } else if says("now; send the request again") {
            RejectionClass::WrongState
        } else if says("is deactivated") || says("is not deactivated") || says("only the notebook's owner") {
            RejectionClass::NotPermitted
        } else {
            RejectionClass::InvalidField
        }
    }
}

/// The metric line for one request event of kind `request_kind` (its `detail-type`), handled in
/// `elapsed_ms`, at `timestamp_ms`.
pub fn request_metric_line(request_kind: &str, handled: &Handled, elapsed_ms: u64, timestamp_ms: i64) -> String {
    let kind = if REQUEST_DETAIL_TYPES.contains(&request_kind) { request_kind } else { "unknown" };
    let mut metrics = vec![
        Metric::new("Requests", "Count", 1.0).by("RequestKind", kind),
        Metric::new("RequestLatency", "Milliseconds", elapsed_ms as f64).by("RequestKind", kind),
        Metric::new("Failures", "Count", if *handled == Handled::Failed { 1.0 } else { 0.0 }),
    ];
    if let Handled::Answered { outcome, problems } = *handled {
        metrics.push(Metric::new("Outcomes", "Count", 1.0).by("OutcomeType", outcome));
        if outcome == NOTEBOOK_REQUEST_REJECTED {
            metrics.push(
                Metric::new("Rejections", "Count", 1.0).by("RejectionClass", RejectionClass::of(problems).as_str()),
            );
        }
    }
    emf_line_of(NAMESPACE, timestamp_ms, &metrics)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{json, Value};

    use super::*;
    use crate::domain::entitlements::Entitlements;
    use crate::domain::outcome::{NOTEBOOK_PROVISIONED, NOTEBOOK_STOPPED};
    use crate::domain::request::{Request, NOTEBOOK_REQUESTED, NOTEBOOK_STOP_REQUESTED, OWNER_DEACTIVATED};
    use crate::domain::senders::RequestSenders;

    fn problem(field: &str, reason: &str) -> Problem {
        Problem { field: field.into(), reason: reason.into() }
    }

    fn parsed(line: &str) -> Value {
        assert!(!line.contains('\n'), "one line: {line}");
        serde_json::from_str(line).expect("the metric line is JSON")
    }

    /// Each metric name with its unit and the dimension sets it is published under.
    fn declared(line: &Value) -> BTreeMap<String, (String, Value)> {
        let mut declared = BTreeMap::new();
        for directive in line["_aws"]["CloudWatchMetrics"].as_array().expect("directives") {
            assert_eq!(directive["Namespace"], "NotebookFleet");
            for metric in directive["Metrics"].as_array().expect("metrics") {
                let name = metric["Name"].as_str().expect("name").to_owned();
                let unit = metric["Unit"].as_str().expect("unit").to_owned();
                assert!(declared.insert(name, (unit, directive["Dimensions"].clone())).is_none(), "declared once");
            }
        }
        declared
    }

    #[test]
    fn an_answered_request_counts_its_kind_outcome_and_latency() {
        let line = parsed(&request_metric_line(
            NOTEBOOK_STOP_REQUESTED,
            &Handled::Answered { outcome: NOTEBOOK_STOPPED, problems: &[] },
            42,
            1_700_000_000_000,
        ));
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        let declared = declared(&line);
        assert_eq!(
            declared.keys().map(String::as_str).collect::<Vec<_>>(),
            ["Failures", "Outcomes", "RequestLatency", "Requests"]
        );
        assert_eq!(declared["Requests"], ("Count".to_owned(), json!([["RequestKind"], []])));
        assert_eq!(declared["RequestLatency"], ("Milliseconds".to_owned(), json!([["RequestKind"], []])));
        assert_eq!(declared["Outcomes"], ("Count".to_owned(), json!([["OutcomeType"], []])));
        assert_eq!(declared["Failures"], ("Count".to_owned(), json!([[]])));
        assert_eq!(
            (&line["RequestKind"], &line["OutcomeType"]),
            (&json!("Notebook Stop Requested"), &json!("Notebook Stopped"))
        );
        assert_eq!((&line["Requests"], &line["RequestLatency"]), (&json!(1.0), &json!(42.0)));
        assert_eq!((&line["Outcomes"], &line["Failures"]), (&json!(1.0), &json!(0.0)));
    }

    #[test]
    fn a_rejection_is_counted_by_its_class() {
        let problems = [problem("detail.owner", "must be 1 to 64 characters long")];
        let line = parsed(&request_metric_line(
            NOTEBOOK_REQUESTED,
            &Handled::Answered { outcome: NOTEBOOK_REQUEST_REJECTED, problems: &problems },
            3,
            1,
        ));
        assert_eq!(declared(&line)["Rejections"], ("Count".to_owned(), json!([["RejectionClass"], []])));
        assert_eq!((&line["Rejections"], &line["RejectionClass"]), (&json!(1.0), &json!("invalid-field")));
        assert_eq!(line["OutcomeType"], "Notebook Request Rejected");
    }

    #[test]
    fn a_failed_event_counts_a_failure_and_no_outcome() {
        let line = parsed(&request_metric_line(OWNER_DEACTIVATED, &Handled::Failed, 900, 1));
        assert_eq!(
            declared(&line).keys().map(String::as_str).collect::<Vec<_>>(),
            ["Failures", "RequestLatency", "Requests"]
        );
        assert_eq!((&line["Failures"], &line["RequestKind"]), (&json!(1.0), &json!("Owner Deactivated")));
        assert_eq!((&line["OutcomeType"], &line["Rejections"]), (&Value::Null, &Value::Null));
    }

    #[test]
    fn an_unknown_request_kind_is_one_dimension_value_not_one_per_name() {
        let line = parsed(&request_metric_line(
            "Notebook Teleport Requested",
            &Handled::Answered { outcome: NOTEBOOK_REQUEST_REJECTED, problems: &[] },
            1,
            1,
        ));
        assert_eq!(line["RequestKind"], "unknown");
        let provisioned = parsed(&request_metric_line(
            NOTEBOOK_REQUESTED,
            &Handled::Answered { outcome: NOTEBOOK_PROVISIONED, problems: &[] },
            1,
            1,
        ));
        assert_eq!(provisioned["RequestKind"], "Notebook Requested");
        assert_eq!(provisioned["Rejections"], Value::Null);
    }

    #[test]
    fn the_domains_own_rejections_fall_in_their_class() {
        let class = |rejection: crate::domain::validation::Rejection| RejectionClass::of(&rejection.problems);
        let senders = RequestSenders::default();
        assert_eq!(
            class(senders.check(NOTEBOOK_REQUESTED, "someone.else").expect_err("no sender")),
            RejectionClass::SourceNotAllowed
        );
        let unknown = Request::parse("Notebook Teleport Requested", &json!({})).expect_err("unknown kind");
        assert_eq!(class(unknown), RejectionClass::InvalidField);
        let misspelt = Request::parse(NOTEBOOK_STOP_REQUESTED, &json!({"request_id": "r", "notebook_nam": "x"}))
            .expect_err("unknown field");
        assert_eq!(class(misspelt), RejectionClass::InvalidField);
        let grants: Vec<crate::domain::request::DataAccess> =
            serde_json::from_value(json!([{"bucket": "data", "prefix": "teams/x/", "access": "read"}]))
                .expect("grants");
        let uncovered = Entitlements::default().check("ds", "alice", &grants).expect_err("no entitlement");
        assert_eq!(class(uncovered), RejectionClass::NotEntitled);
    }

    #[test]
    fn the_services_rejections_fall_in_their_class() {
        let cases = [
            ("detail.notebook_name", "there is no notebook named \"nb\"", RejectionClass::NotFound),
            ("detail.notebook_name", "notebook \"nb\" is not managed by notebook-fleet", RejectionClass::NotFound),
            ("detail.notebook_name", "a notebook named \"nb\" exists and is not managed by notebook-fleet; choose another name", RejectionClass::Conflict),
            ("detail.notebook_name", "notebook \"nb\" already exists (request r0); choose another name or decommission it first", RejectionClass::Conflict),
            ("detail.notebook_name", "IAM role nbf-nb already exists for another request (r0); decommission the old notebook or choose another name", RejectionClass::Conflict),
            ("detail.notebook_name", "notebook \"nb\" is locked (owner-deactivated, since 2024-01-01T00:00:00Z) and cannot be started", RejectionClass::Locked),
            ("detail.notebook_name", "the custodian access of notebook \"nb\" expired at 2024-01-01T00:00:00+00:00", RejectionClass::Locked),
            ("detail.notebook_name", "notebook \"nb\" is Pending and cannot be stopped now; send the request again once it is InService", RejectionClass::WrongState),
            ("detail.notebook_name", "notebook \"nb\" is in no subnet, so it is not isolated and is never started", RejectionClass::NotIsolated),
            ("detail.notebook_name", "notebook \"nb\" is not started: subnet-1 is not isolated. The platform team must restore the isolation first", RejectionClass::NotIsolated),
            ("detail.owner", "\"alice\" is deactivated and gets no new notebook; a custodian can ask for access to their data", RejectionClass::NotPermitted),
            ("detail.deactivated_owner", "\"alice\" is not deactivated; custodian access is only for deactivated owners (send Owner Deactivated first)", RejectionClass::NotPermitted),
            ("detail.requested_by", "only the notebook's owner (alice) may snooze \"nb\"", RejectionClass::NotPermitted),
            ("detail.deactivated_owner", "no notebook of \"alice\" was ever given data access; there is nothing to grant", RejectionClass::NotEntitled),
            ("detail.scope[0]", "s3://data/x/ is not inside the data of \"alice\"; ask for one of (or a folder inside): s3://data/a/", RejectionClass::NotEntitled),
            ("detail.volume_size_gb", "must be 5 to 100", RejectionClass::InvalidField),
        ];
        for (field, reason, expected) in cases {
            assert_eq!(RejectionClass::of(&[problem(field, reason)]), expected, "{reason}");
        }
        assert_eq!(RejectionClass::of(&[]), RejectionClass::InvalidField);
        let names: std::collections::BTreeSet<_> = RejectionClass::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), RejectionClass::ALL.len(), "distinct dimension values");
    }
}
