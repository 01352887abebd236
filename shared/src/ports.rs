//! The narrow ports the services call, returning the project's own types. Implemented once over the AWS
//! SDK in [`crate::aws`]; unit tests implement them in memory.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use crate::domain::audit::{action_of_key, deactivation_marker_key, slug, AuditRecord};
use crate::domain::heartbeat::HeartbeatIndex;
use crate::domain::isolation::{Route, SecurityGroupEgress};
use crate::domain::lifecycle::LifecycleConfig;
use crate::domain::notebook::{ListedNotebook, NotebookRecord, NotebookSpec, RoleRecord, RoleSpec};
use crate::domain::outcome::OutcomeEvent;
use crate::domain::policy::PolicyDocument;
use crate::error::AwsError;

pub type AwsResult<T> = Result<T, AwsError>;

/// Reads the network a notebook is placed in.
pub trait Network: Send + Sync {
    /// The routes of the route table that governs the subnet (its own association, or the VPC's main table).
    fn subnet_routes(&self, subnet_id: &str) -> impl Future<Output = AwsResult<Vec<Route>>> + Send;
    /// The egress rules of the security groups (one call for all of them); a group that does not exist is
    /// a `NotFound` error.
    fn security_groups(&self, group_ids: &[String])
        -> impl Future<Output = AwsResult<Vec<SecurityGroupEgress>>> + Send;
}

/// Notebook roles in IAM.
pub trait Roles: Send + Sync {
    /// Creates the role with its boundary, tags and inline policy. An existing role of that name is an
    /// [`crate::error::ErrorKind::AlreadyExists`] error; its inline policy is left untouched then.
    fn create_role(&self, spec: &RoleSpec) -> impl Future<Output = AwsResult<RoleRecord>> + Send;
    fn get_role(&self, name: &str) -> impl Future<Output = AwsResult<Option<RoleRecord>>> + Send;
    /// Writes (or rewrites) the role's inline policy from the spec.
    fn put_inline_policy(&self, spec: &RoleSpec) -> impl Future<Output = AwsResult<()>> + Send;
    /// The role's notebook-fleet inline policy; `None` when the role or the policy does not exist.
    fn inline_policy(&self, role_name: &str) -> impl Future<Output = AwsResult<Option<PolicyDocument>>> + Send;
    fn replace_inline_policy(
        &self,
        role_name: &str,
        policy: &PolicyDocument,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    /// Deletes the inline policy and then the role; a role already gone is success.
    fn delete_role(&self, role_name: &str) -> impl Future<Output = AwsResult<()>> + Send;
}

/// Notebook instances and their lifecycle configurations in SageMaker.
pub trait Notebooks: Send + Sync {
    /// Creates the configuration; one that exists already (same name, so same content) is `AlreadyExists`.
    fn create_lifecycle_config(&self, config: &LifecycleConfig) -> impl Future<Output = AwsResult<()>> + Send;
    fn describe_notebook(&self, name: &str) -> impl Future<Output = AwsResult<Option<NotebookRecord>>> + Send;
    fn notebook_tags(&self, arn: &str) -> impl Future<Output = AwsResult<BTreeMap<String, String>>> + Send;
    /// Returns the new notebook's ARN. A role SageMaker cannot assume yet is a `NotReady` error.
    fn create_notebook(&self, spec: &NotebookSpec) -> impl Future<Output = AwsResult<String>> + Send;
    fn stop_notebook(&self, name: &str) -> impl Future<Output = AwsResult<()>> + Send;
    fn start_notebook(&self, name: &str) -> impl Future<Output = AwsResult<()>> + Send;
    fn tag_notebook(&self, arn: &str, tags: &[(String, String)]) -> impl Future<Output = AwsResult<()>> + Send;
    /// Deletes a stopped notebook and its volume. Only an explicit, confirmed decommission calls this.
    fn delete_notebook(&self, name: &str) -> impl Future<Output = AwsResult<()>> + Send;
    /// Every managed notebook of the owner, found by its tags in bulk: `(ARN, tags)`.
    fn owned_notebooks(
        &self,
        owner: &str,
    ) -> impl Future<Output = AwsResult<Vec<(String, BTreeMap<String, String>)>>> + Send;
}

/// Puts outcome events on the project's bus.
pub trait Events: Send + Sync {
    fn publish(&self, event: &OutcomeEvent) -> impl Future<Output = AwsResult<()>> + Send;

