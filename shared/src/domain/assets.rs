//! The lifecycle assets in the assets bucket, under content-addressed keys: a key names its content's
//! SHA-256, so a published asset never changes and never needs deleting while a notebook may use it.

use sha2::{Digest, Sha256};

use super::lifecycle::{render_on_start_script, AgentObject, OnStartParameters};
use super::names::hex;

/// One object to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub key: String,
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// `assets/agent/sha256-<hex>/heartbeat-agent`.
pub fn agent_asset(agent_binary: &[u8]) -> Asset {
    Asset {
        key: format!("assets/agent/sha256-{}/heartbeat-agent", sha256_hex(agent_binary)),
        bytes: agent_binary.to_vec(),
        content_type: "application/octet-stream",
    }
}

/// The on-start script that points at this agent, published beside it for reference and audit (the
/// lifecycle configuration carries the same text inline).
pub fn on_start_asset(assets_bucket: &str, agent: &AgentObject) -> Asset {
    let script = render_on_start_script(&OnStartParameters { assets_bucket, agent });
    Asset {
        key: format!("assets/on-start/sha256-{}/on-start.sh", sha256_hex(script.as_bytes())),
        bytes: script.into_bytes(),
        content_type: "text/x-shellscript",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_content() {
        let agent = agent_asset(b"agent v1");
        let parsed = AgentObject::from_key(&agent.key).expect("a content-addressed key");
        assert_eq!(parsed.sha256, sha256_hex(b"agent v1"));
        assert_ne!(agent_asset(b"agent v2").key, agent.key);
        let script = on_start_asset("fleet-assets", &parsed);
        assert!(script.key.starts_with("assets/on-start/sha256-"));
        assert!(String::from_utf8(script.bytes).expect("utf-8").contains(&parsed.key));
    }
}
