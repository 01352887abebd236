//! Configuration: one typed struct, read once when a function starts.
//!
//! Every variable is documented in the README's configuration table; the names are the constants below.
//! [`Config::from_vars`] is pure so that tests build a configuration without touching the environment.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use crate::domain::bucket::validate_bucket_name;
use crate::domain::entitlements::Entitlements;
use crate::domain::lifecycle::AgentObject;
use crate::domain::senders::RequestSenders;

pub const EVENT_BUS_NAME: &str = "FLEET_EVENT_BUS_NAME";
pub const EVENT_SOURCE: &str = "FLEET_EVENT_SOURCE";
pub const SUBNET_IDS: &str = "FLEET_SUBNET_IDS";
pub const SECURITY_GROUP_IDS: &str = "FLEET_SECURITY_GROUP_IDS";
pub const KMS_KEY_ID: &str = "FLEET_KMS_KEY_ID";
pub const ROLE_PATH: &str = "FLEET_ROLE_PATH";
pub const PERMISSIONS_BOUNDARY_ARN: &str = "FLEET_PERMISSIONS_BOUNDARY_ARN";
pub const ASSETS_BUCKET: &str = "FLEET_ASSETS_BUCKET";
pub const DATA_BUCKETS: &str = "FLEET_DATA_BUCKETS";
pub const AGENT_OBJECT_KEY: &str = "FLEET_AGENT_OBJECT_KEY";
pub const INSTANCE_TYPES: &str = "FLEET_INSTANCE_TYPES";
pub const VOLUME_SIZE_GB_MAX: &str = "FLEET_VOLUME_SIZE_GB_MAX";
pub const IDLE_TIMEOUT_MINUTES_DEFAULT: &str = "FLEET_IDLE_TIMEOUT_MINUTES_DEFAULT";
pub const IDLE_TIMEOUT_MINUTES_MAX: &str = "FLEET_IDLE_TIMEOUT_MINUTES_MAX";
pub const ALLOW_ROOT_ACCESS: &str = "FLEET_ALLOW_ROOT_ACCESS";
pub const PLATFORM_IDENTIFIER: &str = "FLEET_PLATFORM_IDENTIFIER";
pub const AUDIT_BUCKET: &str = "FLEET_AUDIT_BUCKET";
pub const CUSTODIAN_MAX_HOURS: &str = "FLEET_CUSTODIAN_MAX_HOURS";
pub const REQUEST_SOURCES: &str = "FLEET_REQUEST_SOURCES";
pub const ENTITLEMENTS_URI: &str = "FLEET_ENTITLEMENTS_URI";
pub const ALLOWED_ROUTE_TARGETS: &str = "FLEET_ALLOWED_ROUTE_TARGETS";
pub const MAX_SNOOZE_HOURS: &str = "FLEET_MAX_SNOOZE_HOURS";
/// Set by Lambda; the console link and the `kms:ViaService` condition name the region.
pub const REGION: &str = "AWS_REGION";

/// Every variable the provisioner reads, for documentation and diagnostics.
pub const ALL_VARIABLES: &[&str] = &[
    EVENT_BUS_NAME,
    EVENT_SOURCE,
    SUBNET_IDS,
    SECURITY_GROUP_IDS,
    KMS_KEY_ID,
    ROLE_PATH,
    PERMISSIONS_BOUNDARY_ARN,
    ASSETS_BUCKET,
    DATA_BUCKETS,
    AGENT_OBJECT_KEY,
    INSTANCE_TYPES,
    VOLUME_SIZE_GB_MAX,
    IDLE_TIMEOUT_MINUTES_DEFAULT,
    IDLE_TIMEOUT_MINUTES_MAX,
    ALLOW_ROOT_ACCESS,
    PLATFORM_IDENTIFIER,
    AUDIT_BUCKET,
    CUSTODIAN_MAX_HOURS,
    REQUEST_SOURCES,
    ENTITLEMENTS_URI,
    ALLOWED_ROUTE_TARGETS,
    MAX_SNOOZE_HOURS,
    REGION,
];

