//! Outcome events: every request gets exactly one answer on the bus, keyed by its `request_id`.

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use super::idle::StopReason;
use super::request::{DataAccess, DataScope};
use super::validation::{Problem, Rejection};

pub const NOTEBOOK_PROVISIONED: &str = "Notebook Provisioned";
pub const NOTEBOOK_REQUEST_REJECTED: &str = "Notebook Request Rejected";
pub const NOTEBOOK_PROVISIONING_FAILED: &str = "Notebook Provisioning Failed";
pub const NOTEBOOK_STOPPED: &str = "Notebook Stopped";
pub const NOTEBOOK_STARTED: &str = "Notebook Started";
pub const NOTEBOOK_IDLE_WARNING: &str = "Notebook Idle Warning";
pub const NOTEBOOK_LOCKED: &str = "Notebook Locked";
pub const OWNER_DEACTIVATION_COMPLETED: &str = "Owner Deactivation Completed";
pub const NOTEBOOK_DECOMMISSIONED: &str = "Notebook Decommissioned";
pub const CUSTODIAN_ACCESS_GRANTED: &str = "Custodian Access Granted";
pub const CUSTODIAN_ACCESS_EXPIRED: &str = "Custodian Access Expired";
pub const NOTEBOOK_IDLE_SNOOZED: &str = "Notebook Idle Snoozed";

/// Every outcome `detail-type` the project emits.
pub const ALL_DETAIL_TYPES: &[&str] = &[
    NOTEBOOK_PROVISIONED,
    NOTEBOOK_REQUEST_REJECTED,
    NOTEBOOK_PROVISIONING_FAILED,
    NOTEBOOK_STOPPED,
    NOTEBOOK_STARTED,
    NOTEBOOK_IDLE_WARNING,
    NOTEBOOK_LOCKED,
    OWNER_DEACTIVATION_COMPLETED,
    NOTEBOOK_DECOMMISSIONED,
    CUSTODIAN_ACCESS_GRANTED,
    CUSTODIAN_ACCESS_EXPIRED,
    NOTEBOOK_IDLE_SNOOZED,
];

/// An event for the bus: its `detail-type` and its `detail`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeEvent {
    pub detail_type: &'static str,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provisioned {
    pub request_id: String,
    pub notebook_name: String,
    pub notebook_arn: String,
    pub role_arn: String,
    pub lifecycle_config_name: String,
    pub status: String,
    pub owner: String,
    pub team: String,
    /// The folders the notebook's role was given: the record custodian access is later scoped by.
    pub data_access: Vec<DataAccess>,
    /// True when this answers a request id that was already provisioned (a redelivery).
    pub replayed: bool,
    /// How the owner opens it (records written before this field existed have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<OpenInstructions>,
}

/// How a notebook's owner opens it: only the owner may (the user policy the stack outputs allows the
/// presigned URL on notebooks tagged with the caller's own owner tag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenInstructions {
    pub console_url: String,
    pub cli: String,
}

impl OpenInstructions {
    pub fn new(region: &str, notebook_name: &str) -> Self {
        let console = if region.starts_with("cn-") {
            format!("https://{region}.console.amazonaws.cn")
        } else if region.starts_with("us-gov-") {
            "https://console.amazonaws-us-gov.com".to_owned()
        } else {
            format!("https://{region}.console.aws.amazon.com")
        };
        OpenInstructions {
            console_url: format!(
                "{console}/sagemaker/home?region={region}#/notebook-instances/openNotebook/{notebook_name}?view=lab"
            ),
            cli: format!(
                "aws sagemaker create-presigned-notebook-instance-url --region {region} --notebook-instance-name {notebook_name}"
            ),
        }
    }
}

/// Answer to an idle snooze: the notebook is exempt from the idle policy until `idle_exempt_until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snoozed {
    pub request_id: String,
    pub notebook_name: String,
    pub owner: Option<String>,
    pub requested_by: String,
    pub hours: u32,
    pub idle_exempt_until: String,
    /// True when an exemption that reaches further was already set (it is kept).
    pub already: bool,
}

