//! The idle sweeper on the emulator: a fleet of 65 notebooks with varied tags and heartbeats, swept at
//! simulated times; checks exactly which notebooks are warned, stopped or left alone, and what it cost.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use aws_sdk_sagemaker::types::InstanceType;
use chrono::{Duration, Utc};
use fleet::aws::{AwsSweeper, CallCounter};
use fleet::domain::idle::StopReason;
use fleet::domain::outcome::{NotebookStopped, OutcomeEvent};
use fleet::domain::settings::SweepSettings;
use fleet::domain::tags;
use integration_tests::fleet::{seed, statuses, Seed};
use integration_tests::platform::{s3_client, ASSETS_BUCKET, AUDIT_BUCKET, BUS_NAME};
use integration_tests::{Emulator, Platform};

fn config(dry_run: bool) -> SweepSettings {
    let vars = BTreeMap::from([
        (fleet::config::EVENT_BUS_NAME, BUS_NAME.to_owned()),
        (fleet::config::ASSETS_BUCKET, ASSETS_BUCKET.to_owned()),
        (fleet::config::AUDIT_BUCKET, AUDIT_BUCKET.to_owned()),
        (fleet::config::IDLE_TIMEOUT_BY_INSTANCE_TYPE, "ml.m5.xlarge=120".to_owned()),
        (fleet::config::DRY_RUN, dry_run.to_string()),
    ]);
    fleet::config::sweep_settings(&fleet::config::Vars::from_pairs(vars)).expect("valid sweeper configuration")
}

/// How to seed one notebook of a group, from its name.
type MakeSeed = Box<dyn Fn(String) -> Seed>;

/// Group name → (how many, how to seed one).
fn fleet_plan(t0: chrono::DateTime<Utc>) -> Vec<(&'static str, usize, MakeSeed)> {
    let exempt_until = (t0 + Duration::hours(5)).to_rfc3339();
    let expired = (t0 - Duration::hours(1)).to_rfc3339();
    vec![
        ("long-timeout", 10, Box::new(|n| Seed::managed(n).tag(tags::IDLE_TIMEOUT_MINUTES, "120"))),
        ("default-timeout", 10, Box::new(Seed::managed)),
        ("short-timeout", 10, Box::new(|n| Seed::managed(n).tag(tags::IDLE_TIMEOUT_MINUTES, "30"))),
        ("exempt", 5, Box::new(move |n| Seed::managed(n).tag(tags::IDLE_EXEMPT_UNTIL, exempt_until.clone()))),
        ("exemption-expired", 5, Box::new(move |n| Seed::managed(n).tag(tags::IDLE_EXEMPT_UNTIL, expired.clone()))),
        ("silent-agent", 5, Box::new(|n| Seed { heartbeat: false, ..Seed::managed(n) })),
        ("unmanaged", 5, Box::new(|n| Seed { managed: false, ..Seed::managed(n) })),
        ("already-stopped", 5, Box::new(Seed::managed)),
        ("m5-type", 5, Box::new(|n| Seed { instance_type: InstanceType::MlM5Xlarge, ..Seed::managed(n) })),
        ("bad-tag", 5, Box::new(|n| Seed::managed(n).tag(tags::IDLE_TIMEOUT_MINUTES, "banana"))),
    ]
}

