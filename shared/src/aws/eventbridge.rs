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
        self.put_each(entries).await.into_iter().find_map(Result::err).map_or(Ok(()), Err)
    }

    /// One call; one result per entry, in order (PutEvents answers each entry in its position).
    async fn put_each(&self, entries: Vec<PutEventsRequestEntry>) -> Vec<AwsResult<()>> {
        let count = entries.len();
        let output = match self.client.put_events().set_entries(Some(entries)).send().await {
            Ok(output) => output,
            Err(e) => {
                // The whole call failed: so did each of its entries.
                let error = classify("PutEvents", e, |_, _| None);
                let copy = || AwsError::new(error.operation, error.kind, error.code.clone(), error.message.clone());
                return (0..count).map(|_| Err(copy())).collect();
            }
        };
        let answered = output.entries.unwrap_or_default();
        (0..count)
            .map(|i| match answered.get(i) {
                Some(entry) if entry.error_code.is_some() => {
                    let code = entry.error_code.clone();
                    let message = entry.error_message.clone().unwrap_or_else(|| "entry refused".into());
                    let kind = match code.as_deref() {
                        Some("ThrottlingException" | "InternalFailure" | "InternalException") => ErrorKind::Transient,
                        _ => ErrorKind::Other,
                    };
                    Err(AwsError::new("PutEvents", kind, code, message))
                }
                Some(_) => Ok(()),
                None if output.failed_entry_count == 0 => Ok(()),
                None => Err(AwsError::new("PutEvents", ErrorKind::Other, None, "no answer for the entry".to_owned())),
            })
            .collect()
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

    #[instrument(skip(self, events), fields(count = events.len()))]
    async fn publish_each(&self, events: &[OutcomeEvent]) -> Vec<AwsResult<()>> {
        let mut results = Vec::with_capacity(events.len());
        for chunk in events.chunks(MAX_ENTRIES_PER_CALL) {
            results.extend(self.put_each(chunk.iter().map(|e| self.entry(e)).collect()).await);
        }
        results
    }
}
