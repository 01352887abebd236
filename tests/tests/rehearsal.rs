//! The deploy rehearsal: `infra/template.yaml` translated to plain CloudFormation offline (aws-sam-translator,
//! pinned), created as a stack in the test's own moto CloudFormation, every resource that matters read back
//! through the SDK, then a provisioner and an idle sweeper configured from the created functions' environment
//! handle a real request and a sweep. The stack is deployed once and each area (the bus, the buckets, the
//! network, the endpoint, the boundary, the policies for people, the functions, their roles, the assets, the
//! provisioner, the sweeper) is one function checked against it; the test names every area that failed (see
//! `the_template_deploys_and_each_area_holds` for why one test and not one per area).
//!
//! The default network path is rehearsed (the stack creates the VPC). What moto cannot do is done another way
//! and said where it happens:
//! - the `Custom::S3PrefixList` lookup would need moto to run a Lambda: the test does the lookup (the
//!   function's one call, `DescribePrefixLists`) and substitutes its answer (`rehearsal::adapt_for_moto`,
//!   which also works around moto's `Fn::Cidr`, `Ref EventBus` and `Ref` of a rule on a custom bus);
//! - so would `Custom::LifecycleAssets` (the lifecycle publisher): its answer is content-addressed, so the
//!   test substitutes the agent's key as the publisher's code derives it, then, once the stack has created
//!   the assets bucket (CloudFormation's order too), publishes with the publisher's code
//!   (`publish_assets`) into that bucket and checks that it answers the same key, that the object is there
//!   and that the provisioner the stack configures points at it. moto drops a function's `Layers`: the
//!   agent layer's wiring is checked in the template;
//! - moto's CloudFormation has no model for `AWS::S3::BucketPolicy`, `AWS::SQS::QueuePolicy`,
//!   `AWS::CloudWatch::Alarm`, `AWS::Lambda::EventInvokeConfig` and `AWS::SNS::Subscription` (it skips
//!   them, so the bucket and queue policies, alarms and the sweeper's retry settings are not created),
//!   drops an event bus's `Policy` (the sender map), a function's `Architectures` and `LoggingConfig`,
//!   a bucket's public access block and Object Lock configuration, a subnet's `MapPublicIpOnLaunch=false`
//!   and a security group's inline egress, answers GetBucketVersioning of its buckets in a form the SDK
//!   cannot read, and keeps a `SubnetRouteTableAssociation` apart from the route table: those are checked in
//!   the translated template instead, next to each check;
//! - the dashboard is created but the project's tests have no CloudWatch client: its body is checked in the
//!   template;
//! - the interface endpoints (`CreateInterfaceEndpoints=true`) and the bring-your-own-network path are not
//!   rehearsed here.

use std::collections::{BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use fleet::aws::assets::S3Assets;
use fleet::aws::ec2::Ec2Network;
use fleet::aws::{AwsProvisioner, AwsSweeper, CallCounter, ProvisionerClients};
use fleet::domain::assets::agent_asset;
use fleet::domain::isolation::check_isolation;
use fleet::domain::journal::RECONCILE_AFTER;
use fleet::domain::ledger::TAKEOVER_AFTER;
use fleet::domain::outcome::NOTEBOOK_PROVISIONED;
use fleet::domain::policy::{data_perimeter_policy, notebook_permissions_boundary, PolicyDocument};
use fleet::domain::request::{NOTEBOOK_REQUESTED, REQUEST_DETAIL_TYPES};
use fleet::ports::Network;
use fleet::service::lambda::handle_request_event;
use fleet::service::publish::publish_assets;
use futures::FutureExt;
use integration_tests::emulator::{ACCOUNT_ID, REGION};
use integration_tests::events::{notebook_requested, request_event};
use integration_tests::platform::{s3_client, AGENT_BYTES, DATA_BUCKETS};
use integration_tests::rehearsal::{
    deploy, environment, inline_policy, lambda_get, statement, strings, Deployment, CODE_BUCKET, CODE_PREFIX,
};
use integration_tests::Emulator;
use serde_json::{json, Value};

const STACK: &str = "notebook-fleet";

/// The parameters a platform team gives `sam deploy`; everything else keeps the template's default.
fn parameters() -> Vec<(&'static str, String)> {
    vec![
        ("DataBucketNames", DATA_BUCKETS.join(",")),
        // The template's default, given explicitly: moto hands a CommaDelimitedList parameter's *default* to
        // Fn::Join as a string, which joins its characters.
        ("AllowedInstanceTypes", "ml.t3.medium,ml.t3.large,ml.t3.xlarge,ml.m5.xlarge,ml.m5.2xlarge".into()),
        // The sender map (docs/DEPLOY.md), the entitlements document, routes and snoozes.
        ("PortalPrincipalArns", PORTAL_ROLE.into()),
        ("PortalEventSource", "platform.portal".into()),
        ("IdentityPrincipalArns", format!("arn:aws:iam::{ACCOUNT_ID}:role/hr-sender")),
        ("IdentityEventSource", "platform.hr".into()),
        ("ApprovalsPrincipalArns", "".into()),
        ("ApprovalsEventSource", "".into()),
        ("EntitlementsObjectUri", ENTITLEMENTS_URI.into()),
        ("AllowedRouteTargets", "tgw-0123456789abcdef0,pcx-0123456789abcdef0".into()),
        ("MaxSnoozeHours", "12".into()),
        ("NotebookAccessVpceIds", "".into()),
        ("NotebookAccessSourceCidrs", "".into()),
        ("AuditPolicyAdministratorArns", "".into()),
    ]
}

const PORTAL_ROLE: &str = "arn:aws:iam::111111111111:role/portal-sender";
const ENTITLEMENTS_URI: &str = "s3://platform-config/notebook-fleet/entitlements.json";

/// The physical id of a stack resource (moto answers DescribeStackResource with an empty body: the listing).
async fn physical_id(cfn: &aws_sdk_cloudformation::Client, logical_id: &str) -> Result<String> {
    let listed = cfn.list_stack_resources().stack_name(STACK).send().await?;
    listed
        .stack_resource_summaries()
        .iter()
        .find(|r| r.logical_resource_id() == Some(logical_id))
        .and_then(|r| r.physical_resource_id().map(str::to_owned))
        .with_context(|| format!("physical id of {logical_id}"))
}

/// A resource of the translated template, as CloudFormation receives it.
fn res<'a>(template: &'a Value, logical_id: &str) -> &'a Value {
    &template["Resources"][logical_id]
}

fn function_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

fn sorted(values: impl IntoIterator<Item = impl Into<String>>) -> BTreeSet<String> {
    values.into_iter().map(Into::into).collect()
}

