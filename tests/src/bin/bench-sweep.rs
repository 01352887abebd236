//! Benchmark of the idle sweeper against private moto servers: seeds N managed notebooks with heartbeats
//! (one in ten idle), each carrying the six tags the provisioner gives a notebook, so that the paged
//! `GetResources` it also times (the tags listing the sweep used to wait for) pages as AWS does (at most 500
//! tags a page). S3 is a moto server of its own, as each AWS service is a fleet of its own (one moto answers
//! one request at a time). For each round-trip latency added by a proxy in front of each (AWS-like: calls
//! overlap), it times a bare paginated `ListNotebookInstances` and a dry-run sweep (list and decide) through
//! the same proxies; then, at the last latency, runs the sweep that warns and the sweep that stops, and prints
//! API calls by operation, wall time and the sweeper's peak RSS.
//!
//! Usage: `bench-sweep <path to idle-sweeper binary> N [N …] [--latency-ms 0,30,80]` (scripts/bench.sh
//! builds both in release and passes the binary).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::{Duration, Utc};
use clap::Parser;
use fleet::domain::tags;
use integration_tests::emulator::{sdk_config_for, test_credentials, REGION};
use integration_tests::faults::{FaultPlan, FaultProxy};
use integration_tests::figures::{record, Figure};
use integration_tests::fleet::{seed_split, Seed};
use integration_tests::platform::{ASSETS_BUCKET, AUDIT_BUCKET, BUS_NAME};
use integration_tests::{Emulator, Platform};
use serde_json::Value;

/// Tags a provisioned notebook carries (managed-by, owner, team, request id, idle timeout, notebook name).
const TAGS_EACH: u64 = 6;

