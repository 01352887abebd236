//! Races on the emulator: requests that meet each other, all in flight at once. Each ends in the state a
//! person would expect, with one outcome per request on the bus.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use chrono::{Duration, Utc};
use fleet::aws::{AwsSweeper, CallCounter};
use fleet::domain::outcome::OutcomeEvent;
use fleet::domain::request::{
    NOTEBOOK_IDLE_SNOOZE_REQUESTED, NOTEBOOK_REQUESTED, NOTEBOOK_START_REQUESTED, NOTEBOOK_STOP_REQUESTED,
    OWNER_DEACTIVATED,
};
use fleet::domain::tags;
use fleet::testing::{ActionRequest, DeactivationRequest, DecommissionRequest, SnoozeRequest};
use integration_tests::events::notebook_requested;
use integration_tests::fleet::sweep_settings;
use integration_tests::platform::source_of;
use integration_tests::{Emulator, Platform};
use serde_json::Value;

/// The request id each outcome on the bus answers, with how many times it was answered (a deactivation's
/// `Notebook Locked` notices carry its id too, and are not its outcome).
fn outcomes_by_request(events: &[OutcomeEvent]) -> BTreeMap<String, usize> {
    let mut by_request = BTreeMap::new();
    for event in events.iter().filter(|e| !matches!(e, OutcomeEvent::Locked(_))) {
        if let Some(id) = event.detail_json().get("request_id").and_then(Value::as_str) {
            *by_request.entry(id.to_owned()).or_default() += 1;
        }
    }
    by_request
}

async fn provision(platform: &Platform, request_id: &str, name: &str) -> Result<()> {
    let outcome = platform
        .provisioner()
        .handle(source_of(NOTEBOOK_REQUESTED), NOTEBOOK_REQUESTED, &notebook_requested(request_id, name))
        .await?;
    anyhow::ensure!(matches!(outcome, OutcomeEvent::Provisioned(_)), "{outcome:?}");
    Ok(())
}

/// A platform with one provisioned notebook, `alice-nb` (request `req-1`), and its outcome already read from
/// the bus. The emulator runs as long as it is kept.
async fn alice_notebook() -> Result<(Emulator, Platform)> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    provision(&platform, "req-1", "alice-nb").await?;
    platform.drain_outcomes().await?;
    Ok((emulator, platform))
}

