//! What the agent's integration tests need: a real Jupyter server and a moto server per test, the Python
//! helper that acts as a user (runs cells, types into terminals), and a way to run the agent binary.
//! Every process a test starts is killed, with its children, when its guard is dropped.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

pub const REGION: &str = "eu-west-1";
pub const BUCKET: &str = "nbf-assets";
pub const NOTEBOOK: &str = "alice-nb-1";
pub const HEARTBEAT_KEY: &str = "heartbeats/alice-nb-1";
pub const JUPYTER_VENV_VAR: &str = "FLEET_JUPYTER_VENV";
pub const MOTO_SERVER_VAR: &str = "FLEET_MOTO_SERVER";

/// A file of this crate's tests. The runners set CARGO_MANIFEST_DIR when they run a test, so a test binary
/// reused from a checkout elsewhere (the target directory is shared) still finds this checkout's files.
fn test_file(relative: &str) -> String {
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    format!("{crate_dir}/tests/{relative}")
}

fn cache_dir() -> Result<PathBuf> {
    std::env::var("NOTEBOOK_FLEET_CACHE")
        .map(PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| PathBuf::from(h).join(".cache/notebook-fleet")))
        .context("neither NOTEBOOK_FLEET_CACHE nor HOME is set")
}

/// The Python of the Jupyter test virtualenv: `$FLEET_JUPYTER_VENV/bin/python`.
pub fn jupyter_python() -> Result<PathBuf> {
    let venv = match std::env::var_os(JUPYTER_VENV_VAR) {
        Some(venv) => PathBuf::from(venv),
        None => cache_dir()?.join("venv-jupyter"),
    };
    let python = venv.join("bin/python");
    if !python.exists() {
        bail!(
            "{} not found: the agent's integration tests need a real Jupyter server. Install \
             scripts/requirements-jupyter.txt into {} (scripts/test.sh does: python3 -m venv …; pip install -r …) \
             or point {JUPYTER_VENV_VAR} at such a virtualenv",
            python.display(),
            venv.display()
        );
    }
    Ok(python)
}