/// The deploy-once fixture and its areas.
///
/// Deploying is nearly all of the cost: starting moto and creating the stack from the translated template
/// took 12.2 s of the test's 15.4 s, the eleven areas together 3.2 s (on 2 cores, with other builds running;
/// `cargo nextest run -p integration-tests --test rehearsal --no-capture` prints each figure). cargo-nextest runs each test in its own process, so a
/// fixture shared by several `#[test]`s would be deployed once per test: eleven areas would cost eleven
/// deploys, on a CI machine that runs two tests at a time. Nextest's setup scripts, which could deploy once
/// into a shared emulator, are still experimental in the pinned 0.9.143 (`experimental = ["setup-scripts"]`),
/// and a shared emulator would also need someone to stop it. So the stack is deployed once, in this one
/// test, and each area is its own function run against it under `catch_unwind`: a failing area (an error or
/// a failed assertion) does not hide the others, and the test fails naming every area that failed with its
/// message. The areas run in the order below; the sweep expects the notebook the provisioner's area created.
#[tokio::test(flavor = "multi_thread")]
async fn the_template_deploys_and_each_area_holds() -> Result<()> {
    let started = Instant::now();
    let rehearsal = Rehearsal::deploy().await?;
    eprintln!("deployed in {:.1} s", started.elapsed().as_secs_f64());
    let mut failures = Vec::new();
    macro_rules! areas {
        ($($area:ident),* $(,)?) => {$(
            let area_started = Instant::now();
            let failure = match AssertUnwindSafe($area(&rehearsal)).catch_unwind().await {
                Ok(Ok(())) => None,
                Ok(Err(error)) => Some(format!("{error:#}")),
                Err(panic) => Some(panic_message(&*panic)),
            };
            eprintln!("{}: {} ({:.1} s)", stringify!($area), if failure.is_some() { "FAILED" } else { "ok" }, area_started.elapsed().as_secs_f64());
            if let Some(failure) = failure {
                failures.push(format!("{}: {failure}", stringify!($area)));
            }
        )*};
    }
    areas!(
        the_bus_routes_every_request_kind_to_the_provisioner_and_the_schedule_to_the_sweeper,
        the_buckets_are_encrypted_versioned_retained_and_fenced_and_the_bus_fences_each_sender,
        the_notebook_subnets_have_no_internet_route_and_the_group_no_open_egress,
        the_s3_gateway_endpoint_policy_is_the_data_perimeter,
        the_permissions_boundary_is_the_domains_perimeter,
        the_policies_for_people_hold_their_statements,
        the_functions_are_configured_as_the_template_says,
        the_function_roles_are_least_privilege,
        the_deploy_publishes_the_lifecycle_assets_the_provisioner_points_at,
        the_provisioner_the_stack_configures_provisions_an_isolated_notebook,
        the_sweeper_the_stack_configures_sweeps,
    );
    eprintln!("rehearsed in {:.1} s", started.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "{} area(s) failed:\n{}", failures.len(), failures.join("\n\n"));
    Ok(())
}

/// What a failed assertion said.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panicked".into())
}

/// The stack, deployed once on the test's own emulator, and the clients that read it back.
struct Rehearsal {
    emulator: Emulator,
    sdk: SdkConfig,
    s3: aws_sdk_s3::Client,
    ec2: aws_sdk_ec2::Client,
    cfn: aws_sdk_cloudformation::Client,
    iam: aws_sdk_iam::Client,
    events: aws_sdk_eventbridge::Client,
    deployment: Deployment,
    /// The lifecycle publisher's answer: the agent's content-addressed key (what publish_assets derives).
    agent_key: String,
}

impl Rehearsal {
    /// Translates the template, uploads the function code (what `sam package` would) and creates the stack.
    async fn deploy() -> Result<Self> {
        let emulator = Emulator::start()?;
        let sdk = emulator.sdk_config().await;
        let agent_key = agent_asset(AGENT_BYTES).key;
        let deployment = deploy(&sdk, STACK, &parameters(), &[("AgentObjectKey", agent_key.as_str())]).await?;
        let resources = deployment.translated["Resources"].as_object().context("Resources")?;
        assert!(resources.values().all(|r| !r["Type"].as_str().unwrap_or_default().starts_with("AWS::Serverless::")));
        eprintln!("adjusted for moto:\n  {}", deployment.adjustments.join("\n  "));
        Ok(Rehearsal {
            s3: s3_client(&sdk),
            ec2: aws_sdk_ec2::Client::new(&sdk),
            cfn: aws_sdk_cloudformation::Client::new(&sdk),
            iam: aws_sdk_iam::Client::new(&sdk),
            events: aws_sdk_eventbridge::Client::new(&sdk),
            emulator,
            sdk,
            deployment,
            agent_key,
        })
    }

    fn subnet_ids(&self) -> Vec<String> {
        self.deployment.outputs["NotebookSubnetIds"].split(',').map(str::to_owned).collect()
    }

    /// The provisioner, sweeper and publisher functions as Lambda describes them.
    async fn functions(&self) -> Result<(Value, Value, Value)> {
        let get = |name: &str| lambda_get(&self.emulator.endpoint, &format!("/2015-03-31/functions/{name}"));
        let out = &self.deployment.outputs;
        Ok((
            get(function_name(&out["ProvisionerFunctionArn"]))?,
            get(function_name(&out["IdleSweeperFunctionArn"]))?,
            get(&physical_id(&self.cfn, "LifecyclePublisherFunction").await?)?,
        ))
    }
}

/// Area: the bus and its rules.
async fn the_bus_routes_every_request_kind_to_the_provisioner_and_the_schedule_to_the_sweeper(
    r: &Rehearsal,
) -> Result<()> {
    let events = &r.events;
    let out = &r.deployment.outputs;
    let bus_name = format!("notebook-fleet-{STACK}");
    assert_eq!(out["EventBusName"], bus_name);
    let bus = events.describe_event_bus().name(&bus_name).send().await?;
    assert_eq!(bus.arn(), Some(out["EventBusArn"].as_str()));

    let rules = events.list_rules().event_bus_name(&bus_name).send().await?;
    assert_eq!(rules.rules().len(), 1, "one rule on the project bus: {rules:?}");
    let request_rule = &rules.rules()[0];
    let pattern: Value = serde_json::from_str(request_rule.event_pattern().context("pattern")?)?;
    // Every kind the code handles, as the code lists them.
    let kinds: Vec<&str> = fleet::domain::request::REQUEST_DETAIL_TYPES.to_vec();
    assert_eq!(
        pattern,
        json!({
            "source": [{"anything-but": "notebook-fleet"}],
            "detail-type": kinds
        })
    );
    let targets = events
        .list_targets_by_rule()
        .event_bus_name(&bus_name)
        .rule(request_rule.name().context("rule name")?)
        .send()
        .await?;
    let [target] = targets.targets() else { panic!("one target: {targets:?}") };
    assert_eq!(target.arn(), out["ProvisionerFunctionArn"]);
    let queue_name = out["DeadLetterQueueUrl"].rsplit('/').next().context("queue name")?;
    assert_eq!(
        target.dead_letter_config().and_then(|d| d.arn()),
        Some(format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue_name}").as_str())
    );
    let retry = target.retry_policy().context("retry policy")?;
    assert_eq!((retry.maximum_retry_attempts(), retry.maximum_event_age_in_seconds()), (Some(24), Some(3600)));

    // The schedules: two rules on the default bus, each with the sweeper as its only target: the sweep every
    // five minutes, and the daily leftover run, whose input asks for it.
    let default_rules = events.list_rules().send().await?;
    let mut schedules: Vec<_> = default_rules.rules().iter().collect();
    schedules.sort_by_key(|r| r.schedule_expression().map(str::to_owned));
    let [daily, sweep] = schedules[..] else { panic!("two scheduled rules: {default_rules:?}") };
    assert_eq!(
        (sweep.schedule_expression(), daily.schedule_expression()),
        (Some("rate(5 minutes)"), Some("rate(1 day)"))
    );
    for schedule in [sweep, daily] {
        assert_eq!(schedule.state().map(|s| s.as_str()), Some("ENABLED"));
        let targets = events.list_targets_by_rule().rule(schedule.name().context("name")?).send().await?;
        let [target] = targets.targets() else { panic!("one target: {targets:?}") };
        assert_eq!(target.arn(), out["IdleSweeperFunctionArn"]);
        let input: Option<serde_json::Value> = target.input().map(serde_json::from_str).transpose()?;
        let expected = (schedule == daily).then(|| json!({"run": "leftovers"}));
        assert_eq!(input, expected, "the input of {:?}", schedule.name());
    }
    Ok(())
}

