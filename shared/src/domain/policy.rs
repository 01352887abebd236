//! IAM policy documents as serde types: the notebook role's trust policy and its inline policy.
//!
//! The inline policy names exactly the requested folders (read, or read-write), read access to the
//! lifecycle assets and write access to the notebook's own heartbeat key; nothing else. A resource that can
//! be written never holds a wildcard except the trailing `*` that follows a requested folder.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::entitlements::Entitlements;
use super::request::AccessLevel;
use super::validation::ValidNotebookRequest;

pub const POLICY_VERSION: &str = "2012-10-17";
pub const SAGEMAKER_SERVICE: &str = "sagemaker.amazonaws.com";
/// The inline policy's name on every notebook role.
pub const NOTEBOOK_POLICY_NAME: &str = "notebook-fleet-data-access";
/// Key prefix of the lifecycle assets (on-start script, heartbeat agent) in the assets bucket.
pub const ASSETS_PREFIX: &str = "assets/";
/// Key prefix of the heartbeats in the assets bucket: `heartbeats/<notebook-name>`.
pub const HEARTBEATS_PREFIX: &str = "heartbeats/";

pub const READ_ACTIONS: &[&str] = &["s3:GetObject", "s3:GetObjectVersion"];
pub const WRITE_ACTIONS: &[&str] = &["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDocument {
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Statement", deserialize_with = "one_or_many")]
    pub statement: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "Sid", default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(rename = "Effect")]
    pub effect: Effect,
    #[serde(rename = "Principal", default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    #[serde(rename = "Action", deserialize_with = "one_or_many")]
    pub action: Vec<String>,
    #[serde(rename = "Resource", default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<String>,
    /// operator → condition key → values, e.g. `StringLike` → `s3:prefix` → `["team/alice/*"]`.
    #[serde(rename = "Condition", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub condition: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// `"*"` (in an endpoint policy, where the caller's identity policy does the narrowing) or services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Principal {
    Any(String),
    Service {
        #[serde(rename = "Service", deserialize_with = "one_or_many")]
        service: Vec<String>,
    },
}

impl PolicyDocument {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a policy document always serialises")
    }
}

/// Trusted by SageMaker alone: no person and no other service can assume a notebook role.
pub fn notebook_trust_policy() -> PolicyDocument {
    PolicyDocument {
        version: POLICY_VERSION.into(),
        statement: vec![Statement {
            sid: Some("SageMakerOnly".into()),
            effect: Effect::Allow,
            principal: Some(Principal::Service { service: vec![SAGEMAKER_SERVICE.into()] }),
            action: vec!["sts:AssumeRole".into()],
            resource: vec![],
            condition: BTreeMap::new(),
        }],
    }
}

pub fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

pub fn objects_arn(bucket: &str, prefix: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{prefix}*")
}

pub fn heartbeat_arn(assets_bucket: &str, notebook_name: &str) -> String {
    format!("arn:aws:s3:::{assets_bucket}/{HEARTBEATS_PREFIX}{notebook_name}")
}

