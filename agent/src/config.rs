//! The agent's configuration, read once at start. [`Config::from_vars`] is pure so tests need no environment.
//!
//! The on-start script writes `NBF_NOTEBOOK_NAME`, `NBF_ASSETS_BUCKET` and `AWS_REGION` to the agent's
//! environment file; everything else has a default that fits a SageMaker notebook instance.

use std::time::Duration;

pub use fleet_types::vars::{ConfigError, Vars};
use fleet_types::{BucketName, NotebookName, Prefix};

pub const NOTEBOOK_NAME: &str = "NBF_NOTEBOOK_NAME";
pub const ASSETS_BUCKET: &str = "NBF_ASSETS_BUCKET";
pub const HEARTBEAT_PREFIX: &str = "NBF_HEARTBEAT_PREFIX";
pub const INTERVAL_SECONDS: &str = "NBF_INTERVAL_SECONDS";
pub const JUPYTER_URL: &str = "NBF_JUPYTER_URL";
pub const JUPYTER_TOKEN: &str = "NBF_JUPYTER_TOKEN";
/// Where `nbf-keepalive` markers live ([`crate::keepalive`]).
pub const KEEPALIVE_DIR: &str = "NBF_KEEPALIVE_DIR";
/// Whose processes' CPU use is work ([`crate::cpu`]).
pub const PROCESS_USER: &str = "NBF_PROCESS_USER";
/// Only this process and its descendants count (tests).
pub const PROCESS_ROOT_PID: &str = "NBF_PROCESS_ROOT_PID";
pub const CPU_THRESHOLD_PERCENT: &str = "NBF_CPU_THRESHOLD_PERCENT";
pub const CPU_MIN_SECONDS: &str = "NBF_CPU_MIN_SECONDS";
pub const GPU_THRESHOLD_PERCENT: &str = "NBF_GPU_THRESHOLD_PERCENT";
pub const GPU_MIN_SECONDS: &str = "NBF_GPU_MIN_SECONDS";
/// Read for one decision only: with an explicit endpoint (an emulator) S3 is addressed path-style.
pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
pub const AWS_ENDPOINT_URL_S3: &str = "AWS_ENDPOINT_URL_S3";

pub const DEFAULT_HEARTBEAT_PREFIX: &str = "heartbeats/";
pub const DEFAULT_INTERVAL_SECONDS: u64 = 60;
pub const MAX_INTERVAL_SECONDS: u64 = 3600;
/// The local Jupyter server of a SageMaker notebook instance (self-signed certificate).
pub const DEFAULT_JUPYTER_URL: &str = "https://localhost:8443";
pub const DEFAULT_KEEPALIVE_DIR: &str = "/run/notebook-fleet/keepalive";
/// The user a SageMaker notebook instance's Jupyter and terminals run as.
pub const DEFAULT_PROCESS_USER: &str = "ec2-user";

