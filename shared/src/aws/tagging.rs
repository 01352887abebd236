//! Tags in bulk (Resource Groups Tagging API): the managed notebooks that carry given tags, paged (at most 100
//! notebooks and 500 tags a page), and the tags of up to 100 resources named by ARN, in one call.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_resourcegroupstagging::types::TagFilter;

use super::classify;
use crate::domain::tags;
use crate::error::{AwsError, ErrorKind};
use crate::ports::AwsResult;

/// How many times a listing starts over from its first page when the service no longer knows its page token:
/// AWS keeps a token 15 minutes, and a page whose answer was lost on the way cannot be asked for again with it.
const LISTING_RESTARTS: u32 = 3;

/// Tags of every notebook this project manages that also carries each `(key, value)` of `also` (any value
/// where it is `None`), by lower-case
/// ARN (the case SageMaker writes them in). A listing whose page token expired starts over (at most
/// [`LISTING_RESTARTS`] times) rather than end early: a truncated listing is never returned as complete.
pub(crate) async fn managed_notebooks_tagged(
    client: &aws_sdk_resourcegroupstagging::Client,
    also: &[(&str, Option<&str>)],
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
    also: &[(&str, Option<&str>)],
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
            request = request
                .tag_filters(TagFilter::builder().key(*key).set_values(value.map(|v| vec![v.to_owned()])).build());
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

/// The most ARNs one `GetResources` call may name.
pub(crate) const ARNS_PER_CALL: usize = 100;

/// The tags of the resources `arns` names, by lower-case ARN; a resource that has no tags (or no longer
/// exists) is not in the answer. One call per [`ARNS_PER_CALL`] ARNs: AWS answers such a call whole (it takes
/// no page size, no page token, no filter), so an answer that still carries a page token is refused rather
/// than taken as complete.
pub(crate) async fn tags_by_arn(
    client: &aws_sdk_resourcegroupstagging::Client,
    arns: &[String],
) -> AwsResult<HashMap<String, BTreeMap<String, String>>> {
    let mut tagged = HashMap::new();
    for chunk in arns.chunks(ARNS_PER_CALL) {
        let answer = client
            .get_resources()
            .set_resource_arn_list(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| classify("GetResources", e, |_, _| None))?;
        if answer.pagination_token.as_deref().is_some_and(|token| !token.is_empty()) {
            return Err(AwsError::new(
                "GetResources",
                ErrorKind::Other,
                None,
                format!(
                    "the tags of {} notebooks came with a page token, which AWS never answers for a list of \
                     ARNs: the tags may be incomplete, so the listing is not used",
                    chunk.len()
                ),
            ));
        }
        for resource in answer.resource_tag_mapping_list.unwrap_or_default() {
            let Some(arn) = resource.resource_arn else { continue };
            let tags = resource.tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect();
            tagged.insert(arn.to_ascii_lowercase(), tags);
        }
    }
    Ok(tagged)
}
