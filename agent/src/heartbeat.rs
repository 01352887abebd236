//! The heartbeat: one small JSON object at `heartbeats/<notebook-name>` in the assets bucket, overwritten
//! on every check that saw activity. The idle sweeper reads only its `LastModified`; the body is for people.
//!
//! Written with the notebook's own credentials (the AWS SDK's default chain: IMDSv2 on a notebook
//! instance), which may put exactly this key and nothing else.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::activity::ActivityKind;

pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");
pub const CONTENT_TYPE: &str = "application/json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heartbeat {
    pub notebook: String,
    #[serde(serialize_with = "rfc3339")]
    pub last_activity: DateTime<Utc>,
    pub kind: &'static str,
    pub agent_version: &'static str,
    #[serde(serialize_with = "rfc3339")]
    pub checked_at: DateTime<Utc>,
}

fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

impl Heartbeat {
    pub fn new(notebook: &str, kind: ActivityKind, last_activity: DateTime<Utc>, checked_at: DateTime<Utc>) -> Self {
        Heartbeat {
            notebook: notebook.to_owned(),
            last_activity,
            kind: kind.as_str(),
            agent_version: AGENT_VERSION,
            checked_at,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a heartbeat always serialises")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write s3://{bucket}/{key}: {reason}")]
pub struct HeartbeatError {
    pub bucket: String,
    pub key: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct HeartbeatWriter {
    s3: aws_sdk_s3::Client,
    bucket: String,
    key: String,
}

impl HeartbeatWriter {
    /// `path_style` for an emulator at `AWS_ENDPOINT_URL` (moto needs it); virtual-hosted style on AWS.
    pub fn new(sdk: &aws_config::SdkConfig, path_style: bool, bucket: &str, key: &str) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(sdk).force_path_style(path_style).build();
        HeartbeatWriter { s3: aws_sdk_s3::Client::from_conf(s3), bucket: bucket.to_owned(), key: key.to_owned() }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub async fn write(&self, heartbeat: &Heartbeat) -> Result<(), HeartbeatError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .content_type(CONTENT_TYPE)
            .body(ByteStream::from(heartbeat.to_json()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| HeartbeatError { bucket: self.bucket.clone(), key: self.key.clone(), reason: describe(&e) })
    }
}

/// A service error by its code and message (`NoSuchBucket: The specified bucket does not exist`), anything
/// else (no network, no credentials, a timeout) by its chain of causes.
fn describe<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (e, e.code()) {
        (SdkError::ServiceError(_), Some(code)) => format!("{code}: {}", e.message().unwrap_or("(no message)")),
        _ => crate::error_chain(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_body_is_the_documented_json() {
        let last = Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).single().expect("a date");
        let checked = last + chrono::Duration::milliseconds(61_250);
        let body = Heartbeat::new("alice-nb-1", ActivityKind::TerminalActivity, last, checked).to_json();
        let value: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(
            value,
            serde_json::json!({
                "notebook": "alice-nb-1",
                "last_activity": "2025-06-01T12:00:00.000Z",
                "kind": "terminal-activity",
                "agent_version": env!("CARGO_PKG_VERSION"),
                "checked_at": "2025-06-01T12:01:01.250Z",
            })
        );
        assert!(body.len() < 256, "a heartbeat stays small");
    }
}
