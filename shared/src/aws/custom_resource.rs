//! The answer a CloudFormation custom resource owes its stack: one PUT of a JSON document to the
//! request's presigned `ResponseURL`. Without it the stack waits for an hour, so every path answers.

use std::collections::HashMap;

use aws_lambda_events::cloudformation::{
    CloudFormationCustomResourceRequest, CloudFormationCustomResourceResponse,
    CloudFormationCustomResourceResponseStatus,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::error::{AwsError, ErrorKind};

/// The fields of a request that its answer echoes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomResourceContext {
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub physical_resource_id: String,
}

/// The one physical id of the published assets: updates keep it, so CloudFormation never replaces (and so
/// never deletes) them.
pub const ASSETS_PHYSICAL_ID: &str = "notebook-fleet-lifecycle-assets";

impl CustomResourceContext {
    /// The context of a request, and whether it asks for a delete; `None` for a request type this version
    /// of the events crate does not know.
    pub fn of(request: &CloudFormationCustomResourceRequest) -> Option<(Self, bool)> {
        let context = |url: &str, stack: &str, id: &str, logical: &str, physical: Option<&str>| CustomResourceContext {
            response_url: url.to_owned(),
            stack_id: stack.to_owned(),
            request_id: id.to_owned(),
            logical_resource_id: logical.to_owned(),
            physical_resource_id: physical.unwrap_or(ASSETS_PHYSICAL_ID).to_owned(),
        };
        Some(match request {
            CloudFormationCustomResourceRequest::Create(r) => {
                (context(&r.response_url, &r.stack_id, &r.request_id, &r.logical_resource_id, None), false)
            }
            CloudFormationCustomResourceRequest::Update(r) => (
                context(
                    &r.response_url,
                    &r.stack_id,
                    &r.request_id,
                    &r.logical_resource_id,
                    Some(&r.physical_resource_id),
                ),
                false,
            ),
            CloudFormationCustomResourceRequest::Delete(r) => (
                context(
                    &r.response_url,
                    &r.stack_id,
                    &r.request_id,
                    &r.logical_resource_id,
                    Some(&r.physical_resource_id),
                ),
                true,
            ),
            _ => return None,
        })
    }
}

pub fn response_body(context: &CustomResourceContext, result: &Result<HashMap<String, String>, String>) -> String {
    let mut response = CloudFormationCustomResourceResponse::default();
    response.physical_resource_id = context.physical_resource_id.clone();
    response.stack_id = context.stack_id.clone();
    response.request_id = context.request_id.clone();
    response.logical_resource_id = context.logical_resource_id.clone();
    match result {
        Ok(data) => {
            response.status = CloudFormationCustomResourceResponseStatus::Success;
            response.data = data.clone();
        }
        Err(reason) => {
            response.status = CloudFormationCustomResourceResponseStatus::Failed;
            response.reason = Some(reason.chars().take(1000).collect());
        }
    }
    serde_json::to_string(&response).expect("a custom resource response always serialises")
}

/// PUTs the answer. The presigned URL signs an empty content type, so none is sent.
pub async fn send_response(
    context: &CustomResourceContext,
    result: &Result<HashMap<String, String>, String>,
) -> Result<(), AwsError> {
    let fail = |message: String| AwsError::new("CustomResourceResponse", ErrorKind::Transient, None, message);
    let body = response_body(context, result);
    let connector =
        hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1().build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let request = hyper::Request::put(&context.response_url)
        .header("content-type", "")
        .header("content-length", body.len())
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| fail(format!("bad response URL: {e}")))?;
    let response = client.request(request).await.map_err(|e| fail(e.to_string()))?;
    let status = response.status();
    let _ = response.into_body().collect().await;
    if !status.is_success() {
        return Err(fail(format!("CloudFormation's response URL answered {status}")));
    }
    Ok(())
}
