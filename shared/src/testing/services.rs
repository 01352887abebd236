//! The services wired to one [`FakeAws`] behind every port.

use super::FakeAws;
use crate::domain::settings::{ProvisionerSettings, SweepSettings};
use crate::service::sweep::Sweeper;
use crate::service::{Provisioner, RetryPolicy};

pub type FakeProvisioner = Provisioner<FakeAws, FakeAws, FakeAws, FakeAws, FakeAws>;
pub type FakeSweeper = Sweeper<FakeAws, FakeAws, FakeAws, FakeAws>;

impl FakeAws {
    /// A provisioner over this account that retries at once (no backoff), four attempts.
    pub fn provisioner(&self, config: ProvisionerSettings) -> FakeProvisioner {
        Provisioner::new(self.clone(), self.clone(), self.clone(), self.clone(), self.clone(), config)
            .with_retry(RetryPolicy::immediate(4))
    }

    /// An idle sweeper over this account.
    pub fn sweeper(&self, config: SweepSettings) -> FakeSweeper {
        Sweeper::new(self.clone(), self.clone(), self.clone(), self.clone(), config)
    }
}
