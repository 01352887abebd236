//! The host's signals for one check: the samplers ([`crate::cpu`], [`crate::gpu`], [`crate::keepalive`])
//! read, the pure [`HostTracker`] decides. Built once from the configuration; a signal whose source is
//! missing (no such user, no `nvidia-smi`) is off, and that is said once, at start.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::activity::ActivityKind;
use crate::config::Config;
use crate::signals::{HostSignals, HostTracker, SignalPolicy};
use crate::{cpu, gpu, keepalive};

#[derive(Debug)]
pub struct HostSensors {
    tracker: HostTracker,
    cpu: Option<cpu::CpuSampler>,
    gpu: Option<gpu::GpuSampler>,
    keepalive_dir: PathBuf,
}

impl HostSensors {
    pub fn new(config: &Config) -> Self {
        let policy = SignalPolicy {
            cpu_threshold_percent: config.cpu_threshold_percent as f64,
            cpu_min_seconds: config.cpu_min_seconds,
            gpu_threshold_percent: config.gpu_threshold_percent as f64,
            gpu_min_seconds: config.gpu_min_seconds,
        };
        let scope = match config.process_root_pid {
            Some(pid) => Some(cpu::Scope::Tree(pid)),
            None => cpu::uid_of(&config.process_user).map(cpu::Scope::User),
        };
        if scope.is_none() {
            tracing::warn!(signal = %"process-cpu", user = %config.process_user, "cpu signal off: no such user");
        }
        let gpu = gpu::find_nvidia_smi(std::env::var("PATH").ok().as_deref()).map(gpu::GpuSampler::new);
        if gpu.is_none() {
            tracing::info!(signal = %"gpu", "gpu signal off: no nvidia-smi on PATH");
        }
        HostSensors {
            tracker: HostTracker::new(policy),
            cpu: scope.map(cpu::CpuSampler::new),
            gpu,
            keepalive_dir: config.keepalive_dir.clone(),
        }
    }

    /// Samples every signal at `now`; what was read, and the signal that fires, if any.
    pub fn sample(&mut self, now: DateTime<Utc>) -> (HostSignals, Option<ActivityKind>) {
        let sampled = HostSignals {
            cpu_percent: self.cpu.as_mut().and_then(cpu::CpuSampler::sample),
            gpu_percent: self.gpu.as_ref().and_then(gpu::GpuSampler::sample),
            keepalive: keepalive::any_alive(&self.keepalive_dir),
        };
        let fired = self.tracker.observe(now, &sampled);
        (sampled, fired)
    }
}
