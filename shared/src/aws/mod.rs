//! The ports implemented over the AWS SDK for Rust. Clients are built once in `main` and passed in.

#[cfg(feature = "publisher")]
pub mod assets;
#[cfg(any(feature = "provisioner", feature = "sweeper", feature = "audit"))]
pub mod audit;
mod call_counter;
#[cfg(feature = "publisher")]
pub mod custom_resource;
mod error;
pub use call_counter::CallCounter;
pub use error::classify;
#[cfg(any(feature = "publisher", feature = "provisioner", feature = "sweeper"))]
pub(crate) use error::not_found_as_none;

#[cfg(feature = "provisioner")]
pub mod ec2;
#[cfg(any(feature = "provisioner", feature = "sweeper"))]
pub mod eventbridge;
#[cfg(feature = "sweeper")]
pub mod fleet;
#[cfg(feature = "sweeper")]
mod fleet_resources;
#[cfg(feature = "sweeper")]
pub mod heartbeats;
#[cfg(any(feature = "provisioner", feature = "sweeper"))]
pub mod iam;
#[cfg(any(feature = "provisioner", feature = "sweeper"))]
pub mod sagemaker;
#[cfg(any(feature = "provisioner", feature = "sweeper"))]
mod tagging;

#[cfg(feature = "provisioner")]
mod entitlements;
#[cfg(feature = "provisioner")]
pub use entitlements::load_entitlements;
#[cfg(feature = "provisioner")]
mod provisioner;
#[cfg(feature = "provisioner")]
pub use provisioner::{AwsProvisioner, ProvisionerClients};

#[cfg(feature = "sweeper")]
mod sweeper;
#[cfg(feature = "sweeper")]
pub use sweeper::{sweeper_retry_config, AwsSweeper};

/// SDK timestamps as chrono's.
#[cfg(any(feature = "sweeper", feature = "audit"))]
pub(crate) fn to_chrono(time: &aws_smithy_types::DateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(time.secs(), time.subsec_nanos()).unwrap_or_default()
}
