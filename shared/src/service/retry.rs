//! Bounded retries for IAM's eventual consistency: a new role is not usable by SageMaker for some seconds.

use std::future::Future;
use std::time::Duration;

use crate::error::{AwsError, ErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// About 40 seconds in all (1 + 2 + 4 + 8 + 8 + 8 + 8 s): IAM usually propagates within 10.
    fn default() -> Self {
        RetryPolicy { attempts: 8, first_delay: Duration::from_secs(1), max_delay: Duration::from_secs(8) }
    }
}

impl RetryPolicy {
    pub fn immediate(attempts: u32) -> Self {
        RetryPolicy { attempts, first_delay: Duration::ZERO, max_delay: Duration::ZERO }
    }

    /// Runs `call` until it succeeds, fails with something other than `NotReady`, or attempts run out.
    pub async fn retry_not_ready<T, F, Fut>(&self, mut call: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let mut delay = self.first_delay;
        let mut attempt = 1;
        loop {
            match call().await {
                Err(error) if error.is(ErrorKind::NotReady) && attempt < self.attempts => {
                    tracing::info!(attempt, delay_ms = delay.as_millis() as u64, error = %error, "not ready yet; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.max_delay);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}