fn names(group: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{group}-{i}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fleet_is_warned_then_stopped_exactly_where_idle() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let t0 = Utc::now();
    let mut seeds = Vec::new();
    let mut groups: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (group, count, make) in fleet_plan(t0) {
        let group_names = names(group, count);
        seeds.extend(group_names.iter().cloned().map(&make));
        groups.insert(group, group_names);
    }
    assert!(seeds.len() >= 50);
    seed(&platform.sdk, &seeds, 8).await?;
    let sagemaker = aws_sdk_sagemaker::Client::new(&platform.sdk);
    for name in &groups["already-stopped"] {
        sagemaker.stop_notebook_instance().notebook_instance_name(name).send().await?;
    }
    let group = |names: &[&str]| -> BTreeSet<String> { names.iter().flat_map(|g| groups[g].clone()).collect() };
    let idle = group(&["default-timeout", "short-timeout", "exemption-expired", "silent-agent", "bad-tag"]);

    let calls = CallCounter::new();
    // Ten minutes after the start every notebook is in its grace period (the exempt ones are exempt).
    let sweeper = AwsSweeper::from_sdk_config(&platform.sdk, config(false), &calls, true);
    let early = sweeper.sweep(t0 + Duration::minutes(10)).await?;
    assert_eq!((early.verdicts["in-grace"], early.verdicts["exempt"]), (50, 5), "{early:?}");
    assert!(early.warned.is_empty() && early.stopped.is_empty());

    // A dry run decides and reports, and changes nothing.
    let dry = AwsSweeper::from_sdk_config(&platform.sdk, config(true), &calls, true);
    let report = dry.sweep(t0 + Duration::minutes(100)).await?;
    assert!(report.dry_run);
    assert_eq!(report.warned.iter().cloned().collect::<BTreeSet<_>>(), idle);
    assert!(platform.drain_outcomes().await?.is_empty(), "a dry run sends no event");
    let markers = s3_client(&platform.sdk).list_objects_v2().bucket(ASSETS_BUCKET).prefix("heartbeats/").send().await?;
    assert!(
        markers.contents().iter().all(|o| !o.key().unwrap_or_default().ends_with(".warned")),
        "a dry run records nothing"
    );

    // First real sweep: every idle notebook is warned, none stopped yet.
    calls.reset();
    let first = sweeper.sweep(t0 + Duration::minutes(100)).await?;
    assert_eq!(first.warned.iter().cloned().collect::<BTreeSet<_>>(), idle);
    assert!(first.stopped.is_empty());
    assert_eq!(first.managed, 55, "unmanaged and stopped notebooks are not the sweeper's");
    assert_eq!(first.verdicts["exempt"], 5);
    assert_eq!(first.verdicts["active"], 15, "long-timeout and m5-type");
    assert_eq!(first.tag_problems.len(), 5, "{:?}", first.tag_problems);
    assert!(first.tag_problems.values().all(|p| p[0].contains("banana")));
    let warnings = platform.drain_outcomes().await?;
    assert_eq!(warnings.len(), idle.len());
    assert!(
        warnings.iter().all(|w| matches!(w, OutcomeEvent::IdleWarning(w)
            if w.owner.as_deref().is_some_and(|o| o.starts_with("owner-of-")))),
        "{warnings:?}"
    );
    assert!(statuses(&platform.sdk).await?.iter().filter(|(n, _)| idle.contains(*n)).all(|(_, s)| s == "InService"));
    let first_calls = calls.snapshot();
    assert_eq!(first_calls["SageMaker.ListNotebookInstances"], 1);
    // One for the tags of the one page in service (by ARN), one for the custodian notebooks' tags.
    assert_eq!(first_calls["Resource Groups Tagging API.GetResources"], 2);
    assert_eq!(first_calls["S3.ListObjectsV2"], 1);
    assert!(!first_calls.contains_key("SageMaker.StopNotebookInstance"));

    // Twenty minutes later the warnings have been out long enough: exactly the idle notebooks stop.
    calls.reset();
    let second = sweeper.sweep(t0 + Duration::minutes(120)).await?;
    // Meanwhile the 120-minute notebooks reach their own warning time.
    assert_eq!(second.stopped.iter().cloned().collect::<BTreeSet<_>>(), idle);
    assert_eq!(second.warned.iter().cloned().collect::<BTreeSet<_>>(), group(&["long-timeout", "m5-type"]));
    assert!(second.stop_failures.is_empty(), "{:?}", second.stop_failures);
    let events = platform.drain_outcomes().await?;
    let stopped_events: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            OutcomeEvent::Stopped(NotebookStopped::Idle(stop)) => Some(stop),
            _ => None,
        })
        .collect();
    assert_eq!(stopped_events.len(), idle.len(), "{events:?}");
    assert_eq!(events.len(), idle.len() + 15);
    assert!(stopped_events.iter().all(|e| e.stopped_by == "idle-sweeper"));
    assert!(stopped_events.iter().any(|e| matches!(e.reason, StopReason::Idle { timeout_minutes: 30, .. })));

    let after = statuses(&platform.sdk).await?;
    for (name, status) in &after {
        let expected =
            if idle.contains(name) || groups["already-stopped"].contains(name) { "Stopped" } else { "InService" };
        assert_eq!(status, expected, "{name}");
    }
    let second_calls = calls.snapshot();
    assert_eq!(second_calls["SageMaker.StopNotebookInstance"], idle.len() as u64);
    assert_eq!(
        second_calls["EventBridge.PutEvents"],
        (idle.len() + 15).div_ceil(10) as u64,
        "events go out ten a call"
    );
    assert!(!second_calls.keys().any(|op| op.contains("Delete")), "the sweeper never deletes");
    Ok(())
}
