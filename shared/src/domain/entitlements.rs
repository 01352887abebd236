//! Entitlements: which data a team's notebooks may get. A platform-owned JSON document, never the request
//! alone, decides it:
//!
//! ```json
//! {
//!   "version": 1,
//!   "rules": [
//!     {"team": "risk", "bucket": "team-data", "prefix": "risk/{owner}/", "access": "read-write"},
//!     {"team": "risk", "bucket": "shared-data", "prefix": "reference/", "access": "read"}
//!   ],
//!   "kms_keys": [{"bucket": "team-data", "key_arn": "arn:aws:kms:eu-west-1:111122223333:key/…"}]
//! }
//! ```
//!
//! A rule grants its team every folder inside its prefix (after `{owner}` and `{team}` are replaced by the
//! request's), up to its access level. A prefix template names a folder: it ends with `/`, a placeholder is a
//! whole path segment, and it holds no wildcard. A bucket encrypted with a customer-managed KMS key names the
//! key, so that the notebook role may use it (through S3 only). The document is read and checked once when
//! the provisioner starts; every error names its line and field.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;

use super::request::{AccessLevel, DataAccess};
use super::types::{BucketName, Prefix, Principal};
use super::validation::{Problem, Rejection};

pub const ENTITLEMENTS_VERSION: u32 = 1;
const OWNER_PLACEHOLDER: &str = "{owner}";
const TEAM_PLACEHOLDER: &str = "{team}";

/// The checked document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entitlements {
    rules: Vec<EntitlementRule>,
    /// bucket → the customer-managed KMS key its objects are encrypted with.
    kms_keys: BTreeMap<String, String>,
}

/// One rule: a team may get folders inside `prefix` of `bucket`, at most at `access`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitlementRule {
    #[serde(deserialize_with = "principal")]
    pub team: String,
    #[serde(deserialize_with = "bucket")]
    pub bucket: String,
    #[serde(deserialize_with = "prefix_template")]
    pub prefix: String,
    pub access: AccessLevel,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    version: u32,
    rules: Vec<EntitlementRule>,
    #[serde(default)]
    kms_keys: Vec<KmsKey>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KmsKey {
    #[serde(deserialize_with = "bucket")]
    bucket: String,
    #[serde(deserialize_with = "key_arn")]
    key_arn: String,
}

/// What is wrong with the document, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct EntitlementsError {
    /// 1-based line of the document; 0 when the problem is the whole document.
    pub line: usize,
    /// The field, as a path (`rules[2].prefix`).
    pub field: String,
    pub reason: String,
}

impl fmt::Display for EntitlementsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, {}: {}", self.line, self.field, self.reason)
    }
}

