//! [`HeartbeatStore`] in memory: the agents' heartbeats and the sweeper's recorded warnings.

use chrono::Utc;

use super::FakeAws;
use crate::domain::heartbeat::HeartbeatIndex;
use crate::ports::{AwsResult, HeartbeatStore};

impl HeartbeatStore for FakeAws {
    async fn heartbeats(&self) -> AwsResult<HeartbeatIndex> {
        self.call("ListObjectsV2")?;
        Ok(self.state().heartbeats.clone())
    }

    /// Stamped with the fake's clock, as S3 stamps `LastModified`.
    async fn record_warning(&self, notebook_name: &str, body: &serde_json::Value) -> AwsResult<()> {
        self.call("PutObject")?;
        let mut state = self.state();
        let at = state.clock.unwrap_or_else(Utc::now);
        state.heartbeats.warnings.insert(notebook_name.to_owned(), at);
        state.warning_bodies.insert(notebook_name.to_owned(), body.clone());
        Ok(())
    }
}
