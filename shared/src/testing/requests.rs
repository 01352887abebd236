//! Request details with sensible defaults, as a sender would put them on the bus, for unit and integration
//! tests alike. Each builder starts valid (for the test configurations: team `risk`, owner `alice`, the
//! `team-data` bucket) and changes one thing at a time through its `with_` methods; [`Into<Value>`] gives
//! the detail the provisioner is handed.

use serde_json::{json, Value};

use crate::domain::request::{
    CUSTODIAN_ACCESS_REQUESTED, NOTEBOOK_DECOMMISSION_REQUESTED, NOTEBOOK_IDLE_SNOOZE_REQUESTED, NOTEBOOK_REQUESTED,
    NOTEBOOK_START_REQUESTED, NOTEBOOK_STOP_REQUESTED, OWNER_DEACTIVATED,
};

/// A `Notebook Requested` detail: alice of team risk, an `ml.t3.medium` with 20 GB, and read-write access to
/// her own folder `risk/<owner>/` of `team-data` (the folder follows [`NotebookRequest::with_owner`] until
/// the data access is set explicitly).
#[derive(Debug, Clone, PartialEq)]
pub struct NotebookRequest {
    pub request_id: String,
    pub notebook_name: String,
    pub owner: String,
    pub team: String,
    pub instance_type: String,
    pub volume_size_gb: u32,
    pub idle_timeout_minutes: Option<u32>,
    /// `None`: the owner's own folder.
    pub data_access: Option<Vec<Value>>,
    pub root_access: Option<bool>,
}

impl NotebookRequest {
    pub const DETAIL_TYPE: &'static str = NOTEBOOK_REQUESTED;

    pub fn new(request_id: &str, notebook_name: &str) -> Self {
        NotebookRequest {
            request_id: request_id.into(),
            notebook_name: notebook_name.into(),
            owner: "alice".into(),
            team: "risk".into(),
            instance_type: "ml.t3.medium".into(),
            volume_size_gb: 20,
            idle_timeout_minutes: None,
            data_access: None,
            root_access: None,
        }
    }

    pub fn with_owner(mut self, owner: &str) -> Self {
        self.owner = owner.into();
        self
    }

    pub fn with_team(mut self, team: &str) -> Self {
        self.team = team.into();
        self
    }

    pub fn with_instance_type(mut self, instance_type: &str) -> Self {
        self.instance_type = instance_type.into();
        self
    }

    pub fn with_volume_size_gb(mut self, gb: u32) -> Self {
        self.volume_size_gb = gb;
        self
    }

    pub fn with_idle_timeout_minutes(mut self, minutes: u32) -> Self {
        self.idle_timeout_minutes = Some(minutes);
        self
    }

    pub fn with_root_access(mut self, root: bool) -> Self {
        self.root_access = Some(root);
        self
    }

    /// Replaces the default grant by exactly these `(bucket, prefix, access)` items (none: no data access).
    pub fn with_data_access(mut self, grants: &[(&str, &str, &str)]) -> Self {
        self.data_access = Some(
            grants
                .iter()
                .map(|(bucket, prefix, access)| json!({"bucket": bucket, "prefix": prefix, "access": access}))
                .collect(),
        );
        self
    }

    pub fn detail(&self) -> Value {
        let data_access = self.data_access.clone().unwrap_or_else(|| {
            vec![json!({"bucket": "team-data", "prefix": format!("{}/{}/", self.team, self.owner), "access": "read-write"})]
        });
        let mut detail = json!({
            "request_id": self.request_id,
            "notebook_name": self.notebook_name,
            "owner": self.owner,
            "team": self.team,
            "instance_type": self.instance_type,
            "volume_size_gb": self.volume_size_gb,
            "data_access": data_access,
        });
        if let Some(minutes) = self.idle_timeout_minutes {
            detail["idle_timeout_minutes"] = minutes.into();
        }
        if let Some(root) = self.root_access {
            detail["root_access"] = root.into();
        }
        detail
    }
}

/// A `Notebook Stop Requested` or `Notebook Start Requested` detail, asked by `portal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRequest {
    pub request_id: String,
    pub notebook_name: String,
    pub requested_by: Option<String>,
}

impl ActionRequest {
    pub const STOP: &'static str = NOTEBOOK_STOP_REQUESTED;
    pub const START: &'static str = NOTEBOOK_START_REQUESTED;

