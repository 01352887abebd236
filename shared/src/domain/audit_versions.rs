//! The versions of the audit bucket's keys. The bucket is versioned and records are written only if the key
//! does not exist, so a record's key has exactly one version: the record is its first version, and any
//! later version (or delete marker) is a rewrite by someone with write access to the bucket. Readers take
//! the first version and report the key as tampered; they never pick the newest.

use chrono::{DateTime, Utc};

use super::audit::AuditRecord;

/// One version of a key, as a versions listing reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    pub version_id: String,
    pub written_at: DateTime<Utc>,
    /// A delete marker: the key looks deleted to a reader of the newest version.
    pub delete_marker: bool,
}

/// A key and every version of it, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVersions {
    pub key: String,
    pub versions: Vec<ObjectVersion>,
}

impl KeyVersions {
    /// The version that is the record: the oldest that is not a delete marker.
    pub fn first(&self) -> Option<&ObjectVersion> {
        self.versions.iter().find(|v| !v.delete_marker)
    }

    /// More than one version: the key was written again (or marked deleted) after its record.
    pub fn rewritten(&self) -> bool {
        self.versions.len() > 1
    }
}

/// Groups the entries of a versions listing by key, in key order, each key's versions oldest first. S3 lists
/// a key's versions newest first (its times have whole seconds only, so the order is what tells versions of
/// the same second apart) and its delete markers apart: entries are ordered by time, and entries of the same
/// time keep the reverse of their listing order.
pub fn group_versions(listed: impl IntoIterator<Item = (String, ObjectVersion)>) -> Vec<KeyVersions> {
    let mut by_key: std::collections::BTreeMap<String, Vec<ObjectVersion>> = std::collections::BTreeMap::new();
    for (key, version) in listed {
        by_key.entry(key).or_default().push(version);
    }
    by_key
        .into_iter()
        .map(|(key, mut versions)| {
            versions.reverse();
            versions.sort_by_key(|v| v.written_at);
            KeyVersions { key, versions }
        })
        .collect()
}

/// A key under a prefix and the body of its first version (`None` when it has none: only delete markers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub versions: KeyVersions,
    pub first_body: Option<Vec<u8>>,
}

/// One history as readers see it: the records (first versions, oldest first), the keys that were rewritten
/// (their first version is still in `records`), and the keys whose first version is not an audit record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub records: Vec<AuditRecord>,
    pub tampered: Vec<KeyVersions>,
    /// Key and why its body is not a record.
    pub unreadable: Vec<(String, String)>,
}

impl History {
    /// Reads the stored keys of one prefix.
    pub fn of(stored: &[StoredKey]) -> History {
        let mut history = History::default();
        for key in stored {
            if key.versions.rewritten() {
                history.tampered.push(key.versions.clone());
            }
            let Some(body) = &key.first_body else { continue };
            match serde_json::from_slice::<AuditRecord>(body) {
                Ok(record) => history.records.push(record),
                Err(e) => history.unreadable.push((key.versions.key.clone(), format!("not an audit record: {e}"))),
            }
        }
        history.records.sort_by_key(|r| r.recorded_at);
        history
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(crate) fn version(id: &str, second: u32, delete_marker: bool) -> ObjectVersion {
        ObjectVersion {
            version_id: id.into(),
            written_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, second).single().expect("valid time"),
            delete_marker,
        }
    }

    #[test]
    fn versions_are_grouped_by_key_oldest_first() {
        // As S3 lists them: per key newest first, delete markers in a list of their own.
        let listed = [
            ("b".to_owned(), version("b2", 5, false)),
            ("b".to_owned(), version("b1", 1, false)),
            ("a".to_owned(), version("a1", 2, false)),
            ("b".to_owned(), version("b3", 9, true)),
        ];
        let grouped = group_versions(listed);
        assert_eq!(grouped.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let ids: Vec<_> = grouped[1].versions.iter().map(|v| v.version_id.as_str()).collect();
        assert_eq!(ids, ["b1", "b2", "b3"]);
        assert_eq!(grouped[1].first().map(|v| v.version_id.as_str()), Some("b1"));
        assert!(grouped[1].rewritten() && !grouped[0].rewritten());
    }

    #[test]
    fn versions_of_the_same_time_keep_the_reverse_of_their_listing_order() {
        let grouped =
            group_versions([("k".to_owned(), version("new", 1, false)), ("k".to_owned(), version("old", 1, false))]);
        assert_eq!(grouped[0].first().map(|v| v.version_id.as_str()), Some("old"));
    }

    #[test]
    fn the_first_version_is_never_a_delete_marker() {
        let key = KeyVersions { key: "k".into(), versions: vec![version("d", 1, true), version("v", 2, false)] };
        assert_eq!(key.first().map(|v| v.version_id.as_str()), Some("v"));
        let only_marker = KeyVersions { key: "k".into(), versions: vec![version("d", 1, true)] };
        assert_eq!(only_marker.first(), None);
    }

    #[test]
    fn a_history_reads_first_versions_and_reports_rewritten_and_unreadable_keys() {
        let record = |action: &str, second: u32| AuditRecord {
            recorded_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, second).single().expect("valid time"),
            action: action.into(),
            actor: "hr".into(),
            function: "provisioner".into(),
            request_id: None,
            notebook_name: None,
            owner: Some("alice".into()),
            resource: None,
            reason: None,
            detail: serde_json::json!({}),
        };
        let stored = [
            StoredKey {
                versions: KeyVersions { key: "owners/alice/late".into(), versions: vec![version("1", 1, false)] },
                first_body: Some(record("Notebook Locked", 30).body()),
            },
            StoredKey {
                versions: KeyVersions {
                    key: "owners/alice/early".into(),
                    versions: vec![version("1", 1, false), version("2", 2, false)],
                },
                first_body: Some(record("Notebook Provisioned", 10).body()),
            },
            StoredKey {
                versions: KeyVersions { key: "owners/alice/junk".into(), versions: vec![version("1", 1, false)] },
                first_body: Some(b"{}".to_vec()),
            },
            StoredKey {
                versions: KeyVersions { key: "owners/alice/marker".into(), versions: vec![version("1", 1, true)] },
                first_body: None,
            },
        ];
        let history = History::of(&stored);
        let actions: Vec<_> = history.records.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(actions, ["Notebook Provisioned", "Notebook Locked"], "first versions, oldest first");
        assert_eq!(history.tampered.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(), ["owners/alice/early"]);
        assert_eq!(history.unreadable.len(), 1);
        assert_eq!(history.unreadable[0].0, "owners/alice/junk");
    }
}
