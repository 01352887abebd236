//! The notebook-fleet heartbeat agent, as a library so that tests reach every piece.
//!
//! - [`config`]: the environment, read once (pure `from_vars`).
//! - [`activity`]: the idle decision, pure.
//! - [`jupyter`]: the local Jupyter server's REST API; [`tls`]: its certificate policy.
//! - [`cpu`]: CPU use of the notebook user's processes, from `/proc`.
//! - [`gpu`]: GPU utilisation from `nvidia-smi`.
//! - [`keepalive`]: the markers of `nbf-keepalive`.
//! - [`signals`]: host signals beyond Jupyter (CPU, GPU, keep-alive), pure; [`host`]: their samplers, tied.
//! - [`heartbeat`]: the S3 object.
//!
//! [`Agent::check`] ties them together for one check and logs its decision in one line.

pub mod activity;
pub mod config;
pub mod cpu;
pub mod gpu;
pub mod heartbeat;
pub mod host;
pub mod jupyter;
pub mod keepalive;
pub mod signals;
pub mod tls;

use chrono::{DateTime, SecondsFormat, Utc};

use activity::{Counts, Decision};
use config::Config;
use heartbeat::{Heartbeat, HeartbeatWriter};
use host::HostSensors;
use jupyter::JupyterClient;

/// How the binary was asked to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Check every interval until stopped (the systemd service).
    Loop,
    /// One check, then exit 0 whatever it found.
    Once,
    Help,
    Version,
}

pub const USAGE: &str = "usage: heartbeat-agent [--once]\n\
    Reads the local Jupyter server's activity every NBF_INTERVAL_SECONDS and writes\n\
    s3://$NBF_ASSETS_BUCKET/${NBF_HEARTBEAT_PREFIX:-heartbeats/}$NBF_NOTEBOOK_NAME when there was any.\n\
    --once     one check, then exit\n\
    --version  print the version";

pub fn parse_args(args: &[String]) -> Result<Mode, String> {
    match args {
        [] => Ok(Mode::Loop),
        [one] if one == "--once" => Ok(Mode::Once),
        [one] if one == "--help" || one == "-h" => Ok(Mode::Help),
        [one] if one == "--version" || one == "-V" => Ok(Mode::Version),
        other => Err(format!("unexpected arguments {other:?}")),
    }
}

/// What one check did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Heartbeat,
    Idle,
    /// Jupyter could not be read: nothing decided, nothing written.
    Skipped,
    /// There was activity but the heartbeat could not be written: retried at the next check.
    HeartbeatFailed,
}

#[derive(Debug)]
pub struct Agent {
    config: Config,
    jupyter: JupyterClient,
    writer: HeartbeatWriter,
    /// The last check whose decision was carried out; activity after it counts at the next check. It does
    /// not move when Jupyter cannot be read or the heartbeat cannot be written, so no activity is lost.
    previous_check: Option<DateTime<Utc>>,
    /// CPU, GPU and keep-alive, and since when each has been above its threshold.
    host: HostSensors,
}

pub use fleet_types::error_chain;

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Agent {
    pub fn new(config: Config, jupyter: JupyterClient, writer: HeartbeatWriter) -> Self {
        let host = HostSensors::new(&config);
        Agent { config, jupyter, writer, previous_check: None, host }
    }

    pub async fn check(&mut self) -> Outcome {
        // Taken before reading Jupyter: activity during the read counts now or at the next check, never never.
        let now = Utc::now();
        let snapshot = match self.jupyter.snapshot().await {
            Ok(snapshot) => snapshot,
            Err(e) => {
                tracing::warn!(decision = %"skipped", reason = ?e.to_string());
                return Outcome::Skipped;
            }
        };
        let Counts { kernels, busy, starting, terminals, sessions } = Counts::of(&snapshot);
        let interval = chrono::Duration::from_std(self.config.interval).unwrap_or(chrono::Duration::seconds(60));
        let since = activity::activity_since(self.previous_check, now, interval);
        let (sampled, host) = self.host.sample(now);
        let percent = |p: Option<f64>| p.map_or_else(|| "-".to_owned(), |p| format!("{p:.0}"));
        let (cpu_percent, gpu_percent) = (percent(sampled.cpu_percent), percent(sampled.gpu_percent));
        match signals::combine(activity::decide(&snapshot, now, self.previous_check, interval), host, now) {
            Decision::Idle => {
                tracing::info!(
                    decision = %"idle",
                    kernels,
                    busy,
                    starting,
                    terminals,
                    sessions,
                    cpu_percent = %cpu_percent,
                    gpu_percent = %gpu_percent,
                    since = %rfc3339(since)
                );
                self.previous_check = Some(now);
                Outcome::Idle
            }
            Decision::Heartbeat { kind, last_activity } => {
                let heartbeat = Heartbeat::new(&self.config.notebook_name, kind, last_activity, now);
                match self.writer.write(&heartbeat).await {
                    Ok(()) => {
                        tracing::info!(
                            decision = %"heartbeat",
                            kind = %kind,
                            kernels,
                            busy,
                            starting,
                            terminals,
                            sessions,
                            last_activity = %rfc3339(last_activity),
                            key = %self.writer.key()
                        );
                        self.previous_check = Some(now);
                        Outcome::Heartbeat
                    }
                    Err(e) => {
                        tracing::warn!(
                            decision = %"heartbeat-failed",
                            kind = %kind,
                            kernels,
                            busy,
                            starting,
                            terminals,
                            sessions,
                            reason = ?e.to_string()
                        );
                        Outcome::HeartbeatFailed
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn arguments() {
        assert_eq!(parse_args(&args(&[])), Ok(Mode::Loop));
        assert_eq!(parse_args(&args(&["--once"])), Ok(Mode::Once));
        assert_eq!(parse_args(&args(&["--help"])), Ok(Mode::Help));
        assert_eq!(parse_args(&args(&["--version"])), Ok(Mode::Version));
        assert!(parse_args(&args(&["--onse"])).is_err());
        assert!(parse_args(&args(&["--once", "--once"])).is_err());
    }
}