pub const DEFAULT_EVENT_SOURCE: &str = "notebook-fleet";
pub const DEFAULT_ROLE_PATH: &str = "/notebook-fleet/notebooks/";
pub const DEFAULT_INSTANCE_TYPES: &str = "ml.t3.medium,ml.t3.large,ml.t3.xlarge,ml.m5.xlarge,ml.m5.2xlarge";
pub const DEFAULT_PLATFORM_IDENTIFIER: &str = "notebook-al2-v3";
/// SageMaker's own lower bound for a notebook volume.
pub const VOLUME_SIZE_GB_MIN: u32 = 5;
pub const DEFAULT_VOLUME_SIZE_GB_MAX: u32 = 512;
/// Shorter than this and a notebook is stopped between two cells.
pub const IDLE_TIMEOUT_MINUTES_MIN: u32 = 15;
pub const DEFAULT_IDLE_TIMEOUT_MINUTES: u32 = 60;
pub const DEFAULT_IDLE_TIMEOUT_MINUTES_MAX: u32 = 24 * 60;
pub const DEFAULT_CUSTODIAN_MAX_HOURS: u32 = 72;
/// The longest custodian grant a platform may allow: 30 days.
pub const CUSTODIAN_MAX_HOURS_LIMIT: u32 = 720;
pub const DEFAULT_MAX_SNOOZE_HOURS: u32 = 24;
/// Two weeks: the default furthest reach of an idle exemption (the sweeper's FLEET_MAX_EXEMPTION_DAYS).
pub const MAX_SNOOZE_HOURS_LIMIT: u32 = 336;
/// The most `data_access` entries one request may carry (an inline role policy is limited to 10,240 bytes).
pub const MAX_DATA_ACCESS_ENTRIES: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub event_bus_name: String,
    pub event_source: String,
    /// Private subnets a notebook may be placed in; each is checked for an internet route before use.
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub kms_key_id: Option<String>,
    pub role_path: String,
    pub permissions_boundary_arn: String,
    pub assets_bucket: String,
    pub agent: AgentObject,
    pub platform_identifier: String,
    pub limits: RequestLimits,
    /// The audit bucket (object lock): every action's record, and the deactivated owners.
    pub audit_bucket: String,
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

/// An S3 object, `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
}