impl Entitlements {
    /// Parses and checks the document against the data perimeter (`data_buckets`) and the assets bucket.
    pub fn parse(
        text: &str,
        data_buckets: &BTreeSet<BucketName>,
        assets_bucket: &str,
    ) -> Result<Self, EntitlementsError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let document: Document = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            EntitlementsError {
                line: inner.line(),
                field: if path == "." { "document".into() } else { path },
                reason: strip_position(&inner.to_string()),
            }
        })?;
        let at = |array: &str, index: usize, field: &str, reason: String| EntitlementsError {
            line: line_of_element(text, array, index),
            field: format!("{array}[{index}].{field}"),
            reason,
        };
        if document.version != ENTITLEMENTS_VERSION {
            return Err(EntitlementsError {
                line: 1,
                field: "version".into(),
                reason: format!(
                    "{} is not supported; this provisioner reads version {ENTITLEMENTS_VERSION}",
                    document.version
                ),
            });
        }
        let in_perimeter = |bucket: &str| -> Result<(), String> {
            if bucket == assets_bucket {
                return Err("is the platform's assets bucket, which holds no user data".into());
            }
            if !data_buckets.contains(bucket) {
                return Err(format!(
                    "{bucket:?} is outside the data perimeter (FLEET_DATA_BUCKETS: {})",
                    data_buckets.iter().map(BucketName::as_str).collect::<Vec<_>>().join(", ")
                ));
            }
            Ok(())
        };
        let mut seen = BTreeSet::new();
        for (i, rule) in document.rules.iter().enumerate() {
            in_perimeter(&rule.bucket).map_err(|reason| at("rules", i, "bucket", reason))?;
            if !seen.insert((&rule.team, &rule.bucket, &rule.prefix)) {
                return Err(at("rules", i, "prefix", "repeats an earlier rule of the same team and bucket".into()));
            }
        }
        let mut kms_keys = BTreeMap::new();
        for (i, key) in document.kms_keys.iter().enumerate() {
            in_perimeter(&key.bucket).map_err(|reason| at("kms_keys", i, "bucket", reason))?;
            if kms_keys.insert(key.bucket.clone(), key.key_arn.clone()).is_some() {
                return Err(at(
                    "kms_keys",
                    i,
                    "bucket",
                    "names a bucket an earlier entry names; a bucket has one key".into(),
                ));
            }
        }
        Ok(Entitlements { rules: document.rules, kms_keys })
    }

    pub fn rules(&self) -> &[EntitlementRule] {
        &self.rules
    }

    /// The customer-managed key of a bucket's objects, if the document names one.
    pub fn kms_key(&self, bucket: &str) -> Option<&str> {
        self.kms_keys.get(bucket).map(String::as_str)
    }

    /// Every grant a notebook of `owner` in `team` asks for must be covered by a rule of the team: the
    /// folder inside the rule's prefix (with the placeholders filled), the access no higher than the rule's.
    /// Each uncovered grant is named, with what the team may have.
    pub fn check(&self, team: &str, owner: &str, grants: &[DataAccess]) -> Result<(), Rejection> {
        let team_rules: Vec<(&EntitlementRule, String)> =
            self.rules.iter().filter(|r| r.team == team).map(|r| (r, r.render(owner, team))).collect();
        let problems: Vec<Problem> = grants
            .iter()
            .enumerate()
            .filter(|(_, grant)| {
                !team_rules.iter().any(|(rule, prefix)| {
                    rule.bucket == grant.bucket && grant.prefix.starts_with(prefix.as_str()) && grant.access <= rule.access
                })
            })
            .map(|(i, grant)| Problem {
                field: format!("detail.data_access[{i}]"),
                reason: format!(
                    "s3://{}/{} ({}) is not covered by an entitlement of team {team:?}; {}",
                    grant.bucket,
                    grant.prefix,
                    access_name(grant.access),
                    if team_rules.is_empty() {
                        format!("team {team:?} has no data entitlements: the platform team grants them in the entitlements document")
                    } else {
                        format!(
                            "the team may have (or a folder inside): {}",
                            team_rules
                                .iter()
                                .map(|(rule, prefix)| format!("s3://{}/{prefix} ({})", rule.bucket, access_name(rule.access)))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                ),
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Rejection::from_problems(problems))
        }
    }
}

impl EntitlementRule {
    /// The rule's prefix for one owner and team.
    pub fn render(&self, owner: &str, team: &str) -> String {
        self.prefix.replace(OWNER_PLACEHOLDER, owner).replace(TEAM_PLACEHOLDER, team)
    }
}

fn access_name(access: AccessLevel) -> &'static str {
    match access {
        AccessLevel::Read => "read",
        AccessLevel::ReadWrite => "read-write",
    }
}

/// A prefix template is a folder whose segments are names or whole placeholders.
fn validate_prefix_template(template: &str) -> Result<(), String> {
    for segment in template.split('/') {
        let placeholder = segment == OWNER_PLACEHOLDER || segment == TEAM_PLACEHOLDER;
        if !placeholder && (segment.contains('{') || segment.contains('}')) {
            return Err(format!(
                "segment {segment:?}: a placeholder ({OWNER_PLACEHOLDER} or {TEAM_PLACEHOLDER}) must be a whole path segment"
            ));
        }
    }
    // With each placeholder standing for a name, the template must be a valid folder.
    Prefix::parse(&template.replace(OWNER_PLACEHOLDER, "owner").replace(TEAM_PLACEHOLDER, "team"))
        .map(drop)
        .map_err(String::from)
}

