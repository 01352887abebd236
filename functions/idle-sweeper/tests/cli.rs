//! The binary as an operator (or a typo) starts it: a misspelt flag exits 2 with the usage, before reading
//! any configuration or starting the Lambda runtime.

use std::process::Command;

#[test]
fn a_misspelt_flag_exits_2_with_the_usage_instead_of_starting_the_runtime() {
    let output = Command::new(env!("CARGO_BIN_EXE_idle-sweeper"))
        .arg("--onse")
        // Neither configuration nor a Lambda runtime API: only the command line can answer.
        .env_clear()
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("unexpected argument '--onse'"), "{stderr}");
    assert!(stderr.contains("Usage: idle-sweeper"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn help_exits_0_and_describes_the_operator_flags() {
    let output = Command::new(env!("CARGO_BIN_EXE_idle-sweeper")).arg("--help").env_clear().output().expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout.contains("--once") && stdout.contains("--dry-run") && stdout.contains("--now"), "{stdout}");
}
