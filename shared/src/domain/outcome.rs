//! Outcome events: every request gets exactly one answer on the bus, keyed by its `request_id`.

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use super::idle::StopReason;
use super::validation::{Problem, Rejection};

pub const NOTEBOOK_PROVISIONED: &str = "Notebook Provisioned";
pub const NOTEBOOK_REQUEST_REJECTED: &str = "Notebook Request Rejected";
pub const NOTEBOOK_PROVISIONING_FAILED: &str = "Notebook Provisioning Failed";
pub const NOTEBOOK_STOPPED: &str = "Notebook Stopped";
pub const NOTEBOOK_STARTED: &str = "Notebook Started";
pub const NOTEBOOK_IDLE_WARNING: &str = "Notebook Idle Warning";

/// Every outcome `detail-type` the project emits.
pub const ALL_DETAIL_TYPES: &[&str] = &[
    NOTEBOOK_PROVISIONED,
    NOTEBOOK_REQUEST_REJECTED,
    NOTEBOOK_PROVISIONING_FAILED,
    NOTEBOOK_STOPPED,
    NOTEBOOK_STARTED,
    NOTEBOOK_IDLE_WARNING,
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
    /// True when this answers a request id that was already provisioned (a redelivery).
    pub replayed: bool,
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
    pub notebook_name: String,
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
}

/// The idle sweeper's warning: the notebook will be stopped after `stop_after` unless it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdleWarning {
    pub notebook_name: String,
    pub owner: Option<String>,
    pub team: Option<String>,
    pub reason: StopReason,
    pub stop_after: DateTime<Utc>,
    /// How to keep it running: use it, or set the exemption tag.
    pub hint: String,
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
