//! The ports implemented over the AWS SDK for Rust. Clients are built once in `main` and passed in.

mod call_counter;
mod error;
pub use call_counter::CallCounter;
pub use error::classify;

#[cfg(feature = "provisioner")]
pub mod ec2;
#[cfg(feature = "provisioner")]
pub mod eventbridge;
#[cfg(feature = "provisioner")]
pub mod iam;
#[cfg(feature = "provisioner")]
pub mod sagemaker;

#[cfg(feature = "provisioner")]
mod provisioner;
#[cfg(feature = "provisioner")]
pub use provisioner::AwsProvisioner;
