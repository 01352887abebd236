//! [`FleetResources`] over SageMaker and IAM: every notebook (any status), the roles under the fleet's path
//! and the fleet's lifecycle configurations, each listed in pages; and the two deletions.

use tracing::instrument;

use super::fleet::SageMakerFleet;
use super::iam::IamRoles;
use super::sagemaker::sagemaker_codes;
use super::{classify, not_found_as_none, to_chrono};
use crate::domain::leftovers::Listed;
use crate::domain::lifecycle::LIFECYCLE_CONFIG_PREFIX;
use crate::ports::{AwsResult, FleetResources, Roles};

impl FleetResources for SageMakerFleet {
    #[instrument(skip(self))]
    async fn all_notebooks(&self) -> AwsResult<Vec<(String, Option<String>)>> {
        let mut notebooks = Vec::new();
        let mut pages = self.sagemaker.list_notebook_instances().max_results(100).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListNotebookInstances", e, |_, _| None))?;
            for summary in page.notebook_instances.unwrap_or_default() {
                if let Some(name) = summary.notebook_instance_name {
                    notebooks.push((name, summary.notebook_instance_lifecycle_config_name));
                }
            }
        }
        Ok(notebooks)
    }

    #[instrument(skip(self))]
    async fn roles_under(&self, path: &str) -> AwsResult<Vec<Listed>> {
        let mut roles = Vec::new();
        let mut pages = self.iam.list_roles().path_prefix(path).max_items(1000).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListRoles", e, |_, _| None))?;
            for role in page.roles {
                roles.push(Listed {
                    name: role.role_name,
                    path: Some(role.path),
                    created: to_chrono(&role.create_date),
                });
            }
        }
        Ok(roles)
    }

    #[instrument(skip(self))]
    async fn fleet_lifecycle_configs(&self) -> AwsResult<Vec<Listed>> {
        let mut configs = Vec::new();
        let mut pages = self
            .sagemaker
            .list_notebook_instance_lifecycle_configs()
            .name_contains(LIFECYCLE_CONFIG_PREFIX)
            .max_results(100)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListNotebookInstanceLifecycleConfigs", e, |_, _| None))?;
            for config in page.notebook_instance_lifecycle_configs.unwrap_or_default() {
                let (Some(name), Some(created)) =
                    (config.notebook_instance_lifecycle_config_name, config.creation_time)
                else {
                    continue;
                };
                configs.push(Listed { name, path: None, created: to_chrono(&created) });
            }
        }
        Ok(configs)
    }

    #[instrument(skip(self))]
    async fn delete_role(&self, role_name: &str) -> AwsResult<()> {
        IamRoles::new(self.iam.clone()).delete_role(role_name).await
    }

    #[instrument(skip(self))]
    async fn delete_lifecycle_config(&self, name: &str) -> AwsResult<()> {
        let deleted = self
            .sagemaker
            .delete_notebook_instance_lifecycle_config()
            .notebook_instance_lifecycle_config_name(name)
            .send()
            .await
            .map_err(|e| classify("DeleteNotebookInstanceLifecycleConfig", e, sagemaker_codes));
        not_found_as_none(deleted)?;
        Ok(())
    }
}
