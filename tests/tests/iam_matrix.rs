//! The IAM matrix: the project's real policy documents evaluated by an independent IAM evaluator
//! (`@cloud-copilot/iam-simulate` through `tests/iam/evaluate.mjs`), one probe per question a reviewer would
//! ask: who may put which request on the bus, what the provisioner's role can and cannot create, who opens
//! which notebook, what the guardrails (managed policy and SCP) stop, what a notebook or custodian role reaches,
//! what the audit bucket refuses, what the interface endpoints let through.
//!
//! Where the documents come from:
//! - the stack, from the translated template created on moto by the rehearsal's helpers: the provisioner's and
//!   the idle sweeper's inline policies, the permissions boundary, the user policy and the guardrails, read back
//!   through IAM; the S3 gateway endpoint's policy, read back through EC2;
//! - the bus policy (moto's CloudFormation drops an EventBus's `Policy`), the audit and assets bucket policies
//!   (it skips `AWS::S3::BucketPolicy`) and the interface endpoints' policies (not created by default): resolved
//!   from the translated template with the same parameter values and the stack's physical resources
//!   (`rehearsal::Resolution`); the resolver is first checked against moto's own resolution of the three
//!   managed policies;
//! - the SCP: `infra/scp-notebook-fleet.json` with its placeholders filled as docs/DEPLOY.md says;
//! - the notebook roles: the inline policies of the roles the real provisioner, configured from the stack's
//!   environment, created on moto for an owner, for the same owner once locked, and for a custodian.
//!
//! A few documents are stand-ins, named as such: what a sender's own account grants it, an administrator's
//! `*`, a key grant like the ones the entitlements document names and a key policy that lets IAM grant it,
//! a target role's trust policy.
//! The evaluator has no session policies and does not derive context keys from the request: each probe gives
//! the keys AWS would set (the runner adds aws:PrincipalArn, aws:PrincipalAccount and aws:SecureTransport).

use std::collections::HashMap;
use std::process::Command;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use fleet::aws::assets::S3Assets;
use fleet::aws::{load_entitlements, AwsProvisioner, ProvisionerClients};
use fleet::domain::assets::agent_asset;
use fleet::domain::outcome::OutcomeEvent;
use fleet::domain::policy::NOTEBOOK_POLICY_NAME;
use fleet::domain::request::{CUSTODIAN_ACCESS_REQUESTED, NOTEBOOK_REQUESTED, OWNER_DEACTIVATED};
use fleet::service::publish::publish_assets;
use fleet::testing::{CustodianRequest, DeactivationRequest};
use integration_tests::emulator::{ACCOUNT_ID, REGION};
use integration_tests::events::notebook_requested;
use integration_tests::platform::{s3_client, AGENT_BYTES, DATA_BUCKETS};
use integration_tests::rehearsal::{deploy, environment, inline_policy, lambda_get, repo_root, Resolution};
use integration_tests::tools::installed_tool;
use integration_tests::Emulator;
use serde_json::{json, Map, Value};

const STACK: &str = "notebook-fleet";
const PORTAL: &str = "arn:aws:iam::111111111111:role/portal-sender";
const APPROVALS: &str = "arn:aws:iam::222222222222:role/approvals-sender";
const STRANGER: &str = "arn:aws:iam::999999999999:role/stranger";
const ENTITLEMENTS_BUCKET: &str = "platform-config";
const ENTITLEMENTS_KEY: &str = "notebook-fleet/entitlements.json";
const USER_VPCE: &str = "vpce-0a1b2c3d4e5f60718";
const USER_CIDR: &str = "203.0.113.0/24";
const FLEET_ROLE_PATTERN: &str = "arn:aws:iam::*:role/notebook-fleet/service/*";
/// Where `ensure_iam_simulate` (scripts/lib.sh) installs the evaluator.
const IAM_SIMULATE_VAR: &str = "FLEET_IAM_SIMULATE_DIR";

fn account_role(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT_ID}:role/{name}")
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).single().expect("valid time")
}

/// The sender map and the rest of issue 9's parameters, all given (moto hands a CommaDelimitedList's
/// default to Fn::Join as a string).
fn parameters() -> Vec<(&'static str, String)> {
    vec![
        ("DataBucketNames", DATA_BUCKETS.join(",")),
        ("AllowedInstanceTypes", "ml.t3.medium,ml.t3.large,ml.t3.xlarge,ml.m5.xlarge,ml.m5.2xlarge".into()),
        ("PortalPrincipalArns", PORTAL.into()),
        ("PortalEventSource", "platform.portal".into()),
        ("IdentityPrincipalArns", account_role("hr-sender")),
        ("IdentityEventSource", "platform.hr".into()),
        ("ApprovalsPrincipalArns", APPROVALS.into()),
        ("ApprovalsEventSource", "platform.approvals".into()),
        ("EntitlementsObjectUri", format!("s3://{ENTITLEMENTS_BUCKET}/{ENTITLEMENTS_KEY}")),
        ("AllowedRouteTargets", "tgw-0123456789abcdef0".into()),
        ("MaxSnoozeHours", "24".into()),
        ("NotebookAccessVpceIds", USER_VPCE.into()),
        ("NotebookAccessSourceCidrs", USER_CIDR.into()),
        ("AuditPolicyAdministratorArns", "".into()),
    ]
}

/// One probe of the matrix, as `tests/iam/evaluate.mjs` reads it.
#[derive(Debug, Clone)]
struct Probe(Value);

impl Probe {
    fn new(name: &str, principal: &str, action: &str, resource: &str) -> Self {
        Probe(json!({"name": name, "principal": principal, "action": action, "resource": resource, "context": {}}))
    }
    fn ctx(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0["context"][key] = value.into();
        self
    }
    fn tags(mut self, tags: &[(&str, &str)]) -> Self {
        for (key, value) in tags {
            self.0["context"][format!("aws:ResourceTag/{key}")] = json!(value);
        }
        self
    }
    fn ids(mut self, names: &[&str]) -> Self {
        self.0["identity_policies"] = json!(names);
        self
    }
    fn rp(mut self, name: &str) -> Self {
        self.0["resource_policy"] = json!(name);
        self
    }
    fn boundary(mut self, name: &str) -> Self {
        self.0["boundary"] = json!([name]);
        self
    }
    fn scp(mut self) -> Self {
        self.0["scps"] = json!(["scp"]);
        self
    }
    fn endpoint(mut self, name: &str) -> Self {
        self.0["endpoint_policies"] = json!([name]);
        self
    }
    fn account(mut self, account: &str) -> Self {
        self.0["resource_account"] = json!(account);
        self
    }
    fn allow(mut self) -> Value {
        self.0["expected"] = json!("allow");
        self.0
    }
    fn deny(mut self) -> Value {
        self.0["expected"] = json!("deny");
        self.0
    }
}

/// A put of one entry (or a batch) with these detail-types and sources.
fn put(name: &str, principal: &str, detail_types: &[&str], sources: &[&str], bus: &str, policy: &str) -> Probe {
    Probe::new(name, principal, "events:PutEvents", bus)
        .ctx("events:detail-type", json!(detail_types))
        .ctx("events:source", json!(sources))
        .rp(policy)
}

async fn managed_policy(iam: &aws_sdk_iam::Client, arn: &str) -> Result<Value> {
    let policy = iam.get_policy().policy_arn(arn).send().await?.policy.context("policy")?;
    let version = iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(policy.default_version_id().context("version")?)
        .send()
        .await?;
    inline_policy(version.policy_version().and_then(|v| v.document()).context("document")?)
}

async fn role_policy(iam: &aws_sdk_iam::Client, role_arn: &str, policy_name: &str) -> Result<Value> {
    let name = role_arn.rsplit('/').next().context("role name")?;
    let policy = iam.get_role_policy().role_name(name).policy_name(policy_name).send().await?;
    inline_policy(policy.policy_document())
}

