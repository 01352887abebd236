//! Managed notebooks found by their tags in bulk (Resource Groups Tagging API): 100 a page.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_resourcegroupstagging::types::TagFilter;

use super::classify;
use crate::domain::tags;
use crate::error::AwsError;
use crate::ports::AwsResult;

/// How many times a listing starts over from its first page when the service no longer knows its page token:
/// AWS keeps a token 15 minutes, and a page whose answer was lost on the way cannot be asked for again with it.
const LISTING_RESTARTS: u32 = 3;

/// Tags of every notebook this project manages that also carries each `(key, value)` of `also`, by lower-case
/// ARN (the case SageMaker writes them in). A listing whose page token expired starts over (at most
/// [`LISTING_RESTARTS`] times) rather than end early: a truncated listing is never returned as complete.
pub(crate) async fn managed_notebooks_tagged(
    client: &aws_sdk_resourcegroupstagging::Client,
    also: &[(&str, &str)],
) -> AwsResult<HashMap<String, BTreeMap<String, String>>> {
    let mut restarts = 0;
    loop {
        match list_once(client, also).await {
            Err(error) if token_expired(&error) && restarts < LISTING_RESTARTS => {
                restarts += 1;
                tracing::warn!(restarts, error = %error, "the tagged notebooks' listing starts over");
            }
            listed => return listed,
        }
    }
}

fn token_expired(error: &AwsError) -> bool {
    error.code.as_deref() == Some("PaginationTokenExpiredException")
}

async fn list_once(
    client: &aws_sdk_resourcegroupstagging::Client,
    also: &[(&str, &str)],
) -> AwsResult<HashMap<String, BTreeMap<String, String>>> {
    let mut tagged = HashMap::new();
    let mut token: Option<String> = None;
    // Paged by hand: every request names its page size, so no page falls back to the service's defaults.
    loop {
        let mut request = client
            .get_resources()
            .resource_type_filters("sagemaker:notebook-instance")
            .tag_filters(TagFilter::builder().key(tags::MANAGED_BY).values(tags::MANAGED_BY_VALUE).build());
        for (key, value) in also {
            request = request.tag_filters(TagFilter::builder().key(*key).values(*value).build());
        }
        let page = request
            // At most 100 resources and 500 tags a page (both maxima): 100 notebooks a page while they carry
            // no more than 5 tags each.
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
