//! Fault injection (issue: nothing lost when AWS throttles, fails or drops a connection). The sweeper runs
//! through a proxy in front of moto that fails a share of its calls the way AWS does: throttling (JSON
//! `ThrottlingException`, S3 `SlowDown`), HTTP 500, a 3-second stall, a dropped connection, and an answer lost
//! after the call was done. So do the provisioner (every request kind) and the lifecycle publisher. Longer runs
//! and 50 % faults: `scripts/bench.sh faults`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use fleet::aws::assets::S3Assets;
use fleet::domain::outcome::OutcomeEvent;
use fleet::domain::request::NOTEBOOK_REQUESTED;
use fleet::domain::tags;
use fleet::service::publish::publish_assets;
use fleet::testing::{
    ActionRequest, CustodianRequest, DeactivationRequest, DecommissionRequest, NotebookRequest, SnoozeRequest,
};
use integration_tests::emulator::{sdk_config_for, test_credentials};
use integration_tests::events::notebook_requested;
use integration_tests::fault_sweeps::{sweeps_under_faults, FaultFigures, FaultRun};
use integration_tests::faults::{Fault, FaultPlan, FaultProxy};
use integration_tests::fleet::{seed, Seed};
use integration_tests::platform::{s3_client, source_of, ASSETS_BUCKET};
use integration_tests::{Emulator, Platform};

#[tokio::test(flavor = "multi_thread")]
async fn at_20_percent_faults_no_wrong_stop_no_lost_record_and_every_idle_notebook_stopped_within_two_sweeps(
) -> Result<()> {
    let run = FaultRun { fleet: 300, rate: 0.2, seed: 20, sweeps: 3, stall: Duration::from_secs(3) };
    let figures = sweeps_under_faults(run).await?;
    eprintln!("{}\n{}\n{}", FaultFigures::HEADER, figures.row(), figures.injected);
    let FaultFigures { injected, wrong_stops, idle_running_after, lost_records, .. } = &figures;

    // Every kind of fault was injected, at about the rate asked.
    for kind in [Fault::Throttle, Fault::ServerError, Fault::Stall, Fault::Drop, Fault::LostResponse] {
        assert!(injected.injected.get(&kind).copied().unwrap_or(0) > 0, "no {kind:?} injected: {injected}");
    }
    let share = injected.total_injected() as f64 / injected.requests as f64;
    assert!((0.15..0.25).contains(&share), "{share:.3} of the calls failed: {injected}");

    assert!(wrong_stops.is_empty(), "busy notebooks stopped: {wrong_stops:?}");
    assert!(figures.aborted.is_empty(), "{:?}", figures.aborted);
    assert_eq!(idle_running_after[1], 0, "idle notebooks still running after two sweeps: {idle_running_after:?}");
    assert!(lost_records.is_empty(), "actions without their record: {lost_records:?}");
    assert_eq!(
        figures.unreported, 0,
        "idle notebooks left running that the report names nowhere: {:?}",
        figures.unreported_detail
    );
    assert_eq!(figures.missing_stop_events, 0, "every stop is announced");
    assert_eq!(figures.open_journals, 0, "every journal is settled by the last sweep");
    Ok(())
}

