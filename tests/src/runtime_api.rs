//! A Lambda runtime API for running the functions' real bootstraps as processes: the three calls a custom
//! runtime makes (`GET …/invocation/next`, `POST …/invocation/{id}/response` or `…/error`, and
//! `POST …/init/error`), served on 127.0.0.1 with std threads. A test queues an event, the process takes it,
//! the test reads the answer; it can also kill the process mid-invocation and start another, as Lambda
//! does when a function dies.

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::http1::{header, read_body, read_head, respond};

const API: &str = "/2018-06-01/runtime";
/// The deadline the runtime is told for each invocation.
const DEADLINE: Duration = Duration::from_secs(120);

/// How one invocation ended, as the runtime reported it.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Response(Value),
    Error(Value),
}

/// The runtime API of one function.
#[derive(Debug)]
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
    ids: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<(String, Value)>,
    /// Each answer, with when it arrived.
    answers: HashMap<String, (Answer, Instant)>,
    /// When each `next` call arrived, in order: the first one marks the end of the function's init.
    next_calls: Vec<Instant>,
    init_errors: Vec<Value>,
}

impl RuntimeApi {
    pub fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the runtime API")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let accepting = Arc::clone(&shared);
        let accept = thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let serving = Arc::clone(&accepting);
                thread::spawn(move || {
                    let _ = serving.serve(stream);
                });
            }
        });
        Ok(RuntimeApi { addr, shared, accept: Some(accept) })
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The environment Lambda gives a function (`lambda_runtime` requires these), pointed at this API.
    pub fn lambda_env(&self, function_name: &str) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.address()),
            ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function_name}")),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "local".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Queues an event for the next `next` call; returns its request id.
    pub fn invoke(&self, event: &Value) -> String {
        let id = format!("invocation-{}", self.shared.ids.fetch_add(1, Ordering::SeqCst) + 1);
        self.shared.lock().queue.push_back((id.clone(), event.clone()));
        self.shared.changed.notify_all();
        id
    }

    /// The answer to invocation `id`, waiting up to `timeout`.
    pub fn answer(&self, id: &str, timeout: Duration) -> Result<Answer> {
        self.answer_at(id, timeout).map(|(answer, _)| answer)
    }

    /// The answer to invocation `id` and when it arrived, waiting up to `timeout`.
    pub fn answer_at(&self, id: &str, timeout: Duration) -> Result<(Answer, Instant)> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(answer) = state.answers.get(id) {
                return Ok(answer.clone());
            }
            if let Some(error) = state.init_errors.first() {
                bail!("the function failed to initialise: {error}");
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("no answer to {id} within {timeout:?}");
            }
            state = self.shared.changed.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// When the `n`-th `next` call (from 1) arrived, waiting up to `timeout`.
    pub fn next_call(&self, n: usize, timeout: Duration) -> Result<Instant> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(at) = state.next_calls.get(n - 1) {
                return Ok(*at);
            }
            if let Some(error) = state.init_errors.first() {
                bail!("the function failed to initialise: {error}");
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("the function made no next call number {n} within {timeout:?}");
            }
            state = self.shared.changed.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn serve(&self, stream: TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        let mut out = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        while let Some(head) = read_head(&mut reader)? {
            let body = read_body(&mut reader, &head.headers, false)?;
            let mut parts = head.start.split_whitespace();
            let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
            let response = match (method, path.strip_prefix(API)) {
                ("GET", Some("/invocation/next")) => match self.next_invocation() {
                    Some((id, event)) => {
                        let deadline = chrono::Utc::now().timestamp_millis()
                            + i64::try_from(DEADLINE.as_millis()).unwrap_or(i64::MAX);
                        let arn = "arn:aws:lambda:eu-west-1:123456789012:function:local";
                        let headers = [
                            ("Content-Type", "application/json"),
                            ("Lambda-Runtime-Aws-Request-Id", id.as_str()),
                            ("Lambda-Runtime-Deadline-Ms", &deadline.to_string()),
                            ("Lambda-Runtime-Invoked-Function-Arn", arn),
                            ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
                        ]
                        .map(|(k, v)| (k, v.to_owned()));
                        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                        respond(200, &headers, &event.to_string(), false)
                    }
                    None => return out.shutdown(Shutdown::Both),
                },
                ("POST", Some(rest)) if rest.starts_with("/invocation/") => {
                    let rest = &rest["/invocation/".len()..];
                    let parsed = serde_json::from_slice(body.data())
                        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body.data()).into_owned()));
                    let answer = match rest.rsplit_once('/') {
                        Some((id, "response")) => Some((id, Answer::Response(parsed))),
                        Some((id, "error")) => Some((id, Answer::Error(parsed))),
                        _ => None,
                    };
                    match answer {
                        Some((id, answer)) => {
                            self.lock().answers.insert(id.to_owned(), (answer, Instant::now()));
                            self.changed.notify_all();
                            respond(202, &[("Content-Type", "application/json")], r#"{"status":"OK"}"#, false)
                        }
                        None => respond(404, &[], "unknown path", false),
                    }
                }
                ("POST", Some("/init/error")) => {
                    let error = serde_json::from_slice(body.data()).unwrap_or(Value::Null);
                    self.lock().init_errors.push(error);
                    self.changed.notify_all();
                    respond(202, &[("Content-Type", "application/json")], r#"{"status":"OK"}"#, false)
                }
                _ => respond(404, &[], "unknown path", false),
            };
            out.write_all(&response)?;
            if header(&head.headers, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
                return out.shutdown(Shutdown::Both);
            }
        }
        Ok(())
    }

    /// Blocks until an event is queued (or the API stops).
    fn next_invocation(&self) -> Option<(String, Value)> {
        let mut state = self.lock();
        state.next_calls.push(Instant::now());
        self.changed.notify_all();
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return None;
            }
            if let Some(next) = state.queue.pop_front() {
                return Some(next);
            }
            state =
                self.changed.wait_timeout(state, Duration::from_millis(200)).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

