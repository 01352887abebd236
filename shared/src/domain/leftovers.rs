//! Leftovers: fleet roles and lifecycle configurations that no notebook uses any more. A provision that died
//! between its role and its notebook, a role whose deletion failed, a lifecycle configuration of an earlier
//! release once every notebook moved on: each is found here and removed by the sweeper, once it is older
//! than the configured age (a provision in flight is never touched), and never anything outside the fleet's
//! role path and name prefixes.

use std::collections::HashSet;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;

use super::lifecycle::LIFECYCLE_CONFIG_PREFIX;
use super::names::{role_name, ROLE_PREFIX};

/// Removed once unused and at least this old, unless configured otherwise: a day, far longer than any
/// provision (the provisioner's function times out after 120 s, and Lambda's retries end within minutes).
pub const DEFAULT_LEFTOVER_MIN_AGE_HOURS: u32 = 24;
/// The audit action of a removal (written before the removal is attempted).
pub const LEFTOVER_REMOVAL: &str = "Fleet Leftover Removal";

/// What a leftover is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeftoverKind {
    Role,
    LifecycleConfig,
}

/// A role or lifecycle configuration as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    /// The role's path; `None` for a lifecycle configuration.
    pub path: Option<String>,
    pub created: DateTime<Utc>,
}

/// What the notebooks of the account use: every notebook, whatever its status or owner.
#[derive(Debug, Clone, Default)]
pub struct InUse {
    pub roles: HashSet<String>,
    pub lifecycle_configs: HashSet<String>,
}

impl InUse {
    /// From each notebook's name and lifecycle configuration (a notebook's role is always
    /// [`role_name`] of its name).
    pub fn of<'a>(notebooks: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Self {
        let mut in_use = InUse::default();
        for (name, lifecycle_config) in notebooks {
            in_use.roles.insert(role_name(name));
            if let Some(config) = lifecycle_config {
                in_use.lifecycle_configs.insert(config.to_owned());
            }
        }
        in_use
    }
}

/// One unused role or configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leftover {
    pub kind: LeftoverKind,
    pub name: String,
    pub created_at: String,
    pub age_hours: i64,
}

/// What the sweep does with what it listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeftoverPlan {
    /// Unused and old enough: removed.
    pub remove: Vec<Leftover>,
    /// Unused but younger than the age: kept (a provision may be at work), reported.
    pub too_young: Vec<Leftover>,
}

/// Decides, from the fleet's roles under `role_path` and its lifecycle configurations, what is left over at
/// `now`. Only roles exactly under `role_path` named `nbf-…`, and only configurations named
/// `nbf-on-start-…`, are ever candidates, whatever the listings returned.
pub fn leftovers(
    roles: &[Listed],
    lifecycle_configs: &[Listed],
    in_use: &InUse,
    role_path: &str,
    min_age: Duration,
    now: DateTime<Utc>,
) -> LeftoverPlan {
    let fleet_role = |r: &&Listed| r.path.as_deref() == Some(role_path) && r.name.starts_with(ROLE_PREFIX);
    let fleet_config = |c: &&Listed| c.path.is_none() && c.name.starts_with(LIFECYCLE_CONFIG_PREFIX);
    let unused_roles = roles.iter().filter(fleet_role).filter(|r| !in_use.roles.contains(&r.name));
    let unused_configs =
        lifecycle_configs.iter().filter(fleet_config).filter(|c| !in_use.lifecycle_configs.contains(&c.name));
    let mut plan = LeftoverPlan::default();
    for (kind, listed) in
        unused_roles.map(|r| (LeftoverKind::Role, r)).chain(unused_configs.map(|c| (LeftoverKind::LifecycleConfig, c)))
    {
        let age = now - listed.created;
        let leftover = Leftover {
            kind,
            name: listed.name.clone(),
            created_at: listed.created.to_rfc3339_opts(SecondsFormat::Secs, true),
            age_hours: age.num_hours(),
        };
        if age >= min_age {
            plan.remove.push(leftover);
        } else {
            plan.too_young.push(leftover);
        }
    }
    plan.remove.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    plan.too_young.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours_ago: i64) -> DateTime<Utc> {
        now() - Duration::hours(hours_ago)
    }

    fn now() -> DateTime<Utc> {
        "2026-12-02T12:00:00Z".parse().expect("a valid time")
    }

    fn role(name: &str, path: &str, hours_ago: i64) -> Listed {
        Listed { name: name.into(), path: Some(path.into()), created: at(hours_ago) }
    }

    fn config(name: &str, hours_ago: i64) -> Listed {
        Listed { name: name.into(), path: None, created: at(hours_ago) }
    }

    const PATH: &str = "/notebook-fleet/notebooks/";

    #[test]
    fn an_old_unused_fleet_role_and_configuration_are_removed_and_what_is_used_is_kept() {
        let roles = [role("nbf-used", PATH, 100), role("nbf-orphan", PATH, 30)];
        let configs = [config("nbf-on-start-current", 100), config("nbf-on-start-old", 200)];
        let in_use = InUse::of([("used", Some("nbf-on-start-current")), ("stopped-one", None)]);
        let plan = leftovers(&roles, &configs, &in_use, PATH, Duration::hours(24), now());
        let removed: Vec<(LeftoverKind, &str, i64)> =
            plan.remove.iter().map(|l| (l.kind, l.name.as_str(), l.age_hours)).collect();
        assert_eq!(
            removed,
            [(LeftoverKind::Role, "nbf-orphan", 30), (LeftoverKind::LifecycleConfig, "nbf-on-start-old", 200)]
        );
        assert!(plan.too_young.is_empty());
    }

    #[test]
    fn a_young_unused_role_is_kept_and_reported_a_provision_may_be_at_work() {
        let roles = [role("nbf-in-flight", PATH, 0), role("nbf-almost", PATH, 23)];
        let plan = leftovers(&roles, &[], &InUse::default(), PATH, Duration::hours(24), now());
        assert!(plan.remove.is_empty());
        assert_eq!(plan.too_young.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["nbf-almost", "nbf-in-flight"]);
    }

    #[test]
    fn nothing_outside_the_fleet_path_and_prefixes_is_ever_a_leftover() {
        let roles = [
            role("nbf-elsewhere", "/", 1000),
            role("nbf-service", "/notebook-fleet/service/", 1000),
            role("nbf-deeper", "/notebook-fleet/notebooks/more/", 1000),
            role("someone-else", PATH, 1000),
        ];
        let configs = [config("team-on-start", 1000), config("nbf-lifecycle", 1000)];
        let plan = leftovers(&roles, &configs, &InUse::default(), PATH, Duration::hours(24), now());
        assert_eq!(plan, LeftoverPlan::default());
    }

    #[test]
    fn a_long_notebook_name_keeps_its_hashed_role() {
        let name = format!("{}-long", "x".repeat(70));
        let roles = [role(&role_name(&name), PATH, 1000)];
        let plan = leftovers(&roles, &[], &InUse::of([(name.as_str(), None)]), PATH, Duration::hours(24), now());
        assert_eq!(plan, LeftoverPlan::default());
    }
}
