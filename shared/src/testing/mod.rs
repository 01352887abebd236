//! Test doubles for every port, shipped behind the `testing` feature so that other packages use them from
//! their `[dev-dependencies]` (`fleet = { path = "../shared", features = ["testing"] }`); the feature links
//! no SDK crate.
//!
//! - [`FakeAws`] (`fake.rs`): one in-memory account behind every port in [`crate::ports`] (network, roles,
//!   notebooks and their lifecycle configurations, events, the audit log, the sweeper's fleet view,
//!   heartbeats, the assets bucket; one file each). It logs every API call by its AWS operation name
//!   ([`FakeAws::calls`], [`FakeAws::mutating_calls`]) and fails the next calls of an operation on demand
//!   ([`FakeAws::fail`]), which the emulator cannot do.
//! - [`FakeProvisioner`], [`FakeSweeper`] (`services.rs`): the services wired to one [`FakeAws`].
//! - [`requests`]: request details with sensible defaults and `with_` methods.
//! - [`rejected`], [`provisioned`] (`outcomes.rs`): an expected outcome's detail, or a panic showing the outcome.
//!
//! The AWS adapters themselves are proven against the emulator in the integration tests.

mod assets;
mod audit;
mod events;
mod fake;
mod fleet;
mod heartbeats;
mod network;
mod notebooks;
mod outcomes;
pub mod requests;
mod roles;
mod services;

pub use fake::{AddedNotebook, FakeAws, State};
pub use outcomes::{provisioned, rejected};
pub use requests::{
    ActionRequest, CustodianRequest, DeactivationRequest, DecommissionRequest, NotebookRequest, SnoozeRequest,
};
pub use services::{FakeProvisioner, FakeSweeper};