fn resource<'a>(template: &'a Value, id: &str) -> &'a Value {
    &template["Resources"][id]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_policies_allow_exactly_what_the_matrix_says() -> Result<()> {
    let emulator = Emulator::start()?;
    let sdk = emulator.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let s3 = s3_client(&sdk);
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);

    // --- the stack ----------------------------------------------------------------------------------------
    let agent_key = agent_asset(AGENT_BYTES).key;
    let deployment = deploy(&sdk, STACK, &parameters(), &[("AgentObjectKey", agent_key.as_str())]).await?;
    let out = &deployment.outputs;
    let translated = &deployment.translated;
    let assets_bucket = out["AssetsBucketName"].clone();
    let audit_bucket = out["AuditBucketName"].clone();
    let bus = out["EventBusArn"].clone();
    let gateway_endpoint = out["S3GatewayEndpointId"].clone();
    publish_assets(&S3Assets::new(s3.clone(), &assets_bucket), &assets_bucket, AGENT_BYTES).await?;

    let function = |output: &str| -> Result<Value> {
        let name = out[output].rsplit(':').next().context("function name")?;
        lambda_get(&emulator.endpoint, &format!("/2015-03-31/functions/{name}"))
    };
    let (provisioner_fn, sweeper_fn) = (function("ProvisionerFunctionArn")?, function("IdleSweeperFunctionArn")?);
    let provisioner_role = provisioner_fn["Configuration"]["Role"].as_str().context("provisioner role")?.to_owned();
    let sweeper_role = sweeper_fn["Configuration"]["Role"].as_str().context("sweeper role")?.to_owned();
    assert!(provisioner_role.contains(":role/notebook-fleet/service/"), "{provisioner_role}");

    let mut documents = Map::new();
    documents.insert("provisioner".into(), role_policy(&iam, &provisioner_role, "provisioner").await?);
    documents.insert("idle-sweeper".into(), role_policy(&iam, &sweeper_role, "idle-sweeper").await?);
    documents.insert("boundary".into(), managed_policy(&iam, &out["PermissionsBoundaryArn"]).await?);
    documents.insert("user-policy".into(), managed_policy(&iam, &out["NotebookUserPolicyArn"]).await?);
    documents.insert("guardrails".into(), managed_policy(&iam, &out["HumanGuardrailPolicyArn"]).await?);
    let endpoints =
        aws_sdk_ec2::Client::new(&sdk).describe_vpc_endpoints().vpc_endpoint_ids(&gateway_endpoint).send().await?;
    let gateway_policy =
        endpoints.vpc_endpoints().first().and_then(|e| e.policy_document()).context("endpoint policy")?;
    documents.insert("s3-gateway-endpoint".into(), inline_policy(gateway_policy)?);

    // --- what moto does not keep, resolved from the translated template ---------------------------------------
    let mut resolution = Resolution::from_template(translated, STACK, &parameters())?;
    let listed = cfn.list_stack_resources().stack_name(STACK).send().await?;
    for summary in listed.stack_resource_summaries() {
        if let (Some(id), Some(physical)) = (summary.logical_resource_id(), summary.physical_resource_id()) {
            resolution.values.insert(id.to_owned(), json!(physical));
        }
    }
    for (id, value) in [
        ("ProvisionerRole", provisioner_role.clone()),
        ("IdleSweeperRole", sweeper_role.clone()),
        ("AuditBucket", format!("arn:aws:s3:::{audit_bucket}")),
        ("AssetsBucket", format!("arn:aws:s3:::{assets_bucket}")),
    ] {
        resolution.attributes.insert((id.to_owned(), "Arn".to_owned()), json!(value));
    }
    // The resolver agrees with moto's CloudFormation where moto keeps the document.
    for (id, name) in [
        ("NotebookPermissionsBoundary", "boundary"),
        ("NotebookUserPolicy", "user-policy"),
        ("NotebookFleetGuardrails", "guardrails"),
    ] {
        let resolved = resolution.resolve(translated, &resource(translated, id)["Properties"]["PolicyDocument"])?;
        assert_eq!(resolved, documents[name], "{id}: the resolver and moto disagree");
    }
    let resolve = |id: &str, path: &[&str]| -> Result<Value> {
        let mut node = &resource(translated, id)["Properties"];
        for key in path {
            node = &node[*key];
        }
        resolution.resolve(translated, node)
    };
    documents.insert("bus-policy".into(), resolve("EventBus", &["Policy"])?);
    documents.insert("audit-bucket-policy".into(), resolve("AuditBucketPolicy", &["PolicyDocument"])?);
    documents.insert("assets-bucket-policy".into(), resolve("AssetsBucketPolicy", &["PolicyDocument"])?);
    documents.insert("sts-endpoint".into(), resolve("StsEndpoint", &["PolicyDocument"])?);
    documents.insert("logs-endpoint".into(), resolve("LogsEndpoint", &["PolicyDocument"])?);
    documents.insert("sagemaker-endpoint".into(), resolve("SageMakerApiEndpoint", &["PolicyDocument"])?);
    // The sender map left at its defaults (nobody): the same template, every sender parameter empty.
    let defaults: Vec<(&str, String)> = parameters()
        .into_iter()
        .filter(|(name, _)| !name.contains("Principal") && !name.ends_with("EventSource"))
        .collect();
    let mut empty_map = Resolution::from_template(translated, STACK, &defaults)?;
    empty_map.values.extend(
        resolution
            .values
            .iter()
            .filter(|(k, _)| translated["Parameters"].get(k.as_str()).is_none())
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    empty_map.attributes = resolution.attributes.clone();
    let empty_bus = empty_map.resolve(translated, &resource(translated, "EventBus")["Properties"]["Policy"])?;
    assert_eq!(empty_bus["Statement"][0]["Condition"]["StringNotEquals"]["aws:PrincipalArn"], json!([""]));
    documents.insert("bus-policy-empty-map".into(), empty_bus);

    // --- the SCP, its placeholders filled as docs/DEPLOY.md says ---------------------------------------------
    let scp_text = std::fs::read_to_string(repo_root().join("infra/scp-notebook-fleet.json"))?
        .replace("{{FLEET_SERVICE_ROLE_ARN_PATTERN}}", FLEET_ROLE_PATTERN)
        .replace("{{AUDIT_BUCKET_NAME}}", &audit_bucket);
    assert!(!scp_text.contains("{{"), "a placeholder is left: {scp_text}");
    let scp: Value = serde_json::from_str(&scp_text)?;
    assert!(serde_json::to_string(&scp)?.len() <= 5120, "an SCP holds at most 5,120 characters");
    // The SCP and the guardrail policy are the same statements (the policy's root statements are there by
    // default, AllowRootAccess=false), up to the ARNs' account and region.
    let sids = |d: &Value| -> Vec<String> {
        d["Statement"]
            .as_array()
            .map(|s| s.iter().filter_map(|s| s["Sid"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    assert_eq!(sids(&scp), sids(&documents["guardrails"]), "the SCP and the guardrail policy drifted apart");
    documents.insert("scp".into(), scp);

    // --- the notebook roles the real provisioner creates ------------------------------------------------------
    // The entitlements document (its format: docs/DEPLOY.md) where the stack says it is.
    integration_tests::platform::create_bucket(&s3, ENTITLEMENTS_BUCKET).await?;
    let entitlements = json!({"version": 1, "rules": [
        {"team": "risk", "bucket": "team-data", "prefix": "risk/{owner}/", "access": "read-write"},
        {"team": "risk", "bucket": "shared-data", "prefix": "reference/", "access": "read"}
    ], "kms_keys": []});
    s3.put_object()
        .bucket(ENTITLEMENTS_BUCKET)
        .key(ENTITLEMENTS_KEY)
        .body(entitlements.to_string().into_bytes().into())
        .send()
        .await?;

    let env = environment(&provisioner_fn);
    // As the function starts: the environment the stack gave it, and the entitlements document it names.
    let config = load_entitlements(
        &s3,
        fleet::config::provisioner_settings(&fleet::config::Vars::new(|name| env.get(name).cloned()))?,
    )
    .await?;
    // Each request from the source the stack's sender map names for its kind.
    let source = |kind: &str| -> Result<String> {
        config.senders.sources_of(kind).next().map(str::to_owned).with_context(|| format!("no sender for {kind}"))
    };
    let (portal, identity, approvals) =
        (source(NOTEBOOK_REQUESTED)?, source(OWNER_DEACTIVATED)?, source(CUSTODIAN_ACCESS_REQUESTED)?);
    let clients = ProvisionerClients {
        ec2: aws_sdk_ec2::Client::new(&sdk),
        iam: iam.clone(),
        sagemaker: aws_sdk_sagemaker::Client::new(&sdk),
        tagging: aws_sdk_resourcegroupstagging::Client::new(&sdk),
        eventbridge: aws_sdk_eventbridge::Client::new(&sdk),
        s3: s3.clone(),
    };
    let provisioner = AwsProvisioner::from_clients(clients, config).with_retry(fleet::service::RetryPolicy {
        attempts: 4,
        first_delay: std::time::Duration::from_millis(50),
        max_delay: std::time::Duration::from_millis(200),
    });
    let owned =
        provisioner.handle_at(&portal, NOTEBOOK_REQUESTED, &notebook_requested("matrix-1", "alice-nb"), now()).await?;
    let OutcomeEvent::Provisioned(owned) = &owned else { anyhow::bail!("not provisioned: {owned:?}") };
    let notebook_role = owned.role_arn.clone();
    documents.insert("notebook-role".into(), role_policy(&iam, &notebook_role, NOTEBOOK_POLICY_NAME).await?);
    let deactivated = provisioner
        .handle_at(
            &identity,
            OWNER_DEACTIVATED,
            &DeactivationRequest::new("matrix-2", "alice").with_reason("left").detail(),
            now(),
        )
        .await?;
    assert!(matches!(deactivated, OutcomeEvent::OwnerDeactivationCompleted(_)), "{deactivated:?}");
    documents.insert("notebook-role-locked".into(), role_policy(&iam, &notebook_role, NOTEBOOK_POLICY_NAME).await?);
    let custody = CustodianRequest::new("matrix-3", "alice").detail();
    let granted = provisioner.handle_at(&approvals, CUSTODIAN_ACCESS_REQUESTED, &custody, now()).await?;
    let OutcomeEvent::CustodianGranted(granted) = &granted else { anyhow::bail!("not granted: {granted:?}") };
    assert_eq!(granted.expires_at, now() + chrono::Duration::hours(24));
    let custodian_role = granted.role_arn.clone();
    documents.insert("custodian-role".into(), role_policy(&iam, &custodian_role, NOTEBOOK_POLICY_NAME).await?);

    // --- stand-ins, each for a document outside the project ---------------------------------------------------
    let allow = |action: &str, resource: &str| {
        json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": action, "Resource": resource}]})
    };
    documents.insert("sender-own-policy".into(), allow("events:PutEvents", "*"));
    documents.insert("admin-full-access".into(), allow("*", "*"));
    documents.insert("may-assume-roles".into(), allow("sts:AssumeRole", "*"));
    documents.insert("may-write-logs".into(), allow("logs:PutLogEvents", "*"));
    documents.insert(
        "entitlement-key-grant".into(),
        allow("kms:Decrypt", &format!("arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/*")),
    );
    // A key policy that lets the account's IAM policies grant the key, as docs/DEPLOY.md asks of a data key.
    documents.insert("key-policy-delegates-to-iam".into(), json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_ID}:root")}, "Action": "kms:*", "Resource": "*"}]}));
    documents.insert("trust-this-account".into(), json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_ID}:root")}, "Action": "sts:AssumeRole"}]}));

    let probes = probes(&Facts {
        bus: &bus,
        audit_bucket: &audit_bucket,
        assets_bucket: &assets_bucket,
        agent_key: &agent_key,
        gateway_endpoint: &gateway_endpoint,
        provisioner_role: &provisioner_role,
        sweeper_role: &sweeper_role,
        notebook_role: &notebook_role,
        custodian_role: &custodian_role,
        boundary_arn: &out["PermissionsBoundaryArn"],
        subnets: out["NotebookSubnetIds"].split(',').collect(),
        security_group: &out["NotebookSecurityGroupId"],
    });
    assert!(probes.len() >= 60, "{} probes", probes.len());

    // --- the evaluator ---------------------------------------------------------------------------------------
    let input = std::env::temp_dir().join(format!("notebook-fleet-iam-matrix-{}.json", std::process::id()));
    std::fs::write(&input, serde_json::to_vec_pretty(&json!({"documents": documents, "probes": probes}))?)?;
    let simulate_dir = installed_tool(
        IAM_SIMULATE_VAR,
        "iam-simulate",
        "the IAM matrix needs the pinned evaluator: run scripts/test.sh or `source scripts/lib.sh && ensure_iam_simulate`",
    )?;
    let output = Command::new("node")
        .arg(repo_root().join("tests/iam/evaluate.mjs"))
        .arg(&input)
        .env(IAM_SIMULATE_VAR, &simulate_dir)
        .output()
        .context("running node (Node.js 20 or newer) for tests/iam/evaluate.mjs")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    let _ = std::fs::remove_file(&input);
    let counts: HashMap<&str, usize> = stdout
        .lines()
        .rfind(|l| l.starts_with("probes="))
        .context("the runner printed no counts")?
        .split_whitespace()
        .filter_map(|field| field.split_once('='))
        .map(|(k, v)| Ok((k, v.parse()?)))
        .collect::<Result<_>>()?;
    assert_eq!(counts["probes"], probes.len(), "every probe evaluated");
    assert_eq!(counts["mismatches"], 0, "the matrix has mismatches (table above)");
    assert!(output.status.success(), "the runner failed: {}", output.status);
    // Both decisions are exercised, and what the evaluator cannot model stays a small, named remainder.
    assert!(counts["allowed"] >= 20 && counts["denied"] >= 40, "{counts:?}");
    assert!(counts["not_modelled"] <= 5, "{counts:?}");
    if counts["probes"] < 60 {
        bail!("fewer than 60 probes");
    }
    Ok(())
}

/// The physical names the probes need.
#[derive(Debug)]
struct Facts<'a> {
    bus: &'a str,
    audit_bucket: &'a str,
    assets_bucket: &'a str,
    agent_key: &'a str,
    gateway_endpoint: &'a str,
    provisioner_role: &'a str,
    sweeper_role: &'a str,
    notebook_role: &'a str,
    custodian_role: &'a str,
    boundary_arn: &'a str,
    subnets: Vec<&'a str>,
    security_group: &'a str,
}

fn probes(f: &Facts<'_>) -> Vec<Value> {
    let hr = account_role("hr-sender");
    let admin = account_role("platform-admin");
    let alice = account_role("alice-analyst");
    let notebook = |name: &str| format!("arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:notebook-instance/{name}");
    let lifecycle =
        format!("arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:notebook-instance-lifecycle-config/nbf-on-start-0a1b2c");
    let audit = |key: &str| format!("arn:aws:s3:::{}/{key}", f.audit_bucket);
    let object = |bucket: &str, key: &str| format!("arn:aws:s3:::{bucket}/{key}");
    let managed = [("notebook-fleet:managed-by", "notebook-fleet"), ("notebook-fleet:owner", "alice")];
    let sender = ["sender-own-policy"];
    let mut p = Vec::new();

    // --- the sender map: each sender its own kinds with its own source, nobody else --------------------------
    let portal_kinds =
        ["Notebook Requested", "Notebook Stop Requested", "Notebook Start Requested", "Notebook Idle Snooze Requested"];
    for kind in portal_kinds {
        p.push(
            put(&format!("bus: the portal sends {kind}"), PORTAL, &[kind], &["platform.portal"], f.bus, "bus-policy")
                .ids(&sender)
                .allow(),
        );
    }
    for kind in ["Owner Deactivated", "Custodian Access Requested", "Notebook Decommission Requested"] {
        p.push(
            put(&format!("bus: the portal sends {kind}"), PORTAL, &[kind], &["platform.portal"], f.bus, "bus-policy")
                .ids(&sender)
                .deny(),
        );
    }
    p.push(
        put(
            "bus: the portal with another source",
            PORTAL,
            &["Notebook Requested"],
            &["platform.hr"],
            f.bus,
            "bus-policy",
        )
        .ids(&sender)
        .deny(),
    );
    p.push(
        put(
            "bus: the portal slips a deactivation into a batch",
            PORTAL,
            &["Notebook Requested", "Owner Deactivated"],
            &["platform.portal"],
            f.bus,
            "bus-policy",
        )
        .ids(&sender)
        .deny(),
    );
    p.push(
        put(
            "bus: the identity system sends Owner Deactivated",
            &hr,
            &["Owner Deactivated"],
            &["platform.hr"],
            f.bus,
            "bus-policy",
        )
        .ids(&sender)
        .allow(),
    );
    p.push(
        put(
            "bus: the identity system sends Notebook Requested",
            &hr,
            &["Notebook Requested"],
            &["platform.portal"],
            f.bus,
            "bus-policy",
        )
        .ids(&sender)
        .deny(),
    );
    p.push(
        put(
            "bus: the identity system with the portal's source",
            &hr,
            &["Owner Deactivated"],
            &["platform.portal"],
            f.bus,
            "bus-policy",
        )
        .ids(&sender)
        .deny(),
    );
    for kind in ["Custodian Access Requested", "Notebook Decommission Requested"] {
        p.push(
            put(
                &format!("bus: approvals sends {kind}"),
                APPROVALS,
                &[kind],
                &["platform.approvals"],
                f.bus,
                "bus-policy",
            )
            .ids(&sender)
            .allow(),
        );
    }
    p.push(
        put(
            "bus: approvals sends Notebook Requested",
            APPROVALS,
            &["Notebook Requested"],
            &["platform.approvals"],
            f.bus,
            "bus-policy",
        )
        .ids(&sender)
        .deny(),
    );
    p.push(
        put(
            "bus: approvals sends Owner Deactivated",
            APPROVALS,
            &["Owner Deactivated"],
            &["platform.hr"],
            f.bus,
            "bus-policy",
        )
        .ids(&sender)
        .deny(),
    );
    p.push(
        put(
            "bus: another account sends Notebook Requested",
            STRANGER,
            &["Notebook Requested"],
            &["platform.portal"],
            f.bus,
            "bus-policy",
        )
        .ids(&sender)
        .deny(),
    );
    p.push(
        put(
            "bus: an administrator sends Notebook Requested",
            &admin,
            &["Notebook Requested"],
            &["platform.portal"],
            f.bus,
            "bus-policy",
        )
        .ids(&["admin-full-access"])
        .deny(),
    );
    p.push(
        put(
            "bus: an administrator sends Owner Deactivated",
            &admin,
            &["Owner Deactivated"],
            &["platform.hr"],
            f.bus,
            "bus-policy",
        )
        .ids(&["admin-full-access"])
        .deny(),
    );
    p.push(
        put(
            "bus: an administrator sends Custodian Access Requested",
            &admin,
            &["Custodian Access Requested"],
            &["platform.approvals"],
            f.bus,
            "bus-policy",
        )
        .ids(&["admin-full-access"])
        .deny(),
    );
    p.push(
        put(
            "bus: the portal forges Notebook Provisioned",
            PORTAL,
            &["Notebook Provisioned"],
            &["notebook-fleet"],
            f.bus,
            "bus-policy",
        )
        .ids(&sender)
        .deny(),
    );
    p.push(
        put(
            "bus: an administrator forges Notebook Provisioned",
            &admin,
            &["Notebook Provisioned"],
            &["notebook-fleet"],
            f.bus,
            "bus-policy",
        )
        .ids(&["admin-full-access"])
        .deny(),
    );
    p.push(
        put(
            "bus: the identity system forges Notebook Locked",
            &hr,
            &["Notebook Locked"],
            &["notebook-fleet"],
            f.bus,
            "bus-policy",
        )
        .ids(&sender)
        .deny(),
    );
    p.push(
        put(
            "bus: the provisioner publishes Notebook Provisioned",
            f.provisioner_role,
            &["Notebook Provisioned"],
            &["notebook-fleet"],
            f.bus,
            "bus-policy",
        )
        .ids(&["provisioner"])
        .allow(),
    );
    p.push(
        put(
            "bus: the sweeper publishes Notebook Stopped",
            f.sweeper_role,
            &["Notebook Stopped"],
            &["notebook-fleet"],
            f.bus,
            "bus-policy",
        )
        .ids(&["idle-sweeper"])
        .allow(),
    );
    p.push(
        put(
            "bus: the provisioner sends itself a request",
            f.provisioner_role,
            &["Notebook Requested"],
            &["notebook-fleet"],
            f.bus,
            "bus-policy",
        )
        .ids(&["provisioner"])
        .deny(),
    );
    p.push(
        put(
            "bus: the provisioner with another source",
            f.provisioner_role,
            &["Notebook Provisioned"],
            &["platform.portal"],
            f.bus,
            "bus-policy",
        )
        .ids(&["provisioner"])
        .deny(),
    );
    p.push(
        put(
            "bus (empty map): the portal sends Notebook Requested",
            PORTAL,
            &["Notebook Requested"],
            &["platform.portal"],
            f.bus,
            "bus-policy-empty-map",
        )
        .ids(&sender)
        .deny(),
    );
    p.push(
        put(
            "bus (empty map): an administrator sends Owner Deactivated",
            &admin,
            &["Owner Deactivated"],
            &["platform.hr"],
            f.bus,
            "bus-policy-empty-map",
        )
        .ids(&["admin-full-access"])
        .deny(),
    );
    p.push(
        put(
            "bus (empty map): the provisioner still publishes",
            f.provisioner_role,
            &["Notebook Provisioned"],
            &["notebook-fleet"],
            f.bus,
            "bus-policy-empty-map",
        )
        .ids(&["provisioner"])
        .allow(),
    );

    // --- the provisioner's role: only isolated notebooks, only bounded roles ---------------------------------
    let create = |name: &str| {
        Probe::new(name, f.provisioner_role, "sagemaker:CreateNotebookInstance", &notebook("new-nb"))
            .ids(&["provisioner"])
            .ctx("sagemaker:DirectInternetAccess", "Disabled")
            .ctx("sagemaker:RootAccess", "Disabled")
            .ctx("sagemaker:MinimumInstanceMetadataServiceVersion", "2")
            .ctx("sagemaker:InstanceTypes", json!(["ml.t3.medium"]))
            .ctx("sagemaker:VpcSubnets", json!([f.subnets[0]]))
            .ctx("sagemaker:VpcSecurityGroupIds", json!([f.security_group]))
            .ctx("sagemaker:NotebookInstanceLifecycleConfigArns", json!([lifecycle]))
            .ctx("aws:RequestTag/notebook-fleet:managed-by", "notebook-fleet")
            .ctx("aws:TagKeys", json!(["notebook-fleet:managed-by", "notebook-fleet:owner"]))
    };
    // The role's own fences, without the SCP; and that the SCP leaves the fleet its work.
    p.push(create("provisioner: creates an isolated notebook").allow());
    p.push(create("provisioner (under the SCP): creates an isolated notebook").scp().allow());
    p.push(
        create("provisioner: a notebook with internet access").ctx("sagemaker:DirectInternetAccess", "Enabled").deny(),
    );
    p.push(create("provisioner: a notebook with root access").ctx("sagemaker:RootAccess", "Enabled").deny());
    p.push(
        create("provisioner: a notebook in another subnet")
            .ctx("sagemaker:VpcSubnets", json!(["subnet-0ffffffffffffffff"]))
            .deny(),
    );
    p.push(
        create("provisioner: a notebook with another security group")
            .ctx("sagemaker:VpcSecurityGroupIds", json!([f.security_group, "sg-0ffffffffffffffff"]))
            .deny(),
    );
    p.push(
        create("provisioner: an instance type not allowed")
            .ctx("sagemaker:InstanceTypes", json!(["ml.p4d.24xlarge"]))
            .deny(),
    );
    p.push(
        create("provisioner: a notebook with IMDSv1")
            .ctx("sagemaker:MinimumInstanceMetadataServiceVersion", "1")
            .deny(),
    );
    p.push(create("provisioner: an accelerator").ctx("sagemaker:AcceleratorTypes", json!(["ml.eia2.medium"])).deny());
    p.push(
        create("provisioner: an untagged notebook").ctx("aws:RequestTag/notebook-fleet:managed-by", "someone").deny(),
    );
    let new_role = format!("arn:aws:iam::{ACCOUNT_ID}:role/notebook-fleet/notebooks/nbf-new-nb");
    let create_role = |name: &str, role: &str| {
        Probe::new(name, f.provisioner_role, "iam:CreateRole", role)
            .ids(&["provisioner"])
            .ctx("aws:RequestTag/notebook-fleet:managed-by", "notebook-fleet")
            .ctx("aws:TagKeys", json!(["notebook-fleet:managed-by"]))
    };
    p.push(
        create_role("provisioner: creates a notebook role under the boundary", &new_role)
            .ctx("iam:PermissionsBoundary", f.boundary_arn)
            .allow(),
    );
    p.push(
        create_role("provisioner (under the SCP): creates a notebook role", &new_role)
            .ctx("iam:PermissionsBoundary", f.boundary_arn)
            .scp()
            .allow(),
    );
    p.push(create_role("provisioner: a role without the boundary", &new_role).deny());
    p.push(
        create_role("provisioner: a role under another boundary", &new_role)
            .ctx("iam:PermissionsBoundary", format!("arn:aws:iam::{ACCOUNT_ID}:policy/AdministratorAccess"))
            .deny(),
    );
    p.push(
        create_role("provisioner: a role outside its path", &account_role("nbf-escape"))
            .ctx("iam:PermissionsBoundary", f.boundary_arn)
            .deny(),
    );
    let pass = |name: &str, role: &str, service: &str| {
        Probe::new(name, f.provisioner_role, "iam:PassRole", role)
            .ids(&["provisioner"])
            .ctx("iam:PassedToService", service)
    };
    p.push(pass("provisioner: passes a notebook role to SageMaker", &new_role, "sagemaker.amazonaws.com").allow());
    p.push(
        pass("provisioner (under the SCP): passes a notebook role", &new_role, "sagemaker.amazonaws.com").scp().allow(),
    );
    p.push(pass("provisioner: passes its own role", f.provisioner_role, "sagemaker.amazonaws.com").deny());
    p.push(
        pass("provisioner: passes a role outside its path", &account_role("admin"), "sagemaker.amazonaws.com").deny(),
    );
    p.push(pass("provisioner: passes a notebook role to Lambda", &new_role, "lambda.amazonaws.com").deny());
    p.push(
        Probe::new(
            "provisioner: an inline policy on an unbounded role",
            f.provisioner_role,
            "iam:PutRolePolicy",
            &new_role,
        )
        .ids(&["provisioner"])
        .deny(),
    );
    let tag = |name: &str, keys: &[&str]| {
        Probe::new(name, f.provisioner_role, "sagemaker:AddTags", &notebook("alice-nb"))
            .ids(&["provisioner"])
            .tags(&managed)
            .ctx("aws:TagKeys", json!(keys))
    };
    p.push(tag("provisioner: sets a snooze on a managed notebook", &["notebook-fleet:idle-exempt-until"]).allow());
    p.push(tag("provisioner (under the SCP): sets a snooze", &["notebook-fleet:idle-exempt-until"]).scp().allow());
    p.push(tag("provisioner: rewrites an owner tag", &["notebook-fleet:owner"]).deny());
    let read = |name: &str, resource: &str| {
        Probe::new(name, f.provisioner_role, "s3:GetObject", resource).ids(&["provisioner"]).account(ACCOUNT_ID)
    };
    p.push(
        read("provisioner: reads the entitlements document", &object(ENTITLEMENTS_BUCKET, ENTITLEMENTS_KEY)).allow(),
    );
    p.push(
        read("provisioner: reads another object of that bucket", &object(ENTITLEMENTS_BUCKET, "other/secrets.json"))
            .deny(),
    );

    // --- the audit bucket: the fleet appends, nobody overwrites or deletes ----------------------------------
    let audit_op = |name: &str, principal: &str, ids: &[&str], action: &str, key: &str| {
        Probe::new(name, principal, action, &audit(key)).ids(ids).rp("audit-bucket-policy").account(ACCOUNT_ID)
    };
    let record = "notebooks/alice-nb/2026-11-23T09:00:00Z_Notebook-Provisioned_0a1b.json";
    p.push(
        audit_op(
            "audit: the provisioner appends a record",
            f.provisioner_role,
            &["provisioner"],
            "s3:PutObject",
            record,
        )
        .scp()
        .ctx("s3:if-none-match", "*")
        .allow(),
    );
    let ledger_answer = "ledger/notebook-requested/req-1/answer.json";
    p.push(
        audit_op(
            "audit: the provisioner claims a request's answer in the ledger",
            f.provisioner_role,
            &["provisioner"],
            "s3:PutObject",
            ledger_answer,
        )
        .scp()
        .ctx("s3:if-none-match", "*")
        .allow(),
    );
    p.push(
        audit_op(
            "audit: the provisioner replaces a claimed answer (no If-None-Match)",
            f.provisioner_role,
            &["provisioner"],
            "s3:PutObject",
            ledger_answer,
        )
        .deny(),
    );
    p.push(
        audit_op(
            "audit: the sweeper claims a request's answer",
            f.sweeper_role,
            &["idle-sweeper"],
            "s3:PutObject",
            ledger_answer,
        )
        .ctx("s3:if-none-match", "*")
        .deny(),
    );
    p.push(
        audit_op(
            "audit: the provisioner overwrites (no If-None-Match)",
            f.provisioner_role,
            &["provisioner"],
            "s3:PutObject",
            record,
        )
        .deny(),
    );
    p.push(
        audit_op(
            "audit: the provisioner, even with s3:*, deletes a record",
            f.provisioner_role,
            &["admin-full-access"],
            "s3:DeleteObject",
            record,
        )
        .deny(),
    );
    p.push(
        audit_op(
            "audit: the sweeper appends a record",
            f.sweeper_role,
            &["idle-sweeper"],
            "s3:PutObject",
            "owners/alice/x.json",
        )
        .scp()
        .ctx("s3:if-none-match", "*")
        .allow(),
    );
    p.push(
        audit_op("audit: an administrator writes a record", &admin, &["admin-full-access"], "s3:PutObject", record)
            .ctx("s3:if-none-match", "*")
            .deny(),
    );
    p.push(
        audit_op(
            "audit: an administrator deletes a version",
            &admin,
            &["admin-full-access"],
            "s3:DeleteObjectVersion",
            record,
        )
        .deny(),
    );
    p.push(
        audit_op(
            "audit: an administrator bypasses governance",
            &admin,
            &["admin-full-access"],
            "s3:BypassGovernanceRetention",
            record,
        )
        .deny(),
    );
    p.push(
        audit_op(
            "audit: an administrator shortens a retention",
            &admin,
            &["admin-full-access"],
            "s3:PutObjectRetention",
            record,
        )
        .deny(),
    );
    p.push(
        audit_op(
            "audit: the provisioner reads a record's version",
            f.provisioner_role,
            &["provisioner"],
            "s3:GetObjectVersion",
            record,
        )
        .allow(),
    );
    p.push(
        audit_op(
            "audit: a notebook role, even with s3:*, reads a record",
            f.notebook_role,
            &["admin-full-access"],
            "s3:GetObject",
            record,
        )
        .deny(),
    );
    let list_versions = |name: &str, principal: &str, ids: &[&str], prefix: &str| {
        Probe::new(name, principal, "s3:ListBucketVersions", &format!("arn:aws:s3:::{}", f.audit_bucket))
            .ids(ids)
            .rp("audit-bucket-policy")
            .account(ACCOUNT_ID)
            .ctx("s3:prefix", prefix)
    };
    p.push(
        list_versions(
            "audit: the provisioner lists an owner's versions",
            f.provisioner_role,
            &["provisioner"],
            "owners/alice/",
        )
        .allow(),
    );
    p.push(
        list_versions(
            "audit: the sweeper lists a notebook's versions",
            f.sweeper_role,
            &["idle-sweeper"],
            "notebooks/alice-nb/",
        )
        .allow(),
    );
    p.push(
        list_versions(
            "audit: the provisioner lists a request's ledger entry",
            f.provisioner_role,
            &["provisioner"],
            "ledger/notebook-requested/req-1/",
        )
        .allow(),
    );
    p.push(
        list_versions("audit: the sweeper lists request records", f.sweeper_role, &["idle-sweeper"], "requests/")
            .deny(),
    );
    p.push(
        list_versions(
            "audit: the sweeper lists the day's sweep journals",
            f.sweeper_role,
            &["idle-sweeper"],
            "journal/2026-11-23/",
        )
        .allow(),
    );
    let intents = "journal/2026-11-23/20261123T120000.000Z/intents.json";
    p.push(
        audit_op(
            "audit: the sweeper writes its intents before acting",
            f.sweeper_role,
            &["idle-sweeper"],
            "s3:PutObject",
            intents,
        )
        .scp()
        .ctx("s3:if-none-match", "*")
        .allow(),
    );
    p.push(
        audit_op(
            "audit: the sweeper rewrites its intents (no If-None-Match)",
            f.sweeper_role,
            &["idle-sweeper"],
            "s3:PutObject",
            intents,
        )
        .deny(),
    );
    p.push(
        audit_op(
            "audit: the sweeper reads an open journal's intents",
            f.sweeper_role,
            &["idle-sweeper"],
            "s3:GetObjectVersion",
            intents,
        )
        .allow(),
    );
    // The daily leftover run: notebook roles and fleet lifecycle configurations no notebook uses.
    let leftover_role = format!("arn:aws:iam::{ACCOUNT_ID}:role/notebook-fleet/notebooks/nbf-died");
    let remove = |name: &str, action: &str, resource: &str| {
        Probe::new(name, f.sweeper_role, action, resource).ids(&["idle-sweeper"])
    };
    p.push(remove("leftovers: the sweeper lists the roles", "iam:ListRoles", "*").allow());
    p.push(
        remove("leftovers: the sweeper deletes an unused notebook role", "iam:DeleteRole", &leftover_role)
            .tags(&managed)
            .allow(),
    );
    p.push(
        remove("leftovers (under the SCP): the sweeper deletes a notebook role", "iam:DeleteRole", &leftover_role)
            .tags(&managed)
            .scp()
            .allow(),
    );
    p.push(
        remove("leftovers: the sweeper deletes its inline policy", "iam:DeleteRolePolicy", &leftover_role)
            .tags(&managed)
            .allow(),
    );
    p.push(
        remove(
            "leftovers: the sweeper deletes an untagged role on the notebook path",
            "iam:DeleteRole",
            &leftover_role,
        )
        .deny(),
    );
    p.push(
        remove(
            "leftovers: the sweeper deletes a service role",
            "iam:DeleteRole",
            &format!("arn:aws:iam::{ACCOUNT_ID}:role/notebook-fleet/service/nbf-provisioner"),
        )
        .tags(&managed)
        .deny(),
    );
    p.push(
        remove("leftovers: the sweeper deletes a role elsewhere", "iam:DeleteRole", &account_role("nbf-x"))
            .tags(&managed)
            .deny(),
    );
    p.push(
        remove(
            "leftovers: the sweeper deletes a fleet lifecycle configuration",
            "sagemaker:DeleteNotebookInstanceLifecycleConfig",
            &lifecycle,
        )
        .allow(),
    );
    p.push(
        remove(
            "leftovers: the sweeper deletes a team's lifecycle configuration",
            "sagemaker:DeleteNotebookInstanceLifecycleConfig",
            &format!("arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:notebook-instance-lifecycle-config/team-on-start"),
        )
        .deny(),
    );
    p.push(
        Probe::new(
            "leftovers: the provisioner deletes a lifecycle configuration",
            f.provisioner_role,
            "sagemaker:DeleteNotebookInstanceLifecycleConfig",
            &lifecycle,
        )
        .ids(&["provisioner"])
        .deny(),
    );
    let removal = "requests/leftovers-2026-12-02/2026-12-02T12:00:00Z_Fleet-Leftover-Removal_0a1b.json";
    p.push(
        audit_op(
            "audit: the sweeper records a leftover removal",
            f.sweeper_role,
            &["idle-sweeper"],
            "s3:PutObject",
            removal,
        )
        .scp()
        .ctx("s3:if-none-match", "*")
        .allow(),
    );
    p.push(
        audit_op(
            "audit: the provisioner writes into the sweep journal",
            f.provisioner_role,
            &["provisioner"],
            "s3:PutObject",
            intents,
        )
        .ctx("s3:if-none-match", "*")
        .deny(),
    );
    let bucket_op = |name: &str, action: &str| {
        Probe::new(name, &admin, action, &format!("arn:aws:s3:::{}", f.audit_bucket))
            .ids(&["admin-full-access"])
            .rp("audit-bucket-policy")
            .account(ACCOUNT_ID)
    };
    p.push(bucket_op("audit: an administrator replaces the bucket policy", "s3:PutBucketPolicy").deny());
    p.push(bucket_op("audit: an administrator changes Object Lock", "s3:PutBucketObjectLockConfiguration").deny());
    p.push(
        bucket_op("audit: a stack update replaces the bucket policy", "s3:PutBucketPolicy")
            .ids(&["admin-full-access", "guardrails"])
            .scp()
            .ctx("aws:CalledVia", json!(["cloudformation.amazonaws.com"]))
            .allow(),
    );

    // --- who opens which notebook ---------------------------------------------------------------------------
    let open = |name: &str, nb: &str, tags: &[(&str, &str)]| {
        Probe::new(name, &alice, "sagemaker:CreatePresignedNotebookInstanceUrl", &notebook(nb))
            .ids(&["user-policy"])
            .tags(tags)
            .ctx("aws:PrincipalTag/notebook-fleet-owner", "alice")
            .ctx("aws:SourceIp", "203.0.113.7")
    };
    p.push(open("user: alice opens her notebook", "alice-nb", &managed).allow());
    p.push(
        open(
            "user: alice opens bob's notebook",
            "bob-nb",
            &[("notebook-fleet:managed-by", "notebook-fleet"), ("notebook-fleet:owner", "bob")],
        )
        .deny(),
    );
    p.push(
        open("user: alice opens an unmanaged notebook tagged hers", "side-nb", &[("notebook-fleet:owner", "alice")])
            .deny(),
    );
    p.push(
        open("user: alice opens hers from another network", "alice-nb", &managed)
            .ctx("aws:SourceIp", "198.51.100.9")
            .deny(),
    );
    p.push(
        Probe::new(
            "user: alice opens hers through the allowed endpoint",
            &alice,
            "sagemaker:CreatePresignedNotebookInstanceUrl",
            &notebook("alice-nb"),
        )
        .ids(&["user-policy"])
        .tags(&managed)
        .ctx("aws:PrincipalTag/notebook-fleet-owner", "alice")
        .ctx("aws:SourceVpce", USER_VPCE)
        .allow(),
    );
    p.push(
        Probe::new(
            "user: someone without the owner tag opens alice's",
            &account_role("mallory"),
            "sagemaker:CreatePresignedNotebookInstanceUrl",
            &notebook("alice-nb"),
        )
        .ids(&["user-policy"])
        .tags(&managed)
        .ctx("aws:SourceIp", "203.0.113.7")
        .deny(),
    );
    p.push(
        Probe::new(
            "user: alice describes her notebook",
            &alice,
            "sagemaker:DescribeNotebookInstance",
            &notebook("alice-nb"),
        )
        .ids(&["user-policy"])
        .tags(&managed)
        .ctx("aws:PrincipalTag/notebook-fleet-owner", "alice")
        .allow(),
    );
    p.push(
        Probe::new(
            "user: alice starts her notebook herself",
            &alice,
            "sagemaker:StartNotebookInstance",
            &notebook("alice-nb"),
        )
        .ids(&["user-policy"])
        .tags(&managed)
        .ctx("aws:PrincipalTag/notebook-fleet-owner", "alice")
        .deny(),
    );

    // --- guardrails for people: the managed policy, and the SCP -------------------------------------------
    for (layer, ids, scp) in
        [("guardrails", &["admin-full-access", "guardrails"][..], false), ("SCP", &["admin-full-access"][..], true)]
    {
        let human = |name: &str, action: &str, resource: &str| {
            let probe = Probe::new(&format!("{layer}: {name}"), &admin, action, resource).ids(ids);
            if scp {
                probe.scp()
            } else {
                probe
            }
        };
        p.push(
            human("an administrator rewrites an owner tag", "sagemaker:AddTags", &notebook("alice-nb"))
                .tags(&managed)
                .ctx("aws:TagKeys", json!(["notebook-fleet:owner"]))
                .deny(),
        );
        p.push(
            human("an administrator removes a lock tag", "sagemaker:DeleteTags", &notebook("alice-nb"))
                .tags(&managed)
                .ctx("aws:TagKeys", json!(["notebook-fleet:locked-at"]))
                .deny(),
        );
        p.push(
            human(
                "an administrator starts a locked notebook",
                "sagemaker:StartNotebookInstance",
                &notebook("alice-nb"),
            )
            .tags(&managed)
            .ctx("aws:ResourceTag/notebook-fleet:locked-at", "2026-11-23T09:00:00Z")
            .deny(),
        );
        p.push(
            human(
                "an administrator creates a notebook with internet access",
                "sagemaker:CreateNotebookInstance",
                &notebook("x"),
            )
            .ctx("sagemaker:DirectInternetAccess", "Enabled")
            .ctx("sagemaker:RootAccess", "Disabled")
            .ctx("sagemaker:NotebookInstanceLifecycleConfigArns", json!([lifecycle]))
            .deny(),
        );
        p.push(
            human(
                "an administrator creates a notebook without a lifecycle config",
                "sagemaker:CreateNotebookInstance",
                &notebook("x"),
            )
            .ctx("sagemaker:DirectInternetAccess", "Disabled")
            .ctx("sagemaker:RootAccess", "Disabled")
            .deny(),
        );
        p.push(
            human("an administrator writes an audit record", "s3:PutObject", &audit(record))
                .account(ACCOUNT_ID)
                .ctx("s3:if-none-match", "*")
                .deny(),
        );
        p.push(
            human("an administrator passes the provisioner's role", "iam:PassRole", f.provisioner_role)
                .ctx("iam:PassedToService", "lambda.amazonaws.com")
                .deny(),
        );
    }
    let human = |name: &str, action: &str, resource: &str| {
        Probe::new(&format!("guardrails: {name}"), &admin, action, resource).ids(&["admin-full-access", "guardrails"])
    };
    p.push(
        human("an administrator tags a notebook with a project tag", "sagemaker:AddTags", &notebook("alice-nb"))
            .tags(&managed)
            .ctx("aws:TagKeys", json!(["project"]))
            .allow(),
    );
    p.push(
        human(
            "an administrator starts an expired custodian notebook",
            "sagemaker:StartNotebookInstance",
            &notebook("carol-custody"),
        )
        .tags(&managed)
        .ctx("aws:ResourceTag/notebook-fleet:access-revoked-at", "2026-11-24T09:05:00Z")
        .deny(),
    );
    p.push(
        human("an administrator starts an ordinary notebook", "sagemaker:StartNotebookInstance", &notebook("alice-nb"))
            .tags(&managed)
            .allow(),
    );
    p.push(
        human(
            "an administrator creates a notebook with root access",
            "sagemaker:CreateNotebookInstance",
            &notebook("x"),
        )
        .ctx("sagemaker:DirectInternetAccess", "Disabled")
        .ctx("sagemaker:RootAccess", "Enabled")
        .ctx("sagemaker:NotebookInstanceLifecycleConfigArns", json!([lifecycle]))
        .deny(),
    );
    p.push(
        human(
            "an administrator creates a notebook with a lifecycle config of her own",
            "sagemaker:CreateNotebookInstance",
            &notebook("x"),
        )
        .ctx("sagemaker:DirectInternetAccess", "Disabled")
        .ctx("sagemaker:RootAccess", "Disabled")
        .ctx(
            "sagemaker:NotebookInstanceLifecycleConfigArns",
            json!([format!("arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:notebook-instance-lifecycle-config/mine")]),
        )
        .deny(),
    );
    p.push(
        human(
            "an administrator creates a notebook within the fences",
            "sagemaker:CreateNotebookInstance",
            &notebook("x"),
        )
        .ctx("sagemaker:DirectInternetAccess", "Disabled")
        .ctx("sagemaker:RootAccess", "Disabled")
        .ctx("sagemaker:NotebookInstanceLifecycleConfigArns", json!([lifecycle]))
        .allow(),
    );
    p.push(
        human(
            "an administrator names a config like the fleet's",
            "sagemaker:CreateNotebookInstanceLifecycleConfig",
            &lifecycle,
        )
        .deny(),
    );
    p.push(
        human("an administrator updates a managed notebook", "sagemaker:UpdateNotebookInstance", &notebook("alice-nb"))
            .tags(&managed)
            .deny(),
    );
    p.push(
        human(
            "an administrator creates a role at the fleet's path",
            "iam:CreateRole",
            &format!("arn:aws:iam::{ACCOUNT_ID}:role/notebook-fleet/service/mine"),
        )
        .deny(),
    );
    p.push(
        human("an administrator deletes an audit record", "s3:DeleteObject", &audit(record)).account(ACCOUNT_ID).deny(),
    );

    // --- a notebook role: exactly its folders, only through the gateway endpoint -------------------------
    let s3_as = |name: &str, role: &str, policy: &str, action: &str, resource: &str| {
        Probe::new(name, role, action, resource)
            .ids(&[policy])
            .boundary("boundary")
            .scp()
            .account(ACCOUNT_ID)
            .endpoint("s3-gateway-endpoint")
            .ctx("aws:SourceVpce", f.gateway_endpoint)
    };
    let nb = |name: &str, action: &str, resource: &str| {
        s3_as(&format!("notebook: {name}"), f.notebook_role, "notebook-role", action, resource)
    };
    p.push(nb("reads its own folder", "s3:GetObject", &object("team-data", "risk/alice/a.csv")).allow());
    p.push(nb("writes its own folder", "s3:PutObject", &object("team-data", "risk/alice/new.csv")).allow());
    p.push(nb("reads its read-only folder", "s3:GetObject", &object("shared-data", "reference/r.csv")).allow());
    p.push(nb("writes its read-only folder", "s3:PutObject", &object("shared-data", "reference/new.csv")).deny());
    p.push(nb("reads another owner's folder", "s3:GetObject", &object("team-data", "risk/bob/b.csv")).deny());
    p.push(
        nb("reads a bucket outside the perimeter", "s3:GetObject", &object("other-data", "risk/alice/x.csv")).deny(),
    );
    p.push(nb("deletes in its own folder", "s3:DeleteObject", &object("team-data", "risk/alice/a.csv")).deny());
    p.push(
        nb("lists its own folder", "s3:ListBucket", "arn:aws:s3:::team-data").ctx("s3:prefix", "risk/alice/").allow(),
    );
    p.push(
        nb("lists the whole team's folder", "s3:ListBucket", "arn:aws:s3:::team-data").ctx("s3:prefix", "risk/").deny(),
    );
    p.push(
        nb("writes its heartbeat", "s3:PutObject", &object(f.assets_bucket, "heartbeats/alice-nb"))
            .rp("assets-bucket-policy")
            .allow(),
    );
    p.push(
        nb("writes another notebook's heartbeat", "s3:PutObject", &object(f.assets_bucket, "heartbeats/bob-nb"))
            .rp("assets-bucket-policy")
            .deny(),
    );
    p.push(
        nb("fetches the heartbeat agent", "s3:GetObject", &object(f.assets_bucket, f.agent_key))
            .rp("assets-bucket-policy")
            .allow(),
    );
    p.push(
        Probe::new(
            "notebook: reads its folder outside the VPC endpoint",
            f.notebook_role,
            "s3:GetObject",
            &object("team-data", "risk/alice/a.csv"),
        )
        .ids(&["notebook-role"])
        .boundary("boundary")
        .account(ACCOUNT_ID)
        .deny(),
    );
    p.push(
        nb("reads its folder through another endpoint", "s3:GetObject", &object("team-data", "risk/alice/a.csv"))
            .ctx("aws:SourceVpce", "vpce-0ffffffffffffffff")
            .deny(),
    );
    p.push(
        s3_as(
            "notebook (owner locked): reads its folder",
            f.notebook_role,
            "notebook-role-locked",
            "s3:GetObject",
            &object("team-data", "risk/alice/a.csv"),
        )
        .allow(),
    );
    p.push(
        s3_as(
            "notebook (owner locked): writes its folder",
            f.notebook_role,
            "notebook-role-locked",
            "s3:PutObject",
            &object("team-data", "risk/alice/new.csv"),
        )
        .deny(),
    );
    let key = format!("arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/0a1b2c3d-0000-4000-8000-000000000001");
    let decrypt = |name: &str| {
        Probe::new(name, f.notebook_role, "kms:Decrypt", &key)
            .ids(&["entitlement-key-grant"])
            .rp("key-policy-delegates-to-iam")
            .boundary("boundary")
            .scp()
    };
    p.push(
        decrypt("boundary: a granted data key decrypts through S3")
            .ctx("kms:ViaService", format!("s3.{REGION}.amazonaws.com"))
            .allow(),
    );
    p.push(decrypt("boundary: a granted data key decrypts directly").deny());

    // --- a custodian role: reads the owner's folders until its expiry, never writes ---------------------------
    let custodian = |name: &str, action: &str, resource: &str, at: &str| {
        s3_as(&format!("custodian: {name}"), f.custodian_role, "custodian-role", action, resource)
            .ctx("aws:CurrentTime", at)
    };
    p.push(
        custodian(
            "reads the owner's folder before the expiry",
            "s3:GetObject",
            &object("team-data", "risk/alice/a.csv"),
            "2026-11-23T10:00:00Z",
        )
        .allow(),
    );
    p.push(
        custodian(
            "reads the owner's folder after the expiry",
            "s3:GetObject",
            &object("team-data", "risk/alice/a.csv"),
            "2026-11-24T09:00:01Z",
        )
        .deny(),
    );
    p.push(
        custodian(
            "writes the owner's folder",
            "s3:PutObject",
            &object("team-data", "risk/alice/new.csv"),
            "2026-11-23T10:00:00Z",
        )
        .deny(),
    );
    p.push(
        custodian(
            "reads another owner's folder",
            "s3:GetObject",
            &object("team-data", "risk/bob/b.csv"),
            "2026-11-23T10:00:00Z",
        )
        .deny(),
    );

    // --- the interface endpoints: the account's principals on the account's resources -----------------------
    let analyst = account_role("analyst");
    p.push(
        Probe::new(
            "sts endpoint: assumes a role of this account",
            &analyst,
            "sts:AssumeRole",
            &account_role("team-role"),
        )
        .ids(&["may-assume-roles"])
        .rp("trust-this-account")
        .endpoint("sts-endpoint")
        .allow(),
    );
    p.push(
        Probe::new(
            "sts endpoint: assumes a role of another account",
            &analyst,
            "sts:AssumeRole",
            "arn:aws:iam::999999999999:role/outside",
        )
        .ids(&["may-assume-roles"])
        .rp("trust-this-account")
        .endpoint("sts-endpoint")
        .deny(),
    );
    p.push(
        Probe::new(
            "sts endpoint: another account's credentials",
            STRANGER,
            "sts:AssumeRole",
            "arn:aws:iam::999999999999:role/outside",
        )
        .ids(&["may-assume-roles"])
        .endpoint("sts-endpoint")
        .deny(),
    );
    let stream = |account: &str| {
        format!("arn:aws:logs:{REGION}:{account}:log-group:/aws/sagemaker/NotebookInstances:log-stream:alice-nb")
    };
    p.push(
        Probe::new("logs endpoint: writes a log of this account", &analyst, "logs:PutLogEvents", &stream(ACCOUNT_ID))
            .ids(&["may-write-logs"])
            .endpoint("logs-endpoint")
            .allow(),
    );
    p.push(
        Probe::new(
            "logs endpoint: another account's credentials write its own log",
            STRANGER,
            "logs:PutLogEvents",
            &stream("999999999999"),
        )
        .ids(&["may-write-logs"])
        .endpoint("logs-endpoint")
        .deny(),
    );
    p.push(
        Probe::new(
            "sagemaker endpoint: alice opens her notebook",
            &alice,
            "sagemaker:CreatePresignedNotebookInstanceUrl",
            &notebook("alice-nb"),
        )
        .ids(&["user-policy"])
        .tags(&managed)
        .ctx("aws:PrincipalTag/notebook-fleet-owner", "alice")
        .ctx("aws:SourceVpce", USER_VPCE)
        .endpoint("sagemaker-endpoint")
        .allow(),
    );
    p.push(
        Probe::new(
            "sagemaker endpoint: another account's credentials on its own notebook",
            STRANGER,
            "sagemaker:DescribeNotebookInstance",
            &format!("arn:aws:sagemaker:{REGION}:999999999999:notebook-instance/theirs"),
        )
        .ids(&["admin-full-access"])
        .endpoint("sagemaker-endpoint")
        .deny(),
    );

    // --- what is no IAM decision: listed, not passed --------------------------------------------------------
    // The expectation is what AWS does; the evaluator's answer is printed beside it, and neither counts.
    let mut unmodelled = |mut probe: Value, why: &str| {
        probe["not_modelled"] = json!(why);
        p.push(probe);
    };
    unmodelled(
        Probe::new("audit: root deletes a record under COMPLIANCE retention", &format!("arn:aws:iam::{ACCOUNT_ID}:root"), "s3:DeleteObjectVersion", &audit(record))
            .ids(&["admin-full-access"])
            .rp("audit-bucket-policy")
            .account(ACCOUNT_ID)
            .deny(),
        "Object Lock retention is enforced by S3, not by IAM (the template's ObjectLockConfiguration is checked by the rehearsal, a refused delete on moto by tests/tests/tombstone.rs)",
    );
    unmodelled(
        Probe::new("audit: root deletes the bucket policy", &format!("arn:aws:iam::{ACCOUNT_ID}:root"), "s3:DeleteBucketPolicy", &format!("arn:aws:s3:::{}", f.audit_bucket))
            .ids(&["admin-full-access"])
            .rp("audit-bucket-policy")
            .account(ACCOUNT_ID)
            .allow(),
        "S3 always lets the account's root user delete a bucket policy, whatever it says (docs/DEPLOY.md: the trade-off); no evaluator models that exception",
    );
    p
}