fn moto_server() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(MOTO_SERVER_VAR) {
        return Ok(PathBuf::from(path));
    }
    let path = cache_dir()?.join("venv-emulator/bin/moto_server_atomic");
    if !path.exists() {
        bail!(
            "{} not found: run scripts/test.sh (it installs the pinned moto) or set {MOTO_SERVER_VAR}",
            path.display()
        );
    }
    Ok(path)
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Kills a process and every process below it (kernels and terminal shells run in sessions of their own,
/// so a process group would not reach them).
fn kill_tree(child: &mut Child) {
    let pids = descendants(child.id());
    if !pids.is_empty() {
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(pids.iter().map(u32::to_string))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            // pid (comm) state ppid …; comm may contain spaces and parentheses.
            let Some(after) = stat.rfind(')') else { continue };
            if let Some(ppid) = stat[after + 1..].split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (pid, _) in parent_of.iter().filter(|(_, ppid)| *ppid == parent) {
            found.push(*pid);
            frontier.push(*pid);
        }
    }
    found
}

/// A minimal HTTP/1.1 GET; the status code, or an error when nothing answers.
fn http_status(port: u16, path: &str, token: Option<&str>) -> Result<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let auth = token.map(|t| format!("Authorization: token {t}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Connection: close\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok());
    status.with_context(|| format!("not an HTTP answer: {answer:?}"))
}

fn wait_for(what: &str, child: &mut Child, timeout: Duration, mut ready: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(status) = child.try_wait()? {
            bail!("{what} exited with {status}");
        }
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{what} did not answer within {timeout:?}")
}

fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("jupyter.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    format!("jupyter's log ends with:\n{}", lines[lines.len().saturating_sub(30)..].join("\n"))
}

#[derive(Debug)]
pub struct Jupyter {
    child: Child,
    pub port: u16,
    pub token: String,
    /// `http://127.0.0.1:<port>`, or `https://localhost:<port>` for a server started with TLS.
    pub url: String,
    python: PathBuf,
    dir: tempfile::TempDir,
}

impl Jupyter {
    /// A Jupyter server (jupyter_server, ipykernel, terminals) on a free 127.0.0.1 port, plain HTTP, with
    /// a token, everything it writes in a temporary directory, and one extra kernelspec, `stuck`, whose
    /// "kernel" is `sleep 600`: it never connects, so the kernel stays in `starting`.
    pub fn start() -> Result<Self> {
        Self::start_with(false)
    }

    /// The same with TLS, on the self-signed certificate of `tests/certs/` (for localhost, 127.0.0.1, ::1).
    pub fn start_tls() -> Result<Self> {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Result<Self> {
        let python = jupyter_python()?;
        let dir = tempfile::tempdir()?;
        let stuck = dir.path().join("jupyter-path/kernels/stuck");
        std::fs::create_dir_all(&stuck)?;
        std::fs::write(
            stuck.join("kernel.json"),
            r#"{"argv": ["sleep", "600"], "display_name": "Stuck in starting", "language": "python"}"#,
        )?;
        for sub in ["root", "home", "config", "data", "runtime", "ipython"] {
            std::fs::create_dir_all(dir.path().join(sub))?;
        }
        let token = format!("nbf-test-{}", std::process::id());
        let mut last_error = None;
        for _ in 0..3 {
            let port = free_port()?;
            let log = std::fs::File::create(dir.path().join("jupyter.log"))?;
            let mut command = Command::new(&python);
            command
                .args(["-m", "jupyter_server", "--no-browser", "--allow-root"])
                .arg(format!("--ServerApp.port={port}"))
                .args(["--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1"])
                .arg(format!("--IdentityProvider.token={token}"))
                .arg(format!("--ServerApp.root_dir={}", dir.path().join("root").display()))
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", dir.path().join("home"))
                .env("SHELL", "/bin/sh")
                .env("LANG", "C.UTF-8")
                .env("JUPYTER_PATH", dir.path().join("jupyter-path"))
                .env("JUPYTER_CONFIG_DIR", dir.path().join("config"))
                .env("JUPYTER_DATA_DIR", dir.path().join("data"))
                .env("JUPYTER_RUNTIME_DIR", dir.path().join("runtime"))
                .env("JUPYTER_PLATFORM_DIRS", "1")
                .env("IPYTHONDIR", dir.path().join("ipython"))
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log);
            if tls {
                command
                    .arg(format!("--ServerApp.certfile={}", test_file("certs/self-signed-localhost.pem")))
                    .arg(format!("--ServerApp.keyfile={}", test_file("certs/self-signed-localhost.key")));
            }
            let mut child =
                command.spawn().with_context(|| format!("starting {} -m jupyter_server", python.display()))?;
            let ready = if tls {
                // Tornado serves once it listens; a plain TCP connection is enough to know.
                wait_for("jupyter server", &mut child, Duration::from_secs(60), || {
                    TcpStream::connect(("127.0.0.1", port)).is_ok()
                })
            } else {
                wait_for("jupyter server", &mut child, Duration::from_secs(60), || {
                    http_status(port, "/api/status", Some(&token)).ok() == Some(200)
                })
            };
            match ready {
                Ok(()) => {
                    let url =
                        if tls { format!("https://localhost:{port}") } else { format!("http://127.0.0.1:{port}") };
                    return Ok(Jupyter { child, port, token, url, python, dir });
                }
                Err(e) => {
                    // Perhaps the port was taken in between: try another.
                    kill_tree(&mut child);
                    last_error = Some(e.context(log_tail(dir.path())));
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("the jupyter server did not start")))
    }

    pub fn log_tail(&self) -> String {
        log_tail(self.dir.path())
    }

    /// Runs `tests/jupyter_helper.py COMMAND URL TOKEN ARGS…` against this server (always over plain HTTP);
    /// its one line of output.
    pub fn helper(&self, command: &str, args: &[&str]) -> Result<String> {
        let url = format!("http://127.0.0.1:{}", self.port);
        let output = Command::new(&self.python)
            .arg(test_file("jupyter_helper.py"))
            .args([command, &url, &self.token])
            .args(args)
            .output()
            .context("running the jupyter helper")?;
        if !output.status.success() {
            bail!(
                "jupyter_helper.py {command} {args:?} failed ({}): {}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr),
                self.log_tail()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// The server's kernels and terminals, as the helper's `state` prints them.
    pub fn state(&self) -> Result<serde_json::Value> {
        Ok(serde_json::from_str(&self.helper("state", &[])?)?)
    }
}

impl Drop for Jupyter {
    fn drop(&mut self) {
        kill_tree(&mut self.child);
    }
}

/// A private moto server with the assets bucket's S3 API.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Result<Self> {
        let server = moto_server()?;
        let mut last_error = None;
        for _ in 0..3 {
            let port = free_port()?;
            let quiet = std::env::var_os("FLEET_MOTO_LOG").is_none();
            let child = Command::new(&server)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(if quiet { Stdio::null() } else { Stdio::inherit() })
                .stderr(if quiet { Stdio::null() } else { Stdio::inherit() })
                .spawn()
                .with_context(|| format!("starting {}", server.display()))?;
            let mut moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
            match wait_for("moto_server", &mut moto.child, Duration::from_secs(30), || {
                http_status(port, "/moto-api/data.json", None).ok() == Some(200)
            }) {
                Ok(()) => return Ok(moto),
                Err(e) => last_error = Some(e), // the port was taken in between: try another
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("moto did not start")))
    }

    fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub fn create_bucket(&self, bucket: &str) -> Result<()> {
        block_on(async {
            self.s3()
                .create_bucket()
                .bucket(bucket)
                .create_bucket_configuration(
                    aws_sdk_s3::types::CreateBucketConfiguration::builder()
                        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION))
                        .build(),
                )
                .send()
                .await
        })?
        .context("creating the bucket")?;
        Ok(())
    }

    /// Every key in the bucket.
    pub fn keys(&self, bucket: &str) -> Result<Vec<String>> {
        let listed = block_on(async { self.s3().list_objects_v2().bucket(bucket).send().await })?
            .context("listing the bucket")?;
        Ok(listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect())
    }

    /// The object's content type and body.
    pub fn get(&self, bucket: &str, key: &str) -> Result<(Option<String>, Vec<u8>)> {
        block_on(async {
            let object = self.s3().get_object().bucket(bucket).key(key).send().await.context("getting the object")?;
            let content_type = object.content_type().map(str::to_owned);
            let body = object.body.collect().await.context("reading the object")?.into_bytes().to_vec();
            Ok((content_type, body))
        })?
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        kill_tree(&mut self.child);
    }
}

fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(future))
}

