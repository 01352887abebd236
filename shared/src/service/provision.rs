//! `Notebook Requested`: validate → idempotency check → isolation pre-flight → role → lifecycle
//! configuration → notebook. Every step is safe to run twice; a redelivered request answers the outcome of
//! the first delivery.

use super::Provisioner;
use crate::domain::isolation::{check_isolation, check_security_groups, IsolationViolation};
use crate::domain::lifecycle::{lifecycle_config, LifecycleConfig, OnStartParameters};
use crate::domain::notebook::{notebook_spec, role_spec, NotebookRecord, RoleSpec};
use crate::domain::outcome::{OpenInstructions, OutcomeEvent, Provisioned, Rejected};
use crate::domain::request::{NotebookRequested, NOTEBOOK_REQUESTED};
use crate::domain::tags;
use crate::domain::validation::{validate_notebook_request, Rejection, ValidNotebookRequest};
use crate::error::{AwsError, ErrorKind, ServiceError};
use crate::ports::{AuditLog, Events, Network, Notebooks, Roles};

/// What an existing notebook of the requested name means for this request.
enum Existing {
    /// Provisioned by this very request: answer again.
    Replay(Box<Provisioned>),
    /// Someone else's: refuse.
    Conflict(Rejection),
}

impl<N: Network, R: Roles, S: Notebooks, E: Events, A: AuditLog> Provisioner<N, R, S, E, A> {
    pub(crate) async fn provision(&self, request: &NotebookRequested) -> Result<OutcomeEvent, ServiceError> {
        let reject = |rejection: Rejection| {
            Ok(OutcomeEvent::Rejected(Rejected::new(
                NOTEBOOK_REQUESTED,
                Some(request.request_id.clone()),
                Some(request.notebook_name.clone()),
                rejection,
            )))
        };
        let valid = match validate_notebook_request(request, &self.config.limits) {
            Ok(valid) => valid,
            Err(rejection) => return reject(rejection),
        };
        // Which data a notebook may get is the platform's decision (the entitlements document), not the request's.
        // The request's own order, so that each problem names the item as it was sent.
        if let Err(rejection) = self.config.limits.entitlements.check(&valid.team, &valid.owner, &request.data_access) {
            return reject(rejection);
        }
        if self.audit.is_deactivated(&valid.owner).await? {
            return reject(Rejection::single(
                "detail.owner",
                format!(
                    "{:?} is deactivated and gets no new notebook; a custodian can ask for access to their data",
                    valid.owner
                ),
            ));
        }
        match self.provision_valid(&valid).await? {
            Ok(provisioned) => Ok(OutcomeEvent::Provisioned(provisioned)),
            Err(rejection) => reject(rejection),
        }
    }

    /// Provisions a validated notebook (an owner's, or a custodian's): the outcome, or why it was refused.
    pub(crate) async fn provision_valid(
        &self,
        valid: &ValidNotebookRequest,
    ) -> Result<Result<Provisioned, Rejection>, ServiceError> {
        if let Some(existing) = self.notebooks.describe_notebook(&valid.notebook_name).await? {
            return match self.classify_existing(valid, existing).await? {
                Existing::Replay(provisioned) => Ok(Ok(*provisioned)),
                Existing::Conflict(rejection) => Ok(Err(rejection)),
            };
        }

        let role = role_spec(valid, &self.config);
        let notebook_lifecycle = lifecycle_config(&OnStartParameters {
            assets_bucket: &self.config.assets_bucket,
            agent: &self.config.agent,
        })
        .map_err(ServiceError::OnStartScript)?;
        let spec_for = |role_arn: &str| notebook_spec(valid, &self.config, role_arn, &notebook_lifecycle.name);

        // Pre-flight: no path out of the VPC, from the subnet or the security groups. Nothing is created otherwise.
        let placement = spec_for("");
        if let Err(violation) = self.isolation(&placement.subnet_id, &placement.security_group_ids).await? {
            tracing::error!(%violation, "refusing to place a notebook in a network with a path out of the VPC");
            return Err(ServiceError::Isolation(violation));
        }

        let role_arn = match self.ensure_role(valid, &role).await? {
            Ok(arn) => arn,
            Err(rejection) => return Ok(Err(rejection)),
        };
        let created = self.create_with_role(valid, &role_arn, &notebook_lifecycle, spec_for).await;
        if let Err(error) = &created {
            // A failure no redelivery can mend leaves no role behind; a retryable one keeps it for the retry.
            if !error.retryable() {
                self.discard_role(&role.name).await;
            }
        }
        created
    }

