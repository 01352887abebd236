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
