//! A failure-injecting HTTP/1.1 reverse proxy for fault-injection tests against the moto AWS emulator.
//!
//! It sits between the AWS SDK for Rust and a local `moto_server` and fails a share of calls the way AWS
//! does: throttling and internal errors in each service's own protocol, stalls, dropped connections, and
//! lost responses (the action is done upstream but the caller never hears back).
//!
//! Decisions are deterministic: each request is hashed from the seed, method, path+query, body and how many
//! times that exact request was seen before. Two runs with the same seed and requests inject the same faults
//! whatever the thread scheduling, and a retried identical request gets a fresh, independent draw.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::Context;

use crate::http1::{bad, eof, header, is_chunked, read_body, read_head, rebuild, respond, status_of, Body, Head};

/// Generous so a slow emulator call is not cut short, yet a stuck peer cannot pin a thread forever.
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// Between requests. Longer than the SDK's pool idle timeout (90 s), so it is the SDK that closes idle
/// connections: a proxy-side close could race with reuse and fail a call that no fault was planned for.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// A way a call can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Answered by the proxy with the service's throttling error; not forwarded.
    Throttle,
    /// Answered by the proxy with an HTTP 500 internal error; not forwarded.
    ServerError,
    /// Forwarded after sleeping [`FaultPlan::stall`].
    Stall,
    /// The connection is closed once the request is read; not forwarded.
    Drop,
    /// Forwarded (so the action is done), then the connection is closed instead of answering.
    LostResponse,
    /// Never forwarded nor answered: the connection is held open until the client goes away, like a call
    /// that hangs until the function times out or is killed. Not among [`Fault::ALL`]: asked for by name.
    Hold,
}

impl Fault {
    pub const ALL: [Fault; 5] = [Fault::Throttle, Fault::ServerError, Fault::Stall, Fault::Drop, Fault::LostResponse];

    /// Short name used in summaries, in the order of declaration.
    pub fn label(self) -> &'static str {
        ["throttle", "server-error", "stall", "drop", "lost-response", "hold"][self as usize]
    }
}

/// What to inject, how often, and into which calls.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// Share of eligible requests that get a fault, 0.0..=1.0.
    pub rate: f64,
    pub seed: u64,
    /// Chosen among uniformly; empty means no faults.
    pub kinds: Vec<Fault>,
    /// How long [`Fault::Stall`] waits before forwarding.
    pub stall: Duration,
    /// Only these operation names are eligible; `None` means every call.
    pub operations: Option<Vec<String>>,
    /// Only these services (SigV4 scope names such as `s3`) are eligible; `None` means all.
    pub services: Option<Vec<String>>,
    /// Only requests whose body holds this text are eligible (e.g. a page token's field name).
    pub body_contains: Option<String>,
    /// At most this many faults in all, counted from the last [`FaultProxy::set_plan`]; `None`: no limit.
    pub at_most: Option<u64>,
    /// Added to every call, half before it is forwarded and half after, as a network round trip to AWS
    /// would; calls on different connections overlap, so it stands for distance, not for a slow service.
    pub latency: Duration,
}

impl FaultPlan {
    pub fn none() -> Self {
        Self {
            rate: 0.0,
            seed: 0,
            kinds: Vec::new(),
            stall: Duration::from_secs(3),
            operations: None,
            services: None,
            body_contains: None,
            at_most: None,
            latency: Duration::ZERO,
        }
    }

    /// All five kinds at `rate`, with a 3 s stall.
    pub fn every_kind(rate: f64, seed: u64) -> Self {
        Self { rate, seed, kinds: Fault::ALL.to_vec(), ..Self::none() }
    }

    pub fn only_operations(self, operations: &[&str]) -> Self {
        Self { operations: Some(operations.iter().map(|s| s.to_string()).collect()), ..self }
    }

    pub fn only_services(self, services: &[&str]) -> Self {
        Self { services: Some(services.iter().map(|s| s.to_string()).collect()), ..self }
    }

    pub fn kinds(self, kinds: &[Fault]) -> Self {
        Self { kinds: kinds.to_vec(), ..self }
    }

    pub fn stall(self, stall: Duration) -> Self {
        Self { stall, ..self }
    }

    pub fn body_contains(self, text: &str) -> Self {
        Self { body_contains: Some(text.to_string()), ..self }
    }

    pub fn at_most(self, faults: u64) -> Self {
        Self { at_most: Some(faults), ..self }
    }

    /// No faults, `round_trip` added to every call: a stand-in for AWS's network distance.
    pub fn latency(round_trip: Duration) -> Self {
        Self { latency: round_trip, ..Self::none() }
    }

    fn eligible(&self, call: &Call, body: &[u8]) -> bool {
        let allowed =
            |list: &Option<Vec<String>>, name: &str| list.as_ref().is_none_or(|l| l.iter().any(|x| x == name));
        self.rate > 0.0
            && !self.kinds.is_empty()
            && allowed(&self.operations, &call.operation)
            && allowed(&self.services, &call.service)
            && self.body_contains.as_ref().is_none_or(|text| contains(body, text.as_bytes()))
    }
}

