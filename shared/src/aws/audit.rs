//! [`AuditLog`] over S3: the audit bucket has object lock on (default retention set by the template), so a
//! record, once written, can be neither overwritten nor deleted for the retention period.

use aws_sdk_s3::primitives::ByteStream;
use tracing::instrument;

use super::error::s3_codes;
use super::{classify, not_found_as_none};
use crate::domain::audit::AuditRecord;
use crate::error::{AwsError, ErrorKind};
use crate::ports::{AuditLog, AwsResult};

#[derive(Debug, Clone)]
pub struct S3AuditLog {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3AuditLog {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3AuditLog { client, bucket: bucket.into() }
    }
}

impl AuditLog for S3AuditLog {
    #[instrument(skip(self, record))]
    async fn write(&self, key: &str, record: &AuditRecord) -> AwsResult<()> {
        let body = serde_json::to_vec(record)
            .map_err(|e| AwsError::new("PutObject", ErrorKind::Invalid, None, e.to_string()))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| classify("PutObject", e, s3_codes))?;
        Ok(())
    }

    #[instrument(skip(self))]
    async fn list(&self, prefix: &str) -> AwsResult<Vec<String>> {
        let mut keys = Vec::new();
        let mut pages =
            self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).max_keys(1000).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListObjectsV2", e, s3_codes))?;
            keys.extend(page.contents.unwrap_or_default().into_iter().filter_map(|object| object.key));
        }
        keys.sort();
        Ok(keys)
    }

    #[instrument(skip(self))]
    async fn read(&self, key: &str) -> AwsResult<Option<AuditRecord>> {
        let output = self.client.get_object().bucket(&self.bucket).key(key).send().await;
        let Some(output) = not_found_as_none(output.map_err(|e| classify("GetObject", e, s3_codes)))? else {
            return Ok(None);
        };
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| AwsError::new("GetObject", ErrorKind::Transient, None, e.to_string()))?
            .into_bytes();
        serde_json::from_slice(&body).map(Some).map_err(|e| {
            AwsError::new("GetObject", ErrorKind::Invalid, None, format!("{key} is not an audit record: {e}"))
        })
    }
}
