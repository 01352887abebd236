//! `audit-history`: see the library for what it prints. Credentials and region come from the usual AWS
//! environment; the bucket defaults to `FLEET_AUDIT_BUCKET` (the stack output `AuditBucketName`);
//! `FLEET_S3_FORCE_PATH_STYLE=true` is for emulators.

use std::process::ExitCode;

use audit_history::{parse, run};
use fleet::aws::audit::S3AuditLog;

#[tokio::main]
async fn main() -> ExitCode {
    // A command line that does not parse prints the problem and the usage, and exits 2 (0 for --help).
    let args = parse(std::env::args_os(), |name| std::env::var(name).ok()).unwrap_or_else(|e| e.exit());
    let sdk = aws_config::load_from_env().await;
    let path_style = std::env::var("FLEET_S3_FORCE_PATH_STYLE").is_ok_and(|v| v == "true");
    let s3 =
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(path_style).build());
    let audit = S3AuditLog::new(s3, &args.bucket);
    ExitCode::from(run(&audit, &args, &mut std::io::stdout().lock(), &mut std::io::stderr().lock()).await)
}