/// What the proxy has seen since it started or since [`FaultProxy::reset_counts`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Every request read from a client.
    pub requests: u64,
    /// Requests written to upstream (normal, stalled and lost-response ones).
    pub forwarded: u64,
    pub injected: BTreeMap<Fault, u64>,
    /// Operation name to (requests, faults injected).
    pub by_operation: BTreeMap<String, (u64, u64)>,
}

impl FaultCounts {
    pub fn total_injected(&self) -> u64 {
        self.injected.values().sum()
    }
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} requests, {} faults", self.requests, self.total_injected())?;
        if !self.injected.is_empty() {
            let parts: Vec<String> = self.injected.iter().map(|(k, n)| format!("{} {n}", k.label())).collect();
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}

/// The service and operation a request belongs to, as far as the proxy can tell ("unknown" otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub service: String,
    pub operation: String,
}

/// The proxy; dropping it stops accepting new connections.
#[derive(Debug)]
pub struct FaultProxy {
    local: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Listens on an ephemeral loopback port and forwards to `upstream`, e.g. `http://127.0.0.1:5000`.
    pub fn start(upstream: &str, plan: FaultPlan) -> anyhow::Result<FaultProxy> {
        let rest = upstream
            .strip_prefix("http://")
            .ok_or_else(|| anyhow::anyhow!("upstream must be http://, got {upstream}"))?;
        let host_port = rest.split('/').next().unwrap_or(rest);
        let addrs: Vec<SocketAddr> =
            host_port.to_socket_addrs().with_context(|| format!("resolving upstream {host_port}"))?.collect();
        // moto usually listens on IPv4 only, while `localhost` may resolve to ::1 first.
        let addr = addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .copied()
            .ok_or_else(|| anyhow::anyhow!("upstream {host_port} resolved to no address"))?;
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the fault proxy")?;
        let local = listener.local_addr()?;
        let shared = Arc::new(Shared::new(addr, plan));
        let for_thread = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("fault-proxy-accept".into())
            .spawn(move || accept_loop(&listener, &for_thread))
            .context("spawning the fault proxy accept thread")?;
        Ok(FaultProxy { local, shared, accept: Some(accept) })
    }

    /// The URL to give the SDK as its endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.local)
    }

    pub fn addr(&self) -> SocketAddr {
        self.local
    }

    /// Replaces the plan for requests read from now on.
    pub fn set_plan(&self, plan: FaultPlan) {
        *lock(&self.shared.plan) = plan;
        self.shared.injected_under_plan.store(0, Ordering::SeqCst);
    }

    pub fn counts(&self) -> FaultCounts {
        lock(&self.shared.counts).clone()
    }

    /// Zeroes the counts. The per-request history behind the draws is kept, so determinism is unaffected.
    pub fn reset_counts(&self) {
        *lock(&self.shared.counts) = FaultCounts::default();
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the loop sees the flag; only wait for it if the wake-up got through.
        let woken = TcpStream::connect_timeout(&self.local, Duration::from_secs(1)).is_ok();
        if let (true, Some(handle)) = (woken, self.accept.take()) {
            let _ = handle.join();
        }
    }
}

/// Ignores poisoning: the proxy never panics while holding a lock, and a test must not die of it anyway.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = conn else {
            // E.g. out of file descriptors: back off rather than spin.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let shared = Arc::clone(shared);
        // Errors only end that connection, which the SDK sees as a network error and retries.
        let _ = thread::Builder::new().name("fault-proxy-conn".into()).spawn(move || {
            let _ = shared.serve(stream);
        });
    }
}

/// What the proxy does with one request.
struct Decision {
    fault: Option<Fault>,
    stall: Duration,
    latency: Duration,
    /// The request's draw, which also makes up request ids.
    draw: u64,
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    plan: Mutex<FaultPlan>,
    /// Times each request identity was seen, so a retry gets a new draw.
    seen: Mutex<HashMap<u64, u32>>,
    counts: Mutex<FaultCounts>,
    /// Faults injected since the plan was last set, for [`FaultPlan::at_most`].
    injected_under_plan: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn new(upstream: SocketAddr, plan: FaultPlan) -> Self {
        let (plan, seen, counts) = (Mutex::new(plan), Mutex::default(), Mutex::default());
        Shared { upstream, plan, seen, counts, injected_under_plan: AtomicU64::new(0), stop: AtomicBool::new(false) }
    }

