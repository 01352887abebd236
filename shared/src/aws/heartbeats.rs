//! [`HeartbeatStore`] over S3: one ListObjectsV2 page per 1,000 heartbeats, never a call per notebook.

use aws_sdk_s3::primitives::ByteStream;
use tracing::instrument;

use super::{classify, to_chrono};
use crate::domain::heartbeat::{warning_key, HeartbeatIndex};
use crate::domain::policy::HEARTBEATS_PREFIX;
use crate::ports::{AwsResult, HeartbeatStore};

#[derive(Debug, Clone)]
pub struct S3Heartbeats {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Heartbeats {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3Heartbeats { client, bucket: bucket.into() }
    }
}

impl HeartbeatStore for S3Heartbeats {
    #[instrument(skip(self))]
    async fn heartbeats(&self) -> AwsResult<HeartbeatIndex> {
        let mut index = HeartbeatIndex::default();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(HEARTBEATS_PREFIX)
            .max_keys(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListObjectsV2", e, |_, _| None))?;
            for object in page.contents.unwrap_or_default() {
                if let (Some(key), Some(modified)) = (object.key, object.last_modified) {
                    index.record(&key, to_chrono(&modified));
                }
            }
        }
        Ok(index)
    }

    #[instrument(skip(self, body))]
    async fn record_warning(&self, notebook_name: &str, body: &serde_json::Value) -> AwsResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(warning_key(notebook_name))
            .content_type("application/json")
            .body(ByteStream::from(body.to_string().into_bytes()))
            .send()
            .await
            .map_err(|e| classify("PutObject", e, |_, _| None))?;
        Ok(())
    }
}
