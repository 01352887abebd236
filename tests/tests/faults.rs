//! Fault injection (issue: nothing lost when AWS throttles, fails or drops a connection). The sweeper runs
//! through a proxy in front of moto that fails a share of its calls the way AWS does: throttling (JSON
//! `ThrottlingException`, S3 `SlowDown`), HTTP 500, a 3-second stall, a dropped connection, and an answer lost
//! after the call was done. Longer runs and 50 % faults: `scripts/bench.sh faults`.

use std::time::Duration;

use anyhow::Result;
use integration_tests::fault_sweeps::{sweeps_under_faults, FaultFigures, FaultRun};
use integration_tests::faults::Fault;

#[tokio::test(flavor = "multi_thread")]
async fn at_20_percent_faults_no_wrong_stop_no_lost_record_and_every_idle_notebook_stopped_within_two_sweeps(
) -> Result<()> {
    let run = FaultRun { fleet: 300, rate: 0.2, seed: 20, sweeps: 3, stall: Duration::from_secs(3) };
    let figures = sweeps_under_faults(run).await?;
    eprintln!("{}\n{}\n{}", FaultFigures::HEADER, figures.row(), figures.injected);
    let FaultFigures { injected, wrong_stops, idle_running_after, lost_records, .. } = &figures;

    // Every kind of fault was injected, at about the rate asked.
    for kind in [Fault::Throttle, Fault::ServerError, Fault::Stall, Fault::Drop, Fault::LostResponse] {
        assert!(injected.injected.get(&kind).copied().unwrap_or(0) > 0, "no {kind:?} injected: {injected}");
    }
    let share = injected.total_injected() as f64 / injected.requests as f64;
    assert!((0.15..0.25).contains(&share), "{share:.3} of the calls failed: {injected}");

    assert!(wrong_stops.is_empty(), "busy notebooks stopped: {wrong_stops:?}");
    assert_eq!(idle_running_after[1], 0, "idle notebooks still running after two sweeps: {idle_running_after:?}");
    assert!(lost_records.is_empty(), "actions without their record: {lost_records:?}");
    assert_eq!(figures.unreported, 0, "an idle notebook left running is in the report's failures");
    assert_eq!(figures.missing_stop_events, 0, "every stop is announced");
    assert_eq!(figures.open_journals, 0, "every journal is settled by the last sweep");
    Ok(())
}
