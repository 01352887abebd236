//! The narrow ports the services call, returning the project's own types. Implemented once over the AWS
//! SDK in [`crate::aws`]; unit tests implement them in memory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;

use crate::domain::audit::{action_of_key, deactivation_marker_key, slug, AuditRecord};
use crate::domain::audit_verify::{self, listings_needed, Verification};
use crate::domain::audit_versions::{History, KeyVersions, ObjectVersion, StoredKey};
use crate::domain::heartbeat::HeartbeatIndex;
use crate::domain::isolation::{Route, SecurityGroupEgress};
use crate::domain::leftovers::Listed;
use crate::domain::lifecycle::LifecycleConfig;
use crate::domain::notebook::{ListedNotebook, NotebookRecord, NotebookSpec, RoleRecord, RoleSpec};
use crate::domain::outcome::OutcomeEvent;
use crate::domain::policy::PolicyDocument;
use crate::error::{AwsError, ErrorKind};

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

    /// Every event, in as few calls as the bus allows, whatever fails on the way: one result per event, in
    /// order, so that a failure names the events it lost.
    fn publish_each(&self, events: &[OutcomeEvent]) -> impl Future<Output = Vec<AwsResult<()>>> + Send {
        async move {
            let mut results = Vec::with_capacity(events.len());
            for event in events {
                results.push(self.publish(event).await);
            }
            results
        }
    }
}

/// The managed fleet, read in bulk: a page lists up to 100 notebooks.
pub trait Fleet: Send + Sync {
    /// Every notebook in service, managed or not, each with its tags.
    fn in_service_notebooks(&self) -> impl Future<Output = AwsResult<Vec<ListedNotebook>>> + Send;
    /// Tags of every managed notebook whose access expires (custodian notebooks), whatever its status, by
    /// lower-case ARN.
    fn expiring_notebook_tags(
        &self,
    ) -> impl Future<Output = AwsResult<HashMap<String, BTreeMap<String, String>>>> + Send;
    fn stop_notebook(&self, name: &str) -> impl Future<Output = AwsResult<()>> + Send;
    fn tag_notebook(&self, arn: &str, tags: &[(String, String)]) -> impl Future<Output = AwsResult<()>> + Send;
    /// Takes every permission from a notebook's role (its inline policy is deleted; the role stays, so that
    /// the trail can name it). A policy already gone is success.
    fn revoke_role(&self, role_name: &str) -> impl Future<Output = AwsResult<()>> + Send;
}

/// What the fleet's notebooks use, and the fleet's roles and lifecycle configurations, for finding and
/// removing leftovers (see [`crate::domain::leftovers`]).
pub trait FleetResources: Send + Sync {
    /// Every notebook of the account, whatever its status: its name and lifecycle configuration.
    fn all_notebooks(&self) -> impl Future<Output = AwsResult<Vec<(String, Option<String>)>>> + Send;
    /// The roles under `path`.
    fn roles_under(&self, path: &str) -> impl Future<Output = AwsResult<Vec<Listed>>> + Send;
    /// The lifecycle configurations whose name starts with the fleet's prefix.
    fn fleet_lifecycle_configs(&self) -> impl Future<Output = AwsResult<Vec<Listed>>> + Send;
    /// Deletes a notebook role (its inline policy, then the role). Already gone is success.
    fn delete_role(&self, role_name: &str) -> impl Future<Output = AwsResult<()>> + Send;
    /// Deletes a lifecycle configuration. Already gone is success.
    fn delete_lifecycle_config(&self, name: &str) -> impl Future<Output = AwsResult<()>> + Send;
}

/// The audit trail in the audit bucket: versioned, object lock on, and written only where no key exists, so a
/// record is the first version of its key. Readers take that first version, never the newest.
pub trait AuditLog: Send + Sync {
    /// Writes the record under the key only if the key does not exist. A key that holds this very record
    /// already is success (a retried write); a key that holds anything else is an
    /// [`crate::error::ErrorKind::AlreadyExists`] error naming the key (a collision, or tampering), not
    /// retryable. A key is never overwritten.
    fn write(&self, key: &str, record: &AuditRecord) -> impl Future<Output = AwsResult<()>> + Send;
    /// Every key under the prefix with its versions (oldest first), in key order: one listing page per 1,000
    /// versions, never a call per key.
    fn versions(&self, prefix: &str) -> impl Future<Output = AwsResult<Vec<KeyVersions>>> + Send;
    /// The stored body of one version of a key.
    fn read_version(&self, key: &str, version_id: &str) -> impl Future<Output = AwsResult<Vec<u8>>> + Send;

    /// Writes the record under each of its keys.
    fn append(&self, record: &AuditRecord) -> impl Future<Output = AwsResult<()>> + Send {
        async move {
            for key in record.keys() {
                self.write(&key, record).await?;
            }
            Ok(())
        }
    }

