//! `Custodian Access Requested`: a notebook for a named, active custodian whose role reads exactly the
//! deactivated owner's folders (as recorded when the owner's notebooks were provisioned), read-only, under
//! the boundary, until the grant expires. The deactivated identity is never used.

use chrono::{DateTime, Utc};

use super::{rejected, Provisioner};
use crate::domain::audit::{notebook_history_prefix, owner_history_prefix};
use crate::domain::custody::{check_custodian_request, custodian_grant, recorded_data};
use crate::domain::outcome::{CustodianGranted, OutcomeEvent, CUSTODIAN_ACCESS_GRANTED, NOTEBOOK_PROVISIONED};
use crate::domain::request::{CustodianAccessRequested, CUSTODIAN_ACCESS_REQUESTED};
use crate::domain::tags;
use crate::domain::validation::Rejection;
use crate::error::ServiceError;
use crate::ports::{AuditLog, Events, Network, Notebooks, Roles};

impl<N: Network, R: Roles, S: Notebooks, E: Events, A: AuditLog> Provisioner<N, R, S, E, A> {
    pub(crate) async fn grant_custodian(
        &self,
        request: &CustodianAccessRequested,
        now: DateTime<Utc>,
    ) -> Result<OutcomeEvent, ServiceError> {
        let reject = |rejection: Rejection| {
            Ok(rejected(CUSTODIAN_ACCESS_REQUESTED, &request.request_id, Some(&request.notebook_name), rejection))
        };
        if let Err(rejection) = check_custodian_request(request, &self.config.limits, self.config.custodian_max_hours) {
            return reject(rejection);
        }
        // A grant is given once per request: a redelivery after its notebook was decommissioned must not
        // grant again with a fresh expiry. The earlier answer is in the notebook's history.
        let history = notebook_history_prefix(&request.notebook_name);
        if let Some(earlier) =
            self.audit.earlier_record(&history, CUSTODIAN_ACCESS_GRANTED, &request.request_id).await?
        {
            if self.notebooks.describe_notebook(&request.notebook_name).await?.is_none() {
                let mut granted: CustodianGranted =
                    serde_json::from_value(earlier.detail).map_err(|error| ServiceError::EarlierAnswer {
                        action: CUSTODIAN_ACCESS_GRANTED,
                        request_id: request.request_id.clone(),
                        reason: error.to_string(),
                    })?;
                granted.replayed = true;
                return Ok(OutcomeEvent::CustodianGranted(granted));
            }
        }
        if !self.audit.is_deactivated(&request.deactivated_owner).await? {
            return reject(Rejection::single(
                "detail.deactivated_owner",
                format!(
                    "{:?} is not deactivated; custodian access is only for deactivated owners (send Owner Deactivated first)",
                    request.deactivated_owner
                ),
            ));
        }
        if self.audit.is_deactivated(&request.custodian).await? {
            return reject(Rejection::single(
                "detail.custodian",
                format!("{:?} is deactivated; a custodian must be an active person", request.custodian),
            ));
        }

        // The owner's folders, from the provisioning records alone (listing filters by the key's action).
        let records =
            self.audit.records_of(&owner_history_prefix(&request.deactivated_owner), NOTEBOOK_PROVISIONED).await?;
        let grant = match custodian_grant(request, &self.config.limits, &recorded_data(&records), now) {
            Ok(grant) => grant,
            Err(rejection) => return reject(rejection),
        };

        let provisioned = match self.provision_valid(&grant.notebook).await? {
            Ok(provisioned) => provisioned,
            Err(rejection) => return reject(rejection),
        };
        // A redelivery answers the expiry the first delivery set, not a new one.
        let mut expires_at = grant.expires_at;
        if provisioned.replayed {
            let existing = self.notebooks.notebook_tags(&provisioned.notebook_arn).await?;
            if let Some(at) = existing.get(tags::ACCESS_EXPIRES_AT).and_then(|v| DateTime::parse_from_rfc3339(v).ok()) {
                expires_at = at.with_timezone(&Utc);
            }
        }
        Ok(OutcomeEvent::CustodianGranted(CustodianGranted {
            request_id: request.request_id.clone(),
            notebook_name: provisioned.notebook_name,
            notebook_arn: provisioned.notebook_arn,
            role_arn: provisioned.role_arn,
            custodian: request.custodian.clone(),
            deactivated_owner: request.deactivated_owner.clone(),
            scope: grant.scope,
            expires_at,
            ticket: request.ticket.clone(),
            approved_by: request.approved_by.clone(),
            reason: request.reason.clone(),
            status: provisioned.status,
            replayed: provisioned.replayed,
        }))
    }
}
