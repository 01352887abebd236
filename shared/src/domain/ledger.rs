//! The request ledger: exactly one outcome per request, however often and however concurrently it is
//! delivered. Under `ledger/<request-kind>/<request id>/` in the audit bucket, two keys, each written once
//! (`If-None-Match: *`, Object Lock keeps them):
//! - `answer.json`, the claim: the outcome's audit record, written by the first delivery that has an answer.
//!   A delivery whose claim is refused answered nothing of its own: it answers the claimed outcome;
//! - `published.json`, written after the claimed outcome's audit records and its event are out.
//!
//! A later delivery reads the prefix (one version listing) before doing anything: answered and published, it
//! answers the first outcome again and publishes nothing; claimed but not published, the first delivery is
//! still at work (it is waited for) or died after its claim (then, once the claim is older than any
//! invocation can run, this delivery finishes the publishing). The request id is never acted on twice, also
//! after its notebook was deleted, or for another notebook name.
//!
//! Only requests that passed the sender check and parsed are in the ledger: a forged or malformed event
//! cannot take a request id from the sender it belongs to.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::audit::slug;
use super::audit_versions::KeyVersions;

pub const LEDGER_PREFIX: &str = "ledger/";
const ANSWER: &str = "answer.json";
const PUBLISHED: &str = "published.json";

/// A claim older than this belongs to a delivery that cannot still be running: the provisioner's function
/// timeout (120 s in the template) and 30 s for clocks. Lambda retries a failed delivery about 1 and 3
/// minutes after the failure (`MaximumRetryAttempts: 2`), so the second retry at the latest takes over. The
/// deploy rehearsal holds the template to both bounds.
pub const TAKEOVER_AFTER: Duration = Duration::from_secs(150);

/// Where one request's ledger entry lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub prefix: String,
}

impl LedgerEntry {
    /// The entry of a request of `detail_type` with a validated `request_id`.
    pub fn new(detail_type: &str, request_id: &str) -> Self {
        LedgerEntry { prefix: format!("{LEDGER_PREFIX}{}/{request_id}/", slug(detail_type)) }
    }

    pub fn answer_key(&self) -> String {
        format!("{}{ANSWER}", self.prefix)
    }

    pub fn published_key(&self) -> String {
        format!("{}{PUBLISHED}", self.prefix)
    }

    /// What the listing of the entry's prefix says.
    pub fn state(&self, listed: &[KeyVersions]) -> LedgerState {
        let find = |key: String| listed.iter().find(|k| k.key == key).and_then(|k| k.first().cloned());
        match (find(self.answer_key()), find(self.published_key())) {
            (None, _) => LedgerState::Unclaimed,
            (Some(answer), Some(_)) => LedgerState::Published { answer_version: answer.version_id },
            (Some(answer), None) => {
                LedgerState::Claimed { answer_version: answer.version_id, claimed_at: answer.written_at }
            }
        }
    }
}

/// Where a request stands in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerState {
    /// No delivery has answered it yet.
    Unclaimed,
    /// A delivery answered it and may still be publishing.
    Claimed { answer_version: String, claimed_at: DateTime<Utc> },
    /// Answered and published: a redelivery answers again and publishes nothing.
    Published { answer_version: String },
}

/// What a delivery that finds a claim without its publication does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpublished {
    /// The claiming delivery may still be running: wait for it.
    Wait,
    /// The claiming delivery is gone: publish its answer.
    TakeOver,
}

/// A claim made at `claimed_at`, unpublished at `now`.
pub fn unpublished(claimed_at: DateTime<Utc>, now: DateTime<Utc>) -> Unpublished {
    let age = (now - claimed_at).to_std().unwrap_or(Duration::ZERO);
    if age > TAKEOVER_AFTER {
        Unpublished::TakeOver
    } else {
        Unpublished::Wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit_versions::ObjectVersion;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).single().expect("valid") + chrono::Duration::seconds(seconds)
    }

    fn listed(key: String, version: &str, written: i64) -> KeyVersions {
        KeyVersions {
            key,
            versions: vec![ObjectVersion { version_id: version.into(), written_at: at(written), delete_marker: false }],
        }
    }

    #[test]
    fn an_entry_is_per_request_kind_and_id() {
        let entry = LedgerEntry::new("Notebook Requested", "req-1");
        assert_eq!(entry.answer_key(), "ledger/notebook-requested/req-1/answer.json");
        assert_eq!(entry.published_key(), "ledger/notebook-requested/req-1/published.json");
        assert_ne!(LedgerEntry::new("Notebook Stop Requested", "req-1"), entry);
    }

    #[test]
    fn the_listing_says_unclaimed_claimed_or_published() {
        let entry = LedgerEntry::new("Notebook Requested", "req-1");
        assert_eq!(entry.state(&[]), LedgerState::Unclaimed);
        let answer = listed(entry.answer_key(), "v1", 0);
        assert_eq!(
            entry.state(std::slice::from_ref(&answer)),
            LedgerState::Claimed { answer_version: "v1".into(), claimed_at: at(0) }
        );
        let published = listed(entry.published_key(), "p1", 1);
        assert_eq!(entry.state(&[answer, published.clone()]), LedgerState::Published { answer_version: "v1".into() });
        assert_eq!(entry.state(&[published]), LedgerState::Unclaimed, "a publication without an answer claims nothing");
    }

    #[test]
    fn an_unpublished_claim_is_waited_for_until_no_invocation_can_still_hold_it() {
        assert_eq!(unpublished(at(0), at(1)), Unpublished::Wait);
        assert_eq!(unpublished(at(0), at(150)), Unpublished::Wait);
        assert_eq!(unpublished(at(0), at(151)), Unpublished::TakeOver);
        assert_eq!(unpublished(at(10), at(0)), Unpublished::Wait, "a claim from the future (clock skew) is waited for");
    }
}
