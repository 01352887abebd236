//! Every bad request gets exactly one `Notebook Request Rejected` naming the field and the reason, the
//! invocation succeeds (no pointless retries), and nothing at all is created.

use anyhow::Result;
use fleet::domain::outcome::NOTEBOOK_REQUEST_REJECTED;
use fleet::domain::request::{
    CUSTODIAN_ACCESS_REQUESTED, NOTEBOOK_DECOMMISSION_REQUESTED, NOTEBOOK_REQUESTED, NOTEBOOK_START_REQUESTED,
    NOTEBOOK_STOP_REQUESTED, OWNER_DEACTIVATED,
};
use fleet::service::lambda::handle_request_event;
use integration_tests::events::{notebook_requested, request_event};
use integration_tests::platform::{s3_client, AUDIT_BUCKET};
use integration_tests::{Emulator, Platform};
use serde_json::{json, Value};

/// (what is wrong, detail-type, detail, the field the rejection must name)
fn bad_requests() -> Vec<(&'static str, &'static str, Value, &'static str)> {
    let base = || notebook_requested("bad-1", "bad-nb");
    let with = |field: &str, value: Value| {
        let mut detail = base();
        detail[field] = value;
        detail
    };
    let without = |field: &str| {
        let mut detail = base();
        detail.as_object_mut().map(|o| o.remove(field));
        detail
    };
    let grant = |bucket: &str, prefix: &str, access: &str| {
        with("data_access", json!([{"bucket": bucket, "prefix": prefix, "access": access}]))
    };
    let r = NOTEBOOK_REQUESTED;
    vec![
        ("no request id", r, without("request_id"), "detail"),
        ("request id with a space", r, with("request_id", json!("bad 1")), "detail.request_id"),
        ("request id too long", r, with("request_id", json!("r".repeat(129))), "detail.request_id"),
        ("request id not a string", r, with("request_id", json!(42)), "detail.request_id"),
        ("no notebook name", r, without("notebook_name"), "detail"),
        ("name with underscore", r, with("notebook_name", json!("bad_nb")), "detail.notebook_name"),
        ("name too long", r, with("notebook_name", json!("n".repeat(64))), "detail.notebook_name"),
        ("name with leading hyphen", r, with("notebook_name", json!("-nb")), "detail.notebook_name"),
        ("empty name", r, with("notebook_name", json!("")), "detail.notebook_name"),
        ("name with a dot", r, with("notebook_name", json!("a.b")), "detail.notebook_name"),
        ("empty owner", r, with("owner", json!("")), "detail.owner"),
        ("owner with a slash", r, with("owner", json!("a/b")), "detail.owner"),
        ("owner not ASCII", r, with("owner", json!("élodie")), "detail.owner"),
        ("team too long", r, with("team", json!("t".repeat(65))), "detail.team"),
        ("no team", r, without("team"), "detail"),
        ("instance type not offered", r, with("instance_type", json!("ml.p4d.24xlarge")), "detail.instance_type"),
        ("instance type garbage", r, with("instance_type", json!("big")), "detail.instance_type"),
        ("volume zero", r, with("volume_size_gb", json!(0)), "detail.volume_size_gb"),
        ("volume below SageMaker's minimum", r, with("volume_size_gb", json!(4)), "detail.volume_size_gb"),
        ("volume above the platform's maximum", r, with("volume_size_gb", json!(513)), "detail.volume_size_gb"),
        ("volume negative", r, with("volume_size_gb", json!(-1)), "detail.volume_size_gb"),
        ("volume as a string", r, with("volume_size_gb", json!("20")), "detail.volume_size_gb"),
        ("idle timeout too short", r, with("idle_timeout_minutes", json!(5)), "detail.idle_timeout_minutes"),
        ("idle timeout too long", r, with("idle_timeout_minutes", json!(100_000)), "detail.idle_timeout_minutes"),
        ("root access not allowed", r, with("root_access", json!(true)), "detail.root_access"),
        ("bucket outside the perimeter", r, grant("other-data", "x/", "read"), "detail.data_access[0].bucket"),
        ("the assets bucket", r, grant("fleet-assets", "heartbeats/", "read-write"), "detail.data_access[0].bucket"),
        ("bucket with capitals", r, grant("Team-Data", "x/", "read"), "detail.data_access[0].bucket"),
        ("bucket as an IP address", r, grant("192.168.1.1", "x/", "read"), "detail.data_access[0].bucket"),
        ("reserved bucket prefix", r, grant("xn--team", "x/", "read"), "detail.data_access[0].bucket"),
        ("empty prefix (whole bucket)", r, grant("team-data", "", "read"), "detail.data_access[0].prefix"),
        ("prefix with *", r, grant("team-data", "risk/*", "read-write"), "detail.data_access[0].prefix"),
        ("prefix with ?", r, grant("team-data", "risk/?/", "read"), "detail.data_access[0].prefix"),
        ("prefix escaping with ..", r, grant("team-data", "risk/../hr/", "read"), "detail.data_access[0].prefix"),
        ("prefix with a leading /", r, grant("team-data", "/risk/", "read"), "detail.data_access[0].prefix"),
        ("prefix without a trailing /", r, grant("team-data", "risk/alice", "read"), "detail.data_access[0].prefix"),
        (
            "prefix with a control character",
            r,
            grant("team-data", "risk/\u{1b}/", "read"),
            "detail.data_access[0].prefix",
        ),
        (
            "prefix with a policy variable",
            r,
            grant("team-data", "${aws:username}/", "read"),
            "detail.data_access[0].prefix",
        ),
        (
            "prefix too long",
            r,
            grant("team-data", &format!("{}/", "p".repeat(300)), "read"),
            "detail.data_access[0].prefix",
        ),
        ("unknown access level", r, grant("team-data", "risk/", "write"), "detail.data_access[0].access"),
        (
            "grant without access",
            r,
            with("data_access", json!([{"bucket": "team-data", "prefix": "risk/"}])),
            "detail.data_access[0]",
        ),
        (
            "the same folder twice",
            r,
            with(
                "data_access",
                json!([{"bucket": "team-data", "prefix": "risk/", "access": "read"}, {"bucket": "team-data", "prefix": "risk/", "access": "read-write"}]),
            ),
            "detail.data_access[1]",
        ),
        (
            "too many grants",
            r,
            with(
                "data_access",
                Value::Array(
                    (0..11)
                        .map(|i| json!({"bucket": "team-data", "prefix": format!("p{i}/"), "access": "read"}))
                        .collect(),
                ),
            ),
            "detail.data_access",
        ),
        ("a misspelt field", r, with("idle_timout_minutes", json!(30)), "detail.idle_timout_minutes"),
        ("a detail that is not an object", r, json!(["bad-1"]), "detail"),
        ("an unknown request type", "Notebook Exploded", base(), "detail-type"),
        (
            "stop of a notebook that does not exist",
            NOTEBOOK_STOP_REQUESTED,
            json!({"request_id": "bad-1", "notebook_name": "nobody"}),
            "detail.notebook_name",
        ),
        (
            "start with a bad name",
            NOTEBOOK_START_REQUESTED,
            json!({"request_id": "bad-1", "notebook_name": "bad_nb"}),
            "detail.notebook_name",
        ),
        (
            "a deletion without repeating the notebook's name",
            NOTEBOOK_DECOMMISSION_REQUESTED,
            json!({"request_id": "bad-1", "notebook_name": "alice-nb", "requested_by": "lead", "reason": "done",
                   "delete_notebook": true, "data_no_longer_needed": true}),
            "detail.confirm_notebook_name",
        ),
        (
            "a deletion without saying the data is no longer needed",
            NOTEBOOK_DECOMMISSION_REQUESTED,
            json!({"request_id": "bad-1", "notebook_name": "alice-nb", "requested_by": "lead", "reason": "done",
                   "delete_notebook": true, "confirm_notebook_name": "alice-nb"}),
            "detail.data_no_longer_needed",
        ),
        (
            "a decommission without a reason",
            NOTEBOOK_DECOMMISSION_REQUESTED,
            json!({"request_id": "bad-1", "notebook_name": "alice-nb", "requested_by": "lead", "reason": " "}),
            "detail.reason",
        ),
        (
            "a deactivation of a malformed owner",
            OWNER_DEACTIVATED,
            json!({"request_id": "bad-1", "owner": "alice smith", "requested_by": "hr", "reason": "left"}),
            "detail.owner",
        ),
        (
            "custodian access for longer than the platform allows",
            CUSTODIAN_ACCESS_REQUESTED,
            custodian_request(json!({"duration_hours": 100_000})),
            "detail.duration_hours",
        ),
        (
            "custodian access with a ticket that cannot be a tag",
            CUSTODIAN_ACCESS_REQUESTED,
            custodian_request(json!({"ticket": "LEGAL-1; DROP"})),
            "detail.ticket",
        ),
        (
            "custodian access to an owner who is not deactivated",
            CUSTODIAN_ACCESS_REQUESTED,
            custodian_request(json!({})),
            "detail.deactivated_owner",
        ),
        (
            "custodian access outside the perimeter",
            CUSTODIAN_ACCESS_REQUESTED,
            custodian_request(json!({"scope": [{"bucket": "elsewhere", "prefix": "x/"}]})),
            "detail.scope[0].bucket",
        ),
    ]
}

