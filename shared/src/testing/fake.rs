//! One in-memory AWS account behind every port: the state the fakes share, the log of the API calls they
//! were asked to make, and failures injected per operation.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::domain::audit::AuditRecord;
use crate::domain::heartbeat::HeartbeatIndex;
use crate::domain::isolation::{EgressDestination, EgressRule, Route, RouteTarget, SecurityGroupEgress};
use crate::domain::notebook::{NotebookRecord, NotebookSpec, NotebookStatus, RoleRecord, RoleSpec};
use crate::domain::outcome::OutcomeEvent;
use crate::domain::policy::PolicyDocument;
use crate::error::{AwsError, ErrorKind};
use crate::ports::AwsResult;

#[derive(Debug, Default)]
pub struct State {
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
    /// Heartbeats and recorded warnings (the assets bucket's `heartbeats/` prefix), by notebook name.
    pub heartbeats: HeartbeatIndex,
    /// The body of each recorded idle warning, by notebook name.
    pub warning_bodies: BTreeMap<String, serde_json::Value>,
    /// When each notebook last started, as `ListNotebookInstances` reports it (`LastModifiedTime`).
    pub last_modified: HashMap<String, DateTime<Utc>>,
    /// The time the fake stamps on what it writes (a recorded warning); the wall clock when unset.
    pub clock: Option<DateTime<Utc>>,
    /// When each role and lifecycle configuration was created (the clock then), by name; absent: long ago.
    pub created: HashMap<String, DateTime<Utc>>,
    /// The assets bucket: key → (bytes, content type).
    pub assets: BTreeMap<String, (Vec<u8>, String)>,
    /// Every API call asked of the fakes, oldest first, by its AWS operation name.
    pub calls: Vec<&'static str>,
    /// Operation → what its next calls return, in order: an error, or `None` for a call that succeeds.
    pub failures: HashMap<&'static str, Vec<Option<ErrorKind>>>,
}

#[derive(Debug, Clone, Default)]
pub struct FakeAws(Arc<Mutex<State>>);

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

    /// The next calls of `operation` fail with these kinds, one each, in order; later calls succeed.
    pub fn fail(&self, operation: &'static str, kinds: &[ErrorKind]) {
        self.fail_after(operation, 0, kinds);
    }

    /// The next `succeed` calls of `operation` succeed, then the calls after fail with these kinds, one each.
    pub fn fail_after(&self, operation: &'static str, succeed: usize, kinds: &[ErrorKind]) {
        let queue = std::iter::repeat_n(None, succeed).chain(kinds.iter().copied().map(Some)).collect();
        self.state().failures.insert(operation, queue);
    }

    /// Records the call and returns an injected failure, if one is due.
    pub(super) fn call(&self, operation: &'static str) -> AwsResult<()> {
        let mut state = self.state();
        state.calls.push(operation);
        match state.failures.get_mut(operation) {
            Some(queue) if !queue.is_empty() => match queue.remove(0) {
                Some(kind) => Err(AwsError::new(operation, kind, None, format!("injected {kind:?}"))),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// Every call made so far, oldest first.
    pub fn calls(&self) -> Vec<&'static str> {
        self.state().calls.clone()
    }

    /// How many times `operation` was called.
    pub fn count(&self, operation: &str) -> usize {
        self.state().calls.iter().filter(|c| **c == operation).count()
    }

    /// The events published so far.
    pub fn events(&self) -> Vec<OutcomeEvent> {
        self.state().events.clone()
    }

    /// The audit trail: key → record.
    pub fn audit_records(&self) -> BTreeMap<String, AuditRecord> {
        self.state().audit.clone()
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
            "ListNotebookInstances",
            "ListObjectsV2",
            "HeadObject",
        ];
        self.state().calls.iter().copied().filter(|c| !reads.contains(c)).collect()
    }
}

impl FakeAws {
    /// Sets the status the notebook is described and listed with.
    pub fn set_status(&self, name: &str, status: NotebookStatus) {
        if let Some((_, record)) = self.state().notebooks.get_mut(name) {
            record.status = status;
        }
    }

