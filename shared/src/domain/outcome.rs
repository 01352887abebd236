//! Outcome events: every request gets exactly one answer on the bus, keyed by its `request_id`.

use schemars::JsonSchema;
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

/// An event for the bus: one variant per `detail-type`, each with its typed `detail`. Serialised, it is the
/// two fields of the EventBridge envelope, `{"detail-type": "Notebook Provisioned", "detail": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "detail-type", content = "detail")]
pub enum OutcomeEvent {
    #[serde(rename = "Notebook Provisioned")]
    Provisioned(Provisioned),
    #[serde(rename = "Notebook Request Rejected")]
    Rejected(Rejected),
    #[serde(rename = "Notebook Provisioning Failed")]
    Failed(Failed),
    #[serde(rename = "Notebook Stopped")]
    Stopped(NotebookStopped),
    #[serde(rename = "Notebook Started")]
    Started(StateChanged),
    #[serde(rename = "Notebook Idle Warning")]
    IdleWarning(IdleWarning),
    #[serde(rename = "Notebook Locked")]
    Locked(Locked),
    #[serde(rename = "Owner Deactivation Completed")]
    OwnerDeactivationCompleted(OwnerDeactivationCompleted),
    #[serde(rename = "Notebook Decommissioned")]
    Decommissioned(Decommissioned),
    #[serde(rename = "Custodian Access Granted")]
    CustodianGranted(CustodianGranted),
    #[serde(rename = "Custodian Access Expired")]
    CustodianExpired(CustodianExpired),
    #[serde(rename = "Notebook Idle Snoozed")]
    Snoozed(Snoozed),
}

impl OutcomeEvent {
    /// The event's `detail-type` (the serde tag; a test holds the two equal).
    pub fn detail_type(&self) -> &'static str {
        match self {
            OutcomeEvent::Provisioned(_) => NOTEBOOK_PROVISIONED,
            OutcomeEvent::Rejected(_) => NOTEBOOK_REQUEST_REJECTED,
            OutcomeEvent::Failed(_) => NOTEBOOK_PROVISIONING_FAILED,
            OutcomeEvent::Stopped(_) => NOTEBOOK_STOPPED,
            OutcomeEvent::Started(_) => NOTEBOOK_STARTED,
            OutcomeEvent::IdleWarning(_) => NOTEBOOK_IDLE_WARNING,
            OutcomeEvent::Locked(_) => NOTEBOOK_LOCKED,
            OutcomeEvent::OwnerDeactivationCompleted(_) => OWNER_DEACTIVATION_COMPLETED,
            OutcomeEvent::Decommissioned(_) => NOTEBOOK_DECOMMISSIONED,
            OutcomeEvent::CustodianGranted(_) => CUSTODIAN_ACCESS_GRANTED,
            OutcomeEvent::CustodianExpired(_) => CUSTODIAN_ACCESS_EXPIRED,
            OutcomeEvent::Snoozed(_) => NOTEBOOK_IDLE_SNOOZED,
        }
    }

    /// The event's `detail` as JSON, as it goes on the bus and into the audit record.
    pub fn detail_json(&self) -> serde_json::Value {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut envelope)) => envelope.remove("detail").unwrap_or_default(),
            // A detail is plain data (string keys, no fallible Serialize impl): it always serialises.
            _ => serde_json::Value::Null,
        }
    }

    /// Marks an outcome that has the field as an answer given again (`true`) or as the request's own first
    /// answer (`false`).
    pub fn set_replayed(&mut self, replayed: bool) {
        match self {
            OutcomeEvent::Provisioned(provisioned) => provisioned.replayed = replayed,
            OutcomeEvent::CustodianGranted(granted) => granted.replayed = replayed,
            _ => {}
        }
    }

    /// The notebook the event is about; an owner's deactivation names none, a rejection may not.
    pub fn notebook_name(&self) -> Option<&str> {
        match self {
            OutcomeEvent::Provisioned(d) => Some(&d.notebook_name),
            OutcomeEvent::Rejected(d) => d.notebook_name.as_deref(),
            OutcomeEvent::Failed(d) => d.notebook_name.as_deref(),
            OutcomeEvent::Stopped(NotebookStopped::Requested(d)) | OutcomeEvent::Started(d) => Some(&d.notebook_name),
            OutcomeEvent::Stopped(NotebookStopped::Idle(d)) => Some(&d.notebook_name),
            OutcomeEvent::IdleWarning(d) => Some(&d.notebook_name),
            OutcomeEvent::Locked(d) => Some(&d.notebook_name),
            OutcomeEvent::OwnerDeactivationCompleted(_) => None,
            OutcomeEvent::Decommissioned(d) => Some(&d.notebook_name),
            OutcomeEvent::CustodianGranted(d) => Some(&d.notebook_name),
            OutcomeEvent::CustodianExpired(d) => Some(&d.notebook_name),
            OutcomeEvent::Snoozed(d) => Some(&d.notebook_name),
        }
    }
}

/// `Notebook Stopped` has two details: the answer to a stop request, and the idle sweeper's stop
/// (`stopped_by` tells them apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum NotebookStopped {
    Requested(StateChanged),
    Idle(IdleStopped),
}

/// The answer to `Notebook Requested`: the notebook, its role and its lifecycle configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