/// A custodian request with some fields replaced.
fn custodian_request(changes: serde_json::Value) -> serde_json::Value {
    let mut detail = json!({
        "request_id": "bad-1", "custodian": "carol", "deactivated_owner": "alice", "reason": "audit",
        "ticket": "LEGAL-1", "approved_by": "dana", "duration_hours": 24, "notebook_name": "carol-custody", "team": "risk",
        "instance_type": "ml.t3.medium", "volume_size_gb": 10
    });
    for (key, value) in changes.as_object().cloned().unwrap_or_default() {
        detail[key] = value;
    }
    detail
}

#[tokio::test(flavor = "multi_thread")]
async fn each_bad_request_gets_one_rejection_and_creates_nothing() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioner = platform.provisioner();
    let cases = bad_requests();
    assert!(cases.len() >= 40, "{} cases", cases.len());

    for (what, detail_type, detail, field) in &cases {
        let answer = handle_request_event(&provisioner, request_event(detail_type, detail.clone()))
            .await
            .map_err(|e| anyhow::anyhow!("{what}: the invocation failed: {e}"))?;
        assert_eq!(answer["detail-type"], NOTEBOOK_REQUEST_REJECTED, "{what}: {answer}");
        let problems = answer["detail"]["problems"].as_array().cloned().unwrap_or_default();
        assert!(
            problems.iter().any(|p| p["field"] == *field && p["reason"].as_str().is_some_and(|r| !r.is_empty())),
            "{what}: expected a problem naming {field}, got {problems:?}"
        );
    }

    let outcomes = platform.drain_outcomes().await?;
    assert_eq!(outcomes.len(), cases.len(), "exactly one outcome per request");
    assert!(outcomes.iter().all(|o| o.detail_type == NOTEBOOK_REQUEST_REJECTED));

    let sagemaker = aws_sdk_sagemaker::Client::new(&platform.sdk);
    assert!(sagemaker.list_notebook_instances().send().await?.notebook_instances().is_empty());
    assert!(!platform.lifecycle_config_exists().await?);
    let roles = aws_sdk_iam::Client::new(&platform.sdk).list_roles().path_prefix("/notebook-fleet/").send().await?;
    assert!(roles.roles().is_empty());
    let calls = platform.calls.snapshot();
    // S3 is the audit trail: one record per rejected request (and a listing of who is deactivated).
    let mutating: Vec<_> = calls
        .keys()
        .filter(|op| !op.contains(".Describe") && !op.contains(".List"))
        .filter(|op| !["EventBridge.PutEvents", "S3.PutObject"].contains(&op.as_str()))
        .collect();
    assert!(mutating.is_empty(), "a rejected request calls nothing that changes state: {calls:?}");
    // One audit record per rejection, kept under each history it belongs to (same name under each prefix).
    let listed = s3_client(&platform.sdk).list_objects_v2().bucket(AUDIT_BUCKET).send().await?;
    let records: std::collections::BTreeSet<_> =
        listed.contents().iter().filter_map(|o| o.key()?.rsplit('/').next()).collect();
    assert_eq!(records.len(), cases.len(), "one audit record per rejection");
    assert!(records.iter().all(|r| r.contains("_notebook-request-rejected_")), "{records:?}");
    Ok(())
}
