//! The idle sweeper Lambda: on a schedule, stops managed notebooks that nobody uses.
//!
//! Without arguments it runs the Lambda runtime (as Lambda starts it): a scheduled event sweeps, one whose
//! input is `{"run": "leftovers"}` (the template's daily rule) removes leftover roles and lifecycle
//! configurations instead. Also an operator's command: `idle-sweeper --once [--now <RFC 3339>] [--dry-run]
//! [--leftovers]` runs one sweep (or one leftover run) outside Lambda and prints its report (with `--dry-run`
//! or `FLEET_DRY_RUN=true`, what it would do). Any other argument is refused with the usage (exit 2): a
//! misspelt flag never starts the runtime.

#![recursion_limit = "256"]

use aws_config::BehaviorVersion;
use chrono::{DateTime, Utc};
use clap::Parser;
use fleet::aws::{sweeper_retry_config, AwsSweeper, CallCounter};
use fleet::config::{self, Vars, S3_FORCE_PATH_STYLE};
use lambda_runtime::{service_fn, Error, LambdaEvent};

/// The command line. No argument: the Lambda runtime.
#[derive(Debug, Parser)]
#[command(
    name = "idle-sweeper",
    about = "Stops managed notebooks that nobody uses: the scheduled Lambda, or one sweep with --once"
)]
struct Cli {
    /// Run one sweep outside Lambda, print its report as JSON and exit.
    #[arg(long)]
    once: bool,
    /// The sweep's clock, in RFC 3339 (e.g. 2026-01-01T12:00:00Z); default: now.
    #[arg(long, requires = "once", value_name = "RFC 3339", value_parser = rfc3339)]
    now: Option<DateTime<Utc>>,
    /// Decide and report, but stop, warn and revoke nothing (as FLEET_DRY_RUN=true).
    #[arg(long, requires = "once")]
    dry_run: bool,
    /// Remove leftover fleet roles and lifecycle configurations that no notebook uses, instead of sweeping.
    #[arg(long, requires = "once")]
    leftovers: bool,
}

/// The input of the template's daily leftover rule.
const LEFTOVERS_INPUT: &str = "leftovers";

/// Whether a scheduled event asks for the leftover run (`{"run": "leftovers"}`) rather than a sweep (no
/// `run`, or `"sweep"`). Any other `run` is refused, so a misspelt rule input never sweeps by surprise.
fn asks_for_leftovers(event: &serde_json::Value) -> Result<bool, String> {
    match event.get("run") {
        None => Ok(false),
        Some(run) => match run.as_str() {
            Some(LEFTOVERS_INPUT) => Ok(true),
            Some("sweep") => Ok(false),
            _ => Err(format!("the event's \"run\" is {run}: expected \"{LEFTOVERS_INPUT}\" or \"sweep\"")),
        },
    }
}

fn rfc3339(value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value).map(|time| time.with_timezone(&Utc)).map_err(|e| format!("{e}"))
}

/// The process's peak resident set (VmHWM), for sizing the function's memory; Linux only.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // First: --help and a misspelt flag answer before any configuration is read.
    let cli = Cli::parse();
    lambda_runtime::tracing::init_default_subscriber();
    let vars = Vars::from_env();
    let mut config = config::sweep_settings(&vars)?;
    config.dry_run |= cli.dry_run;
    let sdk = aws_config::defaults(BehaviorVersion::latest()).retry_config(sweeper_retry_config()).load().await;
    let calls = CallCounter::new();
    let path_style = vars.boolean(S3_FORCE_PATH_STYLE)?;
    let sweeper = AwsSweeper::from_sdk_config(&sdk, config, &calls, path_style);

    if cli.once && cli.leftovers {
        let report = sweeper.leftovers_and_report(&calls, cli.now.unwrap_or_else(Utc::now)).await?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    if cli.once {
        let mut report = sweeper.sweep_and_report(&calls, cli.now.unwrap_or_else(Utc::now)).await?;
        report["peak_rss_mib"] = serde_json::json!(peak_rss_mib());
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }

    let (sweeper, calls) = (&sweeper, &calls);
    lambda_runtime::run(service_fn(move |scheduled: LambdaEvent<serde_json::Value>| async move {
        if asks_for_leftovers(&scheduled.payload).map_err(Error::from)? {
            return sweeper.leftovers_and_report(calls, Utc::now()).await.map_err(Error::from);
        }
        sweeper.sweep_and_report(calls, Utc::now()).await.map_err(Error::from)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;

    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("idle-sweeper").chain(line.split_whitespace()))
    }

    #[test]
    fn no_argument_is_the_lambda_runtime() {
        let cli = parse("").expect("parses");
        assert!(!cli.once && !cli.dry_run && cli.now.is_none());
    }

    #[test]
    fn an_operator_sweeps_once_at_a_given_time_as_a_dry_run() {
        let cli = parse("--once --now 2026-01-01T12:00:00+01:00 --dry-run").expect("parses");
        assert!(cli.once && cli.dry_run);
        assert_eq!(cli.now.map(|t| t.to_rfc3339()).as_deref(), Some("2026-01-01T11:00:00+00:00"));
    }

    #[test]
    fn a_misspelt_or_stray_argument_is_refused_not_run_as_lambda() {
        for (line, kind) in [
            ("--onse", ErrorKind::UnknownArgument),
            ("--once --dryrun", ErrorKind::UnknownArgument),
            ("once", ErrorKind::UnknownArgument),
            ("--now 2026-01-01T12:00:00Z", ErrorKind::MissingRequiredArgument),
            ("--dry-run", ErrorKind::MissingRequiredArgument),
            ("--leftovers", ErrorKind::MissingRequiredArgument),
            ("--once --now yesterday", ErrorKind::ValueValidation),
        ] {
            let error = parse(line).expect_err(line);
            assert_eq!(error.kind(), kind, "{line}: {error}");
            assert_eq!(error.exit_code(), 2, "{line}");
        }
    }

    #[test]
    fn the_daily_rule_asks_for_leftovers_and_any_other_event_sweeps() {
        assert_eq!(asks_for_leftovers(&serde_json::json!({"run": "leftovers"})), Ok(true));
        let scheduled = serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        assert_eq!(asks_for_leftovers(&scheduled), Ok(false));
        assert_eq!(asks_for_leftovers(&serde_json::json!({"run": "sweep"})), Ok(false));
        let refused = asks_for_leftovers(&serde_json::json!({"run": "leftover"})).expect_err("a misspelt run");
        assert!(refused.contains("\"leftover\"") && refused.contains("expected \"leftovers\""), "{refused}");
        assert!(parse("--once --leftovers").is_ok_and(|cli| cli.leftovers));
    }

    #[test]
    fn help_names_every_flag() {
        let help = parse("--help").expect_err("help is shown, not parsed").to_string();
        for flag in ["--once", "--now", "--dry-run", "--leftovers"] {
            assert!(help.contains(flag), "{flag} missing from:\n{help}");
        }
    }
}
