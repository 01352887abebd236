//! GPU utilisation from `nvidia-smi`, where there is one. Without it the signal is off; the agent says so
//! once, at start, rather than at every check.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `nvidia-smi` on the `PATH`, if any.
pub fn find_nvidia_smi(path: Option<&str>) -> Option<PathBuf> {
    std::env::split_paths(path?).map(|dir| dir.join("nvidia-smi")).find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The highest utilisation of `nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits`, one
/// line per GPU; `None` when no line is a number (`[N/A]`, an error message).
pub fn parse_utilisation(output: &str) -> Option<f64> {
    output
        .lines()
        .filter_map(|l| l.trim().parse::<f64>().ok())
        .fold(None, |max, u| Some(max.map_or(u, |m: f64| m.max(u))))
}

#[derive(Debug)]
pub struct GpuSampler {
    nvidia_smi: PathBuf,
}

impl GpuSampler {
    pub fn new(nvidia_smi: PathBuf) -> Self {
        GpuSampler { nvidia_smi }
    }

    /// The busiest GPU's utilisation in percent; `None` when `nvidia-smi` fails or answers nothing usable.
    pub fn sample(&self) -> Option<f64> {
        let output = Command::new(&self.nvidia_smi)
            .args(["--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"])
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        parse_utilisation(&String::from_utf8_lossy(&output.stdout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_gpu_counts_and_unusable_answers_are_none() {
        assert_eq!(parse_utilisation("3\n87\n0\n"), Some(87.0));
        assert_eq!(parse_utilisation(" 12 \n"), Some(12.0));
        assert_eq!(parse_utilisation("[N/A]\n"), None);
        assert_eq!(parse_utilisation(""), None);
    }
}
