//! The audit trail: one immutable JSON record per action of every function, written to the audit bucket
//! (object lock) under keys that make the history of one notebook, or of one owner, one prefix listing.
//!
//! A record is derived from the event the action emitted, so that what the bus says and what the trail
//! keeps cannot differ. It is written under `notebooks/<name>/` and under `owners/<owner>/` (same body);
//! a record that names neither goes under `requests/<request-id>/`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::audit_key::record_name;
use super::outcome::OutcomeEvent;
use super::types::{NotebookName, Principal, RequestId};

pub const NOTEBOOKS_PREFIX: &str = "notebooks/";
pub const OWNERS_PREFIX: &str = "owners/";
pub const REQUESTS_PREFIX: &str = "requests/";
/// One marker per deactivated owner, written once, kept under object lock: the provisioner's memory of who
/// was deactivated.
pub const DEACTIVATED_OWNERS_PREFIX: &str = "deactivated-owners/";

/// One action, as the audit trail keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub recorded_at: DateTime<Utc>,
    /// What happened: the `detail-type` of the event the action emitted (`Notebook Locked`, …).
    pub action: String,
    /// Who or what asked: the request's `requested_by` (or its owner, custodian), else the function.
    pub actor: String,
    /// The function that acted: `provisioner`, `idle-sweeper`.
    pub function: String,
    pub request_id: Option<String>,
    pub notebook_name: Option<String>,
    pub owner: Option<String>,
    /// The ARN acted on, when the event names one.
    pub resource: Option<String>,
    /// Why: the request's reason, the rejection's reason, the sweeper's stop reason.
    pub reason: Option<String>,
    /// The event's whole detail.
    pub detail: serde_json::Value,
}

impl AuditRecord {
    /// The record of one emitted event. `actor` is who asked, when the request said so.
    pub fn of_event(event: &OutcomeEvent, function: &str, actor: Option<&str>, at: DateTime<Utc>) -> Self {
        Self::of_detail(event.detail_type(), event.detail_json(), function, actor, at)
    }

