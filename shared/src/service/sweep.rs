//! The idle sweep: three bulk listings (notebooks, tags, heartbeats), a pure verdict per notebook, then
//! warnings and stops with bounded concurrency. It only ever stops; it never deletes. It also ends expired
//! custodian grants (the role loses every permission, whatever the notebook's status) and keeps locked
//! notebooks stopped. Every warning, stop and revocation is recorded in the audit trail.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::{stream, StreamExt};
use serde::Serialize;

use crate::domain::audit::AuditRecord;
use crate::domain::custody::custodian_for;
use crate::domain::idle::{access_expired, idle_verdict, IdleVerdict, SweptNotebook, VERDICT_LABELS};
use crate::domain::names::{notebook_name_of, role_name};
use crate::domain::outcome::{CustodianExpired, IdleStopped, IdleWarning, NotebookStopped, OutcomeEvent, SnoozeHint};
use crate::domain::request::NOTEBOOK_IDLE_SNOOZE_REQUESTED;
use crate::domain::settings::SweepSettings;
use crate::domain::tags;
use crate::error::{AwsError, ServiceError};
use crate::ports::{AuditLog, Events, Fleet, HeartbeatStore};

/// The name the sweeper signs its audit records and events with.
pub const IDLE_SWEEPER: &str = "idle-sweeper";

#[derive(Debug)]
pub struct Sweeper<F, H, E, A> {
    fleet: F,
    heartbeats: H,
    events: E,
    audit: A,
    config: SweepSettings,
}

/// What one sweep saw, decided and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub dry_run: bool,
    pub in_service: usize,
    pub managed: usize,
    /// Notebooks by verdict label (every label present, zero included).
    pub verdicts: BTreeMap<String, usize>,
    pub warned: Vec<String>,
    /// Warnings that could not be recorded (so no warning was sent, and the stop waits): warned again next
    /// sweep.
    pub warn_failures: BTreeMap<String, String>,
    pub stopped: Vec<String>,
    /// Stops that failed (the notebook changed state meanwhile, or AWS refused): tried again next sweep.
    pub stop_failures: BTreeMap<String, String>,
    /// Custodian notebooks whose grant expired and whose role lost its access in this sweep.
    pub revoked: Vec<String>,
    /// Revocations that failed: tried again next sweep.
    pub revoke_failures: BTreeMap<String, String>,
    /// Audit records that could not be written (the action itself was done), by notebook.
    pub audit_failures: BTreeMap<String, String>,
    /// Tags a notebook's owner set that the sweeper had to ignore, by notebook.
    pub tag_problems: BTreeMap<String, Vec<String>>,
    /// Minutes the stopped notebooks had been idle (or running, for the runtime cap).
    pub idle_minutes_stopped: i64,
    /// Time to list and decide (three concurrent bulk listings and the verdicts), before any action.
    pub decide_ms: u64,
    pub duration_ms: u64,
}

impl<F: Fleet, H: HeartbeatStore, E: Events, A: AuditLog> Sweeper<F, H, E, A> {
    pub fn new(fleet: F, heartbeats: H, events: E, audit: A, config: SweepSettings) -> Self {
        Sweeper { fleet, heartbeats, events, audit, config }
    }

    pub fn config(&self) -> &SweepSettings {
        &self.config
    }

    /// One sweep at `now`. Listing failures abort the sweep (a retry can help); a failed stop does not.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<SweepReport, ServiceError> {
        let started = Instant::now();
        let (listed, managed_tags, heartbeats) = futures::try_join!(
            self.fleet.in_service_notebooks(),
            self.fleet.managed_notebook_tags(),
            self.heartbeats.heartbeats()
        )?;

