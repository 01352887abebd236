//! Benchmark of the idle sweeper against a private moto server: seeds N managed notebooks with heartbeats
//! (one in ten idle), runs the sweeper binary twice (the sweep that warns, then the sweep that stops), and
//! prints API calls by operation, wall time, the sweeper's peak RSS, and, in the same run, the time of a
//! bare paginated ListNotebookInstances over the same fleet.
//!
//! Usage: `bench-sweep <path to idle-sweeper binary> N [N …]` (scripts/bench.sh builds and passes it).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::{Duration, Utc};
use clap::Parser;
use fleet::domain::tags;
use integration_tests::emulator::REGION;
use integration_tests::fleet::{seed, Seed};
use integration_tests::platform::{ASSETS_BUCKET, AUDIT_BUCKET, BUS_NAME};
use integration_tests::{Emulator, Platform};
use serde_json::Value;

fn run_sweep(binary: &str, emulator: &Emulator, now: chrono::DateTime<Utc>) -> Result<(Value, f64)> {
    let started = Instant::now();
    let output = Command::new(binary)
        .args(["--once", "--now", &now.to_rfc3339()])
        .env("AWS_ENDPOINT_URL", &emulator.endpoint)
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

fn budget(n: u64, stops: u64) -> u64 {
    2 * n.div_ceil(100) + n.div_ceil(1000) + stops
}

async fn bench(binary: &str, n: u64) -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let seeds: Vec<Seed> = (0..n)
        .map(|i| {
            let seed = Seed::managed(format!("nb-{i:05}"));
            if i % 10 == 0 {
                seed
            } else {
                seed.tag(tags::IDLE_TIMEOUT_MINUTES, "1440")
            }
        })
        .collect();
    let seeding = Instant::now();
    seed(&platform.sdk, &seeds, 16).await?;
    let t0 = Utc::now();
    println!("\n== N = {n}: seeded {n} managed notebooks with heartbeats in {:.1} s", seeding.elapsed().as_secs_f64());

    // The baseline: a bare paginated listing of the same fleet, in the same run.
    let sagemaker = aws_sdk_sagemaker::Client::new(&platform.sdk);
    let listing = Instant::now();
    let mut pages = sagemaker.list_notebook_instances().max_results(100).into_paginator().send();
    let (mut listed, mut list_calls) = (0, 0);
    while let Some(page) = pages.next().await {
        listed += page?.notebook_instances().len();
        list_calls += 1;
    }
    let bare = listing.elapsed().as_secs_f64();
    println!("bare ListNotebookInstances: {listed} notebooks in {list_calls} calls, {bare:.2} s");
    // For the breakdown: the other two listings alone.
    let tagging = aws_sdk_resourcegroupstagging::Client::new(&platform.sdk);
    let timed = Instant::now();
    let (mut token, mut tag_calls) = (None, 0);
    loop {
        let page = tagging
            .get_resources()
            .resource_type_filters("sagemaker:notebook-instance")
            .resources_per_page(100)
            .tags_per_page(500)
            .set_pagination_token(token.take())
            .send()
            .await?;
        tag_calls += 1;
        match page.pagination_token.filter(|t| !t.is_empty()) {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    println!("bare GetResources (tags): {tag_calls} calls, {:.2} s", timed.elapsed().as_secs_f64());
    let timed = Instant::now();
    let objects = integration_tests::platform::s3_client(&platform.sdk)
        .list_objects_v2()
        .bucket(ASSETS_BUCKET)
        .prefix("heartbeats/")
        .send()
        .await?;
    println!(
        "bare ListObjectsV2 (heartbeats): {} keys, {:.2} s",
        objects.key_count().unwrap_or_default(),
        timed.elapsed().as_secs_f64()
    );

    for (label, now) in
        [("warning sweep", t0 + Duration::minutes(100)), ("stopping sweep", t0 + Duration::minutes(120))]
    {
        let (report, wall) = run_sweep(binary, &emulator, now)?;
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
        println!("-- {label}: warned {warned}, stopped {stops}, verdicts {}", report["verdicts"]);
        for (op, count) in &calls {
            println!("   {op:<48} {count:>6}");
        }
        println!(
            "   total {total} calls; listings {listing_calls} + stops {stops} = {} vs budget 2*ceil(N/100)+ceil(N/1000)+stops = {}; warnings add {warned} PutObject, audit records (notebook + owner history per action) {} PutObject, events {} PutEvents",
            listing_calls + stops,
            budget(n, stops),
            calls.get("S3.PutObject").copied().unwrap_or(0).saturating_sub(warned),
            calls.get("EventBridge.PutEvents").copied().unwrap_or(0)
        );
        println!(
            "   sweep {sweep_s:.2} s (process {wall:.2} s), of which listing and deciding {decide_s:.2} s; ratio to the bare listing: decide {:.2}, whole sweep {:.2}; peak RSS of the sweeper {} MiB",
            decide_s / bare,
            sweep_s / bare,
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
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    for n in cli.sizes {
        bench(&cli.sweeper, n).await?;
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
        assert_eq!((cli.sweeper.as_str(), cli.sizes), ("target/idle-sweeper", vec![1000, 10000]));
        for bad in ["", "target/idle-sweeper", "target/idle-sweeper ten", "target/idle-sweeper 10 --fast"] {
            assert_eq!(parse(bad).expect_err(bad).exit_code(), 2, "{bad}");
        }
    }
}