impl From<&Snoozed> for OutcomeEvent {
    fn from(d: &Snoozed) -> Self {
        event(NOTEBOOK_IDLE_SNOOZED, d)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Absent only when the event carried no usable request id.
    pub request_id: Option<String>,
    pub notebook_name: Option<String>,
    pub request_type: String,
    pub reason: String,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    pub request_id: String,
    pub notebook_name: Option<String>,
    pub owner: Option<String>,
    pub request_type: String,
    pub error: String,
}

/// Answer to a stop or start request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChanged {
    pub request_id: String,
    pub notebook_name: String,
    /// The notebook's status after the call (`Stopping`, `Pending`, …).
    pub status: String,
    /// True when the notebook was already in (or on its way to) the requested state.
    pub already: bool,
    pub requested_by: Option<String>,
    pub owner: Option<String>,
}

/// One notebook of a deactivated owner, or a decommissioned one, locked: kept stopped, its role read-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locked {
    pub request_id: String,
    pub notebook_name: String,
    pub notebook_arn: String,
    pub owner: Option<String>,
    pub status: String,
    pub locked_at: String,
    pub lock_reason: String,
    pub requested_by: String,
    pub reason: String,
    /// What this request changed: `stopped`, `tagged`, `role-write-removed` (empty when it was locked already).
    pub changed: Vec<String>,
    /// Set when the notebook could not be stopped now (it was starting or updating): the idle sweeper stops
    /// locked notebooks it finds in service.
    pub pending: Option<String>,
}

/// The answer to `Owner Deactivated`: every notebook of the owner, and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerDeactivationCompleted {
    pub request_id: String,
    pub owner: String,
    pub requested_by: String,
    pub reason: String,
    pub notebooks: Vec<String>,
    /// Notebooks this request changed (the others were locked already).
    pub changed: Vec<String>,
    /// Notebooks still starting or updating: locked now, stopped by the idle sweeper once in service.
    pub pending: Vec<String>,
    /// True when nothing changed: the owner had been deactivated before.
    pub already: bool,
}

/// The answer to `Notebook Decommission Requested`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decommissioned {
    pub request_id: String,
    pub notebook_name: String,
    pub notebook_arn: String,
    pub owner: Option<String>,
    pub requested_by: String,
    pub reason: String,
    pub status: String,
    pub locked_at: String,
    /// True once the notebook and its volume are deleted (S3 objects are never deleted).
    pub deleted: bool,
    /// What happens to the notebook: `kept`, `deleted`, or why the deletion waits.
    pub deletion: String,
}

/// The answer to `Custodian Access Requested`: the custodian's notebook and what its role may read, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodianGranted {
    pub request_id: String,
    pub notebook_name: String,
    pub notebook_arn: String,
    pub role_arn: String,
    pub custodian: String,
    pub deactivated_owner: String,
    pub scope: Vec<DataScope>,
    pub expires_at: DateTime<Utc>,
    pub ticket: String,
    /// Who approved the access (neither the custodian nor the deactivated owner).
    #[serde(default)]
    pub approved_by: String,
    pub reason: String,
    pub status: String,
    pub replayed: bool,
}

/// A custodian grant ran out: the role's access was revoked and the notebook stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodianExpired {
    pub notebook_name: String,
    pub owner: Option<String>,
    pub deactivated_owner: Option<String>,
    pub expired_at: DateTime<Utc>,
    pub role_name: String,
    pub reason: String,
}

/// The idle sweeper's warning: the notebook will be stopped after `stop_after` unless it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdleWarning {
    pub notebook_name: String,
    pub owner: Option<String>,
    pub team: Option<String>,
    pub reason: StopReason,
    pub stop_after: DateTime<Utc>,
    /// How to keep it running: use it, or snooze it.
    pub hint: String,
    /// The snooze request that keeps it running.
    pub snooze: SnoozeHint,
}

/// The request an owner (through the portal) sends to keep a warned notebook running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnoozeHint {
    pub detail_type: String,
    /// The request's detail, with `request_id` and `hours` to fill in.
    pub detail: serde_json::Value,
}

