//! Locking a notebook: the lock tags, and the notebook role's policy with every write taken out. Reading
//! stays, so that nothing a later custodian may need is lost; the role can no longer change any data.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::policy::PolicyDocument;
use super::tags;

/// Why a notebook is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockReason {
    OwnerDeactivated,
    Decommissioned,
}

impl LockReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LockReason::OwnerDeactivated => "owner-deactivated",
            LockReason::Decommissioned => "decommissioned",
        }
    }
}

/// S3 actions that change data; a locked role keeps none of them.
const WRITES: &[&str] = &[
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
    "s3:PutObjectAcl",
    "s3:PutObjectTagging",
    "s3:RestoreObject",
    // A data key is only ever needed to write an encrypted object.
    "kms:GenerateDataKey",
];

fn writes(action: &str) -> bool {
    action == "*" || action == "s3:*" || WRITES.iter().any(|w| w.eq_ignore_ascii_case(action))
}

/// The policy with every write action removed, and statements left without actions dropped.
pub fn without_writes(policy: &PolicyDocument) -> PolicyDocument {
    let mut locked = policy.clone();
    for statement in &mut locked.statement {
        statement.action.retain(|action| !writes(action));
    }
    locked.statement.retain(|statement| !statement.action.is_empty());
    locked
}

pub fn can_write(policy: &PolicyDocument) -> bool {
    policy.statement.iter().any(|statement| statement.action.iter().any(|action| writes(action)))
}

/// The tags that lock a notebook at `at`.
pub fn lock_tags(reason: LockReason, at: DateTime<Utc>) -> Vec<(String, String)> {
    vec![
        (tags::LOCKED_AT.to_owned(), at.to_rfc3339_opts(SecondsFormat::Secs, true)),
        (tags::LOCK_REASON.to_owned(), reason.as_str().to_owned()),
    ]
}

/// When and why the notebook was locked, if it is.
pub fn lock_of(tags: &BTreeMap<String, String>) -> Option<(&str, &str)> {
    let at = tags.get(tags::LOCKED_AT)?;
    Some((at.as_str(), tags.get(tags::LOCK_REASON).map_or("locked", String::as_str)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::notebook_role_policy;
    use crate::domain::settings::tests::settings as config;
    use crate::domain::validation::{tests::request, validate_notebook_request};

    #[test]
    fn a_locked_role_reads_what_it_read_and_writes_nothing() {
        let config = config();
        let valid = validate_notebook_request(&request(), &config.limits).expect("valid");
        let policy = notebook_role_policy(&valid, &config.assets_bucket, &config.limits.entitlements, &config.region);
        assert!(can_write(&policy));
        let locked = without_writes(&policy);
        assert!(!can_write(&locked));
        let json = locked.to_json();
        assert!(json.contains("arn:aws:s3:::team-data/risk/alice/*"), "{json}");
        assert!(json.contains("s3:GetObject") && json.contains("s3:ListBucket"), "{json}");
        assert!(!json.contains("WriteOwnHeartbeat") && !json.contains("WriteData"), "{json}");
        assert_eq!(without_writes(&locked), locked, "locking twice changes nothing");
    }

    #[test]
    fn wildcards_count_as_writes() {
        let mut policy = without_writes(&notebook_role_policy(
            &validate_notebook_request(&request(), &config().limits).expect("valid"),
            "fleet-assets",
            &config().limits.entitlements,
            "eu-west-1",
        ));
        policy.statement[0].action.push("s3:*".into());
        assert!(can_write(&policy));
    }

    #[test]
    fn lock_tags_read_back() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z").expect("time").with_timezone(&Utc);
        let tags: BTreeMap<_, _> = lock_tags(LockReason::Decommissioned, at).into_iter().collect();
        assert_eq!(lock_of(&tags), Some(("2026-11-23T10:00:00Z", "decommissioned")));
        assert_eq!(lock_of(&BTreeMap::new()), None);
    }
}