impl S3Location {
    pub fn parse(uri: &str) -> Result<Self, String> {
        let rest = uri.strip_prefix("s3://").ok_or_else(|| format!("{uri:?} is not an s3://bucket/key URI"))?;
        let (bucket, key) = rest.split_once('/').ok_or_else(|| format!("{uri:?} names no object key"))?;
        validate_bucket_name(bucket).map_err(|r| format!("bucket {bucket:?} {r}"))?;
        if key.is_empty() || key.ends_with('/') {
            return Err(format!("{uri:?} names a folder, not an object"));
        }
        Ok(S3Location { bucket: bucket.to_owned(), key: key.to_owned() })
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
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
    pub data_buckets: BTreeSet<String>,
    pub assets_bucket: String,
    pub max_data_access_entries: usize,
    pub allow_root_access: bool,
    /// Which data each team may get; empty (no document) grants nothing.
    pub entitlements: Entitlements,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is not set; see the configuration table in the README")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Config {
    /// Reads the process environment. Call once, in `main`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any source of variables; empty values count as unset.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let required = |name: &'static str| var(name).ok_or(ConfigError::Missing(name));
        let invalid = |name: &'static str, reason: String| ConfigError::Invalid { name, reason };

        let assets_bucket = required(ASSETS_BUCKET)?;
        validate_bucket_name(&assets_bucket).map_err(|r| invalid(ASSETS_BUCKET, r))?;

        let data_buckets: BTreeSet<String> = list(&required(DATA_BUCKETS)?).into_iter().collect();
        for bucket in &data_buckets {
            validate_bucket_name(bucket).map_err(|r| invalid(DATA_BUCKETS, format!("{bucket:?}: {r}")))?;
        }
        if data_buckets.contains(&assets_bucket) {
            return Err(invalid(DATA_BUCKETS, "must not include the assets bucket".into()));
        }

        let subnet_ids = list(&required(SUBNET_IDS)?);
        if let Some(bad) = subnet_ids.iter().find(|s| !s.starts_with("subnet-")) {
            return Err(invalid(SUBNET_IDS, format!("{bad:?} is not a subnet id (subnet-…)")));
        }
        let security_group_ids = list(&required(SECURITY_GROUP_IDS)?);
        if let Some(bad) = security_group_ids.iter().find(|s| !s.starts_with("sg-")) {
            return Err(invalid(SECURITY_GROUP_IDS, format!("{bad:?} is not a security group id (sg-…)")));
        }

        let role_path = var(ROLE_PATH).unwrap_or_else(|| DEFAULT_ROLE_PATH.to_owned());
        if !(role_path.starts_with('/') && role_path.ends_with('/') && role_path.len() > 1) {
            return Err(invalid(ROLE_PATH, format!("{role_path:?} must start and end with '/' and not be '/'")));
        }
        let permissions_boundary_arn = required(PERMISSIONS_BOUNDARY_ARN)?;
        if !(permissions_boundary_arn.starts_with("arn:") && permissions_boundary_arn.contains(":policy/")) {
            return Err(invalid(PERMISSIONS_BOUNDARY_ARN, "must be the ARN of a managed IAM policy".into()));
        }

        let agent = AgentObject::from_key(&required(AGENT_OBJECT_KEY)?).map_err(|r| invalid(AGENT_OBJECT_KEY, r))?;

        let instance_types: BTreeSet<String> =
            list(&var(INSTANCE_TYPES).unwrap_or_else(|| DEFAULT_INSTANCE_TYPES.to_owned())).into_iter().collect();
        if let Some(bad) = instance_types.iter().find(|t| !t.starts_with("ml.")) {
            return Err(invalid(INSTANCE_TYPES, format!("{bad:?} is not a SageMaker instance type (ml.…)")));
        }

        let volume_max = number(&var, VOLUME_SIZE_GB_MAX, DEFAULT_VOLUME_SIZE_GB_MAX)?;
        if !(VOLUME_SIZE_GB_MIN..=16_384).contains(&volume_max) {
            return Err(invalid(VOLUME_SIZE_GB_MAX, format!("must be between {VOLUME_SIZE_GB_MIN} and 16384")));
        }
        let idle_max = number(&var, IDLE_TIMEOUT_MINUTES_MAX, DEFAULT_IDLE_TIMEOUT_MINUTES_MAX)?;
        if idle_max < IDLE_TIMEOUT_MINUTES_MIN {
            return Err(invalid(IDLE_TIMEOUT_MINUTES_MAX, format!("must be at least {IDLE_TIMEOUT_MINUTES_MIN}")));
        }
        let idle_default = number(&var, IDLE_TIMEOUT_MINUTES_DEFAULT, DEFAULT_IDLE_TIMEOUT_MINUTES.min(idle_max))?;
        if !(IDLE_TIMEOUT_MINUTES_MIN..=idle_max).contains(&idle_default) {
            return Err(invalid(
                IDLE_TIMEOUT_MINUTES_DEFAULT,
                format!("must be between {IDLE_TIMEOUT_MINUTES_MIN} and {IDLE_TIMEOUT_MINUTES_MAX} ({idle_max})"),
            ));
        }
        let allow_root_access = boolean(&var, ALLOW_ROOT_ACCESS)?;
        let audit_bucket = audit_bucket(&var)?;
        let custodian_max_hours = number(&var, CUSTODIAN_MAX_HOURS, DEFAULT_CUSTODIAN_MAX_HOURS)?;
        if !(1..=CUSTODIAN_MAX_HOURS_LIMIT).contains(&custodian_max_hours) {
            return Err(invalid(CUSTODIAN_MAX_HOURS, format!("must be between 1 and {CUSTODIAN_MAX_HOURS_LIMIT}")));
        }

        let event_source = var(EVENT_SOURCE).unwrap_or_else(|| DEFAULT_EVENT_SOURCE.to_owned());
        let senders = RequestSenders::parse(&var(REQUEST_SOURCES).unwrap_or_default())
            .map_err(|r| invalid(REQUEST_SOURCES, r))?
            .without(&event_source);
        let entitlements_uri = var(ENTITLEMENTS_URI)
            .map(|uri| S3Location::parse(&uri))
            .transpose()
            .map_err(|r| invalid(ENTITLEMENTS_URI, r))?;
        let allowed_route_targets: BTreeSet<String> =
            list(&var(ALLOWED_ROUTE_TARGETS).unwrap_or_default()).into_iter().collect();
        if let Some(bad) =
            allowed_route_targets.iter().find(|t| ["igw-", "eigw-", "nat-"].iter().any(|p| t.starts_with(p)))
        {
            return Err(invalid(
                ALLOWED_ROUTE_TARGETS,
                format!("{bad:?} leads to the internet; internet, egress-only and NAT gateways can never be allowed"),
            ));
        }
        let max_snooze_hours = number(&var, MAX_SNOOZE_HOURS, DEFAULT_MAX_SNOOZE_HOURS)?;
        if !(1..=MAX_SNOOZE_HOURS_LIMIT).contains(&max_snooze_hours) {
            return Err(invalid(MAX_SNOOZE_HOURS, format!("must be between 1 and {MAX_SNOOZE_HOURS_LIMIT}")));
        }
        let region = var(REGION).or_else(|| var("AWS_DEFAULT_REGION")).ok_or(ConfigError::Missing(REGION))?;

        Ok(Config {
            event_bus_name: required(EVENT_BUS_NAME)?,
            event_source,
            subnet_ids,
            security_group_ids,
            kms_key_id: var(KMS_KEY_ID),
            role_path,
            permissions_boundary_arn,
            assets_bucket: assets_bucket.clone(),
            agent,
            platform_identifier: var(PLATFORM_IDENTIFIER).unwrap_or_else(|| DEFAULT_PLATFORM_IDENTIFIER.to_owned()),
            limits: RequestLimits {
                instance_types,
                volume_size_gb: VOLUME_SIZE_GB_MIN..=volume_max,
                idle_timeout_minutes: IDLE_TIMEOUT_MINUTES_MIN..=idle_max,
                default_idle_timeout_minutes: idle_default,
                data_buckets,
                assets_bucket,
                max_data_access_entries: MAX_DATA_ACCESS_ENTRIES,
                allow_root_access,
                entitlements: Entitlements::default(),
            },
            audit_bucket,
            custodian_max_hours,
            senders,
            entitlements_uri,
            allowed_route_targets,
            max_snooze_hours,
            region,
        })
    }