impl SnoozeHint {
    pub fn new(notebook_name: &str, owner: Option<&str>) -> Self {
        SnoozeHint {
            detail_type: super::request::NOTEBOOK_IDLE_SNOOZE_REQUESTED.to_owned(),
            detail: serde_json::json!({
                "request_id": "<a new id>",
                "notebook_name": notebook_name,
                "requested_by": owner.unwrap_or("<the owner>"),
                "hours": "<1 to FLEET_MAX_SNOOZE_HOURS>",
            }),
        }
    }
}

/// The idle sweeper stopped a notebook (same `detail-type` as a requested stop; `stopped_by` tells them apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdleStopped {
    pub notebook_name: String,
    pub owner: Option<String>,
    pub team: Option<String>,
    pub status: String,
    pub reason: StopReason,
    pub stopped_by: String,
}

impl From<&IdleWarning> for OutcomeEvent {
    fn from(d: &IdleWarning) -> Self {
        event(NOTEBOOK_IDLE_WARNING, d)
    }
}
impl From<&IdleStopped> for OutcomeEvent {
    fn from(d: &IdleStopped) -> Self {
        event(NOTEBOOK_STOPPED, d)
    }
}

impl Rejected {
    pub fn new(
        request_type: &str,
        request_id: Option<String>,
        notebook_name: Option<String>,
        rejection: Rejection,
    ) -> Self {
        Rejected {
            request_id,
            notebook_name,
            request_type: request_type.to_owned(),
            reason: rejection.summary(),
            problems: rejection.problems,
        }
    }
}

fn event(detail_type: &'static str, detail: &impl Serialize) -> OutcomeEvent {
    OutcomeEvent { detail_type, detail: serde_json::to_value(detail).expect("outcome details always serialise") }
}

impl From<&Provisioned> for OutcomeEvent {
    fn from(d: &Provisioned) -> Self {
        event(NOTEBOOK_PROVISIONED, d)
    }
}
impl From<&Rejected> for OutcomeEvent {
    fn from(d: &Rejected) -> Self {
        event(NOTEBOOK_REQUEST_REJECTED, d)
    }
}
impl From<&Failed> for OutcomeEvent {
    fn from(d: &Failed) -> Self {
        event(NOTEBOOK_PROVISIONING_FAILED, d)
    }
}

impl From<&Locked> for OutcomeEvent {
    fn from(d: &Locked) -> Self {
        event(NOTEBOOK_LOCKED, d)
    }
}
impl From<&OwnerDeactivationCompleted> for OutcomeEvent {
    fn from(d: &OwnerDeactivationCompleted) -> Self {
        event(OWNER_DEACTIVATION_COMPLETED, d)
    }
}
impl From<&Decommissioned> for OutcomeEvent {
    fn from(d: &Decommissioned) -> Self {
        event(NOTEBOOK_DECOMMISSIONED, d)
    }
}
impl From<&CustodianGranted> for OutcomeEvent {
    fn from(d: &CustodianGranted) -> Self {
        event(CUSTODIAN_ACCESS_GRANTED, d)
    }
}
impl From<&CustodianExpired> for OutcomeEvent {
    fn from(d: &CustodianExpired) -> Self {
        event(CUSTODIAN_ACCESS_EXPIRED, d)
    }
}

impl StateChanged {
    pub fn stopped(&self) -> OutcomeEvent {
        event(NOTEBOOK_STOPPED, self)
    }
    pub fn started(&self) -> OutcomeEvent {
        event(NOTEBOOK_STARTED, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_events_carry_a_summary_and_each_problem() {
        let rejected = Rejected::new(
            "Notebook Requested",
            Some("r1".into()),
            None,
            Rejection::from_problems(vec![
                Problem { field: "detail.owner".into(), reason: "must be 1 to 64 characters long".into() },
                Problem { field: "detail.team".into(), reason: "x".into() },
            ]),
        );
        let event = OutcomeEvent::from(&rejected);
        assert_eq!(event.detail_type, "Notebook Request Rejected");
        assert_eq!(event.detail["reason"], "detail.owner: must be 1 to 64 characters long; detail.team: x");
        assert_eq!(event.detail["problems"][1]["field"], "detail.team");
        let back: Rejected = serde_json::from_value(event.detail).expect("round trip");
        assert_eq!(back, rejected);
    }
}
