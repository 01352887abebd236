//! Validation at the edge: a request is either a parsed value ([`ValidNotebookRequest`], [`ValidActionRequest`],
//! …) whose names are validated types, or a [`Rejection`] that names each field at fault and says what to
//! change. Nothing is created for a rejected request.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::request::{
    DataAccess, DecommissionRequested, IdleSnoozeRequested, NotebookActionRequested, NotebookRequested,
    OwnerDeactivated,
};
use super::settings::RequestLimits;
use super::types::{BucketName, NotebookName, Owner, Prefix, Principal, RequestId, Team};

/// One thing wrong with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Problem {
    /// Where, as a path into the event (`detail.data_access[1].prefix`).
    pub field: String,
    /// What is wrong and what would be accepted.
    pub reason: String,
}

/// Why a request was refused: every problem found, not only the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub problems: Vec<Problem>,
}

impl Rejection {
    pub fn single(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Rejection { problems: vec![Problem { field: field.into(), reason: reason.into() }] }
    }

    pub fn from_problems(problems: Vec<Problem>) -> Self {
        Rejection { problems }
    }

    /// One sentence for people and logs: `detail.owner: must …; detail.team: …`.
    pub fn summary(&self) -> String {
        self.problems.iter().map(|p| format!("{}: {}", p.field, p.reason)).collect::<Vec<_>>().join("; ")
    }
}

/// The problems found in one request, each named by its path under `detail.`.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<Problem>);

impl Problems {
    /// Records the reason of a refused `result` against `field`; the value when it was accepted.
    pub(crate) fn check<T, E: Into<String>>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(reason) => {
                self.0.push(Problem { field: format!("detail.{field}"), reason: reason.into() });
                None
            }
        }
    }

    pub(crate) fn extend(&mut self, problems: impl IntoIterator<Item = Problem>) {
        self.0.extend(problems);
    }

    pub(crate) fn into_result(self) -> Result<(), Rejection> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Rejection::from_problems(self.0))
        }
    }

    /// The parsed value when no problem was found (`build` sees every field accepted).
    pub(crate) fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, Rejection> {
        self.into_result()?;
        build().ok_or_else(|| Rejection::single("detail", "could not be read"))
    }
}

/// A `Notebook Requested` that passed every check, with defaults applied. Only [`validate_notebook_request`]
/// makes one (it cannot be built outside this crate), so holding one proves the checks ran.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidNotebookRequest {
    pub request_id: RequestId,
    pub notebook_name: NotebookName,
    pub owner: Owner,
    pub team: Team,
    pub instance_type: String,
    pub volume_size_gb: u32,
    pub idle_timeout_minutes: u32,
    /// Sorted and free of duplicates; every bucket and prefix parsed.
    pub data_access: Vec<DataAccess>,
    pub root_access: bool,
    /// Tags beyond the standard ones (custodian notebooks carry their grant's).
    pub extra_tags: Vec<(String, String)>,
}

impl ValidNotebookRequest {
    pub(crate) fn with_extra_tags(mut self, tags: Vec<(String, String)>) -> Self {
        self.extra_tags = tags;
        self
    }
}

/// A stop or start request whose id and name are well-formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidActionRequest {
    pub request_id: RequestId,
    pub notebook_name: NotebookName,
    pub requested_by: Option<Principal>,
}

/// A decommission request: well-formed, and a deletion only with both confirmations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidDecommission {
    pub request_id: RequestId,
    pub notebook_name: NotebookName,
    pub requested_by: Principal,
    pub reason: String,
    pub delete_notebook: bool,
}

/// An idle snooze of 1 to the platform's maximum hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidSnooze {
    pub request_id: RequestId,
    pub notebook_name: NotebookName,
    pub requested_by: Principal,
    pub hours: u32,
}

/// An owner's deactivation, with who asked and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidDeactivation {
    pub request_id: RequestId,
    pub owner: Owner,
    pub requested_by: Principal,
    pub reason: String,
}