/// Area: the buckets.
async fn the_buckets_are_encrypted_versioned_retained_and_fenced_and_the_bus_fences_each_sender(
    r: &Rehearsal,
) -> Result<()> {
    let s3 = &r.s3;
    let translated = &r.deployment.translated;
    let out = &r.deployment.outputs;
    let kinds: Vec<&str> = REQUEST_DETAIL_TYPES.to_vec();
    let assets_bucket = out["AssetsBucketName"].clone();
    for bucket in [&assets_bucket, &out["AuditBucketName"]] {
        s3.head_bucket().bucket(bucket).send().await.with_context(|| format!("bucket {bucket}"))?;
        let encryption = s3.get_bucket_encryption().bucket(bucket).send().await?;
        let rule = encryption.server_side_encryption_configuration().and_then(|c| c.rules().first());
        let algorithm = rule.and_then(|r| r.apply_server_side_encryption_by_default()).map(|d| d.sse_algorithm());
        assert_eq!(algorithm.map(|a| a.as_str()), Some("AES256"), "{bucket}");
    }
    // moto answers GetBucketVersioning of a bucket CloudFormation created with a document the SDK cannot
    // read (root GetBucketVersioningResponse), and its CloudFormation drops PublicAccessBlockConfiguration:
    // both are checked in the template.
    for bucket in ["AssetsBucket", "AuditBucket", "AccessLogsBucket"] {
        let properties = &res(translated, bucket)["Properties"];
        assert_eq!(properties["VersioningConfiguration"], json!({"Status": "Enabled"}), "{bucket}");
        assert_eq!(
            properties["PublicAccessBlockConfiguration"],
            json!({"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true,
                   "RestrictPublicBuckets": true}),
            "{bucket}"
        );
        assert_eq!(res(translated, bucket)["DeletionPolicy"], "Retain", "{bucket}");
    }
    // moto's CloudFormation drops ObjectLockEnabled/ObjectLockConfiguration: the template says it.
    let audit = &res(translated, "AuditBucket")["Properties"];
    assert_eq!(audit["ObjectLockEnabled"], true);
    assert_eq!(
        audit["ObjectLockConfiguration"],
        json!({"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention":
            {"Mode": {"Ref": "AuditObjectLockMode"}, "Days": {"Ref": "AuditRetentionDays"}}}})
    );

    // Bucket policies: moto's CloudFormation skips AWS::S3::BucketPolicy, so they are checked in the
    // translated template (the document CloudFormation would apply).
    for (policy, bucket, sids) in [
        (
            "AssetsBucketPolicy",
            "AssetsBucket",
            vec!["DenyInsecureTransport", "NotebookRolesOnlyThroughTheGatewayEndpoint"],
        ),
        (
            "AuditBucketPolicy",
            "AuditBucket",
            vec![
                "DenyInsecureTransport",
                "NotebookRolesNever",
                "OnlyTheFleetWritesRecords",
                "RecordsAreNeverOverwritten",
                "RecordsAreNeverDeletedNorUnlocked",
                "BucketSettingsOnlyThroughTheStack",
            ],
        ),
        ("AccessLogsBucketPolicy", "AccessLogsBucket", vec!["DenyInsecureTransport", "ServerAccessLogsOfThisAccount"]),
    ] {
        let properties = &res(translated, policy)["Properties"];
        assert_eq!(properties["Bucket"], json!({"Ref": bucket}));
        let document = &properties["PolicyDocument"];
        let found: Vec<&str> =
            document["Statement"].as_array().context(policy)?.iter().filter_map(|s| s["Sid"].as_str()).collect();
        assert_eq!(found, sids, "{policy}");
        let insecure = statement(document, "DenyInsecureTransport")?;
        assert_eq!((&insecure["Effect"], &insecure["Action"]), (&json!("Deny"), &json!("s3:*")));
        assert_eq!(insecure["Condition"], json!({"Bool": {"aws:SecureTransport": "false"}}));
    }
    let perimeter_deny = statement(
        &res(translated, "AssetsBucketPolicy")["Properties"]["PolicyDocument"],
        "NotebookRolesOnlyThroughTheGatewayEndpoint",
    )?;
    assert_eq!(perimeter_deny["Condition"]["StringNotEquals"]["aws:SourceVpce"], json!({"Ref": "S3GatewayEndpoint"}));
    // The audit bucket is append-only (tests/tests/iam_matrix.rs evaluates the resolved document).
    let audit_policy = &res(translated, "AuditBucketPolicy")["Properties"]["PolicyDocument"];
    assert_eq!(
        statement(audit_policy, "RecordsAreNeverOverwritten")?["Condition"],
        json!({"StringNotEquals": {"s3:if-none-match": "*"}})
    );
    assert_eq!(
        statement(audit_policy, "OnlyTheFleetWritesRecords")?["Condition"]["ArnNotEquals"]["aws:PrincipalArn"],
        json!([{"Fn::GetAtt": ["ProvisionerRole", "Arn"]}, {"Fn::GetAtt": ["IdleSweeperRole", "Arn"]}])
    );

    // The bus policy (the sender map): moto's CloudFormation drops an EventBus's Policy, so it is checked in the
    // template; iam_matrix.rs evaluates it resolved.
    let bus_policy = &res(translated, "EventBus")["Properties"]["Policy"];
    let bus_sids: Vec<&str> =
        bus_policy["Statement"].as_array().context("bus policy")?.iter().filter_map(|s| s["Sid"].as_str()).collect();
    assert_eq!(
        bus_sids,
        [
            "PortalKindsOnlyFromThePortal",
            "PortalKindsOnlyWithThePortalSource",
            "IdentityKindsOnlyFromTheIdentitySystem",
            "IdentityKindsOnlyWithTheIdentitySource",
            "ApprovalsKindsOnlyFromTheApprovalsSystem",
            "ApprovalsKindsOnlyWithTheApprovalsSource",
            "OutcomesOnlyFromTheFleet",
            "SendersMayPutEvents"
        ]
    );
    // Every request kind is fenced by its sender's principals and source.
    let fenced: BTreeSet<String> = bus_policy["Statement"]
        .as_array()
        .context("bus policy")?
        .iter()
        .filter(|s| s["Condition"]["StringNotEquals"].get("aws:PrincipalArn").is_some())
        .flat_map(|s| strings(&s["Condition"]["ForAnyValue:StringEquals"]["events:detail-type"]))
        .collect();
    assert_eq!(fenced, sorted(kinds.iter().copied()));
    Ok(())
}