/// Runs the sweeper binary once; S3 is reached at `s3_endpoint`, every other service at `endpoint`.
fn run_sweep(
    binary: &str,
    (endpoint, s3_endpoint): (&str, &str),
    now: chrono::DateTime<Utc>,
    dry_run: bool,
) -> Result<(Value, f64)> {
    let started = Instant::now();
    let mut args = vec!["--once".to_owned(), "--now".to_owned(), now.to_rfc3339()];
    if dry_run {
        args.push("--dry-run".to_owned());
    }
    let output = Command::new(binary)
        .args(&args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ENDPOINT_URL_S3", s3_endpoint)
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("FLEET_S3_FORCE_PATH_STYLE", "true")
        .env("FLEET_EVENT_BUS_NAME", BUS_NAME)
        .env("FLEET_ASSETS_BUCKET", ASSETS_BUCKET)
        .env("FLEET_AUDIT_BUCKET", AUDIT_BUCKET)
        .env("RUST_LOG", "warn")
        .output()
        .with_context(|| format!("running {binary}"))?;
    let wall = started.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!("the sweeper failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let stdout = String::from_utf8(output.stdout)?;
    // The report is the pretty JSON after the EMF line.
    let start = stdout.find("{\n").context("no report in the sweeper's output")?;
    Ok((serde_json::from_str(&stdout[start..])?, wall))
}

/// Notebooks a `GetResources` page holds on AWS: at most 100 resources and 500 tags, a resource never split.
fn tag_page_capacity(tags_each: u64) -> u64 {
    (500 / tags_each.max(1)).min(100)
}

/// The sweep's listing calls as AWS pages them: 100 notebooks a `ListNotebookInstances` page, one
/// `GetResources` for each page's ARNs (an ARN list is answered whole, whatever the tags), 1,000 heartbeats a
/// `ListObjectsV2` page, one `GetResources` of the custodian notebooks; plus one call per stop.
fn budget(n: u64, stops: u64) -> u64 {
    2 * n.div_ceil(100) + 1 + n.div_ceil(1000) + stops
}

/// Pages of a bare listing and the seconds they took.
struct Bare {
    notebooks: usize,
    calls: u64,
    seconds: f64,
}

async fn bare_listings(sdk: &aws_config::SdkConfig, s3_sdk: &aws_config::SdkConfig) -> Result<[Bare; 3]> {
    let sagemaker = aws_sdk_sagemaker::Client::new(sdk);
    let timed = Instant::now();
    let mut pages = sagemaker
        .list_notebook_instances()
        .status_equals(aws_sdk_sagemaker::types::NotebookInstanceStatus::InService)
        .max_results(100)
        .into_paginator()
        .send();
    let (mut notebooks, mut calls) = (0, 0);
    while let Some(page) = pages.next().await {
        notebooks += page?.notebook_instances().len();
        calls += 1;
    }
    let listing = Bare { notebooks, calls, seconds: timed.elapsed().as_secs_f64() };

    let tagging = aws_sdk_resourcegroupstagging::Client::new(sdk);
    let timed = Instant::now();
    let (mut token, mut notebooks, mut calls) = (None, 0, 0);
    loop {
        let page = tagging
            .get_resources()
            .resource_type_filters("sagemaker:notebook-instance")
            .resources_per_page(100)
            .tags_per_page(500)
            .set_pagination_token(token.take())
            .send()
            .await?;
        calls += 1;
        notebooks += page.resource_tag_mapping_list().len();
        match page.pagination_token.filter(|t| !t.is_empty()) {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    let tags = Bare { notebooks, calls, seconds: timed.elapsed().as_secs_f64() };

    let timed = Instant::now();
    let mut pages = integration_tests::platform::s3_client(s3_sdk)
        .list_objects_v2()
        .bucket(ASSETS_BUCKET)
        .prefix("heartbeats/")
        .into_paginator()
        .send();
    let (mut notebooks, mut calls) = (0, 0);
    while let Some(page) = pages.next().await {
        notebooks += page?.contents().len();
        calls += 1;
    }
    let heartbeats = Bare { notebooks, calls, seconds: timed.elapsed().as_secs_f64() };
    Ok([listing, tags, heartbeats])
}

async fn bench(binary: &str, n: u64, latencies: &[u64]) -> Result<()> {
    // S3 on a moto of its own, as AWS serves each service on its own fleet: one moto answers one request at a
    // time, so the sweep's heartbeat listing would otherwise hold up its notebook listing.
    let (emulator, s3_emulator) = (Emulator::start()?, Emulator::start()?);
    let proxy = FaultProxy::start(&emulator.endpoint, FaultPlan::none())?;
    let s3_proxy = FaultProxy::start(&s3_emulator.endpoint, FaultPlan::none())?;
    let platform = Platform::build(&emulator).await?;
    let s3_platform = Platform::build(&s3_emulator).await?;
    let seeds: Vec<Seed> = (0..n)
        .map(|i| {
            let name = format!("nb-{i:05}");
            // One in ten has the default timeout (60 minutes) and goes idle; the others a day.
            let timeout = if i % 10 == 0 { "60" } else { "1440" };
            Seed::managed(&name)
                .tag(tags::TEAM, "bench")
                .tag(tags::REQUEST_ID, format!("req-{i:05}"))
                .tag(tags::IDLE_TIMEOUT_MINUTES, timeout)
                .tag(tags::NOTEBOOK_NAME, name)
        })
        .collect();
    let seeding = Instant::now();
    seed_split(&platform.sdk, &s3_platform.sdk, &seeds, 16).await?;
    let t0 = Utc::now();
    println!(
        "\n== N = {n}: seeded {n} managed notebooks ({TAGS_EACH} tags each) with heartbeats in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let through_proxy = sdk_config_for(&proxy.endpoint(), test_credentials()).await;
    let s3_through_proxy = sdk_config_for(&s3_proxy.endpoint(), test_credentials()).await;
    let endpoints = (proxy.endpoint(), s3_proxy.endpoint());
    let endpoints = (endpoints.0.as_str(), endpoints.1.as_str());

    for &latency in latencies {
        for proxy in [&proxy, &s3_proxy] {
            proxy.set_plan(FaultPlan::latency(std::time::Duration::from_millis(latency)));
        }
        let [listing, tagged, heartbeats] = bare_listings(&through_proxy, &s3_through_proxy).await?;
        let (dry, _) = run_sweep(binary, endpoints, t0 + Duration::minutes(100), true)?;
        #[allow(clippy::cast_precision_loss)]
        let decide = dry["decide_ms"].as_u64().unwrap_or_default() as f64 / 1000.0;
        println!(
            "-- {latency} ms a call: bare ListNotebookInstances {} notebooks in {} calls, {:.2} s; \
             the paged GetResources the sweep no longer makes {} in {} calls, {:.2} s (AWS: {} calls at {} a page); \
             ListObjectsV2 {} keys in {} calls, \
             {:.2} s; the sweep's list and decide (dry run) {decide:.2} s = {:.2} x the bare listing",
            listing.notebooks,
            listing.calls,
            listing.seconds,
            tagged.notebooks,
            tagged.calls,
            tagged.seconds,
            n.div_ceil(tag_page_capacity(TAGS_EACH)),
            tag_page_capacity(TAGS_EACH),
            heartbeats.notebooks,
            heartbeats.calls,
            heartbeats.seconds,
            decide / listing.seconds,
        );
        record(&[Figure {
            figure: format!("sweep list and decide, N = {n}, {latency} ms a call"),
            value: format!("{decide:.2} s"),
            compared_with: format!("bare ListNotebookInstances {:.2} s (target: at most 1.2 x)", listing.seconds),
            ratio: Some(decide / listing.seconds),
        }])?;
    }

    let latency = latencies.last().copied().unwrap_or_default();
    let [listing, ..] = bare_listings(&through_proxy, &s3_through_proxy).await?;
    for (label, now) in
        [("warning sweep", t0 + Duration::minutes(100)), ("stopping sweep", t0 + Duration::minutes(120))]
    {
        let (report, wall) = run_sweep(binary, endpoints, now, false)?;
        let calls: BTreeMap<String, u64> = serde_json::from_value(report["api_calls"].clone())?;
        let total: u64 = calls.values().sum();
        let stops = report["stopped"].as_array().map_or(0, Vec::len) as u64;
        let warned = report["warned"].as_array().map_or(0, Vec::len) as u64;
        let listing_calls: u64 = calls
            .iter()
            .filter(|(op, _)| {
                op.ends_with("ListNotebookInstances") || op.ends_with("GetResources") || op.ends_with("ListObjectsV2")
            })
            .map(|(_, n)| n)
            .sum();
        #[allow(clippy::cast_precision_loss)]
        let sweep_s = report["duration_ms"].as_u64().unwrap_or_default() as f64 / 1000.0;
        #[allow(clippy::cast_precision_loss)]
        let decide_s = report["decide_ms"].as_u64().unwrap_or_default() as f64 / 1000.0;
        println!(
            "-- {label} at {latency} ms a call: warned {warned}, stopped {stops}, verdicts {}",
            report["verdicts"]
        );
        for (op, count) in &calls {
            println!("   {op:<48} {count:>6}");
        }
        println!(
            "   total {total} calls; listings {listing_calls} + stops {stops} = {} vs budget \
             2*ceil(N/100)+1+ceil(N/1000)+stops = {}; warnings add {warned} PutObject, audit records \
             (notebook + owner history per action) {} PutObject, events {} PutEvents",
            listing_calls + stops,
            budget(n, stops),
            calls.get("S3.PutObject").copied().unwrap_or(0).saturating_sub(warned),
            calls.get("EventBridge.PutEvents").copied().unwrap_or(0)
        );
        let rss = report["peak_rss_mib"].as_f64();
        #[allow(clippy::cast_precision_loss)]
        let to_budget = (listing_calls + stops) as f64 / budget(n, stops) as f64;
        record(&[
            Figure {
                figure: format!("{label} listing calls and stops, N = {n}"),
                value: (listing_calls + stops).to_string(),
                compared_with: format!("budget 2*ceil(N/100)+1+ceil(N/1000)+stops: {}", budget(n, stops)),
                ratio: Some(to_budget),
            },
            Figure {
                figure: format!("{label} peak RSS, N = {n}"),
                value: rss.map_or_else(|| "-".to_owned(), |r| format!("{r} MiB")),
                compared_with: "128 MiB (half a 256 MB Lambda)".to_owned(),
                ratio: rss.map(|r| r / 128.0),
            },
            Figure {
                figure: format!("{label} whole sweep, N = {n}, {latency} ms a call"),
                value: format!("{sweep_s:.2} s"),
                compared_with: format!("bare ListNotebookInstances {:.2} s", listing.seconds),
                ratio: Some(sweep_s / listing.seconds),
            },
        ])?;
        println!(
            "   sweep {sweep_s:.2} s (process {wall:.2} s), of which listing and deciding {decide_s:.2} s; ratio to \
             the bare listing ({:.2} s): decide {:.2}, whole sweep {:.2}; peak RSS of the sweeper {} MiB",
            listing.seconds,
            decide_s / listing.seconds,
            sweep_s / listing.seconds,
            report["peak_rss_mib"]
        );
    }
    Ok(())
}

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "bench-sweep",
    about = "Benchmark of the idle sweeper binary on fleets of N notebooks against a private moto server"
)]
struct Cli {
    /// The idle-sweeper binary to run (scripts/bench.sh builds it).
    sweeper: String,
    /// The fleet sizes, one run each.
    #[arg(required = true, value_name = "N")]
    sizes: Vec<u64>,
    /// Round-trip latencies added to every call, in milliseconds; the warning and stopping sweeps run at the
    /// last one.
    #[arg(long, value_delimiter = ',', default_value = "0,30,80")]
    latency_ms: Vec<u64>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    for n in cli.sizes {
        bench(&cli.sweeper, n, &cli.latency_ms).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench-sweep").chain(line.split_whitespace()))
    }

    #[test]
    fn the_sweeper_and_at_least_one_size() {
        let cli = parse("target/idle-sweeper 1000 10000").expect("parses");
        assert_eq!(
            (cli.sweeper.as_str(), cli.sizes, cli.latency_ms),
            ("target/idle-sweeper", vec![1000, 10000], vec![0, 30, 80])
        );
        let cli = parse("target/idle-sweeper 10 --latency-ms 50").expect("parses");
        assert_eq!(cli.latency_ms, [50]);
        for bad in [
            "",
            "target/idle-sweeper",
            "target/idle-sweeper ten",
            "target/idle-sweeper 10 --fast",
            "target/idle-sweeper 10 --latency-ms x",
        ] {
            assert_eq!(parse(bad).expect_err(bad).exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn tag_pages_hold_at_most_100_notebooks_and_500_tags() {
        assert_eq!([2, 5, 6, 9].map(tag_page_capacity), [100, 100, 83, 55]);
        assert_eq!(10_000u64.div_ceil(tag_page_capacity(6)), 121, "paged, six tags a notebook");
        assert_eq!(budget(10_000, 0), 100 + 100 + 1 + 10, "tags by ARN, one call a listing page");
        assert_eq!(budget(1_000, 7), 10 + 10 + 1 + 1 + 7);
    }
}
