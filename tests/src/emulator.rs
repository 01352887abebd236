//! A private moto server per test: tests never share emulator state.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::tools::installed_tool;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::Credentials;

/// Where the project's scripts install moto; `FLEET_MOTO_SERVER` overrides it.
pub const MOTO_SERVER_VAR: &str = "FLEET_MOTO_SERVER";
pub const REGION: &str = "eu-west-1";
/// moto's default account.
pub const ACCOUNT_ID: &str = "123456789012";

#[derive(Debug)]
pub struct Emulator {
    child: Child,
    pub endpoint: String,
    port: u16,
}

fn moto_server() -> Result<PathBuf> {
    installed_tool(
        MOTO_SERVER_VAR,
        "venv-emulator/bin/moto_server_atomic",
        "run scripts/test.sh (it installs the pinned moto)",
    )
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Emulator {
    /// Starts moto on a free port and waits until it answers.
    pub fn start() -> Result<Self> {
        let server = moto_server()?;
        let mut last_error = None;
        for _ in 0..3 {
            let port = free_port()?;
            let quiet = std::env::var_os("FLEET_MOTO_LOG").is_none();
            let child = Command::new(&server)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(if quiet { Stdio::null() } else { Stdio::inherit() })
                .stderr(if quiet { Stdio::null() } else { Stdio::inherit() })
                .spawn()
                .with_context(|| format!("starting {}", server.display()))?;
            let mut emulator = Emulator { child, endpoint: format!("http://127.0.0.1:{port}"), port };
            match emulator.wait_ready(Duration::from_secs(30)) {
                Ok(()) => return Ok(emulator),
                Err(e) => last_error = Some(e), // the port was taken in between: try another
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("moto did not start")))
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(status) = self.child.try_wait()? {
                bail!("moto_server exited with {status}");
            }
            if self.http("GET", "/moto-api/data.json", "").is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("moto_server did not answer within {timeout:?}")
    }

    /// Switches moto's IAM enforcement on after `after` more requests (`POST /moto-api/reset-auth`).
    /// From then on every request must be signed by a known IAM identity and is checked against its policies.
    pub fn enforce_iam_after(&self, after: u64) -> Result<()> {
        let answer = self.http("POST", "/moto-api/reset-auth", &after.to_string())?;
        if !answer.contains("\"status\": \"ok\"") {
            bail!("reset-auth answered {answer}");
        }
        Ok(())
    }

    /// A minimal HTTP/1.1 exchange for moto's own control API.
    fn http(&self, method: &str, path: &str, body: &str) -> Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        if !answer.starts_with("HTTP/1.1 200") && !answer.starts_with("HTTP/1.0 200") {
            bail!("{method} {path}: {}", answer.lines().next().unwrap_or_default());
        }
        Ok(answer)
    }

    /// SDK configuration for this emulator with the given credentials.
    pub async fn sdk_config_as(&self, credentials: Credentials) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(credentials)
            .load()
            .await
    }

    /// SDK configuration with moto's default test credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        self.sdk_config_as(Credentials::new("test", "test", None, None, "emulator")).await
    }
}

/// Assumes a role as SageMaker would for a notebook. moto cannot sign as a service, so call this before IAM
/// enforcement is switched on; the credentials stay valid afterwards, and each request is checked against
/// the role's policies as they are then.
pub async fn assume_role(sdk: &SdkConfig, role_arn: &str) -> anyhow::Result<Credentials> {
    let assumed = aws_sdk_sts::Client::new(sdk)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name("SageMaker")
        .send()
        .await?
        .credentials
        .ok_or_else(|| anyhow::anyhow!("no credentials in the AssumeRole answer"))?;
    Ok(Credentials::new(
        assumed.access_key_id(),
        assumed.secret_access_key(),
        Some(assumed.session_token().to_owned()),
        None,
        "assumed-role",
    ))
}

/// moto accepts any credentials until IAM enforcement is switched on.
pub fn test_credentials() -> Credentials {
    Credentials::new("test", "test", None, None, "emulator")
}

/// SDK configuration for an emulator at `endpoint` (one this process started, or the demo's).
pub async fn sdk_config_for(endpoint: &str, credentials: Credentials) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .load()
        .await
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