    /// The lifecycle configuration and the notebook, once its role exists.
    async fn create_with_role(
        &self,
        valid: &ValidNotebookRequest,
        role_arn: &str,
        notebook_lifecycle: &LifecycleConfig,
        spec_for: impl Fn(&str) -> crate::domain::notebook::NotebookSpec,
    ) -> Result<Result<Provisioned, Rejection>, ServiceError> {
        let role_arn = role_arn.to_owned();
        self.ensure_lifecycle_config(notebook_lifecycle).await?;

        let spec = spec_for(&role_arn);
        match self.retry.retry_not_ready(|| self.notebooks.create_notebook(&spec)).await {
            Ok(notebook_arn) => {
                Ok(Ok(self.provisioned(valid, notebook_arn, role_arn, &notebook_lifecycle.name, "Pending", false)))
            }
            Err(e) if e.is(ErrorKind::AlreadyExists) => {
                // A concurrent delivery of the same request (or another request for the same name) won.
                let existing = self.notebooks.describe_notebook(&valid.notebook_name).await?.ok_or(e)?;
                match self.classify_existing(valid, existing).await? {
                    Existing::Replay(provisioned) => Ok(Ok(*provisioned)),
                    Existing::Conflict(rejection) => Ok(Err(rejection)),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the role a failed provision created; a failure to delete is logged (the sweeper's reconcile
    /// removes a fleet role no notebook uses).
    async fn discard_role(&self, role_name: &str) {
        match self.roles.delete_role(role_name).await {
            Ok(()) => tracing::info!(role = role_name, "deleted the role of a provision that failed"),
            Err(error) => tracing::error!(role = role_name, %error, "could not delete the role of a failed provision"),
        }
    }

    /// The isolation pre-flight, before a notebook is created and before it is started: the subnet's routes
    /// and the security groups' egress, read now (routes and rules change between requests).
    pub(crate) async fn isolation(
        &self,
        subnet_id: &str,
        security_group_ids: &[String],
    ) -> Result<Result<(), IsolationViolation>, AwsError> {
        let routes = self.network.subnet_routes(subnet_id).await?;
        if let Err(violation) = check_isolation(subnet_id, &routes, &self.config.allowed_route_targets) {
            return Ok(Err(violation));
        }
        let groups = self.network.security_groups(security_group_ids).await?;
        Ok(check_security_groups(&groups, &routes))
    }

    async fn ensure_lifecycle_config(&self, config: &LifecycleConfig) -> Result<(), AwsError> {
        let known = |name: &str| self.known_lifecycle_configs.lock().is_ok_and(|k| k.contains(name));
        if known(&config.name) {
            return Ok(());
        }
        match self.notebooks.create_lifecycle_config(config).await {
            Ok(()) => {}
            Err(e) if e.is(ErrorKind::AlreadyExists) => {}
            Err(e) => return Err(e),
        }
        if let Ok(mut known) = self.known_lifecycle_configs.lock() {
            known.insert(config.name.clone());
        }
        Ok(())
    }

    async fn classify_existing(
        &self,
        valid: &ValidNotebookRequest,
        existing: NotebookRecord,
    ) -> Result<Existing, AwsError> {
        let found = self.notebooks.notebook_tags(&existing.arn).await?;
        if found.get(tags::MANAGED_BY).map(String::as_str) != Some(tags::MANAGED_BY_VALUE) {
            return Ok(Existing::Conflict(Rejection::single(
                "detail.notebook_name",
                format!(
                    "a notebook named {:?} exists and is not managed by notebook-fleet; choose another name",
                    valid.notebook_name
                ),
            )));
        }
        match found.get(tags::REQUEST_ID) {
            Some(id) if valid.request_id == *id => Ok(Existing::Replay(Box::new(self.provisioned(
                valid,
                existing.arn,
                existing.role_arn.unwrap_or_default(),
                existing.lifecycle_config_name.as_deref().unwrap_or_default(),
                existing.status.as_str(),
                true,
            )))),
            other => Ok(Existing::Conflict(Rejection::single(
                "detail.notebook_name",
                format!(
                    "notebook {:?} already exists (request {}); choose another name or decommission it first",
                    valid.notebook_name,
                    other.map_or("unknown", String::as_str)
                ),
            ))),
        }
    }

    /// Creates the notebook's role, or adopts the one a previous delivery of this request created. A role of
    /// that name left by a different request is a conflict, never silently reused.
    async fn ensure_role(
        &self,
        valid: &ValidNotebookRequest,
        role: &RoleSpec,
    ) -> Result<Result<String, Rejection>, AwsError> {
        let record = match self.roles.create_role(role).await {
            Ok(record) => record,
            Err(e) if e.is(ErrorKind::AlreadyExists) => self.roles.get_role(&role.name).await?.ok_or(e)?,
            Err(e) => return Err(e),
        };
        if record.tags.get(tags::REQUEST_ID).map(String::as_str) != Some(valid.request_id.as_str()) {
            return Ok(Err(Rejection::single(
                "detail.notebook_name",
                format!(
                    "IAM role {} already exists for another request ({}); decommission the old notebook or choose another name",
                    role.name,
                    record.tags.get(tags::REQUEST_ID).map_or("unknown", String::as_str)
                ),
            )));
        }
        self.roles.put_inline_policy(role).await?;
        Ok(Ok(record.arn))
    }

    fn provisioned(
        &self,
        valid: &ValidNotebookRequest,
        notebook_arn: String,
        role_arn: String,
        lifecycle_config_name: &str,
        status: &str,
        replayed: bool,
    ) -> Provisioned {
        Provisioned {
            request_id: valid.request_id.to_string(),
            notebook_name: valid.notebook_name.to_string(),
            notebook_arn,
            role_arn,
            lifecycle_config_name: lifecycle_config_name.to_owned(),
            status: status.to_owned(),
            owner: valid.owner.to_string(),
            team: valid.team.to_string(),
            data_access: valid.data_access.clone(),
            replayed,
            open: Some(OpenInstructions::new(&self.config.region, &valid.notebook_name)),
        }
    }
}
