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

use clap::error::ErrorKind;
use clap::{ArgGroup, CommandFactory, Parser};
use fleet::domain::audit::{notebook_history_prefix, owner_history_prefix};
use fleet::domain::types::{NotebookName, Owner};
use fleet::ports::AuditLog;

/// Exit statuses: a finding (or a trail that could not be read); a command line that does not parse is 2,
/// as clap exits.
pub const FAILURE: u8 = 1;

/// The command line as typed.
#[derive(Debug, Parser)]
#[command(
    name = "audit-history",
    about = "Prints the audit trail of one notebook or one owner, oldest first, or verifies it",
    group(ArgGroup::new("history").required(true).args(["notebook", "owner"])),
)]
pub struct Cli {
    /// The audit bucket (the stack output AuditBucketName); default: FLEET_AUDIT_BUCKET.
    #[arg(long)]
    pub bucket: Option<String>,
    /// The history of this notebook.
    #[arg(long, value_name = "NAME", value_parser = NotebookName::parse)]
    pub notebook: Option<NotebookName>,
    /// The history of this owner.
    #[arg(long, value_parser = Owner::parse)]
    pub owner: Option<Owner>,
    /// Print the records themselves, one JSON object a line.
    #[arg(long, conflicts_with = "verify")]
    pub json: bool,
    /// Check the history instead: one line per finding, exit 1 if there is any.
    #[arg(long)]
    pub verify: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub bucket: String,
    pub prefix: String,
    pub json: bool,
    pub verify: bool,
}

/// Parses the command line (`args` starts with the program's name); the bucket defaults to
/// `FLEET_AUDIT_BUCKET`, looked up with `var`. An error prints itself with the usage (`Error::exit`).
pub fn parse<I, T>(args: I, var: impl Fn(&str) -> Option<String>) -> Result<Args, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    let bucket = cli.bucket.or_else(|| var("FLEET_AUDIT_BUCKET")).ok_or_else(|| {
        Cli::command()
            .error(ErrorKind::MissingRequiredArgument, "name the audit bucket with --bucket or FLEET_AUDIT_BUCKET")
    })?;
    let prefix = match (cli.notebook, cli.owner) {
        (Some(name), _) => notebook_history_prefix(&name),
        (None, Some(owner)) => owner_history_prefix(&owner),
        (None, None) => {
            return Err(
                Cli::command().error(ErrorKind::MissingRequiredArgument, "give --notebook NAME or --owner OWNER")
            )
        }
    };
    Ok(Args { bucket, prefix, json: cli.json, verify: cli.verify })
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

    fn args(line: &str) -> impl Iterator<Item = &str> {
        std::iter::once("audit-history").chain(line.split_whitespace())
    }

    #[test]
    fn the_command_line_names_one_history_and_one_mode() {
        let none = |_: &str| None;
        let parsed = parse(args("--bucket b --owner alice --verify"), none).expect("parses");
        assert_eq!(parsed, Args { bucket: "b".into(), prefix: "owners/alice/".into(), json: false, verify: true });
        let from_env = parse(args("--notebook nb --json"), |_| Some("env-bucket".into())).expect("parses");
        assert_eq!(
            (from_env.bucket.as_str(), from_env.prefix.as_str(), from_env.json),
            ("env-bucket", "notebooks/nb/", true)
        );
    }

    #[test]
    fn a_command_line_that_does_not_parse_is_refused_with_the_reason_and_the_usage() {
        let none = |_: &str| None;
        // (command line, the reason shown, whether the usage is shown: clap shows it for a wrong command line,
        // and only the pointer to --help for a wrong value)
        for (bad, reason, usage) in [
            ("--owner alice", "name the audit bucket with --bucket or FLEET_AUDIT_BUCKET", true),
            ("--bucket b", "the following required arguments were not provided", true),
            ("--bucket b --owner a --notebook n", "cannot be used with", true),
            ("--bucket b --owner a --json --verify", "'--json' cannot be used with '--verify'", true),
            ("--bucket b --owner a --verfy", "unexpected argument '--verfy'", true),
            ("--bucket b --owner a/../b", "invalid value 'a/../b' for '--owner <OWNER>'", false),
            ("--bucket b --notebook my_nb", "invalid value 'my_nb' for '--notebook <NAME>'", false),
        ] {
            let error = parse(args(bad), none).expect_err(bad);
            let shown = error.render().to_string();
            assert!(shown.contains(reason), "{bad}: {shown}");
            assert_eq!(shown.contains("Usage: audit-history"), usage, "{bad}: {shown}");
            assert!(shown.contains("try '--help'"), "{bad}: {shown}");
            assert_eq!(error.exit_code(), 2, "{bad}");
        }
    }
}
