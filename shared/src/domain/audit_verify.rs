//! Verifying one history (`notebooks/<n>/` or `owners/<o>/`) of the audit trail: what is wrong with it, one
//! finding per problem. The history is read as stored (every key with its versions and its first version's
//! body); the copies it should have in other histories are looked for in their listings.
//!
//! - **rewritten**: a key with more than one version (or a delete marker): records are written once.
//! - **outside the key layout**: a name that is not `<time>_<action-slug>_<12 hex>.json` directly under the
//!   history's prefix; **not a record**: a body that is not an audit record.
//! - **hash mismatch**: the name's hash is not the SHA-256 of the stored body (see [`super::audit_key`]).
//! - **disagrees with its key**: the record's action or time is not the one its name says.
//! - **misplaced**: the record does not belong to this history (its own keys are elsewhere).
//! - **lost copy**: a record written under several histories is missing from one of them.
//! - **incomplete request**: a request's steps are not all there (see [`super::audit_steps`]).

use std::collections::BTreeSet;
use std::fmt;

use chrono::SecondsFormat;

use super::audit::{deactivation_marker_key, slug, AuditRecord, OWNERS_PREFIX};
use super::audit_key::{body_hash, format_time, parse_record_name, RecordName};
use super::audit_steps::incomplete_deactivations;
use super::audit_versions::{ObjectVersion, StoredKey};
use super::outcome::{NOTEBOOK_LOCKED, OWNER_DEACTIVATION_COMPLETED};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Rewritten { key: String, versions: Vec<ObjectVersion> },
    OutsideLayout { key: String, problem: String },
    NotARecord { key: String, problem: String },
    HashMismatch { key: String, named: String, hashed: String },
    DisagreesWithKey { key: String, part: &'static str, in_key: String, in_record: String },
    Misplaced { key: String, belongs_under: Vec<String> },
    LostCopy { key: String, copy: String },
    IncompleteRequest { request_id: String, missing: String },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Rewritten { key, versions } => {
                let listed: Vec<_> = versions
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let at = v.written_at.to_rfc3339_opts(SecondsFormat::Millis, true);
                        let what = match (i, v.delete_marker) {
                            (_, true) => " (delete marker)",
                            (0, false) => " (the record)",
                            _ => "",
                        };
                        format!("{} at {at}{what}", v.version_id)
                    })
                    .collect();
                write!(f, "rewritten: {key}: {} versions: {}", versions.len(), listed.join(", "))
            }
            Finding::OutsideLayout { key, problem } => write!(f, "outside the key layout: {key}: {problem}"),
            Finding::NotARecord { key, problem } => write!(f, "not a record: {key}: {problem}"),
            Finding::HashMismatch { key, named, hashed } => {
                write!(f, "hash mismatch: {key}: the name says {named}, the stored body hashes to {hashed}")
            }
            Finding::DisagreesWithKey { key, part, in_key, in_record } => {
                write!(f, "disagrees with its key: {key}: the key's {part} is {in_key}, the record's {in_record}")
            }
            Finding::Misplaced { key, belongs_under } => {
                write!(f, "misplaced: {key}: the record belongs under {}", belongs_under.join(", "))
            }
            Finding::LostCopy { key, copy } => write!(f, "lost copy: {key}: its copy {copy} is missing"),
            Finding::IncompleteRequest { request_id, missing } => {
                write!(f, "incomplete request {request_id}: {missing}")
            }
        }
    }
}

/// The outcome of verifying one history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Records read (keys whose first version is an audit record).
    pub records: usize,
    pub findings: Vec<Finding>,
}

/// A stored key that is a well-formed record of this history, or the finding that says why it is not.
struct Checked<'a> {
    key: &'a str,
    name: RecordName,
    raw_name: &'a str,
    record: AuditRecord,
}

fn check<'a>(prefix: &str, stored: &'a StoredKey, findings: &mut Vec<Finding>) -> Option<Checked<'a>> {
    let key = stored.versions.key.as_str();
    if stored.versions.rewritten() {
        findings.push(Finding::Rewritten { key: key.to_owned(), versions: stored.versions.versions.clone() });
    }
    let raw_name = key.strip_prefix(prefix).unwrap_or(key);
    let layout = |problem: String| Finding::OutsideLayout { key: key.to_owned(), problem };
    if raw_name.contains('/') {
        findings.push(layout(format!("not directly under {prefix}")));
        return None;
    }
    let name = match parse_record_name(raw_name) {
        Ok(name) => name,
        Err(problem) => {
            findings.push(layout(problem));
            return None;
        }
    };
    let Some(body) = &stored.first_body else {
        findings.push(Finding::NotARecord { key: key.to_owned(), problem: "only a delete marker".into() });
        return None;
    };
    let hashed = body_hash(body);
    if hashed != name.hash {
        findings.push(Finding::HashMismatch { key: key.to_owned(), named: name.hash.clone(), hashed });
    }
    let record = match serde_json::from_slice::<AuditRecord>(body) {
        Ok(record) => record,
        Err(e) => {
            findings.push(Finding::NotARecord { key: key.to_owned(), problem: e.to_string() });
            return None;
        }
    };
    Some(Checked { key, name, raw_name, record })
}

