//! Signals beyond Jupyter, pure: sustained CPU use of the notebook user's processes, GPU utilisation, and
//! a keep-alive marker around a long silent job. Work started in a terminal under `nohup` or `tmux`, then
//! silent for hours, gives Jupyter nothing to report; these signals keep such a notebook alive.
//!
//! A sample is taken at each check (the samplers do the I/O); [`HostTracker`] remembers since when each
//! signal has been above its threshold and fires only once that has lasted the signal's minimum duration,
//! so a burst (a `pip install`, an editor's indexer) does not count as work. A keep-alive fires at once.
//! The sweeper's maximum-runtime cap still applies whatever fires here: it is decided on the sweeper's side.

use chrono::{DateTime, Duration, Utc};

use crate::activity::{ActivityKind, Decision};

/// Host signals sampled at one check (no I/O here).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostSignals {
    /// CPU use of the notebook user's processes since the previous sample, in percent of one core
    /// (excluding the agent itself and the Jupyter server); `None` when unreadable.
    pub cpu_percent: Option<f64>,
    /// Highest GPU utilisation in percent; `None` when there is no `nvidia-smi` (the signal is off).
    pub gpu_percent: Option<f64>,
    /// A live keep-alive marker (`nbf-keepalive`) exists.
    pub keepalive: bool,
}

/// Thresholds and minimum durations of the host signals.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalPolicy {
    pub cpu_threshold_percent: f64,
    pub cpu_min_seconds: u64,
    pub gpu_threshold_percent: f64,
    pub gpu_min_seconds: u64,
}

impl Default for SignalPolicy {
    /// 20 % of a core for 5 minutes; 10 % of a GPU for 2 minutes.
    fn default() -> Self {
        SignalPolicy {
            cpu_threshold_percent: 20.0,
            cpu_min_seconds: 300,
            gpu_threshold_percent: 10.0,
            gpu_min_seconds: 120,
        }
    }
}

/// Since when one signal has been above its threshold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sustained {
    since: Option<DateTime<Utc>>,
}

impl Sustained {
    /// Records one sample; true once the signal has been above its threshold for at least `min`.
    /// A sample at or below the threshold, or an unreadable one, starts the count over.
    fn observe(&mut self, now: DateTime<Utc>, above: bool, min: Duration) -> bool {
        if !above {
            self.since = None;
            return false;
        }
        let since = *self.since.get_or_insert(now);
        now - since >= min
    }
}

/// Tracks how long each signal has been above its threshold; pure, the clock is passed in.
#[derive(Debug, Clone)]
pub struct HostTracker {
    policy: SignalPolicy,
    cpu: Sustained,
    gpu: Sustained,
}

fn seconds(s: u64) -> Duration {
    Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000))
}

impl HostTracker {
    pub fn new(policy: SignalPolicy) -> Self {
        HostTracker { policy, cpu: Sustained::default(), gpu: Sustained::default() }
    }

    /// Records one sample at `now`; returns the signal that fires (sustained at least its minimum duration,
    /// or a keep-alive), if any. A keep-alive wins, then the GPU, then the CPU. Both counts are updated on
    /// every sample, whichever fires.
    pub fn observe(&mut self, now: DateTime<Utc>, signals: &HostSignals) -> Option<ActivityKind> {
        let above = |value: Option<f64>, threshold: f64| value.is_some_and(|v| v > threshold);
        let gpu = self.gpu.observe(
            now,
            above(signals.gpu_percent, self.policy.gpu_threshold_percent),
            seconds(self.policy.gpu_min_seconds),
        );
        let cpu = self.cpu.observe(
            now,
            above(signals.cpu_percent, self.policy.cpu_threshold_percent),
            seconds(self.policy.cpu_min_seconds),
        );
        if signals.keepalive {
            Some(ActivityKind::KeepAlive)
        } else if gpu {
            Some(ActivityKind::Gpu)
        } else if cpu {
            Some(ActivityKind::ProcessCpu)
        } else {
            None
        }
    }
}

