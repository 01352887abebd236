//! [`Notebooks`] in memory: notebook instances, their tags and lifecycle configurations, as SageMaker keeps them.

use std::collections::BTreeMap;

use super::FakeAws;
use crate::domain::lifecycle::LifecycleConfig;
use crate::domain::notebook::{NotebookRecord, NotebookSpec, NotebookStatus};
use crate::domain::tags;
use crate::error::{AwsError, ErrorKind};
use crate::ports::{AwsResult, Notebooks};

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
        let created = state.clock.unwrap_or_else(chrono::Utc::now);
        state.created.insert(config.name.clone(), created);
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
