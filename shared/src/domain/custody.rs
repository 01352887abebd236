//! Custodian access to a deactivated owner's data: what may be asked for and what is granted.
//!
//! The deactivated identity is never used. A custodian (a named, active person) gets a notebook of their own
//! whose role reads exactly the owner's folders (or a narrower part of them), as recorded in the audit trail
//! when the owner's notebooks were provisioned; never more, never write, and only until the grant expires.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, SecondsFormat, Timelike, Utc};

use super::audit::AuditRecord;
use super::outcome::NOTEBOOK_PROVISIONED;
use super::request::{AccessLevel, CustodianAccessRequested, DataAccess, DataScope, NotebookRequested};
use super::settings::RequestLimits;
use super::tags;
use super::types::{Principal, RequestId};
use super::validation::{
    validate_notebook_request, validate_reason, Problem, Problems, Rejection, ValidNotebookRequest,
};

const MAX_TICKET_LEN: usize = 128;

/// A custodian request that passed every check: the notebook to provision (read-only grants, custody tags)
/// and what was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustodianGrant {
    pub notebook: ValidNotebookRequest,
    pub scope: Vec<DataScope>,
    pub expires_at: DateTime<Utc>,
}

/// Checks everything that does not depend on the owner's records: ids, names, reason, ticket, duration, and
/// the notebook's own fields. Run before any AWS call.
pub fn check_custodian_request(
    request: &CustodianAccessRequested,
    limits: &RequestLimits,
    max_hours: u32,
) -> Result<(), Rejection> {
    let mut problems = Problems::default();
    problems.check("request_id", RequestId::parse(&request.request_id));
    problems.check("custodian", Principal::parse(&request.custodian));
    problems.check("deactivated_owner", Principal::parse(&request.deactivated_owner));
    if request.custodian == request.deactivated_owner {
        problems.check("custodian", Err::<(), String>("must be another person than the deactivated owner".into()));
    }
    problems.check("approved_by", Principal::parse(&request.approved_by));
    if request.approved_by == request.custodian || request.approved_by == request.deactivated_owner {
        problems.check(
            "approved_by",
            Err::<(), String>("access to another person's data needs an approver who is neither the custodian nor the deactivated owner".into()),
        );
    }
    problems.check("reason", validate_reason(&request.reason));
    problems.check("ticket", ticket(&request.ticket));
    if !(1..=max_hours).contains(&request.duration_hours) {
        problems.check(
            "duration_hours",
            Err::<(), String>(format!(
                "{} is out of bounds; custodian access lasts 1 to {max_hours} hours",
                request.duration_hours
            )),
        );
    }
    if request.scope.as_ref().is_some_and(Vec::is_empty) {
        problems.check(
            "scope",
            Err::<(), String>("must name at least one folder, or be omitted to ask for all of the owner's data".into()),
        );
    }
    let scope = request.scope.clone().unwrap_or_default();
    if let Err(rejection) = validate_notebook_request(&notebook_request(request, &scope), limits) {
        problems.extend(in_scope_terms(rejection).problems);
    }
    problems.into_result()
}

/// The folders the owner's notebooks were given, from their `Notebook Provisioned` records.
pub fn recorded_data(records: &[AuditRecord]) -> BTreeSet<DataScope> {
    records
        .iter()
        // A replay's record repeats what its redelivery said, not what was created: only first deliveries count.
        .filter(|record| record.action == NOTEBOOK_PROVISIONED && record.detail["replayed"] != true)
        .filter_map(|record| record.detail.get("data_access"))
        .filter_map(|grants| serde_json::from_value::<Vec<DataAccess>>(grants.clone()).ok())
        .flatten()
        .map(|grant| DataScope { bucket: grant.bucket, prefix: grant.prefix })
        .collect()
}

