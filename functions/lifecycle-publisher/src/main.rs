//! The lifecycle publisher: a CloudFormation custom resource that, on every deploy, publishes the heartbeat
//! agent and the on-start script to the assets bucket under content-addressed keys, and hands the agent's
//! key to the stack (`!GetAtt LifecycleAssets.AgentObjectKey`). A delete answers success and deletes
//! nothing: live notebooks may still fetch those assets.

#![recursion_limit = "256"]

use std::collections::HashMap;

use aws_lambda_events::cloudformation::CloudFormationCustomResourceRequest;
use fleet::aws::assets::S3Assets;
use fleet::aws::custom_resource::{send_response, CustomResourceContext};
use fleet::config::{publisher_settings, Vars};
use fleet::service::publish::publish_assets;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = publisher_settings(&Vars::from_env())?;
    let (bucket, agent_path) = (settings.assets_bucket.into_string(), settings.agent_path);
    let sdk = aws_config::load_from_env().await;
    let store = S3Assets::new(aws_sdk_s3::Client::new(&sdk), &bucket);
    let (store, bucket, agent_path) = (&store, bucket.as_str(), agent_path.as_str());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<CloudFormationCustomResourceRequest>| async move {
        let (context, delete) =
            CustomResourceContext::of(&event.payload).ok_or("a custom resource request type this function does not know")?;
        let result = if delete {
            tracing::info!("delete: the lifecycle assets are kept for the notebooks that use them");
            Ok(HashMap::new())
        } else {
            match std::fs::read(agent_path) {
                Err(e) => Err(format!("cannot read the heartbeat agent at {agent_path}: {e}")),
                Ok(agent) => match publish_assets(store, bucket, &agent).await {
                    Ok(published) => {
                        tracing::info!(agent = %published.agent_key, on_start = %published.on_start_key, uploaded = ?published.uploaded, "lifecycle assets published");
                        Ok(HashMap::from([
                            ("AgentObjectKey".to_owned(), published.agent_key),
                            ("OnStartScriptKey".to_owned(), published.on_start_key),
                        ]))
                    }
                    Err(e) => Err(fleet::error::error_chain(&e)),
                },
            }
        };
        send_response(&context, &result).await.map_err(Error::from)
    }))
    .await
}
