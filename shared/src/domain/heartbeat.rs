//! Heartbeats in the assets bucket: `heartbeats/<notebook>` written by the agent on activity, and
//! `heartbeats/<notebook>.warned` written by the sweeper when it warns. Notebook names cannot contain a
//! '.', so the two never collide, and one listing of the prefix reads both for the whole fleet.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::policy::HEARTBEATS_PREFIX;

const WARNED_SUFFIX: &str = ".warned";

pub fn heartbeat_key(notebook_name: &str) -> String {
    format!("{HEARTBEATS_PREFIX}{notebook_name}")
}

pub fn warning_key(notebook_name: &str) -> String {
    format!("{HEARTBEATS_PREFIX}{notebook_name}{WARNED_SUFFIX}")
}

/// The fleet's heartbeats and warnings, by notebook name, from one listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeartbeatIndex {
    pub beats: HashMap<String, DateTime<Utc>>,
    pub warnings: HashMap<String, DateTime<Utc>>,
}

impl HeartbeatIndex {
    /// Files one listed object; keys that are neither a heartbeat nor a warning are ignored.
    pub fn record(&mut self, key: &str, last_modified: DateTime<Utc>) {
        let Some(rest) = key.strip_prefix(HEARTBEATS_PREFIX) else { return };
        let (name, map) = match rest.strip_suffix(WARNED_SUFFIX) {
            Some(name) => (name, &mut self.warnings),
            None => (rest, &mut self.beats),
        };
        if !name.is_empty() && !name.contains('/') && !name.contains('.') {
            map.insert(name.to_owned(), last_modified);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_listing_files_beats_and_warnings() {
        let t = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let mut index = HeartbeatIndex::default();
        for key in [
            heartbeat_key("nb-1"),
            warning_key("nb-1"),
            heartbeat_key("nb-2"),
            "heartbeats/".into(),
            "heartbeats/x/y".into(),
            "assets/a".into(),
        ] {
            index.record(&key, t);
        }
        assert_eq!(index.beats.len(), 2);
        assert_eq!(index.warnings.keys().collect::<Vec<_>>(), ["nb-1"]);
    }
}
