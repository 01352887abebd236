//! The sample events the README and the demo use are real requests: each parses as an EventBridge event
//! whose detail is a request the provisioner knows (the invalid sample parses too: it is refused later, by
//! validation, with a reason per field).

use std::path::PathBuf;

use anyhow::{Context, Result};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use fleet::domain::request::{Request, REQUEST_DETAIL_TYPES};

#[test]
fn every_sample_event_is_a_request_the_provisioner_parses() -> Result<()> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").context("run by cargo")?).join("..");
    let dir = root.join("samples/events");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let text = std::fs::read_to_string(&path)?;
        let event: EventBridgeEvent<serde_json::Value> =
            serde_json::from_str(&text).with_context(|| format!("{} is not an EventBridge event", path.display()))?;
        Request::parse(&event.detail_type, &event.detail)
            .map_err(|r| anyhow::anyhow!("{}: {}", path.display(), r.summary()))?;
        seen.push(event.detail_type);
    }
    for detail_type in REQUEST_DETAIL_TYPES {
        assert!(seen.iter().any(|s| s == detail_type), "no sample of {detail_type}");
    }
    Ok(())
}
