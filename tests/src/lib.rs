//! The emulator harness shared by the integration tests, the demo and the benchmarks.
//!
//! - [`emulator`]: starts a private `moto_server` on a free 127.0.0.1 port and stops it on drop.
//! - [`platform`]: builds on it what the SAM template builds on AWS (network, endpoint, boundary, bus,
//!   buckets) and hands out a configured provisioner.
//! - [`events`]: EventBridge request events as they arrive on the bus.
//! - [`faults`]: a proxy in front of moto that fails a share of the calls as AWS does; [`fault_sweeps`]:
//!   sweeps of a fleet through it, and what they lost.
//! - [`figures`]: the benchmarks' one summary table.
//! - [`denied`]: asserts that a call was refused with HTTP 403 `AccessDenied`.
//! - [`recorder`]: an SDK interceptor that keeps request bodies, to check what moto does not store.

pub mod denied;
pub mod emulator;
pub mod events;
pub mod fault_sweeps;
pub mod faults;
pub mod figures;
pub mod fleet;
mod http1;
pub mod platform;
pub mod recorder;
pub mod rehearsal;
pub mod runtime_api;
pub mod tools;

pub use emulator::Emulator;
pub use platform::Platform;
