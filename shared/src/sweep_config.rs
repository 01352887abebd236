//! The idle sweeper's configuration, read once at start. Variables shared with the provisioner keep their
//! names (see [`crate::config`]); every variable is in the README's sweeper table.

use std::collections::BTreeMap;

use crate::config::{
    audit_bucket, boolean, list, number, ConfigError, ASSETS_BUCKET, DEFAULT_EVENT_SOURCE,
    DEFAULT_IDLE_TIMEOUT_MINUTES, DEFAULT_IDLE_TIMEOUT_MINUTES_MAX, EVENT_BUS_NAME, EVENT_SOURCE,
    IDLE_TIMEOUT_MINUTES_DEFAULT, IDLE_TIMEOUT_MINUTES_MAX, IDLE_TIMEOUT_MINUTES_MIN,
};
use crate::domain::bucket::validate_bucket_name;
use crate::domain::idle::{IdlePolicy, SilentAgentPolicy};

pub const IDLE_TIMEOUT_BY_INSTANCE_TYPE: &str = "FLEET_IDLE_TIMEOUT_BY_INSTANCE_TYPE";
pub const MAX_RUNTIME_HOURS: &str = "FLEET_MAX_RUNTIME_HOURS";
pub const START_GRACE_MINUTES: &str = "FLEET_START_GRACE_MINUTES";
pub const WARNING_MINUTES: &str = "FLEET_WARNING_MINUTES";
pub const SILENT_AGENT_POLICY: &str = "FLEET_SILENT_AGENT_POLICY";
pub const MAX_EXEMPTION_DAYS: &str = "FLEET_MAX_EXEMPTION_DAYS";
pub const DRY_RUN: &str = "FLEET_DRY_RUN";
pub const STOP_CONCURRENCY: &str = "FLEET_STOP_CONCURRENCY";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepConfig {
    pub event_bus_name: String,
    pub event_source: String,
    pub assets_bucket: String,
    /// Where every stop, warning and revocation is recorded (see [`crate::domain::audit`]).
    pub audit_bucket: String,
    pub policy: IdlePolicy,
    /// Decide and report, stop nothing, warn nobody.
    pub dry_run: bool,
    /// How many stops are in flight at once.
    pub stop_concurrency: usize,
}