/// The check's decision: Jupyter's when it found activity, else a heartbeat at `now` for the host signal
/// that fired, else idle.
pub fn combine(jupyter: Decision, host: Option<ActivityKind>, now: DateTime<Utc>) -> Decision {
    match (jupyter, host) {
        (Decision::Idle, Some(kind)) => Decision::Heartbeat { kind, last_activity: now },
        (decision, _) => decision,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).single().expect("a valid date") + Duration::seconds(seconds)
    }

    fn policy() -> SignalPolicy {
        SignalPolicy {
            cpu_threshold_percent: 20.0,
            cpu_min_seconds: 300,
            gpu_threshold_percent: 10.0,
            gpu_min_seconds: 120,
        }
    }

    fn cpu(percent: f64) -> HostSignals {
        HostSignals { cpu_percent: Some(percent), ..HostSignals::default() }
    }

    fn gpu(percent: f64) -> HostSignals {
        HostSignals { gpu_percent: Some(percent), ..HostSignals::default() }
    }

    /// One sample a minute from second 0; what fired at each.
    fn run(samples: &[HostSignals]) -> Vec<Option<ActivityKind>> {
        let mut tracker = HostTracker::new(policy());
        (0..).zip(samples).map(|(minute, s)| tracker.observe(at(minute * 60), s)).collect()
    }

    #[test]
    fn cpu_below_or_at_the_threshold_never_fires() {
        assert!(run(&vec![cpu(20.0); 30]).iter().all(Option::is_none));
        assert!(run(&vec![cpu(3.0); 30]).iter().all(Option::is_none));
    }

    #[test]
    fn cpu_fires_only_once_sustained_for_its_minimum_duration() {
        let fired = run(&vec![cpu(95.0); 8]);
        // Above since minute 0: 5 minutes are reached at minute 5.
        assert_eq!(fired[..5], [None; 5]);
        assert_eq!(fired[5..], [Some(ActivityKind::ProcessCpu); 3]);
    }

    #[test]
    fn a_dip_or_an_unreadable_sample_starts_the_count_over() {
        let mut samples = vec![cpu(95.0); 4];
        samples.push(cpu(1.0));
        samples.extend(vec![cpu(95.0); 5]);
        samples.push(HostSignals::default());
        samples.extend(vec![cpu(95.0); 6]);
        let fired = run(&samples);
        let firing: Vec<usize> = fired.iter().enumerate().filter(|(_, f)| f.is_some()).map(|(i, _)| i).collect();
        // Minutes 0..=3 and 5..=9 are above, but neither run lasts five minutes (the dip at 4, the
        // unreadable sample at 10 end them); the run from 11 reaches five minutes at 16.
        assert_eq!(firing, [16]);
    }

    #[test]
    fn gpu_has_its_own_threshold_and_duration() {
        let fired = run(&vec![gpu(50.0); 4]);
        assert_eq!(fired, [None, None, Some(ActivityKind::Gpu), Some(ActivityKind::Gpu)]);
        assert!(run(&vec![gpu(10.0); 10]).iter().all(Option::is_none));
    }

    #[test]
    fn no_nvidia_smi_means_the_gpu_signal_is_off() {
        let off = HostSignals { gpu_percent: None, ..HostSignals::default() };
        assert!(run(&vec![off; 10]).iter().all(Option::is_none));
    }

    #[test]
    fn a_keepalive_fires_at_once_and_wins() {
        let both = HostSignals { cpu_percent: Some(99.0), gpu_percent: Some(99.0), keepalive: true };
        assert_eq!(run(std::slice::from_ref(&both)), [Some(ActivityKind::KeepAlive)]);
        let gpu_and_cpu = HostSignals { keepalive: false, ..both };
        assert_eq!(run(&vec![gpu_and_cpu; 6])[5], Some(ActivityKind::Gpu));
    }

    #[test]
    fn jupyter_activity_wins_and_a_host_signal_is_a_heartbeat_at_now() {
        let jupyter = Decision::Heartbeat { kind: ActivityKind::KernelActivity, last_activity: at(-30) };
        assert_eq!(combine(jupyter, Some(ActivityKind::ProcessCpu), at(0)), jupyter);
        assert_eq!(
            combine(Decision::Idle, Some(ActivityKind::KeepAlive), at(0)),
            Decision::Heartbeat { kind: ActivityKind::KeepAlive, last_activity: at(0) }
        );
        assert_eq!(combine(Decision::Idle, None, at(0)), Decision::Idle);
    }
}
