//! What a platform decides and the provisioner applies: placement, IAM, the data perimeter and the bounds of a
//! request. Pure values; [`crate::config`] reads them from the environment.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use super::entitlements::Entitlements;
use super::idle::IdlePolicy;
use super::lifecycle::AgentObject;
use super::senders::RequestSenders;
use super::types::BucketName;

/// SageMaker's own lower bound for a notebook volume.
pub const VOLUME_SIZE_GB_MIN: u32 = 5;
/// SageMaker's upper bound for a notebook volume.
pub const VOLUME_SIZE_GB_LIMIT: u32 = 16_384;
/// Shorter than this and a notebook is stopped between two cells.
pub const IDLE_TIMEOUT_MINUTES_MIN: u32 = 15;
/// The longest custodian grant a platform may allow: 30 days.
pub const CUSTODIAN_MAX_HOURS_LIMIT: u32 = 720;
/// Two weeks: the default furthest reach of an idle exemption (the sweeper's FLEET_MAX_EXEMPTION_DAYS).
pub const MAX_SNOOZE_HOURS_LIMIT: u32 = 336;
/// The most `data_access` entries one request may carry (an inline role policy is limited to 10,240 bytes).
pub const MAX_DATA_ACCESS_ENTRIES: usize = 10;

/// The provisioner's settings: every request is checked against them and every notebook built from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionerSettings {
    pub event_bus_name: String,
    pub event_source: String,
    /// Private subnets a notebook may be placed in; each is checked for an internet route before use.
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub kms_key_id: Option<String>,
    pub role_path: String,
    pub permissions_boundary_arn: String,
    pub assets_bucket: BucketName,
    pub agent: AgentObject,
    pub platform_identifier: String,
    pub limits: RequestLimits,
    /// The audit bucket (object lock): every action's record, and the deactivated owners.
    pub audit_bucket: BucketName,
    /// The longest custodian access a request may ask for.
    pub custodian_max_hours: u32,
    /// Which event source may send which request (deny by default).
    pub senders: RequestSenders,
    /// Where the entitlements document is; read once at start into `limits.entitlements`.
    pub entitlements_uri: Option<S3Location>,
    /// Route targets (transit gateways, peering connections…) a notebook subnet may route to; every other
    /// target but the VPC itself and gateway endpoints is refused.
    pub allowed_route_targets: BTreeSet<String>,
    /// The longest idle snooze one request may ask for.
    pub max_snooze_hours: u32,
    pub region: String,
}

impl ProvisionerSettings {
    /// The settings with the entitlements document (already checked against the data perimeter) in force.
    pub fn with_entitlements(mut self, entitlements: Entitlements) -> Self {
        self.limits.entitlements = entitlements;
        self
    }
}

/// What a request may ask for: the bounds that validation enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLimits {
    pub instance_types: BTreeSet<String>,
    pub volume_size_gb: RangeInclusive<u32>,
    pub idle_timeout_minutes: RangeInclusive<u32>,
    pub default_idle_timeout_minutes: u32,
    /// The data perimeter: the only buckets a notebook may be given access to.
    pub data_buckets: BTreeSet<BucketName>,
    pub assets_bucket: BucketName,
    pub max_data_access_entries: usize,
    pub allow_root_access: bool,
    /// Which data each team may get; empty (no document) grants nothing.
    pub entitlements: Entitlements,
}

/// An S3 object, `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: BucketName,
    pub key: String,
}

impl S3Location {
    pub fn parse(uri: &str) -> Result<Self, String> {
        let rest = uri.strip_prefix("s3://").ok_or_else(|| format!("{uri:?} is not an s3://bucket/key URI"))?;
        let (bucket, key) = rest.split_once('/').ok_or_else(|| format!("{uri:?} names no object key"))?;
        let bucket = BucketName::parse(bucket).map_err(|r| format!("bucket {bucket:?} {r}"))?;
        if key.is_empty() || key.ends_with('/') {
            return Err(format!("{uri:?} names a folder, not an object"));
        }
        Ok(S3Location { bucket, key: key.to_owned() })
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// The idle sweeper's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepSettings {
    pub event_bus_name: String,
    pub event_source: String,
    pub assets_bucket: BucketName,
    /// Where every stop, warning and revocation is recorded (see [`super::audit`]).
    pub audit_bucket: BucketName,
    pub policy: IdlePolicy,
    /// Decide and report, stop nothing, warn nobody.
    pub dry_run: bool,
    /// How many stops are in flight at once.
    pub stop_concurrency: usize,
    /// Where the notebook roles are (the provisioner's `FLEET_ROLE_PATH`): leftover roles are looked for there
    /// only.
    pub role_path: String,
    /// Unused roles and lifecycle configurations younger than this are kept (see [`super::leftovers`]).
    pub leftover_min_age_hours: u32,
}

/// The lifecycle publisher's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherSettings {
    pub assets_bucket: BucketName,
    /// Where the heartbeat agent's binary is (the function's layer).
    pub agent_path: String,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::request::REQUEST_DETAIL_TYPES;

