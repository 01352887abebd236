//! In-memory ports for the service's unit tests. The AWS adapters are proven against the emulator in the
//! integration tests; these fakes let the unit tests inject failures the emulator cannot produce.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::domain::audit::AuditRecord;
use crate::domain::audit_versions::{KeyVersions, ObjectVersion};
use crate::domain::isolation::{EgressDestination, EgressRule, Route, RouteTarget, SecurityGroupEgress};
use crate::domain::lifecycle::LifecycleConfig;
use crate::domain::notebook::{NotebookRecord, NotebookSpec, NotebookStatus, RoleRecord, RoleSpec};
use crate::domain::outcome::OutcomeEvent;
use crate::domain::policy::PolicyDocument;
use crate::domain::tags;
use crate::error::{AwsError, ErrorKind};
use crate::ports::{AuditLog, AwsResult, Events, Network, Notebooks, Roles};

#[derive(Debug, Default)]
pub(crate) struct State {
    pub routes: HashMap<String, Vec<Route>>,
    pub security_groups: HashMap<String, SecurityGroupEgress>,
    pub roles: BTreeMap<String, (RoleSpec, RoleRecord)>,
    pub inline_policies: BTreeMap<String, String>,
    pub lifecycle_configs: BTreeMap<String, String>,
    pub notebooks: BTreeMap<String, (NotebookSpec, NotebookRecord)>,
    pub foreign_notebooks: BTreeMap<String, NotebookRecord>,
    pub events: Vec<OutcomeEvent>,
    /// A status the next describe of the notebook answers instead of the real one (a describe that raced a
    /// change).
    pub stale_status: HashMap<String, NotebookStatus>,
    /// The audit bucket: key → record.
    pub audit: BTreeMap<String, AuditRecord>,
    /// Audit keys a listing does not show (written by a racing request just after the listing).
    pub unlisted: std::collections::BTreeSet<String>,
    pub calls: Vec<&'static str>,
    /// Operation → errors to return on its next calls, in order.
    pub failures: HashMap<&'static str, Vec<ErrorKind>>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct FakeAws(Arc<Mutex<State>>);

impl FakeAws {
    pub fn new() -> Self {
        let fake = FakeAws::default();
        for subnet in ["subnet-aaa", "subnet-bbb"] {
            fake.state()
                .routes
                .insert(subnet.into(), vec![Route { destination: "10.0.0.0/16".into(), target: RouteTarget::Local }]);
        }
        let endpoints_only = SecurityGroupEgress {
            group_id: "sg-123".into(),
            egress: vec![EgressRule {
                protocol: "tcp".into(),
                ports: Some((443, 443)),
                destination: EgressDestination::Cidr("10.0.0.0/16".into()),
            }],
        };
        fake.state().security_groups.insert("sg-123".into(), endpoints_only);
        fake
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().expect("fake state lock")
    }

    pub fn fail(&self, operation: &'static str, kinds: &[ErrorKind]) {
        self.state().failures.insert(operation, kinds.to_vec());
    }

    /// Records the call and returns an injected failure, if one is due.
    fn call(&self, operation: &'static str) -> AwsResult<()> {
        let mut state = self.state();
        state.calls.push(operation);
        match state.failures.get_mut(operation) {
            Some(queue) if !queue.is_empty() => {
                let kind = queue.remove(0);
                Err(AwsError::new(operation, kind, None, format!("injected {kind:?}")))
            }
            _ => Ok(()),
        }
    }

    /// Calls that create or change something.
    pub fn mutating_calls(&self) -> Vec<&'static str> {
        let reads = [
            "DescribeNotebookInstance",
            "ListTags",
            "DescribeRouteTables",
            "DescribeSecurityGroups",
            "GetRole",
            "GetRolePolicy",
            "GetResources",
            "PutEvents",
            "PutAuditRecord",
            "ListAuditVersions",
            "GetAuditRecord",
        ];
        self.state().calls.iter().copied().filter(|c| !reads.contains(c)).collect()
    }
}

impl Network for FakeAws {
    async fn subnet_routes(&self, subnet_id: &str) -> AwsResult<Vec<Route>> {
        self.call("DescribeRouteTables")?;
        self.state()
            .routes
            .get(subnet_id)
            .cloned()
            .ok_or_else(|| AwsError::new("DescribeRouteTables", ErrorKind::NotFound, None, "no subnet"))
    }

    async fn security_groups(&self, group_ids: &[String]) -> AwsResult<Vec<SecurityGroupEgress>> {
        self.call("DescribeSecurityGroups")?;
        let state = self.state();
        group_ids
            .iter()
            .map(|id| {
                state.security_groups.get(id).cloned().ok_or_else(|| {
                    AwsError::new("DescribeSecurityGroups", ErrorKind::NotFound, None, format!("no group {id}"))
                })
            })
            .collect()
    }
}

impl Roles for FakeAws {
    async fn create_role(&self, spec: &RoleSpec) -> AwsResult<RoleRecord> {
        self.call("CreateRole")?;
        let mut state = self.state();
        if state.roles.contains_key(&spec.name) {
            return Err(AwsError::new("CreateRole", ErrorKind::AlreadyExists, None, "exists"));
        }
        let record = RoleRecord {
            name: spec.name.clone(),
            arn: format!("arn:aws:iam::123456789012:role{}{}", spec.path, spec.name),
            tags: spec.tags.iter().cloned().collect(),
        };
        state.roles.insert(spec.name.clone(), (spec.clone(), record.clone()));
        Ok(record)
    }

    async fn get_role(&self, name: &str) -> AwsResult<Option<RoleRecord>> {
        self.call("GetRole")?;
        Ok(self.state().roles.get(name).map(|(_, r)| r.clone()))
    }

