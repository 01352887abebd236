//! The lifecycle configuration's on-start script, rendered from parameters and named by its content hash.
//!
//! One script serves every notebook of a deployment: it reads the notebook's own name from SageMaker's
//! resource metadata, so notebooks share one immutable lifecycle configuration per agent version.

use base64::Engine;
use sha2::{Digest, Sha256};

use super::names::hex;
use super::policy::ASSETS_PREFIX;

/// SageMaker's limit on a lifecycle configuration's content.
pub const MAX_SCRIPT_LEN: usize = 16_384;
/// Name prefix of the lifecycle configurations this project creates.
pub const LIFECYCLE_CONFIG_PREFIX: &str = "nbf-on-start-";

/// The heartbeat agent binary in the assets bucket, under a content-addressed key
/// (`assets/…/sha256-<64 hex>/…`) so that the on-start script can verify what it downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentObject {
    pub key: String,
    pub sha256: String,
}

impl AgentObject {
    pub fn from_key(key: &str) -> Result<Self, String> {
        if !key.starts_with(ASSETS_PREFIX) {
            return Err(format!("{key:?} must be under {ASSETS_PREFIX:?} in the assets bucket"));
        }
        if let Some(c) = key.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))) {
            return Err(format!("{key:?} may contain only letters, digits and '/-_.', not {c:?}"));
        }
        let sha256 = key
            .split('/')
            .find_map(|segment| segment.strip_prefix("sha256-"))
            .filter(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()))
            .ok_or_else(|| format!("{key:?} must hold a 'sha256-<64 lowercase hex>' segment (content-addressed)"))?;
        Ok(AgentObject { key: key.to_owned(), sha256: sha256.to_owned() })
    }
}

/// What the on-start script needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnStartParameters<'a> {
    pub assets_bucket: &'a str,
    pub agent: &'a AgentObject,
}

/// A lifecycle configuration ready to create: immutable, named by the hash of its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleConfig {
    pub name: String,
    pub script: String,
    /// The script, base64-encoded as SageMaker expects it.
    pub on_start_base64: String,
}

const TEMPLATE: &str = include_str!("on_start.sh");

/// Renders the on-start script. Parameters are validated upstream (bucket names, content-addressed keys)
/// and only ever land inside single quotes, so they cannot break out of the script.
pub fn render_on_start_script(params: &OnStartParameters<'_>) -> String {
    TEMPLATE
        .replace("@ASSETS_BUCKET@", params.assets_bucket)
        .replace("@AGENT_KEY@", &params.agent.key)
        .replace("@AGENT_SHA256@", &params.agent.sha256)
}

pub fn lifecycle_config(params: &OnStartParameters<'_>) -> Result<LifecycleConfig, String> {
    let script = render_on_start_script(params);
    let on_start_base64 = base64::engine::general_purpose::STANDARD.encode(script.as_bytes());
    if on_start_base64.len() > MAX_SCRIPT_LEN {
        return Err(format!(
            "the on-start script is {} characters base64-encoded; SageMaker allows {MAX_SCRIPT_LEN}",
            on_start_base64.len()
        ));
    }
    let digest = hex(&Sha256::digest(script.as_bytes()));
    Ok(LifecycleConfig { name: format!("{LIFECYCLE_CONFIG_PREFIX}{}", &digest[..32]), script, on_start_base64 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::settings::tests::AGENT_KEY;

    fn agent() -> AgentObject {
        AgentObject::from_key(AGENT_KEY).expect("valid key")
    }

    #[test]
    fn agent_keys_must_be_content_addressed() {
        assert_eq!(agent().sha256, "0".repeat(64));
        for bad in [
            "agent/sha256-00/x",
            "assets/agent/latest/heartbeat-agent",
            "assets/agent/sha256-ZZ/x",
            "assets/a'b/sha256-0/x",
        ] {
            assert!(AgentObject::from_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn script_names_the_agent_and_checks_its_hash() {
        let agent = agent();
        let script = render_on_start_script(&OnStartParameters { assets_bucket: "fleet-assets", agent: &agent });
        assert!(script.starts_with("#!/bin/bash\n"));
        assert!(script.contains("ASSETS_BUCKET='fleet-assets'"));
        assert!(script.contains(&format!("AGENT_KEY='{AGENT_KEY}'")));
        assert!(script.contains("sha256sum"));
        for placeholder in ["@ASSETS_BUCKET@", "@AGENT_KEY@", "@AGENT_SHA256@"] {
            assert!(!script.contains(placeholder), "{placeholder} is filled");
        }
        assert!(!script.contains("http://") && !script.contains("https://"), "no internet download");
    }

    #[test]
    fn config_is_named_by_content_and_fits_sagemaker() {
        let agent = agent();
        let a = lifecycle_config(&OnStartParameters { assets_bucket: "fleet-assets", agent: &agent }).expect("fits");
        let b = lifecycle_config(&OnStartParameters { assets_bucket: "fleet-assets", agent: &agent }).expect("fits");
        let c = lifecycle_config(&OnStartParameters { assets_bucket: "other-assets", agent: &agent }).expect("fits");
        assert_eq!(a, b);
        assert_ne!(a.name, c.name);
        assert!(a.name.len() <= 63 && a.name.starts_with(LIFECYCLE_CONFIG_PREFIX));
        assert!(a.on_start_base64.len() <= MAX_SCRIPT_LEN);
        let decoded = base64::engine::general_purpose::STANDARD.decode(&a.on_start_base64).expect("base64");
        assert_eq!(decoded, a.script.as_bytes());
    }
}