#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    pub notebook_name: NotebookName,
    pub assets_bucket: BucketName,
    pub heartbeat_prefix: Prefix,
    pub interval: Duration,
    /// Without a trailing `/`; API paths are appended to it.
    pub jupyter_url: String,
    pub jupyter_token: Option<String>,
    pub s3_path_style: bool,
    pub keepalive_dir: std::path::PathBuf,
    pub process_user: String,
    pub process_root_pid: Option<u32>,
    /// Percent of one core (a job on four cores can reach 400).
    pub cpu_threshold_percent: u64,
    pub cpu_min_seconds: u64,
    pub gpu_threshold_percent: u64,
    pub gpu_min_seconds: u64,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("notebook_name", &self.notebook_name)
            .field("assets_bucket", &self.assets_bucket)
            .field("heartbeat_prefix", &self.heartbeat_prefix)
            .field("interval", &self.interval)
            .field("jupyter_url", &self.jupyter_url)
            .field("jupyter_token", &self.jupyter_token.as_ref().map(|_| "<redacted>"))
            .field("s3_path_style", &self.s3_path_style)
            .field("keepalive_dir", &self.keepalive_dir)
            .field("process_user", &self.process_user)
            .field("process_root_pid", &self.process_root_pid)
            .field("cpu_threshold_percent", &self.cpu_threshold_percent)
            .field("cpu_min_seconds", &self.cpu_min_seconds)
            .field("gpu_threshold_percent", &self.gpu_threshold_percent)
            .field("gpu_min_seconds", &self.gpu_min_seconds)
            .finish()
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::from_env())
    }

    /// Builds the configuration from any source of variables; empty values count as unset.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Config {
            notebook_name: vars.required_parsed(NOTEBOOK_NAME, NotebookName::parse)?,
            assets_bucket: vars.bucket(ASSETS_BUCKET)?,
            heartbeat_prefix: vars
                .parsed(HEARTBEAT_PREFIX, Prefix::parse)?
                .unwrap_or_else(|| Prefix::parse(DEFAULT_HEARTBEAT_PREFIX).expect("the default prefix is a folder")),
            interval: Duration::from_secs(vars.number_in(
                INTERVAL_SECONDS,
                DEFAULT_INTERVAL_SECONDS,
                1..=MAX_INTERVAL_SECONDS,
            )?),
            jupyter_url: validate_jupyter_url(&vars.or(JUPYTER_URL, DEFAULT_JUPYTER_URL))
                .map_err(|r| ConfigError::invalid(JUPYTER_URL, r))?,
            jupyter_token: vars.get(JUPYTER_TOKEN),
            s3_path_style: vars.get(AWS_ENDPOINT_URL).is_some() || vars.get(AWS_ENDPOINT_URL_S3).is_some(),
            keepalive_dir: vars.or(KEEPALIVE_DIR, DEFAULT_KEEPALIVE_DIR).into(),
            process_user: vars.or(PROCESS_USER, DEFAULT_PROCESS_USER),
            process_root_pid: vars
                .get(PROCESS_ROOT_PID)
                .map(|_| vars.number_in(PROCESS_ROOT_PID, 1u32, 1..=u32::MAX))
                .transpose()?,
            cpu_threshold_percent: vars.number_in(CPU_THRESHOLD_PERCENT, 20, 1..=100 * 1024)?,
            cpu_min_seconds: vars.number_in(CPU_MIN_SECONDS, 300, 1..=24 * 3600)?,
            gpu_threshold_percent: vars.number_in(GPU_THRESHOLD_PERCENT, 10, 1..=100)?,
            gpu_min_seconds: vars.number_in(GPU_MIN_SECONDS, 120, 1..=24 * 3600)?,
        })
    }

    /// `heartbeats/<notebook-name>`: the one key the notebook's role may write.
    pub fn heartbeat_key(&self) -> String {
        self.heartbeat_prefix.key(&self.notebook_name)
    }
}

