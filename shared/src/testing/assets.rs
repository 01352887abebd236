//! [`AssetStore`] in memory: the assets bucket as the lifecycle publisher writes it.

use super::FakeAws;
use crate::domain::assets::Asset;
use crate::ports::{AssetStore, AwsResult};

impl AssetStore for FakeAws {
    async fn exists(&self, key: &str) -> AwsResult<bool> {
        self.call("HeadObject")?;
        Ok(self.state().assets.contains_key(key))
    }

    async fn put(&self, asset: &Asset) -> AwsResult<()> {
        self.call("PutObject")?;
        self.state().assets.insert(asset.key.clone(), (asset.bytes.clone(), asset.content_type.to_owned()));
        Ok(())
    }
}
