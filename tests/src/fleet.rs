//! Seeds the emulator with managed notebooks and heartbeats, for the sweeper's tests and benchmark.

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use aws_sdk_sagemaker::types::{InstanceType, Tag};
use fleet::domain::heartbeat::heartbeat_key;
use fleet::domain::tags;
use futures::{stream, StreamExt, TryStreamExt};

use crate::platform::{s3_client, ASSETS_BUCKET, AUDIT_BUCKET, BUS_NAME};

/// The sweeper's settings for the emulated platform, defaults otherwise (60 minutes' idle timeout, a warning
/// 15 minutes before a stop).
pub fn sweep_settings() -> fleet::domain::settings::SweepSettings {
    let vars = std::collections::BTreeMap::from([
        (fleet::config::EVENT_BUS_NAME, BUS_NAME.to_owned()),
        (fleet::config::ASSETS_BUCKET, ASSETS_BUCKET.to_owned()),
        (fleet::config::AUDIT_BUCKET, AUDIT_BUCKET.to_owned()),
    ]);
    fleet::config::sweep_settings(&fleet::config::Vars::from_pairs(vars)).expect("valid sweeper configuration")
}

/// One notebook to seed: its name, instance type, extra tags, whether it is managed, and whether its
/// agent has written a heartbeat.
#[derive(Debug, Clone)]
pub struct Seed {
    pub name: String,
    pub instance_type: InstanceType,
    pub tags: Vec<(String, String)>,
    pub managed: bool,
    pub heartbeat: bool,
}

impl Seed {
    pub fn managed(name: impl Into<String>) -> Self {
        Seed {
            name: name.into(),
            instance_type: InstanceType::MlT3Medium,
            tags: Vec::new(),
            managed: true,
            heartbeat: true,
        }
    }

    pub fn tag(mut self, key: &str, value: impl Into<String>) -> Self {
        self.tags.push((key.to_owned(), value.into()));
        self
    }
}

/// Creates the notebooks (InService at once on moto) and their heartbeats, `parallel` at a time.
pub async fn seed(sdk: &SdkConfig, seeds: &[Seed], parallel: usize) -> Result<()> {
    seed_split(sdk, sdk, seeds, parallel).await
}

/// As [`seed`], with the heartbeats in the S3 that `s3_sdk` reaches (a second emulator, say).
pub async fn seed_split(sdk: &SdkConfig, s3_sdk: &SdkConfig, seeds: &[Seed], parallel: usize) -> Result<()> {
    let sagemaker = aws_sdk_sagemaker::Client::new(sdk);
    let s3 = s3_client(s3_sdk);
    let role_arn = "arn:aws:iam::123456789012:role/notebook-fleet/notebooks/nbf-seeded".to_owned();
    stream::iter(seeds)
        .map(|seed| {
            let (sagemaker, s3, role_arn) = (sagemaker.clone(), s3.clone(), role_arn.clone());
            async move {
                let mut all_tags = seed.tags.clone();
                if seed.managed {
                    all_tags.push((tags::MANAGED_BY.into(), tags::MANAGED_BY_VALUE.into()));
                    if !seed.tags.iter().any(|(key, _)| key == tags::OWNER) {
                        all_tags.push((tags::OWNER.into(), "owner-of-".to_owned() + &seed.name));
                    }
                }
                sagemaker
                    .create_notebook_instance()
                    .notebook_instance_name(&seed.name)
                    .instance_type(seed.instance_type.clone())
                    .role_arn(role_arn)
                    .set_tags(Some(all_tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
                    .send()
                    .await
                    .with_context(|| format!("creating {}", seed.name))?;
                if seed.heartbeat {
                    s3.put_object()
                        .bucket(ASSETS_BUCKET)
                        .key(heartbeat_key(&seed.name))
                        .body(br#"{"kind":"kernel-busy"}"#.to_vec().into())
                        .send()
                        .await
                        .with_context(|| format!("heartbeat of {}", seed.name))?;
                }
                anyhow::Ok(())
            }
        })
        .buffer_unordered(parallel)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

/// Status of every notebook, by name.
pub async fn statuses(sdk: &SdkConfig) -> Result<std::collections::BTreeMap<String, String>> {
    let sagemaker = aws_sdk_sagemaker::Client::new(sdk);
    let mut statuses = std::collections::BTreeMap::new();
    let mut pages = sagemaker.list_notebook_instances().max_results(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        for nb in page?.notebook_instances() {
            statuses.insert(
                nb.notebook_instance_name().unwrap_or_default().to_owned(),
                nb.notebook_instance_status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            );
        }
    }
    Ok(statuses)
}
