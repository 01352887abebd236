//! [`Fleet`] in memory: the sweeper's bulk view of the notebooks [`Notebooks`] keeps, and its revocation of a
//! role's inline policy.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::FakeAws;
use crate::domain::leftovers::Listed;
use crate::domain::lifecycle::LIFECYCLE_CONFIG_PREFIX;
use crate::domain::notebook::{ListedNotebook, NotebookStatus};
use crate::domain::tags;
use crate::ports::{AwsResult, Fleet, FleetResources, Notebooks, Roles};

impl Fleet for FakeAws {
    /// As SageMaker lists them, 100 a page, each page's tags asked for by ARN (one `GetResources` a page).
    async fn in_service_notebooks(&self) -> AwsResult<Vec<ListedNotebook>> {
        self.call("ListNotebookInstances")?;
        let listed: Vec<ListedNotebook> = {
            let state = self.state();
            state
                .notebooks
                .values()
                .filter(|(_, record)| record.status == NotebookStatus::InService)
                .map(|(spec, record)| ListedNotebook {
                    name: record.name.clone(),
                    arn: record.arn.clone(),
                    status: record.status.clone(),
                    instance_type: spec.instance_type.clone(),
                    last_modified: state.last_modified.get(&record.name).copied().unwrap_or_else(Utc::now),
                    tags: spec.tags.iter().cloned().collect(),
                })
                .collect()
        };
        for _ in listed.chunks(100) {
            self.call("GetResources")?;
        }
        Ok(listed)
    }

    /// As the tagging API filtered on the managed-by and access-expiry keys.
    async fn expiring_notebook_tags(&self) -> AwsResult<HashMap<String, BTreeMap<String, String>>> {
        self.call("GetResources")?;
        Ok(self
            .state()
            .notebooks
            .values()
            .map(|(spec, record)| {
                (record.arn.to_ascii_lowercase(), spec.tags.iter().cloned().collect::<BTreeMap<_, _>>())
            })
            .filter(|(_, found)| found.contains_key(tags::MANAGED_BY) && found.contains_key(tags::ACCESS_EXPIRES_AT))
            .collect())
    }

    async fn stop_notebook(&self, name: &str) -> AwsResult<()> {
        Notebooks::stop_notebook(self, name).await
    }

    async fn tag_notebook(&self, arn: &str, tags: &[(String, String)]) -> AwsResult<()> {
        Notebooks::tag_notebook(self, arn, tags).await
    }

    async fn revoke_role(&self, role_name: &str) -> AwsResult<()> {
        self.call("DeleteRolePolicy")?;
        self.state().inline_policies.remove(role_name);
        Ok(())
    }
}

impl FleetResources for FakeAws {
    async fn all_notebooks(&self) -> AwsResult<Vec<(String, Option<String>)>> {
        self.call("ListNotebookInstances")?;
        let state = self.state();
        let managed =
            state.notebooks.values().map(|(spec, r)| (r.name.clone(), Some(spec.lifecycle_config_name.clone())));
        let foreign = state.foreign_notebooks.values().map(|r| (r.name.clone(), r.lifecycle_config_name.clone()));
        Ok(managed.chain(foreign).collect())
    }

    async fn roles_under(&self, path: &str) -> AwsResult<Vec<Listed>> {
        self.call("ListRoles")?;
        let state = self.state();
        Ok(state
            .roles
            .values()
            .filter(|(spec, _)| spec.path.starts_with(path))
            .map(|(spec, _)| Listed {
                name: spec.name.clone(),
                path: Some(spec.path.clone()),
                created: state.created.get(&spec.name).copied().unwrap_or(DateTime::UNIX_EPOCH),
            })
            .collect())
    }

    async fn fleet_lifecycle_configs(&self) -> AwsResult<Vec<Listed>> {
        self.call("ListNotebookInstanceLifecycleConfigs")?;
        let state = self.state();
        Ok(state
            .lifecycle_configs
            .keys()
            .filter(|name| name.contains(LIFECYCLE_CONFIG_PREFIX))
            .map(|name| Listed {
                name: name.clone(),
                path: None,
                created: state.created.get(name).copied().unwrap_or(DateTime::UNIX_EPOCH),
            })
            .collect())
    }

    async fn delete_role(&self, role_name: &str) -> AwsResult<()> {
        Roles::delete_role(self, role_name).await
    }

    async fn delete_lifecycle_config(&self, name: &str) -> AwsResult<()> {
        self.call("DeleteNotebookInstanceLifecycleConfig")?;
        self.state().lifecycle_configs.remove(name);
        Ok(())
    }
}
