//! `Notebook Idle Snooze Requested`: the owner keeps an idle notebook running for a few hours. The fleet sets
//! the exemption tag the idle sweeper honours (owners never tag notebooks themselves; the guardrail policy
//! denies it) and answers with the new time.

use chrono::{DateTime, Duration, SecondsFormat, Timelike, Utc};

use super::Provisioner;
use crate::domain::idle::access_expired;
use crate::domain::lock::lock_of;
use crate::domain::outcome::{OutcomeEvent, Snoozed};
use crate::domain::request::{IdleSnoozeRequested, NotebookActionRequested, NOTEBOOK_IDLE_SNOOZE_REQUESTED};
use crate::domain::tags;
use crate::domain::validation::{validate_snooze, Rejection};
use crate::error::ServiceError;
use crate::ports::{AuditLog, Events, Network, Notebooks, Roles};

impl<N: Network, R: Roles, S: Notebooks, E: Events, A: AuditLog> Provisioner<N, R, S, E, A> {
    pub(crate) async fn snooze(
        &self,
        request: &IdleSnoozeRequested,
        now: DateTime<Utc>,
    ) -> Result<OutcomeEvent, ServiceError> {
        let rejected = |rejection: Rejection| {
            Ok(super::rejected(
                NOTEBOOK_IDLE_SNOOZE_REQUESTED,
                &request.request_id,
                Some(&request.notebook_name),
                rejection,
            ))
        };
        let refuse = |field: &str, reason: String| rejected(Rejection::single(field, reason));
        if let Err(rejection) = validate_snooze(request, self.config.max_snooze_hours) {
            return rejected(rejection);
        }
        let action = NotebookActionRequested::on(&request.request_id, &request.notebook_name, &request.requested_by);
        let (_, notebook, found) = match self.managed_notebook(NOTEBOOK_IDLE_SNOOZE_REQUESTED, &action).await? {
            Ok(managed) => managed,
            Err(rejected) => return Ok(rejected),
        };
        let owner = found.get(tags::OWNER).cloned();
        if owner.as_deref() != Some(request.requested_by.as_str()) {
            return refuse(
                "detail.requested_by",
                format!(
                    "only the notebook's owner ({}) may snooze {:?}",
                    owner.as_deref().unwrap_or("unknown"),
                    request.notebook_name
                ),
            );
        }
        if let Some((at, why)) = lock_of(&found) {
            return refuse(
                "detail.notebook_name",
                format!(
                    "notebook {:?} is locked ({why}, since {at}); a locked notebook is never kept running",
                    request.notebook_name
                ),
            );
        }
        if let Some(expired) = access_expired(&found, now) {
            return refuse(
                "detail.notebook_name",
                format!(
                    "the custodian access of notebook {:?} expired at {}",
                    request.notebook_name,
                    expired.to_rfc3339()
                ),
            );
        }
        // Whole seconds: the time is a tag, an event field and an audit record, and all three must agree.
        let until = now.with_nanosecond(0).unwrap_or(now) + Duration::hours(i64::from(request.hours));
        let current = found
            .get(tags::IDLE_EXEMPT_UNTIL)
            .and_then(|v| DateTime::parse_from_rfc3339(v.trim()).ok())
            .map(|t| t.with_timezone(&Utc));
        let (until, already) = match current {
            // An exemption that reaches further is kept: a snooze never shortens one.
            Some(current) if current >= until => (current, true),
            _ => {
                let value = until.to_rfc3339_opts(SecondsFormat::Secs, true);
                self.notebooks.tag_notebook(&notebook.arn, &[(tags::IDLE_EXEMPT_UNTIL.to_owned(), value)]).await?;
                (until, false)
            }
        };
        Ok(OutcomeEvent::Snoozed(Snoozed {
            request_id: request.request_id.clone(),
            notebook_name: request.notebook_name.clone(),
            owner,
            requested_by: request.requested_by.clone(),
            hours: request.hours,
            idle_exempt_until: until.to_rfc3339_opts(SecondsFormat::Secs, true),
            already,
        }))
    }
}