/// A sweeper that stops an idle notebook without warning it first.
fn sweeper_without_warnings(platform: &Platform) -> AwsSweeper {
    let mut settings = sweep_settings();
    settings.policy.warning_minutes = 0;
    AwsSweeper::from_sdk_config(&platform.sdk, settings, &CallCounter::new(), true)
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_requests_each_delivered_ten_times_at_once_give_ten_notebooks_ten_roles_and_ten_outcomes() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioner = platform.provisioner();
    let deliveries = (0..100).map(|i| {
        let (id, name) = (format!("req-{}", i % 10), format!("alice-nb-{}", i % 10));
        let provisioner = &provisioner;
        async move {
            let detail = notebook_requested(&id, &name);
            let outcome = provisioner.handle(source_of(NOTEBOOK_REQUESTED), NOTEBOOK_REQUESTED, &detail).await;
            (id, outcome)
        }
    });
    let answers = futures::future::join_all(deliveries).await;
    let mut arns: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (id, answer) in answers {
        let OutcomeEvent::Provisioned(provisioned) = answer? else { anyhow::bail!("request {id} not provisioned") };
        arns.entry(id).or_default().insert(provisioned.notebook_arn);
    }
    assert_eq!(arns.len(), 10);
    assert!(arns.values().all(|a| a.len() == 1), "every delivery of a request names its one notebook: {arns:?}");

    let (notebooks, roles) = platform.notebooks_and_roles().await?;
    assert_eq!((notebooks.len(), roles.len()), (10, 10), "{notebooks:?} {roles:?}");
    let by_request = outcomes_by_request(&platform.drain_outcomes().await?);
    assert_eq!(by_request.len(), 10);
    assert!(by_request.values().all(|n| *n == 1), "one outcome per request on the bus: {by_request:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deactivation_racing_a_start_leaves_the_notebook_locked_and_stopped_after_the_next_sweep() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    provision(&platform, "req-1", "alice-nb").await?;
    let provisioner = platform.provisioner();
    let stop = ActionRequest::new("stop-1", "alice-nb").detail();
    provisioner.handle(source_of(NOTEBOOK_STOP_REQUESTED), NOTEBOOK_STOP_REQUESTED, &stop).await?;
    platform.drain_outcomes().await?;

    let start = ActionRequest::new("start-1", "alice-nb").detail();
    let deactivate = DeactivationRequest::new("hr-1", "alice").detail();
    let (started, deactivated) = futures::join!(
        provisioner.handle(source_of(NOTEBOOK_START_REQUESTED), NOTEBOOK_START_REQUESTED, &start),
        provisioner.handle(source_of(OWNER_DEACTIVATED), OWNER_DEACTIVATED, &deactivate),
    );
    let (started, deactivated) = (started?, deactivated?);
    assert!(matches!(deactivated, OutcomeEvent::OwnerDeactivationCompleted(_)), "{deactivated:?}");
    assert!(
        matches!(started, OutcomeEvent::Started(_) | OutcomeEvent::Rejected(_)),
        "started before the lock, or refused after it: {started:?}"
    );

    // Whichever came first, the lock holds: the sweeper stops a locked notebook it finds in service.
    let sweeper = AwsSweeper::from_sdk_config(&platform.sdk, sweep_settings(), &CallCounter::new(), true);
    sweeper.sweep(Utc::now() + Duration::minutes(1)).await?;
    let (status, notebook_tags, policy) = platform.notebook_state("alice-nb").await?;
    assert_ne!(status, "InService", "a deactivated owner's notebook does not run");
    assert!(notebook_tags.contains_key(tags::LOCKED_AT), "{notebook_tags:?}");
    assert!(!policy.contains("s3:PutObject"), "its role can no longer write: {policy}");
    let by_request = outcomes_by_request(&platform.drain_outcomes().await?);
    assert_eq!((by_request.get("start-1"), by_request.get("hr-1")), (Some(&1), Some(&1)), "{by_request:?}");

    // And a start after the race is refused with the lock's reason.
    let again = ActionRequest::new("start-2", "alice-nb").detail();
    let refused = provisioner.handle(source_of(NOTEBOOK_START_REQUESTED), NOTEBOOK_START_REQUESTED, &again).await?;
    assert!(matches!(&refused, OutcomeEvent::Rejected(r) if r.reason.contains("locked")), "{refused:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_start_racing_a_stop_ends_in_one_of_the_two_states_with_one_outcome_each() -> Result<()> {
    let (_emulator, platform) = alice_notebook().await?;
    let provisioner = platform.provisioner();

    let stop = ActionRequest::new("stop-1", "alice-nb").detail();
    let start = ActionRequest::new("start-1", "alice-nb").detail();
    let (stopped, started) = futures::join!(
        provisioner.handle(source_of(NOTEBOOK_STOP_REQUESTED), NOTEBOOK_STOP_REQUESTED, &stop),
        provisioner.handle(source_of(NOTEBOOK_START_REQUESTED), NOTEBOOK_START_REQUESTED, &start),
    );
    let (stopped, started) = (stopped?, started?);
    let (status, _, _) = platform.notebook_state("alice-nb").await?;
    // The later call wins, as it would for a person pressing both buttons; each request is answered once,
    // and the answers agree with the state.
    assert!(["InService", "Stopped", "Pending", "Stopping"].contains(&status.as_str()), "{status}");
    for outcome in [&stopped, &started] {
        assert!(!matches!(outcome, OutcomeEvent::Failed(_)), "{outcome:?}");
    }
    let by_request = outcomes_by_request(&platform.drain_outcomes().await?);
    assert_eq!((by_request.get("stop-1"), by_request.get("start-1")), (Some(&1), Some(&1)), "{by_request:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decommission_racing_a_sweep_leaves_the_notebook_stopped_and_locked_with_every_action_recorded_once(
) -> Result<()> {
    let (_emulator, platform) = alice_notebook().await?;
    let provisioner = platform.provisioner();
    // Idle long enough for a stop without a warning: the sweep and the decommission both stop it.
    let sweeper = sweeper_without_warnings(&platform);

    let decommission = DecommissionRequest::new("dec-1", "alice-nb").detail();
    let detail_type = DecommissionRequest::DETAIL_TYPE;
    let (decommissioned, swept) = futures::join!(
        provisioner.handle(source_of(detail_type), detail_type, &decommission),
        sweeper.sweep(Utc::now() + Duration::hours(3)),
    );
    let (decommissioned, swept) = (decommissioned?, swept?);
    assert!(matches!(decommissioned, OutcomeEvent::Decommissioned(_)), "{decommissioned:?}");
    assert!(swept.stop_failures.is_empty(), "a notebook stopped meanwhile is not a failed stop: {swept:?}");

    let (status, notebook_tags, _) = platform.notebook_state("alice-nb").await?;
    assert_ne!(status, "InService");
    assert!(notebook_tags.contains_key(tags::LOCKED_AT), "{notebook_tags:?}");
    let events = platform.drain_outcomes().await?;
    assert_eq!(outcomes_by_request(&events).get("dec-1"), Some(&1), "{events:?}");
    let sweep_stops = events.iter().filter(|e| matches!(e, OutcomeEvent::Stopped(_))).count();
    assert_eq!(sweep_stops, swept.stopped.len(), "one event per stop the sweep reports: {events:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snooze_racing_the_sweeps_stop_is_answered_once_and_holds_whichever_came_first() -> Result<()> {
    let (_emulator, platform) = alice_notebook().await?;
    let provisioner = platform.provisioner();
    // Idle long enough for a stop without a warning; the owner asks for four more hours at the same moment.
    let sweeper = sweeper_without_warnings(&platform);
    let at = Utc::now() + Duration::hours(3);

    let snooze = SnoozeRequest::new("snooze-1", "alice-nb").detail();
    let (snoozed, swept) = futures::join!(
        provisioner.handle(source_of(NOTEBOOK_IDLE_SNOOZE_REQUESTED), NOTEBOOK_IDLE_SNOOZE_REQUESTED, &snooze),
        sweeper.sweep(at),
    );
    let (snoozed, swept) = (snoozed?, swept?);
    assert!(matches!(snoozed, OutcomeEvent::Snoozed(_)), "{snoozed:?}");
    let (status, notebook_tags, _) = platform.notebook_state("alice-nb").await?;
    assert!(notebook_tags.contains_key(tags::IDLE_EXEMPT_UNTIL), "the snooze is kept either way: {notebook_tags:?}");
    // Either the sweep listed the notebook before the snooze's tag and stopped it (and says so), or it saw the
    // exemption and left it running: the report and the notebook agree.
    let stopped = swept.stopped.contains(&"alice-nb".to_owned());
    assert_eq!(stopped, status != "InService", "status {status}, report {swept:?}");
    assert!(swept.stop_failures.is_empty(), "{swept:?}");
    let events = platform.drain_outcomes().await?;
    assert_eq!(outcomes_by_request(&events).get("snooze-1"), Some(&1), "{events:?}");
    let stop_events = events.iter().filter(|e| matches!(e, OutcomeEvent::Stopped(_))).count();
    assert_eq!(stop_events, usize::from(stopped), "{events:?}");

    // From then on the snooze holds: started again if it was stopped, the next sweep leaves it running.
    if stopped {
        let start = ActionRequest::new("start-1", "alice-nb").detail();
        provisioner.handle(source_of(NOTEBOOK_START_REQUESTED), NOTEBOOK_START_REQUESTED, &start).await?;
    }
    let next = sweeper.sweep(at + Duration::minutes(10)).await?;
    assert!(
        !next.stopped.contains(&"alice-nb".to_owned()) && !next.warned.contains(&"alice-nb".to_owned()),
        "{next:?}"
    );
    Ok(())
}
