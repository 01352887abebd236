//! The notebook and its role as the provisioner creates them. The specs are built here, in one place, so
//! that the isolation invariants hold for every notebook whatever path created it.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::names::role_name;
use super::policy::{notebook_role_policy, notebook_trust_policy, valid_until, PolicyDocument};
use super::settings::ProvisionerSettings;
use super::tags;
use super::validation::ValidNotebookRequest;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotebookStatus {
    Pending,
    InService,
    Stopping,
    Stopped,
    Failed,
    Deleting,
    Updating,
    Unknown(String),
}

impl NotebookStatus {
    pub fn parse(status: &str) -> Self {
        match status {
            "Pending" => Self::Pending,
            "InService" => Self::InService,
            "Stopping" => Self::Stopping,
            "Stopped" => Self::Stopped,
            "Failed" => Self::Failed,
            "Deleting" => Self::Deleting,
            "Updating" => Self::Updating,
            other => Self::Unknown(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "Pending",
            Self::InService => "InService",
            Self::Stopping => "Stopping",
            Self::Stopped => "Stopped",
            Self::Failed => "Failed",
            Self::Deleting => "Deleting",
            Self::Updating => "Updating",
            Self::Unknown(other) => other,
        }
    }
}

/// Everything `CreateNotebookInstance` is given. Internet access is not a field: it is always disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotebookSpec {
    pub name: String,
    pub instance_type: String,
    pub subnet_id: String,
    pub security_group_ids: Vec<String>,
    pub role_arn: String,
    pub kms_key_id: Option<String>,
    pub lifecycle_config_name: String,
    pub volume_size_gb: u32,
    pub root_access: bool,
    pub platform_identifier: String,
    pub tags: Vec<(String, String)>,
}

/// A notebook as SageMaker describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotebookRecord {
    pub name: String,
    pub arn: String,
    pub status: NotebookStatus,
    pub role_arn: Option<String>,
    pub lifecycle_config_name: Option<String>,
    pub subnet_id: Option<String>,
    pub security_group_ids: Vec<String>,
}

/// A notebook as `ListNotebookInstances` lists it, with its tags (empty when it has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedNotebook {
    pub name: String,
    pub arn: String,
    pub status: NotebookStatus,
    pub instance_type: String,
    pub last_modified: chrono::DateTime<chrono::Utc>,
    pub tags: BTreeMap<String, String>,
}

/// Everything `CreateRole` and `PutRolePolicy` are given for a notebook's own role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSpec {
    pub name: String,
    pub path: String,
    pub description: String,
    pub trust_policy: PolicyDocument,
    pub permissions_boundary_arn: String,
    pub inline_policy_name: String,
    pub inline_policy: PolicyDocument,
    pub tags: Vec<(String, String)>,
}

/// A role as IAM describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    pub name: String,
    pub arn: String,
    pub tags: BTreeMap<String, String>,
}

/// The tags every managed notebook and its role carry; the sweeper and the stop/start handlers read them.
pub fn notebook_tags(request: &ValidNotebookRequest) -> Vec<(String, String)> {
    [
        (tags::MANAGED_BY, tags::MANAGED_BY_VALUE.to_owned()),
        (tags::OWNER, request.owner.to_string()),
        (tags::TEAM, request.team.to_string()),
        (tags::REQUEST_ID, request.request_id.to_string()),
        (tags::IDLE_TIMEOUT_MINUTES, request.idle_timeout_minutes.to_string()),
        (tags::NOTEBOOK_NAME, request.notebook_name.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .chain(request.extra_tags.iter().cloned())
    .collect()
}

pub fn role_spec(request: &ValidNotebookRequest, settings: &ProvisionerSettings) -> RoleSpec {
    RoleSpec {
        name: role_name(&request.notebook_name),
        path: settings.role_path.clone(),
        description: format!("notebook-fleet role of notebook {}", request.notebook_name),
        trust_policy: notebook_trust_policy(),
        permissions_boundary_arn: settings.permissions_boundary_arn.clone(),
        inline_policy_name: super::policy::NOTEBOOK_POLICY_NAME.to_owned(),
        inline_policy: {
            let policy =
                notebook_role_policy(request, &settings.assets_bucket, &settings.limits.entitlements, &settings.region);
            match request.extra_tags.iter().find(|(key, _)| key == tags::ACCESS_EXPIRES_AT) {
                Some((_, expiry)) => valid_until(policy, expiry),
                None => policy,
            }
        },
        tags: notebook_tags(request),
    }
}

/// Spreads notebooks over the configured private subnets (and so over availability zones), always placing
/// the same name in the same subnet.
pub fn choose_subnet<'a>(notebook_name: &str, subnet_ids: &'a [String]) -> &'a str {
    let digest = Sha256::digest(notebook_name.as_bytes());
    let index = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) % subnet_ids.len() as u64;
    &subnet_ids[usize::try_from(index).expect("index fits")]
}

pub fn notebook_spec(
    request: &ValidNotebookRequest,
    settings: &ProvisionerSettings,
    role_arn: &str,
    lifecycle_config_name: &str,
) -> NotebookSpec {
    NotebookSpec {
        name: request.notebook_name.to_string(),
        instance_type: request.instance_type.clone(),
        subnet_id: choose_subnet(&request.notebook_name, &settings.subnet_ids).to_owned(),
        security_group_ids: settings.security_group_ids.clone(),
        role_arn: role_arn.to_owned(),
        kms_key_id: settings.kms_key_id.clone(),
        lifecycle_config_name: lifecycle_config_name.to_owned(),
        volume_size_gb: request.volume_size_gb,
        // Validation refuses root unless the platform allows it; checking again here keeps the invariant
        // in the one function that builds every notebook.
        root_access: request.root_access && settings.limits.allow_root_access,
        platform_identifier: settings.platform_identifier.clone(),
        tags: notebook_tags(request),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::settings::tests::settings as config;
    use crate::domain::validation::{tests::request, validate_notebook_request};

    #[test]
    fn specs_carry_the_configuration_and_the_tags() {
        let config = config();
        let valid = validate_notebook_request(&request(), &config.limits).expect("valid");
        let spec = notebook_spec(&valid, &config, "arn:aws:iam::1:role/x", "nbf-on-start-1");
        assert!(config.subnet_ids.contains(&spec.subnet_id));
        assert_eq!(spec.security_group_ids, ["sg-123"]);
        assert!(!spec.root_access);
        let tags: BTreeMap<_, _> = spec.tags.into_iter().collect();
        assert_eq!(tags[tags::MANAGED_BY], "notebook-fleet");
        assert_eq!(tags[tags::REQUEST_ID], "req-1");
        assert_eq!(tags[tags::IDLE_TIMEOUT_MINUTES], "60");

        let role = role_spec(&valid, &config);
        assert_eq!(role.name, "nbf-alice-nb");
        assert_eq!(role.path, "/notebook-fleet/notebooks/");
        assert_eq!(role.permissions_boundary_arn, config.permissions_boundary_arn);
    }

    #[test]
    fn subnets_are_chosen_stably_and_spread() {
        let subnets: Vec<String> = vec!["subnet-a".into(), "subnet-b".into()];
        assert_eq!(choose_subnet("nb-1", &subnets), choose_subnet("nb-1", &subnets));
        let used: std::collections::BTreeSet<_> =
            (0..20).map(|i| choose_subnet(&format!("nb-{i}"), &subnets)).collect();
        assert_eq!(used.len(), 2);
    }
}
