//! The idle sweep: three bulk listings (notebooks, tags, heartbeats), a pure verdict per notebook, then
//! warnings and stops with bounded concurrency. It only ever stops; it never deletes. It also ends expired
//! custodian grants (the role loses every permission, whatever the notebook's status) and keeps locked
//! notebooks stopped. Every warning, stop and revocation is recorded in the audit trail.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::{stream, StreamExt};
use serde::Serialize;

use crate::domain::audit::AuditRecord;
use crate::domain::custody::custodian_for;
use crate::domain::idle::{access_expired, idle_verdict, IdleVerdict, SweptNotebook, VERDICT_LABELS};
use crate::domain::journal::{journal_days, open_journals, ActionKind, Intent, Observed, Settled, SweepJournal};
use crate::domain::names::{notebook_name_of, role_name};
use crate::domain::outcome::{CustodianExpired, IdleStopped, IdleWarning, NotebookStopped, OutcomeEvent, SnoozeHint};
use crate::domain::request::NOTEBOOK_IDLE_SNOOZE_REQUESTED;
use crate::domain::settings::SweepSettings;
use crate::domain::tags;
use crate::error::{AwsError, ServiceError};
use crate::ports::{AuditLog, Events, Fleet, HeartbeatStore};

/// The name the sweeper signs its audit records and events with.
pub const IDLE_SWEEPER: &str = "idle-sweeper";
/// Who settled a journal the sweep that wrote it settled.
const IDLE_SWEEPER_ITSELF: &str = "the sweep itself";

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
    /// Audit records that could not be written (the action itself was done), by notebook: the next sweep
    /// writes them from the journal.
    pub audit_failures: BTreeMap<String, String>,
    /// Events that could not be published (the action was done), by notebook: the next sweep publishes them.
    pub event_failures: BTreeMap<String, String>,
    /// This sweep's journal (its intents, then its settlement), when it acted on anything.
    pub journal: Option<String>,
    /// Why the intent record could not be written, when it could not (then nothing was done).
    pub journal_failure: Option<String>,
    /// Why this sweep's journal could not be closed, when it could not (the next sweep closes it).
    pub settle_failure: Option<String>,
    /// Earlier sweeps' journals this sweep finished: prefix, and what it wrote or published for them.
    pub reconciled: BTreeMap<String, String>,
    /// Earlier journals this sweep could not finish: tried again next sweep.
    pub reconcile_failures: BTreeMap<String, String>,
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

    /// One sweep at `now`. Listing failures abort the sweep (a retry can help, and a partial listing is
    /// never taken for the fleet); a failed warning, stop, revocation, record or event does not: each is in
    /// the report and tried again by the next sweep (see [`crate::domain::journal`]).
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<SweepReport, ServiceError> {
        let started = Instant::now();
        let [yesterday, today] = journal_days(now);
        let journal = |prefix: String| async move {
            if self.config.dry_run {
                return Ok(Vec::new());
            }
            self.audit.versions(&prefix).await
        };
        let (listed, expiring, heartbeats, mut journals, journals_today) = futures::try_join!(
            self.fleet.in_service_notebooks(),
            self.fleet.expiring_notebook_tags(),
            self.heartbeats.heartbeats(),
            journal(yesterday),
            journal(today),
        )
        .map_err(ServiceError::Listing)?;
        journals.extend(journals_today);

        let mut report = SweepReport {
            dry_run: self.config.dry_run,
            in_service: listed.len(),
            verdicts: VERDICT_LABELS.iter().map(|l| ((*l).to_owned(), 0)).collect(),
            ..SweepReport::default()
        };
        let in_service: HashMap<String, DateTime<Utc>> =
            listed.iter().map(|n| (n.name.clone(), n.last_modified)).collect();
        let mut warnings = Vec::new();
        let mut stops = Vec::new();
        for notebook in listed {
            if notebook.tags.get(tags::MANAGED_BY).map(String::as_str) != Some(tags::MANAGED_BY_VALUE) {
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
                tags: notebook.tags,
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
        // Managed notebooks whose access expires (custodian notebooks), whatever their status.
        let custodian_notebooks = || {
            expiring
                .iter()
                .filter(|(_, tags)| tags.get(tags::MANAGED_BY).map(String::as_str) == Some(tags::MANAGED_BY_VALUE))
        };
        // Expired custodian grants, whatever the notebook's status: a stopped notebook's role is revoked too.
        let mut expiries: Vec<(String, CustodianExpired)> = custodian_notebooks()
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
        report.decide_ms = elapsed_ms(started);

        if self.config.dry_run {
            report.warned = warnings.iter().map(|w| w.notebook_name.clone()).collect();
            report.revoked = expiries.iter().map(|(_, e)| e.notebook_name.clone()).collect();
            report.stopped = stops.iter().map(|s| s.notebook_name.clone()).collect();
            report.duration_ms = elapsed_ms(started);
            return Ok(report);
        }

        // What earlier sweeps left undone is finished first, from the fleet as listed now.
        let revoked: HashSet<String> = custodian_notebooks()
            .filter(|(_, tags)| tags.contains_key(tags::ACCESS_REVOKED_AT))
            .map(|(arn, tags)| notebook_name_of(arn, tags))
            .collect();
        let observed = Observed { in_service: &in_service, warnings: &heartbeats.warnings, revoked: &revoked };
        self.reconcile(&open_journals(&journals, now), observed, now, &mut report).await;

        let intents: Vec<Intent> = warnings
            .iter()
            .map(|w| Intent {
                kind: ActionKind::Warn,
                notebook_name: w.notebook_name.clone(),
                event: OutcomeEvent::IdleWarning(w.clone()),
            })
            .chain(stops.iter().map(|s| Intent {
                kind: ActionKind::Stop,
                notebook_name: s.notebook_name.clone(),
                event: OutcomeEvent::Stopped(NotebookStopped::Idle(s.clone())),
            }))
            .chain(expiries.iter().map(|(_, e)| Intent {
                kind: ActionKind::Revoke,
                notebook_name: e.notebook_name.clone(),
                event: OutcomeEvent::CustodianExpired(e.clone()),
            }))
            .collect();
        if intents.is_empty() {
            report.duration_ms = elapsed_ms(started);
            return Ok(report);
        }
        let journal = SweepJournal::of(now);
        if let Err(error) = self.write_intents(&journal, &intents, now).await {
            // No action without its record: nothing is done, and the next sweep decides again.
            tracing::error!(%error, key = %journal.intents_key(), "the intent record could not be written; nothing is done this sweep");
            let why = format!("not attempted: the intent record could not be written ({error})");
            for intent in &intents {
                let failures = match intent.kind {
                    ActionKind::Warn => &mut report.warn_failures,
                    ActionKind::Stop => &mut report.stop_failures,
                    ActionKind::Revoke => &mut report.revoke_failures,
                };
                failures.insert(intent.notebook_name.clone(), why.clone());
            }
            report.journal_failure = Some(error.to_string());
            report.duration_ms = elapsed_ms(started);
            return Ok(report);
        }
        report.journal = Some(journal.prefix.clone());

        let concurrency = self.config.stop_concurrency;
        let mut settled: Vec<Settled> = Vec::new();
        let mut done: Vec<OutcomeEvent> = Vec::new();
        let mut not_done = |kind, name: &str, error: String, failures: &mut BTreeMap<String, String>| {
            settled.push(Settled {
                kind,
                notebook_name: name.to_owned(),
                done: false,
                note: Some(error.clone()),
                recorded: false,
                published: false,
            });
            failures.insert(name.to_owned(), error);
        };
        let recorded: Vec<_> = stream::iter(&warnings)
            .map(|warning| async move {
                let body = serde_json::to_value(warning).unwrap_or_default();
                (warning, self.heartbeats.record_warning(&warning.notebook_name, &body).await)
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for (warning, result) in recorded {
            match result {
                Ok(()) => {
                    report.warned.push(warning.notebook_name.clone());
                    done.push(OutcomeEvent::IdleWarning(warning.clone()));
                }
                Err(error) => {
                    // Without the marker the stop would come unannounced: no event now, warned again next sweep.
                    tracing::warn!(notebook = %warning.notebook_name, %error, "could not record the warning");
                    not_done(ActionKind::Warn, &warning.notebook_name, error.to_string(), &mut report.warn_failures);
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
                    done.push(OutcomeEvent::Stopped(NotebookStopped::Idle(stop.clone())));
                }
                Err(error) => {
                    tracing::warn!(notebook = %stop.notebook_name, %error, "stop failed; the next sweep tries again");
                    not_done(ActionKind::Stop, &stop.notebook_name, error.to_string(), &mut report.stop_failures);
                }
            }
        }
        let revocations: Vec<_> = stream::iter(&expiries)
            .map(|(arn, expiry)| async move { (expiry, self.revoke(arn, expiry, now).await) })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for (expiry, result) in revocations {
            match result {
                Ok(()) => {
                    report.revoked.push(expiry.notebook_name.clone());
                    done.push(OutcomeEvent::CustodianExpired(expiry.clone()));
                }
                Err(error) => {
                    tracing::error!(notebook = %expiry.notebook_name, %error, "revoking an expired custodian grant failed; the next sweep tries again");
                    not_done(ActionKind::Revoke, &expiry.notebook_name, error.to_string(), &mut report.revoke_failures);
                }
            }
        }
        report.stopped.sort();
        report.warned.sort();
        report.revoked.sort();

        settled.extend(self.record_and_publish(&done, now, &mut report).await);
        if let Err(error) = self.settle(&journal, settled, IDLE_SWEEPER_ITSELF, now).await {
            tracing::error!(journal = %journal.prefix, %error, "the journal could not be closed; the next sweep closes it");
            report.settle_failure = Some(error.to_string());
        }
        report.duration_ms = elapsed_ms(started);
        Ok(report)
    }

    /// Writes each done action's audit record, then publishes the events: what became of each, with every
    /// failure in the report.
    pub(super) async fn record_and_publish(
        &self,
        done: &[OutcomeEvent],
        recorded_at: DateTime<Utc>,
        report: &mut SweepReport,
    ) -> Vec<Settled> {
        let concurrency = self.config.stop_concurrency;
        let audited: Vec<_> = stream::iter(done)
            .map(|event| async move {
                (event, self.audit.append(&AuditRecord::of_event(event, IDLE_SWEEPER, None, recorded_at)).await)
            })
            .buffered(concurrency)
            .collect()
            .await;
        let published = self.events.publish_each(done).await;
        audited
            .into_iter()
            .zip(published)
            .map(|((event, recorded), published)| {
                let notebook = event.notebook_name().unwrap_or_default().to_owned();
                if let Err(error) = &recorded {
                    tracing::error!(%notebook, action = event.detail_type(), %error, "the audit record could not be written; the next sweep writes it");
                    report.audit_failures.insert(notebook.clone(), error.to_string());
                }
                if let Err(error) = &published {
                    tracing::error!(%notebook, action = event.detail_type(), %error, "the event could not be published; the next sweep publishes it");
                    report.event_failures.insert(notebook.clone(), error.to_string());
                }
                Settled {
                    kind: kind_of(event),
                    notebook_name: notebook,
                    done: true,
                    note: None,
                    recorded: recorded.is_ok(),
                    published: published.is_ok(),
                }
            })
            .collect()
    }
}

/// The kind of action a sweeper's event reports.
fn kind_of(event: &OutcomeEvent) -> ActionKind {
    match event {
        OutcomeEvent::IdleWarning(_) => ActionKind::Warn,
        OutcomeEvent::CustodianExpired(_) => ActionKind::Revoke,
        _ => ActionKind::Stop,
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
            ("EventFailures", "Count", self.event_failures.len() as f64),
            (
                "JournalFailures",
                "Count",
                (self.journal_failure.iter().count() + self.settle_failure.iter().count()) as f64,
            ),
            ("JournalsReconciled", "Count", self.reconciled.len() as f64),
            ("ReconcileFailures", "Count", self.reconcile_failures.len() as f64),
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

#[path = "sweep_journal.rs"]
mod journal;

#[path = "leftovers.rs"]
pub mod leftovers;

#[cfg(test)]
#[path = "sweep_tests.rs"]
mod tests;
