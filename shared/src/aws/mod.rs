//! The ports implemented over the AWS SDK for Rust. Clients are built once in `main` and passed in.

mod error;
pub use error::classify;

#[cfg(feature = "provisioner")]
pub mod ec2;
#[cfg(feature = "provisioner")]
pub mod eventbridge;
#[cfg(feature = "provisioner")]
pub mod iam;
#[cfg(feature = "provisioner")]
pub mod sagemaker;
