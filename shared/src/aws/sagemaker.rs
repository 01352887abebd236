//! [`Notebooks`] over SageMaker: notebook instances and lifecycle configurations.

use std::collections::BTreeMap;

use aws_sdk_sagemaker::types::{
    DirectInternetAccess, InstanceMetadataServiceConfiguration, InstanceType, NotebookInstanceLifecycleHook,
    RootAccess, Tag,
};
use aws_sdk_sagemaker::Client;
use tracing::instrument;

use super::tagging::managed_notebooks_tagged;
use super::{classify, not_found_as_none};
use crate::domain::lifecycle::LifecycleConfig;
use crate::domain::notebook::{NotebookRecord, NotebookSpec, NotebookStatus};
use crate::domain::tags;
use crate::error::{AwsError, ErrorKind};
use crate::ports::{AwsResult, Notebooks};

#[derive(Debug, Clone)]
pub struct SageMakerNotebooks {
    client: Client,
    tagging: aws_sdk_resourcegroupstagging::Client,
}

impl SageMakerNotebooks {
    pub fn new(client: Client, tagging: aws_sdk_resourcegroupstagging::Client) -> Self {
        SageMakerNotebooks { client, tagging }
    }
}

/// Adds (or overwrites) tags on a notebook.
pub(crate) async fn add_tags(client: &Client, arn: &str, added: &[(String, String)]) -> AwsResult<()> {
    client
        .add_tags()
        .resource_arn(arn)
        .set_tags(Some(sdk_tags(added)))
        .send()
        .await
        .map_err(|e| classify("AddTags", e, sagemaker_codes))?;
    Ok(())
}

/// SageMaker reports most conditions as `ValidationException` and tells them apart in the message.
pub(crate) fn sagemaker_codes(code: &str, message: &str) -> Option<ErrorKind> {
    let lower = message.to_ascii_lowercase();
    match code {
        "ResourceInUse" => Some(ErrorKind::AlreadyExists),
        "ResourceNotFound" => Some(ErrorKind::NotFound),
        "ResourceLimitExceeded" => Some(ErrorKind::Invalid),
        "ValidationException" | "ValidationError" => {
            Some(if lower.contains("already exist") || lower.contains("duplicate") {
                ErrorKind::AlreadyExists
            } else if lower.contains("recordnotfound")
                || lower.contains("does not exist")
                || lower.contains("not found")
            {
                ErrorKind::NotFound
            } else {
                ErrorKind::Invalid
            })
        }
        _ => None,
    }
}

/// On `CreateNotebookInstance`, a role that IAM has not yet propagated shows as a validation error about
/// the role; that one is worth retrying.
fn create_notebook_codes(code: &str, message: &str) -> Option<ErrorKind> {
    let kind = sagemaker_codes(code, message);
    let lower = message.to_ascii_lowercase();
    if kind == Some(ErrorKind::Invalid)
        && lower.contains("role")
        && (lower.contains("assume") || lower.contains("not valid") || lower.contains("does not exist"))
    {
        return Some(ErrorKind::NotReady);
    }
    kind
}