    /// The configuration with the entitlements document (read from `entitlements_uri`) checked against the
    /// data perimeter.
    pub fn with_entitlements(mut self, document: &str) -> Result<Self, ConfigError> {
        let entitlements =
            Entitlements::parse(document, &self.limits.data_buckets, &self.assets_bucket).map_err(|e| {
                ConfigError::Invalid {
                    name: ENTITLEMENTS_URI,
                    reason: format!(
                        "{}: {e}",
                        self.entitlements_uri.as_ref().map_or_else(|| "the document".to_owned(), ToString::to_string)
                    ),
                }
            })?;
        self.limits.entitlements = entitlements;
        Ok(self)
    }
}

/// The audit bucket, required by every function that acts.
pub(crate) fn audit_bucket(var: &impl Fn(&'static str) -> Option<String>) -> Result<String, ConfigError> {
    let bucket = var(AUDIT_BUCKET).ok_or(ConfigError::Missing(AUDIT_BUCKET))?;
    validate_bucket_name(&bucket).map_err(|reason| ConfigError::Invalid { name: AUDIT_BUCKET, reason })?;
    Ok(bucket)
}

pub(crate) fn list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

pub(crate) fn number(
    var: &impl Fn(&'static str) -> Option<String>,
    name: &'static str,
    default: u32,
) -> Result<u32, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| ConfigError::Invalid { name, reason: format!("{v:?} is not a whole number") }),
    }
}

