//! Every way a request can be malformed, checked where it is decided: the request is parsed and validated
//! as the provisioner does before any call, and the rejection must name the field at fault with a reason.
//! Phrased through the public entry points ([`Request::parse`], the `validate_*` checks) and the problems
//! `(field, reason)` alone, so that the cases hold whatever types validation hands back. A handful run end
//! to end on the emulator (`tests/tests/rejections.rs`): one per request kind.

use serde_json::{json, Value};

use crate::domain::custody::check_custodian_request;
use crate::domain::request::{
    Request, CUSTODIAN_ACCESS_REQUESTED, NOTEBOOK_DECOMMISSION_REQUESTED, NOTEBOOK_IDLE_SNOOZE_REQUESTED,
    NOTEBOOK_REQUESTED, NOTEBOOK_START_REQUESTED, OWNER_DEACTIVATED,
};
use crate::domain::settings::tests::settings as config;
use crate::domain::validation::{
    validate_action_request, validate_decommission, validate_notebook_request, validate_owner_deactivated,
    validate_snooze, Rejection,
};
use crate::testing::{
    ActionRequest, CustodianRequest, DeactivationRequest, DecommissionRequest, NotebookRequest, SnoozeRequest,
};

/// The problems the domain finds in one request, as `(field, reason)`; empty when it is valid (so far as
/// no AWS state is needed to tell).
fn problems(detail_type: &str, detail: &Value) -> Vec<(String, String)> {
    let config = config();
    let checked = Request::parse(detail_type, detail).and_then(|request| match &request {
        Request::Provision(r) => validate_notebook_request(r, &config.limits)
            .and_then(|valid| config.limits.entitlements.check(&valid.team, &valid.owner, &r.data_access)),
        Request::Stop(r) | Request::Start(r) => validate_action_request(r).map(|_| ()),
        Request::Decommission(r) => validate_decommission(r).map(|_| ()),
        Request::DeactivateOwner(r) => validate_owner_deactivated(r).map(|_| ()),
        Request::Custodian(r) => check_custodian_request(r, &config.limits, config.custodian_max_hours),
        Request::Snooze(r) => validate_snooze(r, config.max_snooze_hours).map(|_| ()),
    });
    checked
        .err()
        .map(|Rejection { problems }| problems)
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.field, p.reason))
        .collect()
}