fn sdk_tags(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

impl Notebooks for SageMakerNotebooks {
    #[instrument(skip(self, config), fields(name = %config.name))]
    async fn create_lifecycle_config(&self, config: &LifecycleConfig) -> AwsResult<()> {
        self.client
            .create_notebook_instance_lifecycle_config()
            .notebook_instance_lifecycle_config_name(&config.name)
            .on_start(NotebookInstanceLifecycleHook::builder().content(&config.on_start_base64).build())
            .send()
            .await
            .map_err(|e| classify("CreateNotebookInstanceLifecycleConfig", e, sagemaker_codes))?;
        Ok(())
    }

    #[instrument(skip(self))]
    async fn describe_notebook(&self, name: &str) -> AwsResult<Option<NotebookRecord>> {
        let output = self.client.describe_notebook_instance().notebook_instance_name(name).send().await;
        let Some(output) =
            not_found_as_none(output.map_err(|e| classify("DescribeNotebookInstance", e, sagemaker_codes)))?
        else {
            return Ok(None);
        };
        Ok(output.notebook_instance_arn.map(|arn| NotebookRecord {
            name: output.notebook_instance_name.unwrap_or_else(|| name.to_owned()),
            arn,
            status: NotebookStatus::parse(output.notebook_instance_status.as_ref().map_or("", |s| s.as_str())),
            role_arn: output.role_arn,
            lifecycle_config_name: output.notebook_instance_lifecycle_config_name,
            subnet_id: output.subnet_id,
            security_group_ids: output.security_groups.unwrap_or_default(),
        }))
    }

    #[instrument(skip(self))]
    async fn notebook_tags(&self, arn: &str) -> AwsResult<BTreeMap<String, String>> {
        let mut tags = BTreeMap::new();
        let mut pages = self.client.list_tags().resource_arn(arn).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListTags", e, sagemaker_codes))?;
            tags.extend(page.tags.unwrap_or_default().into_iter().filter_map(|t| Some((t.key?, t.value?))));
        }
        Ok(tags)
    }

    #[instrument(skip(self, spec), fields(name = %spec.name))]
    async fn create_notebook(&self, spec: &NotebookSpec) -> AwsResult<String> {
        let output = self
            .client
            .create_notebook_instance()
            .notebook_instance_name(&spec.name)
            .instance_type(InstanceType::from(spec.instance_type.as_str()))
            .subnet_id(&spec.subnet_id)
            .set_security_group_ids(Some(spec.security_group_ids.clone()))
            .role_arn(&spec.role_arn)
            .set_kms_key_id(spec.kms_key_id.clone())
            .lifecycle_config_name(&spec.lifecycle_config_name)
            .direct_internet_access(DirectInternetAccess::Disabled)
            .volume_size_in_gb(i32::try_from(spec.volume_size_gb).unwrap_or(i32::MAX))
            .root_access(if spec.root_access { RootAccess::Enabled } else { RootAccess::Disabled })
            .platform_identifier(&spec.platform_identifier)
            .instance_metadata_service_configuration(
                InstanceMetadataServiceConfiguration::builder().minimum_instance_metadata_service_version("2").build(),
            )
            .set_tags(Some(sdk_tags(&spec.tags)))
            .send()
            .await
            .map_err(|e| classify("CreateNotebookInstance", e, create_notebook_codes))?;
        output
            .notebook_instance_arn
            .ok_or_else(|| AwsError::new("CreateNotebookInstance", ErrorKind::Other, None, "no ARN in the answer"))
    }

    #[instrument(skip(self))]
    async fn stop_notebook(&self, name: &str) -> AwsResult<()> {
        self.client
            .stop_notebook_instance()
            .notebook_instance_name(name)
            .send()
            .await
            .map_err(|e| classify("StopNotebookInstance", e, sagemaker_codes))?;
        Ok(())
    }

    #[instrument(skip(self))]
    async fn start_notebook(&self, name: &str) -> AwsResult<()> {
        self.client
            .start_notebook_instance()
            .notebook_instance_name(name)
            .send()
            .await
            .map_err(|e| classify("StartNotebookInstance", e, sagemaker_codes))?;
        Ok(())
    }

    #[instrument(skip(self, added))]
    async fn tag_notebook(&self, arn: &str, added: &[(String, String)]) -> AwsResult<()> {
        add_tags(&self.client, arn, added).await
    }

    #[instrument(skip(self))]
    async fn delete_notebook(&self, name: &str) -> AwsResult<()> {
        self.client
            .delete_notebook_instance()
            .notebook_instance_name(name)
            .send()
            .await
            .map_err(|e| classify("DeleteNotebookInstance", e, sagemaker_codes))?;
        Ok(())
    }

    #[instrument(skip(self))]
    async fn owned_notebooks(&self, owner: &str) -> AwsResult<Vec<(String, BTreeMap<String, String>)>> {
        let mut owned: Vec<_> =
            managed_notebooks_tagged(&self.tagging, &[(tags::OWNER, Some(owner))]).await?.into_iter().collect();
        owned.sort();
        Ok(owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sagemaker_messages_are_told_apart() {
        assert_eq!(sagemaker_codes("ValidationException", "RecordNotFound"), Some(ErrorKind::NotFound));
        assert_eq!(
            sagemaker_codes("ValidationException", "Cannot create a duplicate Notebook Instance"),
            Some(ErrorKind::AlreadyExists)
        );
        assert_eq!(sagemaker_codes("ResourceLimitExceeded", "quota"), Some(ErrorKind::Invalid));
        assert_eq!(
            create_notebook_codes("ValidationException", "Could not assume role arn:aws:iam::1:role/x"),
            Some(ErrorKind::NotReady)
        );
        assert_eq!(create_notebook_codes("ValidationException", "Volume size too large"), Some(ErrorKind::Invalid));
    }
}
