//! The lifecycle publisher's variables into [`PublisherSettings`].

use super::*;
use crate::domain::settings::PublisherSettings;

/// Where the agent binary is, in the function's layer.
pub const AGENT_PATH: &str = "FLEET_AGENT_PATH";
pub const DEFAULT_AGENT_PATH: &str = "/opt/heartbeat-agent";

pub fn publisher_settings(vars: &Vars<'_>) -> Result<PublisherSettings, ConfigError> {
    Ok(PublisherSettings {
        assets_bucket: vars.bucket(ASSETS_BUCKET)?,
        agent_path: vars.or(AGENT_PATH, DEFAULT_AGENT_PATH),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_assets_bucket_is_required_and_the_agent_is_in_the_layer_by_default() {
        assert_eq!(publisher_settings(&Vars::from_pairs([("X", "y")])), Err(ConfigError::Missing(ASSETS_BUCKET)));
        let settings = publisher_settings(&Vars::from_pairs([(ASSETS_BUCKET, "fleet-assets")])).expect("valid");
        assert_eq!(
            (settings.assets_bucket.as_str(), settings.agent_path.as_str()),
            ("fleet-assets", DEFAULT_AGENT_PATH)
        );
    }
}
