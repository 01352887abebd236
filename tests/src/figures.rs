//! The benchmarks' summary: each benchmark binary adds its headline figures, one row each (the figure, its
//! value, the peer or limit it is compared with, and the ratio), to the file `FLEET_BENCH_FIGURES` names;
//! `scripts/bench.sh` prints that file as one table at the end of a run. Without the variable nothing is
//! written.

use std::fs::OpenOptions;
use std::io::Write;

/// The variable naming the summary file.
pub const FIGURES_FILE: &str = "FLEET_BENCH_FIGURES";

/// One row of the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub figure: String,
    pub value: String,
    pub compared_with: String,
    /// Value over what it is compared with (for a peer: the peer over notebook-fleet, so that above 1 is
    /// notebook-fleet ahead, as the row says).
    pub ratio: Option<f64>,
}

impl Figure {
    pub fn row(&self) -> String {
        let ratio = self.ratio.map_or_else(|| "-".to_owned(), |r| format!("{r:.2}"));
        format!("| {} | {} | {} | {ratio} |", self.figure, self.value, self.compared_with)
    }
}

/// Appends the figures to the summary file, if one is named.
pub fn record(figures: &[Figure]) -> anyhow::Result<()> {
    let Ok(path) = std::env::var(FIGURES_FILE) else { return Ok(()) };
    let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
    for figure in figures {
        writeln!(file, "{}", figure.row())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_has_four_cells_and_a_missing_ratio_is_a_dash() {
        let figure = Figure {
            figure: "init p50".into(),
            value: "27 ms".into(),
            compared_with: "1,008 ms (Python peer)".into(),
            ratio: Some(37.33),
        };
        assert_eq!(figure.row(), "| init p50 | 27 ms | 1,008 ms (Python peer) | 37.33 |");
        assert_eq!(Figure { ratio: None, ..figure }.row(), "| init p50 | 27 ms | 1,008 ms (Python peer) | - |");
    }
}
