//! Request events as EventBridge delivers them to the provisioner.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use fleet::testing::NotebookRequest;
use serde_json::{json, Value};

use crate::emulator::{ACCOUNT_ID, REGION};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Wraps a detail in the envelope EventBridge delivers (`version`, `id`, `detail-type`, `source`, …), from
/// the source the platform names for its kind.
pub fn request_event(detail_type: &str, detail: Value) -> EventBridgeEvent<Value> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    serde_json::from_value(json!({
        "version": "0",
        "id": format!("00000000-0000-4000-8000-{id:012}"),
        "detail-type": detail_type,
        "source": crate::platform::source_of(detail_type),
        "account": ACCOUNT_ID,
        "time": "2026-11-23T12:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }))
    .expect("a well-formed EventBridge envelope")
}

/// A valid `Notebook Requested` detail for the emulated platform: the shared builder's request with a
/// 90-minute idle timeout, and a read-only folder of `shared-data` beside the owner's own.
pub fn notebook_requested(request_id: &str, notebook_name: &str) -> Value {
    NotebookRequest::new(request_id, notebook_name)
        .with_idle_timeout_minutes(90)
        .with_data_access(&[("team-data", "risk/alice/", "read-write"), ("shared-data", "reference/", "read")])
        .detail()
}