/// What the custodian gets: the requested scope (each folder inside one of the owner's) or, when none was
/// asked for, all of the owner's folders; read-only; until `now + duration`.
pub fn custodian_grant(
    request: &CustodianAccessRequested,
    limits: &RequestLimits,
    recorded: &BTreeSet<DataScope>,
    now: DateTime<Utc>,
) -> Result<CustodianGrant, Rejection> {
    if recorded.is_empty() {
        return Err(Rejection::single(
            "detail.deactivated_owner",
            format!(
                "no notebook of {:?} was ever given data access; there is nothing to grant",
                request.deactivated_owner
            ),
        ));
    }
    let scope: Vec<DataScope> = match &request.scope {
        None => recorded.iter().cloned().collect(),
        Some(asked) => {
            let problems: Vec<Problem> = asked
                .iter()
                .enumerate()
                .filter(|(_, folder)| !recorded.iter().any(|owned| inside(folder, owned)))
                .map(|(i, folder)| Problem {
                    field: format!("detail.scope[{i}]"),
                    reason: format!(
                        "s3://{}/{} is not inside the data of {:?}; ask for one of (or a folder inside): {}",
                        folder.bucket,
                        folder.prefix,
                        request.deactivated_owner,
                        recorded
                            .iter()
                            .map(|o| format!("s3://{}/{}", o.bucket, o.prefix))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })
                .collect();
            if !problems.is_empty() {
                return Err(Rejection::from_problems(problems));
            }
            asked.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect()
        }
    };
    // Whole seconds: the expiry is a tag, an event field and an audit record, and all three must agree.
    let expires_at = now.with_nanosecond(0).unwrap_or(now) + Duration::hours(i64::from(request.duration_hours));
    let notebook = validate_notebook_request(&notebook_request(request, &scope), limits).map_err(in_scope_terms)?;
    let notebook = notebook.with_extra_tags(vec![
        (tags::CUSTODIAN_FOR.to_owned(), request.deactivated_owner.clone()),
        (tags::TICKET.to_owned(), request.ticket.clone()),
        (tags::ACCESS_EXPIRES_AT.to_owned(), expires_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
    ]);
    Ok(CustodianGrant { notebook, scope, expires_at })
}

/// A custodian notebook: who it is for, from its tags.
pub fn custodian_for(tags: &BTreeMap<String, String>) -> Option<&str> {
    tags.get(tags::CUSTODIAN_FOR).map(String::as_str)
}

/// The notebook's `data_access` is the request's `scope`: name the field the person sent.
fn in_scope_terms(rejection: Rejection) -> Rejection {
    Rejection::from_problems(
        rejection
            .problems
            .into_iter()
            .map(|p| Problem { field: p.field.replace("detail.data_access", "detail.scope"), reason: p.reason })
            .collect(),
    )
}

fn inside(folder: &DataScope, owned: &DataScope) -> bool {
    folder.bucket == owned.bucket && folder.prefix.starts_with(&owned.prefix)
}

fn notebook_request(request: &CustodianAccessRequested, scope: &[DataScope]) -> NotebookRequested {
    NotebookRequested {
        request_id: request.request_id.clone(),
        notebook_name: request.notebook_name.clone(),
        owner: request.custodian.clone(),
        team: request.team.clone(),
        instance_type: request.instance_type.clone(),
        volume_size_gb: request.volume_size_gb,
        idle_timeout_minutes: None,
        data_access: scope
            .iter()
            .map(|s| DataAccess { bucket: s.bucket.clone(), prefix: s.prefix.clone(), access: AccessLevel::Read })
            .collect(),
        root_access: None,
    }
}

/// A ticket reference goes into a tag: IAM's and SageMaker's tag character set, bounded.
fn ticket(value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > MAX_TICKET_LEN {
        return Err(format!("must name the ticket, in 1 to {MAX_TICKET_LEN} characters"));
    }
    match value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')))
    {
        Some(c) => Err(format!("may contain only letters, digits, spaces and '_.:/=+-@', not {c:?}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::settings::tests::settings as config;
    use chrono::TimeZone;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).single().expect("valid time")
    }

    fn request(scope: Option<Vec<(&str, &str)>>) -> CustodianAccessRequested {
        CustodianAccessRequested {
            request_id: "c-1".into(),
            custodian: "carol".into(),
            deactivated_owner: "alice".into(),
            scope: scope
                .map(|s| s.into_iter().map(|(b, p)| DataScope { bucket: b.into(), prefix: p.into() }).collect()),
            reason: "quarterly close needs alice's models".into(),
            ticket: "LEGAL-42".into(),
            approved_by: "dana".into(),
            duration_hours: 24,
            notebook_name: "carol-custody".into(),
            team: "risk".into(),
            instance_type: "ml.t3.medium".into(),
            volume_size_gb: 10,
        }
    }

    fn recorded() -> BTreeSet<DataScope> {
        let record = |action: &str, grants: serde_json::Value| AuditRecord {
            recorded_at: now(),
            action: action.into(),
            actor: "alice".into(),
            function: "provisioner".into(),
            request_id: None,
            notebook_name: Some("alice-nb".into()),
            owner: Some("alice".into()),
            resource: None,
            reason: None,
            detail: json!({ "data_access": grants }),
        };
        recorded_data(&[
            record(
                NOTEBOOK_PROVISIONED,
                json!([{"bucket": "team-data", "prefix": "risk/alice/", "access": "read-write"}]),
            ),
            record("Notebook Stopped", json!([{"bucket": "team-data", "prefix": "risk/", "access": "read"}])),
        ])
    }

    #[test]
    fn only_provisioning_records_count_as_the_owners_data() {
        let data = recorded();
        assert_eq!(data.len(), 1);
        assert_eq!(data.first().map(|d| d.prefix.as_str()), Some("risk/alice/"));
    }

    #[test]
    fn no_scope_grants_all_of_the_owners_folders_read_only_until_expiry() {
        let grant = custodian_grant(&request(None), &config().limits, &recorded(), now()).expect("granted");
        assert_eq!(grant.scope.len(), 1);
        assert_eq!(grant.expires_at, now() + Duration::hours(24));
        assert!(grant.notebook.data_access.iter().all(|g| g.access == AccessLevel::Read));
        assert_eq!(grant.notebook.owner, "carol");
        let tags: BTreeMap<_, _> = grant.notebook.extra_tags.iter().cloned().collect();
        assert_eq!(tags[tags::ACCESS_EXPIRES_AT], "2026-11-24T09:00:00Z");
        assert_eq!(tags[tags::CUSTODIAN_FOR], "alice");
        // IAM itself ends the grant: every statement of the role's policy holds only until the expiry.
        let role = crate::domain::notebook::role_spec(&grant.notebook, &config());
        assert!(!role.inline_policy.statement.is_empty());
        for statement in &role.inline_policy.statement {
            assert_eq!(
                statement.condition["DateLessThan"]["aws:CurrentTime"],
                ["2026-11-24T09:00:00Z"],
                "{statement:?}"
            );
        }
    }

    #[test]
    fn a_narrower_folder_is_granted_and_a_wider_or_foreign_one_refused() {
        let limits = config().limits;
        let narrow = request(Some(vec![("team-data", "risk/alice/models/")]));
        assert!(custodian_grant(&narrow, &limits, &recorded(), now()).is_ok());
        for (bucket, prefix) in [("team-data", "risk/"), ("team-data", "risk/bob/"), ("shared-data", "risk/alice/")] {
            let wide = request(Some(vec![(bucket, prefix)]));
            let rejection =
                custodian_grant(&wide, &limits, &recorded(), now()).expect_err("wider than the owner's data");
            assert_eq!(rejection.problems[0].field, "detail.scope[0]", "{prefix}");
            assert!(rejection.problems[0].reason.contains("not inside the data of \"alice\""), "{rejection:?}");
        }
    }

    #[test]
    fn an_owner_without_recorded_data_gets_nothing() {
        let rejection =
            custodian_grant(&request(None), &config().limits, &BTreeSet::new(), now()).expect_err("nothing to grant");
        assert_eq!(rejection.problems[0].field, "detail.deactivated_owner");
    }

    #[test]
    fn shape_checks_name_each_field() {
        let mut bad = request(Some(vec![("outside-bucket", "x/")]));
        bad.duration_hours = 1000;
        bad.ticket = "LEGAL 42; drop".into();
        bad.reason = " ".into();
        bad.custodian = "alice".into();
        bad.instance_type = "ml.p4d.24xlarge".into();
        let rejection = check_custodian_request(&bad, &config().limits, 72).expect_err("bad");
        let fields: Vec<_> = rejection.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "detail.custodian",
                "detail.reason",
                "detail.ticket",
                "detail.duration_hours",
                "detail.instance_type",
                "detail.scope[0].bucket"
            ]
        );
        assert!(check_custodian_request(&request(None), &config().limits, 72).is_ok());
    }
}
