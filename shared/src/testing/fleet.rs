//! [`Fleet`] in memory: the sweeper's bulk view of the notebooks [`Notebooks`] keeps, and its revocation of a
//! role's inline policy.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;

use super::FakeAws;
use crate::domain::notebook::{ListedNotebook, NotebookStatus};
use crate::domain::tags;
use crate::ports::{AwsResult, Fleet, Notebooks};

impl Fleet for FakeAws {
    async fn in_service_notebooks(&self) -> AwsResult<Vec<ListedNotebook>> {
        self.call("ListNotebookInstances")?;
        let state = self.state();
        Ok(state
            .notebooks
            .values()
            .filter(|(_, record)| record.status == NotebookStatus::InService)
            .map(|(spec, record)| ListedNotebook {
                name: record.name.clone(),
                arn: record.arn.clone(),
                status: record.status.clone(),
                instance_type: spec.instance_type.clone(),
                last_modified: state.last_modified.get(&record.name).copied().unwrap_or_else(Utc::now),
            })
            .collect())
    }

    /// As the tagging API filtered on the managed-by key: every notebook that carries it, by lower-case ARN.
    async fn managed_notebook_tags(&self) -> AwsResult<HashMap<String, BTreeMap<String, String>>> {
        self.call("GetResources")?;
        Ok(self
            .state()
            .notebooks
            .values()
            .map(|(spec, record)| {
                (record.arn.to_ascii_lowercase(), spec.tags.iter().cloned().collect::<BTreeMap<_, _>>())
            })
            .filter(|(_, found)| found.contains_key(tags::MANAGED_BY))
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
