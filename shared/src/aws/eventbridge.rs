//! [`Events`] over EventBridge: puts outcome events on the project's bus, up to 10 a call.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;
use tracing::instrument;

use super::classify;
use crate::domain::outcome::OutcomeEvent;
use crate::error::{AwsError, ErrorKind};
use crate::ports::{AwsResult, Events};

/// PutEvents takes at most 10 entries a call.
const MAX_ENTRIES_PER_CALL: usize = 10;

#[derive(Debug, Clone)]
pub struct EventBridgeEvents {
    client: Client,
    bus_name: String,
    source: String,
}

impl EventBridgeEvents {
    pub fn new(client: Client, bus_name: impl Into<String>, source: impl Into<String>) -> Self {
        EventBridgeEvents { client, bus_name: bus_name.into(), source: source.into() }
    }

    fn entry(&self, event: &OutcomeEvent) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(&self.source)
            .detail_type(event.detail_type())
            .detail(event.detail_json().to_string())
            .build()
    }

    async fn put(&self, entries: Vec<PutEventsRequestEntry>) -> AwsResult<()> {
        let output = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| classify("PutEvents", e, |_, _| None))?;
        if output.failed_entry_count > 0 {
            let failed = output.entries.unwrap_or_default().into_iter().find(|e| e.error_code.is_some());
            let code = failed.as_ref().and_then(|e| e.error_code.clone());
            let message = failed.and_then(|e| e.error_message).unwrap_or_else(|| "entry refused".into());
            let kind = match code.as_deref() {
                Some("ThrottlingException" | "InternalFailure" | "InternalException") => ErrorKind::Transient,
                _ => ErrorKind::Other,
            };
            return Err(AwsError::new("PutEvents", kind, code, message));
        }
        Ok(())
    }
}

impl Events for EventBridgeEvents {
    #[instrument(skip(self, event), fields(detail_type = event.detail_type()))]
    async fn publish(&self, event: &OutcomeEvent) -> AwsResult<()> {
        self.put(vec![self.entry(event)]).await
    }

    #[instrument(skip(self, events), fields(count = events.len()))]
    async fn publish_all(&self, events: &[OutcomeEvent]) -> AwsResult<()> {
        for chunk in events.chunks(MAX_ENTRIES_PER_CALL) {
            self.put(chunk.iter().map(|e| self.entry(e)).collect()).await?;
        }
        Ok(())
    }
}