impl SweepConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let required = |name: &'static str| var(name).ok_or(ConfigError::Missing(name));
        let invalid = |name: &'static str, reason: String| ConfigError::Invalid { name, reason };

        let assets_bucket = required(ASSETS_BUCKET)?;
        validate_bucket_name(&assets_bucket).map_err(|r| invalid(ASSETS_BUCKET, r))?;
        let timeout_max = number(&var, IDLE_TIMEOUT_MINUTES_MAX, DEFAULT_IDLE_TIMEOUT_MINUTES_MAX)?;
        let bounds = IDLE_TIMEOUT_MINUTES_MIN..=timeout_max.max(IDLE_TIMEOUT_MINUTES_MIN);
        let in_bounds = |name: &'static str, minutes: u32| {
            if bounds.contains(&minutes) {
                Ok(minutes)
            } else {
                Err(invalid(name, format!("{minutes} must be between {} and {} minutes", bounds.start(), bounds.end())))
            }
        };
        let default_timeout = in_bounds(
            IDLE_TIMEOUT_MINUTES_DEFAULT,
            number(&var, IDLE_TIMEOUT_MINUTES_DEFAULT, DEFAULT_IDLE_TIMEOUT_MINUTES)?,
        )?;

        let mut timeout_by_instance_type = BTreeMap::new();
        for pair in list(&var(IDLE_TIMEOUT_BY_INSTANCE_TYPE).unwrap_or_default()) {
            let (instance_type, minutes) = pair
                .split_once('=')
                .ok_or_else(|| invalid(IDLE_TIMEOUT_BY_INSTANCE_TYPE, format!("{pair:?} is not TYPE=MINUTES")))?;
            let minutes = minutes.trim().parse().map_err(|_| {
                invalid(IDLE_TIMEOUT_BY_INSTANCE_TYPE, format!("{pair:?}: minutes must be a whole number"))
            })?;
            timeout_by_instance_type
                .insert(instance_type.trim().to_owned(), in_bounds(IDLE_TIMEOUT_BY_INSTANCE_TYPE, minutes)?);
        }

        let max_runtime_hours = number(&var, MAX_RUNTIME_HOURS, 0)?;
        let silent_agent = match var(SILENT_AGENT_POLICY).as_deref() {
            None | Some("stop") => SilentAgentPolicy::Stop,
            Some("keep") => SilentAgentPolicy::Keep,
            Some(other) => return Err(invalid(SILENT_AGENT_POLICY, format!("{other:?} is not stop or keep"))),
        };
        let dry_run = boolean(&var, DRY_RUN)?;
        let stop_concurrency = number(&var, STOP_CONCURRENCY, 8)?;
        if !(1..=50).contains(&stop_concurrency) {
            return Err(invalid(STOP_CONCURRENCY, "must be between 1 and 50".into()));
        }

        Ok(SweepConfig {
            event_bus_name: required(EVENT_BUS_NAME)?,
            event_source: var(EVENT_SOURCE).unwrap_or_else(|| DEFAULT_EVENT_SOURCE.to_owned()),
            assets_bucket,
            audit_bucket: audit_bucket(&var)?,
            policy: IdlePolicy {
                default_timeout_minutes: default_timeout,
                timeout_by_instance_type,
                timeout_bounds_minutes: bounds.clone(),
                max_runtime_minutes: (max_runtime_hours > 0).then_some(max_runtime_hours.saturating_mul(60)),
                start_grace_minutes: number(&var, START_GRACE_MINUTES, 15)?,
                warning_minutes: number(&var, WARNING_MINUTES, 15)?,
                silent_agent,
                max_exemption_days: number(&var, MAX_EXEMPTION_DAYS, 14)?,
            },
            dry_run,
            stop_concurrency: usize::try_from(stop_concurrency).unwrap_or(8),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&'static str, &str)]) -> Result<SweepConfig, ConfigError> {
        let mut vars: HashMap<&str, String> = HashMap::from([
            (EVENT_BUS_NAME, "bus".to_owned()),
            (ASSETS_BUCKET, "fleet-assets".to_owned()),
            (crate::config::AUDIT_BUCKET, "fleet-audit".to_owned()),
        ]);
        vars.extend(pairs.iter().map(|(k, v)| (*k, (*v).to_owned())));
        SweepConfig::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_are_safe() {
        let config = from(&[]).expect("valid");
        assert_eq!(config.policy.default_timeout_minutes, 60);
        assert_eq!(config.policy.warning_minutes, 15);
        assert_eq!(config.policy.max_runtime_minutes, None);
        assert_eq!(config.policy.silent_agent, SilentAgentPolicy::Stop);
        assert!(!config.dry_run);
        assert_eq!(config.stop_concurrency, 8);
    }

    #[test]
    fn per_instance_type_timeouts_and_options_parse() {
        let config = from(&[
            (IDLE_TIMEOUT_BY_INSTANCE_TYPE, "ml.m5.xlarge=30, ml.t3.medium=120"),
            (MAX_RUNTIME_HOURS, "12"),
            (SILENT_AGENT_POLICY, "keep"),
            (DRY_RUN, "true"),
        ])
        .expect("valid");
        assert_eq!(config.policy.timeout_by_instance_type["ml.m5.xlarge"], 30);
        assert_eq!(config.policy.max_runtime_minutes, Some(720));
        assert_eq!(config.policy.silent_agent, SilentAgentPolicy::Keep);
        assert!(config.dry_run);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            (IDLE_TIMEOUT_BY_INSTANCE_TYPE, "ml.m5.xlarge"),
            (IDLE_TIMEOUT_BY_INSTANCE_TYPE, "ml.m5.xlarge=5"),
            (SILENT_AGENT_POLICY, "maybe"),
            (DRY_RUN, "yes"),
            (STOP_CONCURRENCY, "0"),
            (IDLE_TIMEOUT_MINUTES_DEFAULT, "2"),
        ] {
            match from(&[(name, value)]) {
                Err(ConfigError::Invalid { name: got, .. }) => assert_eq!(got, name),
                other => panic!("{name}={value}: {other:?}"),
            }
        }
    }
}
