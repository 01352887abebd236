//! [`AssetStore`] over S3.

use aws_sdk_s3::primitives::ByteStream;
use tracing::instrument;

use super::error::s3_codes;
use super::{classify, not_found_as_none};
use crate::domain::assets::Asset;
use crate::ports::{AssetStore, AwsResult};

#[derive(Debug, Clone)]
pub struct S3Assets {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Assets {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3Assets { client, bucket: bucket.into() }
    }
}

impl AssetStore for S3Assets {
    #[instrument(skip(self))]
    async fn exists(&self, key: &str) -> AwsResult<bool> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| classify("HeadObject", e, s3_codes));
        Ok(not_found_as_none(head)?.is_some())
    }

    #[instrument(skip(self, asset), fields(key = %asset.key, bytes = asset.bytes.len()))]
    async fn put(&self, asset: &Asset) -> AwsResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&asset.key)
            .content_type(asset.content_type)
            .body(ByteStream::from(asset.bytes.clone()))
            .send()
            .await
            .map_err(|e| classify("PutObject", e, |_, _| None))?;
        Ok(())
    }
}
