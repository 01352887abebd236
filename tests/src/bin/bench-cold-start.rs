//! Cold starts of the provisioner and of the idle sweeper against Python peers: `scripts/bench.sh cold-start
//! [N [FLEET]]`.
//!
//! Each run starts a new process under the tests crate's Lambda runtime API (as Lambda starts a new
//! execution environment), hands it one event and times, from the process's start, its first `next` call
//! (init: configuration, clients, for the provisioner the entitlements document) and the posted answer
//! (first event). The functions are the release bootstraps; the peers are `tests/peer/provisioner_peer.py`
//! and `tests/peer/sweeper_peer.py` (Python 3 and boto3, written for this benchmark, making the same AWS
//! calls). Both run against the same moto server, one process at a time, alternating.
//! - `provisioner`: one `Notebook Requested` for a new notebook each run.
//! - `sweeper`: the scheduled event, over a fleet of FLEET (default 1,000) managed notebooks that are all
//!   in use or just started, so that every sweep lists and decides the whole fleet and changes nothing.
//!
//! ```text
//! bench-cold-start provisioner PROVISIONER PYTHON PEER_SCRIPT [N]
//! bench-cold-start sweeper SWEEPER PYTHON PEER_SCRIPT [N [FLEET]]
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fleet::domain::request::NOTEBOOK_REQUESTED;
use integration_tests::emulator::REGION;
use integration_tests::events::{notebook_requested, request_event};
use integration_tests::figures::{record, Figure};
use integration_tests::fleet::{seed, Seed};
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

/// Starts `program args`, gives it one event, returns its timings once `answered` says the answer is right.
fn cold_start(
    program: &Path,
    args: &[&str],
    env: &[(String, String)],
    request: &serde_json::Value,
    answered_right: &dyn Fn(&serde_json::Value) -> bool,
) -> Result<Cold> {
    let api = RuntimeApi::start()?;
    let process = FunctionProcess::start_with(program, args, &api, env, None)?;
    let started = process.started;
    let init_done = api.next_call(1, Duration::from_secs(60))?;
    let id = api.invoke(request);
    let (answer, answered) = api.answer_at(&id, Duration::from_secs(60))?;
    process.kill()?;
    match answer {
        Answer::Response(body) if answered_right(&body) => {
            Ok(Cold { init_ms: millis(started, init_done), first_event_ms: millis(started, answered) })
        }
        other => bail!("{} answered {other:?}", program.display()),
    }
}

/// What is started: the function and the event it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Provisioner,
    Sweeper,
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench-cold-start provisioner|sweeper FUNCTION PYTHON PEER_SCRIPT [N [FLEET]]";
    let function = match args.next().as_deref() {
        Some("provisioner") => Function::Provisioner,
        Some("sweeper") => Function::Sweeper,
        _ => bail!(usage),
    };
    let binary = PathBuf::from(args.next().context(usage)?);
    let python = PathBuf::from(args.next().context(usage)?);
    let peer = args.next().context(usage)?;
    let runs: usize = args.next().map(|n| n.parse()).transpose().context("N: a number")?.unwrap_or(20);
    let fleet: usize = args.next().map(|n| n.parse()).transpose().context("FLEET: a number")?.unwrap_or(1000);

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
    if function == Function::Sweeper {
        let seeds: Vec<Seed> = (0..fleet).map(|i| Seed::managed(format!("cold-{i:05}"))).collect();
        let seeding = Instant::now();
        runtime.block_on(seed(&platform.sdk, &seeds, 16))?;
        println!("seeded {fleet} managed notebooks with heartbeats in {:.1} s", seeding.elapsed().as_secs_f64());
    }
    let event = |who: &str, i: usize| -> Result<serde_json::Value> {
        Ok(match function {
            Function::Provisioner => {
                let (id, name) = (format!("cold-{who}-{i}"), format!("cold-{who}-{i}"));
                serde_json::to_value(request_event(NOTEBOOK_REQUESTED, notebook_requested(&id, &name)))?
            }
            Function::Sweeper => serde_json::json!({
                "version": "0", "id": format!("cold-{who}-{i}"), "detail-type": "Scheduled Event",
                "source": "aws.events", "account": "123456789012", "time": chrono::Utc::now().to_rfc3339(),
                "region": REGION, "resources": [], "detail": {}
            }),
        })
    };
    let right = |body: &serde_json::Value| match function {
        Function::Provisioner => body["detail-type"] == "Notebook Provisioned",
        Function::Sweeper => body["managed"] == fleet,
    };

    let (mut rust, mut python_runs) = (Vec::new(), Vec::new());
    let bench = Instant::now();
    for i in 0..runs {
        rust.push(cold_start(&binary, &[], &env, &event("rust", i)?, &right)?);
        python_runs.push(cold_start(&python, &[peer.as_str()], &env, &event("python", i)?, &right)?);
    }
    let figures = |runs: &[Cold], pick: fn(&Cold) -> f64| {
        let values: Vec<f64> = runs.iter().map(pick).collect();
        (percentile(&values, 0.5), percentile(&values, 0.9))
    };
    let (name, what) = match function {
        Function::Provisioner => ("provisioner", "one new notebook each".to_owned()),
        Function::Sweeper => ("idle sweeper", format!("a sweep of {fleet} notebooks each")),
    };
    println!(
        "{name} cold starts: {runs} each ({what}), alternating, against moto on this machine ({:.0} s)",
        bench.elapsed().as_secs_f64()
    );
    let profile = if binary.components().any(|c| c.as_os_str() == "release") { "release" } else { "debug" };
    println!("| figure | {name} (Rust, {profile}) | Python peer (boto3) | peer / Rust |");
    println!("| --- | --- | --- | --- |");
    let mut summary = Vec::new();
    for (label, pick) in [
        ("init (process start to the first `next`)", (|c: &Cold| c.init_ms) as fn(&Cold) -> f64),
        ("first event (process start to the posted answer)", |c: &Cold| c.first_event_ms),
    ] {
        let (r50, r90) = figures(&rust, pick);
        let (p50, p90) = figures(&python_runs, pick);
        println!("| {label}, p50 | {r50:.0} ms | {p50:.0} ms | {:.1} |", p50 / r50);
        println!("| {label}, p90 | {r90:.0} ms | {p90:.0} ms | {:.1} |", p90 / r90);
        for (p, rust, python) in [("p50", r50, p50), ("p90", r90, p90)] {
            summary.push(Figure {
                figure: format!("{name} cold start, {}, {p} ({what})", label.split(" (").next().unwrap_or(label)),
                value: format!("{rust:.0} ms (Rust, {profile})"),
                compared_with: format!("{python:.0} ms (Python peer, boto3)"),
                ratio: Some(python / rust),
            });
        }
    }
    record(&summary)?;
    Ok(())
}
