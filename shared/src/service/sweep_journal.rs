//! The sweep's write-ahead journal in the sweeper's flow (see `domain::journal`): the intents before any
//! action, the settlement after, and the reconciliation of what earlier sweeps left open.

use chrono::{DateTime, Utc};

use super::{SweepReport, Sweeper, IDLE_SWEEPER};
use crate::domain::audit::AuditRecord;
use crate::domain::journal::{
    was_done, Intent, Intents, Observed, OpenJournal, Settled, Settlement, SweepJournal, SWEEP_ACTIONS_INTENDED,
    SWEEP_ACTIONS_OUTSTANDING, SWEEP_ACTIONS_SETTLED,
};
use crate::error::{AwsError, ErrorKind};
use crate::ports::{AuditLog, AwsResult, Events, Fleet, HeartbeatStore};

impl<F: Fleet, H: HeartbeatStore, E: Events, A: AuditLog> Sweeper<F, H, E, A> {
    /// The intent record: every action this sweep is about to take, written once before the first.
    pub(super) async fn write_intents(
        &self,
        journal: &SweepJournal,
        intents: &[Intent],
        now: DateTime<Utc>,
    ) -> AwsResult<()> {
        let body = Intents { sweep_at: now, intents: intents.to_vec() };
        let record = AuditRecord::of_request(SWEEP_ACTIONS_INTENDED, &body, IDLE_SWEEPER, IDLE_SWEEPER, now);
        self.audit.write(&journal.intents_key(), &record).await
    }

    /// Closes a journal: `settled.json` when nothing remains, else `outstanding.json` (what remains, for the
    /// next sweep). On failure the next sweep finds the journal open.
    pub(super) async fn settle(
        &self,
        journal: &SweepJournal,
        actions: Vec<Settled>,
        settled_by: &str,
        now: DateTime<Utc>,
    ) -> AwsResult<()> {
        let settlement =
            Settlement { sweep_at: journal.sweep_at, settled_at: now, settled_by: settled_by.to_owned(), actions };
        let (key, action) = if settlement.finished() {
            (journal.settled_key(), SWEEP_ACTIONS_SETTLED)
        } else {
            (journal.outstanding_key(), SWEEP_ACTIONS_OUTSTANDING)
        };
        let record = AuditRecord::of_request(action, &settlement, IDLE_SWEEPER, IDLE_SWEEPER, now);
        self.audit.write(&key, &record).await
    }

    /// Finishes every open journal of earlier sweeps, oldest first; each failure is in the report and the
    /// journal stays open for the next sweep.
    pub(super) async fn reconcile(
        &self,
        open: &[OpenJournal],
        observed: Observed<'_>,
        now: DateTime<Utc>,
        report: &mut SweepReport,
    ) {
        for journal in open {
            let prefix = journal.journal.prefix.clone();
            match self.reconcile_one(journal, observed, now).await {
                Ok(summary) => {
                    tracing::warn!(journal = %prefix, %summary, "finished a journal an earlier sweep left open");
                    report.reconciled.insert(prefix, summary);
                }
                Err(error) => {
                    tracing::error!(journal = %prefix, %error, "could not finish an earlier sweep's journal; the next sweep tries again");
                    report.reconcile_failures.insert(prefix, error.to_string());
                }
            }
        }
    }

    async fn reconcile_one(&self, open: &OpenJournal, observed: Observed<'_>, now: DateTime<Utc>) -> AwsResult<String> {
        let journal = &open.journal;
        let intents: Intents = self.journal_body(&journal.intents_key(), &open.intents_version).await?;
        let outstanding: Option<Settlement> = match &open.outstanding_version {
            Some(version) => Some(self.journal_body(&journal.outstanding_key(), version).await?),
            None => None,
        };
        let mut actions: Vec<Settled> = Vec::new();
        let (mut records, mut events) = (Vec::new(), Vec::new());
        for intent in &intents.intents {
            let known = outstanding.as_ref().and_then(|o| {
                o.actions.iter().find(|a| a.kind == intent.kind && a.notebook_name == intent.notebook_name)
            });
            // What the sweep said of the action, or, when it died before saying, what the fleet shows now.
            let settled = match known {
                Some(known) => known.clone(),
                None => match was_done(intent.kind, &intent.notebook_name, intents.sweep_at, observed) {
                    Ok(()) => Settled {
                        kind: intent.kind,
                        notebook_name: intent.notebook_name.clone(),
                        done: true,
                        note: None,
                        recorded: false,
                        published: false,
                    },
                    Err(why) => Settled {
                        kind: intent.kind,
                        notebook_name: intent.notebook_name.clone(),
                        done: false,
                        note: Some(why),
                        recorded: false,
                        published: false,
                    },
                },
            };
            if settled.finished() {
                actions.push(settled);
                continue;
            }
            if !settled.recorded {
                records.push(intent.event.clone());
            }
            if !settled.published {
                events.push(intent.event.clone());
            }
            actions.push(Settled { recorded: true, published: true, ..settled });
        }
        // The records carry the intended sweep's time: the same bytes under the same keys as the sweep would
        // have written, so a record it did write is not written twice.
        for event in &records {
            self.audit.append(&AuditRecord::of_event(event, IDLE_SWEEPER, None, intents.sweep_at)).await?;
        }
        if let Some(error) = self.events.publish_each(&events).await.into_iter().find_map(Result::err) {
            return Err(error);
        }
        self.settle(journal, actions, &format!("the sweep at {}", now.to_rfc3339()), now).await?;
        Ok(format!(
            "{} intended, {} records written, {} events published",
            intents.intents.len(),
            records.len(),
            events.len()
        ))
    }

    /// The detail of a journal record (an audit record whose detail is the journal's body).
    async fn journal_body<T: serde::de::DeserializeOwned>(&self, key: &str, version: &str) -> AwsResult<T> {
        let body = self.audit.read_version(key, version).await?;
        let invalid = |e: serde_json::Error| {
            AwsError::new("GetObject", ErrorKind::Invalid, None, format!("{key} is not a sweep journal record: {e}"))
        };
        let record: AuditRecord = serde_json::from_slice(&body).map_err(invalid)?;
        serde_json::from_value(record.detail).map_err(invalid)
    }
}
