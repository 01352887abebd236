//! `Owner Deactivated`: find every managed notebook of the owner by its tags (in bulk), lock each (stop,
//! lock tags, role made read-only), keep every volume and every object, record the owner as deactivated.
//! One `Notebook Locked` event per notebook and one `Owner Deactivation Completed` outcome. Running it again
//! changes nothing.

use chrono::{DateTime, Utc};

use super::{rejected, Answer, Provisioner};
use crate::domain::audit::{deactivation_marker_key, AuditRecord};
use crate::domain::lock::LockReason;
use crate::domain::names::notebook_name_of;
use crate::domain::outcome::{Locked, OutcomeEvent, OwnerDeactivationCompleted};
use crate::domain::request::{OwnerDeactivated, OWNER_DEACTIVATED};
use crate::domain::validation::validate_owner_deactivated;
use crate::error::{ErrorKind, ServiceError};
use crate::ports::{AuditLog, Events, Network, Notebooks, Roles};

impl<N: Network, R: Roles, S: Notebooks, E: Events, A: AuditLog> Provisioner<N, R, S, E, A> {
    pub(crate) async fn deactivate_owner(
        &self,
        request: &OwnerDeactivated,
        now: DateTime<Utc>,
    ) -> Result<Answer, ServiceError> {
        if let Err(rejection) = validate_owner_deactivated(request) {
            return Ok(rejected(OWNER_DEACTIVATED, &request.request_id, None, rejection).into());
        }
        // The owner is remembered as deactivated first, so that a notebook request racing this one is refused
        // (custodian requests need it too), also when they have no notebook at all. The marker is written
        // once and kept under object lock.
        let marked_before = self.audit.is_deactivated(&request.owner).await?;
        if !marked_before {
            let marker =
                AuditRecord::of_request(OWNER_DEACTIVATED, request, super::PROVISIONER, &request.requested_by, now);
            match self.audit.write(&deactivation_marker_key(&request.owner), &marker).await {
                Ok(()) => {}
                // A concurrent delivery (or another deactivation request) marked the owner first: the marker
                // is written once, and whichever request wrote it, the owner is deactivated.
                Err(error) if error.is(ErrorKind::AlreadyExists) => {
                    tracing::info!(owner = %request.owner, "the owner was marked deactivated by another request");
                }
                Err(error) => return Err(ServiceError::Audit(error)),
            }
        }

        let mut notices = Vec::new();
        let mut summary = OwnerDeactivationCompleted {
            request_id: request.request_id.clone(),
            owner: request.owner.clone(),
            requested_by: request.requested_by.clone(),
            reason: request.reason.clone(),
            notebooks: Vec::new(),
            changed: Vec::new(),
            pending: Vec::new(),
            already: false,
        };
        for (arn, notebook_tags) in self.notebooks.owned_notebooks(&request.owner).await? {
            let name = notebook_name_of(&arn, &notebook_tags);
            let Some(notebook) = self.notebooks.describe_notebook(&name).await? else {
                tracing::warn!(%arn, "a tagged notebook of the owner is gone; nothing to lock");
                continue;
            };
            let result = self.lock_notebook(&notebook, &notebook_tags, LockReason::OwnerDeactivated, now).await?;
            summary.notebooks.push(name.clone());
            if !result.changed.is_empty() {
                summary.changed.push(name.clone());
            }
            if result.pending.is_some() {
                summary.pending.push(name.clone());
            }
            notices.push(OutcomeEvent::Locked(Locked {
                request_id: request.request_id.clone(),
                notebook_name: name,
                notebook_arn: notebook.arn,
                owner: Some(request.owner.clone()),
                status: result.status.as_str().to_owned(),
                locked_at: result.locked_at,
                lock_reason: result.lock_reason,
                requested_by: request.requested_by.clone(),
                reason: request.reason.clone(),
                changed: result.changed,
                pending: result.pending,
            }));
        }

        summary.already = marked_before && summary.changed.is_empty();
        Ok(Answer { outcome: OutcomeEvent::OwnerDeactivationCompleted(summary), notices })
    }
}