/// Area: the network: private subnets without an internet route.
async fn the_notebook_subnets_have_no_internet_route_and_the_group_no_open_egress(r: &Rehearsal) -> Result<()> {
    let ec2 = &r.ec2;
    let cfn = &r.cfn;
    let translated = &r.deployment.translated;
    let template = &r.deployment.template;
    let prefix_list = &r.deployment.prefix_list;
    let out = &r.deployment.outputs;
    let vpc_id = physical_id(cfn, "Vpc").await?;
    let subnet_ids: Vec<String> = out["NotebookSubnetIds"].split(',').map(str::to_owned).collect();
    let subnets = ec2.describe_subnets().set_subnet_ids(Some(subnet_ids.clone())).send().await?;
    assert_eq!(subnets.subnets().len(), 2);
    assert_eq!(
        sorted(subnets.subnets().iter().filter_map(|s| s.cidr_block())),
        sorted(["10.42.0.0/22", "10.42.4.0/22"])
    );
    assert_eq!(sorted(subnets.subnets().iter().filter_map(|s| s.availability_zone())).len(), 2, "two AZs");
    for subnet in subnets.subnets() {
        assert_eq!(subnet.vpc_id(), Some(vpc_id.as_str()));
    }
    // moto's CloudFormation reports MapPublicIpOnLaunch=true whatever the template says.
    for subnet in ["PrivateSubnetA", "PrivateSubnetB"] {
        assert_eq!(res(translated, subnet)["Properties"]["MapPublicIpOnLaunch"], false, "{subnet}");
    }
    let tables = [physical_id(cfn, "PrivateRouteTableA").await?, physical_id(cfn, "PrivateRouteTableB").await?];
    let described = ec2.describe_route_tables().set_route_table_ids(Some(tables.to_vec())).send().await?;
    for table in described.route_tables() {
        for route in table.routes() {
            let target = route.gateway_id().unwrap_or_default();
            assert!(target == "local" || target.starts_with("vpce-"), "only local and endpoint routes: {route:?}");
            assert!(route.nat_gateway_id().is_none() && route.egress_only_internet_gateway_id().is_none());
            assert_ne!(route.destination_cidr_block(), Some("0.0.0.0/0"));
        }
        assert!(
            table.routes().iter().any(|r| r.destination_prefix_list_id() == Some(prefix_list.as_str())),
            "the S3 endpoint's route: {table:?}"
        );
    }
    // The provisioner's own check, on each subnet's governing table. moto keeps a CloudFormation
    // SubnetRouteTableAssociation apart from the route table (DescribeRouteTables lists no association), so
    // the subnets fall back to the main table here; the associations are checked in the template.
    let network = Ec2Network::new(ec2.clone());
    for subnet in &subnet_ids {
        check_isolation(subnet, &network.subnet_routes(subnet).await?, &Default::default())?;
    }
    for (association, subnet, table) in [
        ("PrivateSubnetARouteTable", "PrivateSubnetA", "PrivateRouteTableA"),
        ("PrivateSubnetBRouteTable", "PrivateSubnetB", "PrivateRouteTableB"),
    ] {
        let properties = &res(translated, association)["Properties"];
        assert_eq!(
            (&properties["SubnetId"], &properties["RouteTableId"]),
            (&json!({"Ref": subnet}), &json!({"Ref": table}))
        );
    }
    // Nothing in the template can open a route out of the VPC.
    for resource in translated["Resources"].as_object().context("Resources")?.values() {
        let kind = resource["Type"].as_str().unwrap_or_default();
        assert!(
            ![
                "AWS::EC2::Route",
                "AWS::EC2::InternetGateway",
                "AWS::EC2::NatGateway",
                "AWS::EC2::EgressOnlyInternetGateway",
                "AWS::EC2::VPCGatewayAttachment",
                "AWS::EC2::TransitGatewayAttachment",
                "AWS::EC2::VPCPeeringConnection"
            ]
            .contains(&kind),
            "{kind} in the template"
        );
    }

    // The notebooks' security group: no ingress, HTTPS to the S3 prefix list only.
    let group = ec2.describe_security_groups().group_ids(&out["NotebookSecurityGroupId"]).send().await?;
    let group = group.security_groups().first().context("security group")?;
    assert_eq!(group.vpc_id(), Some(vpc_id.as_str()));
    assert!(group.ip_permissions().is_empty(), "no ingress: {group:?}");
    // moto's CloudFormation ignores the inline SecurityGroupEgress (the group keeps the default allow-all
    // rule): the egress is checked in the template as created, with the prefix list the lookup found.
    assert_eq!(
        res(template, "NotebookSecurityGroup")["Properties"]["SecurityGroupEgress"],
        json!([{"Description": "HTTPS to S3 through the gateway endpoint", "IpProtocol": "tcp", "FromPort": 443,
                "ToPort": 443, "DestinationPrefixListId": prefix_list}])
    );
    assert!(res(template, "NotebookSecurityGroup")["Properties"].get("SecurityGroupIngress").is_none());
    Ok(())
}