/// The answer to a request that was refused: nothing was created or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Rejected {
    /// Absent only when the event carried no usable request id.
    pub request_id: Option<String>,
    pub notebook_name: Option<String>,
    /// The request's `detail-type`.
    pub request_type: String,
    /// Every problem in one sentence.
    pub reason: String,
    pub problems: Vec<Problem>,
    /// The owner the request was about (when well-formed), so that the rejection is in their audit history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The deactivated owner whose data a refused custodian request asked for (when well-formed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivated_owner: Option<String>,
}

/// The answer to a request that failed on the way (nothing the sender can fix; the error says what failed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Failed {
    pub request_id: String,
    pub notebook_name: Option<String>,
    pub owner: Option<String>,
    pub request_type: String,
    pub error: String,
}

/// Answer to a stop or start request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CustodianExpired {
    pub notebook_name: String,
    pub owner: Option<String>,
    pub deactivated_owner: Option<String>,
    pub expired_at: DateTime<Utc>,
    pub role_name: String,
    pub reason: String,
}

/// The idle sweeper's warning: the notebook will be stopped after `stop_after` unless it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SnoozeHint {
    /// `Notebook Idle Snooze Requested`.
    pub detail_type: String,
    /// The request's detail, with `request_id` and `hours` to fill in.
    pub detail: SnoozeTemplate,
}

/// A `Notebook Idle Snooze Requested` detail to complete: placeholders in angle brackets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SnoozeTemplate {
    pub request_id: String,
    pub notebook_name: String,
    pub requested_by: String,
    /// A placeholder: the request takes a whole number of hours.
    pub hours: String,
}

impl SnoozeHint {
    pub fn new(notebook_name: &str, owner: Option<&str>) -> Self {
        SnoozeHint {
            detail_type: super::request::NOTEBOOK_IDLE_SNOOZE_REQUESTED.to_owned(),
            detail: SnoozeTemplate {
                request_id: "<a new id>".to_owned(),
                notebook_name: notebook_name.to_owned(),
                requested_by: owner.unwrap_or("<the owner>").to_owned(),
                hours: "<1 to FLEET_MAX_SNOOZE_HOURS>".to_owned(),
            },
        }
    }
}

/// The idle sweeper stopped a notebook (same `detail-type` as a requested stop; `stopped_by` tells them apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IdleStopped {
    pub notebook_name: String,
    pub owner: Option<String>,
    pub team: Option<String>,
    pub status: String,
    pub reason: StopReason,
    pub stopped_by: String,
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
            owner: None,
            deactivated_owner: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rejected() -> Rejected {
        Rejected::new(
            "Notebook Requested",
            Some("r1".into()),
            None,
            Rejection::from_problems(vec![
                Problem { field: "detail.owner".into(), reason: "must be 1 to 64 characters long".into() },
                Problem { field: "detail.team".into(), reason: "x".into() },
            ]),
        )
    }

    #[test]
    fn rejection_events_carry_a_summary_and_each_problem() {
        let event = OutcomeEvent::Rejected(rejected());
        assert_eq!(event.detail_type(), "Notebook Request Rejected");
        let detail = event.detail_json();
        assert_eq!(detail["reason"], "detail.owner: must be 1 to 64 characters long; detail.team: x");
        assert_eq!(detail["problems"][1]["field"], "detail.team");
        assert!(detail.get("owner").is_none(), "no owner field unless the request named one: {detail}");
        let back: Rejected = serde_json::from_value(detail).expect("round trip");
        assert_eq!(back, rejected());
    }

    #[test]
    fn an_event_serialises_as_the_envelopes_detail_type_and_detail_and_reads_back() {
        let event = OutcomeEvent::Rejected(rejected());
        let envelope = serde_json::to_value(&event).expect("serialises");
        assert_eq!(envelope["detail-type"], event.detail_type());
        assert_eq!(envelope["detail"], event.detail_json());
        // Read back from a whole EventBridge envelope: the other fields are ignored.
        let mut delivered = envelope.clone();
        delivered["source"] = json!("notebook-fleet");
        delivered["id"] = json!("e-1");
        assert_eq!(serde_json::from_value::<OutcomeEvent>(delivered).expect("reads back"), event);
    }

    #[test]
    fn both_kinds_of_stop_read_back_as_what_they_were() {
        let requested = OutcomeEvent::Stopped(NotebookStopped::Requested(StateChanged {
            request_id: "r1".into(),
            notebook_name: "nb".into(),
            status: "Stopping".into(),
            already: false,
            requested_by: Some("portal".into()),
            owner: None,
        }));
        let idle = OutcomeEvent::Stopped(NotebookStopped::Idle(IdleStopped {
            notebook_name: "nb".into(),
            owner: Some("alice".into()),
            team: None,
            status: "Stopping".into(),
            reason: StopReason::Idle { idle_minutes: 70, timeout_minutes: 60 },
            stopped_by: "idle-sweeper".into(),
        }));
        for event in [requested, idle] {
            let text = serde_json::to_string(&event).expect("serialises");
            assert!(text.starts_with(r#"{"detail-type":"Notebook Stopped","detail":{"#), "{text}");
            assert_eq!(serde_json::from_str::<OutcomeEvent>(&text).expect("reads back"), event);
        }
    }

    #[test]
    fn every_detail_type_is_listed_once() {
        let mut listed = ALL_DETAIL_TYPES.to_vec();
        listed.sort_unstable();
        listed.dedup();
        assert_eq!(listed.len(), ALL_DETAIL_TYPES.len());
    }
}