/// The notebook role's inline policy, generated from the validated request. A granted bucket whose objects
/// are encrypted with a customer-managed key (named in the entitlements document) adds that key: decrypt for
/// reading, data keys for writing, on that key only and only when S3 asks on the role's behalf.
pub fn notebook_role_policy(
    request: &ValidNotebookRequest,
    assets_bucket: &str,
    entitlements: &Entitlements,
    region: &str,
) -> PolicyDocument {
    let allow = |sid: &str, action: &[&str], resource: Vec<String>| Statement {
        sid: Some(sid.into()),
        effect: Effect::Allow,
        principal: None,
        action: action.iter().map(|a| (*a).to_owned()).collect(),
        resource,
        condition: BTreeMap::new(),
    };
    let mut statement = vec![
        allow("ReadLifecycleAssets", &["s3:GetObject"], vec![objects_arn(assets_bucket, ASSETS_PREFIX)]),
        allow("WriteOwnHeartbeat", &["s3:PutObject"], vec![heartbeat_arn(assets_bucket, &request.notebook_name)]),
    ];

    // Listing is granted per bucket, limited to the requested folders by the s3:prefix condition.
    let mut prefixes_by_bucket: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for grant in &request.data_access {
        let prefixes = prefixes_by_bucket.entry(grant.bucket.as_str()).or_default();
        prefixes.push(grant.prefix.clone());
        prefixes.push(format!("{}*", grant.prefix));
    }
    for (i, (bucket, prefixes)) in prefixes_by_bucket.into_iter().enumerate() {
        let mut list = allow(&format!("ListData{i}"), &["s3:ListBucket"], vec![bucket_arn(bucket)]);
        list.condition.insert("StringLike".into(), BTreeMap::from([("s3:prefix".into(), prefixes)]));
        statement.push(list);
    }

    let folders = |level: Option<AccessLevel>| -> Vec<String> {
        request
            .data_access
            .iter()
            .filter(|g| level.is_none_or(|l| g.access == l))
            .map(|g| objects_arn(&g.bucket, &g.prefix))
            .collect()
    };
    let readable = folders(None);
    if !readable.is_empty() {
        statement.push(allow("ReadData", READ_ACTIONS, readable));
    }
    let writable = folders(Some(AccessLevel::ReadWrite));
    if !writable.is_empty() {
        statement.push(allow("WriteData", WRITE_ACTIONS, writable));
    }

    let mut keys: BTreeMap<&str, AccessLevel> = BTreeMap::new();
    for grant in &request.data_access {
        if let Some(key) = entitlements.kms_key(&grant.bucket) {
            let level = keys.entry(key).or_insert(grant.access);
            *level = (*level).max(grant.access);
        }
    }
    for (i, (key, level)) in keys.into_iter().enumerate() {
        let actions: &[&str] = match level {
            AccessLevel::Read => KMS_READ_ACTIONS,
            AccessLevel::ReadWrite => KMS_WRITE_ACTIONS,
        };
        let mut use_key = allow(&format!("UseDataKey{i}"), actions, vec![key.to_owned()]);
        use_key
            .condition
            .insert("StringEquals".into(), BTreeMap::from([("kms:ViaService".into(), vec![s3_service(region)])]));
        statement.push(use_key);
    }
    PolicyDocument { version: POLICY_VERSION.into(), statement }
}

/// What S3 calls KMS for on a reader's behalf, and on a writer's.
pub const KMS_READ_ACTIONS: &[&str] = &["kms:Decrypt"];
pub const KMS_WRITE_ACTIONS: &[&str] = &["kms:Decrypt", "kms:GenerateDataKey"];

/// `kms:ViaService` for S3 in a region.
pub fn s3_service(region: &str) -> String {
    format!("s3.{region}.amazonaws.com")
}

/// The policy, valid only until `until` (RFC 3339): every statement carries `DateLessThan aws:CurrentTime`,
/// so that IAM itself ends a custodian grant at its expiry, whether or not the sweeper has revoked it yet.
pub fn valid_until(mut policy: PolicyDocument, until: &str) -> PolicyDocument {
    for statement in &mut policy.statement {
        statement
            .condition
            .entry("DateLessThan".into())
            .or_default()
            .insert("aws:CurrentTime".into(), vec![until.to_owned()]);
    }
    policy
}

