//! Keeps the body of every request a client sends, for the settings moto accepts but does not store
//! (for example `InstanceMetadataServiceConfiguration` and `PlatformIdentifier` on a notebook).

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

#[derive(Debug, Clone, Default)]
pub struct RequestRecorder {
    requests: Arc<Mutex<Vec<(String, String)>>>,
}

impl RequestRecorder {
    /// Bodies of the requests of one operation (`CreateNotebookInstance`), oldest first.
    pub fn bodies(&self, operation: &str) -> Vec<String> {
        self.requests
            .lock()
            .map(|r| r.iter().filter(|(op, _)| op == operation).map(|(_, body)| body.clone()).collect())
            .unwrap_or_default()
    }
}

impl Intercept for RequestRecorder {
    fn name(&self) -> &'static str {
        "RequestRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map_or_else(String::new, |m| m.name().to_owned());
        let body =
            context.request().body().bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        if let Ok(mut requests) = self.requests.lock() {
            requests.push((operation, body));
        }
        Ok(())
    }
}