/// Delivers one request as EventBridge and Lambda do: again after a retryable failure, one and three minutes
/// later (`MaximumRetryAttempts: 2`); the outcome, or `None` when every delivery failed (the event would be in
/// the dead-letter queue).
async fn deliver(
    provisioner: &fleet::aws::AwsProvisioner,
    detail_type: &str,
    detail: &serde_json::Value,
) -> Option<OutcomeEvent> {
    let start = Utc::now();
    for minutes in [0, 1, 3] {
        let at = start + chrono::Duration::minutes(minutes);
        match provisioner.handle_at(source_of(detail_type), detail_type, detail, at).await {
            Ok(outcome) => return Some(outcome),
            Err(error) if error.retryable() => eprintln!("{detail_type}: retryable, delivered again: {error}"),
            Err(error) => panic!("{detail_type}: not retryable: {error}"),
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn at_20_percent_faults_every_request_kind_ends_as_asked_with_one_outcome_each() -> Result<()> {
    let emulator = Emulator::start()?;
    let proxy = FaultProxy::start(&emulator.endpoint, FaultPlan::none())?;
    // The provisioner's own SDK settings (the defaults: standard retry, three attempts a call).
    let platform = Platform::build_with(sdk_config_for(&proxy.endpoint(), test_credentials()).await).await?;
    let provisioner = platform.provisioner();
    proxy.set_plan(FaultPlan::every_kind(0.2, 11).stall(Duration::from_millis(500)));

    let requests: Vec<(&str, &str, serde_json::Value)> = vec![
        ("p-alice", NOTEBOOK_REQUESTED, notebook_requested("p-alice", "alice-nb")),
        ("p-bob", NOTEBOOK_REQUESTED, NotebookRequest::new("p-bob", "bob-nb").with_owner("bob").detail()),
        ("stop-1", ActionRequest::STOP, ActionRequest::new("stop-1", "alice-nb").detail()),
        ("start-1", ActionRequest::START, ActionRequest::new("start-1", "alice-nb").detail()),
        ("snooze-1", SnoozeRequest::DETAIL_TYPE, SnoozeRequest::new("snooze-1", "alice-nb").detail()),
        ("dec-1", DecommissionRequest::DETAIL_TYPE, DecommissionRequest::new("dec-1", "bob-nb").detail()),
        ("hr-1", DeactivationRequest::DETAIL_TYPE, DeactivationRequest::new("hr-1", "alice").detail()),
        ("legal-1", CustodianRequest::DETAIL_TYPE, CustodianRequest::new("legal-1", "alice").detail()),
    ];
    let mut answers = BTreeMap::new();
    for (id, detail_type, detail) in &requests {
        let outcome = deliver(&provisioner, detail_type, detail).await;
        answers.insert(*id, outcome.unwrap_or_else(|| panic!("{id}: three deliveries failed")));
    }
    proxy.set_plan(FaultPlan::none());
    let injected = proxy.counts();
    eprintln!("{injected}");
    assert!(injected.total_injected() > 0, "{injected}");

    if let Some(OutcomeEvent::Rejected(rejected)) = answers.get("legal-1") {
        eprintln!("custody refused: {}", rejected.reason);
    }
    let kinds: BTreeMap<&str, &str> = answers.iter().map(|(id, o)| (*id, o.detail_type())).collect();
    assert_eq!(
        kinds,
        BTreeMap::from([
            ("p-alice", "Notebook Provisioned"),
            ("p-bob", "Notebook Provisioned"),
            ("stop-1", "Notebook Stopped"),
            ("start-1", "Notebook Started"),
            ("snooze-1", "Notebook Idle Snoozed"),
            ("dec-1", "Notebook Decommissioned"),
            ("hr-1", "Owner Deactivation Completed"),
            ("legal-1", "Custodian Access Granted"),
        ])
    );
    let (alice_status, alice_tags, alice_policy) = platform.notebook_state("alice-nb").await?;
    assert_eq!(alice_status, "Stopped");
    assert!(alice_tags.contains_key(tags::LOCKED_AT) && !alice_policy.contains("s3:PutObject"));
    let (_, bob_tags, _) = platform.notebook_state("bob-nb").await?;
    assert!(bob_tags.contains_key(tags::LOCKED_AT), "decommissioned: locked");
    let (notebooks, roles) = platform.notebooks_and_roles().await?;
    assert_eq!((notebooks.len(), roles.len()), (3, 3), "alice's, bob's, carol's custody: {notebooks:?} {roles:?}");

    // One outcome per request on the bus. A PutEvents whose answer was lost after EventBridge took the
    // entries is sent again by the SDK (EventBridge has no idempotency key): such a copy has the same detail.
    let events = platform.drain_outcomes().await?;
    let mut by_request: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for event in events.iter().filter(|e| !matches!(e, OutcomeEvent::Locked(_))) {
        if let Some(id) = event.detail_json().get("request_id").and_then(|v| v.as_str()) {
            by_request.entry(id.to_owned()).or_default().push(event.detail_json());
        }
    }
    assert_eq!(by_request.len(), requests.len(), "{by_request:?}");
    for (id, details) in &by_request {
        assert!(details.windows(2).all(|w| w[0] == w[1]), "{id}: copies of one outcome only: {details:?}");
    }
    let put_events_faults = injected.by_operation.get("PutEvents").map_or(0, |(_, injected)| *injected);
    let copies: usize = by_request.values().map(|d| d.len() - 1).sum();
    assert!(copies as u64 <= put_events_faults, "{copies} copies, {put_events_faults} PutEvents faults");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn at_20_percent_faults_the_lifecycle_publisher_publishes_every_asset() -> Result<()> {
    let emulator = Emulator::start()?;
    let proxy = FaultProxy::start(&emulator.endpoint, FaultPlan::none())?;
    let platform = Platform::build_with(sdk_config_for(&proxy.endpoint(), test_credentials()).await).await?;
    let store = S3Assets::new(s3_client(&platform.sdk), ASSETS_BUCKET);
    proxy.set_plan(FaultPlan::every_kind(0.2, 5).stall(Duration::from_millis(500)));
    // Ten deploys of ten agents: forty calls or so, the faults falling where the seed puts them.
    let mut deployed = Vec::new();
    for version in 0..10 {
        let agent = format!("\x7fELF stand-in agent v{version}").into_bytes();
        // CloudFormation retries nothing: a failed publish fails the stack update, which a deploy repeats.
        let mut published = None;
        for _ in 0..3 {
            match publish_assets(&store, ASSETS_BUCKET, &agent).await {
                Ok(assets) => {
                    published = Some(assets);
                    break;
                }
                Err(error) => eprintln!("publish failed, deployed again: {error}"),
            }
        }
        deployed.push((agent, published.expect("published within three deploys")));
    }
    proxy.set_plan(FaultPlan::none());
    let s3 = s3_client(&platform.sdk);
    for (agent, published) in deployed {
        let got = s3.get_object().bucket(ASSETS_BUCKET).key(&published.agent_key).send().await?;
        assert_eq!(got.body.collect().await?.into_bytes().to_vec(), agent, "the agent's bytes, whole");
        let script = s3.head_object().bucket(ASSETS_BUCKET).key(&published.on_start_key).send().await;
        assert!(script.is_ok(), "the on-start script is there too");
    }
    assert!(proxy.counts().total_injected() > 0, "{}", proxy.counts());
    eprintln!("{}", proxy.counts());
    Ok(())
}

/// moto forgets a page token once it has answered with it, and AWS after 15 minutes: a later page whose answer
/// was lost cannot be asked for again. The paged listing of an owner's notebooks by tag (a deactivation's)
/// starts over instead of ending early or failing.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_answer_to_a_later_page_of_tags_starts_the_listing_over_and_the_deactivation_finds_every_notebook(
) -> Result<()> {
    let emulator = Emulator::start()?;
    let proxy = FaultProxy::start(&emulator.endpoint, FaultPlan::none())?;
    // Built and seeded through the proxy before any fault.
    let platform = Platform::build_with(sdk_config_for(&proxy.endpoint(), test_credentials()).await).await?;
    // 150 notebooks of one owner: two pages of tags.
    let seeds: Vec<Seed> = (0..150).map(|i| Seed::managed(format!("paged-{i}")).tag(tags::OWNER, "alice")).collect();
    seed(&platform.sdk, &seeds, 16).await?;
    let provisioner = platform.provisioner();
    proxy.reset_counts();

    // The answer to the second page is lost after moto has served it; the SDK asks again with the same token.
    proxy.set_plan(
        FaultPlan::every_kind(1.0, 3)
            .kinds(&[Fault::LostResponse])
            .only_operations(&["GetResources"])
            .body_contains("PaginationToken")
            .at_most(1),
    );
    let detail_type = DeactivationRequest::DETAIL_TYPE;
    let outcome = provisioner
        .handle_at(source_of(detail_type), detail_type, &DeactivationRequest::new("hr-1", "alice").detail(), Utc::now())
        .await?;
    assert_eq!(proxy.counts().injected.get(&Fault::LostResponse), Some(&1), "{}", proxy.counts());
    let OutcomeEvent::OwnerDeactivationCompleted(done) = outcome else { panic!("{outcome:?}") };
    assert_eq!(done.notebooks.len(), 150, "{done:?}");
    // Page 1, page 2 (lost, then asked again: the token is unknown), then pages 1 and 2 of the new listing.
    assert_eq!(proxy.counts().by_operation["GetResources"].0, 5, "{}", proxy.counts());
    Ok(())
}
