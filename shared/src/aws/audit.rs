//! [`AuditLog`] over S3. The audit bucket is versioned with object lock on (default retention set by the
//! template): a version, once written, can be neither changed nor deleted for the retention period. Records
//! are written with `If-None-Match: *`, so the functions never add a second version to a key, and read by
//! version id: the first version of a key is its record, whatever was written over it later.

use aws_sdk_s3::primitives::ByteStream;
use tracing::instrument;

use super::error::s3_codes;
use super::{classify, to_chrono};
use crate::domain::audit::AuditRecord;
use crate::domain::audit_versions::{group_versions, KeyVersions, ObjectVersion};
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
        let body = record.body();
        let written = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .content_type("application/json")
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .map_err(|e| classify("PutObject", e, s3_codes));
        let refused = match written {
            Ok(_) => return Ok(()),
            Err(error) if error.is(ErrorKind::AlreadyExists) => error,
            Err(error) => return Err(error),
        };
        // The key exists: a retry of this very write is success, anything else is never overwritten.
        let first = self.versions(key).await?.into_iter().find(|k| k.key == key).and_then(|k| k.first().cloned());
        if let Some(first) = first {
            if self.read_version(key, &first.version_id).await? == body {
                return Ok(());
            }
        }
        Err(AwsError::new(
            "PutObject",
            ErrorKind::AlreadyExists,
            refused.code.clone(),
            format!(
                "s3://{}/{key} already holds a different record (a key collision, or tampering); it is not overwritten",
                self.bucket
            ),
        )
        .with_source(refused))
    }

    #[instrument(skip(self))]
    async fn versions(&self, prefix: &str) -> AwsResult<Vec<KeyVersions>> {
        let mut listed = Vec::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(prefix)
                .max_keys(1000)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| classify("ListObjectVersions", e, s3_codes))?;
            let objects = page.versions().iter().map(|v| (v.key(), v.version_id(), v.last_modified(), false));
            let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id(), m.last_modified(), true));
            // Markers first: reversed by the grouping, they come after the versions of the same second.
            for (key, version_id, written_at, delete_marker) in markers.chain(objects) {
                let (Some(key), Some(version_id)) = (key, version_id) else { continue };
                listed.push((
                    key.to_owned(),
                    ObjectVersion {
                        version_id: version_id.to_owned(),
                        written_at: written_at.map(to_chrono).unwrap_or_default(),
                        delete_marker,
                    },
                ));
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
            if key_marker.is_none() {
                return Err(AwsError::new(
                    "ListObjectVersions",
                    ErrorKind::Other,
                    None,
                    format!("a truncated listing of {prefix} without a next key marker"),
                ));
            }
        }
        Ok(group_versions(listed))
    }

    #[instrument(skip(self))]
    async fn read_version(&self, key: &str, version_id: &str) -> AwsResult<Vec<u8>> {
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .version_id(version_id)
            .send()
            .await
            .map_err(|e| classify("GetObject", e, s3_codes))?;
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| AwsError::new("GetObject", ErrorKind::Transient, None, e.to_string()).with_source(e))?;
        Ok(body.into_bytes().to_vec())
    }
}