    /// The record of a request itself (an owner's deactivation marker), asked for by `actor`.
    pub fn of_request(
        detail_type: &str,
        request: &impl Serialize,
        function: &str,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Self {
        let detail = serde_json::to_value(request).unwrap_or_default();
        Self::of_detail(detail_type, detail, function, Some(actor), at)
    }

    fn of_detail(
        action: &str,
        detail: serde_json::Value,
        function: &str,
        actor: Option<&str>,
        at: DateTime<Utc>,
    ) -> Self {
        let text = |name: &str| detail.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let reason = match detail.get("reason") {
            Some(serde_json::Value::String(reason)) => Some(reason.clone()),
            Some(serde_json::Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        AuditRecord {
            recorded_at: at,
            action: action.to_owned(),
            actor: actor.map(str::to_owned).or_else(|| text("requested_by")).unwrap_or_else(|| function.to_owned()),
            function: function.to_owned(),
            request_id: text("request_id"),
            notebook_name: text("notebook_name"),
            owner: text("owner").or_else(|| text("custodian")),
            resource: text("notebook_arn").or_else(|| text("role_arn")),
            reason,
            detail,
        }
    }

    /// The keys this record is written under: one per history it belongs to. Only well-formed names make
    /// a key (a rejected request's name may be anything), so no record lands in another's history.
    pub fn keys(&self) -> Vec<String> {
        let notebook = self.notebook_name.as_deref().filter(|n| NotebookName::parse(n).is_ok());
        let owner = self.owner.as_deref().filter(|o| Principal::parse(o).is_ok());
        let request = self.request_id.as_deref().filter(|r| RequestId::parse(r).is_ok());
        let name = record_name(self.recorded_at, &slug(&self.action), &self.body());
        let mut keys = Vec::new();
        if let Some(notebook) = notebook {
            keys.push(format!("{}{name}", notebook_history_prefix(notebook)));
        }
        if let Some(owner) = owner {
            keys.push(format!("{}{name}", owner_history_prefix(owner)));
        }
        // Custodian grants and their expiry belong to the deactivated owner's history too: who read their data.
        let data_owner = self.detail.get("deactivated_owner").and_then(|v| v.as_str());
        if let Some(data_owner) = data_owner.filter(|o| Principal::parse(o).is_ok() && Some(*o) != owner) {
            keys.push(format!("{}{name}", owner_history_prefix(data_owner)));
        }
        if keys.is_empty() {
            keys.push(format!("{REQUESTS_PREFIX}{}/{name}", request.unwrap_or("unidentified")));
        }
        keys
    }

    /// The bytes stored under each key, and hashed into the key's name. Serialising a record cannot fail (its
    /// maps have string keys).
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The history prefixes (`notebooks/<n>/`, `owners/<o>/`, …) this record is written under: [`Self::keys`]
    /// without the name.
    pub fn history_prefixes(&self) -> Vec<String> {
        self.keys()
            .iter()
            .map(|key| key.rsplit_once('/').map_or("", |(prefix, _)| prefix))
            .map(|p| format!("{p}/"))
            .collect()
    }

    /// One line for people: time, action, notebook, actor, reason.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{}  {:<32} {:<24} by {}",
            self.recorded_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            self.action,
            self.notebook_name.as_deref().unwrap_or("-"),
            self.actor
        );
        if let Some(request_id) = &self.request_id {
            line.push_str(&format!(" (request {request_id})"));
        }
        if let Some(reason) = &self.reason {
            line.push_str(&format!(": {reason}"));
        }
        line
    }
}

pub fn notebook_history_prefix(notebook_name: &str) -> String {
    format!("{NOTEBOOKS_PREFIX}{notebook_name}/")
}

pub fn owner_history_prefix(owner: &str) -> String {
    format!("{OWNERS_PREFIX}{owner}/")
}

pub fn deactivation_marker_key(owner: &str) -> String {
    format!("{DEACTIVATED_OWNERS_PREFIX}{owner}.json")
}

/// The action a record's key names (`notebook-provisioned`), so that a history can be filtered by listing
/// alone.
pub fn action_of_key(key: &str) -> Option<&str> {
    let name = key.rsplit('/').next()?;
    let mut parts = name.split('_');
    parts.next()?;
    parts.next()
}

/// `Notebook Provisioned` → `notebook-provisioned`.
pub fn slug(action: &str) -> String {
    action.to_ascii_lowercase().split_whitespace().collect::<Vec<_>>().join("-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 0).single().expect("valid time")
    }

    #[test]
    fn a_record_is_kept_under_the_notebook_and_the_owner() {
        let detail = json!({"request_id": "r1", "notebook_name": "alice-nb", "owner": "alice", "reason": "left"});
        let record = AuditRecord::of_detail("Notebook Locked", detail, "provisioner", Some("hr-portal"), at());
        assert_eq!((record.actor.as_str(), record.reason.as_deref()), ("hr-portal", Some("left")));
        let keys = record.keys();
        assert_eq!(keys.len(), 2);
        assert!(keys[0].starts_with("notebooks/alice-nb/20261123T093000.000Z_notebook-locked_"), "{keys:?}");
        assert!(keys[1].starts_with("owners/alice/20261123T093000.000Z_notebook-locked_"), "{keys:?}");
        assert_eq!(action_of_key(&keys[1]), Some("notebook-locked"));
    }

    #[test]
    fn a_record_naming_nothing_is_kept_under_its_request_and_the_function_is_the_actor() {
        let detail = json!({"request_id": "r9", "notebook_name": "bob-nb/../alice-nb"});
        let record = AuditRecord::of_detail("Notebook Request Rejected", detail, "provisioner", None, at());
        assert_eq!(record.actor, "provisioner");
        assert!(record.keys()[0].starts_with("requests/r9/"));
        let round_trip: AuditRecord =
            serde_json::from_slice(&serde_json::to_vec(&record).expect("json")).expect("back");
        assert_eq!(round_trip, record);
    }

    #[test]
    fn a_custodian_grant_is_in_the_custodians_and_the_deactivated_owners_history() {
        let detail = json!({"request_id": "c1", "notebook_name": "carol-nb", "custodian": "carol", "deactivated_owner": "alice"});
        let keys = AuditRecord::of_detail("Custodian Access Granted", detail, "provisioner", None, at()).keys();
        let prefixes: Vec<_> = keys.iter().map(|k| k.rsplit_once('/').map_or("", |(p, _)| p)).collect();
        assert_eq!(prefixes, ["notebooks/carol-nb", "owners/carol", "owners/alice"]);
    }

    #[test]
    fn structured_reasons_are_kept_as_json_text() {
        let detail = json!({"notebook_name": "nb", "reason": {"kind": "idle", "idle_minutes": 70}});
        let record = AuditRecord::of_detail("Notebook Stopped", detail, "idle-sweeper", None, at());
        assert_eq!(record.reason.as_deref(), Some(r#"{"idle_minutes":70,"kind":"idle"}"#));
        assert!(record.line().contains("Notebook Stopped"));
    }
}
