//! Locking one notebook, for a deactivated owner or a decommission: stop it if it runs, tag it locked, take
//! every write out of its role's policy. Each step is skipped when already done, so a second run changes
//! nothing; a notebook that cannot be stopped now (starting, updating) is left to the idle sweeper, which
//! stops the locked notebooks it finds in service.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};

use super::Provisioner;
use crate::domain::lock::{can_write, lock_of, lock_tags, without_writes, LockReason};
use crate::domain::names::role_name;
use crate::domain::notebook::{NotebookRecord, NotebookStatus};
use crate::error::ServiceError;
use crate::ports::{AuditLog, Events, Network, Notebooks, Roles};

/// What locking one notebook did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LockResult {
    pub status: NotebookStatus,
    pub locked_at: String,
    pub lock_reason: String,
    /// `stopped`, `tagged`, `role-write-removed`: empty when the notebook was locked already.
    pub changed: Vec<String>,
    pub pending: Option<String>,
}

impl<N: Network, R: Roles, S: Notebooks, E: Events, A: AuditLog> Provisioner<N, R, S, E, A> {
    pub(crate) async fn lock_notebook(
        &self,
        notebook: &NotebookRecord,
        tags: &BTreeMap<String, String>,
        reason: LockReason,
        now: DateTime<Utc>,
    ) -> Result<LockResult, ServiceError> {
        let mut changed = Vec::new();
        let mut pending = None;
        let status = match &notebook.status {
            NotebookStatus::InService => match self.notebooks.stop_notebook(&notebook.name).await {
                Ok(()) => {
                    changed.push("stopped".to_owned());
                    NotebookStatus::Stopping
                }
                Err(error) if !error.retryable() => {
                    // Stopped meanwhile (the sweeper, its owner, another delivery): take it as it is now.
                    match self.notebooks.describe_notebook(&notebook.name).await? {
                        Some(seen) if matches!(seen.status, NotebookStatus::Stopping | NotebookStatus::Stopped) => {
                            seen.status
                        }
                        _ => return Err(error.into()),
                    }
                }
                Err(error) => return Err(error.into()),
            },
            NotebookStatus::Pending | NotebookStatus::Updating => {
                pending = Some(format!(
                    "the notebook is {}; it is locked now and the idle sweeper stops it once it is in service",
                    notebook.status.as_str()
                ));
                notebook.status.clone()
            }
            other => other.clone(),
        };

        let (locked_at, lock_reason) = match lock_of(tags) {
            Some((at, why)) => (at.to_owned(), why.to_owned()),
            None => {
                let lock = lock_tags(reason, now);
                self.notebooks.tag_notebook(&notebook.arn, &lock).await?;
                changed.push("tagged".to_owned());
                (now.to_rfc3339_opts(SecondsFormat::Secs, true), reason.as_str().to_owned())
            }
        };

        // A custodian role writes nothing but its own heartbeat, and its grant ends by expiry (its policy
        // carries the expiry, the sweeper deletes it): rewriting it here could race that deletion.
        let role = notebook_role(notebook);
        if tags.contains_key(crate::domain::tags::CUSTODIAN_FOR) {
            return Ok(LockResult { status, locked_at, lock_reason, changed, pending });
        }
        if let Some(policy) = self.roles.inline_policy(&role).await? {
            if can_write(&policy) {
                self.roles.replace_inline_policy(&role, &without_writes(&policy)).await?;
                changed.push("role-write-removed".to_owned());
            }
        }
        Ok(LockResult { status, locked_at, lock_reason, changed, pending })
    }
}

/// The notebook's role name: from the role it runs with, else the name the provisioner gives it.
pub(crate) fn notebook_role(notebook: &NotebookRecord) -> String {
    notebook
        .role_arn
        .as_deref()
        .and_then(|arn| arn.rsplit('/').next())
        .filter(|name| !name.is_empty())
        .map_or_else(|| role_name(&notebook.name), str::to_owned)
}