/// `true` or `false`; unset is `false`.
pub(crate) fn boolean(var: &impl Fn(&'static str) -> Option<String>, name: &'static str) -> Result<bool, ConfigError> {
    match var(name).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ConfigError::Invalid { name, reason: format!("{other:?} is not true or false") }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    pub(crate) const AGENT_KEY: &str =
        "assets/agent/sha256-0000000000000000000000000000000000000000000000000000000000000000/heartbeat-agent";

    pub(crate) fn vars() -> HashMap<&'static str, String> {
        HashMap::from([
            (EVENT_BUS_NAME, "fleet-bus".to_owned()),
            (SUBNET_IDS, "subnet-aaa, subnet-bbb".to_owned()),
            (SECURITY_GROUP_IDS, "sg-123".to_owned()),
            (PERMISSIONS_BOUNDARY_ARN, "arn:aws:iam::123456789012:policy/fleet-boundary".to_owned()),
            (ASSETS_BUCKET, "fleet-assets".to_owned()),
            (DATA_BUCKETS, "team-data,shared-data".to_owned()),
            (AGENT_OBJECT_KEY, AGENT_KEY.to_owned()),
            (AUDIT_BUCKET, "fleet-audit".to_owned()),
            (REGION, "eu-west-1".to_owned()),
            (
                REQUEST_SOURCES,
                crate::domain::request::REQUEST_DETAIL_TYPES
                    .iter()
                    .map(|t| format!("{t}={SENDER}"))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ])
    }

    /// The source the test configuration accepts every request from.
    pub(crate) const SENDER: &str = "com.example.requests";

    pub(crate) fn config() -> Config {
        from(&vars())
            .and_then(|c| c.with_entitlements(crate::domain::entitlements::tests::DOCUMENT))
            .expect("valid test configuration")
    }

    fn from(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_optional_variables_are_unset() {
        let config = config();
        assert_eq!(config.subnet_ids, ["subnet-aaa", "subnet-bbb"]);
        assert_eq!(config.role_path, DEFAULT_ROLE_PATH);
        assert_eq!(config.event_source, "notebook-fleet");
        assert_eq!(config.limits.default_idle_timeout_minutes, 60);
        assert_eq!(config.limits.volume_size_gb, 5..=512);
        assert!(!config.limits.allow_root_access);
        assert!(config.limits.instance_types.contains("ml.t3.medium"));
        assert_eq!(config.kms_key_id, None);
    }

    #[test]
    fn each_required_variable_is_named_when_missing() {
        for name in [
            EVENT_BUS_NAME,
            SUBNET_IDS,
            SECURITY_GROUP_IDS,
            PERMISSIONS_BOUNDARY_ARN,
            ASSETS_BUCKET,
            DATA_BUCKETS,
            AGENT_OBJECT_KEY,
            AUDIT_BUCKET,
            REGION,
        ] {
            let mut vars = vars();
            vars.insert(name, "  ".to_owned());
            assert_eq!(from(&vars), Err(ConfigError::Missing(name)), "{name}");
        }
    }

    #[test]
    fn invalid_values_are_rejected_with_the_variable_name() {
        let cases = [
            (SUBNET_IDS, "vpc-123"),
            (SECURITY_GROUP_IDS, "default"),
            (DATA_BUCKETS, "Bad_Bucket"),
            (DATA_BUCKETS, "fleet-assets"),
            (ROLE_PATH, "notebooks"),
            (PERMISSIONS_BOUNDARY_ARN, "boundary"),
            (AGENT_OBJECT_KEY, "agent/latest"),
            (INSTANCE_TYPES, "t3.medium"),
            (VOLUME_SIZE_GB_MAX, "lots"),
            (IDLE_TIMEOUT_MINUTES_MAX, "5"),
            (IDLE_TIMEOUT_MINUTES_DEFAULT, "5000"),
            (ALLOW_ROOT_ACCESS, "yes"),
            (AUDIT_BUCKET, "Audit Bucket"),
            (CUSTODIAN_MAX_HOURS, "0"),
            (CUSTODIAN_MAX_HOURS, "10000"),
            (REQUEST_SOURCES, "Notebook Requested"),
            (ENTITLEMENTS_URI, "s3://bucket-only"),
            (ENTITLEMENTS_URI, "https://example.com/entitlements.json"),
            (ALLOWED_ROUTE_TARGETS, "tgw-1,nat-0abc"),
            (MAX_SNOOZE_HOURS, "0"),
            (MAX_SNOOZE_HOURS, "1000"),
        ];
        for (name, value) in cases {
            let mut vars = vars();
            vars.insert(name, value.to_owned());
            match from(&vars) {
                Err(ConfigError::Invalid { name: got, .. }) => assert_eq!(got, name, "{value}"),
                other => panic!("{name}={value:?} gave {other:?}"),
            }
        }
    }
}
