//! The pure domain: plain types and functions, unit-tested without AWS.

pub mod assets;
pub mod audit;
pub mod audit_key;
pub mod audit_steps;
pub mod audit_verify;
pub mod audit_versions;
pub mod custody;
pub mod entitlements;
pub mod heartbeat;
pub mod idle;
pub mod isolation;
pub mod lifecycle;
pub mod lock;
pub mod metrics;
pub mod names;
pub mod notebook;
pub mod outcome;
pub mod policy;
pub mod request;
pub mod request_metrics;
pub mod schemas;
pub mod senders;
pub mod settings;
pub mod tags;
pub mod types;
pub mod validation;
