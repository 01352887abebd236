//! Sweeps of a seeded fleet with a share of the sweeper's AWS calls failing (see [`crate::faults`]), and what a
//! platform team checks afterwards: wrong stops, idle notebooks left running, actions without their audit
//! record, duplicate events. The fault-injection test runs it at 20 %; `bench-faults` prints the table.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Result;
use aws_config::SdkConfig;
use chrono::Utc;
use fleet::aws::{sweeper_retry_config, AwsSweeper, CallCounter};
use fleet::domain::audit::action_of_key;
use fleet::domain::heartbeat::warning_key;
use fleet::domain::outcome::{NotebookStopped, OutcomeEvent};
use fleet::domain::tags;
use fleet::service::sweep::SweepReport;

use crate::emulator::{sdk_config_for, test_credentials};
use crate::faults::{FaultCounts, FaultPlan, FaultProxy};
use crate::fleet::{seed, statuses, sweep_settings, Seed};
use crate::platform::{s3_client, ASSETS_BUCKET, AUDIT_BUCKET};
use crate::{Emulator, Platform};

/// One run: a fleet of `fleet` notebooks, `sweeps` sweeps ten minutes apart with `rate` of the calls failing.
#[derive(Debug, Clone, Copy)]
pub struct FaultRun {
    pub fleet: usize,
    pub rate: f64,
    pub seed: u64,
    pub sweeps: usize,
    pub stall: Duration,
}

/// What a run shows.
#[derive(Debug)]
pub struct FaultFigures {
    pub run: FaultRun,
    pub injected: FaultCounts,
    /// Busy notebooks stopped: must be none.
    pub wrong_stops: Vec<String>,
    /// Idle notebooks (due for a stop from the first sweep) still in service after each sweep.
    pub idle_running_after: Vec<usize>,
    /// The first sweep after which every idle notebook was stopped.
    pub sweeps_to_converge: Option<usize>,
    /// Idle notebooks left running that the sweep's report names nowhere: not stopped, not warned, not among
    /// the failures of either (the complaint: "appeared nowhere in the report"), summed over the sweeps.
    pub unreported: usize,
    /// For each of them: the sweep, the notebook, and where the report names it instead (or "nowhere").
    pub unreported_detail: Vec<String>,
    /// Stops and warnings done whose audit record is missing at the end.
    pub lost_records: Vec<String>,
    /// Records that failed in some sweep and were written by a later one.
    pub records_reconciled: usize,
    /// `Notebook Stopped` events on the bus beyond one per stopped notebook.
    pub duplicate_stop_events: usize,
    /// Stopped notebooks with no `Notebook Stopped` event.
    pub missing_stop_events: usize,
    /// Journals with intents and no settlement at the end.
    pub open_journals: usize,
    /// Sweeps that stopped before acting because a listing failed after its retries, with the error.
    pub aborted: Vec<String>,
    pub reports: Vec<SweepReport>,
    pub sweep_seconds: Vec<f64>,
    pub seed_seconds: f64,
}

/// 60 % idle and warned (due for a stop), 10 % idle and not yet warned, 30 % busy (a 240-minute timeout).
fn plan(fleet: usize) -> Vec<(String, Seed)> {
    (0..fleet)
        .map(|i| match i % 10 {
            0..=5 => (format!("due-{i}"), Seed::managed(format!("due-{i}"))),
            6 => (format!("warn-{i}"), Seed::managed(format!("warn-{i}"))),
            _ => {
                let name = format!("busy-{i}");
                (name.clone(), Seed::managed(name).tag(tags::IDLE_TIMEOUT_MINUTES, "240"))
            }
        })
        .collect()
}

