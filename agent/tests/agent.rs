//! The heartbeat agent binary against a real Jupyter server (jupyter_server with ipykernel and the
//! terminals extension, from scripts/requirements-jupyter.txt) and a private moto server for S3.
//!
//! Each test starts its own servers; the agent runs with `--once` (one check, then exit) unless a test is
//! about the service loop. What a test checks is what the idle sweeper and an operator see: whether
//! `heartbeats/<notebook>` exists in the assets bucket, its body, and the agent's decision line.

mod common;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use common::*;

fn heartbeat_body(moto: &Moto) -> Result<serde_json::Value> {
    let (content_type, body) = moto.get(BUCKET, HEARTBEAT_KEY)?;
    ensure!(content_type.as_deref() == Some("application/json"), "content type {content_type:?}");
    Ok(serde_json::from_slice(&body)?)
}

fn assert_no_heartbeat(moto: &Moto) -> Result<()> {
    let keys = moto.keys(BUCKET)?;
    ensure!(keys.is_empty(), "expected no heartbeat, the bucket holds {keys:?}");
    Ok(())
}

fn assert_exit_0(run: &AgentRun) -> Result<()> {
    ensure!(run.status.success(), "the agent exited with {}:\n{}\n{}", run.status, run.stdout, run.stderr);
    Ok(())
}

fn field<'a>(decision: &'a std::collections::HashMap<String, String>, name: &str) -> &'a str {
    decision.get(name).map(String::as_str).unwrap_or("<absent>")
}

/// The decision line's fields, checked against `expected` (name, value) pairs.
fn assert_decision(run: &AgentRun, expected: &[(&str, &str)]) -> Result<()> {
    let decision = run.decision()?;
    for (name, value) in expected {
        ensure!(
            field(&decision, name) == *value,
            "{name}: expected {value}, got {} in\n{}",
            field(&decision, name),
            run.stdout
        );
    }
    Ok(())
}

fn kernel_state(jupyter: &Jupyter, id: &str) -> Result<String> {
    let state = jupyter.state()?;
    let kernels = state["kernels"].as_array().context("kernels")?;
    let kernel = kernels.iter().find(|k| k["id"] == id).context("the kernel is listed")?;
    Ok(kernel["execution_state"].as_str().unwrap_or_default().to_owned())
}

#[test]
fn idle_server_writes_no_heartbeat() -> Result<()> {
    let (jupyter, moto) = start_jupyter_and_moto()?;
    moto.create_bucket(BUCKET)?;

    let run = run_once(agent_command(&jupyter.url, Some(&jupyter.token), &moto.endpoint, &[]))?;
    assert_exit_0(&run)?;
    assert_decision(&run, &[("decision", "idle"), ("kernels", "0"), ("terminals", "0"), ("sessions", "0")])?;
    assert_no_heartbeat(&moto)
}

#[test]
fn running_cell_writes_a_kernel_busy_heartbeat_and_an_s3_failure_is_not_fatal() -> Result<()> {
    let (jupyter, moto) = start_jupyter_and_moto()?;
    let kernel = jupyter.helper("start-kernel", &["python3"])?;
    jupyter.helper("run-cell", &[&kernel, "import time; time.sleep(300)", "busy"])?;
    ensure!(kernel_state(&jupyter, &kernel)? == "busy", "the kernel runs the cell");

    // No bucket yet: the write fails, the agent says so and exits 0 all the same (it would try again).
    let run = run_once(agent_command(&jupyter.url, Some(&jupyter.token), &moto.endpoint, &[]))?;
    assert_exit_0(&run)?;
    assert_decision(&run, &[("decision", "heartbeat-failed"), ("kind", "kernel-busy")])?;
    ensure!(field(&run.decision()?, "reason").contains("NoSuchBucket"), "{}", run.stdout);

    moto.create_bucket(BUCKET)?;
    let before = chrono::Utc::now();
    let run = run_once(agent_command(&jupyter.url, Some(&jupyter.token), &moto.endpoint, &[]))?;
    assert_exit_0(&run)?;
    assert_decision(
        &run,
        &[
            ("decision", "heartbeat"),
            ("kind", "kernel-busy"),
            ("kernels", "1"),
            ("busy", "1"),
            ("starting", "0"),
            ("terminals", "0"),
            ("key", HEARTBEAT_KEY),
        ],
    )?;

    let body = heartbeat_body(&moto)?;
    ensure!(body["notebook"] == NOTEBOOK, "{body}");
    ensure!(body["kind"] == "kernel-busy", "{body}");
    ensure!(body["agent_version"] == env!("CARGO_PKG_VERSION"), "{body}");
    for stamp in ["last_activity", "checked_at"] {
        let value = body[stamp].as_str().context("a string")?;
        let at = chrono::DateTime::parse_from_rfc3339(value).with_context(|| format!("{stamp} is RFC 3339"))?;
        ensure!(at >= before - chrono::Duration::seconds(1), "{stamp} {value} is from this check");
    }
    ensure!(moto.keys(BUCKET)? == [HEARTBEAT_KEY], "only the heartbeat key is written");
    Ok(())
}

