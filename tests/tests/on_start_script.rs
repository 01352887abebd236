//! The on-start script run for real in a sandbox: bash, the real AWS CLI pointed at the emulator, the
//! metadata file SageMaker writes, and directories in a temporary folder instead of /opt and /etc.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use fleet::domain::lifecycle::{render_on_start_script, AgentObject, OnStartParameters};
use integration_tests::emulator::REGION;
use integration_tests::platform::{s3_client, AGENT_BYTES, ASSETS_BUCKET};
use integration_tests::tools::installed_tool;
use integration_tests::{Emulator, Platform};
use sha2::{Digest, Sha256};

fn aws_cli() -> Result<PathBuf> {
    installed_tool("FLEET_AWS_CLI", "venv-awscli/bin/aws", "run scripts/test.sh (it installs the pinned AWS CLI)")
}

struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    fn new(name: &str) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("nbf-on-start-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["install", "units", "bin"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        std::fs::write(
            dir.join("resource-metadata.json"),
            format!(
                r#"{{"ResourceArn":"arn:aws:sagemaker:{REGION}:123456789012:notebook-instance/alice-nb","ResourceName":"alice-nb"}}"#
            ),
        )?;
        Ok(Sandbox { dir })
    }

    /// Runs the script with only the sandbox's `aws` on the PATH besides the system's tools.
    fn run(&self, script: &str, emulator: &Emulator) -> Result<(bool, String, Duration)> {
        std::os::unix::fs::symlink(aws_cli()?, self.dir.join("bin/aws")).or_else(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        let script_path = self.dir.join("on-start.sh");
        std::fs::write(&script_path, script)?;
        let started = Instant::now();
        let output = Command::new("bash")
            .arg(&script_path)
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", self.dir.join("bin").display()))
            .env("HOME", &self.dir)
            .env("AWS_ENDPOINT_URL", &emulator.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("NBF_INSTALL_DIR", self.dir.join("install"))
            .env("NBF_METADATA_FILE", self.dir.join("resource-metadata.json"))
            .env("NBF_UNIT_DIR", self.dir.join("units"))
            .env("NBF_AGENT_LOG", self.dir.join("agent.log"))
            .env("NBF_NO_SYSTEMD", "1")
            .env("NBF_KEEPALIVE_DIR", self.dir.join("keepalive"))
            .env("NBF_BIN_DIR", self.dir.join("bin"))
            .output()
            .context("running bash")?;
        let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        Ok((output.status.success(), log, started.elapsed()))
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sha256_of(path: &Path) -> Result<String> {
    Ok(Sha256::digest(std::fs::read(path)?).iter().map(|b| format!("{b:02x}")).collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_script_fetches_the_agent_through_s3_checks_it_and_installs_it() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let agent = AgentObject::from_key(&platform.agent_key).map_err(anyhow::Error::msg)?;
    let script = render_on_start_script(&OnStartParameters { assets_bucket: ASSETS_BUCKET, agent: &agent });
    let sandbox = Sandbox::new("ok")?;

    let (ok, log, took) = sandbox.run(&script, &emulator)?;
    assert!(ok, "{log}");
    assert!(took < Duration::from_secs(60), "well inside SageMaker's 5 minutes: {took:?}");
    assert!(log.contains("agent") && log.contains("started in the background for alice-nb"), "{log}");
    let installed = sandbox.path("install/heartbeat-agent");
    assert_eq!(sha256_of(&installed)?, agent.sha256);
    assert_eq!(std::fs::read(&installed)?, AGENT_BYTES);
    let env = std::fs::read_to_string(sandbox.path("install/agent.env"))?;
    assert!(env.contains("NBF_NOTEBOOK_NAME=alice-nb"), "{env}");
    assert!(env.contains(&format!("NBF_ASSETS_BUCKET={ASSETS_BUCKET}")));
    assert!(env.contains(&format!("AWS_REGION={REGION}")));

    // nbf-keepalive is on the PATH: it marks the job while it runs, removes the mark after and passes its
    // exit status on; the agent reads the marks from the directory its environment names.
    let markers = sandbox.path("keepalive");
    assert!(env.contains(&format!("NBF_KEEPALIVE_DIR={}", markers.display())), "{env}");
    assert!(log.contains("nbf-keepalive installed"), "{log}");
    let job = Command::new(sandbox.path("bin/nbf-keepalive"))
        .args(["--", "sh", "-c", r#"echo "$$"; ls "$1"; exit 3"#, "job"])
        .arg(&markers)
        .output()?;
    let out = String::from_utf8_lossy(&job.stdout);
    let mut lines = out.lines();
    let pid = lines.next().unwrap_or_default();
    assert!(!pid.is_empty() && lines.any(|marker| marker == pid), "the job's own pid is marked while it runs: {out}");
    assert_eq!(job.status.code(), Some(3), "the job's exit status");
    assert!(std::fs::read_dir(&markers)?.next().is_none(), "no mark is left once the job has ended");
    let refused = Command::new(sandbox.path("bin/nbf-keepalive")).args(["--pid", "999999999"]).output()?;
    assert!(!refused.status.success(), "a process that is not running is refused");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no process 999999999 is running"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_agent_is_refused_and_the_notebook_still_starts() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    s3_client(&platform.sdk)
        .put_object()
        .bucket(ASSETS_BUCKET)
        .key(&platform.agent_key)
        .body(b"#!/bin/sh\necho not the agent\n".to_vec().into())
        .send()
        .await?;
    let agent = AgentObject::from_key(&platform.agent_key).map_err(anyhow::Error::msg)?;
    let script = render_on_start_script(&OnStartParameters { assets_bucket: ASSETS_BUCKET, agent: &agent });
    let sandbox = Sandbox::new("tampered")?;
    let (ok, log, _) = sandbox.run(&script, &emulator)?;
    assert!(ok, "a failed install never fails the notebook's start: {log}");
    assert!(log.contains("ERROR the agent's checksum does not match"), "{log}");
    assert!(!sandbox.path("install/heartbeat-agent").exists());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_bucket_is_logged_and_the_notebook_still_starts() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let agent = AgentObject::from_key(&platform.agent_key).map_err(anyhow::Error::msg)?;
    let script = render_on_start_script(&OnStartParameters { assets_bucket: "no-such-bucket", agent: &agent });
    let sandbox = Sandbox::new("unreachable")?;
    let (ok, log, _) = sandbox.run(&script, &emulator)?;
    assert!(ok, "{log}");
    assert!(log.contains("ERROR cannot fetch s3://no-such-bucket/"), "{log}");
    assert!(!sandbox.path("install/heartbeat-agent").exists());
    Ok(())
}
