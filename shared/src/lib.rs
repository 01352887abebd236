//! notebook-fleet's library: the pure domain, the ports the services need, their AWS adapters and the
//! services that the Lambda binaries run.
//!
//! Modules (every one, as the tree is):
//! - [`config`]: the one reader of the functions' environment into the domain's settings (provisioner,
//!   sweeper, publisher), through `fleet-types`' `Vars`.
//! - [`domain`]: pure types and functions, no AWS; time is an input.
//!   - requests and answers: `request` (the request events), `validation` (a valid request or a rejection
//!     naming each field), `senders` (which source may send which kind), `outcome` (the outcome events, one variant per
//!     detail-type), `schemas` (their JSON Schemas: `schemas/` and the template's schema registry);
//!   - settings and names: `settings` (what the platform decides: the provisioner's, the sweeper's and the
//!     publisher's settings, the bounds of a request), `types` (the validated names from `fleet-types`:
//!     notebook, bucket, prefix, request id, owner, team, principal), `names` (a notebook's resource names),
//!     `entitlements` (which data a team may get), `custody` (custodian access to a deactivated owner's data);
//!   - the notebook: `notebook` (the notebook and role specs), `policy` (IAM policy documents), `isolation`
//!     (the pre-flight network check), `lifecycle` (the on-start script, `on_start.sh`), `assets` (the
//!     content-addressed lifecycle assets), `tags` (tag keys), `lock` (locking: tags and a read-only policy);
//!   - idleness: `heartbeat` (heartbeats in the assets bucket), `idle` (the idle verdict), `metrics`
//!     (CloudWatch embedded-metric log lines);
//!   - the audit trail: `audit` (the records), `audit_key` (their key names), `audit_steps` (the steps a
//!     request leaves), `audit_versions` (key versions), `audit_verify` (checking a history).
//! - [`ports`]: the narrow traits the services call: `Network`, `Roles`, `Notebooks`, `Events`, `Fleet`,
//!   `HeartbeatStore`, `AuditLog`, `AssetStore`.
//! - [`aws`]: the ports over the AWS SDK (behind the `aws` features, so a binary links only the SDK crates
//!   it calls): `ec2`, `iam`, `sagemaker`, `eventbridge`, `fleet` and `tagging`, `heartbeats`, `assets`,
//!   `audit`, `entitlements`; `provisioner` and `sweeper` wire the clients; `custom_resource` answers
//!   CloudFormation; `call_counter` counts API calls; `error` maps SDK errors.
//! - [`service`]: the use cases, generic over the ports: `provision`, `actions` (stop, start), `snooze`,
//!   `deactivate`, `decommission`, `lock`, `custodian`, `retry` (IAM's eventual consistency), `sweep` (the
//!   idle sweep), `publish` (the lifecycle assets at deploy time), `lambda` (the provisioner's Lambda edge);
//!   their unit tests run over the in-memory ports of `testing`.
//! - [`error`]: errors that keep their cause and say whether a retry can help; `error_chain` prints one.
//! - `testing` (the `testing` feature, and this crate's own tests): in-memory fakes of every port and request
//!   builders, for tests here and in other packages.

pub mod config;
pub mod domain;
pub mod error;
pub mod ports;
pub mod service;

#[cfg(feature = "aws")]
pub mod aws;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
