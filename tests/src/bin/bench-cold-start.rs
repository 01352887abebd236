//! Cold starts of the provisioner against a Python peer: `scripts/bench.sh cold-start [N]`.
//!
//! Each run starts a new process under the tests crate's Lambda runtime API (as Lambda starts a new
//! execution environment), hands it one `Notebook Requested` for a new notebook and times, from the
//! process's start, its first `next` call (init: configuration, clients, the entitlements document) and the
//! posted answer (first event). The provisioner is the release bootstrap; the peer is
//! `tests/peer/provisioner_peer.py` (Python 3 and boto3, written for this benchmark, making the same AWS
//! calls). Both run against the same moto server, one process at a time, alternating.
//!
//! ```text
//! bench-cold-start PROVISIONER PYTHON PEER_SCRIPT [N]
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fleet::domain::request::NOTEBOOK_REQUESTED;
use integration_tests::emulator::REGION;
use integration_tests::events::{notebook_requested, request_event};
use integration_tests::runtime_api::{Answer, FunctionProcess, RuntimeApi};
use integration_tests::{Emulator, Platform};

/// One cold start: init and first-event times, in milliseconds.
#[derive(Debug, Clone, Copy)]
struct Cold {
    init_ms: f64,
    first_event_ms: f64,
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn millis(from: Instant, to: Instant) -> f64 {
    to.duration_since(from).as_secs_f64() * 1000.0
}

/// Starts `program args`, gives it one request, returns its timings.
fn cold_start(program: &Path, args: &[&str], env: &[(String, String)], request: &serde_json::Value) -> Result<Cold> {
    let api = RuntimeApi::start()?;
    let process = FunctionProcess::start_with(program, args, &api, env, None)?;
    let started = process.started;
    let init_done = api.next_call(1, Duration::from_secs(60))?;
    let id = api.invoke(request);
    let (answer, answered) = api.answer_at(&id, Duration::from_secs(60))?;
    process.kill()?;
    match answer {
        Answer::Response(body) if body["detail-type"] == "Notebook Provisioned" => {
            Ok(Cold { init_ms: millis(started, init_done), first_event_ms: millis(started, answered) })
        }
        other => bail!("{} answered {other:?}", program.display()),
    }
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench-cold-start PROVISIONER PYTHON PEER_SCRIPT [N]";
    let provisioner = PathBuf::from(args.next().context(usage)?);
    let python = PathBuf::from(args.next().context(usage)?);
    let peer = args.next().context(usage)?;
    let runs: usize = args.next().map(|n| n.parse()).transpose().context("N: a number")?.unwrap_or(20);

    let runtime = tokio::runtime::Runtime::new()?;
    let emulator = Emulator::start()?;
    let platform = runtime.block_on(Platform::build(&emulator))?;
    let mut env: Vec<(String, String)> = platform.env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    env.extend(
        [
            ("AWS_ENDPOINT_URL", emulator.endpoint.as_str()),
            ("AWS_REGION", REGION),
            ("AWS_DEFAULT_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("FLEET_S3_FORCE_PATH_STYLE", "true"),
            ("RUST_LOG", "warn"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let request = |who: &str, i: usize| {
        let (id, name) = (format!("cold-{who}-{i}"), format!("cold-{who}-{i}"));
        serde_json::to_value(request_event(NOTEBOOK_REQUESTED, notebook_requested(&id, &name)))
    };

    let (mut rust, mut python_runs) = (Vec::new(), Vec::new());
    let bench = Instant::now();
    for i in 0..runs {
        rust.push(cold_start(&provisioner, &[], &env, &request("rust", i)?)?);
        python_runs.push(cold_start(&python, &[peer.as_str()], &env, &request("python", i)?)?);
    }
    let figures = |runs: &[Cold], pick: fn(&Cold) -> f64| {
        let values: Vec<f64> = runs.iter().map(pick).collect();
        (percentile(&values, 0.5), percentile(&values, 0.9))
    };
    println!(
        "cold starts: {runs} each, alternating, against moto on this machine ({:.0} s)",
        bench.elapsed().as_secs_f64()
    );
    let profile = if provisioner.components().any(|c| c.as_os_str() == "release") { "release" } else { "debug" };
    println!("| figure | provisioner (Rust, {profile}) | Python peer (boto3) | peer / provisioner |");
    println!("| --- | --- | --- | --- |");
    for (label, pick) in [
        ("init (process start to the first `next`)", (|c: &Cold| c.init_ms) as fn(&Cold) -> f64),
        ("first event (process start to the posted answer)", |c: &Cold| c.first_event_ms),
    ] {
        let (r50, r90) = figures(&rust, pick);
        let (p50, p90) = figures(&python_runs, pick);
        println!("| {label}, p50 | {r50:.0} ms | {p50:.0} ms | {:.1} |", p50 / r50);
        println!("| {label}, p90 | {r90:.0} ms | {p90:.0} ms | {:.1} |", p90 / r90);
    }
    Ok(())
}
