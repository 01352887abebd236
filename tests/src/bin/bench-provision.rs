//! Benchmark: AWS API calls per provision by operation, and wall time for N sequential provisions, against
//! a private moto server. Usage: `bench-provision [N]` (default 100). Run it through scripts/bench.sh.

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use clap::Parser;
use fleet::domain::outcome::{NOTEBOOK_PROVISIONED, NOTEBOOK_REQUEST_REJECTED};
use fleet::domain::request::NOTEBOOK_REQUESTED;
use fleet::service::lambda::answer_request_event;
use integration_tests::events::{notebook_requested, request_event};
use integration_tests::{Emulator, Platform};

fn per_operation(platform: &Platform, divisor: u64) {
    for (operation, count) in platform.calls.snapshot() {
        #[allow(clippy::cast_precision_loss)]
        let per = count as f64 / divisor as f64;
        println!("  {operation:<52} {per:>6.2}");
    }
    #[allow(clippy::cast_precision_loss)]
    let total = platform.calls.total() as f64 / divisor as f64;
    println!("  {:<52} {total:>6.2}", "total");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "bench-provision",
    about = "Benchmark: AWS API calls and wall time of N sequential provisions against a private moto server"
)]
struct Cli {
    /// How many notebooks to provision, one after another.
    #[arg(default_value_t = 100)]
    n: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let n = Cli::parse().n;
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioner = platform.provisioner();
    println!("notebook-fleet provisioner benchmark against moto ({}), {n} sequential provisions", emulator.endpoint);

    let mut latencies = Vec::new();
    let started = Instant::now();
    for i in 0..n {
        let begun = Instant::now();
        let answer = answer_request_event(
            &provisioner,
            request_event(NOTEBOOK_REQUESTED, notebook_requested(&format!("bench-{i}"), &format!("bench-nb-{i}"))),
        )
        .await
        .answer?;
        latencies.push(begun.elapsed());
        ensure!(answer["detail-type"] == NOTEBOOK_PROVISIONED, "provision {i}: {answer}");
    }
    let wall = started.elapsed();
    latencies.sort();
    println!("\nAWS API calls per provision, by operation (mean over {n}):");
    per_operation(&platform, n);
    #[allow(clippy::cast_precision_loss)]
    let rate = n as f64 / wall.as_secs_f64();
    println!(
        "\nwall time for {n} sequential provisions: {:.2} s ({rate:.1}/s); per provision p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        wall.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.95).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );

    platform.calls.reset();
    answer_request_event(&provisioner, request_event(NOTEBOOK_REQUESTED, notebook_requested("bench-0", "bench-nb-0")))
        .await
        .answer?;
    println!("\nAWS API calls for a redelivered request (replay):");
    per_operation(&platform, 1);

    platform.calls.reset();
    let mut bad = notebook_requested("bench-bad", "bench_bad");
    bad["volume_size_gb"] = serde_json::json!(0);
    let answer = answer_request_event(&provisioner, request_event(NOTEBOOK_REQUESTED, bad)).await.answer?;
    ensure!(answer["detail-type"] == NOTEBOOK_REQUEST_REJECTED);
    println!("\nAWS API calls for a rejected request:");
    per_operation(&platform, 1);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench-provision").chain(line.split_whitespace()))
    }

    #[test]
    fn n_defaults_and_anything_else_is_refused() {
        assert_eq!(parse("").expect("parses").n, 100);
        assert_eq!(parse("7").expect("parses").n, 7);
        for bad in ["seven", "-3", "10 20", "--n 10"] {
            assert_eq!(parse(bad).expect_err(bad).exit_code(), 2, "{bad}");
        }
    }
}
