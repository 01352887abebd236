//! A small client for the local Jupyter server's REST API: `GET /api/kernels`, `/api/sessions` and
//! `/api/terminals`, turned into an [`activity::Snapshot`](crate::activity::Snapshot).
//!
//! Kernels are required; sessions and terminals answering 404 count as none (a server without the
//! terminals extension). Every request has a deadline, redirects are not followed, and the TLS policy is
//! [`crate::tls`]'s: any certificate for localhost, full verification for every other host.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::{header, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use crate::activity::{ExecutionState, Kernel, Snapshot, Terminal};
use crate::error_chain;

pub const KERNELS: &str = "/api/kernels";
pub const SESSIONS: &str = "/api/sessions";
pub const TERMINALS: &str = "/api/terminals";

/// Each request's deadline, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Jupyter's answers are small; anything larger than this is not a Jupyter answer.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum JupyterError {
    #[error("jupyter unreachable: {0}")]
    Unreachable(String),
    #[error("jupyter unreachable: no answer to GET {path} within {} s", REQUEST_TIMEOUT.as_secs())]
    Timeout { path: &'static str },
    #[error("jupyter answered {status} to GET {path}{hint}")]
    Status { path: &'static str, status: StatusCode, hint: &'static str },
    #[error("jupyter's answer to GET {path} is not understood: {reason}")]
    Body { path: &'static str, reason: String },
    #[error("cannot set up TLS for jupyter")]
    Tls(#[from] rustls::Error),
}

pub struct JupyterClient {
    base_url: String,
    token: Option<String>,
    http: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl std::fmt::Debug for JupyterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JupyterClient")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl JupyterClient {
    /// `base_url` without a trailing `/` (as [`Config`](crate::config::Config) keeps it).
    pub fn new(base_url: &str, token: Option<String>) -> Result<Self, JupyterError> {
        let tls = crate::tls::client_config(crate::tls::system_roots())?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let http = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1).build(connector);
        Ok(JupyterClient { base_url: base_url.to_owned(), token, http })
    }

    /// One look at the server: kernels, sessions and terminals.
    pub async fn snapshot(&self) -> Result<Snapshot, JupyterError> {
        let kernels = parse_kernels(&self.get(KERNELS).await?.ok_or(JupyterError::Status {
            path: KERNELS,
            status: StatusCode::NOT_FOUND,
            hint: " (is NBF_JUPYTER_URL the Jupyter server's base URL?)",
        })?)
        .map_err(|reason| JupyterError::Body { path: KERNELS, reason })?;
        let sessions = match self.get(SESSIONS).await? {
            Some(body) => count_sessions(&body).map_err(|reason| JupyterError::Body { path: SESSIONS, reason })?,
            None => 0,
        };
        let terminals = match self.get(TERMINALS).await? {
            Some(body) => parse_terminals(&body).map_err(|reason| JupyterError::Body { path: TERMINALS, reason })?,
            None => Vec::new(),
        };
        Ok(Snapshot { kernels, terminals, sessions })
    }

    /// The body of a 200 answer, `None` for a 404, an error for anything else.
    async fn get(&self, path: &'static str) -> Result<Option<Bytes>, JupyterError> {
        let mut request = Request::get(format!("{}{path}", self.base_url)).header(header::ACCEPT, "application/json");
        if let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, format!("token {token}"));
        }
        let request = request.body(Empty::new()).map_err(|e| JupyterError::Unreachable(format!("bad request: {e}")))?;

        let exchange = async {
            let response = self.http.request(request).await.map_err(|e| JupyterError::Unreachable(error_chain(&e)))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| JupyterError::Body { path, reason: format!("reading the body: {e}") })?
                .to_bytes();
            Ok::<_, JupyterError>((status, body))
        };
        let (status, body) =
            tokio::time::timeout(REQUEST_TIMEOUT, exchange).await.map_err(|_| JupyterError::Timeout { path })??;
        match status {
            StatusCode::OK => Ok(Some(body)),
            StatusCode::NOT_FOUND => Ok(None),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(JupyterError::Status { path, status, hint: " (check NBF_JUPYTER_TOKEN)" })
            }
            status => Err(JupyterError::Status { path, status, hint: "" }),
        }
    }
}

#[derive(Deserialize)]
struct WireKernel {
    id: String,
    #[serde(default)]
    execution_state: Option<String>,
    #[serde(default)]
    last_activity: Option<String>,
}