/// Seeds the fleet through the proxy (no faults yet), sweeps it with faults, then checks it without.
pub async fn sweeps_under_faults(run: FaultRun) -> Result<FaultFigures> {
    let emulator = Emulator::start()?;
    let proxy = FaultProxy::start(&emulator.endpoint, FaultPlan::none())?;
    let direct = sdk_config_for(&emulator.endpoint, test_credentials()).await;
    let faulty: SdkConfig = sdk_config_for(&proxy.endpoint(), test_credentials())
        .await
        .to_builder()
        .retry_config(sweeper_retry_config())
        .build();
    let platform = Platform::build_with(direct.clone()).await?;

    let seeding = Instant::now();
    let fleet = plan(run.fleet);
    let seeds: Vec<Seed> = fleet.iter().map(|(_, s)| s.clone()).collect();
    seed(&direct, &seeds, 16).await?;
    let s3 = s3_client(&direct);
    // S3 (and moto) keep LastModified to the second, and a warning in the same second as the heartbeat is not
    // known to be after it (the sweeper warns again, as it should): the warnings are written a second later.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for (name, _) in fleet.iter().filter(|(n, _)| n.starts_with("due-")) {
        // Written after the heartbeat: the warning of the current idle period.
        s3.put_object().bucket(ASSETS_BUCKET).key(warning_key(name)).body(b"{}".to_vec().into()).send().await?;
    }
    let seed_seconds = seeding.elapsed().as_secs_f64();
    let due: BTreeSet<String> = fleet.iter().map(|(n, _)| n.clone()).filter(|n| n.starts_with("due-")).collect();
    let busy: BTreeSet<String> = fleet.iter().map(|(n, _)| n.clone()).filter(|n| n.starts_with("busy-")).collect();

    let calls = CallCounter::new();
    let sweeper = AwsSweeper::from_sdk_config(&faulty, sweep_settings(), &calls, true);
    let t0 = Utc::now();
    proxy.set_plan(FaultPlan::every_kind(run.rate, run.seed).stall(run.stall));
    let (mut reports, mut sweep_seconds, mut idle_running_after) = (Vec::new(), Vec::new(), Vec::new());
    let mut unreported = 0;
    let mut unreported_detail = Vec::new();
    let mut aborted = Vec::new();
    for sweep in 0..run.sweeps {
        let started = Instant::now();
        let at = t0 + chrono::Duration::minutes(100 + 10 * sweep as i64);
        let swept = sweeper.sweep(at).await;
        sweep_seconds.push(started.elapsed().as_secs_f64());
        let now_running = running(&direct, &due).await?;
        idle_running_after.push(now_running.len());
        match swept {
            Ok(report) => {
                // Named nowhere: neither stopped, nor warned, nor among the failures of either.
                let missing: Vec<&String> = now_running
                    .iter()
                    .filter(|n| {
                        !report.stop_failures.contains_key(*n)
                            && !report.stopped.contains(*n)
                            && !report.warned.contains(*n)
                            && !report.warn_failures.contains_key(*n)
                    })
                    .collect();
                unreported += missing.len();
                unreported_detail.extend(
                    missing.iter().map(|n| format!("sweep {}: {n} ({})", sweep + 1, where_reported(&report, n))),
                );
                reports.push(report);
            }
            // A listing failed after its retries: the sweep did nothing, and says so as a whole.
            Err(error) => aborted.push(format!("sweep {}: {}", sweep + 1, fleet::error::error_chain(&error))),
        }
    }
    proxy.set_plan(FaultPlan::none());
    let injected = proxy.counts();

    let after = statuses(&direct).await?;
    let wrong_stops: Vec<String> = busy.iter().filter(|n| after[*n] != "InService").cloned().collect();
    let sweeps_to_converge = idle_running_after.iter().position(|n| *n == 0).map(|i| i + 1);
    let stopped: BTreeSet<String> = after.iter().filter(|(_, s)| *s != "InService").map(|(n, _)| n.clone()).collect();
    let warned = warned_notebooks(&direct).await?;
    let records = history_actions(&direct).await?;
    let count = |name: &str, action: &str| records.get(name).and_then(|a| a.get(action)).copied().unwrap_or(0);
    let mut lost_records: Vec<String> = stopped
        .iter()
        .filter(|n| count(n, "notebook-stopped") == 0)
        .map(|n| format!("{n}: stopped without a record"))
        .collect();
    lost_records.extend(
        warned
            .iter()
            .filter(|n| n.starts_with("warn-") && count(n, "notebook-idle-warning") == 0)
            .map(|n| format!("{n}: warned without a record")),
    );
    let events = platform.drain_outcomes().await?;
    let mut stop_events: BTreeMap<String, usize> = BTreeMap::new();
    for event in &events {
        if let OutcomeEvent::Stopped(NotebookStopped::Idle(stop)) = event {
            *stop_events.entry(stop.notebook_name.clone()).or_default() += 1;
        }
    }
    let duplicate_stop_events = stop_events.values().map(|n| n.saturating_sub(1)).sum();
    let missing_stop_events = stopped.iter().filter(|n| !stop_events.contains_key(*n)).count();
    let records_reconciled = reports
        .iter()
        .flat_map(|r| r.reconciled.values())
        .filter_map(|summary| summary.split(", ").nth(1)?.split(' ').next()?.parse::<usize>().ok())
        .sum();
    Ok(FaultFigures {
        run,
        injected,
        wrong_stops,
        idle_running_after,
        sweeps_to_converge,
        unreported,
        unreported_detail,
        lost_records,
        records_reconciled,
        duplicate_stop_events,
        missing_stop_events,
        open_journals: open_journals(&direct).await?,
        aborted,
        reports,
        sweep_seconds,
        seed_seconds,
    })
}