        let mut report = SweepReport {
            dry_run: self.config.dry_run,
            in_service: listed.len(),
            verdicts: VERDICT_LABELS.iter().map(|l| ((*l).to_owned(), 0)).collect(),
            ..SweepReport::default()
        };
        let mut warnings = Vec::new();
        let mut stops = Vec::new();
        for notebook in listed {
            let Some(tags) = managed_tags.get(&notebook.arn.to_ascii_lowercase()) else { continue };
            if tags.get(tags::MANAGED_BY).map(String::as_str) != Some(tags::MANAGED_BY_VALUE) {
                continue;
            }
            report.managed += 1;
            let swept = SweptNotebook {
                last_heartbeat: heartbeats.beats.get(&notebook.name).copied(),
                warned_at: heartbeats.warnings.get(&notebook.name).copied(),
                name: notebook.name,
                status: notebook.status,
                instance_type: notebook.instance_type,
                last_start: notebook.last_modified,
                tags: tags.clone(),
            };
            let (verdict, problems) = idle_verdict(&swept, &self.config.policy, now);
            *report.verdicts.entry(verdict.label().to_owned()).or_default() += 1;
            if !problems.is_empty() {
                report.tag_problems.insert(swept.name.clone(), problems);
            }
            match verdict {
                IdleVerdict::Warn { reason, stop_after } => warnings.push(IdleWarning {
                    owner: swept.tags.get(tags::OWNER).cloned(),
                    team: swept.tags.get(tags::TEAM).cloned(),
                    snooze: SnoozeHint::new(&swept.name, swept.tags.get(tags::OWNER).map(String::as_str)),
                    notebook_name: swept.name,
                    reason,
                    stop_after,
                    hint: format!(
                        "use the notebook, or ask the portal to snooze it: a {NOTEBOOK_IDLE_SNOOZE_REQUESTED:?} request \
                         (see snooze) keeps it running for the hours asked"
                    ),
                }),
                IdleVerdict::Stop { reason } => stops.push(IdleStopped {
                    owner: swept.tags.get(tags::OWNER).cloned(),
                    team: swept.tags.get(tags::TEAM).cloned(),
                    notebook_name: swept.name,
                    status: "Stopping".into(),
                    reason,
                    stopped_by: IDLE_SWEEPER.into(),
                }),
                _ => {}
            }
        }
        // Expired custodian grants, whatever the notebook's status: a stopped notebook's role is revoked too.
        let mut expiries: Vec<(String, CustodianExpired)> = managed_tags
            .iter()
            .filter(|(_, tags)| tags.get(tags::MANAGED_BY).map(String::as_str) == Some(tags::MANAGED_BY_VALUE))
            .filter(|(_, tags)| !tags.contains_key(tags::ACCESS_REVOKED_AT))
            .filter_map(|(arn, tags)| {
                let expired_at = access_expired(tags, now)?;
                let name = notebook_name_of(arn, tags);
                Some((
                    arn.clone(),
                    CustodianExpired {
                        role_name: role_name(&name),
                        reason: format!("the custodian access granted until {} has expired", expired_at.to_rfc3339()),
                        notebook_name: name,
                        owner: tags.get(tags::OWNER).cloned(),
                        deactivated_owner: custodian_for(tags).map(str::to_owned),
                        expired_at,
                    },
                ))
            })
            .collect();
        expiries.sort_by(|a, b| a.1.notebook_name.cmp(&b.1.notebook_name));
        report.warned = warnings.iter().map(|w| w.notebook_name.clone()).collect();
        report.decide_ms = elapsed_ms(started);

        if self.config.dry_run {
            report.revoked = expiries.iter().map(|(_, e)| e.notebook_name.clone()).collect();
            report.stopped = stops.iter().map(|s| s.notebook_name.clone()).collect();
            report.duration_ms = elapsed_ms(started);
            return Ok(report);
        }