/// Area: the S3 gateway endpoint: its policy is the data perimeter the code generates.
async fn the_s3_gateway_endpoint_policy_is_the_data_perimeter(r: &Rehearsal) -> Result<()> {
    let ec2 = &r.ec2;
    let out = &r.deployment.outputs;
    let assets_bucket = r.deployment.outputs["AssetsBucketName"].clone();
    let vpc_id = physical_id(&r.cfn, "Vpc").await?;
    let tables = [physical_id(&r.cfn, "PrivateRouteTableA").await?, physical_id(&r.cfn, "PrivateRouteTableB").await?];
    let data_buckets: Vec<String> = DATA_BUCKETS.iter().map(|b| (*b).to_owned()).collect();
    let endpoints = ec2.describe_vpc_endpoints().vpc_endpoint_ids(&out["S3GatewayEndpointId"]).send().await?;
    let endpoint = endpoints.vpc_endpoints().first().context("endpoint")?;
    assert_eq!(endpoint.vpc_id(), Some(vpc_id.as_str()));
    assert_eq!(endpoint.service_name(), Some(format!("com.amazonaws.{REGION}.s3").as_str()));
    assert_eq!(endpoint.vpc_endpoint_type().map(|t| t.as_str()), Some("Gateway"));
    assert_eq!(sorted(endpoint.route_table_ids().iter().cloned()), sorted(tables.clone()));
    let endpoint_policy: PolicyDocument =
        serde_json::from_value(inline_policy(endpoint.policy_document().context("policy")?)?)?;
    assert_eq!(endpoint_policy, data_perimeter_policy(&data_buckets, &assets_bucket));
    Ok(())
}

/// Area: the notebooks' permissions boundary.
async fn the_permissions_boundary_is_the_domains_perimeter(r: &Rehearsal) -> Result<()> {
    let iam = &r.iam;
    let out = &r.deployment.outputs;
    let assets_bucket = r.deployment.outputs["AssetsBucketName"].clone();
    let data_buckets: Vec<String> = DATA_BUCKETS.iter().map(|b| (*b).to_owned()).collect();
    let boundary_arn = out["PermissionsBoundaryArn"].clone();
    let boundary = iam.get_policy().policy_arn(&boundary_arn).send().await?.policy.context("boundary")?;
    assert_eq!(boundary.path(), Some("/notebook-fleet/"));
    let version = iam
        .get_policy_version()
        .policy_arn(&boundary_arn)
        .version_id(boundary.default_version_id().context("version")?)
        .send()
        .await?;
    let mut document = inline_policy(version.policy_version().and_then(|v| v.document()).context("document")?)?;
    let deny = document["Statement"].as_array_mut().context("statements")?.pop().context("a last statement")?;
    assert_eq!(
        deny,
        json!({"Sid": "OnlyThroughTheGatewayEndpoint", "Effect": "Deny", "Action": "s3:*", "Resource": "*",
               "Condition": {"StringNotEquals": {"aws:SourceVpce": out["S3GatewayEndpointId"]}}})
    );
    // The domain's perimeter, and the data keys of the entitlements document through S3 only.
    let allows: PolicyDocument = serde_json::from_value(document)?;
    assert_eq!(allows, notebook_permissions_boundary(&data_buckets, &assets_bucket, REGION, ACCOUNT_ID));
    Ok(())
}

/// Area: the policies for people: the user policy and the guardrails.
async fn the_policies_for_people_hold_their_statements(r: &Rehearsal) -> Result<()> {
    let iam = &r.iam;
    let out = &r.deployment.outputs;
    for (output, sids) in [
        ("NotebookUserPolicyArn", vec!["OpenOwnNotebooksOnly", "ListNotebooks"]),
        (
            "HumanGuardrailPolicyArn",
            vec![
                "FleetTagsOnlyByTheFleet",
                "NoStartOfLockedNotebooks",
                "NoStartOfExpiredCustodianNotebooks",
                "NoNotebookWithInternetAccess",
                "NoNotebookWithRootAccess",
                "NoRootAccessByUpdate",
                "NoNotebookWithoutAFleetLifecycleConfig",
                "NoNotebookWithAnotherLifecycleConfig",
                "FleetLifecycleConfigsOnlyByTheFleet",
                "ManagedNotebooksUpdatedOnlyByTheFleet",
                "FleetRolesOnlyThroughTheStack",
                "AuditRecordsOnlyByTheFleet",
                "AuditBucketSettingsOnlyThroughTheStack",
            ],
        ),
    ] {
        let arn = &out[output];
        let policy = iam.get_policy().policy_arn(arn).send().await?.policy.context(output)?;
        assert_eq!(policy.path(), Some("/notebook-fleet/"), "{output}");
        let version = iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(policy.default_version_id().context("version")?)
            .send()
            .await?;
        let document = inline_policy(version.policy_version().and_then(|v| v.document()).context("document")?)?;
        let found: Vec<&str> =
            document["Statement"].as_array().context(output)?.iter().filter_map(|s| s["Sid"].as_str()).collect();
        assert_eq!(found, sids, "{output}: {document}");
        // A statement behind Fn::If that is off leaves nothing behind (no null statement).
        assert!(document["Statement"].as_array().is_some_and(|s| s.iter().all(Value::is_object)), "{document}");
    }
    Ok(())
}