    /// Draws for one request and counts it. Headers are left out of the identity: they hold times and random
    /// invocation ids.
    fn decide(&self, method: &str, target: &str, body: &[u8], call: &Call) -> Decision {
        let identity = [method.as_bytes(), target.as_bytes(), body]
            .iter()
            .fold(FNV_OFFSET, |h, part| fnv(fnv(h, &(part.len() as u64).to_le_bytes()), part));
        let occurrence = {
            let mut seen = lock(&self.seen);
            let n = seen.entry(identity).or_insert(0);
            *n = n.saturating_add(1);
            *n - 1
        };
        let plan = lock(&self.plan);
        let draw = mix(mix(plan.seed ^ identity).wrapping_add(u64::from(occurrence)));
        let unit = (draw >> 11) as f64 / (1u64 << 53) as f64;
        let fault = if plan.eligible(call, body) && unit < plan.rate {
            // checked_rem keeps an empty list from dividing by zero.
            mix(draw ^ 0xA5A5_5A5A_F00D_CAFE)
                .checked_rem(plan.kinds.len() as u64)
                .and_then(|i| plan.kinds.get(i as usize))
                .copied()
        } else {
            None
        };
        // Taken only while the plan's lock is held, so concurrent requests never exceed the limit.
        let fault = fault.filter(|_| {
            let limit = plan.at_most.unwrap_or(u64::MAX);
            self.injected_under_plan
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < limit).then_some(n + 1))
                .is_ok()
        });
        let (stall, latency) = (plan.stall, plan.latency);
        drop(plan);
        let mut guard = lock(&self.counts);
        let counts = &mut *guard;
        counts.requests += 1;
        let op = counts.by_operation.entry(call.operation.clone()).or_default();
        op.0 += 1;
        if let Some(f) = fault {
            op.1 += 1;
            *counts.injected.entry(f).or_default() += 1;
        }
        Decision { fault, stall, latency, draw }
    }

    /// Serves one keep-alive client connection until it closes, misbehaves or a fault ends it.
    fn serve(&self, stream: TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        let mut out = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        loop {
            reader.get_ref().set_read_timeout(Some(IDLE_TIMEOUT))?;
            if reader.fill_buf()?.is_empty() {
                return Ok(()); // the client closed between requests
            }
            reader.get_ref().set_read_timeout(Some(IO_TIMEOUT))?;
            let head = read_head(&mut reader)?.ok_or_else(eof)?;
            let mut parts = head.start.split_whitespace();
            let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad("malformed request line"));
            };
            if header(&head.headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
                out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            }
            let body = read_body(&mut reader, &head.headers, false)?;
            let call = classify(method, target, &head.headers, body.data());
            let Decision { fault, stall, latency, draw } = self.decide(method, target, body.data(), &call);
            thread::sleep(latency / 2);
            // HTTP/1.0 closes unless asked to keep alive; HTTP/1.1 keeps alive unless asked to close.
            let close = header(&head.headers, "connection")
                .map_or(version == "HTTP/1.0", |v| v.to_ascii_lowercase().contains("close"));
            let conn = if close { "close" } else { "keep-alive" };
            let is_head = method == "HEAD";
            match fault {
                Some(f @ (Fault::Throttle | Fault::ServerError)) => {
                    let id = format!("FAULTPROXY{draw:016X}");
                    out.write_all(&error_response(f, &call, &head.headers, is_head, conn, &id))?;
                }
                Some(Fault::Drop) => return out.shutdown(Shutdown::Both),
                Some(Fault::Hold) => {
                    // Whatever the client still sends is read and dropped until it closes (or is killed).
                    reader.get_ref().set_read_timeout(Some(IDLE_TIMEOUT))?;
                    return io::copy(&mut reader, &mut io::sink()).map(drop);
                }
                Some(Fault::LostResponse) => {
                    let _ = self.forward(&head, &body, is_head, conn);
                    return out.shutdown(Shutdown::Both);
                }
                Some(Fault::Stall) | None => {
                    if fault == Some(Fault::Stall) {
                        thread::sleep(stall);
                    }
                    let response = self.forward(&head, &body, is_head, conn).unwrap_or_else(|e| {
                        let msg = format!("fault proxy: upstream failed: {e}");
                        respond(502, &[("Content-Type", "text/plain"), ("Connection", conn)], &msg, is_head)
                    });
                    thread::sleep(latency - latency / 2);
                    out.write_all(&response)?;
                }
            }
            if close {
                return out.shutdown(Shutdown::Both);
            }
        }
    }

    /// Sends one request upstream on a fresh connection and returns the response as the client should get it.
    fn forward(&self, head: &Head, body: &Body, is_head: bool, conn: &str) -> io::Result<Vec<u8>> {
        let mut up = TcpStream::connect_timeout(&self.upstream, Duration::from_secs(10))?;
        up.set_read_timeout(Some(IO_TIMEOUT))?;
        up.set_write_timeout(Some(IO_TIMEOUT))?;
        // Expect is dropped because the client already got its 100 from us.
        let hop = ["connection", "keep-alive", "proxy-connection", "expect"];
        let mut request = rebuild(head, &hop, &["Connection: close".to_string()]);
        request.extend_from_slice(&body.raw);
        up.write_all(&request)?;
        lock(&self.counts).forwarded += 1;
        // No 1xx comes back: Expect was not forwarded. Reading by framing (to EOF only when unframed) means an
        // upstream that keeps the connection open anyway cannot hang us.
        let mut reader = BufReader::new(up);
        let response = read_head(&mut reader)?.ok_or_else(eof)?;
        let status = status_of(&response)?;
        let bodyless = is_head || (100..200).contains(&status) || status == 204 || status == 304;
        let raw = if bodyless { Vec::new() } else { read_body(&mut reader, &response.headers, true)?.raw };
        let framed = is_chunked(&response.headers) || header(&response.headers, "content-length").is_some();
        let mut extra = vec![format!("Connection: {conn}")];
        if !bodyless && !framed {
            extra.push(format!("Content-Length: {}", raw.len()));
        }
        let mut out = rebuild(&response, &["connection", "keep-alive"], &extra);
        // The proxy is the HTTP/1.1 hop the client talks to (RFC 9110 section 7.6.3); passing on an HTTP/1.0
        // status line makes some clients downgrade their next request and lose keep-alive.
        if out.starts_with(b"HTTP/1.0 ") {
            out.splice(..8, *b"HTTP/1.1");
        }
        out.extend_from_slice(&raw);
        Ok(out)
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(h: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// The splitmix64 finaliser: spreads FNV's weak low bits over the whole word.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| v.to_string())
    })
}

