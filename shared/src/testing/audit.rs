//! [`AuditLog`] in memory: the audit bucket, a key written once.

use super::FakeAws;
use crate::domain::audit::AuditRecord;
use crate::domain::audit_versions::{KeyVersions, ObjectVersion};
use crate::error::{AwsError, ErrorKind};
use crate::ports::{AuditLog, AwsResult};

impl AuditLog for FakeAws {
    /// As S3 with `If-None-Match: *`: a key is written once; the same record again is success.
    async fn write(&self, key: &str, record: &AuditRecord) -> AwsResult<()> {
        self.call("PutAuditRecord")?;
        let mut state = self.state();
        match state.audit.get(key) {
            Some(existing) if existing != record => Err(AwsError::new(
                "PutAuditRecord",
                ErrorKind::AlreadyExists,
                None,
                format!("{key} holds another record"),
            )),
            Some(_) => Ok(()),
            None => {
                state.audit.insert(key.to_owned(), record.clone());
                Ok(())
            }
        }
    }

    /// One version per key: the fake never rewrites.
    async fn versions(&self, prefix: &str) -> AwsResult<Vec<KeyVersions>> {
        self.call("ListAuditVersions")?;
        let state = self.state();
        Ok(state
            .audit
            .iter()
            .filter(|(k, _)| k.starts_with(prefix) && !state.unlisted.contains(*k))
            .map(|(key, record)| KeyVersions {
                key: key.clone(),
                versions: vec![ObjectVersion {
                    version_id: "v1".into(),
                    written_at: record.recorded_at,
                    delete_marker: false,
                }],
            })
            .collect())
    }

    async fn read_version(&self, key: &str, _version_id: &str) -> AwsResult<Vec<u8>> {
        self.call("GetAuditRecord")?;
        self.state()
            .audit
            .get(key)
            .map(AuditRecord::body)
            .ok_or_else(|| AwsError::new("GetAuditRecord", ErrorKind::NotFound, None, format!("no {key}")))
    }
}