    /// The record at the key as first written (its first version); `None` when there is none. One listing
    /// of the key's versions, one read of the first.
    fn read(&self, key: &str) -> impl Future<Output = AwsResult<Option<AuditRecord>>> + Send {
        async move {
            let Some(versions) = self.versions(key).await?.into_iter().find(|k| k.key == key) else {
                return Ok(None);
            };
            let Some(first) = first_version(&versions) else { return Ok(None) };
            parse_record(key, &self.read_version(key, &first.version_id).await?).map(Some)
        }
    }

    /// Every key under the prefix with its versions and the body of its first version.
    fn stored(&self, prefix: &str) -> impl Future<Output = AwsResult<Vec<StoredKey>>> + Send {
        async move {
            let mut stored = Vec::new();
            for versions in self.versions(prefix).await? {
                let first_body = match versions.first() {
                    Some(first) => Some(self.read_version(&versions.key, &first.version_id).await?),
                    None => None,
                };
                stored.push(StoredKey { versions, first_body });
            }
            Ok(stored)
        }
    }

    /// The history under the prefix: its records (first versions) oldest first, and the keys that were
    /// rewritten or do not hold a record.
    fn history(&self, prefix: &str) -> impl Future<Output = AwsResult<History>> + Send {
        async move { Ok(History::of(&self.stored(prefix).await?)) }
    }

    /// Verifies the history under the prefix (see [`crate::domain::audit_verify`]): reads it as stored, then
    /// lists each other history its records are copied to (one listing each).
    fn verify(&self, prefix: &str) -> impl Future<Output = AwsResult<Verification>> + Send {
        async move {
            let stored = self.stored(prefix).await?;
            let mut elsewhere = BTreeSet::new();
            for other in listings_needed(prefix, &stored) {
                elsewhere.extend(self.versions(&other).await?.into_iter().map(|k| k.key));
            }
            Ok(audit_verify::verify(prefix, &stored, &elsewhere))
        }
    }

    /// Listed, not read: S3 answers a read of a missing key with 403 unless the caller may list the whole
    /// bucket, and the functions may list only the audit prefixes. Every version counts: a delete marker
    /// written over the marker does not make the owner active again.
    fn is_deactivated(&self, owner: &str) -> impl Future<Output = AwsResult<bool>> + Send {
        async move {
            let marker = deactivation_marker_key(owner);
            Ok(self.versions(&marker).await?.iter().any(|k| k.key == marker && k.first().is_some()))
        }
    }

    /// The records of `action` (a detail-type) under the prefix, oldest first: the key names the action, so
    /// only matching keys are read.
    fn records_of(&self, prefix: &str, action: &str) -> impl Future<Output = AwsResult<Vec<AuditRecord>>> + Send {
        async move {
            let action = slug(action);
            let mut records = Vec::new();
            for versions in self.versions(prefix).await? {
                if action_of_key(&versions.key) != Some(action.as_str()) {
                    continue;
                }
                if let Some(first) = first_version(&versions) {
                    records.push(parse_record(
                        &versions.key,
                        &self.read_version(&versions.key, &first.version_id).await?,
                    )?);
                }
            }
            records.sort_by_key(|r| r.recorded_at);
            Ok(records)
        }
    }

    /// The record of `action` (a detail-type) that answered `request_id` under the prefix, if there is one.
    fn earlier_record(
        &self,
        prefix: &str,
        action: &str,
        request_id: &str,
    ) -> impl Future<Output = AwsResult<Option<AuditRecord>>> + Send {
        async move {
            let action = slug(action);
            for versions in self.versions(prefix).await? {
                let Some(first) =
                    first_version(&versions).filter(|_| action_of_key(&versions.key) == Some(action.as_str()))
                else {
                    continue;
                };
                let record = parse_record(&versions.key, &self.read_version(&versions.key, &first.version_id).await?)?;
                if record.request_id.as_deref() == Some(request_id) {
                    return Ok(Some(record));
                }
            }
            Ok(None)
        }
    }
}

/// The version a reader takes; a rewritten key is logged (the history and `--verify` report it).
fn first_version(versions: &KeyVersions) -> Option<&ObjectVersion> {
    if versions.rewritten() {
        let count = versions.versions.len();
        tracing::warn!(key = %versions.key, versions = count, "audit key rewritten; its first version is read");
    }
    versions.first()
}

/// A stored body as a record; one that is not is an `Invalid` error naming the key.
fn parse_record(key: &str, body: &[u8]) -> AwsResult<AuditRecord> {
    serde_json::from_slice(body)
        .map_err(|e| AwsError::new("GetObject", ErrorKind::Invalid, None, format!("{key} is not an audit record: {e}")))
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