        let concurrency = self.config.stop_concurrency;
        let recorded: Vec<_> = stream::iter(&warnings)
            .map(|warning| async move {
                let body = serde_json::to_value(warning).unwrap_or_default();
                (warning, self.heartbeats.record_warning(&warning.notebook_name, &body).await)
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let mut events: Vec<OutcomeEvent> = Vec::new();
        for (warning, result) in recorded {
            match result {
                Ok(()) => events.push(OutcomeEvent::IdleWarning(warning.clone())),
                Err(error) => {
                    // Without the record the stop would come unannounced: no event now, warned again next sweep.
                    tracing::warn!(notebook = %warning.notebook_name, %error, "could not record the warning");
                    report.warned.retain(|n| *n != warning.notebook_name);
                    report.warn_failures.insert(warning.notebook_name.clone(), error.to_string());
                }
            }
        }

        let results: Vec<_> = stream::iter(&stops)
            .map(|stop| async move { (stop, self.fleet.stop_notebook(&stop.notebook_name).await) })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for (stop, result) in results {
            match result {
                Ok(()) => {
                    report.stopped.push(stop.notebook_name.clone());
                    report.idle_minutes_stopped += stop_minutes(stop);
                    events.push(OutcomeEvent::Stopped(NotebookStopped::Idle(stop.clone())));
                }
                Err(error) => {
                    tracing::warn!(notebook = %stop.notebook_name, %error, "stop failed; the next sweep tries again");
                    report.stop_failures.insert(stop.notebook_name.clone(), error.to_string());
                }
            }
        }
        let revoked: Vec<_> = stream::iter(&expiries)
            .map(|(arn, expiry)| async move { (expiry, self.revoke(arn, expiry, now).await) })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for (expiry, result) in revoked {
            match result {
                Ok(()) => {
                    report.revoked.push(expiry.notebook_name.clone());
                    events.push(OutcomeEvent::CustodianExpired(expiry.clone()));
                }
                Err(error) => {
                    tracing::error!(notebook = %expiry.notebook_name, %error, "revoking an expired custodian grant failed; the next sweep tries again");
                    report.revoke_failures.insert(expiry.notebook_name.clone(), error.to_string());
                }
            }
        }
        report.stopped.sort();
        report.warned.sort();
        report.revoked.sort();

        let audited: Vec<_> = stream::iter(&events)
            .map(|event| async move {
                (event, self.audit.append(&AuditRecord::of_event(event, IDLE_SWEEPER, None, now)).await)
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for (event, result) in audited {
            if let Err(error) = result {
                let notebook = event.notebook_name().unwrap_or_default();
                tracing::error!(%notebook, action = event.detail_type(), %error, "the audit record could not be written");
                report.audit_failures.insert(notebook.to_owned(), error.to_string());
            }
        }
        self.events.publish_all(&events).await.map_err(ServiceError::Publish)?;
        report.duration_ms = elapsed_ms(started);
        Ok(report)
    }
}

impl<F: Fleet, H: HeartbeatStore, E: Events, A: AuditLog> Sweeper<F, H, E, A> {
    /// Ends one expired custodian grant: the role loses every permission, then the notebook is marked so
    /// that this happens once. (An in-service notebook is stopped by its verdict in the same sweep.)
    async fn revoke(&self, arn: &str, expiry: &CustodianExpired, now: DateTime<Utc>) -> Result<(), AwsError> {
        self.fleet.revoke_role(&expiry.role_name).await?;
        let mark = [(tags::ACCESS_REVOKED_AT.to_owned(), now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))];
        self.fleet.tag_notebook(arn, &mark).await
    }
}

impl SweepReport {
    /// The figures for CloudWatch: `(name, unit, value)` in the embedded metric format's terms.
    #[allow(clippy::cast_precision_loss)]
    pub fn metrics(&self) -> Vec<(&'static str, &'static str, f64)> {
        let count = |label: &str| self.verdicts.get(label).copied().unwrap_or(0) as f64;
        vec![
            ("NotebooksInService", "Count", self.in_service as f64),
            ("NotebooksManaged", "Count", self.managed as f64),
            ("NotebooksStopped", "Count", self.stopped.len() as f64),
            ("NotebooksWarned", "Count", self.warned.len() as f64),
            ("WarnFailures", "Count", self.warn_failures.len() as f64),
            ("NotebooksExempt", "Count", count("exempt")),
            ("AgentsSilent", "Count", count("agent-silent")),
            ("StopFailures", "Count", self.stop_failures.len() as f64),
            ("CustodianGrantsRevoked", "Count", self.revoked.len() as f64),
            ("RevokeFailures", "Count", self.revoke_failures.len() as f64),
            ("AuditFailures", "Count", self.audit_failures.len() as f64),
            ("IdleHoursRecovered", "None", self.idle_minutes_stopped as f64 / 60.0),
            ("SweepDuration", "Milliseconds", self.duration_ms as f64),
        ]
    }
}

fn stop_minutes(stop: &IdleStopped) -> i64 {
    match stop.reason {
        crate::domain::idle::StopReason::Idle { idle_minutes, .. } => idle_minutes,
        crate::domain::idle::StopReason::MaxRuntime { runtime_minutes, .. } => runtime_minutes,
        crate::domain::idle::StopReason::Locked { .. } | crate::domain::idle::StopReason::AccessExpired { .. } => 0,
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[path = "sweep_tests.rs"]
mod tests;