fn is_form(headers: &[(String, String)]) -> bool {
    header(headers, "content-type").is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// Names the call from the SigV4 scope, `X-Amz-Target`, a query-protocol `Action`, or S3's REST shape.
pub fn classify(method: &str, target: &str, headers: &[(String, String)], body: &[u8]) -> Call {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let scope = |credential: &str| credential.split('/').nth(3).filter(|s| !s.is_empty()).map(str::to_string);
    let service = header(headers, "authorization")
        .and_then(|a| a.split_once("Credential=").and_then(|(_, c)| c.split([',', ' ']).next()).and_then(scope))
        .or_else(|| query_param(query, "X-Amz-Credential").and_then(|c| scope(&c.replace("%2F", "/"))))
        .unwrap_or_else(|| "unknown".to_string());
    let form_action =
        || is_form(headers).then(|| std::str::from_utf8(body).ok().and_then(|b| query_param(b, "Action"))).flatten();
    let operation = if let Some(t) = header(headers, "x-amz-target") {
        t.rsplit('.').next().unwrap_or(t).to_string()
    } else if let Some(action) = form_action().or_else(|| query_param(query, "Action")) {
        action
    } else if service == "s3" {
        s3_operation(method, path, query)
    } else {
        "unknown".to_string()
    };
    Call { service, operation }
}

/// Sub-resources that name an S3 operation variant, e.g. `PUT /bucket?tagging` is PutBucketTagging.
const S3_SUBRESOURCES: &str = "acl tagging policy versioning lifecycle encryption cors website location logging \
    notification replication retention legal-hold object-lock ownershipControls publicAccessBlock accelerate \
    attributes";

fn camel(word: &str) -> String {
    word.split('-').flat_map(|w| w.chars().take(1).flat_map(char::to_uppercase).chain(w.chars().skip(1))).collect()
}

/// Rough operation names for path-style S3 requests (`/bucket/key?query`).
fn s3_operation(method: &str, path: &str, query: &str) -> String {
    // The S3 model puts `x-id=<Operation>` in the URI of most object operations (GetObject, UploadPart, ...).
    if let Some(id) = query_param(query, "x-id") {
        return id;
    }
    let path = path.trim_start_matches('/');
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let keys: Vec<&str> = query.split('&').map(|kv| kv.split('=').next().unwrap_or("")).collect();
    let has = |k: &str| keys.contains(&k);
    let sub = keys.iter().find(|k| S3_SUBRESOURCES.split_whitespace().any(|r| r == **k)).map(|k| camel(k));
    let object = !key.is_empty();
    let noun = if object { "Object" } else { "Bucket" };
    let name = match (method, object) {
        ("GET", _) if bucket.is_empty() => "ListBuckets",
        ("HEAD", _) => return format!("Head{noun}"),
        ("GET", false) if has("versions") => "ListObjectVersions",
        ("GET", false) if has("list-type") => "ListObjectsV2",
        ("POST", false) if has("delete") => "DeleteObjects",
        ("POST", true) if has("uploads") => "CreateMultipartUpload",
        ("GET" | "PUT" | "DELETE", _) if sub.is_some() => {
            return format!("{}{noun}{}", camel(&method.to_ascii_lowercase()), sub.unwrap_or_default());
        }
        ("GET", false) => "ListObjects",
        ("PUT", false) => "CreateBucket",
        ("GET" | "PUT" | "DELETE", _) => return format!("{}{noun}", camel(&method.to_ascii_lowercase())),
        _ => "unknown",
    };
    name.to_string()
}

// Error bodies as each protocol's SDK parser expects them; the {placeholders} are filled in per response.
const S3_ERROR: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{msg}</Message>\
    <RequestId>{id}</RequestId><HostId>{id}</HostId></Error>";
const EC2_ERROR: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code>\
    <Message>{msg}</Message></Error></Errors><RequestID>{id}</RequestID></Response>";
const QUERY_ERROR: &str = "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code>\
    <Message>{msg}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>";
const JSON_ERROR: &str = r#"{"__type":"{code}","message":"{msg}"}"#;

/// A throttling or internal error shaped like the service's protocol, so the SDK classifies and retries it.
fn error_response(f: Fault, call: &Call, hs: &[(String, String)], head: bool, conn: &str, id: &str) -> Vec<u8> {
    let t = f == Fault::Throttle;
    // awsJson (X-Amz-Target) wins: SQS and others speak it now whatever their older protocol was. Anything else
    // unrecognised is treated as restJson, whose parser reads x-amzn-ErrorType first just like awsJson's.
    let json = header(hs, "x-amz-target").is_some();
    let proto = match call.service.as_str() {
        "s3" | "ec2" if !json => call.service.as_str(),
        _ if !json && is_form(hs) => "query",
        _ => "json",
    };
    let (status, code, msg) = match (proto, t) {
        ("s3", true) => (503, "SlowDown", "Please reduce your request rate."),
        ("s3", false) => (500, "InternalError", "We encountered an internal error. Please try again."),
        ("ec2", true) => (503, "RequestLimitExceeded", "Request limit exceeded."),
        ("ec2", false) => (500, "InternalError", "An internal error has occurred."),
        ("query", true) => (400, "Throttling", "Rate exceeded"),
        (_, true) if call.service == "tagging" => (400, "ThrottledException", "Rate exceeded"),
        (_, true) => (400, "ThrottlingException", "Rate exceeded"),
        (_, false) => (500, "InternalFailure", "Internal failure"),
    };
    let (content_type, template) = match proto {
        "s3" => ("application/xml", S3_ERROR),
        "ec2" => ("text/xml", EC2_ERROR),
        "query" => ("text/xml", QUERY_ERROR),
        _ => (if json { "application/x-amz-json-1.1" } else { "application/json" }, JSON_ERROR),
    };
    let kind = if t { "Sender" } else { "Receiver" };
    let body = template.replace("{code}", code).replace("{msg}", msg).replace("{id}", id).replace("{kind}", kind);
    let mut out = vec![("Content-Type", content_type), ("x-amzn-RequestId", id), ("x-amz-request-id", id)];
    if proto == "json" {
        out.push(("x-amzn-ErrorType", code));
    }
    out.push(("Connection", conn));
    respond(status, &out, &body, head)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Read;

    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Instant;

    /// A std-only stand-in for moto: one `Connection: close` answer per connection; returns its URL and a
    /// count of the requests it saw.
    fn upstream() -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let (url, counter) = (format!("http://{}", listener.local_addr().unwrap()), Arc::clone(&hits));
        thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut r = BufReader::new(stream.try_clone().unwrap());
                let head = read_head(&mut r).unwrap().unwrap();
                let body = read_body(&mut r, &head.headers, false).unwrap();
                counter.fetch_add(1, Ordering::SeqCst);
                let target = head.start.split(' ').nth(1).unwrap().to_string();
                let response = if head.start.starts_with("HEAD") {
                    b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\nConnection: close\r\n\r\n".to_vec()
                } else if target == "/upstream-chunked" {
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".to_vec()
                } else {
                    // Unframed, so the proxy has to add Content-Length for its keep-alive client.
                    let seen = |n| header(&head.headers, n).unwrap_or("-").to_string();
                    let echo = format!("{target} conn={} expect={}\n", seen("connection"), seen("expect"));
                    [format!("HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n{echo}").as_bytes(), body.data()].concat()
                };
                stream.write_all(&response).unwrap();
            }
        });
        (url, hits)
    }

    fn hits(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }

    #[derive(Debug)]
    struct Resp {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Resp {
        fn header(&self, name: &str) -> Option<&str> {
            header(&self.headers, name)
        }
    }

    /// A keep-alive client: many requests over one connection, framed by the proxy's Content-Length.
    struct Client {
        r: BufReader<TcpStream>,
        w: TcpStream,
    }

    impl Client {
        fn new(proxy: &FaultProxy) -> Client {
            let w = TcpStream::connect(proxy.addr()).unwrap();
            w.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            Client { r: BufReader::new(w.try_clone().unwrap()), w }
        }

        fn read(&mut self, head_request: bool) -> io::Result<Option<Resp>> {
            let Some(h) = read_head(&mut self.r)? else { return Ok(None) };
            let body =
                if head_request { Vec::new() } else { read_body(&mut self.r, &h.headers, false)?.data().to_vec() };
            Ok(Some(Resp { status: status_of(&h)?, headers: h.headers, body: String::from_utf8(body).unwrap() }))
        }

        fn call(&mut self, raw: &[u8]) -> Resp {
            self.w.write_all(raw).unwrap();
            self.read(raw.starts_with(b"HEAD")).unwrap().unwrap()
        }

        /// Sends a request and expects the connection to end without any answer.
        fn no_answer(&mut self, raw: &[u8]) {
            self.w.write_all(raw).unwrap();
            assert!(!matches!(self.read(false), Ok(Some(_))));
        }
    }

    fn req(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
        let mut s = format!("{method} {target} HTTP/1.1\r\nHost: moto\r\nContent-Length: {}\r\n", body.len());
        for (k, v) in headers {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
        format!("{s}\r\n{body}").into_bytes()
    }

    fn auth(service: &str) -> String {
        format!("AWS4-HMAC-SHA256 Credential=AKID/20261202/eu-west-1/{service}/aws4_request, Signature=0")
    }

    fn throttle_all() -> FaultPlan {
        FaultPlan::every_kind(1.0, 1).kinds(&[Fault::Throttle])
    }

    const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");

    #[test]
    fn forwards_bodies_and_keeps_alive() {
        let (url, seen) = upstream();
        let proxy = FaultProxy::start(&url, FaultPlan::none()).unwrap();
        let mut c = Client::new(&proxy);
        let r = c.call(&req("POST", "/echo?a=1", &[("Connection", "keep-alive")], "hello"));
        assert_eq!((r.status, r.body.as_str()), (200, "/echo?a=1 conn=close expect=-\nhello"));
        assert_eq!(r.header("content-length"), Some(r.body.len().to_string().as_str()));
        assert_eq!(r.header("connection"), Some("keep-alive"));
        let chunked = "PUT /b/k HTTP/1.1\r\nHost: moto\r\nTransfer-Encoding: chunked\r\n\r\n\
                       5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: t\r\n\r\n";
        assert!(c.call(chunked.as_bytes()).body.ends_with("\nhello world"));
        let r = c.call(&req("GET", "/upstream-chunked", &[], ""));
        assert_eq!(
            (r.body.as_str(), r.header("transfer-encoding"), r.header("content-length")),
            ("abc", Some("chunked"), None)
        );
        let r = c.call(&req("HEAD", "/b/k", &[], ""));
        assert_eq!((r.status, r.header("content-length"), r.body.as_str()), (200, Some("42"), ""));
        // A stray HEAD body would show up here as a garbled response.
        assert!(c.call(&req("GET", "/last", &[], "")).body.starts_with("/last conn=close"));
        c.w.write_all(b"PUT /b/k HTTP/1.1\r\nHost: moto\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n").unwrap();
        let mut interim = [0u8; 25];
        c.r.read_exact(&mut interim).unwrap();
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        assert_eq!(c.call(b"data").body, "/b/k conn=close expect=-\ndata");
        assert_eq!((hits(&seen), proxy.counts().requests, proxy.counts().forwarded), (6, 6, 6));
    }

    #[test]
    fn throttles_and_fails_in_each_protocol() {
        let (url, seen) = upstream();
        let proxy = FaultProxy::start(&url, throttle_all()).unwrap();
        let mut c = Client::new(&proxy);
        let (sm, s3, iam, ec2, tagging) = (auth("sagemaker"), auth("s3"), auth("iam"), auth("ec2"), auth("tagging"));
        let stop =
            req("POST", "/", &[("X-Amz-Target", "SageMaker.StopNotebookInstance"), ("Authorization", &sm)], "{}");
        let r = c.call(&stop);
        assert_eq!((r.status, r.header("x-amzn-ErrorType")), (400, Some("ThrottlingException")));
        assert!(r.body.contains(r#""__type":"ThrottlingException""#) && r.header("x-amzn-RequestId").is_some());
        let r = c.call(&req("GET", "/b/k", &[("Authorization", &s3)], ""));
        assert!(r.status == 503 && r.body.contains("<Code>SlowDown</Code>"), "{r:?}");
        let r = c.call(&req("HEAD", "/b/k", &[("Authorization", &s3)], ""));
        assert_eq!((r.status, r.body.as_str()), (503, ""));
        let create_role = req("POST", "/", &[FORM, ("Authorization", &iam)], "Action=CreateRole&RoleName=r");
        let r = c.call(&create_role);
        assert!(r.status == 400 && r.body.contains("<Type>Sender</Type><Code>Throttling</Code>"), "{r:?}");
        let r = c.call(&req("POST", "/", &[FORM, ("Authorization", &ec2)], "Action=DescribeInstances"));
        assert!(r.status == 503 && r.body.contains("<Code>RequestLimitExceeded</Code>"), "{r:?}");
        let target = ("X-Amz-Target", "ResourceGroupsTaggingAPI_20170126.GetResources");
        let r = c.call(&req("POST", "/", &[target, ("Authorization", &tagging)], "{}"));
        assert!(r.status == 400 && r.body.contains("ThrottledException"), "{r:?}");
        assert_eq!((hits(&seen), proxy.counts().injected.get(&Fault::Throttle)), (0, Some(&6)));
        proxy.set_plan(FaultPlan::every_kind(1.0, 1).kinds(&[Fault::ServerError]));
        let r = c.call(&stop);
        assert_eq!((r.status, r.header("x-amzn-ErrorType")), (500, Some("InternalFailure")));
        assert!(c.call(&req("GET", "/b/k", &[("Authorization", &s3)], "")).body.contains("<Code>InternalError</Code>"));
        assert!(c.call(&create_role).body.contains("<Type>Receiver</Type><Code>InternalFailure</Code>"));
        assert_eq!((hits(&seen), proxy.counts().forwarded), (0, 0));
    }

    #[test]
    fn drop_lost_response_and_stall() {
        let (url, seen) = upstream();
        let proxy = FaultProxy::start(&url, FaultPlan::every_kind(1.0, 1).kinds(&[Fault::Drop])).unwrap();
        Client::new(&proxy).no_answer(&req("POST", "/drop", &[], "x"));
        assert_eq!(hits(&seen), 0);
        proxy.set_plan(FaultPlan::every_kind(1.0, 1).kinds(&[Fault::LostResponse]));
        Client::new(&proxy).no_answer(&req("POST", "/lost", &[], "x"));
        assert_eq!(hits(&seen), 1, "a lost response is still done upstream");
        proxy.set_plan(FaultPlan::every_kind(1.0, 1).kinds(&[Fault::Stall]).stall(Duration::from_millis(200)));
        let started = Instant::now();
        assert_eq!(Client::new(&proxy).call(&req("GET", "/slow", &[], "")).status, 200);
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(hits(&seen), 2);
        assert_eq!(proxy.counts().to_string(), "3 requests, 3 faults (stall 1, drop 1, lost-response 1)");
    }

    #[test]
    fn hold_never_forwards_nor_answers_until_the_client_goes_away() {
        let (url, seen) = upstream();
        let proxy = FaultProxy::start(&url, FaultPlan::every_kind(1.0, 1).kinds(&[Fault::Hold])).unwrap();
        let mut client = Client::new(&proxy);
        client.w.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        client.w.write_all(&req("POST", "/held", &[], "x")).unwrap();
        let read = client.read(false);
        assert!(
            matches!(&read, Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)),
            "held: {read:?}"
        );
        drop(client);
        assert_eq!(hits(&seen), 0, "a held call is never done upstream");
        assert_eq!(proxy.counts().to_string(), "1 requests, 1 faults (hold 1)");
    }

    #[test]
    fn upstream_down_gives_502_and_bad_input_closes() {
        let dead = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let proxy = FaultProxy::start(&format!("http://{dead}"), FaultPlan::none()).unwrap();
        let mut c = Client::new(&proxy);
        assert_eq!(c.call(&req("GET", "/a", &[], "")).status, 502);
        assert_eq!(c.call(&req("GET", "/b", &[], "")).status, 502);
        Client::new(&proxy).no_answer(b"nonsense\r\n\r\n");
        Client::new(&proxy).no_answer(b"GET / HTTP/1.1\r\nContent-Length: zz\r\n\r\n");
    }

    #[test]
    fn same_seed_same_faults_whatever_the_order_or_concurrency() {
        let (url, _) = upstream();
        // Repeats included: the n-th sighting of a request draws the same way in every run.
        let targets: Vec<String> = (0..160).map(|i| format!("/det/{}", i % 100)).collect();
        // Sends each batch on its own keep-alive connection, all at once; counts throttled calls per target.
        let run = |batches: Vec<Vec<String>>| {
            let proxy = FaultProxy::start(&url, FaultPlan::every_kind(0.5, 42).kinds(&[Fault::Throttle])).unwrap();
            let faulted = Mutex::new(BTreeMap::new());
            thread::scope(|scope| {
                for batch in batches {
                    let (proxy, faulted) = (&proxy, &faulted);
                    scope.spawn(move || {
                        let mut c = Client::new(proxy);
                        for t in batch {
                            if c.call(&req("GET", &t, &[], "")).status == 400 {
                                *lock(faulted).entry(t).or_insert(0) += 1;
                            }
                        }
                    });
                }
            });
            assert_eq!(proxy.counts().requests, 160);
            faulted.into_inner().unwrap()
        };
        let sequential = run(vec![targets.clone()]);
        assert_eq!(sequential, run(vec![targets.iter().rev().cloned().collect()]));
        assert_eq!(sequential, run(targets.chunks(5).map(<[String]>::to_vec).collect()), "32 connections at once");
        assert!(!sequential.is_empty() && sequential.len() < 100, "{sequential:?}");
    }

    #[test]
    fn rate_and_kinds_are_honoured() {
        let shared = Shared::new(SocketAddr::from(([127, 0, 0, 1], 9)), FaultPlan::every_kind(0.2, 7));
        let call = Call { service: "s3".into(), operation: "GetObject".into() };
        let kinds: Vec<Option<Fault>> =
            (0..2000).map(|i| shared.decide("GET", &format!("/b/{i}"), b"", &call).fault).collect();
        let share = kinds.iter().flatten().count() as f64 / 2000.0;
        assert!((0.15..0.25).contains(&share), "{share}");
        assert!(Fault::ALL.iter().all(|k| kinds.contains(&Some(*k))));
        // The same request retried gets independent draws, not the same answer every time.
        let retried = (0..2000).filter(|_| shared.decide("GET", "/b/same", b"", &call).fault.is_some()).count();
        assert!((300..500).contains(&retried), "{retried}");
        *lock(&shared.plan) = FaultPlan::every_kind(1.0, 7).only_services(&["iam"]);
        assert_eq!(shared.decide("GET", "/b/x", b"", &call).fault, None);
    }

    #[test]
    fn a_body_filter_and_a_limit_aim_faults() {
        let plan = FaultPlan::every_kind(1.0, 7).body_contains("PaginationToken").at_most(2);
        let shared = Shared::new(SocketAddr::from(([127, 0, 0, 1], 9)), plan);
        let call = Call { service: "tagging".into(), operation: "GetResources".into() };
        let decide = |body: &str| shared.decide("POST", "/", body.as_bytes(), &call).fault.is_some();
        assert!(!decide(r#"{"ResourcesPerPage":100}"#), "no token, not eligible");
        let hits: Vec<bool> = (0..4).map(|i| decide(&format!(r#"{{"PaginationToken":"t{i}"}}"#))).collect();
        assert_eq!(hits, [true, true, false, false], "at most two");
    }

    #[test]
    fn latency_is_added_to_every_call_and_calls_overlap() {
        let (url, seen) = upstream();
        let proxy = FaultProxy::start(&url, FaultPlan::latency(Duration::from_millis(300))).unwrap();
        let started = std::time::Instant::now();
        let took: Vec<Duration> = thread::scope(|scope| {
            let calls: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        let at = std::time::Instant::now();
                        assert_eq!(Client::new(&proxy).call(&req("GET", "/b/k", &[], "")).status, 200);
                        at.elapsed()
                    })
                })
                .collect();
            calls.into_iter().map(|call| call.join().unwrap()).collect()
        });
        let wall = started.elapsed();
        assert!(took.iter().all(|t| *t >= Duration::from_millis(300)), "{took:?}");
        assert!(wall < Duration::from_millis(1100), "four calls of 300 ms one after another: {wall:?}");
        assert_eq!(hits(&seen), 4);
    }

    #[test]
    fn operation_filter_only_hits_named_operations() {
        let (url, seen) = upstream();
        let proxy = FaultProxy::start(&url, throttle_all().only_operations(&["StopNotebookInstance"])).unwrap();
        let mut c = Client::new(&proxy);
        for (op, status) in [("StopNotebookInstance", 400), ("DescribeNotebookInstance", 200)] {
            let target = format!("SageMaker.{op}");
            assert_eq!(c.call(&req("POST", "/", &[("X-Amz-Target", &target)], "{}")).status, status);
        }
        let by_op = proxy.counts().by_operation;
        assert_eq!((by_op["StopNotebookInstance"], by_op["DescribeNotebookInstance"]), ((1, 1), (1, 0)));
        assert_eq!(hits(&seen), 1);
        proxy.reset_counts();
        assert_eq!(proxy.counts(), FaultCounts::default());
    }

    #[test]
    fn names_calls() {
        let name = |method, target, headers: &[(&str, &str)], body: &str| {
            let headers: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            let call = classify(method, target, &headers, body.as_bytes());
            (call.service, call.operation)
        };
        let stop = [("X-Amz-Target", "SageMaker.StopNotebookInstance"), ("Authorization", &auth("sagemaker"))];
        assert_eq!(name("POST", "/", &stop, "{}"), ("sagemaker".into(), "StopNotebookInstance".into()));
        let iam = [FORM, ("Authorization", &auth("iam"))];
        assert_eq!(
            name("POST", "/", &iam, "Version=2010-05-08&Action=CreateRole"),
            ("iam".into(), "CreateRole".into())
        );
        assert_eq!(name("GET", "/b/k", &[], ""), ("unknown".into(), "unknown".into()));
        let s3 = [
            ("GET", "/b?versions&prefix=p", "ListObjectVersions"),
            ("GET", "/b?list-type=2&prefix=p", "ListObjectsV2"),
            ("GET", "/b", "ListObjects"),
            ("GET", "/b/k/x.txt", "GetObject"),
            ("GET", "/b/k?x-id=GetObject", "GetObject"),
            ("GET", "/b/k?legal-hold", "GetObjectLegalHold"),
            ("PUT", "/b/k", "PutObject"),
            ("PUT", "/b?tagging", "PutBucketTagging"),
            ("PUT", "/b?versioning", "PutBucketVersioning"),
            ("PUT", "/b", "CreateBucket"),
            ("HEAD", "/b/k", "HeadObject"),
            ("HEAD", "/b", "HeadBucket"),
            ("DELETE", "/b/k", "DeleteObject"),
            ("POST", "/b?delete", "DeleteObjects"),
            ("GET", "/", "ListBuckets"),
        ];
        for (method, target, op) in s3 {
            assert_eq!(name(method, target, &[("Authorization", &auth("s3"))], "").1, op, "{method} {target}");
        }
    }
}
