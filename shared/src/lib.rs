//! notebook-fleet's library: the pure domain, the ports the services need, their AWS adapters and the
//! services that the Lambda binaries run.
//!
//! Layout:
//! - [`config`]: the typed configuration, read once at start from the environment.
//! - [`domain`]: pure types and functions, no AWS: request events and their validation, IAM policy
//!   documents, the lifecycle on-start script, outcome events, tag keys. Time is an input.
//! - [`ports`]: the narrow traits the services call (network, roles, lifecycle configs, notebooks, events).
//! - [`aws`]: the ports implemented over the AWS SDK (behind the `aws` features, so a binary links only
//!   the SDK crates it calls).
//! - [`service`]: the provisioner's use cases, generic over the ports.
//! - [`error`]: errors that keep their cause and say whether a retry can help.
//! - `testing` (the `testing` feature, and this crate's own tests): in-memory fakes of every port and request
//!   builders, for tests here and in other packages.

pub mod config;
pub mod domain;
pub mod error;
pub mod ports;
pub mod service;
pub mod sweep_config;

#[cfg(feature = "aws")]
pub mod aws;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