pub fn validate_notebook_request(
    request: &NotebookRequested,
    limits: &RequestLimits,
) -> Result<ValidNotebookRequest, Rejection> {
    let mut problems = Problems::default();

    let request_id = problems.check("request_id", RequestId::parse(&request.request_id));
    let notebook_name = problems.check("notebook_name", NotebookName::parse(&request.notebook_name));
    let owner = problems.check("owner", Owner::parse(&request.owner));
    let team = problems.check("team", Team::parse(&request.team));
    problems.check(
        "instance_type",
        if limits.instance_types.contains(&request.instance_type) {
            Ok(())
        } else {
            Err(format!(
                "{:?} is not offered on this platform; choose one of {}",
                request.instance_type,
                limits.instance_types.iter().cloned().collect::<Vec<_>>().join(", ")
            ))
        },
    );
    problems.check("volume_size_gb", within(request.volume_size_gb, &limits.volume_size_gb, "GB"));
    if let Some(timeout) = request.idle_timeout_minutes {
        problems.check("idle_timeout_minutes", within(timeout, &limits.idle_timeout_minutes, "minutes"));
    }
    if request.root_access == Some(true) && !limits.allow_root_access {
        problems.check(
            "root_access",
            Err::<(), _>("root access is not allowed on this platform; omit it or set it to false"),
        );
    }

    if request.data_access.len() > limits.max_data_access_entries {
        problems.check(
            "data_access",
            Err::<(), _>(format!(
                "at most {} entries; ask for a broader folder instead",
                limits.max_data_access_entries
            )),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, grant) in request.data_access.iter().enumerate() {
        problems.check(&format!("data_access[{i}].bucket"), data_bucket(&grant.bucket, limits));
        problems.check(&format!("data_access[{i}].prefix"), Prefix::parse(&grant.prefix));
        if !seen.insert((&grant.bucket, &grant.prefix)) {
            problems.check(
                &format!("data_access[{i}]"),
                Err::<(), _>(format!("s3://{}/{} is listed twice; list each folder once", grant.bucket, grant.prefix)),
            );
        }
    }

    problems.finish(|| {
        let mut data_access = request.data_access.clone();
        data_access.sort();
        Some(ValidNotebookRequest {
            request_id: request_id?,
            notebook_name: notebook_name?,
            owner: owner?,
            team: team?,
            instance_type: request.instance_type.clone(),
            volume_size_gb: request.volume_size_gb,
            idle_timeout_minutes: request.idle_timeout_minutes.unwrap_or(limits.default_idle_timeout_minutes),
            data_access,
            root_access: request.root_access.unwrap_or(false),
            extra_tags: Vec::new(),
        })
    })
}

pub fn validate_action_request(request: &NotebookActionRequested) -> Result<ValidActionRequest, Rejection> {
    let mut problems = Problems::default();
    let request_id = problems.check("request_id", RequestId::parse(&request.request_id));
    let notebook_name = problems.check("notebook_name", NotebookName::parse(&request.notebook_name));
    let requested_by =
        problems.check("requested_by", request.requested_by.as_deref().map(Principal::parse).transpose());
    problems.finish(|| {
        Some(ValidActionRequest { request_id: request_id?, notebook_name: notebook_name?, requested_by: requested_by? })
    })
}

/// A decommission request: well-formed, and a deletion asked for only with both confirmations.
pub fn validate_decommission(request: &DecommissionRequested) -> Result<ValidDecommission, Rejection> {
    let mut problems = Problems::default();
    let request_id = problems.check("request_id", RequestId::parse(&request.request_id));
    let notebook_name = problems.check("notebook_name", NotebookName::parse(&request.notebook_name));
    let requested_by = problems.check("requested_by", Principal::parse(&request.requested_by));
    let reason = problems.check("reason", validate_reason(&request.reason));
    if request.delete_notebook {
        if !request.data_no_longer_needed {
            problems.check(
                "data_no_longer_needed",
                Err::<(), _>("deleting a notebook deletes its volume: set it to true to confirm the data is no longer needed, or leave delete_notebook false to keep the volume"),
            );
        }
        if request.confirm_notebook_name.as_deref() != Some(request.notebook_name.as_str()) {
            problems.check(
                "confirm_notebook_name",
                Err::<(), _>(format!("must repeat the notebook's name ({:?}) to delete it", request.notebook_name)),
            );
        }
    } else if request.data_no_longer_needed || request.confirm_notebook_name.is_some() {
        problems.check(
            "delete_notebook",
            Err::<(), _>(
                "a deletion is confirmed but not asked for: set delete_notebook to true, or drop the confirmations",
            ),
        );
    }
    problems.finish(|| {
        Some(ValidDecommission {
            request_id: request_id?,
            notebook_name: notebook_name?,
            requested_by: requested_by?,
            reason: reason?,
            delete_notebook: request.delete_notebook,
        })
    })
}

/// A snooze: well-formed, asked by someone, for 1 to `max_hours` hours.
pub fn validate_snooze(request: &IdleSnoozeRequested, max_hours: u32) -> Result<ValidSnooze, Rejection> {
    let mut problems = Problems::default();
    let request_id = problems.check("request_id", RequestId::parse(&request.request_id));
    let notebook_name = problems.check("notebook_name", NotebookName::parse(&request.notebook_name));
    let requested_by = problems.check("requested_by", Principal::parse(&request.requested_by));
    problems.check("hours", within(request.hours, &(1..=max_hours), "hours"));
    problems.finish(|| {
        Some(ValidSnooze {
            request_id: request_id?,
            notebook_name: notebook_name?,
            requested_by: requested_by?,
            hours: request.hours,
        })
    })
}

pub fn validate_owner_deactivated(request: &OwnerDeactivated) -> Result<ValidDeactivation, Rejection> {
    let mut problems = Problems::default();
    let request_id = problems.check("request_id", RequestId::parse(&request.request_id));
    let owner = problems.check("owner", Owner::parse(&request.owner));
    let requested_by = problems.check("requested_by", Principal::parse(&request.requested_by));
    let reason = problems.check("reason", validate_reason(&request.reason));
    problems.finish(|| {
        Some(ValidDeactivation { request_id: request_id?, owner: owner?, requested_by: requested_by?, reason: reason? })
    })
}

const MAX_REASON_LEN: usize = 512;

/// Why an irreversible or access-changing request was made: kept in the audit trail.
pub fn validate_reason(reason: &str) -> Result<String, String> {
    if reason.trim().is_empty() || reason.len() > MAX_REASON_LEN {
        return Err(format!("must say why, in 1 to {MAX_REASON_LEN} characters"));
    }
    if reason.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(reason.to_owned())
}

/// A bucket a notebook may be given: well-named, inside the data perimeter, not the assets bucket.
fn data_bucket(bucket: &str, limits: &RequestLimits) -> Result<BucketName, String> {
    let name = BucketName::parse(bucket)?;
    if name == limits.assets_bucket {
        return Err("is the platform's assets bucket, which holds no user data".into());
    }
    if !limits.data_buckets.contains(bucket) {
        return Err(format!(
            "{bucket:?} is outside the data perimeter; allowed buckets are {}",
            limits.data_buckets.iter().map(BucketName::as_str).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(name)
}

fn within(value: u32, range: &std::ops::RangeInclusive<u32>, unit: &str) -> Result<u32, String> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is out of bounds; must be between {} and {} {unit}", range.start(), range.end()))
    }
}

#[cfg(test)]
#[path = "rejection_tests.rs"]
mod rejection_tests;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::request::AccessLevel;
    use crate::domain::settings::tests::settings as config;

    pub(crate) fn request() -> NotebookRequested {
        NotebookRequested {
            request_id: "req-1".into(),
            notebook_name: "alice-nb".into(),
            owner: "alice@example.com".into(),
            team: "risk".into(),
            instance_type: "ml.t3.medium".into(),
            volume_size_gb: 20,
            idle_timeout_minutes: None,
            data_access: vec![
                DataAccess { bucket: "team-data".into(), prefix: "risk/alice/".into(), access: AccessLevel::ReadWrite },
                DataAccess { bucket: "shared-data".into(), prefix: "reference/".into(), access: AccessLevel::Read },
            ],
            root_access: None,
        }
    }

    fn fields(result: Result<ValidNotebookRequest, Rejection>) -> Vec<String> {
        result.expect_err("should be rejected").problems.into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn a_good_request_gets_defaults_and_sorted_grants() {
        let valid = validate_notebook_request(&request(), &config().limits).expect("valid");
        assert_eq!(valid.idle_timeout_minutes, 60);
        assert!(!valid.root_access);
        assert_eq!(valid.data_access[0].bucket, "shared-data");
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let mut r = request();
        r.owner = String::new();
        r.instance_type = "ml.p4d.24xlarge".into();
        r.volume_size_gb = 4;
        r.data_access[1].bucket = "other-bucket".into();
        assert_eq!(
            fields(validate_notebook_request(&r, &config().limits)),
            ["detail.owner", "detail.instance_type", "detail.volume_size_gb", "detail.data_access[1].bucket"]
        );
    }

    #[test]
    fn root_access_needs_the_platform_to_allow_it() {
        let mut r = request();
        r.root_access = Some(true);
        assert_eq!(fields(validate_notebook_request(&r, &config().limits)), ["detail.root_access"]);
        let mut limits = config().limits;
        limits.allow_root_access = true;
        assert!(validate_notebook_request(&r, &limits).expect("allowed").root_access);
    }

    #[test]
    fn the_assets_bucket_and_duplicates_are_refused() {
        let mut r = request();
        r.data_access[0].bucket = "fleet-assets".into();
        r.data_access.push(r.data_access[1].clone());
        let rejection = validate_notebook_request(&r, &config().limits).expect_err("rejected");
        assert!(rejection.summary().contains("assets bucket"), "{}", rejection.summary());
        assert!(rejection.summary().contains("listed twice"), "{}", rejection.summary());
    }

    #[test]
    fn too_many_grants_are_refused() {
        let mut r = request();
        r.data_access = (0..11)
            .map(|i| DataAccess { bucket: "team-data".into(), prefix: format!("p{i}/"), access: AccessLevel::Read })
            .collect();
        assert_eq!(fields(validate_notebook_request(&r, &config().limits)), ["detail.data_access"]);
    }

    #[test]
    fn action_requests_check_id_name_and_requester() {
        let bad = NotebookActionRequested {
            request_id: "has space".into(),
            notebook_name: "x_y".into(),
            requested_by: Some("a/b".into()),
        };
        let rejection = validate_action_request(&bad).expect_err("rejected");
        assert_eq!(rejection.problems.len(), 3);
    }
}
