//! The steps a request leaves in the audit trail, and which of them a history is missing.
//!
//! Every request is answered by one outcome record, except `Owner Deactivated`, which writes (all under
//! the owner's history, `owners/<owner>/`, all with the request's id):
//!
//! - one `Notebook Locked` per notebook it found, and
//! - one `Owner Deactivation Completed`, whose `notebooks` names each of them,
//!
//! and first of all the owner's deactivation marker (`deactivated-owners/<owner>.json`). The records are
//! written in that order before anything is published; a request whose records stop half way was never
//! answered. A redelivery writes the whole set again, under new keys: the request is complete when the
//! union of its records is. Other requests have a single step, so only an owner's history can be
//! incomplete.

use std::collections::{BTreeMap, BTreeSet};

use super::audit::AuditRecord;
use super::outcome::{NOTEBOOK_LOCKED, OWNER_DEACTIVATION_COMPLETED};

/// One request whose steps are not all in the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncompleteRequest {
    pub request_id: String,
    /// What is missing, for people.
    pub missing: String,
}

/// The incomplete owner deactivations among one owner's records. `marked` says whether the owner's
/// deactivation marker exists.
pub fn incomplete_deactivations(records: &[AuditRecord], marked: bool) -> Vec<IncompleteRequest> {
    #[derive(Default)]
    struct Steps {
        locked: BTreeSet<String>,
        completed: Option<BTreeSet<String>>,
    }
    let mut requests: BTreeMap<&str, Steps> = BTreeMap::new();
    for record in records {
        let Some(request_id) = record.request_id.as_deref() else { continue };
        if record.action == NOTEBOOK_LOCKED {
            let notebook = record.notebook_name.clone().unwrap_or_default();
            requests.entry(request_id).or_default().locked.insert(notebook);
        } else if record.action == OWNER_DEACTIVATION_COMPLETED {
            let named = record.detail.get("notebooks").and_then(|v| v.as_array()).cloned().unwrap_or_default();
            let steps = requests.entry(request_id).or_default();
            steps
                .completed
                .get_or_insert_with(BTreeSet::new)
                .extend(named.iter().filter_map(|n| n.as_str()).map(str::to_owned));
        }
    }
    let mut incomplete = Vec::new();
    for (request_id, steps) in requests {
        let mut missing = Vec::new();
        match &steps.completed {
            None => missing.push(format!(
                "{NOTEBOOK_LOCKED} of {} without {OWNER_DEACTIVATION_COMPLETED}",
                steps.locked.iter().cloned().collect::<Vec<_>>().join(", ")
            )),
            Some(named) => {
                let unlocked: Vec<_> = named.difference(&steps.locked).cloned().collect();
                if !unlocked.is_empty() {
                    missing.push(format!(
                        "{OWNER_DEACTIVATION_COMPLETED} names {} without its {NOTEBOOK_LOCKED}",
                        unlocked.join(", ")
                    ));
                }
                let unnamed: Vec<_> = steps.locked.difference(named).cloned().collect();
                if !unnamed.is_empty() {
                    missing.push(format!(
                        "{NOTEBOOK_LOCKED} of {} not named by its {OWNER_DEACTIVATION_COMPLETED}",
                        unnamed.join(", ")
                    ));
                }
            }
        }
        if !marked {
            missing.push("no deactivation marker for the owner".to_owned());
        }
        if !missing.is_empty() {
            incomplete.push(IncompleteRequest { request_id: request_id.to_owned(), missing: missing.join("; ") });
        }
    }
    incomplete
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn record(
        action: &str,
        request_id: Option<&str>,
        notebook: Option<&str>,
        detail: serde_json::Value,
    ) -> AuditRecord {
        AuditRecord {
            recorded_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).single().expect("valid time"),
            action: action.into(),
            actor: "hr".into(),
            function: "provisioner".into(),
            request_id: request_id.map(str::to_owned),
            notebook_name: notebook.map(str::to_owned),
            owner: Some("alice".into()),
            resource: None,
            reason: None,
            detail,
        }
    }

    fn locked(request_id: &str, notebook: &str) -> AuditRecord {
        record(NOTEBOOK_LOCKED, Some(request_id), Some(notebook), json!({}))
    }

    fn completed(request_id: &str, notebooks: &[&str]) -> AuditRecord {
        record(OWNER_DEACTIVATION_COMPLETED, Some(request_id), None, json!({ "notebooks": notebooks }))
    }

    #[test]
    fn a_whole_deactivation_is_complete() {
        let records = [locked("d1", "a"), locked("d1", "b"), completed("d1", &["a", "b"])];
        assert_eq!(incomplete_deactivations(&records, true), Vec::<IncompleteRequest>::new());
        let no_notebooks = [completed("d2", &[])];
        assert_eq!(incomplete_deactivations(&no_notebooks, true), Vec::<IncompleteRequest>::new());
    }

    #[test]
    fn a_redelivery_completes_what_the_first_delivery_started() {
        let records = [locked("d1", "a"), locked("d1", "a"), locked("d1", "b"), completed("d1", &["a", "b"])];
        assert_eq!(incomplete_deactivations(&records, true), Vec::<IncompleteRequest>::new());
    }

    #[test]
    fn locks_without_their_summary_are_incomplete() {
        let records = [locked("d1", "a"), locked("d1", "b")];
        let found = incomplete_deactivations(&records, true);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].request_id, "d1");
        assert_eq!(found[0].missing, "Notebook Locked of a, b without Owner Deactivation Completed");
    }

    #[test]
    fn a_summary_naming_a_notebook_without_its_lock_is_incomplete() {
        let records = [locked("d1", "a"), completed("d1", &["a", "b"])];
        let found = incomplete_deactivations(&records, true);
        assert_eq!(found[0].missing, "Owner Deactivation Completed names b without its Notebook Locked");
    }

    #[test]
    fn a_lock_the_summary_does_not_name_is_incomplete() {
        let records = [locked("d1", "a"), locked("d1", "c"), completed("d1", &["a"])];
        let found = incomplete_deactivations(&records, true);
        assert_eq!(found[0].missing, "Notebook Locked of c not named by its Owner Deactivation Completed");
    }

    #[test]
    fn a_deactivation_without_the_owners_marker_is_incomplete() {
        let found = incomplete_deactivations(&[completed("d1", &[])], false);
        assert_eq!(found[0].missing, "no deactivation marker for the owner");
    }

    #[test]
    fn requests_are_checked_apart_and_single_step_records_are_not_steps() {
        let records = [
            record("Notebook Provisioned", Some("p1"), Some("a"), json!({})),
            record("Notebook Request Rejected", None, None, json!({})),
            locked("d1", "a"),
            completed("d1", &["a"]),
            locked("d2", "a"),
        ];
        let found = incomplete_deactivations(&records, true);
        assert_eq!(found.iter().map(|f| f.request_id.as_str()).collect::<Vec<_>>(), ["d2"]);
        let only_single_steps = [record("Notebook Provisioned", Some("p1"), Some("a"), json!({}))];
        assert_eq!(
            incomplete_deactivations(&only_single_steps, false),
            Vec::<IncompleteRequest>::new(),
            "no deactivation, no marker needed"
        );
    }
}