    pub(crate) const AGENT_KEY: &str =
        "assets/agent/sha256-0000000000000000000000000000000000000000000000000000000000000000/heartbeat-agent";

    /// The source the test settings accept every request from.
    pub(crate) const SENDER: &str = "com.example.requests";

    fn bucket(name: &str) -> BucketName {
        BucketName::parse(name).expect("a test bucket name")
    }

    /// A platform with two private subnets, two data buckets and the test entitlements.
    pub(crate) fn settings() -> ProvisionerSettings {
        let senders = REQUEST_DETAIL_TYPES.iter().map(|t| format!("{t}={SENDER}")).collect::<Vec<_>>().join(",");
        let data_buckets: BTreeSet<BucketName> = [bucket("team-data"), bucket("shared-data")].into();
        let entitlements =
            Entitlements::parse(crate::domain::entitlements::tests::DOCUMENT, &data_buckets, "fleet-assets")
                .expect("the test entitlements are valid");
        ProvisionerSettings {
            event_bus_name: "fleet-bus".into(),
            event_source: "notebook-fleet".into(),
            subnet_ids: vec!["subnet-aaa".into(), "subnet-bbb".into()],
            security_group_ids: vec!["sg-123".into()],
            kms_key_id: None,
            role_path: "/notebook-fleet/notebooks/".into(),
            permissions_boundary_arn: "arn:aws:iam::123456789012:policy/fleet-boundary".into(),
            assets_bucket: bucket("fleet-assets"),
            agent: AgentObject::from_key(AGENT_KEY).expect("a test agent key"),
            platform_identifier: "notebook-al2-v3".into(),
            limits: RequestLimits {
                instance_types: ["ml.t3.medium", "ml.t3.large", "ml.t3.xlarge", "ml.m5.xlarge", "ml.m5.2xlarge"]
                    .map(str::to_owned)
                    .into(),
                volume_size_gb: VOLUME_SIZE_GB_MIN..=512,
                idle_timeout_minutes: IDLE_TIMEOUT_MINUTES_MIN..=24 * 60,
                default_idle_timeout_minutes: 60,
                data_buckets,
                assets_bucket: bucket("fleet-assets"),
                max_data_access_entries: MAX_DATA_ACCESS_ENTRIES,
                allow_root_access: false,
                entitlements,
            },
            audit_bucket: bucket("fleet-audit"),
            custodian_max_hours: 72,
            senders: RequestSenders::parse(&senders).expect("test senders").without("notebook-fleet"),
            entitlements_uri: None,
            allowed_route_targets: BTreeSet::new(),
            max_snooze_hours: 24,
            region: "eu-west-1".into(),
        }
    }

    #[test]
    fn an_s3_location_names_a_bucket_and_an_object() {
        let location = S3Location::parse("s3://fleet-config/notebook-fleet/entitlements.json").expect("valid");
        assert_eq!(
            (location.bucket.as_str(), location.key.as_str()),
            ("fleet-config", "notebook-fleet/entitlements.json")
        );
        assert_eq!(location.to_string(), "s3://fleet-config/notebook-fleet/entitlements.json");
        for (uri, says) in [
            ("fleet-config/x.json", "not an s3://"),
            ("s3://fleet-config", "names no object"),
            ("s3://fleet-config/folder/", "a folder"),
            ("s3://Fleet_Config/x.json", "bucket"),
        ] {
            let reason = S3Location::parse(uri).expect_err(uri);
            assert!(reason.contains(says), "{uri}: {reason}");
        }
    }
}
