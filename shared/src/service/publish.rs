//! Publishing the lifecycle assets at deploy time: idempotent (a content-addressed key that exists is not
//! written again) and never deleting (an old agent stays for the notebooks that still run it).

use crate::domain::assets::{agent_asset, on_start_asset};
use crate::domain::lifecycle::AgentObject;
use crate::error::AwsError;
use crate::ports::AssetStore;

/// What a deploy published: the keys the provisioner's configuration points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedAssets {
    pub agent_key: String,
    pub on_start_key: String,
    /// Keys written by this run (empty when everything was already there).
    pub uploaded: Vec<String>,
}

/// Why a deploy's assets could not be published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("the heartbeat agent binary is empty; the function's layer must hold the agent")]
    EmptyAgent,
    #[error("the agent's content-addressed key is not one the provisioner can read: {0}")]
    AgentKey(String),
    #[error("the assets bucket could not be written")]
    Store(#[from] AwsError),
}

impl PublishError {
    /// Only a failed write can succeed later; an empty or unreadable agent is the deploy's own fault.
    pub fn retryable(&self) -> bool {
        matches!(self, PublishError::Store(e) if e.retryable())
    }
}

pub async fn publish_assets(
    store: &impl AssetStore,
    assets_bucket: &str,
    agent_binary: &[u8],
) -> Result<PublishedAssets, PublishError> {
    if agent_binary.is_empty() {
        return Err(PublishError::EmptyAgent);
    }
    let agent = agent_asset(agent_binary);
    let agent_object = AgentObject::from_key(&agent.key).map_err(PublishError::AgentKey)?;
    let on_start = on_start_asset(assets_bucket, &agent_object);
    let mut uploaded = Vec::new();
    for asset in [&agent, &on_start] {
        if !store.exists(&asset.key).await? {
            store.put(asset).await?;
            uploaded.push(asset.key.clone());
        }
    }
    Ok(PublishedAssets { agent_key: agent.key, on_start_key: on_start.key, uploaded })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::testing::FakeAws;

    const AGENT: &[u8] = b"\x7fELF the heartbeat agent";

    #[tokio::test]
    async fn a_first_deploy_uploads_both_assets_and_a_second_uploads_nothing() {
        let store = FakeAws::new();
        let first = publish_assets(&store, "fleet-assets", AGENT).await.expect("published");
        assert_eq!(first.uploaded, [first.agent_key.clone(), first.on_start_key.clone()]);
        assert_eq!(store.state().assets[&first.agent_key].0, AGENT);

        let again = publish_assets(&store, "fleet-assets", AGENT).await.expect("published again");
        assert_eq!((again.agent_key, again.on_start_key), (first.agent_key, first.on_start_key));
        assert!(again.uploaded.is_empty(), "content-addressed keys that exist are not written again");
        assert_eq!(store.count("PutObject"), 2, "two uploads in all");
    }

    #[tokio::test]
    async fn a_failed_upload_fails_the_deploy_as_retryable_and_the_retry_publishes_both() {
        let store = FakeAws::new();
        store.fail("PutObject", &[ErrorKind::Transient]);
        let error = publish_assets(&store, "fleet-assets", AGENT).await.expect_err("the upload failed");
        assert!(error.retryable(), "{error}");
        assert!(store.state().assets.is_empty());

        let retried = publish_assets(&store, "fleet-assets", AGENT).await.expect("published");
        assert_eq!(retried.uploaded.len(), 2);
        assert_eq!(store.state().assets.len(), 2);
    }
}