fn owner_of(prefix: &str) -> Option<&str> {
    prefix.strip_prefix(OWNERS_PREFIX)?.strip_suffix('/')
}

fn has_deactivation<'a>(mut records: impl Iterator<Item = &'a AuditRecord>) -> bool {
    records.any(|r| [NOTEBOOK_LOCKED, OWNER_DEACTIVATION_COMPLETED].contains(&r.action.as_str()))
}

/// What to list besides the history itself: the other histories its records are copied to, and, for an
/// owner whose history has a deactivation, the owner's deactivation marker. Each is one listing prefix.
pub fn listings_needed(prefix: &str, stored: &[StoredKey]) -> BTreeSet<String> {
    let mut ignored = Vec::new();
    let checked: Vec<_> = stored.iter().filter_map(|s| check(prefix, s, &mut ignored)).collect();
    let mut needed: BTreeSet<String> =
        checked.iter().flat_map(|c| c.record.history_prefixes()).filter(|p| p != prefix).collect();
    if let Some(owner) = owner_of(prefix).filter(|_| has_deactivation(checked.iter().map(|c| &c.record))) {
        needed.insert(deactivation_marker_key(owner));
    }
    needed
}

/// Verifies one history. `elsewhere` holds every key the listings of [`listings_needed`] found.
pub fn verify(prefix: &str, stored: &[StoredKey], elsewhere: &BTreeSet<String>) -> Verification {
    let mut findings = Vec::new();
    let mut records = Vec::new();
    for stored in stored {
        let Some(Checked { key, name, raw_name, record }) = check(prefix, stored, &mut findings) else { continue };
        let disagrees = |part, in_key: String, in_record: String| Finding::DisagreesWithKey {
            key: key.to_owned(),
            part,
            in_key,
            in_record,
        };
        if slug(&record.action) != name.slug {
            findings.push(disagrees("action", name.slug.clone(), format!("{:?}", record.action)));
        }
        if format_time(record.recorded_at) != format_time(name.recorded_at) {
            findings.push(disagrees(
                "time",
                name.recorded_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                record.recorded_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            ));
        }
        let belongs_under = record.history_prefixes();
        if !belongs_under.iter().any(|p| p == prefix) {
            findings.push(Finding::Misplaced { key: key.to_owned(), belongs_under });
        } else {
            for other in belongs_under.iter().filter(|p| *p != prefix) {
                let copy = format!("{other}{raw_name}");
                if !elsewhere.contains(&copy) {
                    findings.push(Finding::LostCopy { key: key.to_owned(), copy });
                }
            }
        }
        records.push(record);
    }
    if let Some(owner) = owner_of(prefix) {
        let marked = elsewhere.contains(&deactivation_marker_key(owner));
        findings.extend(
            incomplete_deactivations(&records, marked)
                .into_iter()
                .map(|i| Finding::IncompleteRequest { request_id: i.request_id, missing: i.missing }),
        );
    }
    Verification { records: records.len(), findings }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit_versions::tests::version;
    use crate::domain::audit_versions::KeyVersions;
    use chrono::{DateTime, TimeZone, Utc};
    use serde_json::json;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, second).single().expect("valid time")
    }

    fn record(action: &str, request_id: &str, notebook: Option<&str>, detail: serde_json::Value) -> AuditRecord {
        AuditRecord {
            recorded_at: at(0),
            action: action.into(),
            actor: "hr-system".into(),
            function: "provisioner".into(),
            request_id: Some(request_id.into()),
            notebook_name: notebook.map(str::to_owned),
            owner: Some("alice".into()),
            resource: None,
            reason: None,
            detail,
        }
    }

    fn provisioned() -> AuditRecord {
        record("Notebook Provisioned", "p1", Some("alice-nb"), json!({}))
    }

    /// The record stored as the provisioner stores it, under the key of `prefix`.
    fn stored(record: &AuditRecord, prefix: &str) -> StoredKey {
        let key = record.keys().into_iter().find(|k| k.starts_with(prefix)).expect("a key under the prefix");
        StoredKey {
            versions: KeyVersions { key, versions: vec![version("v1", 0, false)] },
            first_body: Some(record.body()),
        }
    }

    fn every_copy(records: &[AuditRecord]) -> BTreeSet<String> {
        records.iter().flat_map(AuditRecord::keys).collect()
    }

    const OWNER: &str = "owners/alice/";
    const NOTEBOOK: &str = "notebooks/alice-nb/";

    #[test]
    fn an_untouched_history_has_no_finding() {
        let records = [
            provisioned(),
            record(NOTEBOOK_LOCKED, "d1", Some("alice-nb"), json!({})),
            record(OWNER_DEACTIVATION_COMPLETED, "d1", None, json!({"notebooks": ["alice-nb"]})),
        ];
        let history: Vec<_> = records.iter().map(|r| stored(r, OWNER)).collect();
        let mut elsewhere = every_copy(&records);
        elsewhere.insert("deactivated-owners/alice.json".into());
        assert_eq!(verify(OWNER, &history, &elsewhere), Verification { records: 3, findings: vec![] });
        let needed = listings_needed(OWNER, &history);
        assert_eq!(needed, BTreeSet::from([NOTEBOOK.to_owned(), "deactivated-owners/alice.json".to_owned()]));
    }

    #[test]
    fn a_second_version_is_a_rewrite_that_names_every_version() {
        let mut key = stored(&provisioned(), NOTEBOOK);
        key.versions.versions.push(version("v2", 7, false));
        key.versions.versions.push(version("v3", 9, true));
        let found = verify(NOTEBOOK, &[key.clone()], &every_copy(&[provisioned()])).findings;
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(matches!(&found[0], Finding::Rewritten { key: k, .. } if *k == key.versions.key));
        assert_eq!(
            found[0].to_string(),
            format!(
                "rewritten: {}: 3 versions: v1 at 2026-11-23T09:00:00.000Z (the record), v2 at 2026-11-23T09:00:07.000Z, \
                 v3 at 2026-11-23T09:00:09.000Z (delete marker)",
                key.versions.key
            )
        );
    }

    #[test]
    fn names_outside_the_layout_and_keys_below_the_history_are_findings() {
        let mut odd = stored(&provisioned(), NOTEBOOK);
        odd.versions.key = format!("{NOTEBOOK}notes.json");
        let mut deeper = stored(&provisioned(), NOTEBOOK);
        deeper.versions.key = format!("{NOTEBOOK}sub/{}", deeper.versions.key.trim_start_matches(NOTEBOOK));
        let found = verify(NOTEBOOK, &[odd, deeper], &BTreeSet::new());
        assert_eq!(found.records, 0);
        let lines: Vec<_> = found.findings.iter().map(Finding::to_string).collect();
        assert!(
            lines[0].starts_with(
                "outside the key layout: notebooks/alice-nb/notes.json: not <time>_<action>_<12 hex>.json"
            ),
            "{lines:?}"
        );
        assert!(lines[1].ends_with("not directly under notebooks/alice-nb/"), "{lines:?}");
    }

    #[test]
    fn a_body_that_is_not_a_record_or_only_a_delete_marker_is_a_finding() {
        let mut junk = stored(&provisioned(), NOTEBOOK);
        let body = b"not json".to_vec();
        let name = crate::domain::audit_key::record_name(at(0), "notebook-provisioned", &body);
        junk.versions.key = format!("{NOTEBOOK}{name}");
        junk.first_body = Some(body);
        let mut marker_only = stored(&provisioned(), NOTEBOOK);
        marker_only.versions.versions = vec![version("d1", 0, true)];
        marker_only.first_body = None;
        let found = verify(NOTEBOOK, &[junk, marker_only], &BTreeSet::new()).findings;
        assert!(matches!(&found[0], Finding::NotARecord { problem, .. } if problem.contains("expected")), "{found:?}");
        assert!(
            matches!(&found[1], Finding::NotARecord { problem, .. } if problem == "only a delete marker"),
            "{found:?}"
        );
        assert_eq!(found.len(), 2, "no other finding: the hash of the junk body matches its name");
    }

    #[test]
    fn a_body_that_does_not_hash_to_its_name_is_a_mismatch() {
        let original = provisioned();
        let mut changed = stored(&original, NOTEBOOK);
        let mut edited = original.clone();
        edited.reason = Some("edited".into());
        changed.first_body = Some(edited.body());
        let found = verify(NOTEBOOK, &[changed.clone()], &every_copy(&[original])).findings;
        assert_eq!(
            found,
            [Finding::HashMismatch {
                key: changed.versions.key.clone(),
                named: changed.versions.key[changed.versions.key.len() - 17..][..12].to_owned(),
                hashed: body_hash(&edited.body()),
            }]
        );
        assert!(found[0]
            .to_string()
            .starts_with("hash mismatch: notebooks/alice-nb/20261123T090000.000Z_notebook-provisioned_"));
    }

    #[test]
    fn a_record_whose_action_or_time_is_not_its_keys_disagrees_with_it() {
        let original = provisioned();
        let mut other_action = original.clone();
        other_action.action = "Notebook Stopped".into();
        let mut other_time = original.clone();
        other_time.recorded_at = at(30);
        let under_original_name = |record: &AuditRecord| {
            let body = record.body();
            let name = crate::domain::audit_key::record_name(original.recorded_at, &slug(&original.action), &body);
            StoredKey {
                versions: KeyVersions { key: format!("{NOTEBOOK}{name}"), versions: vec![version("v1", 0, false)] },
                first_body: Some(body),
            }
        };
        let stored = [under_original_name(&other_action), under_original_name(&other_time)];
        let copies: BTreeSet<String> = stored.iter().map(|s| s.versions.key.replace(NOTEBOOK, OWNER)).collect();
        let found = verify(NOTEBOOK, &stored, &copies).findings;
        let parts: Vec<_> = found
            .iter()
            .map(|f| match f {
                Finding::DisagreesWithKey { part, in_key, in_record, .. } => {
                    (*part, in_key.as_str(), in_record.as_str())
                }
                other => panic!("unexpected {other}"),
            })
            .collect();
        assert_eq!(
            parts,
            [
                ("action", "notebook-provisioned", "\"Notebook Stopped\""),
                ("time", "2026-11-23T09:00:00.000Z", "2026-11-23T09:00:30.000Z")
            ]
        );
    }

    #[test]
    fn a_record_of_another_history_is_misplaced() {
        let bobs = AuditRecord { owner: Some("bob".into()), notebook_name: Some("bob-nb".into()), ..provisioned() };
        let name = bobs.keys()[0].rsplit('/').next().expect("name").to_owned();
        let planted = StoredKey {
            versions: KeyVersions { key: format!("{OWNER}{name}"), versions: vec![version("v1", 0, false)] },
            first_body: Some(bobs.body()),
        };
        let found = verify(OWNER, &[planted], &every_copy(&[bobs])).findings;
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].to_string(),
            format!("misplaced: {OWNER}{name}: the record belongs under notebooks/bob-nb/, owners/bob/")
        );
    }

    #[test]
    fn a_copy_missing_from_another_history_is_lost() {
        let record = provisioned();
        let keys = record.keys();
        let found = verify(OWNER, &[stored(&record, OWNER)], &BTreeSet::new()).findings;
        assert_eq!(found, [Finding::LostCopy { key: keys[1].clone(), copy: keys[0].clone() }]);
        assert_eq!(found[0].to_string(), format!("lost copy: {}: its copy {} is missing", keys[1], keys[0]));
        assert_eq!(listings_needed(OWNER, &[stored(&record, OWNER)]), BTreeSet::from([NOTEBOOK.to_owned()]));
    }

    #[test]
    fn a_custodian_grant_needs_its_copy_in_the_deactivated_owners_history() {
        let grant = AuditRecord {
            action: "Custodian Access Granted".into(),
            owner: Some("carol".into()),
            notebook_name: Some("carol-nb".into()),
            detail: json!({"deactivated_owner": "alice"}),
            ..provisioned()
        };
        let prefix = "notebooks/carol-nb/";
        let history = [stored(&grant, prefix)];
        assert_eq!(
            listings_needed(prefix, &history),
            BTreeSet::from(["owners/alice/".to_owned(), "owners/carol/".to_owned()])
        );
        let mut copies = every_copy(std::slice::from_ref(&grant));
        let alices = copies.iter().find(|k| k.starts_with(OWNER)).cloned().expect("alice's copy");
        copies.remove(&alices);
        let found = verify(prefix, &history, &copies).findings;
        assert_eq!(found, [Finding::LostCopy { key: history[0].versions.key.clone(), copy: alices }]);
    }

    #[test]
    fn an_owner_history_with_a_half_written_deactivation_has_an_incomplete_request() {
        let records = [record(NOTEBOOK_LOCKED, "d1", Some("alice-nb"), json!({}))];
        let history: Vec<_> = records.iter().map(|r| stored(r, OWNER)).collect();
        let found = verify(OWNER, &history, &every_copy(&records)).findings;
        assert_eq!(
            found.iter().map(Finding::to_string).collect::<Vec<_>>(),
            ["incomplete request d1: Notebook Locked of alice-nb without Owner Deactivation Completed; \
              no deactivation marker for the owner"]
        );
        // The summary is written under the owner alone: a notebook's history cannot tell.
        let in_notebook: Vec<_> = records.iter().map(|r| stored(r, NOTEBOOK)).collect();
        assert_eq!(verify(NOTEBOOK, &in_notebook, &every_copy(&records)).findings, Vec::<Finding>::new());
    }
}