/// (what is wrong, detail-type, detail, the field the rejection must name)
type Case = (&'static str, &'static str, Value, &'static str);

fn notebook_cases() -> Vec<Case> {
    let base = || NotebookRequest::new("bad-1", "bad-nb").detail();
    let with = |field: &str, value: Value| {
        let mut detail = base();
        detail[field] = value;
        detail
    };
    let without = |field: &str| {
        let mut detail = base();
        detail.as_object_mut().map(|o| o.remove(field));
        detail
    };
    let grant = |bucket: &str, prefix: &str, access: &str| {
        NotebookRequest::new("bad-1", "bad-nb").with_data_access(&[(bucket, prefix, access)]).detail()
    };
    let r = NOTEBOOK_REQUESTED;
    let grants = |items: Value| with("data_access", items);
    vec![
        ("no request id", r, without("request_id"), "detail"),
        ("request id with a space", r, with("request_id", json!("bad 1")), "detail.request_id"),
        ("request id too long", r, with("request_id", json!("r".repeat(129))), "detail.request_id"),
        ("request id not a string", r, with("request_id", json!(42)), "detail.request_id"),
        ("no notebook name", r, without("notebook_name"), "detail"),
        ("name with underscore", r, with("notebook_name", json!("bad_nb")), "detail.notebook_name"),
        ("name too long", r, with("notebook_name", json!("n".repeat(64))), "detail.notebook_name"),
        ("name with leading hyphen", r, with("notebook_name", json!("-nb")), "detail.notebook_name"),
        ("empty name", r, with("notebook_name", json!("")), "detail.notebook_name"),
        ("name with a dot", r, with("notebook_name", json!("a.b")), "detail.notebook_name"),
        ("empty owner", r, with("owner", json!("")), "detail.owner"),
        ("owner with a slash", r, with("owner", json!("a/b")), "detail.owner"),
        ("owner not ASCII", r, with("owner", json!("élodie")), "detail.owner"),
        ("team too long", r, with("team", json!("t".repeat(65))), "detail.team"),
        ("no team", r, without("team"), "detail"),
        ("instance type not offered", r, with("instance_type", json!("ml.p4d.24xlarge")), "detail.instance_type"),
        ("instance type garbage", r, with("instance_type", json!("big")), "detail.instance_type"),
        ("volume zero", r, with("volume_size_gb", json!(0)), "detail.volume_size_gb"),
        ("volume below SageMaker's minimum", r, with("volume_size_gb", json!(4)), "detail.volume_size_gb"),
        ("volume above the platform's maximum", r, with("volume_size_gb", json!(513)), "detail.volume_size_gb"),
        ("volume negative", r, with("volume_size_gb", json!(-1)), "detail.volume_size_gb"),
        ("volume as a string", r, with("volume_size_gb", json!("20")), "detail.volume_size_gb"),
        ("idle timeout too short", r, with("idle_timeout_minutes", json!(5)), "detail.idle_timeout_minutes"),
        ("idle timeout too long", r, with("idle_timeout_minutes", json!(100_000)), "detail.idle_timeout_minutes"),
        ("root access not allowed", r, with("root_access", json!(true)), "detail.root_access"),
        ("bucket outside the perimeter", r, grant("other-data", "x/", "read"), "detail.data_access[0].bucket"),
        ("the assets bucket", r, grant("fleet-assets", "heartbeats/", "read-write"), "detail.data_access[0].bucket"),
        ("bucket with capitals", r, grant("Team-Data", "x/", "read"), "detail.data_access[0].bucket"),
        ("bucket as an IP address", r, grant("192.168.1.1", "x/", "read"), "detail.data_access[0].bucket"),
        ("reserved bucket prefix", r, grant("xn--team", "x/", "read"), "detail.data_access[0].bucket"),
        ("empty prefix (whole bucket)", r, grant("team-data", "", "read"), "detail.data_access[0].prefix"),
        ("prefix with *", r, grant("team-data", "risk/*", "read-write"), "detail.data_access[0].prefix"),
        ("prefix with ?", r, grant("team-data", "risk/?/", "read"), "detail.data_access[0].prefix"),
        ("prefix escaping with ..", r, grant("team-data", "risk/../hr/", "read"), "detail.data_access[0].prefix"),
        ("prefix with a leading /", r, grant("team-data", "/risk/", "read"), "detail.data_access[0].prefix"),
        ("prefix without a trailing /", r, grant("team-data", "risk/alice", "read"), "detail.data_access[0].prefix"),
        (
            "prefix with a control character",
            r,
            grant("team-data", "risk/\u{1b}/", "read"),
            "detail.data_access[0].prefix",
        ),
        (
            "prefix with a policy variable",
            r,
            grant("team-data", "${aws:username}/", "read"),
            "detail.data_access[0].prefix",
        ),
        (
            "prefix too long",
            r,
            grant("team-data", &format!("{}/", "p".repeat(300)), "read"),
            "detail.data_access[0].prefix",
        ),
        ("unknown access level", r, grant("team-data", "risk/", "write"), "detail.data_access[0].access"),
        (
            "grant without access",
            r,
            grants(json!([{"bucket": "team-data", "prefix": "risk/"}])),
            "detail.data_access[0]",
        ),
        (
            "the same folder twice",
            r,
            grants(json!([
                {"bucket": "team-data", "prefix": "risk/", "access": "read"},
                {"bucket": "team-data", "prefix": "risk/", "access": "read-write"}
            ])),
            "detail.data_access[1]",
        ),
        (
            "too many grants",
            r,
            grants(
                (0..11).map(|i| json!({"bucket": "team-data", "prefix": format!("p{i}/"), "access": "read"})).collect(),
            ),
            "detail.data_access",
        ),
        ("a folder the team is not entitled to", r, grant("team-data", "risk/bob/", "read"), "detail.data_access[0]"),
        ("a misspelt field", r, with("idle_timout_minutes", json!(30)), "detail.idle_timout_minutes"),
        ("a detail that is not an object", r, json!(["bad-1"]), "detail"),
        ("an unknown request type", "Notebook Exploded", base(), "detail-type"),
    ]
}

fn other_cases() -> Vec<Case> {
    let custodian = || CustodianRequest::new("bad-1", "alice");
    let custodian_with = |field: &str, value: Value| {
        let mut detail = custodian().detail();
        detail[field] = value;
        detail
    };
    vec![
        (
            "start with a bad name",
            NOTEBOOK_START_REQUESTED,
            ActionRequest::new("bad-1", "bad_nb").detail(),
            "detail.notebook_name",
        ),
        (
            "start by a malformed person",
            NOTEBOOK_START_REQUESTED,
            ActionRequest::new("bad-1", "nb").with_requested_by("a b").detail(),
            "detail.requested_by",
        ),
        (
            "a deletion without repeating the notebook's name",
            NOTEBOOK_DECOMMISSION_REQUESTED,
            DecommissionRequest::new("bad-1", "alice-nb").with_deletion(Some(true), None).detail(),
            "detail.confirm_notebook_name",
        ),
        (
            "a deletion without saying the data is no longer needed",
            NOTEBOOK_DECOMMISSION_REQUESTED,
            DecommissionRequest::new("bad-1", "alice-nb").with_deletion(None, Some("alice-nb")).detail(),
            "detail.data_no_longer_needed",
        ),
        (
            "a decommission without a reason",
            NOTEBOOK_DECOMMISSION_REQUESTED,
            DecommissionRequest::new("bad-1", "alice-nb").with_reason(" ").detail(),
            "detail.reason",
        ),
        (
            "a deactivation of a malformed owner",
            OWNER_DEACTIVATED,
            DeactivationRequest::new("bad-1", "alice smith").detail(),
            "detail.owner",
        ),
        (
            "a deactivation without a reason",
            OWNER_DEACTIVATED,
            DeactivationRequest::new("bad-1", "alice").with_reason("").detail(),
            "detail.reason",
        ),
        (
            "custodian access for longer than the platform allows",
            CUSTODIAN_ACCESS_REQUESTED,
            custodian().with_hours(100_000).detail(),
            "detail.duration_hours",
        ),
        (
            "custodian access with a ticket that cannot be a tag",
            CUSTODIAN_ACCESS_REQUESTED,
            custodian_with("ticket", json!("LEGAL-1; DROP")),
            "detail.ticket",
        ),
        (
            "custodian access for the deactivated owner herself",
            CUSTODIAN_ACCESS_REQUESTED,
            custodian().with_custodian("alice").detail(),
            "detail.custodian",
        ),
        (
            "a snooze longer than the platform allows",
            NOTEBOOK_IDLE_SNOOZE_REQUESTED,
            SnoozeRequest::new("bad-1", "alice-nb").with_hours(500).detail(),
            "detail.hours",
        ),
        (
            "a snooze of no hours",
            NOTEBOOK_IDLE_SNOOZE_REQUESTED,
            SnoozeRequest::new("bad-1", "alice-nb").with_hours(0).detail(),
            "detail.hours",
        ),
    ]
}

#[test]
fn the_builders_start_valid() {
    for (detail_type, detail) in [
        (NOTEBOOK_REQUESTED, NotebookRequest::new("ok-1", "alice-nb").detail()),
        (NOTEBOOK_START_REQUESTED, ActionRequest::new("ok-1", "alice-nb").detail()),
        (NOTEBOOK_DECOMMISSION_REQUESTED, DecommissionRequest::new("ok-1", "alice-nb").deleting().detail()),
        (OWNER_DEACTIVATED, DeactivationRequest::new("ok-1", "alice").detail()),
        (CUSTODIAN_ACCESS_REQUESTED, CustodianRequest::new("ok-1", "alice").detail()),
        (NOTEBOOK_IDLE_SNOOZE_REQUESTED, SnoozeRequest::new("ok-1", "alice-nb").detail()),
    ] {
        assert_eq!(problems(detail_type, &detail), [], "{detail_type}: {detail}");
    }
}

#[test]
fn each_malformed_request_is_rejected_naming_its_field_with_a_reason() {
    let cases: Vec<Case> = notebook_cases().into_iter().chain(other_cases()).collect();
    let mut wrong = Vec::new();
    for (what, detail_type, detail, field) in &cases {
        let found = problems(detail_type, detail);
        if !found.iter().any(|(f, reason)| f == field && !reason.trim().is_empty()) {
            wrong.push(format!("{what}: expected a problem naming {field}, got {found:?}"));
        }
    }
    assert!(wrong.is_empty(), "{} of {} cases:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
}
