//! Request events as they arrive on the bus: the `detail-type` picks the action, the `detail` is typed.
//!
//! Unknown fields are refused rather than ignored, so that a misspelt `idle_timout_minutes` is reported to
//! the person who sent it instead of silently falling back to a default.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::validation::{Problem, Rejection};

pub const NOTEBOOK_REQUESTED: &str = "Notebook Requested";
pub const NOTEBOOK_STOP_REQUESTED: &str = "Notebook Stop Requested";
pub const NOTEBOOK_START_REQUESTED: &str = "Notebook Start Requested";
pub const NOTEBOOK_DECOMMISSION_REQUESTED: &str = "Notebook Decommission Requested";
pub const OWNER_DEACTIVATED: &str = "Owner Deactivated";
pub const CUSTODIAN_ACCESS_REQUESTED: &str = "Custodian Access Requested";
pub const NOTEBOOK_IDLE_SNOOZE_REQUESTED: &str = "Notebook Idle Snooze Requested";

/// The `detail-type`s the provisioner answers.
pub const REQUEST_DETAIL_TYPES: &[&str] = &[
    NOTEBOOK_REQUESTED,
    NOTEBOOK_STOP_REQUESTED,
    NOTEBOOK_START_REQUESTED,
    NOTEBOOK_DECOMMISSION_REQUESTED,
    OWNER_DEACTIVATED,
    CUSTODIAN_ACCESS_REQUESTED,
    NOTEBOOK_IDLE_SNOOZE_REQUESTED,
];

/// `Notebook Requested`: provision an isolated notebook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotebookRequested {
    /// Idempotency key: the same id delivered again answers the same outcome and creates nothing new.
    pub request_id: String,
    pub notebook_name: String,
    pub owner: String,
    pub team: String,
    pub instance_type: String,
    pub volume_size_gb: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_minutes: Option<u32>,
    #[serde(default)]
    pub data_access: Vec<DataAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_access: Option<bool>,
}

/// One grant of data to a notebook: a folder in a bucket inside the perimeter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataAccess {
    pub bucket: String,
    pub prefix: String,
    pub access: AccessLevel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AccessLevel {
    #[serde(rename = "read")]
    Read,
    #[serde(rename = "read-write")]
    ReadWrite,
}

/// `Notebook Stop Requested` and `Notebook Start Requested`: act on one managed notebook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotebookActionRequested {
    pub request_id: String,
    pub notebook_name: String,
    /// Who asked, for the record (a person, a portal, a ticket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
}

impl NotebookActionRequested {
    /// The action another request takes on its notebook (a decommission, a snooze), for the shared lookup.
    pub fn on(request_id: &str, notebook_name: &str, requested_by: &str) -> Self {
        NotebookActionRequested {
            request_id: request_id.to_owned(),
            notebook_name: notebook_name.to_owned(),
            requested_by: Some(requested_by.to_owned()),
        }
    }
}

/// `Notebook Decommission Requested`: stop the notebook, lock it and mark it for deletion. The notebook and
/// its volume are deleted only when `delete_notebook` is true, `data_no_longer_needed` is true and
/// `confirm_notebook_name` repeats the name; S3 objects are never deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecommissionRequested {
    pub request_id: String,
    pub notebook_name: String,
    pub requested_by: String,
    pub reason: String,
    #[serde(default)]
    pub delete_notebook: bool,
    #[serde(default)]
    pub data_no_longer_needed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_notebook_name: Option<String>,
}

/// `Owner Deactivated`: stop and lock every notebook of the owner; keep every volume and every object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerDeactivated {
    pub request_id: String,
    pub owner: String,
    pub requested_by: String,
    pub reason: String,
}

/// `Custodian Access Requested`: a named, active person asks for time-bound, read-only access to a
/// deactivated owner's data, through a notebook of their own whose role reads exactly that data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustodianAccessRequested {
    pub request_id: String,
    pub custodian: String,
    pub deactivated_owner: String,
    /// The folders to read; omitted means every folder the owner's notebooks were given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<DataScope>>,
    pub reason: String,
    pub ticket: String,
    /// Who approved the access: neither the custodian nor the deactivated owner.
    pub approved_by: String,
    pub duration_hours: u32,
    /// The custodian's notebook.
    pub notebook_name: String,
    pub team: String,
    pub instance_type: String,
    pub volume_size_gb: u32,
}

/// `Notebook Idle Snooze Requested`: the owner keeps an idle notebook running for `hours`; the fleet sets the
/// exemption tag (owners never tag notebooks themselves).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdleSnoozeRequested {
    pub request_id: String,
    pub notebook_name: String,
    /// The notebook's owner: only they may snooze it.
    pub requested_by: String,
    pub hours: u32,
}

/// A folder of a deactivated owner's data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataScope {
    pub bucket: String,
    pub prefix: String,
}

/// A request the provisioner knows how to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Provision(NotebookRequested),
    Stop(NotebookActionRequested),
    Start(NotebookActionRequested),
    Decommission(DecommissionRequested),
    DeactivateOwner(OwnerDeactivated),
    Custodian(CustodianAccessRequested),
    Snooze(IdleSnoozeRequested),
}

