//! The name of an audit record's key: `<time>_<action-slug>_<hash>.json`, where the time is the record's
//! `recorded_at` (`20261123T093000.000Z`), the slug its action (`notebook-locked`) and the hash the first 12
//! hex digits of the SHA-256 of the stored body (the record serialised as written). Every part can be
//! recomputed from the stored body, so a key that disagrees with its body is a finding.

use chrono::{DateTime, NaiveDateTime, Utc};
use sha2::{Digest, Sha256};

use super::names::hex;

const TIME_FORMAT: &str = "%Y%m%dT%H%M%S%.3fZ";
/// `20261123T093000.000Z`.
const TIME_LEN: usize = 20;
pub const HASH_LEN: usize = 12;
const SUFFIX: &str = ".json";

/// The parts of a well-formed record name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordName {
    pub recorded_at: DateTime<Utc>,
    pub slug: String,
    pub hash: String,
}

/// The name a record with this time, action and stored body is written under.
pub fn record_name(recorded_at: DateTime<Utc>, action_slug: &str, body: &[u8]) -> String {
    format!("{}_{action_slug}_{}{SUFFIX}", format_time(recorded_at), body_hash(body))
}

/// The hash part of a name: the first 12 hex digits of the body's SHA-256.
pub fn body_hash(body: &[u8]) -> String {
    hex(&Sha256::digest(body))[..HASH_LEN].to_owned()
}

/// The time part of a name.
pub fn format_time(at: DateTime<Utc>) -> String {
    at.format(TIME_FORMAT).to_string()
}

/// The time part of a name, parsed back (`20261123T093000.000Z`).
pub fn parse_time(time: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(time, TIME_FORMAT).ok().filter(|_| time.len() == TIME_LEN).map(|t| t.and_utc())
}

/// Parses the last path segment of a key; the error says what does not fit the layout.
pub fn parse_record_name(name: &str) -> Result<RecordName, String> {
    const LAYOUT: &str = "not <time>_<action>_<12 hex>.json";
    let stem = name.strip_suffix(SUFFIX).ok_or_else(|| format!("{LAYOUT}: no {SUFFIX} suffix"))?;
    let mut parts = stem.split('_');
    let (Some(time), Some(slug), Some(hash), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(format!("{LAYOUT}: not three parts separated by '_'"));
    };
    let recorded_at =
        parse_time(time).ok_or_else(|| format!("{LAYOUT}: {time:?} is not a time like 20261123T093000.000Z"))?;
    let slug_ok = !slug.is_empty()
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !slug_ok {
        return Err(format!("{LAYOUT}: {slug:?} is not an action slug"));
    }
    if hash.len() != HASH_LEN || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(format!("{LAYOUT}: {hash:?} is not 12 lower-case hex digits"));
    }
    Ok(RecordName { recorded_at, slug: slug.to_owned(), hash: hash.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 0).single().expect("valid time") + chrono::Duration::milliseconds(250)
    }

    #[test]
    fn a_name_parses_back_into_its_parts() {
        let name = record_name(at(), "notebook-locked", b"{}");
        assert_eq!(name, format!("20261123T093000.250Z_notebook-locked_{}.json", body_hash(b"{}")));
        let parsed = parse_record_name(&name).expect("well-formed");
        assert_eq!(parsed, RecordName { recorded_at: at(), slug: "notebook-locked".into(), hash: body_hash(b"{}") });
    }

    #[test]
    fn the_hash_is_the_first_twelve_hex_digits_of_the_bodys_sha256() {
        // sha256("") = e3b0c44298fc1c149afbf4c8996fb924…
        assert_eq!(body_hash(b""), "e3b0c44298fc");
        assert_ne!(body_hash(b"{\"a\":1}"), body_hash(b"{\"a\":2}"));
    }

    #[test]
    fn names_outside_the_layout_are_refused_with_the_reason() {
        let cases = [
            ("20261123T093000.000Z_notebook-locked_0123456789ab.txt", "suffix"),
            ("20261123T093000.000Z_notebook-locked.json", "three parts"),
            ("20261123T093000.000Z_notebook_locked_0123456789ab.json", "three parts"),
            ("2026-11-23_notebook-locked_0123456789ab.json", "not a time"),
            ("20261123T093000Z_notebook-locked_0123456789ab.json", "not a time"),
            ("20261323T093000.000Z_notebook-locked_0123456789ab.json", "not a time"),
            ("20261123T093000.000Z__0123456789ab.json", "not an action slug"),
            ("20261123T093000.000Z_Notebook-Locked_0123456789ab.json", "not an action slug"),
            ("20261123T093000.000Z_notebook--locked_0123456789ab.json", "not an action slug"),
            ("20261123T093000.000Z_-locked_0123456789ab.json", "not an action slug"),
            ("20261123T093000.000Z_notebook-locked_0123456789a.json", "12 lower-case hex"),
            ("20261123T093000.000Z_notebook-locked_0123456789AB.json", "12 lower-case hex"),
            ("20261123T093000.000Z_notebook-locked_0123456789xy.json", "12 lower-case hex"),
        ];
        for (name, why) in cases {
            let problem = parse_record_name(name).expect_err(name);
            assert!(problem.contains(why), "{name}: {problem}");
        }
    }
}
