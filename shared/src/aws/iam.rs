//! [`Roles`] over IAM: the notebook roles, their boundary, tags and inline policy.

use aws_sdk_iam::types::{Role, Tag};
use aws_sdk_iam::Client;
use tracing::instrument;

use super::{classify, not_found_as_none};
use crate::domain::notebook::{RoleRecord, RoleSpec};
use crate::domain::policy::{PolicyDocument, NOTEBOOK_POLICY_NAME};
use crate::error::{AwsError, ErrorKind};
use crate::ports::{AwsResult, Roles};

#[derive(Debug, Clone)]
pub struct IamRoles {
    client: Client,
}

impl IamRoles {
    pub fn new(client: Client) -> Self {
        IamRoles { client }
    }
}

fn iam_codes(code: &str, _message: &str) -> Option<ErrorKind> {
    match code {
        "EntityAlreadyExists" => Some(ErrorKind::AlreadyExists),
        "NoSuchEntity" => Some(ErrorKind::NotFound),
        "MalformedPolicyDocument" | "InvalidInput" | "LimitExceeded" => Some(ErrorKind::Invalid),
        "ConcurrentModification" => Some(ErrorKind::Transient),
        _ => None,
    }
}

fn record(role: Role) -> RoleRecord {
    RoleRecord {
        tags: role.tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect(),
        name: role.role_name,
        arn: role.arn,
    }
}

fn tag(key: &str, value: &str) -> AwsResult<Tag> {
    Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(|e| AwsError::new("CreateRole", ErrorKind::Invalid, None, e.to_string()))
}

impl Roles for IamRoles {
    #[instrument(skip(self, spec), fields(role = %spec.name))]
    async fn create_role(&self, spec: &RoleSpec) -> AwsResult<RoleRecord> {
        let tags = spec.tags.iter().map(|(k, v)| tag(k, v)).collect::<AwsResult<Vec<_>>>()?;
        let output = self
            .client
            .create_role()
            .role_name(&spec.name)
            .path(&spec.path)
            .description(&spec.description)
            .assume_role_policy_document(spec.trust_policy.to_json())
            .permissions_boundary(&spec.permissions_boundary_arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| classify("CreateRole", e, iam_codes))?;
        let role =
            output.role.ok_or_else(|| AwsError::new("CreateRole", ErrorKind::Other, None, "no role in the answer"))?;
        Ok(record(role))
    }

    #[instrument(skip(self))]
    async fn get_role(&self, name: &str) -> AwsResult<Option<RoleRecord>> {
        let output = self.client.get_role().role_name(name).send().await.map_err(|e| classify("GetRole", e, iam_codes));
        Ok(not_found_as_none(output)?.and_then(|output| output.role).map(record))
    }

    #[instrument(skip(self, spec), fields(role = %spec.name))]
    async fn put_inline_policy(&self, spec: &RoleSpec) -> AwsResult<()> {
        self.client
            .put_role_policy()
            .role_name(&spec.name)
            .policy_name(&spec.inline_policy_name)
            .policy_document(spec.inline_policy.to_json())
            .send()
            .await
            .map_err(|e| classify("PutRolePolicy", e, iam_codes))?;
        Ok(())
    }

    #[instrument(skip(self))]
    async fn inline_policy(&self, role_name: &str) -> AwsResult<Option<PolicyDocument>> {
        let output = self
            .client
            .get_role_policy()
            .role_name(role_name)
            .policy_name(NOTEBOOK_POLICY_NAME)
            .send()
            .await
            .map_err(|e| classify("GetRolePolicy", e, iam_codes));
        let Some(output) = not_found_as_none(output)? else { return Ok(None) };
        // IAM answers the document URL-encoded.
        let text = percent_encoding::percent_decode_str(&output.policy_document).decode_utf8_lossy();
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| AwsError::new("GetRolePolicy", ErrorKind::Invalid, None, format!("unreadable policy: {e}")))
    }

    #[instrument(skip(self, policy))]
    async fn replace_inline_policy(&self, role_name: &str, policy: &PolicyDocument) -> AwsResult<()> {
        self.client
            .put_role_policy()
            .role_name(role_name)
            .policy_name(NOTEBOOK_POLICY_NAME)
            .policy_document(policy.to_json())
            .send()
            .await
            .map_err(|e| classify("PutRolePolicy", e, iam_codes))?;
        Ok(())
    }

    #[instrument(skip(self))]
    async fn delete_role(&self, role_name: &str) -> AwsResult<()> {
        delete_inline_policy(&self.client, role_name).await?;
        let deleted = self.client.delete_role().role_name(role_name).send().await;
        not_found_as_none(deleted.map_err(|e| classify("DeleteRole", e, iam_codes)))?;
        Ok(())
    }
}

/// Deletes the notebook-fleet inline policy of a role: the role keeps no permission. Already gone is success.
pub(crate) async fn delete_inline_policy(client: &Client, role_name: &str) -> AwsResult<()> {
    let deleted = client.delete_role_policy().role_name(role_name).policy_name(NOTEBOOK_POLICY_NAME).send().await;
    not_found_as_none(deleted.map_err(|e| classify("DeleteRolePolicy", e, iam_codes)))?;
    Ok(())
}
