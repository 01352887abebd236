//! [`Fleet`] over SageMaker and the Resource Groups Tagging API: the notebooks in service, 100 a page, each
//! page's tags asked for by ARN as soon as the page arrives, while the listing goes on.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_sagemaker::operation::list_notebook_instances::ListNotebookInstancesOutput;
use aws_sdk_sagemaker::types::NotebookInstanceStatus;
use futures::{StreamExt, TryStreamExt};
use tracing::instrument;

use super::iam::delete_inline_policy;
use super::sagemaker::add_tags;
use super::tagging::{managed_notebooks_tagged, tags_by_arn};
use super::{classify, to_chrono};
use crate::domain::notebook::{ListedNotebook, NotebookStatus};
use crate::domain::tags;
use crate::error::ErrorKind;
use crate::ports::{AwsResult, Fleet};

#[derive(Debug, Clone)]
pub struct SageMakerFleet {
    pub(super) sagemaker: aws_sdk_sagemaker::Client,
    tagging: aws_sdk_resourcegroupstagging::Client,
    pub(super) iam: aws_sdk_iam::Client,
}

impl SageMakerFleet {
    pub fn new(
        sagemaker: aws_sdk_sagemaker::Client,
        tagging: aws_sdk_resourcegroupstagging::Client,
        iam: aws_sdk_iam::Client,
    ) -> Self {
        SageMakerFleet { sagemaker, tagging, iam }
    }
}

/// Tag calls in flight while the listing goes on. One per listing page is asked for as the page arrives, so
/// at AWS's round-trip times about one is in flight; the bound only matters when the listing is faster.
const TAG_CALLS_IN_FLIGHT: usize = 4;

impl Fleet for SageMakerFleet {
    /// The tags are one `GetResources` per page of 100, for the notebooks in service only, and off the
    /// listing's critical path: the sweep waits for the listing plus the last page's tags, not for a second
    /// paged listing of every managed notebook (which a page of 500 tags holds 83 of, at six tags each).
    #[instrument(skip(self))]
    async fn in_service_notebooks(&self) -> AwsResult<Vec<ListedNotebook>> {
        let pages = self
            .sagemaker
            .list_notebook_instances()
            .status_equals(NotebookInstanceStatus::InService)
            .max_results(100)
            .into_paginator()
            .send();
        let pages = futures::stream::unfold(pages, |mut pages| async move { pages.next().await.map(|p| (p, pages)) });
        let tagging = &self.tagging;
        let tagged: Vec<Vec<ListedNotebook>> = pages
            .map(|page| async move {
                let mut listed = listed(page.map_err(|e| classify("ListNotebookInstances", e, |_, _| None))?);
                let arns: Vec<String> = listed.iter().map(|n| n.arn.clone()).collect();
                let mut tags = tags_by_arn(tagging, &arns).await?;
                for notebook in &mut listed {
                    notebook.tags = tags.remove(&notebook.arn.to_ascii_lowercase()).unwrap_or_default();
                }
                AwsResult::Ok(listed)
            })
            .buffered(TAG_CALLS_IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(tagged.into_iter().flatten().collect())
    }

    /// Custodian notebooks are few: one page, usually.
    #[instrument(skip(self))]
    async fn expiring_notebook_tags(&self) -> AwsResult<HashMap<String, BTreeMap<String, String>>> {
        managed_notebooks_tagged(&self.tagging, &[(tags::ACCESS_EXPIRES_AT, None)]).await
    }

    #[instrument(skip(self))]
    async fn stop_notebook(&self, name: &str) -> AwsResult<()> {
        let stopped = self.sagemaker.stop_notebook_instance().notebook_instance_name(name).send().await.map_err(|e| {
            classify("StopNotebookInstance", e, |code, _| {
                matches!(code, "ValidationException" | "ValidationError").then_some(ErrorKind::Invalid)
            })
        });
        match stopped {
            Ok(_) => Ok(()),
            // A retried stop whose first answer was lost (the stop was done), or a stop a moment ago: the
            // notebook is on its way down, which is what the sweep asked for.
            Err(error) if error.is(ErrorKind::Invalid) && already_stopping(&error.message) => {
                tracing::info!(notebook = name, %error, "the notebook is already stopping");
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    #[instrument(skip(self))]
    async fn tag_notebook(&self, arn: &str, tags: &[(String, String)]) -> AwsResult<()> {
        add_tags(&self.sagemaker, arn, tags).await
    }

    #[instrument(skip(self))]
    async fn revoke_role(&self, role_name: &str) -> AwsResult<()> {
        delete_inline_policy(&self.iam, role_name).await
    }
}

/// The notebooks of one listing page, without their tags yet.
fn listed(page: ListNotebookInstancesOutput) -> Vec<ListedNotebook> {
    page.notebook_instances
        .unwrap_or_default()
        .into_iter()
        .filter_map(|summary| {
            Some(ListedNotebook {
                status: NotebookStatus::parse(summary.notebook_instance_status.as_ref().map_or("", |s| s.as_str())),
                instance_type: summary.instance_type.map(|t| t.as_str().to_owned()).unwrap_or_default(),
                last_modified: summary
                    .last_modified_time
                    .or(summary.creation_time)
                    .as_ref()
                    .map(to_chrono)
                    .unwrap_or_default(),
                name: summary.notebook_instance_name?,
                arn: summary.notebook_instance_arn?,
                tags: Default::default(),
            })
        })
        .collect()
}

/// SageMaker refuses to stop a notebook that is not in service with `Status (Stopping) not in
/// ([InService])`: one stopping or stopped already is not a failure of the sweep.
fn already_stopping(message: &str) -> bool {
    ["Status (Stopping)", "Status (Stopped)"].iter().any(|status| message.contains(status))
}

#[cfg(test)]
mod tests {
    use super::already_stopping;

    #[test]
    fn a_notebook_already_on_its_way_down_is_not_a_failed_stop() {
        let refused = |status: &str| {
            format!(
                "Status ({status}) not in ([InService]). Unable to transition to (Stopping) for Notebook Instance \
                 (arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/nb)"
            )
        };
        assert!(already_stopping(&refused("Stopping")) && already_stopping(&refused("Stopped")));
        assert!(!already_stopping(&refused("Pending")) && !already_stopping(&refused("Updating")));
        assert!(!already_stopping("1 validation error detected: Value 'x y' at 'notebookInstanceName'"));
    }
}
