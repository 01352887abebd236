//! The demo's helper: builds the emulated platform on a running moto server and shows what the
//! provisioner made of a request.
//!
//! ```text
//! emulated-platform setup --endpoint URL --env-file PATH   # network, boundary, buckets, bus; writes the Lambda's env
//! emulated-platform show --endpoint URL --notebook NAME    # the notebook, its tags, role policies and outcome events
//! ```

use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use fleet::domain::policy::PolicyDocument;
use integration_tests::emulator::{sdk_config_for, test_credentials, REGION};
use integration_tests::Platform;
use serde_json::{json, Value};

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "emulated-platform", about = "The demo's helper: the emulated platform on a running moto server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the network, boundary, buckets and bus; write the provisioner Lambda's environment.
    Setup {
        /// The moto server, e.g. http://127.0.0.1:5000.
        #[arg(long, value_name = "URL")]
        endpoint: String,
        /// Where to write the Lambda's environment (NAME="value" lines).
        #[arg(long, value_name = "PATH")]
        env_file: String,
    },
    /// Print a notebook, its tags, its role's policies and the outcome events on the bus.
    Show {
        /// The moto server.
        #[arg(long, value_name = "URL")]
        endpoint: String,
        /// The notebook to show.
        #[arg(long, value_name = "NAME")]
        notebook: String,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Setup { endpoint, env_file } => {
            setup(sdk_config_for(&endpoint, test_credentials()).await, &endpoint, &env_file).await
        }
        Command::Show { endpoint, notebook } => {
            show(sdk_config_for(&endpoint, test_credentials()).await, &notebook).await
        }
    }
}

async fn setup(sdk: aws_config::SdkConfig, endpoint: &str, env_file: &str) -> Result<()> {
    let platform = Platform::build_with(sdk).await?;
    let mut env = String::new();
    let mut vars: Vec<_> = platform.env().into_iter().collect();
    vars.sort();
    // Quoted: the sender map holds spaces, and both cargo lambda's env file and a shell read the quotes.
    for (name, value) in vars {
        if value.contains(['"', '$', '`', '\\']) {
            bail!("{name}={value:?} cannot be written to an env file");
        }
        writeln!(env, "{name}=\"{value}\"")?;
    }
    for (name, value) in [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("FLEET_S3_FORCE_PATH_STYLE", "true"),
        ("RUST_LOG", "info"),
    ] {
        writeln!(env, "{name}={value}")?;
    }
    std::fs::write(env_file, env).with_context(|| format!("writing {env_file}"))?;
    println!("emulated platform: vpc {} private subnets {:?} (no internet route), security group {}, S3 endpoint {}, boundary {}",
        platform.vpc_id, platform.private_subnet_ids, platform.security_group_id, platform.s3_endpoint_id, platform.boundary_arn);
    Ok(())
}

fn policy_json(text: &str) -> Result<Value> {
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8()?;
    Ok(serde_json::to_value(serde_json::from_str::<PolicyDocument>(&decoded)?)?)
}

async fn show(sdk: aws_config::SdkConfig, name: &str) -> Result<()> {
    let sagemaker = aws_sdk_sagemaker::Client::new(&sdk);
    let notebook = sagemaker.describe_notebook_instance().notebook_instance_name(name).send().await?;
    let tags: serde_json::Map<String, Value> = sagemaker
        .list_tags()
        .resource_arn(notebook.notebook_instance_arn().unwrap_or_default())
        .send()
        .await?
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default().to_owned(), json!(t.value())))
        .collect();
    let role_name = notebook.role_arn().and_then(|a| a.rsplit('/').next()).context("role arn")?.to_owned();
    let iam = aws_sdk_iam::Client::new(&sdk);
    let role = iam.get_role().role_name(&role_name).send().await?.role.context("role")?;
    let inline = iam
        .get_role_policy()
        .role_name(&role_name)
        .policy_name(fleet::domain::policy::NOTEBOOK_POLICY_NAME)
        .send()
        .await?;
    let shown = json!({
        "notebook": {
            "name": notebook.notebook_instance_name(),
            "status": notebook.notebook_instance_status().map(|s| s.as_str()),
            "instance_type": notebook.instance_type().map(|s| s.as_str()),
            "direct_internet_access": notebook.direct_internet_access().map(|s| s.as_str()),
            "root_access": notebook.root_access().map(|s| s.as_str()),
            "subnet_id": notebook.subnet_id(),
            "security_groups": notebook.security_groups(),
            "volume_size_gb": notebook.volume_size_in_gb(),
            "lifecycle_config": notebook.notebook_instance_lifecycle_config_name(),
            "role_arn": notebook.role_arn(),
            "tags": tags,
        },
        "role": {
            "path": role.path(),
            "permissions_boundary": role.permissions_boundary().and_then(|b| b.permissions_boundary_arn()),
            "trust_policy": policy_json(role.assume_role_policy_document().unwrap_or_default())?,
            "inline_policy": policy_json(inline.policy_document())?,
        },
    });
    println!("{}", serde_json::to_string_pretty(&shown)?);

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = sqs.get_queue_url().queue_name("notebook-fleet-outcomes").send().await?.queue_url.context("queue")?;
    let received = sqs.receive_message().queue_url(&queue).max_number_of_messages(10).send().await?;
    for message in received.messages() {
        let body: Value = serde_json::from_str(message.body().unwrap_or("{}"))?;
        println!("outcome event on the bus: {} {}", body["detail-type"], body["detail"]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("emulated-platform").chain(line.split_whitespace()))
    }

    #[test]
    fn setup_and_show_take_their_flags() {
        let setup = parse("setup --endpoint http://127.0.0.1:1 --env-file out.env").expect("parses");
        assert!(
            matches!(setup.command, Command::Setup { endpoint, env_file } if endpoint == "http://127.0.0.1:1" && env_file == "out.env")
        );
        let show = parse("show --endpoint http://127.0.0.1:1 --notebook nb").expect("parses");
        assert!(matches!(show.command, Command::Show { notebook, .. } if notebook == "nb"));
    }

    #[test]
    fn a_missing_or_misspelt_flag_is_refused_with_the_usage() {
        for line in ["", "setup --endpoint e", "show --endpoint e --notbook nb", "teardown --endpoint e"] {
            let error = parse(line).expect_err(line);
            assert_eq!(error.exit_code(), 2, "{line}");
            assert!(error.render().to_string().contains("Usage: emulated-platform"), "{line}: {error}");
        }
    }
}