    pub fn new(request_id: &str, notebook_name: &str) -> Self {
        ActionRequest {
            request_id: request_id.into(),
            notebook_name: notebook_name.into(),
            requested_by: Some("portal".into()),
        }
    }

    pub fn with_requested_by(mut self, who: &str) -> Self {
        self.requested_by = Some(who.into());
        self
    }

    /// No `requested_by` (it is optional).
    pub fn anonymous(mut self) -> Self {
        self.requested_by = None;
        self
    }

    pub fn detail(&self) -> Value {
        let mut detail = json!({"request_id": self.request_id, "notebook_name": self.notebook_name});
        if let Some(who) = &self.requested_by {
            detail["requested_by"] = who.as_str().into();
        }
        detail
    }
}

/// An `Owner Deactivated` detail, sent by `hr-system` because the owner left the company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeactivationRequest {
    pub request_id: String,
    pub owner: String,
    pub requested_by: String,
    pub reason: String,
}

impl DeactivationRequest {
    pub const DETAIL_TYPE: &'static str = OWNER_DEACTIVATED;

    pub fn new(request_id: &str, owner: &str) -> Self {
        DeactivationRequest {
            request_id: request_id.into(),
            owner: owner.into(),
            requested_by: "hr-system".into(),
            reason: "left the company".into(),
        }
    }

    pub fn with_requested_by(mut self, who: &str) -> Self {
        self.requested_by = who.into();
        self
    }

    pub fn with_reason(mut self, reason: &str) -> Self {
        self.reason = reason.into();
        self
    }

    pub fn detail(&self) -> Value {
        json!({"request_id": self.request_id, "owner": self.owner, "requested_by": self.requested_by, "reason": self.reason})
    }
}

/// A `Custodian Access Requested` detail: carol gets 24 hours of the deactivated owner's data in
/// `carol-custody` (team risk, `ml.t3.medium`, 10 GB), ticket `LEGAL-42`, approved by dana.
#[derive(Debug, Clone, PartialEq)]
pub struct CustodianRequest {
    pub request_id: String,
    pub custodian: String,
    pub deactivated_owner: String,
    pub scope: Option<Vec<Value>>,
    pub reason: String,
    pub ticket: String,
    pub approved_by: String,
    pub duration_hours: u32,
    pub notebook_name: String,
    pub team: String,
    pub instance_type: String,
    pub volume_size_gb: u32,
}

impl CustodianRequest {
    pub const DETAIL_TYPE: &'static str = CUSTODIAN_ACCESS_REQUESTED;

    pub fn new(request_id: &str, deactivated_owner: &str) -> Self {
        CustodianRequest {
            request_id: request_id.into(),
            custodian: "carol".into(),
            deactivated_owner: deactivated_owner.into(),
            scope: None,
            reason: "close the quarter".into(),
            ticket: "LEGAL-42".into(),
            approved_by: "dana".into(),
            duration_hours: 24,
            notebook_name: "carol-custody".into(),
            team: "risk".into(),
            instance_type: "ml.t3.medium".into(),
            volume_size_gb: 10,
        }
    }

    pub fn with_custodian(mut self, custodian: &str) -> Self {
        self.custodian = custodian.into();
        self
    }

    pub fn with_hours(mut self, hours: u32) -> Self {
        self.duration_hours = hours;
        self
    }

    pub fn with_notebook_name(mut self, name: &str) -> Self {
        self.notebook_name = name.into();
        self
    }

    pub fn with_approved_by(mut self, who: &str) -> Self {
        self.approved_by = who.into();
        self
    }

    pub fn with_reason(mut self, reason: &str) -> Self {
        self.reason = reason.into();
        self
    }

    /// Only these `(bucket, prefix)` folders of the owner's.
    pub fn with_scope(mut self, folders: &[(&str, &str)]) -> Self {
        self.scope = Some(folders.iter().map(|(bucket, prefix)| json!({"bucket": bucket, "prefix": prefix})).collect());
        self
    }

    pub fn detail(&self) -> Value {
        let mut detail = json!({
            "request_id": self.request_id,
            "custodian": self.custodian,
            "deactivated_owner": self.deactivated_owner,
            "reason": self.reason,
            "ticket": self.ticket,
            "approved_by": self.approved_by,
            "duration_hours": self.duration_hours,
            "notebook_name": self.notebook_name,
            "team": self.team,
            "instance_type": self.instance_type,
            "volume_size_gb": self.volume_size_gb,
        });
        if let Some(scope) = &self.scope {
            detail["scope"] = scope.clone().into();
        }
        detail
    }
}

