//! `Notebook Stop Requested` and `Notebook Start Requested`: act only on notebooks this project manages.
//! A locked notebook (deactivated owner, decommissioned) and a custodian notebook whose grant expired are
//! never started.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::Provisioner;
use crate::domain::idle::access_expired;
use crate::domain::lock::lock_of;
use crate::domain::notebook::{NotebookRecord, NotebookStatus};
use crate::domain::outcome::{NotebookStopped, OutcomeEvent, Rejected, StateChanged};
use crate::domain::request::{NotebookActionRequested, NOTEBOOK_START_REQUESTED, NOTEBOOK_STOP_REQUESTED};
use crate::domain::tags;
use crate::domain::validation::{validate_action_request, Rejection, ValidActionRequest};
use crate::error::ServiceError;
use crate::ports::{AuditLog, Events, Network, Notebooks, Roles};

impl<N: Network, R: Roles, S: Notebooks, E: Events, A: AuditLog> Provisioner<N, R, S, E, A> {
    pub(crate) async fn stop(&self, request: &NotebookActionRequested) -> Result<OutcomeEvent, ServiceError> {
        let (valid, notebook, tags) = match self.managed_notebook(NOTEBOOK_STOP_REQUESTED, request).await? {
            Ok(found) => found,
            Err(rejected) => return Ok(rejected),
        };
        let (status, already) = match notebook.status {
            NotebookStatus::InService => {
                self.notebooks.stop_notebook(&valid.notebook_name).await?;
                (NotebookStatus::Stopping, false)
            }
            NotebookStatus::Stopping | NotebookStatus::Stopped => (notebook.status, true),
            other => return Ok(self.not_now(NOTEBOOK_STOP_REQUESTED, &valid, &other, "stopped")),
        };
        Ok(OutcomeEvent::Stopped(NotebookStopped::Requested(changed(&valid, &tags, status, already))))
    }

    pub(crate) async fn start(
        &self,
        request: &NotebookActionRequested,
        now: DateTime<Utc>,
    ) -> Result<OutcomeEvent, ServiceError> {
        let (valid, notebook, tags) = match self.managed_notebook(NOTEBOOK_START_REQUESTED, request).await? {
            Ok(found) => found,
            Err(rejected) => return Ok(rejected),
        };
        let refuse = |reason: String| {
            Ok(super::rejected(
                NOTEBOOK_START_REQUESTED,
                &valid.request_id,
                Some(&valid.notebook_name),
                Rejection::single("detail.notebook_name", reason),
            ))
        };
        if let Some((at, why)) = lock_of(&tags) {
            return refuse(format!(
                "notebook {:?} is locked ({why}, since {at}) and cannot be started; its data is kept: ask for custodian access to read it",
                valid.notebook_name
            ));
        }
        if let Some(expired) = access_expired(&tags, now) {
            return refuse(format!(
                "the custodian access of notebook {:?} expired at {}; ask for custodian access again",
                valid.notebook_name,
                expired.to_rfc3339()
            ));
        }
        let (status, already) = match notebook.status {
            NotebookStatus::Stopped => {
                // The network may have changed since the notebook was created: check it again, now.
                let Some(subnet) = notebook.subnet_id.as_deref() else {
                    return refuse(format!(
                        "notebook {:?} is in no subnet, so it is not isolated and is never started",
                        valid.notebook_name
                    ));
                };
                let groups = if notebook.security_group_ids.is_empty() {
                    &self.config.security_group_ids
                } else {
                    &notebook.security_group_ids
                };
                if let Err(violation) = self.isolation(subnet, groups).await? {
                    tracing::error!(%violation, notebook = %valid.notebook_name, "refusing to start a notebook whose network is not isolated");
                    return refuse(format!(
                        "notebook {:?} is not started: {violation}. The platform team must restore the isolation first",
                        valid.notebook_name
                    ));
                }
                self.notebooks.start_notebook(&valid.notebook_name).await?;
                (NotebookStatus::Pending, false)
            }
            NotebookStatus::Pending | NotebookStatus::InService => (notebook.status, true),
            other => return Ok(self.not_now(NOTEBOOK_START_REQUESTED, &valid, &other, "started")),
        };
        Ok(OutcomeEvent::Started(changed(&valid, &tags, status, already)))
    }

    /// The notebook named by the request and its tags, if it exists and this project manages it; otherwise
    /// the rejection.
    pub(crate) async fn managed_notebook(
        &self,
        request_type: &str,
        request: &NotebookActionRequested,
    ) -> Result<Result<ManagedNotebook, OutcomeEvent>, ServiceError> {
        let reject = |rejection: Rejection| {
            OutcomeEvent::Rejected(Rejected::new(
                request_type,
                Some(request.request_id.clone()),
                Some(request.notebook_name.clone()),
                rejection,
            ))
        };
        let valid = match validate_action_request(request) {
            Ok(valid) => valid,
            Err(rejection) => return Ok(Err(reject(rejection))),
        };
        let Some(notebook) = self.notebooks.describe_notebook(&valid.notebook_name).await? else {
            return Ok(Err(reject(Rejection::single(
                "detail.notebook_name",
                format!("there is no notebook named {:?}", valid.notebook_name),
            ))));
        };
        let found = self.notebooks.notebook_tags(&notebook.arn).await?;
        if found.get(tags::MANAGED_BY).map(String::as_str) != Some(tags::MANAGED_BY_VALUE) {
            return Ok(Err(reject(Rejection::single(
                "detail.notebook_name",
                format!("notebook {:?} is not managed by notebook-fleet", valid.notebook_name),
            ))));
        }
        Ok(Ok((valid, notebook, found)))
    }

    fn not_now(
        &self,
        request_type: &str,
        valid: &ValidActionRequest,
        status: &NotebookStatus,
        verb: &str,
    ) -> OutcomeEvent {
        OutcomeEvent::Rejected(Rejected::new(
            request_type,
            Some(valid.request_id.to_string()),
            Some(valid.notebook_name.to_string()),
            Rejection::single(
                "detail.notebook_name",
                format!(
                    "notebook {:?} is {} and cannot be {verb} now; send the request again once it is {}",
                    valid.notebook_name,
                    status.as_str(),
                    if verb == "stopped" { "InService" } else { "Stopped" }
                ),
            ),
        ))
    }
}

pub(crate) type ManagedNotebook = (ValidActionRequest, NotebookRecord, BTreeMap<String, String>);

fn changed(
    valid: &ValidActionRequest,
    found: &BTreeMap<String, String>,
    status: NotebookStatus,
    already: bool,
) -> StateChanged {
    StateChanged {
        owner: found.get(tags::OWNER).cloned(),
        request_id: valid.request_id.to_string(),
        notebook_name: valid.notebook_name.to_string(),
        status: status.as_str().to_owned(),
        already,
        requested_by: valid.requested_by.clone().map(String::from),
    }
}