/// `arn:<partition>:kms:<region>:<account>:key/<id>`: a key, not an alias (IAM matches key ARNs only).
fn validate_key_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "kms"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5]
            .strip_prefix("key/")
            .is_some_and(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if ok {
        Ok(())
    } else {
        Err(format!("{arn:?} is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>; aliases are not accepted)"))
    }
}

fn checked<'de, D: serde::Deserializer<'de>, T, E: fmt::Display>(
    deserializer: D,
    check: fn(&str) -> Result<T, E>,
) -> Result<String, D::Error> {
    let value = String::deserialize(deserializer)?;
    check(&value).map_err(|reason| serde::de::Error::custom(format!("{value:?} {reason}")))?;
    Ok(value)
}

fn principal<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, Principal::parse)
}

fn bucket<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, BucketName::parse)
}

fn prefix_template<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, validate_prefix_template)
}

fn key_arn<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, validate_key_arn)
}

/// serde_json appends " at line L column C"; the error carries the line already.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The line on which element `index` of the top-level array `array` starts (1 when not found): a small
/// scan that follows strings and nesting, so that a check made after parsing still names its line.
fn line_of_element(text: &str, array: &str, index: usize) -> usize {
    let (mut depth, mut line, mut in_string, mut escaped) = (0usize, 1usize, false, false);
    let (mut string, mut last_key, mut current_array) = (String::new(), String::new(), None::<String>);
    let mut element = 0usize;
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                (false, c) => string.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                string.clear();
            }
            ':' if depth == 1 => last_key = string.clone(),
            '[' | '{' => {
                depth += 1;
                if c == '[' && depth == 2 {
                    current_array = Some(last_key.clone());
                    element = 0;
                }
                if c == '{' && depth == 3 && current_array.as_deref() == Some(array) {
                    if element == index {
                        return line;
                    }
                    element += 1;
                }
            }
            ']' | '}' => {
                depth = depth.saturating_sub(1);
                if depth < 2 {
                    current_array = None;
                }
            }
            _ => {}
        }
    }
    1
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const DOCUMENT: &str = r#"{
  "version": 1,
  "rules": [
    {"team": "risk", "bucket": "team-data", "prefix": "risk/{owner}/", "access": "read-write"},
    {"team": "risk", "bucket": "shared-data", "prefix": "reference/", "access": "read"},
    {"team": "fraud", "bucket": "team-data", "prefix": "{team}/shared/", "access": "read"}
  ],
  "kms_keys": [{"bucket": "team-data", "key_arn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}]
}"#;

    fn perimeter() -> BTreeSet<BucketName> {
        ["team-data", "shared-data"].map(|b| BucketName::parse(b).expect("a test bucket")).into()
    }

    pub(crate) fn entitlements() -> Entitlements {
        Entitlements::parse(DOCUMENT, &perimeter(), "fleet-assets").expect("valid document")
    }

    fn grant(bucket: &str, prefix: &str, access: AccessLevel) -> DataAccess {
        DataAccess { bucket: bucket.into(), prefix: prefix.into(), access }
    }

    #[test]
    fn a_rule_covers_folders_inside_its_prefix_up_to_its_access() {
        let e = entitlements();
        let covered = [
            grant("team-data", "risk/alice/", AccessLevel::ReadWrite),
            grant("team-data", "risk/alice/models/", AccessLevel::Read),
            grant("shared-data", "reference/", AccessLevel::Read),
        ];
        assert_eq!(e.check("risk", "alice", &covered), Ok(()));
        assert_eq!(e.check("fraud", "bob", &[grant("team-data", "fraud/shared/", AccessLevel::Read)]), Ok(()));
        assert_eq!(e.kms_key("team-data").map(|k| k.ends_with("1234567890ab")), Some(true));
        assert_eq!(e.kms_key("shared-data"), None);
    }

    #[test]
    fn uncovered_grants_are_named_with_what_the_team_may_have() {
        let e = entitlements();
        let asked = [
            grant("team-data", "risk/alice/", AccessLevel::ReadWrite),
            grant("team-data", "risk/bob/", AccessLevel::Read),
            grant("shared-data", "reference/", AccessLevel::ReadWrite),
            grant("team-data", "risk/", AccessLevel::Read),
        ];
        let rejection = e.check("risk", "alice", &asked).expect_err("uncovered");
        let fields: Vec<_> = rejection.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["detail.data_access[1]", "detail.data_access[2]", "detail.data_access[3]"]);
        assert!(rejection.problems[0].reason.contains("s3://team-data/risk/alice/ (read-write)"), "{rejection:?}");
        let other_team = e.check("marketing", "carol", &asked[..1]).expect_err("no rules");
        assert!(other_team.summary().contains("has no data entitlements"), "{}", other_team.summary());
    }

    #[test]
    fn no_document_grants_nothing_but_a_request_without_data_passes() {
        let none = Entitlements::default();
        assert_eq!(none.check("risk", "alice", &[]), Ok(()));
        assert!(none.check("risk", "alice", &[grant("team-data", "risk/alice/", AccessLevel::Read)]).is_err());
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let cases = [
            (DOCUMENT.replace("\"{team}/shared/\"", "\"{team}*/\""), 6, "rules[2].prefix", "placeholder"),
            (DOCUMENT.replace("\"reference/\"", "\"reference\""), 5, "rules[1].prefix", "must end with '/'"),
            (
                DOCUMENT.replace("\"access\": \"read\"}", "\"access\": \"write\"}"),
                5,
                "rules[1].access",
                "unknown variant",
            ),
            (
                DOCUMENT.replace("\"shared-data\", \"prefix\"", "\"elsewhere\", \"prefix\""),
                5,
                "rules[1].bucket",
                "outside the data perimeter",
            ),
            (DOCUMENT.replace("\"fraud\"", "\"fr aud\""), 6, "rules[2].team", "may contain only"),
            (DOCUMENT.replace("key/1234abcd", "alias/1234abcd"), 8, "kms_keys[0].key_arn", "not a KMS key ARN"),
            (DOCUMENT.replace("\"version\": 1", "\"version\": 2"), 1, "version", "not supported"),
            (
                DOCUMENT.replace("\"access\": \"read-write\"}", "\"access\": \"read-write\", \"team_lead\": \"x\"}"),
                4,
                "rules[0].team_lead",
                "unknown field",
            ),
            (
                DOCUMENT.replace(
                    "\"fraud\", \"bucket\": \"team-data\", \"prefix\": \"{team}/shared/\"",
                    "\"risk\", \"bucket\": \"team-data\", \"prefix\": \"risk/{owner}/\"",
                ),
                6,
                "rules[2].prefix",
                "repeats",
            ),
            ("{\"version\": 1,\n \"rules\": [\n".to_owned(), 3, "rules", "EOF"),
        ];
        for (text, line, field, reason) in cases {
            let error = Entitlements::parse(&text, &perimeter(), "fleet-assets").expect_err(field);
            assert_eq!((error.line, error.field.as_str()), (line, field), "{error}");
            assert!(error.reason.contains(reason), "{field}: {error}");
        }
    }

    #[test]
    fn the_assets_bucket_is_never_an_entitlement() {
        let text = DOCUMENT.replace("\"shared-data\", \"prefix\"", "\"fleet-assets\", \"prefix\"");
        let error = Entitlements::parse(&text, &perimeter(), "fleet-assets").expect_err("assets");
        assert!(error.reason.contains("assets bucket"), "{error}");
    }
}