/// Starts both servers at once (each takes a second or two).
pub fn start_jupyter_and_moto() -> Result<(Jupyter, Moto)> {
    std::thread::scope(|scope| {
        let moto = scope.spawn(Moto::start);
        let jupyter = Jupyter::start();
        let moto = moto.join().map_err(|_| anyhow::anyhow!("starting moto panicked"))?;
        Ok((jupyter?, moto?))
    })
}

/// The agent's environment for a test: nothing inherited but PATH, the emulator's endpoint and test
/// credentials, the notebook and bucket, and `extra` on top (later entries win; an empty value unsets).
pub fn agent_command(jupyter_url: &str, token: Option<&str>, s3_endpoint: &str, extra: &[(&str, &str)]) -> Command {
    let home = std::env::temp_dir();
    let mut vars: Vec<(String, String)> = vec![
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("HOME".into(), home.display().to_string()),
        ("AWS_ENDPOINT_URL".into(), s3_endpoint.into()),
        ("AWS_REGION".into(), REGION.into()),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("AWS_CONFIG_FILE".into(), "/nonexistent/aws-config".into()),
        ("AWS_SHARED_CREDENTIALS_FILE".into(), "/nonexistent/aws-credentials".into()),
        ("NBF_NOTEBOOK_NAME".into(), NOTEBOOK.into()),
        ("NBF_ASSETS_BUCKET".into(), BUCKET.into()),
        ("NBF_JUPYTER_URL".into(), jupyter_url.into()),
    ];
    if let Some(token) = token {
        vars.push(("NBF_JUPYTER_TOKEN".into(), token.into()));
    }
    vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let mut command = Command::new(env!("CARGO_BIN_EXE_heartbeat-agent"));
    command.env_clear().stdin(Stdio::null());
    for (name, value) in vars {
        if value.is_empty() {
            command.env_remove(&name);
        } else {
            command.env(&name, value);
        }
    }
    command
}

#[derive(Debug)]
pub struct AgentRun {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl AgentRun {
    /// The one decision line, as `key → value` (quotes removed).
    pub fn decision(&self) -> Result<HashMap<String, String>> {
        let lines: Vec<&str> = self.stdout.lines().filter(|l| l.contains(" decision=")).collect();
        match lines.as_slice() {
            [line] => Ok(fields(line)),
            _ => bail!("expected one decision line, found {}:\n{}\nstderr:\n{}", lines.len(), self.stdout, self.stderr),
        }
    }
}

/// Runs `heartbeat-agent --once` to completion (at most a minute).
pub fn run_once(mut command: Command) -> Result<AgentRun> {
    let mut child = command.arg("--once").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let mut stdout = child.stdout.take().context("stdout")?;
    let mut stderr = child.stderr.take().context("stderr")?;
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("heartbeat-agent --once did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok(AgentRun { status, stdout, stderr })
}

/// The agent running as the service does (no --once), its stdout read line by line.
#[derive(Debug)]
pub struct RunningAgent {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl RunningAgent {
    pub fn spawn(mut command: Command) -> Result<Self> {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn()?;
        let stdout = child.stdout.take().context("stdout")?;
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(std::result::Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(RunningAgent { child, lines })
    }

    /// The next line that contains `needle`, waiting at most `timeout`.
    pub fn wait_for_line(&self, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Ok(line),
                Ok(_) => continue,
                Err(_) => bail!("no line with {needle:?} within {timeout:?}"),
            }
        }
    }

    pub fn is_running(&mut self) -> Result<bool> {
        Ok(self.child.try_wait()?.is_none())
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        kill_tree(&mut self.child);
    }
}

/// `key=value` and `key="quoted value"` pairs of a log line.
pub fn fields(line: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = line;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].rsplit(' ').next().unwrap_or_default().to_owned();
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut end = 0;
            let mut escaped = false;
            for (i, c) in quoted.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = i;
                        break;
                    }
                    _ => escaped = false,
                }
                end = i + c.len_utf8();
            }
            (quoted[..end].replace("\\\"", "\""), quoted.get(end + 1..).unwrap_or_default())
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            (after[..end].to_owned(), &after[end..])
        };
        out.insert(key, value);
        rest = next;
    }
    out
}
