//! The sweeper's leftover step, on its own (daily) schedule: every notebook, the roles under the fleet's
//! path and the fleet's lifecycle configurations are listed, and what no notebook uses and is older than the
//! configured age is removed (see [`crate::domain::leftovers`]). Each removal is recorded in the audit trail
//! before it is attempted; a removal that fails is in the report and tried again by the next run.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::{elapsed_ms, Sweeper, IDLE_SWEEPER};
use crate::domain::audit::AuditRecord;
use crate::domain::leftovers::{leftovers, InUse, Leftover, LeftoverKind, LEFTOVER_REMOVAL};
use crate::domain::names::{role_name, ROLE_PREFIX};
use crate::error::ServiceError;
use crate::ports::{AuditLog, Events, Fleet, FleetResources, HeartbeatStore};

/// What one leftover run found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LeftoverReport {
    pub dry_run: bool,
    pub notebooks: usize,
    pub roles_listed: usize,
    pub lifecycle_configs_listed: usize,
    /// Removed in this run (for a dry run: what would be).
    pub removed: Vec<Leftover>,
    /// Unused, but younger than the age: kept.
    pub too_young: Vec<Leftover>,
    /// Removals that failed (the record was written, the resource stays): tried again next run.
    pub failures: BTreeMap<String, String>,
    /// A listing that failed: what it would have found is not looked at this run.
    pub listing_failures: BTreeMap<String, String>,
    pub duration_ms: u64,
}

/// The detail of the record written before a removal.
#[derive(Debug, Serialize)]
struct Removal<'a> {
    request_id: String,
    notebook_name: Option<&'a str>,
    #[serde(flatten)]
    leftover: &'a Leftover,
    reason: String,
}

impl<F: Fleet + FleetResources, H: HeartbeatStore, E: Events, A: AuditLog> Sweeper<F, H, E, A> {
    /// One leftover run at `now`. The notebooks' and the roles' listings must succeed (a role is never taken
    /// for unused from a partial listing of the notebooks); the lifecycle configurations' listing may fail
    /// alone (the roles are still handled, and the failure is reported).
    pub async fn remove_leftovers(&self, now: DateTime<Utc>) -> Result<LeftoverReport, ServiceError> {
        let started = Instant::now();
        let config = &self.config;
        let (notebooks, roles) =
            futures::try_join!(self.fleet.all_notebooks(), self.fleet.roles_under(&config.role_path))
                .map_err(ServiceError::Listing)?;
        let mut report = LeftoverReport { dry_run: config.dry_run, notebooks: notebooks.len(), ..Default::default() };
        let configs = match self.fleet.fleet_lifecycle_configs().await {
            Ok(configs) => configs,
            Err(error) => {
                tracing::error!(%error, "could not list the lifecycle configurations; only roles are looked at");
                report.listing_failures.insert("lifecycle configurations".into(), error.to_string());
                Vec::new()
            }
        };
        report.roles_listed = roles.len();
        report.lifecycle_configs_listed = configs.len();
        let in_use = InUse::of(notebooks.iter().map(|(name, config)| (name.as_str(), config.as_deref())));
        let min_age = Duration::hours(i64::from(config.leftover_min_age_hours));
        let plan = leftovers(&roles, &configs, &in_use, &config.role_path, min_age, now);
        report.too_young = plan.too_young;
        if config.dry_run {
            report.removed = plan.remove;
            report.duration_ms = elapsed_ms(started);
            return Ok(report);
        }
        for leftover in plan.remove {
            match self.remove(&leftover, now).await {
                Ok(()) => {
                    tracing::info!(kind = ?leftover.kind, name = %leftover.name, age_hours = leftover.age_hours, "removed a leftover");
                    report.removed.push(leftover);
                }
                Err(error) => {
                    tracing::error!(kind = ?leftover.kind, name = %leftover.name, %error, "could not remove a leftover; the next run tries again");
                    report.failures.insert(leftover.name.clone(), error);
                }
            }
        }
        report.duration_ms = elapsed_ms(started);
        Ok(report)
    }