    /// Adds a notebook as if the fleet had created it (`managed`: with the fleet's tags, the owner's and
    /// the team's), in `status`, last started at `started_at`, with the extra tags. Returns its ARN.
    pub fn add_notebook(&self, notebook: AddedNotebook<'_>) -> String {
        let arn = format!("arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/{}", notebook.name);
        let mut tags: Vec<(String, String)> = Vec::new();
        if notebook.managed {
            tags.push((crate::domain::tags::MANAGED_BY.into(), crate::domain::tags::MANAGED_BY_VALUE.into()));
            tags.push((crate::domain::tags::OWNER.into(), notebook.owner.into()));
            tags.push((crate::domain::tags::TEAM.into(), "risk".into()));
        }
        tags.extend(notebook.tags.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let role_arn = format!("arn:aws:iam::123456789012:role/notebook-fleet/notebooks/nbf-{}", notebook.name);
        let spec = NotebookSpec {
            name: notebook.name.into(),
            instance_type: "ml.t3.medium".into(),
            subnet_id: "subnet-aaa".into(),
            security_group_ids: vec!["sg-123".into()],
            role_arn: role_arn.clone(),
            kms_key_id: None,
            lifecycle_config_name: "nbf-lifecycle".into(),
            volume_size_gb: 20,
            root_access: false,
            platform_identifier: "notebook-al2-v3".into(),
            tags,
        };
        let record = NotebookRecord {
            name: notebook.name.into(),
            arn: arn.clone(),
            status: notebook.status,
            role_arn: Some(role_arn),
            lifecycle_config_name: Some(spec.lifecycle_config_name.clone()),
            subnet_id: Some(spec.subnet_id.clone()),
            security_group_ids: spec.security_group_ids.clone(),
        };
        let mut state = self.state();
        state.notebooks.insert(notebook.name.into(), (spec, record));
        state.last_modified.insert(notebook.name.into(), notebook.started_at);
        arn
    }

    /// The notebook's tags now.
    pub fn tags_of(&self, name: &str) -> BTreeMap<String, String> {
        self.state().notebooks.get(name).map(|(spec, _)| spec.tags.iter().cloned().collect()).unwrap_or_default()
    }

    /// Records a heartbeat of the notebook's agent at `at`.
    pub fn heartbeat(&self, name: &str, at: DateTime<Utc>) {
        self.state().heartbeats.beats.insert(name.into(), at);
    }

    /// Adds a role under `path` as if created at `created` (with the fleet's inline policy), whatever made it.
    pub fn add_role(&self, name: &str, path: &str, created: DateTime<Utc>) {
        let document = PolicyDocument { version: "2012-10-17".into(), statement: Vec::new() };
        let spec = RoleSpec {
            name: name.into(),
            path: path.into(),
            description: String::new(),
            trust_policy: document.clone(),
            permissions_boundary_arn: "arn:aws:iam::123456789012:policy/boundary".into(),
            inline_policy_name: crate::domain::policy::NOTEBOOK_POLICY_NAME.into(),
            inline_policy: document,
            tags: Vec::new(),
        };
        let record = RoleRecord {
            name: name.into(),
            arn: format!("arn:aws:iam::123456789012:role{path}{name}"),
            tags: BTreeMap::new(),
        };
        let mut state = self.state();
        state.roles.insert(name.into(), (spec, record));
        state.inline_policies.insert(name.into(), "{}".into());
        state.created.insert(name.into(), created);
    }

    /// Adds a lifecycle configuration as if created at `created`.
    pub fn add_lifecycle_config(&self, name: &str, created: DateTime<Utc>) {
        let mut state = self.state();
        state.lifecycle_configs.insert(name.into(), "#!/bin/sh".into());
        state.created.insert(name.into(), created);
    }

    /// Gives the role an inline policy (a custodian's grant, for example).
    pub fn grant_inline_policy(&self, role_name: &str, policy_json: &str) {
        self.state().inline_policies.insert(role_name.into(), policy_json.into());
    }
}

/// A notebook for [`FakeAws::add_notebook`].
#[derive(Debug, Clone)]
pub struct AddedNotebook<'a> {
    pub name: &'a str,
    pub owner: &'a str,
    pub managed: bool,
    pub status: NotebookStatus,
    pub started_at: DateTime<Utc>,
    pub tags: Vec<(&'a str, String)>,
}

impl<'a> AddedNotebook<'a> {
    /// A managed notebook of alice's, in service since `started_at`.
    pub fn in_service(name: &'a str, started_at: DateTime<Utc>) -> Self {
        AddedNotebook {
            name,
            owner: "alice",
            managed: true,
            status: NotebookStatus::InService,
            started_at,
            tags: Vec::new(),
        }
    }

    pub fn with_tag(mut self, key: &'a str, value: impl Into<String>) -> Self {
        self.tags.push((key, value.into()));
        self
    }

    pub fn with_owner(mut self, owner: &'a str) -> Self {
        self.owner = owner;
        self
    }

    pub fn with_status(mut self, status: NotebookStatus) -> Self {
        self.status = status;
        self
    }

    pub fn unmanaged(mut self) -> Self {
        self.managed = false;
        self
    }
}
