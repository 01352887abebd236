//! The provisioner's edge writes one CloudWatch embedded-metric line per request event: what it handled,
//! how it ended, how long it took. Each event here goes through the real edge (`answer_request_event`, what
//! `handle_request_event` prints) on the emulated platform.

use anyhow::{Context, Result};
use fleet::domain::outcome::{NOTEBOOK_PROVISIONED, NOTEBOOK_REQUEST_REJECTED};
use fleet::domain::request::{NOTEBOOK_REQUESTED, NOTEBOOK_STOP_REQUESTED};
use fleet::domain::types::BucketName;
use fleet::service::lambda::answer_request_event;
use fleet::testing::ActionRequest;
use integration_tests::events::{notebook_requested, request_event};
use integration_tests::{Emulator, Platform};
use serde_json::{json, Value};

/// The metric line, parsed, after checking that it is one line in namespace `NotebookFleet`.
fn metric_line(line: &str) -> Result<Value> {
    anyhow::ensure!(!line.contains('\n'), "one line per event: {line}");
    let parsed: Value = serde_json::from_str(line).with_context(|| format!("not JSON: {line}"))?;
    for directive in parsed["_aws"]["CloudWatchMetrics"].as_array().context("no metric directives")? {
        assert_eq!(directive["Namespace"], "NotebookFleet", "{line}");
    }
    Ok(parsed)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_request_event_through_the_edge_writes_one_metric_line() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioner = platform.provisioner();

    let provisioned =
        answer_request_event(&provisioner, request_event(NOTEBOOK_REQUESTED, notebook_requested("m-1", "metrics-nb")))
            .await;
    let answer = provisioned.answer?;
    assert_eq!(answer["detail-type"], NOTEBOOK_PROVISIONED, "{answer}");
    let line = metric_line(&provisioned.metrics)?;
    assert_eq!(
        (&line["RequestKind"], &line["OutcomeType"]),
        (&json!(NOTEBOOK_REQUESTED), &json!(NOTEBOOK_PROVISIONED))
    );
    assert_eq!((&line["Requests"], &line["Outcomes"], &line["Failures"]), (&json!(1.0), &json!(1.0), &json!(0.0)));
    let latency = line["RequestLatency"].as_f64().context("RequestLatency")?;
    assert!(latency > 0.0, "a provision calls the emulator, it takes time: {latency}");
    assert_eq!(line["Rejections"], Value::Null);

    // A stop for a notebook that does not exist: rejected, counted under its class.
    let rejected = answer_request_event(
        &provisioner,
        request_event(NOTEBOOK_STOP_REQUESTED, ActionRequest::new("m-2", "no-such-nb").detail()),
    )
    .await;
    assert_eq!(rejected.answer?["detail-type"], NOTEBOOK_REQUEST_REJECTED);
    let line = metric_line(&rejected.metrics)?;
    assert_eq!(
        (&line["RequestKind"], &line["OutcomeType"]),
        (&json!(NOTEBOOK_STOP_REQUESTED), &json!(NOTEBOOK_REQUEST_REJECTED))
    );
    assert_eq!((&line["Rejections"], &line["RejectionClass"]), (&json!(1.0), &json!("not-found")));

    // The audit bucket is gone: the event fails (to be retried), a failure with no outcome.
    let mut config = platform.config();
    config.audit_bucket = BucketName::parse("no-such-audit-bucket")?;
    let failing = platform.provisioner_with(config);
    let failed =
        answer_request_event(&failing, request_event(NOTEBOOK_REQUESTED, notebook_requested("m-3", "metrics-nb-2")))
            .await;
    assert!(failed.answer.is_err(), "{:?}", failed.answer);
    let line = metric_line(&failed.metrics)?;
    assert_eq!((&line["Failures"], &line["RequestKind"]), (&json!(1.0), &json!(NOTEBOOK_REQUESTED)));
    assert_eq!(line["OutcomeType"], Value::Null);
    Ok(())
}
