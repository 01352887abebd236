//! Prints the audit trail of one notebook or one owner, oldest first: one line per record, or the records
//! themselves as JSON lines.
//!
//! ```text
//! audit-history [--bucket BUCKET] (--notebook NAME | --owner OWNER) [--json]
//! ```
//!
//! The bucket defaults to `FLEET_AUDIT_BUCKET` (the stack output `AuditBucketName`). Credentials and region
//! come from the usual AWS environment; `FLEET_S3_FORCE_PATH_STYLE=true` is for emulators.

use std::process::ExitCode;

use fleet::aws::audit::S3AuditLog;
use fleet::domain::audit::{notebook_history_prefix, owner_history_prefix};
use fleet::domain::names::validate_notebook_name;
use fleet::domain::validation::validate_principal;
use fleet::ports::AuditLog;

const USAGE: &str = "usage: audit-history [--bucket BUCKET] (--notebook NAME | --owner OWNER) [--json]";

struct Args {
    bucket: String,
    prefix: String,
    json: bool,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let bucket = value("--bucket")
        .or_else(|| std::env::var("FLEET_AUDIT_BUCKET").ok())
        .ok_or("name the audit bucket with --bucket or FLEET_AUDIT_BUCKET")?;
    let prefix = match (value("--notebook"), value("--owner")) {
        (Some(name), None) => {
            validate_notebook_name(&name).map_err(|e| format!("--notebook {name:?}: {e}"))?;
            notebook_history_prefix(&name)
        }
        (None, Some(owner)) => {
            validate_principal(&owner).map_err(|e| format!("--owner {owner:?}: {e}"))?;
            owner_history_prefix(&owner)
        }
        _ => return Err("give exactly one of --notebook NAME and --owner OWNER".into()),
    };
    Ok(Args { bucket, prefix, json: args.iter().any(|a| a == "--json") })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&args) {
        Ok(args) => args,
        Err(problem) => {
            eprintln!("{problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let sdk = aws_config::load_from_env().await;
    let path_style = std::env::var("FLEET_S3_FORCE_PATH_STYLE").is_ok_and(|v| v == "true");
    let s3 =
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(path_style).build());
    let records = match S3AuditLog::new(s3, &args.bucket).history(&args.prefix).await {
        Ok(records) => records,
        Err(error) => {
            eprintln!("cannot read s3://{}/{}: {error}", args.bucket, args.prefix);
            return ExitCode::FAILURE;
        }
    };
    if records.is_empty() {
        eprintln!("no record under s3://{}/{}", args.bucket, args.prefix);
    }
    for record in &records {
        if args.json {
            println!("{}", serde_json::to_string(record).unwrap_or_default());
        } else {
            println!("{}", record.line());
        }
    }
    ExitCode::SUCCESS
}
