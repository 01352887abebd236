//! Who may ask for what, on the emulator: a request from a source not named for its kind, a request for
//! data outside the team's entitlements and a custodian request without a distinct approver are refused
//! with the reason and create nothing; a snooze sets the exemption and the next sweep leaves the notebook
//! running; a notebook whose subnet gained an internet route (or whose security group gained internet
//! egress) is not started; the entitlements document is read from S3 at start.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Duration, Utc};
use fleet::aws::{load_entitlements, AwsSweeper, CallCounter};
use fleet::config::ConfigError;
use fleet::domain::outcome::{
    OutcomeEvent, NOTEBOOK_PROVISIONED, NOTEBOOK_PROVISIONING_FAILED, NOTEBOOK_REQUEST_REJECTED, NOTEBOOK_STARTED,
};
use fleet::domain::request::{
    CUSTODIAN_ACCESS_REQUESTED, NOTEBOOK_IDLE_SNOOZE_REQUESTED, NOTEBOOK_REQUESTED, NOTEBOOK_START_REQUESTED,
    NOTEBOOK_STOP_REQUESTED, OWNER_DEACTIVATED,
};
use fleet::domain::tags;
use fleet::service::lambda::handle_request_event;
use fleet::testing::{ActionRequest, CustodianRequest, DeactivationRequest, SnoozeRequest};
use integration_tests::events::{notebook_requested, request_event};
use integration_tests::platform::{
    internet_gateway, s3_client, source_of, ASSETS_BUCKET, AUDIT_BUCKET, BUS_NAME, ENTITLEMENTS_KEY,
    PLATFORM_CONFIG_BUCKET, PORTAL_SOURCE,
};
use integration_tests::{Emulator, Platform};
use serde_json::{json, Value};

/// The request event, as a sender with `source` would put it on the bus.
fn event_from(source: &str, detail_type: &str, detail: Value) -> EventBridgeEvent<Value> {
    let mut event = request_event(detail_type, detail);
    event.source = source.to_owned();
    event
}

async fn tags_of(platform: &Platform, name: &str) -> Result<BTreeMap<String, String>> {
    Ok(platform.notebook_state(name).await?.1)
}

async fn status_of(platform: &Platform, name: &str) -> Result<String> {
    Ok(platform.notebook_state(name).await?.0)
}

fn outcome(answer: &Value) -> (&str, &Value) {
    (answer["detail-type"].as_str().unwrap_or_default(), &answer["detail"])
}