#[test]
fn finished_cell_counts_once_within_the_interval_and_not_after() -> Result<()> {
    let (jupyter, moto) = start_jupyter_and_moto()?;
    moto.create_bucket(BUCKET)?;
    let kernel = jupyter.helper("start-kernel", &["python3"])?;
    jupyter.helper("run-cell", &[&kernel, "x = 1 + 1", "idle"])?;

    // An idle kernel whose last activity is older than the lookback (one interval on a first check).
    std::thread::sleep(Duration::from_secs(4));
    let short = [("NBF_INTERVAL_SECONDS", "2")];
    let run = run_once(agent_command(&jupyter.url, Some(&jupyter.token), &moto.endpoint, &short))?;
    assert_exit_0(&run)?;
    assert_decision(&run, &[("decision", "idle"), ("kernels", "1"), ("busy", "0"), ("starting", "0")])?;
    assert_no_heartbeat(&moto)?;

    // A cell that ran and finished within the interval is activity.
    jupyter.helper("run-cell", &[&kernel, "y = x * 2", "idle"])?;
    let run = run_once(agent_command(&jupyter.url, Some(&jupyter.token), &moto.endpoint, &[]))?;
    assert_exit_0(&run)?;
    assert_decision(&run, &[("decision", "heartbeat"), ("kind", "kernel-activity"), ("busy", "0")])?;
    ensure!(heartbeat_body(&moto)?["kind"] == "kernel-activity");
    Ok(())
}

#[test]
fn terminal_activity_alone_writes_a_terminal_heartbeat() -> Result<()> {
    let (jupyter, moto) = start_jupyter_and_moto()?;
    moto.create_bucket(BUCKET)?;
    let terminal = jupyter.helper("new-terminal", &[])?;

    // An open terminal nobody types into is not activity.
    std::thread::sleep(Duration::from_secs(4));
    let short = [("NBF_INTERVAL_SECONDS", "2")];
    let run = run_once(agent_command(&jupyter.url, Some(&jupyter.token), &moto.endpoint, &short))?;
    assert_exit_0(&run)?;
    assert_decision(&run, &[("decision", "idle"), ("kernels", "0"), ("terminals", "1")])?;
    assert_no_heartbeat(&moto)?;

    // Typing into it is.
    jupyter.helper("type", &[&terminal, "echo nbf-terminal-marker"])?;
    let run = run_once(agent_command(&jupyter.url, Some(&jupyter.token), &moto.endpoint, &[]))?;
    assert_exit_0(&run)?;
    assert_decision(&run, &[("decision", "heartbeat"), ("kind", "terminal-activity"), ("kernels", "0")])?;
    let body = heartbeat_body(&moto)?;
    ensure!(body["kind"] == "terminal-activity", "{body}");
    ensure!(body["notebook"] == NOTEBOOK, "{body}");
    Ok(())
}

#[test]
fn kernel_stuck_in_starting_writes_no_heartbeat() -> Result<()> {
    let (jupyter, moto) = start_jupyter_and_moto()?;
    moto.create_bucket(BUCKET)?;
    // The `stuck` kernelspec runs `sleep 600`: the kernel never connects.
    let kernel = jupyter.helper("start-kernel", &["stuck"])?;
    std::thread::sleep(Duration::from_secs(1));
    ensure!(kernel_state(&jupyter, &kernel)? == "starting", "the kernel is stuck in starting");

    // Its last_activity (its start, a moment ago) is well inside the lookback: only its state keeps it out.
    let run = run_once(agent_command(&jupyter.url, Some(&jupyter.token), &moto.endpoint, &[]))?;
    assert_exit_0(&run)?;
    assert_decision(&run, &[("decision", "idle"), ("kernels", "1"), ("starting", "1"), ("busy", "0")])?;
    assert_no_heartbeat(&moto)
}

#[test]
fn jupyter_down_is_logged_as_unreachable_and_writes_nothing() -> Result<()> {
    let moto = Moto::start()?;
    moto.create_bucket(BUCKET)?;
    let nothing_listens = format!("http://127.0.0.1:{}", free_port()?);

    let run = run_once(agent_command(&nothing_listens, None, &moto.endpoint, &[]))?;
    assert_exit_0(&run)?;
    assert_decision(&run, &[("decision", "skipped")])?;
    let reason = run.decision()?.remove("reason").unwrap_or_default();
    ensure!(reason.starts_with("jupyter unreachable: "), "reason {reason:?}");
    ensure!(reason.contains("onnection refused"), "the cause is named: {reason:?}");
    assert_no_heartbeat(&moto)
}