/// Where else a report names a notebook it names neither among its stops nor its warnings.
fn where_reported(report: &SweepReport, name: &str) -> String {
    let mut places = Vec::new();
    for (label, failures) in [
        ("audit failure", &report.audit_failures),
        ("event failure", &report.event_failures),
        ("revoke failure", &report.revoke_failures),
    ] {
        if let Some(why) = failures.get(name) {
            places.push(format!("{label}: {why}"));
        }
    }
    if places.is_empty() {
        format!(
            "nowhere; {} managed of {} in service, verdicts {:?}",
            report.managed, report.in_service, report.verdicts
        )
    } else {
        places.join("; ")
    }
}

/// Which of `names` are in service now.
async fn running(sdk: &SdkConfig, names: &BTreeSet<String>) -> Result<Vec<String>> {
    let now = statuses(sdk).await?;
    Ok(names.iter().filter(|n| now.get(*n).map(String::as_str) == Some("InService")).cloned().collect())
}

/// Notebooks with a warning marker.
async fn warned_notebooks(sdk: &SdkConfig) -> Result<BTreeSet<String>> {
    let s3 = s3_client(sdk);
    let mut warned = BTreeSet::new();
    let mut pages = s3.list_objects_v2().bucket(ASSETS_BUCKET).prefix("heartbeats/").into_paginator().send();
    while let Some(page) = pages.next().await {
        for object in page?.contents() {
            if let Some(name) = object.key().and_then(|k| k.strip_prefix("heartbeats/")?.strip_suffix(".warned")) {
                warned.insert(name.to_owned());
            }
        }
    }
    Ok(warned)
}

/// Every key of the audit bucket under `prefix`, versions included.
async fn audit_keys(sdk: &SdkConfig, prefix: &str) -> Result<Vec<String>> {
    let s3 = s3_client(sdk);
    let (mut keys, mut marker) = (Vec::new(), None::<(Option<String>, Option<String>)>);
    loop {
        let (key_marker, version_marker) = marker.take().unwrap_or_default();
        let page = s3
            .list_object_versions()
            .bucket(AUDIT_BUCKET)
            .prefix(prefix)
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .send()
            .await?;
        keys.extend(page.versions().iter().filter_map(|v| v.key().map(str::to_owned)));
        if page.is_truncated() != Some(true) {
            return Ok(keys);
        }
        marker = Some((page.next_key_marker().map(str::to_owned), page.next_version_id_marker().map(str::to_owned)));
    }
}

/// Notebook → action slug → records in its history.
async fn history_actions(sdk: &SdkConfig) -> Result<BTreeMap<String, BTreeMap<String, usize>>> {
    let mut actions: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for key in audit_keys(sdk, "notebooks/").await? {
        let Some(name) = key.strip_prefix("notebooks/").and_then(|k| k.split('/').next()) else { continue };
        if let Some(action) = action_of_key(&key) {
            *actions.entry(name.to_owned()).or_default().entry(action.to_owned()).or_default() += 1;
        }
    }
    Ok(actions)
}

/// Journals with intents and no settlement.
async fn open_journals(sdk: &SdkConfig) -> Result<usize> {
    let keys = audit_keys(sdk, "journal/").await?;
    let settled: BTreeSet<&str> = keys.iter().filter_map(|k| k.strip_suffix("settled.json")).collect();
    Ok(keys.iter().filter_map(|k| k.strip_suffix("intents.json")).filter(|p| !settled.contains(p)).count())
}

impl FaultFigures {
    /// One row of the README's table.
    pub fn row(&self) -> String {
        format!(
            "| {:.0} % | {} | {} of {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            self.run.rate * 100.0,
            self.run.fleet,
            self.injected.total_injected(),
            self.injected.requests,
            self.wrong_stops.len(),
            self.lost_records.len(),
            self.records_reconciled,
            self.sweeps_to_converge.map_or_else(|| format!("> {}", self.run.sweeps), |n| n.to_string()),
            self.unreported,
            self.duplicate_stop_events,
            self.aborted.len(),
            self.sweep_seconds.iter().map(|s| format!("{s:.0}")).collect::<Vec<_>>().join(" / "),
        )
    }

    pub const HEADER: &'static str = "| faults | fleet | faults injected | wrong stops | lost records | records written by a later sweep | sweeps to stop every idle notebook | idle notebooks missing from the report | duplicate stop events | sweeps aborted (a listing failed) | seconds per sweep |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |";
}
