//! [`Fleet`] over SageMaker and the Resource Groups Tagging API: the fleet and its tags in bulk, 100 a page.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_resourcegroupstagging::types::TagFilter;
use aws_sdk_sagemaker::types::NotebookInstanceStatus;
use tracing::instrument;

use super::{classify, to_chrono};
use crate::domain::notebook::{ListedNotebook, NotebookStatus};
use crate::domain::tags;
use crate::error::ErrorKind;
use crate::ports::{AwsResult, Fleet};

#[derive(Debug, Clone)]
pub struct SageMakerFleet {
    sagemaker: aws_sdk_sagemaker::Client,
    tagging: aws_sdk_resourcegroupstagging::Client,
}

impl SageMakerFleet {
    pub fn new(sagemaker: aws_sdk_sagemaker::Client, tagging: aws_sdk_resourcegroupstagging::Client) -> Self {
        SageMakerFleet { sagemaker, tagging }
    }
}

impl Fleet for SageMakerFleet {
    #[instrument(skip(self))]
    async fn in_service_notebooks(&self) -> AwsResult<Vec<ListedNotebook>> {
        let mut notebooks = Vec::new();
        let mut pages = self
            .sagemaker
            .list_notebook_instances()
            .status_equals(NotebookInstanceStatus::InService)
            .max_results(100)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListNotebookInstances", e, |_, _| None))?;
            for summary in page.notebook_instances.unwrap_or_default() {
                let (Some(name), Some(arn)) = (summary.notebook_instance_name, summary.notebook_instance_arn) else {
                    continue;
                };
                notebooks.push(ListedNotebook {
                    status: NotebookStatus::parse(summary.notebook_instance_status.as_ref().map_or("", |s| s.as_str())),
                    instance_type: summary.instance_type.map(|t| t.as_str().to_owned()).unwrap_or_default(),
                    last_modified: summary
                        .last_modified_time
                        .or(summary.creation_time)
                        .as_ref()
                        .map(to_chrono)
                        .unwrap_or_default(),
                    name,
                    arn,
                });
            }
        }
        Ok(notebooks)
    }

    #[instrument(skip(self))]
    async fn managed_notebook_tags(&self) -> AwsResult<HashMap<String, BTreeMap<String, String>>> {
        let mut tagged = HashMap::new();
        let mut token: Option<String> = None;
        // Paged by hand: every request names its page size, so no page falls back to the service's defaults.
        loop {
            let page = self
                .tagging
                .get_resources()
                .resource_type_filters("sagemaker:notebook-instance")
                .tag_filters(TagFilter::builder().key(tags::MANAGED_BY).values(tags::MANAGED_BY_VALUE).build())
                // At most 100 resources and 500 tags a page (both maxima): 100 notebooks a page while they
                // carry no more than 5 tags each, which the project's own tags fit.
                .resources_per_page(100)
                .tags_per_page(500)
                .set_pagination_token(token.take())
                .send()
                .await
                .map_err(|e| classify("GetResources", e, |_, _| None))?;
            for resource in page.resource_tag_mapping_list.unwrap_or_default() {
                let Some(arn) = resource.resource_arn else { continue };
                let tags = resource.tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect();
                tagged.insert(arn.to_ascii_lowercase(), tags);
            }
            match page.pagination_token.filter(|t| !t.is_empty()) {
                Some(next) => token = Some(next),
                None => return Ok(tagged),
            }
        }
    }

    #[instrument(skip(self))]
    async fn stop_notebook(&self, name: &str) -> AwsResult<()> {
        self.sagemaker.stop_notebook_instance().notebook_instance_name(name).send().await.map_err(|e| {
            classify("StopNotebookInstance", e, |code, _| {
                matches!(code, "ValidationException" | "ValidationError").then_some(ErrorKind::Invalid)
            })
        })?;
        Ok(())
    }
}