fn validate_jupyter_url(url: &str) -> Result<String, String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(format!("{url:?} must start with http:// or https://"));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{url:?} has no host"));
    }
    if uri.query().is_some() {
        return Err(format!("{url:?} must not have a query"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(&Vars::from_pairs(vars.iter().copied()))
    }

    const REQUIRED: [(&str, &str); 2] = [(NOTEBOOK_NAME, "alice-nb-1"), (ASSETS_BUCKET, "fleet-assets")];

    fn with(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut vars = REQUIRED.to_vec();
        vars.extend_from_slice(extra);
        config(&vars)
    }

    #[test]
    fn the_cpu_signal_has_defaults_and_refuses_what_it_cannot_use() {
        let c = with(&[]).expect("valid");
        assert_eq!((c.process_user.as_str(), c.process_root_pid), ("ec2-user", None));
        assert_eq!((c.cpu_threshold_percent, c.cpu_min_seconds), (20, 300));
        let c =
            with(&[(PROCESS_ROOT_PID, "4242"), (CPU_THRESHOLD_PERCENT, "150"), (CPU_MIN_SECONDS, "2")]).expect("valid");
        assert_eq!((c.process_root_pid, c.cpu_threshold_percent, c.cpu_min_seconds), (Some(4242), 150, 2));
        for (name, value) in [
            (CPU_THRESHOLD_PERCENT, "0"),
            (CPU_THRESHOLD_PERCENT, "high"),
            (CPU_MIN_SECONDS, "0"),
            (PROCESS_ROOT_PID, "-1"),
        ] {
            let error = with(&[(name, value)]).expect_err("refused").to_string();
            assert!(error.contains(name), "{name}={value}: {error}");
        }
    }

    #[test]
    fn defaults_fit_a_sagemaker_notebook() {
        let c = with(&[]).expect("valid");
        assert_eq!(c.notebook_name, "alice-nb-1");
        assert_eq!(c.assets_bucket, "fleet-assets");
        assert_eq!(c.heartbeat_prefix, "heartbeats/");
        assert_eq!(c.heartbeat_key(), "heartbeats/alice-nb-1");
        assert_eq!(c.interval, Duration::from_secs(60));
        assert_eq!(c.jupyter_url, "https://localhost:8443");
        assert_eq!(c.jupyter_token, None);
        assert!(!c.s3_path_style);
    }

    #[test]
    fn every_variable_is_read() {
        let c = with(&[
            (HEARTBEAT_PREFIX, "beats/"),
            (INTERVAL_SECONDS, "5"),
            (JUPYTER_URL, "http://127.0.0.1:8888/"),
            (JUPYTER_TOKEN, "secret"),
            (AWS_ENDPOINT_URL, "http://127.0.0.1:5000"),
        ])
        .expect("valid");
        assert_eq!(c.heartbeat_key(), "beats/alice-nb-1");
        assert_eq!(c.interval, Duration::from_secs(5));
        assert_eq!(c.jupyter_url, "http://127.0.0.1:8888");
        assert_eq!(c.jupyter_token.as_deref(), Some("secret"));
        assert!(c.s3_path_style);
        assert!(with(&[(AWS_ENDPOINT_URL_S3, "http://127.0.0.1:5000")]).expect("valid").s3_path_style);
        assert!(!format!("{c:?}").contains("secret"), "the token is not logged");
    }

    #[test]
    fn missing_required_variables_are_named() {
        assert_eq!(config(&[(ASSETS_BUCKET, "fleet-assets")]), Err(ConfigError::Missing(NOTEBOOK_NAME)));
        assert_eq!(config(&[(NOTEBOOK_NAME, "nb")]), Err(ConfigError::Missing(ASSETS_BUCKET)));
        assert_eq!(config(&[(NOTEBOOK_NAME, "  "), (ASSETS_BUCKET, "b-1")]), Err(ConfigError::Missing(NOTEBOOK_NAME)));
        assert!(ConfigError::Missing(NOTEBOOK_NAME).to_string().contains("NBF_NOTEBOOK_NAME"));
    }

    #[test]
    fn invalid_values_are_named() {
        let name_of = |r: Result<Config, ConfigError>| match r {
            Err(ConfigError::Invalid { name, .. }) => name,
            other => panic!("expected an invalid variable, got {other:?}"),
        };
        assert_eq!(name_of(config(&[(NOTEBOOK_NAME, "a/b"), (ASSETS_BUCKET, "b-1")])), NOTEBOOK_NAME);
        assert_eq!(name_of(config(&[(NOTEBOOK_NAME, "-a"), (ASSETS_BUCKET, "b-1")])), NOTEBOOK_NAME);
        assert_eq!(name_of(config(&[(NOTEBOOK_NAME, &"a".repeat(64)), (ASSETS_BUCKET, "b-1")])), NOTEBOOK_NAME);
        assert_eq!(name_of(config(&[(NOTEBOOK_NAME, "nb"), (ASSETS_BUCKET, "Bad_Bucket")])), ASSETS_BUCKET);
        // The rules the agent shares with the provisioner (fleet-types), which its own copy used to lack.
        for bucket in ["a..b", "192.168.1.1", "xn--abc", "abc-s3alias"] {
            assert_eq!(name_of(config(&[(NOTEBOOK_NAME, "nb"), (ASSETS_BUCKET, bucket)])), ASSETS_BUCKET, "{bucket}");
        }
        assert_eq!(name_of(with(&[(HEARTBEAT_PREFIX, "beats/../x/")])), HEARTBEAT_PREFIX);
        assert_eq!(name_of(with(&[(INTERVAL_SECONDS, "0")])), INTERVAL_SECONDS);
        assert_eq!(name_of(with(&[(INTERVAL_SECONDS, "1m")])), INTERVAL_SECONDS);
        assert_eq!(name_of(with(&[(INTERVAL_SECONDS, "3601")])), INTERVAL_SECONDS);
        assert_eq!(name_of(with(&[(JUPYTER_URL, "localhost:8443")])), JUPYTER_URL);
        assert_eq!(name_of(with(&[(JUPYTER_URL, "ftp://localhost")])), JUPYTER_URL);
        assert_eq!(name_of(with(&[(JUPYTER_URL, "http://localhost/?token=x")])), JUPYTER_URL);
        assert_eq!(name_of(with(&[(HEARTBEAT_PREFIX, "/heartbeats/")])), HEARTBEAT_PREFIX);
    }

    #[test]
    fn interval_bounds_are_inclusive() {
        assert_eq!(with(&[(INTERVAL_SECONDS, "1")]).expect("valid").interval, Duration::from_secs(1));
        assert_eq!(with(&[(INTERVAL_SECONDS, "3600")]).expect("valid").interval, Duration::from_secs(3600));
    }
}