    /// The record first, then the removal: nothing is removed without a record.
    async fn remove(&self, leftover: &Leftover, now: DateTime<Utc>) -> Result<(), String> {
        let (what, notebook_name) = match leftover.kind {
            // The notebook it was made for, when its name says so (a shortened, hashed name does not).
            LeftoverKind::Role => {
                ("role", leftover.name.strip_prefix(ROLE_PREFIX).filter(|name| role_name(name) == leftover.name))
            }
            LeftoverKind::LifecycleConfig => ("lifecycle configuration", None),
        };
        let removal = Removal {
            request_id: format!("leftovers-{}", now.format("%Y-%m-%d")),
            notebook_name,
            leftover,
            reason: format!(
                "a fleet {what} that no notebook uses, created {} hours ago (older than {} hours)",
                leftover.age_hours, self.config.leftover_min_age_hours
            ),
        };
        let record = AuditRecord::of_request(LEFTOVER_REMOVAL, &removal, IDLE_SWEEPER, IDLE_SWEEPER, now);
        self.audit
            .append(&record)
            .await
            .map_err(|e| format!("not attempted: the record could not be written ({e})"))?;
        let removed = match leftover.kind {
            LeftoverKind::Role => self.fleet.delete_role(&leftover.name).await,
            LeftoverKind::LifecycleConfig => self.fleet.delete_lifecycle_config(&leftover.name).await,
        };
        removed.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{Duration, TimeZone, Utc};

    use super::*;
    use crate::config::{sweep_settings, Vars, ASSETS_BUCKET, AUDIT_BUCKET, DRY_RUN, EVENT_BUS_NAME};
    use crate::error::ErrorKind;
    use crate::testing::{AddedNotebook, FakeAws};

    const PATH: &str = "/notebook-fleet/notebooks/";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).single().expect("valid time")
    }

    fn sweeper(fake: &FakeAws, dry_run: bool) -> crate::testing::FakeSweeper {
        let vars = BTreeMap::from([
            (EVENT_BUS_NAME, "bus".to_owned()),
            (ASSETS_BUCKET, "fleet-assets".to_owned()),
            (AUDIT_BUCKET, "fleet-audit".to_owned()),
            (DRY_RUN, dry_run.to_string()),
        ]);
        fake.state().clock = Some(now());
        fake.sweeper(sweep_settings(&Vars::from_pairs(vars)).expect("valid configuration"))
    }

    /// A notebook in use (its role and configuration), a role a dead provision left a day and a half ago, one
    /// an hour old, a configuration of an earlier release, and a role outside the fleet's path.
    fn account() -> FakeAws {
        let fake = FakeAws::new();
        fake.add_notebook(AddedNotebook::in_service("used", now() - Duration::hours(3)));
        fake.add_role("nbf-used", PATH, now() - Duration::days(30));
        fake.add_lifecycle_config("nbf-lifecycle", now() - Duration::days(30));
        fake.add_role("nbf-died", PATH, now() - Duration::hours(36));
        fake.add_role("nbf-in-flight", PATH, now() - Duration::hours(1));
        fake.add_lifecycle_config("nbf-on-start-0123", now() - Duration::days(10));
        fake.add_role("nbf-team-own", "/team/", now() - Duration::days(300));
        fake
    }

    fn names(leftovers: &[Leftover]) -> Vec<&str> {
        leftovers.iter().map(|l| l.name.as_str()).collect()
    }

    #[tokio::test]
    async fn an_unused_old_role_and_configuration_are_recorded_then_removed_and_nothing_else_is_touched() {
        let fake = account();
        let report = sweeper(&fake, false).remove_leftovers(now()).await.expect("runs");
        assert_eq!(names(&report.removed), ["nbf-died", "nbf-on-start-0123"]);
        assert_eq!(names(&report.too_young), ["nbf-in-flight"]);
        assert!(report.failures.is_empty() && report.listing_failures.is_empty(), "{report:?}");
        let state = fake.state();
        let roles: Vec<&str> = state.roles.keys().map(String::as_str).collect();
        assert_eq!(roles, ["nbf-in-flight", "nbf-team-own", "nbf-used"]);
        let configs: Vec<&str> = state.lifecycle_configs.keys().map(String::as_str).collect();
        assert_eq!(configs, ["nbf-lifecycle"]);
        drop(state);
        // Each removal's record was written before the removal, under the notebook it was made for when known.
        let calls = fake.calls();
        let first = |op: &str| calls.iter().position(|c| *c == op).unwrap_or(usize::MAX);
        assert!(first("PutAuditRecord") < first("DeleteRole"), "{calls:?}");
        let records: Vec<(String, String)> = fake
            .audit_records()
            .into_iter()
            .filter(|(_, r)| r.action == LEFTOVER_REMOVAL)
            .map(|(key, r)| (key.split('/').take(2).collect::<Vec<_>>().join("/"), r.reason.unwrap_or_default()))
            .collect();
        assert_eq!(records.len(), 2, "{records:?}");
        assert_eq!(records[0].0, "notebooks/died");
        assert!(records[0].1.contains("created 36 hours ago (older than 24 hours)"), "{records:?}");
        assert_eq!(records[1].0, "requests/leftovers-2026-12-02");
    }

    #[tokio::test]
    async fn a_dry_run_reports_what_would_be_removed_and_removes_nothing() {
        let fake = account();
        let report = sweeper(&fake, true).remove_leftovers(now()).await.expect("runs");
        assert_eq!(names(&report.removed), ["nbf-died", "nbf-on-start-0123"]);
        assert_eq!(fake.state().roles.len(), 4);
        assert_eq!(fake.count("DeleteRole") + fake.count("PutAuditRecord"), 0);
    }

    #[tokio::test]
    async fn no_record_no_removal_and_the_next_run_tries_again() {
        let fake = account();
        fake.fail("PutAuditRecord", &[ErrorKind::Transient]);
        let report = sweeper(&fake, false).remove_leftovers(now()).await.expect("runs");
        assert_eq!(names(&report.removed), ["nbf-on-start-0123"]);
        assert!(
            report.failures["nbf-died"].starts_with("not attempted: the record could not be written"),
            "{report:?}"
        );
        assert!(fake.state().roles.contains_key("nbf-died"));
        let again = sweeper(&fake, false).remove_leftovers(now()).await.expect("runs");
        assert_eq!(names(&again.removed), ["nbf-died"]);
    }

    #[tokio::test]
    async fn a_failed_notebook_listing_removes_nothing_a_failed_configuration_listing_leaves_the_roles_handled() {
        let fake = account();
        fake.fail("ListNotebookInstances", &[ErrorKind::Transient]);
        let error = sweeper(&fake, false).remove_leftovers(now()).await.expect_err("a partial view of the notebooks");
        assert!(matches!(error, ServiceError::Listing(_)), "{error:?}");
        assert_eq!(fake.count("DeleteRole") + fake.count("DeleteNotebookInstanceLifecycleConfig"), 0);

        fake.fail("ListNotebookInstanceLifecycleConfigs", &[ErrorKind::Transient]);
        let report = sweeper(&fake, false).remove_leftovers(now()).await.expect("runs");
        assert_eq!(names(&report.removed), ["nbf-died"]);
        assert!(report.listing_failures.contains_key("lifecycle configurations"), "{report:?}");
        assert!(fake.state().lifecycle_configs.contains_key("nbf-on-start-0123"));
    }
}
