//! The one reader of the functions' environment: each function's variables into the domain's settings
//! ([`crate::domain::settings`]), through `fleet-types`' [`Vars`], so that every variable is reported the same
//! way when it is missing or wrong. Every variable is documented in the README's configuration tables; the
//! names are the constants below.

mod provisioner;
mod publisher;
mod sweeper;

pub use fleet_types::vars::{ConfigError, Vars};
pub use provisioner::{provisioner_settings, with_entitlements};
pub use publisher::{publisher_settings, AGENT_PATH, DEFAULT_AGENT_PATH};
pub use sweeper::{
    sweep_settings, DRY_RUN, IDLE_TIMEOUT_BY_INSTANCE_TYPE, LEFTOVER_MIN_AGE_HOURS, MAX_EXEMPTION_DAYS,
    MAX_RUNTIME_HOURS, SILENT_AGENT_POLICY, START_GRACE_MINUTES, STOP_CONCURRENCY, WARNING_MINUTES,
};

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

/// The notebook roles' IAM path (the provisioner creates them there; the sweeper removes leftovers only there).
pub(crate) fn role_path(vars: &Vars<'_>) -> Result<String, ConfigError> {
    let role_path = vars.or(ROLE_PATH, DEFAULT_ROLE_PATH);
    if !(role_path.starts_with('/') && role_path.ends_with('/') && role_path.len() > 1) {
        return Err(ConfigError::invalid(
            ROLE_PATH,
            format!("{role_path:?} must start and end with '/' and not be '/'"),
        ));
    }
    Ok(role_path)
}
pub const DEFAULT_ROLE_PATH: &str = "/notebook-fleet/notebooks/";
pub const DEFAULT_INSTANCE_TYPES: &str = "ml.t3.medium,ml.t3.large,ml.t3.xlarge,ml.m5.xlarge,ml.m5.2xlarge";
pub const DEFAULT_PLATFORM_IDENTIFIER: &str = "notebook-al2-v3";
pub const DEFAULT_VOLUME_SIZE_GB_MAX: u32 = 512;
pub const DEFAULT_IDLE_TIMEOUT_MINUTES: u32 = 60;
pub const DEFAULT_IDLE_TIMEOUT_MINUTES_MAX: u32 = 24 * 60;
pub const DEFAULT_CUSTODIAN_MAX_HOURS: u32 = 72;
pub const DEFAULT_MAX_SNOOZE_HOURS: u32 = 24;

/// For emulators only: S3 path-style addressing (the demo and the tests run the functions against moto).
pub const S3_FORCE_PATH_STYLE: &str = "FLEET_S3_FORCE_PATH_STYLE";