    async fn put_inline_policy(&self, spec: &RoleSpec) -> AwsResult<()> {
        self.call("PutRolePolicy")?;
        self.state().inline_policies.insert(spec.name.clone(), spec.inline_policy.to_json());
        Ok(())
    }

    async fn inline_policy(&self, role_name: &str) -> AwsResult<Option<PolicyDocument>> {
        self.call("GetRolePolicy")?;
        Ok(self.state().inline_policies.get(role_name).map(|json| serde_json::from_str(json).expect("policy json")))
    }

    async fn replace_inline_policy(&self, role_name: &str, policy: &PolicyDocument) -> AwsResult<()> {
        self.call("PutRolePolicy")?;
        self.state().inline_policies.insert(role_name.to_owned(), policy.to_json());
        Ok(())
    }

    async fn delete_role(&self, role_name: &str) -> AwsResult<()> {
        self.call("DeleteRole")?;
        let mut state = self.state();
        state.inline_policies.remove(role_name);
        state.roles.remove(role_name);
        Ok(())
    }
}

impl Notebooks for FakeAws {
    async fn create_lifecycle_config(&self, config: &LifecycleConfig) -> AwsResult<()> {
        self.call("CreateNotebookInstanceLifecycleConfig")?;
        let mut state = self.state();
        if state.lifecycle_configs.contains_key(&config.name) {
            return Err(AwsError::new(
                "CreateNotebookInstanceLifecycleConfig",
                ErrorKind::AlreadyExists,
                None,
                "exists",
            ));
        }
        state.lifecycle_configs.insert(config.name.clone(), config.script.clone());
        Ok(())
    }

    async fn describe_notebook(&self, name: &str) -> AwsResult<Option<NotebookRecord>> {
        self.call("DescribeNotebookInstance")?;
        let mut state = self.state();
        let stale = state.stale_status.remove(name);
        let mut found =
            state.notebooks.get(name).map(|(_, r)| r.clone()).or_else(|| state.foreign_notebooks.get(name).cloned());
        if let (Some(record), Some(status)) = (found.as_mut(), stale) {
            record.status = status;
        }
        Ok(found)
    }

    async fn notebook_tags(&self, arn: &str) -> AwsResult<BTreeMap<String, String>> {
        self.call("ListTags")?;
        let state = self.state();
        Ok(state
            .notebooks
            .values()
            .find(|(_, r)| r.arn == arn)
            .map(|(spec, _)| spec.tags.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn create_notebook(&self, spec: &NotebookSpec) -> AwsResult<String> {
        self.call("CreateNotebookInstance")?;
        let mut state = self.state();
        if state.notebooks.contains_key(&spec.name) {
            return Err(AwsError::new("CreateNotebookInstance", ErrorKind::AlreadyExists, None, "duplicate"));
        }
        let arn = format!("arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/{}", spec.name);
        let record = NotebookRecord {
            name: spec.name.clone(),
            arn: arn.clone(),
            status: NotebookStatus::Pending,
            role_arn: Some(spec.role_arn.clone()),
            lifecycle_config_name: Some(spec.lifecycle_config_name.clone()),
            subnet_id: Some(spec.subnet_id.clone()),
            security_group_ids: spec.security_group_ids.clone(),
        };
        state.notebooks.insert(spec.name.clone(), (spec.clone(), record));
        Ok(arn)
    }

    async fn stop_notebook(&self, name: &str) -> AwsResult<()> {
        self.call("StopNotebookInstance")?;
        // As SageMaker: only a notebook in service can be stopped.
        if self.state().notebooks.get(name).is_some_and(|(_, r)| r.status != NotebookStatus::InService) {
            return Err(AwsError::new("StopNotebookInstance", ErrorKind::Invalid, None, "Status not in ([InService])"));
        }
        self.set_status(name, NotebookStatus::Stopping);
        Ok(())
    }

    async fn start_notebook(&self, name: &str) -> AwsResult<()> {
        self.call("StartNotebookInstance")?;
        self.set_status(name, NotebookStatus::Pending);
        Ok(())
    }

    async fn tag_notebook(&self, arn: &str, added: &[(String, String)]) -> AwsResult<()> {
        self.call("AddTags")?;
        let mut state = self.state();
        let (spec, _) = state
            .notebooks
            .values_mut()
            .find(|(_, r)| r.arn == arn)
            .ok_or_else(|| AwsError::new("AddTags", ErrorKind::NotFound, None, "no such notebook"))?;
        for (key, value) in added {
            spec.tags.retain(|(k, _)| k != key);
            spec.tags.push((key.clone(), value.clone()));
        }
        Ok(())
    }

    async fn delete_notebook(&self, name: &str) -> AwsResult<()> {
        self.call("DeleteNotebookInstance")?;
        self.state().notebooks.remove(name);
        Ok(())
    }

    async fn owned_notebooks(&self, owner: &str) -> AwsResult<Vec<(String, BTreeMap<String, String>)>> {
        self.call("GetResources")?;
        Ok(self
            .state()
            .notebooks
            .values()
            .map(|(spec, record)| (record.arn.clone(), spec.tags.iter().cloned().collect::<BTreeMap<_, _>>()))
            .filter(|(_, found)| found.get(tags::OWNER).map(String::as_str) == Some(owner))
            .collect())
    }
}

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

impl FakeAws {
    pub fn set_status(&self, name: &str, status: NotebookStatus) {
        if let Some((_, record)) = self.state().notebooks.get_mut(name) {
            record.status = status;
        }
    }
}

impl Events for FakeAws {
    async fn publish(&self, event: &OutcomeEvent) -> AwsResult<()> {
        self.call("PutEvents")?;
        self.state().events.push(event.clone());
        Ok(())
    }
}
