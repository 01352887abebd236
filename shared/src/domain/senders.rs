//! Who may send which request: each request `detail-type` is accepted only from the event `source`s the
//! platform named for it. The bus's resource policy enforces the same map on the sender's principal and
//! source; this is the second fence, in the provisioner, on every event. A kind with no source is accepted
//! from nobody (deny by default).

use std::collections::{BTreeMap, BTreeSet};

use super::request::REQUEST_DETAIL_TYPES;
use super::validation::Rejection;

/// `detail-type` → the sources that may send it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestSenders {
    sources: BTreeMap<String, BTreeSet<String>>,
}

impl RequestSenders {
    /// Parses `Notebook Requested=com.example.portal,Owner Deactivated=com.example.idp,…`: one pair per
    /// accepted (detail-type, source); a detail-type may appear more than once. A pair with an empty source
    /// accepts nobody (the template writes one for every kind, empty when its sender is not configured).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut sources: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (detail_type, source) =
                pair.split_once('=').ok_or_else(|| format!("{pair:?} is not detail-type=source"))?;
            let (detail_type, source) = (detail_type.trim(), source.trim());
            if !REQUEST_DETAIL_TYPES.contains(&detail_type) {
                return Err(format!("{detail_type:?} is not a request; expected one of {REQUEST_DETAIL_TYPES:?}"));
            }
            if source.is_empty() {
                sources.entry(detail_type.to_owned()).or_default();
                continue;
            }
            validate_source(source).map_err(|reason| format!("{detail_type}: source {source:?} {reason}"))?;
            sources.entry(detail_type.to_owned()).or_default().insert(source.to_owned());
        }
        Ok(RequestSenders { sources })
    }

    /// The sources that may send `detail_type`.
    pub fn sources_of(&self, detail_type: &str) -> impl Iterator<Item = &str> {
        self.sources.get(detail_type).into_iter().flatten().map(String::as_str)
    }

    /// The fleet's own outcome source can never send a request, whatever the map says.
    pub fn without(mut self, source: &str) -> Self {
        for sources in self.sources.values_mut() {
            sources.remove(source);
        }
        self
    }

    /// Accepts the event only if its source is one named for its detail-type; otherwise says who may send it.
    pub fn check(&self, detail_type: &str, source: &str) -> Result<(), Rejection> {
        if self.sources_of(detail_type).any(|s| s == source) {
            return Ok(());
        }
        let allowed: Vec<&str> = self.sources_of(detail_type).collect();
        let reason = if allowed.is_empty() {
            format!(
                "no sender is configured for {detail_type:?}, so it is refused from every source; the platform \
                 team names its sender in the stack parameters (see the deploy guide, \"Who may send which request\")"
            )
        } else {
            format!(
                "{detail_type:?} is accepted only from source {}; {source:?} may not send it",
                allowed.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(" or ")
            )
        };
        Err(Rejection::single("source", reason))
    }
}

/// EventBridge's rule for a `source`: 1–256 characters, no control characters; we also refuse spaces and
/// commas, which the map's text form cannot carry.
fn validate_source(source: &str) -> Result<(), String> {
    if source.len() > 256 {
        return Err("is longer than 256 characters".into());
    }
    match source.chars().find(|c| c.is_control() || c.is_whitespace() || *c == ',' || *c == '=') {
        Some(c) => Err(format!("contains {c:?}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::request::{NOTEBOOK_REQUESTED, OWNER_DEACTIVATED};

    #[test]
    fn each_kind_is_accepted_only_from_its_sources() {
        let senders = RequestSenders::parse("Notebook Requested=com.example.portal, Owner Deactivated=com.example.idp")
            .expect("valid");
        assert_eq!(senders.check(NOTEBOOK_REQUESTED, "com.example.portal"), Ok(()));
        assert_eq!(senders.check(OWNER_DEACTIVATED, "com.example.idp"), Ok(()));
        let refused = senders.check(OWNER_DEACTIVATED, "com.example.portal").expect_err("wrong source");
        assert_eq!(refused.problems[0].field, "source");
        assert!(refused.summary().contains("\"com.example.idp\""), "{}", refused.summary());
    }

    #[test]
    fn an_empty_map_or_an_empty_source_refuses_everything() {
        for text in ["", "Notebook Requested=", " , "] {
            let senders = RequestSenders::parse(text).expect("valid");
            let refused = senders.check(NOTEBOOK_REQUESTED, "com.example.portal").expect_err("nobody");
            assert!(refused.summary().contains("no sender is configured"), "{}", refused.summary());
        }
    }

    #[test]
    fn a_kind_may_have_several_sources_and_the_fleet_source_never_counts() {
        let senders = RequestSenders::parse(
            "Notebook Requested=com.example.portal,Notebook Requested=notebook-fleet,Notebook Requested=cli",
        )
        .expect("valid")
        .without("notebook-fleet");
        assert_eq!(senders.check(NOTEBOOK_REQUESTED, "cli"), Ok(()));
        assert!(senders.check(NOTEBOOK_REQUESTED, "notebook-fleet").is_err());
    }

    #[test]
    fn malformed_maps_are_refused_with_the_pair_at_fault() {
        for (text, expected) in [
            ("Notebook Requested", "not detail-type=source"),
            ("Notebook Exploded=x", "is not a request"),
            ("Notebook Requested=a b", "contains ' '"),
        ] {
            let error = RequestSenders::parse(text).expect_err(text);
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