/// Area: the functions.
async fn the_functions_are_configured_as_the_template_says(r: &Rehearsal) -> Result<()> {
    let translated = &r.deployment.translated;
    let assets_bucket = r.deployment.outputs["AssetsBucketName"].clone();
    let (provisioner_fn, sweeper_fn, publisher_fn) = r.functions().await?;
    for (function, timeout, memory, concurrency) in [(&provisioner_fn, 120, 256, 5), (&sweeper_fn, 300, 512, 1)] {
        let configuration = &function["Configuration"];
        assert_eq!(configuration["Runtime"], "provided.al2023");
        assert_eq!(configuration["Handler"], "bootstrap");
        assert_eq!(configuration["Timeout"], timeout);
        assert_eq!(configuration["MemorySize"], memory);
        assert_eq!(function["Concurrency"]["ReservedConcurrentExecutions"], concurrency);
    }
    // The request ledger takes over a claim a dead delivery left once no invocation can still hold it: after
    // the provisioner's timeout, before Lambda's second retry of a failed delivery (about 3 minutes later).
    let timeout = provisioner_fn["Configuration"]["Timeout"].as_u64().context("the provisioner's timeout")?;
    assert!(TAKEOVER_AFTER.as_secs() > timeout && TAKEOVER_AFTER.as_secs() < 180, "{TAKEOVER_AFTER:?}");
    let invoke = &res(translated, "ProvisionerFunctionEventInvokeConfig")["Properties"];
    assert_eq!(invoke["MaximumRetryAttempts"], 2, "two retries reach the takeover");
    // A sweep journal left open is finished by a later sweep only once the sweep that wrote it cannot still
    // run: after the sweeper's timeout, with one sweep at a time.
    let sweeper = &res(translated, "IdleSweeperFunction")["Properties"];
    let sweeper_timeout = sweeper["Timeout"].as_i64().context("the sweeper's timeout")?;
    assert!(RECONCILE_AFTER.num_seconds() > sweeper_timeout, "{RECONCILE_AFTER:?} against {sweeper_timeout} s");
    assert_eq!(sweeper["ReservedConcurrentExecutions"], 1, "sweeps never overlap");
    assert_eq!(publisher_fn["Configuration"]["Runtime"], "provided.al2023");
    assert_eq!(publisher_fn["Configuration"]["Handler"], "bootstrap");
    let env = environment(&publisher_fn);
    assert_eq!(env["FLEET_ASSETS_BUCKET"], assets_bucket);
    assert_eq!(env["FLEET_AGENT_PATH"], "/opt/heartbeat-agent");
    // moto reports every function as x86_64 and keeps no LoggingConfig: read them in the template.
    for id in ["ProvisionerFunction", "IdleSweeperFunction", "LifecyclePublisherFunction"] {
        let properties = &res(translated, id)["Properties"];
        assert_eq!(properties["Architectures"], json!([{"Ref": "Architecture"}]), "{id}");
        assert_eq!(properties["LoggingConfig"]["LogFormat"], "JSON", "{id}");
    }
    assert_eq!(translated["Parameters"]["Architecture"]["Default"], "arm64");
    assert_eq!(
        res(translated, "IdleSweeperFunction")["Properties"]["LoggingConfig"]["LogGroup"],
        json!({"Ref": "IdleSweeperLogGroup"})
    );
    assert_eq!(
        res(translated, "IdleSweeperLogGroup")["Properties"],
        json!({"LogGroupName": {"Fn::Sub": "/notebook-fleet/${AWS::StackName}/idle-sweeper"},
               "RetentionInDays": {"Ref": "LogRetentionDays"}, "KmsKeyId": {"Fn::GetAtt": ["FleetKey", "Arn"]}})
    );
    // EventInvokeConfig, alarms and the dashboard's metrics (moto skips the first two).
    let invoke = &res(translated, "IdleSweeperFunctionEventInvokeConfig")["Properties"];
    assert_eq!((&invoke["MaximumRetryAttempts"], &invoke["MaximumEventAgeInSeconds"]), (&json!(0), &json!(120)));
    let alarm = &res(translated, "IdleSweeperErrorsAlarm")["Properties"];
    assert_eq!((&alarm["Namespace"], &alarm["MetricName"]), (&json!("AWS/Lambda"), &json!("Errors")));
    assert_eq!(alarm["Dimensions"], json!([{"Name": "FunctionName", "Value": {"Ref": "IdleSweeperFunction"}}]));
    let dashboard = res(translated, "Dashboard")["Properties"]["DashboardBody"].to_string();
    for metric in
        ["NotebooksStopped", "NotebooksWarned", "IdleHoursRecovered", "AgentsSilent", "StopFailures", "SweepDuration"]
    {
        assert!(dashboard.contains(&format!("[\\\"NotebookFleet\\\", \\\"{metric}\\\"")), "{metric} on the dashboard");
    }
    // The provisioner's metrics are its embedded metrics (no log metric filter matches message text).
    for metric in [
        "Outcomes",
        "Failures",
        "Rejections",
        "RequestLatency",
        "RejectionClass} MetricName",
        "RequestKind} MetricName",
    ] {
        assert!(dashboard.contains(metric), "{metric} on the dashboard");
    }
    let types = translated["Resources"].as_object().context("Resources")?.values().map(|r| &r["Type"]);
    assert!(!types.into_iter().any(|t| t == "AWS::Logs::MetricFilter"), "no log metric filters");
    let failures = &res(translated, "ProvisioningFailuresAlarm")["Properties"]["Metrics"];
    assert_eq!(failures[0]["MetricStat"]["Metric"]["MetricName"], "Outcomes");
    assert_eq!(
        failures[0]["MetricStat"]["Metric"]["Dimensions"],
        json!([{"Name": "OutcomeType", "Value": "Notebook Provisioning Failed"}])
    );
    assert_eq!(
        failures[1]["MetricStat"]["Metric"]["Dimensions"],
        json!([{"Name": "RejectionClass", "Value": "not-isolated"}])
    );
    Ok(())
}