/// The most a notebook can ever do in S3, whatever a request asks: the data buckets' objects (read and
/// write), the lifecycle assets (read) and the heartbeats (write). Used twice: as the S3 gateway endpoint's
/// policy (with `Principal: "*"`) and as the notebook roles' permissions boundary.
fn perimeter_statements(data_buckets: &[String], assets_bucket: &str, principal: Option<Principal>) -> Vec<Statement> {
    let statement = |sid: &str, action: Vec<&str>, resource: Vec<String>| Statement {
        sid: Some(sid.into()),
        effect: Effect::Allow,
        principal: principal.clone(),
        action: action.into_iter().map(str::to_owned).collect(),
        resource,
        condition: BTreeMap::new(),
    };
    let data_actions = [READ_ACTIONS, WRITE_ACTIONS].concat();
    let mut statements = Vec::new();
    if !data_buckets.is_empty() {
        statements.push(statement(
            "ListPlatformData",
            vec!["s3:ListBucket"],
            data_buckets.iter().map(|b| bucket_arn(b)).collect(),
        ));
        statements.push(statement(
            "PlatformData",
            data_actions,
            data_buckets.iter().map(|b| format!("{}/*", bucket_arn(b))).collect(),
        ));
    }
    statements.push(statement(
        "ReadLifecycleAssets",
        vec!["s3:GetObject"],
        vec![objects_arn(assets_bucket, ASSETS_PREFIX)],
    ));
    statements.push(statement(
        "WriteHeartbeats",
        vec!["s3:PutObject"],
        vec![objects_arn(assets_bucket, HEARTBEATS_PREFIX)],
    ));
    statements
}

/// The S3 gateway endpoint's policy: the data perimeter, generated from configuration.
pub fn data_perimeter_policy(data_buckets: &[String], assets_bucket: &str) -> PolicyDocument {
    PolicyDocument {
        version: POLICY_VERSION.into(),
        statement: perimeter_statements(data_buckets, assets_bucket, Some(Principal::Any("*".into()))),
    }
}

/// The permissions boundary every notebook role is created under: the perimeter, and the account's KMS keys
/// for S3 alone (a data bucket's customer-managed key, named in the entitlements document, reaches a role's
/// policy only for the buckets it was given; the boundary keeps every use of a key behind S3).
pub fn notebook_permissions_boundary(
    data_buckets: &[String],
    assets_bucket: &str,
    region: &str,
    account_id: &str,
) -> PolicyDocument {
    let mut statement = perimeter_statements(data_buckets, assets_bucket, None);
    statement.push(Statement {
        sid: Some("UseDataKeysThroughS3".into()),
        effect: Effect::Allow,
        principal: None,
        action: KMS_WRITE_ACTIONS.iter().map(|a| (*a).to_owned()).collect(),
        resource: vec![format!("arn:aws:kms:{region}:{account_id}:key/*")],
        condition: BTreeMap::from([(
            "StringEquals".to_owned(),
            BTreeMap::from([("kms:ViaService".to_owned(), vec![s3_service(region)])]),
        )]),
    });
    PolicyDocument { version: POLICY_VERSION.into(), statement }
}

