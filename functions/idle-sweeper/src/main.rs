//! The idle sweeper Lambda: on a schedule, stops managed notebooks that nobody uses.
//!
//! Also an operator's command: `idle-sweeper --once [--now <RFC 3339>]` runs one sweep outside Lambda and
//! prints its report (with `FLEET_DRY_RUN=true`, what it would do).

#![recursion_limit = "256"]

use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use chrono::{DateTime, Utc};
use fleet::aws::{AwsSweeper, CallCounter};
use fleet::config::{self, Vars, S3_FORCE_PATH_STYLE};
use lambda_runtime::{service_fn, Error, LambdaEvent};

/// The process's peak resident set (VmHWM), for sizing the function's memory; Linux only.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let vars = Vars::from_env();
    let config = config::sweep_settings(&vars)?;
    // Adaptive retry: the sweeper backs off as a whole when SageMaker throttles its stops.
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::adaptive().with_max_attempts(8))
        .load()
        .await;
    let calls = CallCounter::new();
    let path_style = vars.boolean(S3_FORCE_PATH_STYLE)?;
    let sweeper = AwsSweeper::from_sdk_config(&sdk, config, &calls, path_style);

    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--once") {
        let now = match args.iter().position(|a| a == "--now").and_then(|i| args.get(i + 1)) {
            Some(time) => DateTime::parse_from_rfc3339(time)?.with_timezone(&Utc),
            None => Utc::now(),
        };
        let mut report = sweeper.sweep_and_report(&calls, now).await?;
        report["peak_rss_mib"] = serde_json::json!(peak_rss_mib());
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }

    let (sweeper, calls) = (&sweeper, &calls);
    lambda_runtime::run(service_fn(move |_scheduled: LambdaEvent<serde_json::Value>| async move {
        sweeper.sweep_and_report(calls, Utc::now()).await.map_err(Error::from)
    }))
    .await
}
