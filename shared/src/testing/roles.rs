//! [`Roles`] in memory: notebook roles and their inline policies.

use super::FakeAws;
use crate::domain::notebook::{RoleRecord, RoleSpec};
use crate::domain::policy::PolicyDocument;
use crate::error::{AwsError, ErrorKind};
use crate::ports::{AwsResult, Roles};

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
        let created = state.clock.unwrap_or_else(chrono::Utc::now);
        state.created.insert(spec.name.clone(), created);
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
