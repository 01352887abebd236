//! The idle sweeper wired to the AWS SDK: clients built once, at start.

use aws_config::SdkConfig;

use chrono::{DateTime, Utc};

use super::audit::S3AuditLog;
use super::eventbridge::EventBridgeEvents;
use super::fleet::SageMakerFleet;
use super::heartbeats::S3Heartbeats;
use super::CallCounter;
use crate::domain::metrics::emf_line;
use crate::domain::settings::SweepSettings;
use crate::error::ServiceError;
use crate::service::sweep::Sweeper;

pub type AwsSweeper = Sweeper<SageMakerFleet, S3Heartbeats, EventBridgeEvents, S3AuditLog>;

/// How the sweeper's SDK clients retry: adaptive (the sweep as a whole backs off when SageMaker throttles its
/// stops), eight attempts a call. What still fails is in the report and done by the next sweep.
pub fn sweeper_retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::adaptive().with_max_attempts(8)
}

impl AwsSweeper {
    /// Every client counts its calls in `calls`. `s3_path_style` is for emulators (moto); AWS itself takes
    /// virtual-hosted addressing.
    pub fn from_sdk_config(sdk: &SdkConfig, config: SweepSettings, calls: &CallCounter, s3_path_style: bool) -> Self {
        let s3 =
            aws_sdk_s3::config::Builder::from(sdk).force_path_style(s3_path_style).interceptor(calls.clone()).build();
        Self::from_clients(
            aws_sdk_sagemaker::Client::from_conf(
                aws_sdk_sagemaker::config::Builder::from(sdk).interceptor(calls.clone()).build(),
            ),
            aws_sdk_resourcegroupstagging::Client::from_conf(
                aws_sdk_resourcegroupstagging::config::Builder::from(sdk).interceptor(calls.clone()).build(),
            ),
            aws_sdk_iam::Client::from_conf(aws_sdk_iam::config::Builder::from(sdk).interceptor(calls.clone()).build()),
            aws_sdk_s3::Client::from_conf(s3),
            aws_sdk_eventbridge::Client::from_conf(
                aws_sdk_eventbridge::config::Builder::from(sdk).interceptor(calls.clone()).build(),
            ),
            config,
        )
    }

    /// One sweep as the Lambda runs it: the report, one summary log line with the API calls by operation,
    /// and one embedded-metric line for CloudWatch.
    pub async fn sweep_and_report(
        &self,
        calls: &CallCounter,
        now: DateTime<Utc>,
    ) -> Result<serde_json::Value, ServiceError> {
        calls.reset();
        let report = self.sweep(now).await?;
        let api_calls = calls.snapshot();
        tracing::info!(
            verdicts = %serde_json::to_string(&report.verdicts).unwrap_or_default(),
            api_calls = %serde_json::to_string(&api_calls).unwrap_or_default(),
            api_calls_total = calls.total(),
            stopped = report.stopped.len(),
            warned = report.warned.len(),
            stop_failures = report.stop_failures.len(),
            dry_run = report.dry_run,
            duration_ms = report.duration_ms,
            "sweep finished"
        );
        println!("{}", emf_line("NotebookFleet", now.timestamp_millis(), &report.metrics()));
        Ok(with_api_calls(&report, api_calls))
    }

    /// One leftover run as the Lambda runs it (its own schedule): the report, with the API calls by operation.
    pub async fn leftovers_and_report(
        &self,
        calls: &CallCounter,
        now: DateTime<Utc>,
    ) -> Result<serde_json::Value, ServiceError> {
        calls.reset();
        let report = self.remove_leftovers(now).await?;
        let api_calls = calls.snapshot();
        tracing::info!(
            removed = report.removed.len(),
            too_young = report.too_young.len(),
            failures = report.failures.len(),
            listing_failures = report.listing_failures.len(),
            api_calls = %serde_json::to_string(&api_calls).unwrap_or_default(),
            dry_run = report.dry_run,
            "leftover run finished"
        );
        Ok(with_api_calls(&report, api_calls))
    }

    pub fn from_clients(
        sagemaker: aws_sdk_sagemaker::Client,
        tagging: aws_sdk_resourcegroupstagging::Client,
        iam: aws_sdk_iam::Client,
        s3: aws_sdk_s3::Client,
        eventbridge: aws_sdk_eventbridge::Client,
        config: SweepSettings,
    ) -> Self {
        let events = EventBridgeEvents::new(eventbridge, &config.event_bus_name, &config.event_source);
        let heartbeats = S3Heartbeats::new(s3.clone(), &config.assets_bucket);
        let audit = S3AuditLog::new(s3, &config.audit_bucket);
        Sweeper::new(SageMakerFleet::new(sagemaker, tagging, iam), heartbeats, events, audit, config)
    }
}

/// A report as the function answers it: its fields, and the API calls it made by operation.
fn with_api_calls(report: &impl serde::Serialize, api_calls: impl serde::Serialize) -> serde_json::Value {
    let mut answer = serde_json::to_value(report).unwrap_or_default();
    answer["api_calls"] = serde_json::to_value(api_calls).unwrap_or_default();
    answer
}