/// Area: the roles.
async fn the_function_roles_are_least_privilege(r: &Rehearsal) -> Result<()> {
    let iam = &r.iam;
    let out = &r.deployment.outputs;
    let assets_bucket = r.deployment.outputs["AssetsBucketName"].clone();
    let subnet_ids = r.subnet_ids();
    let boundary_arn = r.deployment.outputs["PermissionsBoundaryArn"].clone();
    let (provisioner_fn, sweeper_fn, publisher_fn) = r.functions().await?;
    let role_of = |function: &Value| -> Result<String> {
        let arn = function["Configuration"]["Role"].as_str().context("role arn")?;
        Ok(arn.rsplit('/').next().context("role name")?.to_owned())
    };
    let mut role_policies = HashMap::new();
    for (function, policy_name) in
        [(&provisioner_fn, "provisioner"), (&sweeper_fn, "idle-sweeper"), (&publisher_fn, "lifecycle-publisher")]
    {
        let name = role_of(function)?;
        let role = iam.get_role().role_name(&name).send().await?.role.context("role")?;
        assert_eq!(role.path(), "/notebook-fleet/service/");
        let trust = inline_policy(role.assume_role_policy_document().context("trust")?)?;
        assert_eq!(trust["Statement"][0]["Principal"], json!({"Service": "lambda.amazonaws.com"}));
        assert_eq!(trust["Statement"].as_array().map(Vec::len), Some(1));
        let listed = iam.list_role_policies().role_name(&name).send().await?;
        assert_eq!(listed.policy_names(), [policy_name]);
        let policy = iam.get_role_policy().role_name(&name).policy_name(policy_name).send().await?;
        role_policies.insert(policy_name, inline_policy(policy.policy_document())?);
    }
    let provisioner_policy = &role_policies["provisioner"];
    let create_role = statement(provisioner_policy, "CreateNotebookRolesUnderTheBoundary")?;
    assert_eq!(create_role["Condition"]["StringEquals"]["iam:PermissionsBoundary"], boundary_arn.as_str());
    let create_notebook = statement(provisioner_policy, "CreateOnlyIsolatedNotebooks")?;
    assert_eq!(create_notebook["Condition"]["StringEquals"]["sagemaker:DirectInternetAccess"], "Disabled");
    assert_eq!(create_notebook["Condition"]["StringEquals"]["sagemaker:RootAccess"], "Disabled");
    assert_eq!(
        sorted(strings(&create_notebook["Condition"]["ForAllValues:StringEquals"]["sagemaker:VpcSubnets"])),
        sorted(subnet_ids.clone())
    );
    // Exactly the entitlements document; audit records by version; the lock and snooze tags only.
    let entitlements = statement(provisioner_policy, "ReadTheEntitlementsDocument")?;
    assert_eq!(
        (&entitlements["Action"], &entitlements["Resource"]),
        (&json!("s3:GetObject"), &json!("arn:aws:s3:::platform-config/notebook-fleet/entitlements.json"))
    );
    let list_audit = statement(provisioner_policy, "ListAuditHistories")?;
    assert_eq!(strings(&list_audit["Action"]), ["s3:ListBucketVersions"]);
    let read_audit = statement(provisioner_policy, "ReadAuditRecords")?;
    assert_eq!(strings(&read_audit["Action"]), ["s3:GetObjectVersion"], "first versions only, never the newest");
    let tagging = statement(provisioner_policy, "TagManagedNotebooksWithLockAndSnoozeTagsOnly")?;
    assert_eq!(
        sorted(strings(&tagging["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"])),
        sorted([
            "notebook-fleet:locked-at",
            "notebook-fleet:lock-reason",
            "notebook-fleet:decommissioned-at",
            "notebook-fleet:idle-exempt-until"
        ])
    );

    // The sweeper: stop managed notebooks, read the heartbeat listing, write warnings and audit records, revoke
    // expired custodian roles (and tag them revoked), put events. Nothing else.
    let sweeper_policy = &role_policies["idle-sweeper"];
    let actions = actions_of(sweeper_policy)?;
    assert_eq!(
        actions,
        sorted([
            "events:PutEvents",
            "iam:DeleteRole",
            "iam:DeleteRolePolicy",
            "iam:ListRoles",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "s3:GetObjectVersion",
            "s3:ListBucket",
            "s3:ListBucketVersions",
            "s3:PutObject",
            "sagemaker:AddTags",
            "sagemaker:DeleteNotebookInstanceLifecycleConfig",
            "sagemaker:ListNotebookInstanceLifecycleConfigs",
            "sagemaker:ListNotebookInstances",
            "sagemaker:StopNotebookInstance",
            "tag:GetResources"
        ])
    );
    // It deletes no data: its deletes take a policy from an expired custodian role, and remove leftover notebook
    // roles and fleet lifecycle configurations.
    let deletes = ["iam:DeleteRolePolicy", "iam:DeleteRole", "sagemaker:DeleteNotebookInstanceLifecycleConfig"];
    assert!(actions.iter().all(|a| (!a.contains("Delete") || deletes.contains(&a.as_str())) && !a.contains('*')));
    for s in sweeper_policy["Statement"].as_array().context("statements")? {
        assert_eq!(s["Effect"], "Allow");
        if strings(&s["Resource"]).iter().any(|r| {
            let scoped = [
                "/heartbeats/*.warned",
                ":notebook-instance/*",
                ":role/notebook-fleet/notebooks/nbf-*",
                "/notebooks/*",
                "/owners/*",
                "/journal/*",
                "/requests/leftovers-*",
                ":notebook-instance-lifecycle-config/nbf-on-start-*",
            ];
            r.contains('*') && !scoped.iter().any(|suffix| r.ends_with(suffix))
        }) {
            // Listings IAM only accepts on "*".
            let lists = [
                "sagemaker:ListNotebookInstances",
                "tag:GetResources",
                "sagemaker:ListNotebookInstanceLifecycleConfigs",
                "iam:ListRoles",
            ];
            assert!(strings(&s["Action"]).iter().all(|a| lists.contains(&a.as_str())), "{s}");
        }
    }
    let stop = statement(sweeper_policy, "StopManagedNotebooksOnly")?;
    assert_eq!(stop["Resource"], format!("arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:notebook-instance/*"));
    assert_eq!(
        stop["Condition"],
        json!({"StringEquals": {"aws:ResourceTag/notebook-fleet:managed-by": "notebook-fleet"}})
    );
    let list = statement(sweeper_policy, "ListHeartbeatsOnly")?;
    assert_eq!(list["Resource"], format!("arn:aws:s3:::{assets_bucket}"));
    assert_eq!(list["Condition"], json!({"StringEquals": {"s3:prefix": "heartbeats/"}}));
    let warn = statement(sweeper_policy, "RecordIdleWarningsOnly")?;
    assert_eq!(warn["Resource"], format!("arn:aws:s3:::{assets_bucket}/heartbeats/*.warned"));
    let put = statement(sweeper_policy, "PublishOnTheProjectBus")?;
    assert_eq!(put["Resource"], out["EventBusArn"].as_str());
    assert_eq!(put["Condition"]["ForAllValues:StringEquals"], json!({"events:source": "notebook-fleet"}));

    // The publisher: read and write the lifecycle assets, list the bucket (so that a missing asset is a 404,
    // not a 403), its own logs. No delete, nothing outside assets/.
    let publisher_policy = &role_policies["lifecycle-publisher"];
    let publisher_actions = actions_of(publisher_policy)?;
    assert_eq!(
        publisher_actions,
        sorted(["logs:CreateLogStream", "logs:PutLogEvents", "s3:GetObject", "s3:ListBucket", "s3:PutObject"])
    );
    let publish = statement(publisher_policy, "PublishLifecycleAssets")?;
    assert_eq!(sorted(strings(&publish["Action"])), sorted(["s3:GetObject", "s3:PutObject"]));
    assert_eq!(publish["Resource"], format!("arn:aws:s3:::{assets_bucket}/assets/*"));
    let list = statement(publisher_policy, "TellMissingAssetsFromDeniedOnes")?;
    assert_eq!(list["Resource"], format!("arn:aws:s3:::{assets_bucket}"));
    Ok(())
}

/// Area: the lifecycle assets, published by the deploy.
async fn the_deploy_publishes_the_lifecycle_assets_the_provisioner_points_at(r: &Rehearsal) -> Result<()> {
    let s3 = &r.s3;
    let translated = &r.deployment.translated;
    let out = &r.deployment.outputs;
    let resources = r.deployment.translated["Resources"].as_object().context("Resources")?;
    let agent_key = r.agent_key.clone();
    let assets_bucket = r.deployment.outputs["AssetsBucketName"].clone();
    let (provisioner_fn, _, _) = r.functions().await?;
    // The wiring moto cannot show (it drops Layers and cannot run the custom resource): the agent layer, a
    // file carrier for the publisher of either architecture, and the custom resource that re-publishes
    // whenever the layer version changes.
    let (layer_id, layer) = resources
        .iter()
        .find(|(_, r)| r["Type"] == "AWS::Lambda::LayerVersion")
        .context("the heartbeat agent's layer")?;
    assert!(layer_id.starts_with("HeartbeatAgentLayer"), "{layer_id}");
    assert_eq!(
        layer["Properties"]["Content"],
        json!({"S3Bucket": CODE_BUCKET, "S3Key": format!("{CODE_PREFIX}HeartbeatAgentLayer.zip")})
    );
    assert!(layer["Properties"].get("CompatibleArchitectures").is_none(), "{layer}");
    assert!(layer["Properties"].get("CompatibleRuntimes").is_none(), "{layer}");
    assert_eq!(res(translated, "LifecyclePublisherFunction")["Properties"]["Layers"], json!([{"Ref": layer_id}]));
    let lifecycle_assets = res(translated, "LifecycleAssets");
    assert_eq!(lifecycle_assets["Type"], "Custom::LifecycleAssets");
    assert_eq!(
        lifecycle_assets["Properties"]["ServiceToken"],
        json!({"Fn::GetAtt": ["LifecyclePublisherFunction", "Arn"]})
    );
    assert_eq!(lifecycle_assets["Properties"]["AgentLayerVersionArn"], json!({"Ref": layer_id}));
    assert_eq!(
        res(translated, "ProvisionerFunction")["Properties"]["Environment"]["Variables"]["FLEET_AGENT_OBJECT_KEY"],
        json!({"Fn::GetAtt": ["LifecycleAssets", "AgentObjectKey"]})
    );
    assert!(translated["Parameters"].get("AgentObjectKey").is_none(), "the key is no parameter any more");

    // What the custom resource does, with the publisher's own code, into the bucket the stack created.
    let published = publish_assets(&S3Assets::new(s3.clone(), &assets_bucket), &assets_bucket, AGENT_BYTES).await?;
    assert_eq!(published.agent_key, agent_key, "the publisher answers the key the stack was given");
    assert_eq!(published.uploaded, [published.agent_key.clone(), published.on_start_key.clone()]);
    assert_eq!(out["AgentObjectKey"], published.agent_key);
    assert_eq!(environment(&provisioner_fn)["FLEET_AGENT_OBJECT_KEY"], published.agent_key);
    let agent = s3.get_object().bucket(&assets_bucket).key(&published.agent_key).send().await?;
    assert_eq!(agent.body.collect().await?.into_bytes().as_ref(), AGENT_BYTES);
    s3.head_object().bucket(&assets_bucket).key(&published.on_start_key).send().await?;
    Ok(())
}

