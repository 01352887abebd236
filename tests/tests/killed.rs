//! A provisioner process killed mid-flight (issue: nothing lost when the function dies). The real bootstrap
//! runs as a process under a Lambda runtime API; a proxy in front of moto holds one call of the provision
//! open, the process is killed with SIGKILL while it waits (as Lambda ends a function that timed out or ran
//! out of memory), and a new process gets the same event again, as Lambda's retry delivers it. Each kill point
//! must converge on one notebook, one role, one lifecycle configuration and one outcome event.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use fleet::domain::ledger::TAKEOVER_AFTER;
use fleet::domain::outcome::OutcomeEvent;
use fleet::domain::request::NOTEBOOK_REQUESTED;
use integration_tests::emulator::REGION;
use integration_tests::events::{notebook_requested, request_event};
use integration_tests::faults::{Fault, FaultPlan, FaultProxy};
use integration_tests::runtime_api::{workspace_binary, Answer, FunctionProcess, RuntimeApi};
use integration_tests::{Emulator, Platform};
use serde_json::Value;

/// What the platform looks like when the process is killed.
#[derive(Debug, PartialEq)]
struct Left {
    notebooks: usize,
    roles: usize,
    lifecycle_config: bool,
}

/// Provisions one notebook through a process killed when it makes `operation`, then redelivers the event to
/// a new process until it answers. Returns what the kill left and the answer.
async fn killed_at(operation: &str, left: Left) -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let proxy = FaultProxy::start(&emulator.endpoint, FaultPlan::none())?;
    let binary = workspace_binary("provisioner")?;
    let api = RuntimeApi::start()?;
    let mut env: Vec<(String, String)> = platform.env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    env.extend(
        [
            ("AWS_ENDPOINT_URL", proxy.endpoint().as_str()),
            ("AWS_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("FLEET_S3_FORCE_PATH_STYLE", "true"),
            ("RUST_LOG", "info"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let event = serde_json::to_value(request_event(NOTEBOOK_REQUESTED, notebook_requested("req-killed", "nb-killed")))?;

    proxy.set_plan(FaultPlan::every_kind(1.0, 7).kinds(&[Fault::Hold]).only_operations(&[operation]));
    let first = FunctionProcess::start(&binary, &api, &env, None)?;
    let delivery = api.invoke(&event);
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.counts().injected.get(&Fault::Hold).copied().unwrap_or(0) == 0 {
        if let Ok(answer) = api.answer(&delivery, Duration::from_millis(20)) {
            bail!("the process answered before it reached {operation}: {answer:?}");
        }
        if Instant::now() > deadline {
            bail!("the process never made {operation}: {}", proxy.counts());
        }
    }
    first.kill()?;
    let (notebooks, roles) = platform.notebooks_and_roles().await?;
    let found = Left {
        notebooks: notebooks.len(),
        roles: roles.len(),
        lifecycle_config: platform.lifecycle_config_exists().await?,
    };
    assert_eq!(found, left, "what the process killed at {operation} left");
    assert!(platform.drain_outcomes().await?.is_empty(), "killed at {operation}, yet an outcome was published");

    // Lambda's retries: the same event, to a new process, until one answers (a retry that finds the first
    // delivery's claim too young to take over fails, and Lambda delivers again later).
    proxy.set_plan(FaultPlan::none());
    let second = FunctionProcess::start(&binary, &api, &env, None)?;
    let give_up = Instant::now() + TAKEOVER_AFTER + Duration::from_secs(60);
    let answer = loop {
        let delivery = api.invoke(&event);
        match api.answer(&delivery, Duration::from_secs(60))? {
            Answer::Response(answer) => break answer,
            Answer::Error(error) if Instant::now() < give_up => {
                eprintln!("redelivery after the kill at {operation} failed, delivered again in 10 s: {error}");
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
            Answer::Error(error) => bail!("no redelivery succeeded after the kill at {operation}: {error}"),
        }
    };
    drop(second);

    assert_eq!(
        answer["detail-type"],
        Value::from("Notebook Provisioned"),
        "the answer after the kill at {operation}: {answer}"
    );
    assert_eq!(answer["detail"]["notebook_name"], Value::from("nb-killed"));
    let (notebooks, roles) = platform.notebooks_and_roles().await?;
    assert_eq!(
        (notebooks, roles),
        (vec!["nb-killed".to_owned()], vec!["nbf-nb-killed".to_owned()]),
        "killed at {operation}"
    );
    assert!(platform.lifecycle_config_exists().await?);
    let outcomes = platform.drain_outcomes().await?;
    let provisioned: Vec<&OutcomeEvent> =
        outcomes.iter().filter(|o| matches!(o, OutcomeEvent::Provisioned(_))).collect();
    assert_eq!((provisioned.len(), outcomes.len()), (1, 1), "killed at {operation}, outcomes: {outcomes:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_after_the_role_one_notebook_one_role_one_outcome_on_redelivery() -> Result<()> {
    killed_at("CreateNotebookInstanceLifecycleConfig", Left { notebooks: 0, roles: 1, lifecycle_config: false }).await
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_after_the_lifecycle_configuration_one_notebook_one_role_one_outcome_on_redelivery() -> Result<()> {
    killed_at("CreateNotebookInstance", Left { notebooks: 0, roles: 1, lifecycle_config: true }).await
}

/// The first S3 write after the create is the ledger's claim: the notebook exists, no delivery has answered.
#[tokio::test(flavor = "multi_thread")]
async fn killed_after_the_create_before_the_claim_one_notebook_one_role_one_outcome_on_redelivery() -> Result<()> {
    killed_at("PutObject", Left { notebooks: 1, roles: 1, lifecycle_config: true }).await
}

/// Claimed and recorded, not published: the redeliveries wait for the claim to age past any invocation
/// (`TAKEOVER_AFTER`, 150 s), then one takes over and publishes once. The slowest test of the suite.
#[tokio::test(flavor = "multi_thread")]
async fn killed_before_the_publish_the_claim_is_taken_over_and_published_once() -> Result<()> {
    killed_at("PutEvents", Left { notebooks: 1, roles: 1, lifecycle_config: true }).await
}