/// Accepts IAM's `"x"` or `["x", "y"]` forms when reading a document back.
fn one_or_many<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        One(T),
        Many(Vec<T>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::request::{DataAccess, NotebookRequested};
    use crate::domain::settings::tests::settings as config;
    use crate::domain::validation::tests::request;
    use crate::domain::validation::validate_notebook_request;
    use proptest::prelude::*;

    fn policy_for(request: &NotebookRequested) -> PolicyDocument {
        let valid = validate_notebook_request(request, &config().limits).expect("valid");
        notebook_role_policy(&valid, "fleet-assets", &config().limits.entitlements, "eu-west-1")
    }

    fn by_sid<'a>(doc: &'a PolicyDocument, sid: &str) -> &'a Statement {
        doc.statement.iter().find(|s| s.sid.as_deref() == Some(sid)).unwrap_or_else(|| panic!("no {sid}"))
    }

    #[test]
    fn trust_policy_names_sagemaker_alone() {
        let json: serde_json::Value = serde_json::from_str(&notebook_trust_policy().to_json()).expect("json");
        assert_eq!(json["Statement"][0]["Principal"]["Service"], serde_json::json!(["sagemaker.amazonaws.com"]));
        assert_eq!(json["Statement"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn inline_policy_grants_exactly_the_requested_folders() {
        let doc = policy_for(&request());
        assert_eq!(
            by_sid(&doc, "ReadData").resource,
            ["arn:aws:s3:::shared-data/reference/*", "arn:aws:s3:::team-data/risk/alice/*"]
        );
        assert_eq!(by_sid(&doc, "WriteData").resource, ["arn:aws:s3:::team-data/risk/alice/*"]);
        assert_eq!(by_sid(&doc, "WriteOwnHeartbeat").resource, ["arn:aws:s3:::fleet-assets/heartbeats/alice-nb"]);
        assert_eq!(by_sid(&doc, "ReadLifecycleAssets").resource, ["arn:aws:s3:::fleet-assets/assets/*"]);
        let list = by_sid(&doc, "ListData1");
        assert_eq!(list.resource, ["arn:aws:s3:::team-data"]);
        assert_eq!(list.condition["StringLike"]["s3:prefix"], ["risk/alice/", "risk/alice/*"]);
        assert!(doc.statement.iter().all(|s| s.effect == Effect::Allow && s.principal.is_none()));
    }

    #[test]
    fn an_encrypted_bucket_adds_its_key_through_s3_only() {
        let doc = policy_for(&request());
        let key = by_sid(&doc, "UseDataKey0");
        assert_eq!(key.resource, [config().limits.entitlements.kms_key("team-data").expect("key").to_owned()]);
        assert_eq!(key.action, ["kms:Decrypt", "kms:GenerateDataKey"], "read-write on team-data");
        assert_eq!(key.condition["StringEquals"]["kms:ViaService"], ["s3.eu-west-1.amazonaws.com"]);
        assert_eq!(doc.statement.iter().filter(|s| s.action.iter().any(|a| a.starts_with("kms:"))).count(), 1);

        let mut read_only = request();
        read_only.data_access.iter_mut().for_each(|g| g.access = AccessLevel::Read);
        assert_eq!(by_sid(&policy_for(&read_only), "UseDataKey0").action, ["kms:Decrypt"]);
        let mut unencrypted = request();
        unencrypted.data_access.retain(|g| g.bucket == "shared-data");
        assert!(policy_for(&unencrypted).statement.iter().all(|s| s.action.iter().all(|a| a.starts_with("s3:"))));
    }

    #[test]
    fn read_only_requests_get_no_write_statement() {
        let mut r = request();
        r.data_access.retain(|g| g.access == AccessLevel::Read);
        let doc = policy_for(&r);
        assert!(doc.statement.iter().all(|s| s.sid.as_deref() != Some("WriteData")));
    }

    #[test]
    fn documents_survive_a_round_trip_and_read_single_strings() {
        let doc = policy_for(&request());
        assert_eq!(serde_json::from_str::<PolicyDocument>(&doc.to_json()).expect("parses"), doc);
        let short = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/k"}}"#;
        let parsed: PolicyDocument = serde_json::from_str(short).expect("parses");
        assert_eq!(parsed.statement[0].resource, ["arn:aws:s3:::b/k"]);
    }

    #[test]
    fn the_perimeter_names_the_platform_buckets_and_nothing_else() {
        let buckets = vec!["team-data".to_owned(), "shared-data".to_owned()];
        let endpoint = data_perimeter_policy(&buckets, "fleet-assets");
        let json: serde_json::Value = serde_json::from_str(&endpoint.to_json()).expect("json");
        assert!(json["Statement"].as_array().is_some_and(|s| s.iter().all(|s| s["Principal"] == "*")));
        let resources: Vec<&String> = endpoint.statement.iter().flat_map(|s| &s.resource).collect();
        assert_eq!(
            resources,
            [
                "arn:aws:s3:::team-data",
                "arn:aws:s3:::shared-data",
                "arn:aws:s3:::team-data/*",
                "arn:aws:s3:::shared-data/*",
                "arn:aws:s3:::fleet-assets/assets/*",
                "arn:aws:s3:::fleet-assets/heartbeats/*"
            ]
        );
        let boundary = notebook_permissions_boundary(&buckets, "fleet-assets", "eu-west-1", "123456789012");
        assert!(boundary.statement.iter().all(|s| s.principal.is_none()));
        assert_eq!(boundary.statement.len(), endpoint.statement.len() + 1, "the perimeter and the data keys");
        let keys = by_sid(&boundary, "UseDataKeysThroughS3");
        assert_eq!(keys.resource, ["arn:aws:kms:eu-west-1:123456789012:key/*"]);
        assert_eq!(keys.condition["StringEquals"]["kms:ViaService"], ["s3.eu-west-1.amazonaws.com"]);
        // A request's policy always fits inside the boundary: every notebook action is one the boundary allows.
        let request_actions: std::collections::BTreeSet<String> =
            policy_for(&request()).statement.into_iter().flat_map(|s| s.action).collect();
        let boundary_actions: std::collections::BTreeSet<String> =
            boundary.statement.into_iter().flat_map(|s| s.action).collect();
        assert!(request_actions.is_subset(&boundary_actions), "{request_actions:?}");
    }

    fn arb_grant() -> impl Strategy<Value = DataAccess> {
        (
            prop_oneof![Just("team-data"), Just("shared-data"), Just("other-data"), Just("fleet-assets")],
            "[a-z*?./]{0,3}(/[a-z.*]{1,3}){0,3}/?",
            prop_oneof![Just(AccessLevel::Read), Just(AccessLevel::ReadWrite)],
        )
            .prop_map(|(bucket, prefix, access)| DataAccess { bucket: bucket.into(), prefix, access })
    }

    proptest! {
        /// No accepted request ever yields a writable statement with a wildcard resource, or any resource
        /// outside the request's own folders and the notebook's heartbeat key.
        #[test]
        fn accepted_requests_never_grant_writes_outside_the_request(
            grants in proptest::collection::vec(arb_grant(), 0..6),
            name in "[a-z][a-z0-9-]{0,20}[a-z0-9]",
        ) {
            let mut r = request();
            r.notebook_name = name.clone();
            r.data_access = grants;
            let Ok(valid) = validate_notebook_request(&r, &config().limits) else { return Ok(()) };
            let doc = notebook_role_policy(&valid, "fleet-assets", &config().limits.entitlements, "eu-west-1");
            let writable: Vec<String> = valid.data_access.iter()
                .filter(|g| g.access == AccessLevel::ReadWrite)
                .map(|g| objects_arn(&g.bucket, &g.prefix))
                .collect();
            let readable: Vec<String> = valid.data_access.iter().map(|g| objects_arn(&g.bucket, &g.prefix)).collect();
            for statement in &doc.statement {
                if statement.action.iter().all(|a| a.starts_with("kms:")) {
                    // A data key: only the key the entitlements name, only through S3.
                    prop_assert_eq!(&statement.condition["StringEquals"]["kms:ViaService"], &vec![s3_service("eu-west-1")]);
                    prop_assert!(statement.resource.iter().all(|r| Some(r.as_str()) == config().limits.entitlements.kms_key("team-data")));
                    continue;
                }
                let writes = statement.action.iter().any(|a| !(a.starts_with("s3:Get") || a.starts_with("s3:List")));
                for resource in &statement.resource {
                    if writes {
                        let exact = *resource == heartbeat_arn("fleet-assets", &name);
                        prop_assert!(exact || writable.contains(resource), "writable {resource}");
                        prop_assert!(!resource[..resource.len() - 1].contains('*') && !resource.contains('?'), "wildcard {resource}");
                    } else {
                        let asset = *resource == objects_arn("fleet-assets", ASSETS_PREFIX);
                        let bucket = valid.data_access.iter().any(|g| *resource == bucket_arn(&g.bucket));
                        prop_assert!(asset || bucket || readable.contains(resource), "readable {resource}");
                    }
                    let bucket_wide = resource.strip_prefix("arn:aws:s3:::").is_some_and(|r| r.split_once('/').is_some_and(|(_, key)| key == "*"));
                    prop_assert!(resource != "*" && !bucket_wide, "bucket-wide {resource}");
                }
            }
        }
    }
}
