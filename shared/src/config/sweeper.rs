//! The idle sweeper's variables into [`SweepSettings`]. Variables shared with the provisioner keep their names.

use std::collections::BTreeMap;

use super::*;
use crate::domain::idle::{IdlePolicy, SilentAgentPolicy};
use crate::domain::leftovers::DEFAULT_LEFTOVER_MIN_AGE_HOURS;
use crate::domain::settings::{SweepSettings, IDLE_TIMEOUT_MINUTES_MIN};

pub const IDLE_TIMEOUT_BY_INSTANCE_TYPE: &str = "FLEET_IDLE_TIMEOUT_BY_INSTANCE_TYPE";
pub const MAX_RUNTIME_HOURS: &str = "FLEET_MAX_RUNTIME_HOURS";
pub const START_GRACE_MINUTES: &str = "FLEET_START_GRACE_MINUTES";
pub const WARNING_MINUTES: &str = "FLEET_WARNING_MINUTES";
pub const SILENT_AGENT_POLICY: &str = "FLEET_SILENT_AGENT_POLICY";
pub const MAX_EXEMPTION_DAYS: &str = "FLEET_MAX_EXEMPTION_DAYS";
pub const DRY_RUN: &str = "FLEET_DRY_RUN";
pub const STOP_CONCURRENCY: &str = "FLEET_STOP_CONCURRENCY";
pub const LEFTOVER_MIN_AGE_HOURS: &str = "FLEET_LEFTOVER_MIN_AGE_HOURS";

pub fn sweep_settings(vars: &Vars<'_>) -> Result<SweepSettings, ConfigError> {
    let timeout_max = vars.number(IDLE_TIMEOUT_MINUTES_MAX, DEFAULT_IDLE_TIMEOUT_MINUTES_MAX)?;
    let bounds = IDLE_TIMEOUT_MINUTES_MIN..=timeout_max.max(IDLE_TIMEOUT_MINUTES_MIN);
    let default_timeout = vars.number_in(IDLE_TIMEOUT_MINUTES_DEFAULT, DEFAULT_IDLE_TIMEOUT_MINUTES, bounds.clone())?;

    let mut timeout_by_instance_type = BTreeMap::new();
    for pair in vars.list(IDLE_TIMEOUT_BY_INSTANCE_TYPE) {
        let (instance_type, minutes) = pair.split_once('=').ok_or_else(|| {
            ConfigError::invalid(IDLE_TIMEOUT_BY_INSTANCE_TYPE, format!("{pair:?} is not TYPE=MINUTES"))
        })?;
        let minutes: u32 = minutes.trim().parse().map_err(|_| {
            ConfigError::invalid(IDLE_TIMEOUT_BY_INSTANCE_TYPE, format!("{pair:?}: minutes must be a whole number"))
        })?;
        if !bounds.contains(&minutes) {
            return Err(ConfigError::invalid(
                IDLE_TIMEOUT_BY_INSTANCE_TYPE,
                format!("{pair:?}: {minutes} must be between {} and {} minutes", bounds.start(), bounds.end()),
            ));
        }
        timeout_by_instance_type.insert(instance_type.trim().to_owned(), minutes);
    }

    let max_runtime_hours: u32 = vars.number(MAX_RUNTIME_HOURS, 0)?;
    let silent_agent = match vars.get(SILENT_AGENT_POLICY).as_deref() {
        None | Some("stop") => SilentAgentPolicy::Stop,
        Some("keep") => SilentAgentPolicy::Keep,
        Some(other) => return Err(ConfigError::invalid(SILENT_AGENT_POLICY, format!("{other:?} is not stop or keep"))),
    };

    Ok(SweepSettings {
        event_bus_name: vars.required(EVENT_BUS_NAME)?,
        event_source: vars.or(EVENT_SOURCE, DEFAULT_EVENT_SOURCE),
        assets_bucket: vars.bucket(ASSETS_BUCKET)?,
        audit_bucket: vars.bucket(AUDIT_BUCKET)?,
        policy: IdlePolicy {
            default_timeout_minutes: default_timeout,
            timeout_by_instance_type,
            timeout_bounds_minutes: bounds,
            max_runtime_minutes: (max_runtime_hours > 0).then_some(max_runtime_hours.saturating_mul(60)),
            start_grace_minutes: vars.number(START_GRACE_MINUTES, 15)?,
            warning_minutes: vars.number(WARNING_MINUTES, 15)?,
            silent_agent,
            max_exemption_days: vars.number(MAX_EXEMPTION_DAYS, 14)?,
        },
        dry_run: vars.boolean(DRY_RUN)?,
        stop_concurrency: vars.number_in(STOP_CONCURRENCY, 8, 1..=50)?,
        role_path: role_path(vars)?,
        leftover_min_age_hours: vars.number_in(LEFTOVER_MIN_AGE_HOURS, DEFAULT_LEFTOVER_MIN_AGE_HOURS, 1..=24 * 30)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&'static str, &str)]) -> Result<SweepSettings, ConfigError> {
        let mut vars = vec![(EVENT_BUS_NAME, "bus"), (ASSETS_BUCKET, "fleet-assets"), (AUDIT_BUCKET, "fleet-audit")];
        vars.extend_from_slice(pairs);
        sweep_settings(&Vars::from_pairs(vars))
    }

    #[test]
    fn defaults_are_safe() {
        let settings = from(&[]).expect("valid");
        assert_eq!(settings.policy.default_timeout_minutes, 60);
        assert_eq!(settings.policy.warning_minutes, 15);
        assert_eq!(settings.policy.max_runtime_minutes, None);
        assert_eq!(settings.policy.silent_agent, SilentAgentPolicy::Stop);
        assert!(!settings.dry_run);
        assert_eq!(settings.stop_concurrency, 8);
    }

    #[test]
    fn per_instance_type_timeouts_and_options_parse() {
        let settings = from(&[
            (IDLE_TIMEOUT_BY_INSTANCE_TYPE, "ml.m5.xlarge=30, ml.t3.medium=120"),
            (MAX_RUNTIME_HOURS, "12"),
            (SILENT_AGENT_POLICY, "keep"),
            (DRY_RUN, "true"),
        ])
        .expect("valid");
        assert_eq!(settings.policy.timeout_by_instance_type["ml.m5.xlarge"], 30);
        assert_eq!(settings.policy.max_runtime_minutes, Some(720));
        assert_eq!(settings.policy.silent_agent, SilentAgentPolicy::Keep);
        assert!(settings.dry_run);
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
            (ASSETS_BUCKET, "Fleet_Assets"),
        ] {
            match from(&[(name, value)]) {
                Err(ConfigError::Invalid { name: got, .. }) => assert_eq!(got, name),
                other => panic!("{name}={value}: {other:?}"),
            }
        }
    }
}
