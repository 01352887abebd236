//! Request events as they arrive on the bus: the `detail-type` picks the action, the `detail` is typed.
//!
//! Unknown fields are refused rather than ignored, so that a misspelt `idle_timout_minutes` is reported to
//! the person who sent it instead of silently falling back to a default.

use serde::{Deserialize, Serialize};

use super::validation::{Problem, Rejection};

pub const NOTEBOOK_REQUESTED: &str = "Notebook Requested";
pub const NOTEBOOK_STOP_REQUESTED: &str = "Notebook Stop Requested";
pub const NOTEBOOK_START_REQUESTED: &str = "Notebook Start Requested";

/// The `detail-type`s the provisioner answers.
pub const REQUEST_DETAIL_TYPES: &[&str] = &[NOTEBOOK_REQUESTED, NOTEBOOK_STOP_REQUESTED, NOTEBOOK_START_REQUESTED];

/// `Notebook Requested`: provision an isolated notebook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataAccess {
    pub bucket: String,
    pub prefix: String,
    pub access: AccessLevel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AccessLevel {
    #[serde(rename = "read")]
    Read,
    #[serde(rename = "read-write")]
    ReadWrite,
}

/// `Notebook Stop Requested` and `Notebook Start Requested`: act on one managed notebook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotebookActionRequested {
    pub request_id: String,
    pub notebook_name: String,
    /// Who asked, for the record (a person, a portal, a ticket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
}

/// A request the provisioner knows how to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Provision(NotebookRequested),
    Stop(NotebookActionRequested),
    Start(NotebookActionRequested),
}

impl Request {
    /// Parses an event's `detail` by its `detail-type`. A detail that does not parse is a rejection that
    /// names the field at fault.
    pub fn parse(detail_type: &str, detail: &serde_json::Value) -> Result<Self, Rejection> {
        match detail_type {
            NOTEBOOK_REQUESTED => typed(detail).map(Request::Provision),
            NOTEBOOK_STOP_REQUESTED => typed(detail).map(Request::Stop),
            NOTEBOOK_START_REQUESTED => typed(detail).map(Request::Start),
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
        }
    }

    pub fn notebook_name(&self) -> &str {
        match self {
            Request::Provision(r) => &r.notebook_name,
            Request::Stop(r) | Request::Start(r) => &r.notebook_name,
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
    use serde_json::json;

    fn sample() -> serde_json::Value {
        json!({
            "request_id": "req-1",
            "notebook_name": "alice-nb",
            "owner": "alice",
            "team": "risk",
            "instance_type": "ml.t3.medium",
            "volume_size_gb": 20,
            "idle_timeout_minutes": 90,
            "data_access": [{"bucket": "team-data", "prefix": "risk/alice/", "access": "read-write"}],
            "root_access": false
        })
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
        let detail = json!({"request_id": "r", "notebook_name": "nb"});
        assert!(matches!(Request::parse(NOTEBOOK_STOP_REQUESTED, &detail), Ok(Request::Stop(_))));
        let start = Request::parse(NOTEBOOK_START_REQUESTED, &detail).expect("parses");
        assert_eq!((start.request_id(), start.notebook_name()), ("r", "nb"));
    }
}
