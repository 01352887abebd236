//! [`Events`] in memory: the published events, kept in order.

use super::FakeAws;
use crate::domain::outcome::OutcomeEvent;
use crate::ports::{AwsResult, Events};

impl Events for FakeAws {
    async fn publish(&self, event: &OutcomeEvent) -> AwsResult<()> {
        self.call("PutEvents")?;
        self.state().events.push(event.clone());
        Ok(())
    }
}