/// A `Notebook Decommission Requested` detail from `lead` because the project ended, keeping the notebook;
/// [`DecommissionRequest::deleting`] asks for the deletion with both confirmations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecommissionRequest {
    pub request_id: String,
    pub notebook_name: String,
    pub requested_by: String,
    pub reason: String,
    pub delete_notebook: Option<bool>,
    pub data_no_longer_needed: Option<bool>,
    pub confirm_notebook_name: Option<String>,
}

impl DecommissionRequest {
    pub const DETAIL_TYPE: &'static str = NOTEBOOK_DECOMMISSION_REQUESTED;

    pub fn new(request_id: &str, notebook_name: &str) -> Self {
        DecommissionRequest {
            request_id: request_id.into(),
            notebook_name: notebook_name.into(),
            requested_by: "lead".into(),
            reason: "project ended".into(),
            delete_notebook: None,
            data_no_longer_needed: None,
            confirm_notebook_name: None,
        }
    }

    /// Deletes the notebook, confirmed twice (the data is no longer needed; its name repeated).
    pub fn deleting(mut self) -> Self {
        self.delete_notebook = Some(true);
        self.data_no_longer_needed = Some(true);
        self.confirm_notebook_name = Some(self.notebook_name.clone());
        self
    }

    /// Asks for the deletion with only what is given here (for the refusals of a half-confirmed deletion).
    pub fn with_deletion(mut self, data_no_longer_needed: Option<bool>, confirm_notebook_name: Option<&str>) -> Self {
        self.delete_notebook = Some(true);
        self.data_no_longer_needed = data_no_longer_needed;
        self.confirm_notebook_name = confirm_notebook_name.map(str::to_owned);
        self
    }

    pub fn with_requested_by(mut self, who: &str) -> Self {
        self.requested_by = who.into();
        self
    }

    pub fn with_reason(mut self, reason: &str) -> Self {
        self.reason = reason.into();
        self
    }

    pub fn detail(&self) -> Value {
        let mut detail = json!({
            "request_id": self.request_id,
            "notebook_name": self.notebook_name,
            "requested_by": self.requested_by,
            "reason": self.reason,
        });
        if let Some(delete) = self.delete_notebook {
            detail["delete_notebook"] = delete.into();
        }
        if let Some(confirmed) = self.data_no_longer_needed {
            detail["data_no_longer_needed"] = confirmed.into();
        }
        if let Some(name) = &self.confirm_notebook_name {
            detail["confirm_notebook_name"] = name.as_str().into();
        }
        detail
    }
}

/// A `Notebook Idle Snooze Requested` detail: the owner alice keeps the notebook running for 4 hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnoozeRequest {
    pub request_id: String,
    pub notebook_name: String,
    pub requested_by: String,
    pub hours: u32,
}

impl SnoozeRequest {
    pub const DETAIL_TYPE: &'static str = NOTEBOOK_IDLE_SNOOZE_REQUESTED;

    pub fn new(request_id: &str, notebook_name: &str) -> Self {
        SnoozeRequest {
            request_id: request_id.into(),
            notebook_name: notebook_name.into(),
            requested_by: "alice".into(),
            hours: 4,
        }
    }

    pub fn with_requested_by(mut self, who: &str) -> Self {
        self.requested_by = who.into();
        self
    }

    pub fn with_hours(mut self, hours: u32) -> Self {
        self.hours = hours;
        self
    }

    pub fn detail(&self) -> Value {
        json!({"request_id": self.request_id, "notebook_name": self.notebook_name, "requested_by": self.requested_by, "hours": self.hours})
    }
}

macro_rules! into_detail {
    ($($builder:ty),*) => {$(
        impl From<$builder> for Value {
            fn from(builder: $builder) -> Value {
                builder.detail()
            }
        }
        impl From<&$builder> for Value {
            fn from(builder: &$builder) -> Value {
                builder.detail()
            }
        }
    )*};
}

into_detail!(NotebookRequest, ActionRequest, DeactivationRequest, CustodianRequest, DecommissionRequest, SnoozeRequest);