impl Request {
    /// Parses an event's `detail` by its `detail-type`. A detail that does not parse is a rejection that
    /// names the field at fault.
    pub fn parse(detail_type: &str, detail: &serde_json::Value) -> Result<Self, Rejection> {
        match detail_type {
            NOTEBOOK_REQUESTED => typed(detail).map(Request::Provision),
            NOTEBOOK_STOP_REQUESTED => typed(detail).map(Request::Stop),
            NOTEBOOK_START_REQUESTED => typed(detail).map(Request::Start),
            NOTEBOOK_DECOMMISSION_REQUESTED => typed(detail).map(Request::Decommission),
            OWNER_DEACTIVATED => typed(detail).map(Request::DeactivateOwner),
            CUSTODIAN_ACCESS_REQUESTED => typed(detail).map(Request::Custodian),
            NOTEBOOK_IDLE_SNOOZE_REQUESTED => typed(detail).map(Request::Snooze),
            other => Err(Rejection::single(
                "detail-type",
                format!("{other:?} is not a request this function handles; expected one of {REQUEST_DETAIL_TYPES:?}"),
            )),
        }
    }

    pub fn request_id(&self) -> &str {
        match self {
            Request::Provision(r) => &r.request_id,
            Request::Stop(r) | Request::Start(r) => &r.request_id,
            Request::Decommission(r) => &r.request_id,
            Request::DeactivateOwner(r) => &r.request_id,
            Request::Custodian(r) => &r.request_id,
            Request::Snooze(r) => &r.request_id,
        }
    }

    /// The notebook the request is about; an owner's deactivation names none.
    pub fn notebook_name(&self) -> Option<&str> {
        match self {
            Request::Provision(r) => Some(&r.notebook_name),
            Request::Stop(r) | Request::Start(r) => Some(&r.notebook_name),
            Request::Decommission(r) => Some(&r.notebook_name),
            Request::DeactivateOwner(_) => None,
            Request::Custodian(r) => Some(&r.notebook_name),
            Request::Snooze(r) => Some(&r.notebook_name),
        }
    }

    /// The owner the request is about, when it names one.
    pub fn owner(&self) -> Option<&str> {
        match self {
            Request::Provision(r) => Some(&r.owner),
            Request::DeactivateOwner(r) => Some(&r.owner),
            Request::Custodian(r) => Some(&r.custodian),
            Request::Stop(_) | Request::Start(_) | Request::Decommission(_) | Request::Snooze(_) => None,
        }
    }

    /// Who asked, for the audit trail.
    pub fn requested_by(&self) -> Option<&str> {
        match self {
            Request::Provision(r) => Some(&r.owner),
            Request::Stop(r) | Request::Start(r) => r.requested_by.as_deref(),
            Request::Decommission(r) => Some(&r.requested_by),
            Request::DeactivateOwner(r) => Some(&r.requested_by),
            Request::Custodian(r) => Some(&r.custodian),
            Request::Snooze(r) => Some(&r.requested_by),
        }
    }
}

fn typed<T: serde::de::DeserializeOwned>(detail: &serde_json::Value) -> Result<T, Rejection> {
    serde_path_to_error::deserialize(detail).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." { "detail".to_owned() } else { format!("detail.{path}") };
        Rejection::from_problems(vec![Problem { field, reason: error.inner().to_string() }])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ActionRequest, NotebookRequest};
    use serde_json::json;

    /// Every field given, the optional ones too.
    fn sample() -> serde_json::Value {
        NotebookRequest::new("req-1", "alice-nb").with_idle_timeout_minutes(90).with_root_access(false).detail()
    }

    #[test]
    fn notebook_requested_round_trips() {
        let Request::Provision(parsed) = Request::parse(NOTEBOOK_REQUESTED, &sample()).expect("parses") else {
            panic!("wrong variant")
        };
        assert_eq!(parsed.data_access[0].access, AccessLevel::ReadWrite);
        assert_eq!(serde_json::to_value(&parsed).expect("serialises"), sample());
    }

    #[test]
    fn a_misspelt_field_is_named() {
        let mut detail = sample();
        detail["idle_timout_minutes"] = json!(30);
        let rejection = Request::parse(NOTEBOOK_REQUESTED, &detail).expect_err("unknown field");
        assert!(rejection.problems[0].reason.contains("idle_timout_minutes"), "{rejection:?}");
    }

    #[test]
    fn a_wrongly_typed_nested_field_is_named_by_its_path() {
        let mut detail = sample();
        detail["data_access"][0]["access"] = json!("write");
        let rejection = Request::parse(NOTEBOOK_REQUESTED, &detail).expect_err("bad enum");
        assert_eq!(rejection.problems[0].field, "detail.data_access[0].access");
    }

    #[test]
    fn unknown_detail_types_are_rejected() {
        let rejection = Request::parse("Notebook Exploded", &sample()).expect_err("unknown");
        assert_eq!(rejection.problems[0].field, "detail-type");
    }

    #[test]
    fn stop_and_start_carry_the_name() {
        let detail = ActionRequest::new("r", "nb").anonymous().detail();
        assert!(matches!(Request::parse(NOTEBOOK_STOP_REQUESTED, &detail), Ok(Request::Stop(_))));
        let start = Request::parse(NOTEBOOK_START_REQUESTED, &detail).expect("parses");
        assert_eq!((start.request_id(), start.notebook_name()), ("r", Some("nb")));
    }
}