/// A function's bootstrap running as a process against a [`RuntimeApi`]; killed when dropped.
#[derive(Debug)]
pub struct FunctionProcess {
    child: Child,
    pub started: Instant,
}

impl FunctionProcess {
    /// Starts `binary` with Lambda's environment for `api` plus `env` (the function's own variables); its
    /// logs go to `log` when given.
    pub fn start(binary: &Path, api: &RuntimeApi, env: &[(String, String)], log: Option<&Path>) -> Result<Self> {
        Self::start_with(binary, &[], api, env, log)
    }

    /// [`Self::start`] with arguments (an interpreter and its script, for a peer written in Python).
    pub fn start_with(
        binary: &Path,
        args: &[&str],
        api: &RuntimeApi,
        env: &[(String, String)],
        log: Option<&Path>,
    ) -> Result<Self> {
        let mut command = Command::new(binary);
        command.args(args);
        command.env_clear().envs(api.lambda_env("local")).envs(env.iter().cloned()).stdin(Stdio::null());
        if let Ok(path) = std::env::var("PATH") {
            command.env("PATH", path);
        }
        match log {
            Some(log) => {
                let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
                command.stdout(file.try_clone()?).stderr(file);
            }
            None => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        let started = Instant::now();
        let child = command.spawn().with_context(|| format!("starting {}", binary.display()))?;
        Ok(FunctionProcess { child, started })
    }

    /// Ends the process the way Lambda ends a function that timed out or ran out of memory: SIGKILL.
    pub fn kill(mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A binary of another package of the workspace, in the profile directory of the test binaries (built by
/// `cargo build --bin NAME`, which `scripts/test.sh` runs before the tests).
pub fn workspace_binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe.parent().and_then(|deps| if deps.ends_with("deps") { deps.parent() } else { Some(deps) });
    let path = profile_dir.context("the test binary's directory")?.join(name);
    if !path.is_file() {
        bail!("{} is not built: run `cargo build --locked --bin {name}` first (scripts/test.sh does)", path.display());
    }
    Ok(path)
}
