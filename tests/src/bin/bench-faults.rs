//! The fault-injection figures for the README: the sweeps of a 300-notebook fleet at 20 % and 50 % faults
//! (every kind: throttling, HTTP 500, a 3-second stall, a dropped connection, a lost answer), one row each.
//! `scripts/bench.sh faults [FLEET] [SWEEPS] [RATE]` (one rate, e.g. 0.5, instead of both).

use std::time::Duration;

use anyhow::{Context, Result};
use integration_tests::fault_sweeps::{sweeps_under_faults, FaultFigures, FaultRun};

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let fleet: usize = args.next().map(|a| a.parse()).transpose().context("FLEET: a number")?.unwrap_or(300);
    let sweeps: usize = args.next().map(|a| a.parse()).transpose().context("SWEEPS: a number")?.unwrap_or(3);
    println!("{}", FaultFigures::HEADER);
    let mut details = Vec::new();
    let rates: Vec<f64> = match args.next() {
        Some(rate) => vec![rate.parse::<f64>().context("RATE: a share such as 0.5")?],
        None => vec![0.2, 0.5],
    };
    for rate in rates {
        let run = FaultRun { fleet, rate, seed: 20, sweeps, stall: Duration::from_secs(3) };
        let figures = sweeps_under_faults(run).await?;
        println!("{}", figures.row());
        details.push(format!(
            "{:.0} %: {}; idle running after each sweep {:?}; open journals {}; seeding {:.0} s",
            rate * 100.0,
            figures.injected,
            figures.idle_running_after,
            figures.open_journals,
            figures.seed_seconds
        ));
        for lost in &figures.lost_records {
            details.push(format!("  lost: {lost}"));
        }
        for aborted in &figures.aborted {
            details.push(format!("  aborted: {aborted}"));
        }
        for missing in &figures.unreported_detail {
            details.push(format!("  missing from the report: {missing}"));
        }
    }
    println!();
    for line in details {
        println!("{line}");
    }
    Ok(())
}
