//! The heartbeat agent's binary: configuration, clients, then one check per interval (or one with --once).
//! A configuration error stops it at start (exit 78, the variable named); nothing else ever does.

use std::process::ExitCode;
use std::time::Duration;

use heartbeat_agent::config::Config;
use heartbeat_agent::heartbeat::{HeartbeatWriter, AGENT_VERSION};
use heartbeat_agent::jupyter::JupyterClient;
use heartbeat_agent::{parse_args, Agent, Mode, USAGE};
use tracing_subscriber::EnvFilter;

/// sysexits' EX_CONFIG.
const EXIT_CONFIG: u8 = 78;
const EXIT_USAGE: u8 = 2;
/// An S3 call (with the SDK's retries) never takes longer than this.
const S3_OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match parse_args(&args) {
        Ok(Mode::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Mode::Version) => {
            println!("heartbeat-agent {AGENT_VERSION}");
            return ExitCode::SUCCESS;
        }
        Ok(mode) => mode,
        Err(e) => {
            eprintln!("heartbeat-agent: {e}\n{USAGE}");
            return ExitCode::from(EXIT_USAGE);
        }
    };

    // One line per event on stdout (the journal under systemd), no colours.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("heartbeat_agent=info,warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_target(false).init();

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            tracing::error!("configuration error: {e}");
            eprintln!("heartbeat-agent: configuration error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };

    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("heartbeat-agent: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config, mode))
}

async fn run(config: Config, mode: Mode) -> ExitCode {
    let jupyter = match JupyterClient::new(&config.jupyter_url, config.jupyter_token.clone()) {
        Ok(jupyter) => jupyter,
        Err(e) => {
            tracing::error!("{}", heartbeat_agent::error_chain(&e));
            return ExitCode::FAILURE;
        }
    };
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(aws_config::timeout::TimeoutConfig::builder().operation_timeout(S3_OPERATION_TIMEOUT).build())
        .load()
        .await;
    let writer = HeartbeatWriter::new(&sdk, config.s3_path_style, &config.assets_bucket, &config.heartbeat_key());
    tracing::info!(
        version = AGENT_VERSION,
        notebook = %config.notebook_name,
        target = %format!("s3://{}/{}", config.assets_bucket, config.heartbeat_key()),
        jupyter = %config.jupyter_url,
        interval_seconds = config.interval.as_secs(),
        once = mode == Mode::Once,
        "heartbeat agent started"
    );

    let interval = config.interval;
    let mut agent = Agent::new(config, jupyter, writer);
    if mode == Mode::Once {
        agent.check().await;
        return ExitCode::SUCCESS;
    }
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        agent.check().await;
    }
}
