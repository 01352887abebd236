//! `Notebook Decommission Requested`: stop, lock and mark the notebook for deletion. The notebook and its
//! volume are deleted only when the request asks for it with both confirmations (validation refuses a
//! deletion without them), and only once the notebook is stopped. No S3 object is ever deleted.

use chrono::{DateTime, SecondsFormat, Utc};

use super::lock::notebook_role;
use super::Provisioner;
use crate::domain::audit::notebook_history_prefix;
use crate::domain::lock::LockReason;
use crate::domain::notebook::NotebookStatus;
use crate::domain::outcome::{Decommissioned, OutcomeEvent, NOTEBOOK_DECOMMISSIONED};
use crate::domain::request::{DecommissionRequested, NotebookActionRequested, NOTEBOOK_DECOMMISSION_REQUESTED};
use crate::domain::tags;
use crate::domain::validation::validate_decommission;
use crate::error::ServiceError;
use crate::ports::{AuditLog, Events, Network, Notebooks, Roles};

impl<N: Network, R: Roles, S: Notebooks, E: Events, A: AuditLog> Provisioner<N, R, S, E, A> {
    pub(crate) async fn decommission(
        &self,
        request: &DecommissionRequested,
        now: DateTime<Utc>,
    ) -> Result<OutcomeEvent, ServiceError> {
        if let Err(rejection) = validate_decommission(request) {
            return Ok(super::rejected(
                NOTEBOOK_DECOMMISSION_REQUESTED,
                &request.request_id,
                Some(&request.notebook_name),
                rejection,
            ));
        }
        let action = NotebookActionRequested::on(&request.request_id, &request.notebook_name, &request.requested_by);
        let (_, notebook, found) = match self.managed_notebook(NOTEBOOK_DECOMMISSION_REQUESTED, &action).await? {
            Ok(managed) => managed,
            Err(rejected) => {
                // A redelivery after the deletion finds no notebook: answer what the first delivery did.
                return Ok(self.earlier_answer(request).await?.unwrap_or(rejected));
            }
        };

        let lock = self.lock_notebook(&notebook, &found, LockReason::Decommissioned, now).await?;
        if !found.contains_key(tags::DECOMMISSIONED_AT) {
            let mark = [(tags::DECOMMISSIONED_AT.to_owned(), now.to_rfc3339_opts(SecondsFormat::Secs, true))];
            self.notebooks.tag_notebook(&notebook.arn, &mark).await?;
        }

        let mut status = lock.status.clone();
        let (deleted, deletion) = if !request.delete_notebook {
            (false, "kept: the notebook and its volume stay, locked; a request with delete_notebook, data_no_longer_needed and confirm_notebook_name deletes them".to_owned())
        } else {
            if status == NotebookStatus::Stopping {
                // Stopping can be quick; look once more before asking for a resend.
                if let Some(now_seen) = self.notebooks.describe_notebook(&notebook.name).await? {
                    status = now_seen.status;
                }
            }
            match status.clone() {
                NotebookStatus::Stopped | NotebookStatus::Failed => {
                    self.notebooks.delete_notebook(&notebook.name).await?;
                    self.roles.delete_role(&notebook_role(&notebook)).await?;
                    status = NotebookStatus::Deleting;
                    (true, "deleted: the notebook, its volume and its role; S3 data is kept".to_owned())
                }
                NotebookStatus::Deleting => {
                    // A redelivery after a deletion whose role delete failed: finish it.
                    self.roles.delete_role(&notebook_role(&notebook)).await?;
                    (true, "deleted: the notebook was already being deleted".to_owned())
                }
                other => (
                    false,
                    format!(
                        "waiting: the notebook is {} and is deleted only once stopped; send this request again in a few minutes",
                        other.as_str()
                    ),
                ),
            }
        };
        Ok(OutcomeEvent::Decommissioned(Decommissioned {
            request_id: request.request_id.clone(),
            notebook_name: request.notebook_name.clone(),
            notebook_arn: notebook.arn.clone(),
            owner: found.get(tags::OWNER).cloned(),
            requested_by: request.requested_by.clone(),
            reason: request.reason.clone(),
            status: status.as_str().to_owned(),
            locked_at: lock.locked_at,
            deleted,
            deletion,
        }))
    }

    /// The `Notebook Decommissioned` answer this request already got, from the notebook's audit history.
    async fn earlier_answer(&self, request: &DecommissionRequested) -> Result<Option<OutcomeEvent>, ServiceError> {
        let prefix = notebook_history_prefix(&request.notebook_name);
        let earlier = self.audit.earlier_record(&prefix, NOTEBOOK_DECOMMISSIONED, &request.request_id).await?;
        let Some(record) = earlier else { return Ok(None) };
        let decommissioned = serde_json::from_value(record.detail).map_err(|error| ServiceError::EarlierAnswer {
            action: NOTEBOOK_DECOMMISSIONED,
            request_id: request.request_id.clone(),
            reason: error.to_string(),
        })?;
        Ok(Some(OutcomeEvent::Decommissioned(decommissioned)))
    }
}