    /// Several events, in as few calls as the bus allows.
    fn publish_all(&self, events: &[OutcomeEvent]) -> impl Future<Output = AwsResult<()>> + Send {
        async move {
            for event in events {
                self.publish(event).await?;
            }
            Ok(())
        }
    }
}

/// The managed fleet, read in bulk: a page lists up to 100 notebooks.
pub trait Fleet: Send + Sync {
    fn in_service_notebooks(&self) -> impl Future<Output = AwsResult<Vec<ListedNotebook>>> + Send;
    /// Tags of every notebook this project manages, by lower-case ARN.
    fn managed_notebook_tags(
        &self,
    ) -> impl Future<Output = AwsResult<HashMap<String, BTreeMap<String, String>>>> + Send;
    fn stop_notebook(&self, name: &str) -> impl Future<Output = AwsResult<()>> + Send;
    fn tag_notebook(&self, arn: &str, tags: &[(String, String)]) -> impl Future<Output = AwsResult<()>> + Send;
    /// Takes every permission from a notebook's role (its inline policy is deleted; the role stays, so that
    /// the trail can name it). A policy already gone is success.
    fn revoke_role(&self, role_name: &str) -> impl Future<Output = AwsResult<()>> + Send;
}

/// The audit trail in the audit bucket (object lock: a record, once written, cannot be changed or deleted).
pub trait AuditLog: Send + Sync {
    fn write(&self, key: &str, record: &AuditRecord) -> impl Future<Output = AwsResult<()>> + Send;
    /// Keys under the prefix, in key order (which is time order within one history).
    fn list(&self, prefix: &str) -> impl Future<Output = AwsResult<Vec<String>>> + Send;
    /// The record at the key; `None` when there is none.
    fn read(&self, key: &str) -> impl Future<Output = AwsResult<Option<AuditRecord>>> + Send;

    /// Writes the record under each of its keys.
    fn append(&self, record: &AuditRecord) -> impl Future<Output = AwsResult<()>> + Send {
        async move {
            for key in record.keys() {
                self.write(&key, record).await?;
            }
            Ok(())
        }
    }

    /// Every record under the prefix, oldest first.
    fn history(&self, prefix: &str) -> impl Future<Output = AwsResult<Vec<AuditRecord>>> + Send {
        async move {
            let mut records = Vec::new();
            for key in self.list(prefix).await? {
                records.extend(self.read(&key).await?);
            }
            records.sort_by_key(|r| r.recorded_at);
            Ok(records)
        }
    }

    /// Listed, not read: S3 answers a read of a missing key with 403 unless the caller may list the whole
    /// bucket, and the functions may list only the audit prefixes.
    fn is_deactivated(&self, owner: &str) -> impl Future<Output = AwsResult<bool>> + Send {
        async move {
            let marker = deactivation_marker_key(owner);
            Ok(self.list(&marker).await?.contains(&marker))
        }
    }

    /// The record of `action` (a detail-type) that answered `request_id` under the prefix, if there is one:
    /// the key names the action, so only matching keys are read.
    fn earlier_record(
        &self,
        prefix: &str,
        action: &str,
        request_id: &str,
    ) -> impl Future<Output = AwsResult<Option<AuditRecord>>> + Send {
        async move {
            let action = slug(action);
            for key in self.list(prefix).await? {
                if action_of_key(&key) != Some(action.as_str()) {
                    continue;
                }
                if let Some(record) = self.read(&key).await? {
                    if record.request_id.as_deref() == Some(request_id) {
                        return Ok(Some(record));
                    }
                }
            }
            Ok(None)
        }
    }
}

/// Heartbeats in the assets bucket, read in bulk: a page lists up to 1,000.
pub trait HeartbeatStore: Send + Sync {
    fn heartbeats(&self) -> impl Future<Output = AwsResult<HeartbeatIndex>> + Send;
    /// Records that the notebook's current idle period was warned about.
    fn record_warning(
        &self,
        notebook_name: &str,
        body: &serde_json::Value,
    ) -> impl Future<Output = AwsResult<()>> + Send;
}

/// The assets bucket, as the lifecycle publisher writes it.
pub trait AssetStore: Send + Sync {
    fn exists(&self, key: &str) -> impl Future<Output = AwsResult<bool>> + Send;
    fn put(&self, asset: &crate::domain::assets::Asset) -> impl Future<Output = AwsResult<()>> + Send;
}
