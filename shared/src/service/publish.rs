//! Publishing the lifecycle assets at deploy time: idempotent (a content-addressed key that exists is not
//! written again) and never deleting (an old agent stays for the notebooks that still run it).

use crate::domain::assets::{agent_asset, on_start_asset};
use crate::domain::lifecycle::AgentObject;
use crate::error::{AwsError, ErrorKind};
use crate::ports::AssetStore;

/// What a deploy published: the keys the provisioner's configuration points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedAssets {
    pub agent_key: String,
    pub on_start_key: String,
    /// Keys written by this run (empty when everything was already there).
    pub uploaded: Vec<String>,
}

pub async fn publish_assets(
    store: &impl AssetStore,
    assets_bucket: &str,
    agent_binary: &[u8],
) -> Result<PublishedAssets, AwsError> {
    if agent_binary.is_empty() {
        return Err(AwsError::new("PublishAssets", ErrorKind::Invalid, None, "the heartbeat agent binary is empty"));
    }
    let agent = agent_asset(agent_binary);
    let agent_object = AgentObject::from_key(&agent.key)
        .map_err(|reason| AwsError::new("PublishAssets", ErrorKind::Invalid, None, reason))?;
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
