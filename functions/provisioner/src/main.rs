//! The provisioner Lambda: EventBridge request events in, isolated SageMaker notebooks and outcome events
//! out. Everything is built once here; the handler only borrows it.

#![recursion_limit = "256"]

use aws_lambda_events::eventbridge::EventBridgeEvent;
use fleet::aws::{load_entitlements, AwsProvisioner, ProvisionerClients};
use fleet::config::{self, Vars, S3_FORCE_PATH_STYLE};
use fleet::service::lambda::handle_request_event;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let vars = Vars::from_env();
    let config = config::provisioner_settings(&vars)?;
    let sdk = aws_config::load_from_env().await;
    // Path-style S3 addressing is for emulators only (the demo runs the function against moto).
    let path_style = vars.boolean(S3_FORCE_PATH_STYLE)?;
    let clients = ProvisionerClients::new(&sdk, path_style);
    // Which data each team may get: read and checked once, before the first request.
    let config = load_entitlements(&clients.s3, config).await?;
    let provisioner = AwsProvisioner::from_clients(clients, config);
    let provisioner = &provisioner;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| async move {
        handle_request_event(provisioner, event.payload).await.map_err(Error::from)
    }))
    .await
}