#[test]
fn a_wrong_token_is_reported_as_such() -> Result<()> {
    let (jupyter, moto) = start_jupyter_and_moto()?;
    moto.create_bucket(BUCKET)?;
    let run = run_once(agent_command(&jupyter.url, Some("not-the-token"), &moto.endpoint, &[]))?;
    assert_exit_0(&run)?;
    assert_decision(&run, &[("decision", "skipped")])?;
    let reason = run.decision()?.remove("reason").unwrap_or_default();
    ensure!(reason.contains("403") && reason.contains("NBF_JUPYTER_TOKEN"), "reason {reason:?}");
    assert_no_heartbeat(&moto)
}

#[test]
fn the_service_loop_keeps_going_while_jupyter_is_down() -> Result<()> {
    let moto = Moto::start()?;
    moto.create_bucket(BUCKET)?;
    let nothing_listens = format!("http://127.0.0.1:{}", free_port()?);
    let mut agent =
        RunningAgent::spawn(agent_command(&nothing_listens, None, &moto.endpoint, &[("NBF_INTERVAL_SECONDS", "1")]))?;
    for _ in 0..3 {
        agent.wait_for_line("decision=skipped", Duration::from_secs(20))?;
    }
    ensure!(agent.is_running()?, "the agent never exits on a transient error");
    Ok(())
}

#[test]
fn missing_configuration_stops_the_agent_naming_the_variable() -> Result<()> {
    for missing in ["NBF_NOTEBOOK_NAME", "NBF_ASSETS_BUCKET"] {
        let run = run_once(agent_command("http://127.0.0.1:9", None, "http://127.0.0.1:9", &[(missing, "")]))?;
        ensure!(run.status.code() == Some(78), "exit status {} without {missing}", run.status);
        ensure!(run.stderr.contains(missing), "stderr names {missing}: {}", run.stderr);
        ensure!(!run.stdout.contains("decision="), "no check was made: {}", run.stdout);
    }
    let run =
        run_once(agent_command("http://127.0.0.1:9", None, "http://127.0.0.1:9", &[("NBF_INTERVAL_SECONDS", "0")]))?;
    ensure!(run.status.code() == Some(78) && run.stderr.contains("NBF_INTERVAL_SECONDS"), "{run:?}");
    Ok(())
}

#[test]
fn tls_self_signed_certificate_is_accepted_for_localhost_only() -> Result<()> {
    let jupyter = Jupyter::start_tls()?;
    let moto = Moto::start()?;
    moto.create_bucket(BUCKET)?;

    // The self-signed certificate is accepted for localhost and 127.0.0.1: Jupyter is read.
    for url in [jupyter.url.clone(), format!("https://127.0.0.1:{}", jupyter.port)] {
        let run = run_once(agent_command(&url, Some(&jupyter.token), &moto.endpoint, &[]))?;
        assert_exit_0(&run)?;
        assert_decision(&run, &[("decision", "idle"), ("kernels", "0")]).with_context(|| url.clone())?;
    }

    // The same server under a name that is not on the list (the IPv4-mapped IPv6 form of 127.0.0.1, which
    // reaches the same socket) gets full verification, and the self-signed certificate is refused.
    let url = format!("https://[::ffff:127.0.0.1]:{}", jupyter.port);
    let run = run_once(agent_command(&url, Some(&jupyter.token), &moto.endpoint, &[]))?;
    assert_exit_0(&run)?;
    assert_decision(&run, &[("decision", "skipped")])?;
    let reason = run.decision()?.remove("reason").unwrap_or_default();
    ensure!(reason.contains("certificate"), "refused for its certificate: {reason:?}");
    assert_no_heartbeat(&moto)
}