/// Area: a request through the provisioner the stack configures.
async fn the_provisioner_the_stack_configures_provisions_an_isolated_notebook(r: &Rehearsal) -> Result<()> {
    let sdk = &r.sdk;
    let s3 = &r.s3;
    let ec2 = &r.ec2;
    let iam = &r.iam;
    let events = &r.events;
    let out = &r.deployment.outputs;
    let subnet_ids = r.subnet_ids();
    let boundary_arn = r.deployment.outputs["PermissionsBoundaryArn"].clone();
    let (provisioner_fn, _, _) = r.functions().await?;
    let env = environment(&provisioner_fn);
    // The sender map's sources, the entitlements document, routes and snoozes, for the code to read.
    assert_eq!(
        env["FLEET_REQUEST_SOURCES"],
        "Notebook Requested=platform.portal,Notebook Stop Requested=platform.portal,Notebook Start \
         Requested=platform.portal,Notebook Idle Snooze Requested=platform.portal,Owner Deactivated=platform.hr,\
         Custodian Access Requested=,Notebook Decommission Requested="
    );
    assert_eq!(env["FLEET_ENTITLEMENTS_URI"], ENTITLEMENTS_URI);
    assert_eq!(env["FLEET_ALLOWED_ROUTE_TARGETS"], "tgw-0123456789abcdef0,pcx-0123456789abcdef0");
    assert_eq!(env["FLEET_MAX_SNOOZE_HOURS"], "12");
    // The platform's entitlements document where the stack says it is, read as the function reads it at start.
    let location =
        fleet::domain::settings::S3Location::parse(&env["FLEET_ENTITLEMENTS_URI"]).map_err(anyhow::Error::msg)?;
    integration_tests::platform::create_bucket(s3, &location.bucket).await?;
    s3.put_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .body(integration_tests::platform::ENTITLEMENTS.as_bytes().to_vec().into())
        .send()
        .await?;
    let config = fleet::aws::load_entitlements(
        s3,
        fleet::config::provisioner_settings(&fleet::config::Vars::new(|name| env.get(name).cloned()))?,
    )
    .await?;
    assert_eq!(config.permissions_boundary_arn, boundary_arn);
    assert_eq!(config.subnet_ids, subnet_ids);
    assert_eq!(config.security_group_ids, [out["NotebookSecurityGroupId"].clone()]);
    let clients = ProvisionerClients {
        ec2: ec2.clone(),
        iam: iam.clone(),
        sagemaker: aws_sdk_sagemaker::Client::new(sdk),
        tagging: aws_sdk_resourcegroupstagging::Client::new(sdk),
        eventbridge: events.clone(),
        s3: s3.clone(),
    };
    let provisioner = AwsProvisioner::from_clients(clients, config).with_retry(fleet::service::RetryPolicy {
        attempts: 4,
        first_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
    });
    let answer = handle_request_event(
        &provisioner,
        request_event(NOTEBOOK_REQUESTED, notebook_requested("rehearsal-1", "rehearsal-nb")),
    )
    .await?;
    assert_eq!(answer["detail-type"], NOTEBOOK_PROVISIONED, "{answer}");
    let notebook = aws_sdk_sagemaker::Client::new(sdk)
        .describe_notebook_instance()
        .notebook_instance_name("rehearsal-nb")
        .send()
        .await?;
    assert_eq!(notebook.direct_internet_access().map(|d| d.as_str()), Some("Disabled"));
    assert!(subnet_ids.iter().any(|s| Some(s.as_str()) == notebook.subnet_id()), "a stack subnet");
    assert_eq!(notebook.security_groups(), [out["NotebookSecurityGroupId"].clone()]);
    let role_name = notebook.role_arn().and_then(|a| a.rsplit('/').next()).context("notebook role")?;
    let role = iam.get_role().role_name(role_name).send().await?.role.context("role")?;
    assert_eq!(role.path(), "/notebook-fleet/notebooks/");
    assert_eq!(role.permissions_boundary().and_then(|b| b.permissions_boundary_arn()), Some(boundary_arn.as_str()));
    Ok(())
}

/// Area: one sweep by the sweeper the stack configures: the new notebook is in its start grace.
async fn the_sweeper_the_stack_configures_sweeps(r: &Rehearsal) -> Result<()> {
    let sdk = &r.sdk;
    let assets_bucket = r.deployment.outputs["AssetsBucketName"].clone();
    let bus_name = format!("notebook-fleet-{STACK}");
    let (_, sweeper_fn, _) = r.functions().await?;
    let env = environment(&sweeper_fn);
    let sweep_config = fleet::config::sweep_settings(&fleet::config::Vars::new(|name| env.get(name).cloned()))?;
    assert_eq!(sweep_config.assets_bucket, assets_bucket);
    assert_eq!(sweep_config.event_bus_name, bus_name);
    assert!(!sweep_config.dry_run);
    let calls = CallCounter::new();
    let sweeper = AwsSweeper::from_sdk_config(sdk, sweep_config, &calls, true);
    let report = sweeper.sweep_and_report(&calls, chrono::Utc::now()).await?;
    assert_eq!((report["in_service"].as_u64(), report["managed"].as_u64()), (Some(1), Some(1)), "{report}");
    assert_eq!(report["stopped"], json!([]), "{report}");
    Ok(())
}

/// Every action a policy document's statements allow or deny.
fn actions_of(policy: &Value) -> Result<BTreeSet<String>> {
    Ok(policy["Statement"].as_array().context("statements")?.iter().flat_map(|s| strings(&s["Action"])).collect())
}
