//! Benchmark: what deactivating an owner with N notebooks costs, the first time and the second time, against a
//! private moto server: AWS API calls by operation and wall time. Usage: `bench-deactivate [N]` (default 50).
//! Run it through scripts/bench.sh.

use std::time::Instant;

use anyhow::{bail, ensure, Result};
use clap::Parser;
use fleet::domain::outcome::OutcomeEvent;
use fleet::domain::request::{NOTEBOOK_REQUESTED, OWNER_DEACTIVATED};
use fleet::testing::{DeactivationRequest, NotebookRequest};
use integration_tests::platform::source_of;
use integration_tests::{Emulator, Platform};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "bench-deactivate",
    about = "Benchmark: deactivating an owner with N notebooks, twice, against a private moto server"
)]
struct Cli {
    /// How many notebooks the owner has.
    #[arg(default_value_t = 50)]
    n: usize,
}

#[tokio::main]
async fn main() -> Result<()> {
    let n = Cli::parse().n;
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioner = platform.provisioner();
    println!(
        "notebook-fleet owner deactivation benchmark against moto ({}): one owner with {n} notebooks",
        emulator.endpoint
    );
    for i in 0..n {
        let detail = NotebookRequest::new(&format!("r-{i}"), &format!("alice-{i}")).detail();
        let outcome = provisioner.handle(source_of(NOTEBOOK_REQUESTED), NOTEBOOK_REQUESTED, &detail).await?;
        ensure!(matches!(outcome, OutcomeEvent::Provisioned(_)), "{outcome:?}");
    }
    for (run, request_id) in [
        ("first deactivation", "d-1"),
        ("second deactivation, a new request (nothing to change)", "d-2"),
        ("the first delivered again (the request ledger answers)", "d-1"),
    ] {
        platform.calls.reset();
        let started = Instant::now();
        let request =
            DeactivationRequest::new(request_id, "alice").with_requested_by("hr").with_reason("left").detail();
        let outcome = provisioner.handle(source_of(OWNER_DEACTIVATED), OWNER_DEACTIVATED, &request).await?;
        let wall = started.elapsed();
        let OutcomeEvent::OwnerDeactivationCompleted(completed) = &outcome else { bail!("{outcome:?}") };
        println!(
            "-- {run}: {} notebooks, changed {}, {:.2} s",
            completed.notebooks.len(),
            completed.changed.len(),
            wall.as_secs_f64()
        );
        for (operation, count) in platform.calls.snapshot() {
            println!("   {operation:<48} {count:>6}");
        }
        println!("   {:<48} {:>6}", "total", platform.calls.total());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench-deactivate").chain(line.split_whitespace()))
    }

    #[test]
    fn n_defaults_and_anything_else_is_refused() {
        assert_eq!(parse("").expect("parses").n, 50);
        assert_eq!(parse("7").expect("parses").n, 7);
        for bad in ["seven", "-3", "10 20", "--n 10"] {
            assert_eq!(parse(bad).expect_err(bad).exit_code(), 2, "{bad}");
        }
    }
}
