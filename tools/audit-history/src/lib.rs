//! Prints the audit trail of one notebook or one owner, oldest first (one line per record, or the records
//! themselves as JSON lines), or verifies it (`--verify`: one line per finding).
//!
//! ```text
//! audit-history [--bucket BUCKET] (--notebook NAME | --owner OWNER) [--json | --verify]
//! ```
//!
//! Records are read as first written (the first version of each key). A key written again is shown as
//! first written, and named on stderr. The binary (`main.rs`) builds the S3 client; the rest is here, so that
//! the integration tests run the same code against the emulator.

use std::io::Write;

use fleet::domain::audit::{notebook_history_prefix, owner_history_prefix};
use fleet::domain::types::{NotebookName, Owner};
use fleet::ports::AuditLog;

pub const USAGE: &str = "usage: audit-history [--bucket BUCKET] (--notebook NAME | --owner OWNER) [--json | --verify]";

/// Exit statuses: a finding (or a trail that could not be read), and a command line that does not parse.
pub const FAILURE: u8 = 1;
pub const USAGE_ERROR: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub bucket: String,
    pub prefix: String,
    pub json: bool,
    pub verify: bool,
}

/// Parses the command line; the bucket defaults to `FLEET_AUDIT_BUCKET`, looked up with `var`.
pub fn parse(args: &[String], var: impl Fn(&str) -> Option<String>) -> Result<Args, String> {
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let bucket = value("--bucket")
        .or_else(|| var("FLEET_AUDIT_BUCKET"))
        .ok_or("name the audit bucket with --bucket or FLEET_AUDIT_BUCKET")?;
    let prefix = match (value("--notebook"), value("--owner")) {
        (Some(name), None) => {
            NotebookName::parse(&name).map_err(|e| format!("--notebook {name:?}: {e}"))?;
            notebook_history_prefix(&name)
        }
        (None, Some(owner)) => {
            Owner::parse(&owner).map_err(|e| format!("--owner {owner:?}: {e}"))?;
            owner_history_prefix(&owner)
        }
        _ => return Err("give exactly one of --notebook NAME and --owner OWNER".into()),
    };
    let (json, verify) = (args.iter().any(|a| a == "--json"), args.iter().any(|a| a == "--verify"));
    if json && verify {
        return Err("give at most one of --json and --verify".into());
    }
    Ok(Args { bucket, prefix, json, verify })
}

/// Prints or verifies the history; returns the exit status: 0 when printed or verified without finding.
pub async fn run(audit: &impl AuditLog, args: &Args, out: &mut impl Write, err: &mut impl Write) -> u8 {
    let location = format!("s3://{}/{}", args.bucket, args.prefix);
    let written = if args.verify {
        verify(audit, &location, args, out, err).await
    } else {
        print(audit, &location, args, out, err).await
    };
    written.unwrap_or_else(|e| {
        let _ = writeln!(err, "cannot write the output: {e}");
        FAILURE
    })
}

async fn print(
    audit: &impl AuditLog,
    location: &str,
    args: &Args,
    out: &mut impl Write,
    err: &mut impl Write,
) -> std::io::Result<u8> {
    let history = match audit.history(&args.prefix).await {
        Ok(history) => history,
        Err(error) => {
            writeln!(err, "cannot read {location}: {error}")?;
            return Ok(FAILURE);
        }
    };
    if history.records.is_empty() {
        writeln!(err, "no record under {location}")?;
    }
    for record in &history.records {
        if args.json {
            writeln!(out, "{}", serde_json::to_string(record).unwrap_or_default())?;
        } else {
            writeln!(out, "{}", record.line())?;
        }
    }
    for key in &history.tampered {
        writeln!(
            err,
            "warning: {} has {} versions; shown as first written (see audit-history --verify)",
            key.key,
            key.versions.len()
        )?;
    }
    for (key, problem) in &history.unreadable {
        writeln!(err, "warning: {key} is left out: {problem}")?;
    }
    Ok(0)
}

async fn verify(
    audit: &impl AuditLog,
    location: &str,
    args: &Args,
    out: &mut impl Write,
    err: &mut impl Write,
) -> std::io::Result<u8> {
    let verification = match audit.verify(&args.prefix).await {
        Ok(verification) => verification,
        Err(error) => {
            writeln!(err, "cannot verify {location}: {error}")?;
            return Ok(FAILURE);
        }
    };
    if verification.findings.is_empty() {
        writeln!(out, "verified: {} records, no finding", verification.records)?;
        return Ok(0);
    }
    for finding in &verification.findings {
        writeln!(out, "{finding}")?;
    }
    let found = verification.findings.len();
    let plural = if found == 1 { "" } else { "s" };
    writeln!(err, "{found} finding{plural} in {} records under {location}", verification.records)?;
    Ok(FAILURE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn the_command_line_names_one_history_and_one_mode() {
        let none = |_: &str| None;
        let parsed = parse(&args("--bucket b --owner alice --verify"), none).expect("parses");
        assert_eq!(parsed, Args { bucket: "b".into(), prefix: "owners/alice/".into(), json: false, verify: true });
        let from_env = parse(&args("--notebook nb --json"), |_| Some("env-bucket".into())).expect("parses");
        assert_eq!(
            (from_env.bucket.as_str(), from_env.prefix.as_str(), from_env.json),
            ("env-bucket", "notebooks/nb/", true)
        );
        for bad in [
            "--owner alice",
            "--bucket b",
            "--bucket b --owner a --notebook n",
            "--bucket b --owner a/../b",
            "--bucket b --owner a --json --verify",
        ] {
            assert!(parse(&args(bad), none).is_err(), "{bad}");
        }
    }
}