#[test]
fn a_keepalive_around_a_silent_job_writes_heartbeats_until_the_job_exits() -> Result<()> {
    let (jupyter, moto) = start_jupyter_and_moto()?;
    moto.create_bucket(BUCKET)?;
    let markers = tempfile::tempdir()?;
    let dir = markers.path().to_str().context("a UTF-8 path")?.to_owned();
    let once =
        || run_once(agent_command(&jupyter.url, Some(&jupyter.token), &moto.endpoint, &[("NBF_KEEPALIVE_DIR", &dir)]));

    // A long job that prints nothing and uses no kernel: Jupyter sees no activity.
    let mut job = std::process::Command::new("sleep").arg("300").spawn()?;
    heartbeat_agent::keepalive::mark(markers.path(), job.id())?;
    let run = once()?;
    assert_exit_0(&run)?;
    assert_decision(&run, &[("decision", "heartbeat"), ("kind", "keepalive"), ("kernels", "0"), ("terminals", "0")])?;
    ensure!(heartbeat_body(&moto)?["kind"] == "keepalive", "the heartbeat says which signal fired");

    job.kill()?;
    job.wait()?;
    let run = once()?;
    assert_exit_0(&run)?;
    assert_decision(&run, &[("decision", "idle")])?;
    ensure!(std::fs::read_dir(markers.path())?.next().is_none(), "the gone job's marker is removed");
    Ok(())
}

/// The agent's service loop, every second, counting only the CPU of `job`'s process tree (the test runs as
/// the same user as everything else here) and needing two seconds above 20 % of a core.
fn agent_watching(jupyter: &Jupyter, moto: &Moto, job: &std::process::Child) -> Result<RunningAgent> {
    let pid = job.id().to_string();
    RunningAgent::spawn(agent_command(
        &jupyter.url,
        Some(&jupyter.token),
        &moto.endpoint,
        &[("NBF_INTERVAL_SECONDS", "1"), ("NBF_CPU_MIN_SECONDS", "2"), ("NBF_PROCESS_ROOT_PID", &pid)],
    ))
}

#[test]
fn a_cpu_burning_job_with_no_kernel_activity_gives_process_cpu_heartbeats() -> Result<()> {
    let (jupyter, moto) = start_jupyter_and_moto()?;
    moto.create_bucket(BUCKET)?;
    let mut job = std::process::Command::new("sh").args(["-c", "while :; do :; done"]).spawn()?;
    let agent = agent_watching(&jupyter, &moto, &job);
    let fired = agent.and_then(|a| a.wait_for_line("kind=process-cpu", Duration::from_secs(30)));
    job.kill()?;
    job.wait()?;
    let line = fired?;
    ensure!(line.contains("decision=heartbeat") && line.contains("kernels=0"), "{line}");
    ensure!(heartbeat_body(&moto)?["kind"] == "process-cpu", "the heartbeat says which signal fired");
    Ok(())
}

#[test]
fn a_sleeping_job_gives_no_heartbeat() -> Result<()> {
    let (jupyter, moto) = start_jupyter_and_moto()?;
    moto.create_bucket(BUCKET)?;
    let mut job = std::process::Command::new("sleep").arg("60").spawn()?;
    let agent = agent_watching(&jupyter, &moto, &job)?;
    // Six checks: three times the minimum duration.
    let checked = (0..6).try_for_each(|_| agent.wait_for_line("decision=idle", Duration::from_secs(20)).map(drop));
    job.kill()?;
    job.wait()?;
    checked?;
    assert_no_heartbeat(&moto)
}

/// There is no GPU on the machines that run these tests: a stand-in `nvidia-smi` on the agent's PATH prints
/// the utilisation written to its file, as the real one does with `--format=csv,noheader,nounits`.
#[test]
fn gpu_utilisation_from_nvidia_smi_gives_gpu_heartbeats_and_its_absence_is_said_once() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let (jupyter, moto) = start_jupyter_and_moto()?;
    moto.create_bucket(BUCKET)?;
    let bin = tempfile::tempdir()?;
    let utilisation = bin.path().join("utilisation");
    std::fs::write(&utilisation, "0\n85\n")?;
    let stand_in = bin.path().join("nvidia-smi");
    std::fs::write(&stand_in, format!("#!/bin/sh\ncat '{}'\n", utilisation.display()))?;
    std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755))?;
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());

    let agent = RunningAgent::spawn(agent_command(
        &jupyter.url,
        Some(&jupyter.token),
        &moto.endpoint,
        &[("PATH", &path), ("NBF_INTERVAL_SECONDS", "1"), ("NBF_GPU_MIN_SECONDS", "2")],
    ))?;
    let line = agent.wait_for_line("kind=gpu", Duration::from_secs(30))?;
    ensure!(line.contains("decision=heartbeat") && line.contains("kernels=0"), "{line}");
    ensure!(heartbeat_body(&moto)?["kind"] == "gpu", "the heartbeat says which signal fired");
    std::fs::write(&utilisation, "3\n")?;
    agent.wait_for_line("gpu_percent=3", Duration::from_secs(20))?;
    drop(agent);

    let run = run_once(agent_command(&jupyter.url, Some(&jupyter.token), &moto.endpoint, &[]))?;
    ensure!(run.stdout.matches("gpu signal off: no nvidia-smi on PATH").count() == 1, "{}", run.stdout);
    Ok(())
}