fn problem_fields(detail: &Value) -> Vec<&str> {
    detail["problems"].as_array().into_iter().flatten().filter_map(|p| p["field"].as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_from_a_source_not_named_for_its_kind_is_refused_and_creates_nothing() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioner = platform.provisioner();
    let provisioned = handle_request_event(
        &provisioner,
        request_event(NOTEBOOK_REQUESTED, notebook_requested("r-alice", "alice-nb")),
    )
    .await?;
    assert_eq!(outcome(&provisioned).0, NOTEBOOK_PROVISIONED, "{provisioned}");
    let before = platform.notebooks_and_roles().await?;

    // The portal cannot deactivate an owner; the identity system cannot ask for notebooks; the fleet's own
    // outcome source and an unknown source can ask for nothing.
    let forged = [
        (
            PORTAL_SOURCE,
            OWNER_DEACTIVATED,
            DeactivationRequest::new("d1", "alice").with_requested_by("mallory").with_reason("forged").detail(),
        ),
        (source_of(OWNER_DEACTIVATED), NOTEBOOK_REQUESTED, notebook_requested("r-forged", "forged-nb")),
        ("notebook-fleet", NOTEBOOK_REQUESTED, notebook_requested("r-outcome", "outcome-nb")),
        ("com.example.unknown", NOTEBOOK_STOP_REQUESTED, ActionRequest::new("s1", "alice-nb").detail()),
    ];
    for (source, detail_type, detail) in forged {
        let answer = handle_request_event(&provisioner, event_from(source, detail_type, detail)).await?;
        let (detail_type_out, detail) = outcome(&answer);
        assert_eq!(detail_type_out, NOTEBOOK_REQUEST_REJECTED, "{source} {detail_type}: {answer}");
        assert_eq!(problem_fields(detail), ["source"], "{answer}");
        let reason = detail["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(&format!("{source:?} may not send it")), "{reason}");
        assert!(reason.contains(&format!("{:?}", source_of(detail_type))), "names who may: {reason}");
    }
    assert_eq!(platform.notebooks_and_roles().await?, before, "a refused request creates nothing");
    assert_eq!(status_of(&platform, "alice-nb").await?, "InService", "the forged stop and deactivation did nothing");
    assert!(!tags_of(&platform, "alice-nb").await?.contains_key(tags::LOCKED_AT));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_for_data_outside_the_teams_entitlements_is_refused_and_creates_nothing() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioner = platform.provisioner();
    let cases = [
        // Another owner's folder, the team's whole folder, write on read-only data, another team.
        (json!([{"bucket": "team-data", "prefix": "risk/bob/", "access": "read"}]), "risk"),
        (json!([{"bucket": "team-data", "prefix": "risk/", "access": "read"}]), "risk"),
        (json!([{"bucket": "shared-data", "prefix": "reference/", "access": "read-write"}]), "risk"),
        (json!([{"bucket": "team-data", "prefix": "risk/alice/", "access": "read"}]), "marketing"),
    ];
    for (i, (data_access, team)) in cases.into_iter().enumerate() {
        let mut detail = notebook_requested(&format!("r{i}"), &format!("nb-{i}"));
        detail["data_access"] = data_access;
        detail["team"] = json!(team);
        let answer = handle_request_event(&provisioner, request_event(NOTEBOOK_REQUESTED, detail)).await?;
        let (detail_type, detail) = outcome(&answer);
        assert_eq!(detail_type, NOTEBOOK_REQUEST_REJECTED, "{answer}");
        assert_eq!(problem_fields(detail), ["detail.data_access[0]"], "{answer}");
        let reason = detail["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(&format!("not covered by an entitlement of team {team:?}")), "{reason}");
        if team == "risk" {
            assert!(
                reason.contains("s3://team-data/risk/alice/ (read-write)"),
                "lists what the team may have: {reason}"
            );
        } else {
            assert!(reason.contains("has no data entitlements"), "{reason}");
        }
    }
    assert_eq!(
        platform.notebooks_and_roles().await?,
        (vec![], vec![]),
        "no notebook and no role for a refused request"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custodian_request_without_a_distinct_approver_is_refused_and_creates_nothing() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioner = platform.provisioner();
    let answer =
        handle_request_event(&provisioner, request_event(NOTEBOOK_REQUESTED, notebook_requested("a1", "alice-nb")))
            .await?;
    assert_eq!(outcome(&answer).0, NOTEBOOK_PROVISIONED);
    let deactivate = DeactivationRequest::new("d1", "alice").with_reason("left").detail();
    handle_request_event(&provisioner, request_event(OWNER_DEACTIVATED, deactivate)).await?;
    let before = platform.notebooks_and_roles().await?;

    for (i, approver) in ["carol", "alice"].into_iter().enumerate() {
        let detail = CustodianRequest::new(&format!("c{i}"), "alice").with_approved_by(approver).detail();
        let answer = handle_request_event(&provisioner, request_event(CUSTODIAN_ACCESS_REQUESTED, detail)).await?;
        let (detail_type, detail) = outcome(&answer);
        assert_eq!(detail_type, NOTEBOOK_REQUEST_REJECTED, "{answer}");
        assert_eq!(problem_fields(detail), ["detail.approved_by"], "{answer}");
        assert!(detail["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("neither the custodian nor the deactivated owner"));
    }
    // Without any approver the request does not even parse: the field is named.
    let mut unapproved = CustodianRequest::new("c9", "alice").detail();
    unapproved.as_object_mut().map(|fields| fields.remove("approved_by"));
    let answer = handle_request_event(&provisioner, request_event(CUSTODIAN_ACCESS_REQUESTED, unapproved)).await?;
    assert!(outcome(&answer).1["reason"].as_str().unwrap_or_default().contains("approved_by"), "{answer}");
    assert_eq!(platform.notebooks_and_roles().await?, before, "no custodian notebook and no role");
    Ok(())
}

fn sweeper(platform: &Platform) -> Result<AwsSweeper> {
    let vars = BTreeMap::from([
        (fleet::config::EVENT_BUS_NAME, BUS_NAME.to_owned()),
        (fleet::config::ASSETS_BUCKET, ASSETS_BUCKET.to_owned()),
        (fleet::config::AUDIT_BUCKET, AUDIT_BUCKET.to_owned()),
    ]);
    let config = fleet::config::sweep_settings(&fleet::config::Vars::new(|name| vars.get(name).cloned()))?;
    Ok(AwsSweeper::from_sdk_config(&platform.sdk, config, &CallCounter::new(), true))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snooze_sets_the_exemption_and_the_next_sweep_leaves_the_notebook_running() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioner = platform.provisioner();
    let t0: DateTime<Utc> = Utc::now();
    let answer =
        handle_request_event(&provisioner, request_event(NOTEBOOK_REQUESTED, notebook_requested("r1", "alice-nb")))
            .await?;
    assert_eq!(outcome(&answer).0, NOTEBOOK_PROVISIONED);
    let sweeper = sweeper(&platform)?;

    // Idle (its agent never reported): warned two hours after the start.
    let warned = sweeper.sweep(t0 + Duration::hours(2)).await?;
    assert_eq!(warned.warned, ["alice-nb"], "{warned:?}");

    // Only the owner may snooze, and no longer than the platform allows.
    let snooze = |id: &str, by: &str, hours: u32| {
        SnoozeRequest::new(id, "alice-nb").with_requested_by(by).with_hours(hours).detail()
    };
    for (id, by, hours, field) in [("z1", "mallory", 4, "detail.requested_by"), ("z2", "alice", 500, "detail.hours")] {
        let refused = provisioner
            .handle_at(PORTAL_SOURCE, NOTEBOOK_IDLE_SNOOZE_REQUESTED, &snooze(id, by, hours), t0 + Duration::hours(2))
            .await?;
        let OutcomeEvent::Rejected(rejected) = &refused else { anyhow::bail!("not rejected: {refused:?}") };
        let fields: Vec<_> = rejected.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, [field], "{refused:?}");
    }
    assert!(!tags_of(&platform, "alice-nb").await?.contains_key(tags::IDLE_EXEMPT_UNTIL));

    let at = t0 + Duration::hours(2) + Duration::minutes(5);
    let snoozed =
        provisioner.handle_at(PORTAL_SOURCE, NOTEBOOK_IDLE_SNOOZE_REQUESTED, &snooze("z3", "alice", 4), at).await?;
    let OutcomeEvent::Snoozed(snoozed) = &snoozed else { anyhow::bail!("not snoozed: {snoozed:?}") };
    let until = snoozed.idle_exempt_until.clone();
    assert_eq!(
        tags_of(&platform, "alice-nb").await?.get(tags::IDLE_EXEMPT_UNTIL),
        Some(&until),
        "the fleet set the tag"
    );
    let until_time = DateTime::parse_from_rfc3339(&until)?.with_timezone(&Utc);
    assert!((until_time - (at + Duration::hours(4))).num_seconds().abs() <= 1, "{until}");

    // The warning's lead time has passed: without the snooze this sweep would stop it.
    let next = sweeper.sweep(t0 + Duration::hours(3)).await?;
    assert!(next.stopped.is_empty(), "{next:?}");
    assert_eq!(next.verdicts["exempt"], 1, "{next:?}");
    assert_eq!(status_of(&platform, "alice-nb").await?, "InService");
    // Once the snooze is over, the idle policy applies again.
    let later = sweeper.sweep(t0 + Duration::hours(7) + Duration::minutes(10)).await?;
    assert_eq!(later.warned, ["alice-nb"], "{later:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notebook_whose_network_lost_its_isolation_is_not_started() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioner = platform.provisioner();
    let ec2 = aws_sdk_ec2::Client::new(&platform.sdk);
    let answer =
        handle_request_event(&provisioner, request_event(NOTEBOOK_REQUESTED, notebook_requested("r1", "alice-nb")))
            .await?;
    assert_eq!(outcome(&answer).0, NOTEBOOK_PROVISIONED);
    handle_request_event(
        &provisioner,
        request_event(NOTEBOOK_STOP_REQUESTED, ActionRequest::new("s1", "alice-nb").detail()),
    )
    .await?;
    assert_eq!(status_of(&platform, "alice-nb").await?, "Stopped");

    // Someone adds a NAT-less internet path to the notebook's subnet: half the address space through an
    // internet gateway (no default route, so a default-route check would miss it).
    let subnet = aws_sdk_sagemaker::Client::new(&platform.sdk)
        .describe_notebook_instance()
        .notebook_instance_name("alice-nb")
        .send()
        .await?
        .subnet_id
        .context("subnet")?;
    let table = ec2
        .describe_route_tables()
        .filters(aws_sdk_ec2::types::Filter::builder().name("association.subnet-id").values(&subnet).build())
        .send()
        .await?
        .route_tables
        .unwrap_or_default()
        .into_iter()
        .find_map(|t| t.route_table_id)
        .context("the subnet's route table")?;
    let igw = internet_gateway(&ec2, &platform.vpc_id).await?;
    ec2.create_route().route_table_id(&table).destination_cidr_block("128.0.0.0/1").gateway_id(&igw).send().await?;

    let refused = handle_request_event(
        &provisioner,
        request_event(NOTEBOOK_START_REQUESTED, ActionRequest::new("st1", "alice-nb").detail()),
    )
    .await?;
    let (detail_type, detail) = outcome(&refused);
    assert_eq!(detail_type, NOTEBOOK_REQUEST_REJECTED, "{refused}");
    let reason = detail["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("subnet {subnet} is not isolated: route to 128.0.0.0/1 goes through {igw}")),
        "{reason}"
    );
    assert_eq!(status_of(&platform, "alice-nb").await?, "Stopped", "not started");

    // Routes fixed, but the security group now lets everything out: still refused, naming the group.
    ec2.delete_route().route_table_id(&table).destination_cidr_block("128.0.0.0/1").send().await?;
    let everything = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("-1")
        .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build();
    ec2.authorize_security_group_egress()
        .group_id(&platform.security_group_id)
        .ip_permissions(everything.clone())
        .send()
        .await?;
    let refused = handle_request_event(
        &provisioner,
        request_event(NOTEBOOK_START_REQUESTED, ActionRequest::new("st2", "alice-nb").detail()),
    )
    .await?;
    let reason = outcome(&refused).1["reason"].as_str().unwrap_or_default().to_owned();
    assert!(reason.contains(&format!("security group {} is not isolated", platform.security_group_id)), "{reason}");
    // A new notebook in that network is refused too (before anything is created).
    let failed =
        handle_request_event(&provisioner, request_event(NOTEBOOK_REQUESTED, notebook_requested("r2", "alice-two")))
            .await?;
    assert_eq!(outcome(&failed).0, NOTEBOOK_PROVISIONING_FAILED, "{failed}");
    assert!(!platform.notebooks_and_roles().await?.0.contains(&"alice-two".to_owned()));

    ec2.revoke_security_group_egress().group_id(&platform.security_group_id).ip_permissions(everything).send().await?;
    let started = handle_request_event(
        &provisioner,
        request_event(NOTEBOOK_START_REQUESTED, ActionRequest::new("st3", "alice-nb").detail()),
    )
    .await?;
    assert_eq!(outcome(&started).0, NOTEBOOK_STARTED, "isolated again, it starts: {started}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_entitlements_document_is_read_from_s3_and_a_broken_one_stops_the_start() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let s3 = s3_client(&platform.sdk);
    let env = platform.env();
    let unloaded = fleet::config::provisioner_settings(&fleet::config::Vars::new(|name| env.get(name).cloned()))?;
    assert!(unloaded.limits.entitlements.rules().is_empty());
    let loaded = load_entitlements(&s3, unloaded.clone()).await?;
    assert_eq!(loaded.limits.entitlements, platform.config().limits.entitlements, "the published document");
    assert_eq!(loaded.limits.entitlements.rules().len(), 2);

    let broken = integration_tests::platform::ENTITLEMENTS.replace("\"reference/\"", "\"reference/*\"");
    s3.put_object()
        .bucket(PLATFORM_CONFIG_BUCKET)
        .key(ENTITLEMENTS_KEY)
        .body(broken.into_bytes().into())
        .send()
        .await?;
    match load_entitlements(&s3, unloaded.clone()).await {
        Err(ConfigError::Invalid { name, reason }) => {
            assert_eq!(name, fleet::config::ENTITLEMENTS_URI);
            assert!(reason.contains("line 5, rules[1].prefix"), "{reason}");
        }
        other => panic!("a broken document must stop the start: {other:?}"),
    }
    s3.delete_object().bucket(PLATFORM_CONFIG_BUCKET).key(ENTITLEMENTS_KEY).send().await?;
    let missing = load_entitlements(&s3, unloaded).await.expect_err("a missing document stops the start");
    assert!(missing.to_string().contains("cannot read s3://fleet-platform-config/"), "{missing}");
    Ok(())
}