#[derive(Deserialize)]
struct WireTerminal {
    name: String,
    #[serde(default)]
    last_activity: Option<String>,
}

/// Jupyter writes `2025-06-01T12:00:00.123456Z`; anything unreadable counts as absent, not as an error.
fn timestamp(value: Option<&str>) -> Option<DateTime<Utc>> {
    value.and_then(|v| DateTime::parse_from_rfc3339(v).ok()).map(|t| t.with_timezone(&Utc))
}

pub fn parse_kernels(body: &[u8]) -> Result<Vec<Kernel>, String> {
    let wire: Vec<WireKernel> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(wire
        .into_iter()
        .map(|k| Kernel {
            id: k.id,
            execution_state: ExecutionState::parse(k.execution_state.as_deref().unwrap_or("unknown")),
            last_activity: timestamp(k.last_activity.as_deref()),
        })
        .collect())
}

pub fn parse_terminals(body: &[u8]) -> Result<Vec<Terminal>, String> {
    let wire: Vec<WireTerminal> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(wire
        .into_iter()
        .map(|t| Terminal { name: t.name, last_activity: timestamp(t.last_activity.as_deref()) })
        .collect())
}

pub fn count_sessions(body: &[u8]) -> Result<usize, String> {
    let sessions: Vec<serde_json::Value> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(sessions.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn kernels_as_jupyter_server_2_reports_them() {
        let body = br#"[
            {"id": "68fb", "name": "python3", "last_activity": "2026-11-23T13:04:57.457320Z",
             "execution_state": "busy", "connections": 1},
            {"id": "bf71", "name": "stuck", "last_activity": "2026-11-23T13:04:57Z", "execution_state": "starting",
             "connections": 0},
            {"id": "c0de", "name": "old", "execution_state": "idle", "last_activity": "not a time"},
            {"id": "d00d", "name": "older"}
        ]"#;
        let kernels = parse_kernels(body).expect("parses");
        let expected_first = Utc.with_ymd_and_hms(2026, 11, 23, 13, 4, 57).single().expect("a date")
            + chrono::Duration::microseconds(457_320);
        assert_eq!(
            kernels[0],
            Kernel { id: "68fb".into(), execution_state: ExecutionState::Busy, last_activity: Some(expected_first) }
        );
        assert_eq!(kernels[1].execution_state, ExecutionState::Starting);
        assert_eq!(kernels[1].last_activity, Utc.with_ymd_and_hms(2026, 11, 23, 13, 4, 57).single());
        assert_eq!(kernels[2].execution_state, ExecutionState::Idle);
        assert_eq!(kernels[2].last_activity, None, "an unreadable time is absent");
        assert_eq!(kernels[3].execution_state, ExecutionState::Other("unknown".into()));
        assert_eq!(kernels[3].last_activity, None);
    }

    #[test]
    fn timestamps_with_offsets_are_converted_to_utc() {
        assert_eq!(
            timestamp(Some("2026-11-23T14:04:57+01:00")),
            Utc.with_ymd_and_hms(2026, 11, 23, 13, 4, 57).single()
        );
        assert_eq!(timestamp(None), None);
    }

    #[test]
    fn terminals_with_and_without_last_activity() {
        let body = br#"[{"name": "1", "last_activity": "2026-11-23T13:04:57.967478Z"}, {"name": "2"}]"#;
        let terminals = parse_terminals(body).expect("parses");
        assert_eq!(terminals.len(), 2);
        assert!(terminals[0].last_activity.is_some());
        assert_eq!(terminals[1], Terminal { name: "2".into(), last_activity: None });
    }

    #[test]
    fn sessions_are_counted() {
        assert_eq!(count_sessions(b"[]"), Ok(0));
        assert_eq!(count_sessions(br#"[{"id": "s1", "kernel": {"id": "k"}}, {"id": "s2"}]"#), Ok(2));
    }

    #[test]
    fn answers_that_are_not_lists_are_errors() {
        assert!(parse_kernels(br#"{"message": "Forbidden"}"#).is_err());
        assert!(parse_kernels(b"<html>").is_err());
        assert!(parse_terminals(br#"[{"last_activity": "x"}]"#).is_err(), "a terminal without a name");
        assert!(count_sessions(b"null").is_err());
    }

    #[test]
    fn error_chains_keep_the_cause() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("client error (Connect)")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused"));
        assert_eq!(error_chain(&e), "client error (Connect): Connection refused");
    }
}
