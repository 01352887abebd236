//! What the SAM template builds, built on the emulator: an isolated VPC (two private subnets without an
//! internet route and, for refusal tests, one public subnet), the notebook security group, the S3 gateway
//! endpoint with the data-perimeter policy, the notebooks' permissions boundary, the assets and data
//! buckets with the published agent, the audit bucket under object lock, and the event bus whose outcome
//! events are captured in SQS.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use aws_sdk_ec2::types::{IpPermission, IpRange, VpcEndpointType};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled,
    ObjectLockRetentionMode, ObjectLockRule,
};
use fleet::aws::{AwsProvisioner, CallCounter, ProvisionerClients};
use fleet::config;
use fleet::domain::lifecycle::{lifecycle_config, OnStartParameters};
use fleet::domain::outcome::OutcomeEvent;
use fleet::domain::policy::{data_perimeter_policy, notebook_permissions_boundary};
use fleet::domain::settings::ProvisionerSettings;
use sha2::{Digest, Sha256};

use crate::emulator::{Emulator, ACCOUNT_ID, REGION};
use crate::recorder::RequestRecorder;

pub const ASSETS_BUCKET: &str = "fleet-assets";
pub const DATA_BUCKETS: [&str; 2] = ["team-data", "shared-data"];
pub const BUS_NAME: &str = "notebook-fleet";
/// Object lock on, default retention GOVERNANCE for a day: as the template's audit bucket (its default mode).
pub const AUDIT_BUCKET: &str = "fleet-audit";
/// The platform's own bucket for its configuration documents (the entitlements).
pub const PLATFORM_CONFIG_BUCKET: &str = "fleet-platform-config";
pub const ENTITLEMENTS_KEY: &str = "notebook-fleet/entitlements.json";
/// Which data each team may get: what the platform team would write (team risk: each owner's own folder,
/// read-write, and the shared reference data, read; team-data is encrypted with a customer-managed key).
pub const ENTITLEMENTS: &str = r#"{
  "version": 1,
  "rules": [
    {"team": "risk", "bucket": "team-data", "prefix": "risk/{owner}/", "access": "read-write"},
    {"team": "risk", "bucket": "shared-data", "prefix": "reference/", "access": "read"}
  ],
  "kms_keys": [
    {"bucket": "team-data", "key_arn": "arn:aws:kms:eu-west-1:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"}
  ]
}
"#;
/// The senders the platform names, as in the sample events: a portal, an identity system, an approvals system.
pub const PORTAL_SOURCE: &str = "platform.portal";
pub const IDENTITY_SOURCE: &str = "platform.hr";
pub const APPROVALS_SOURCE: &str = "platform.approvals";

/// The source the platform's sender map names for a request kind.
pub fn source_of(detail_type: &str) -> &'static str {
    use fleet::domain::request::{CUSTODIAN_ACCESS_REQUESTED, NOTEBOOK_DECOMMISSION_REQUESTED, OWNER_DEACTIVATED};
    match detail_type {
        OWNER_DEACTIVATED => IDENTITY_SOURCE,
        CUSTODIAN_ACCESS_REQUESTED | NOTEBOOK_DECOMMISSION_REQUESTED => APPROVALS_SOURCE,
        _ => PORTAL_SOURCE,
    }
}

/// `FLEET_REQUEST_SOURCES` as the template writes it from its sender parameters.
pub fn request_sources() -> String {
    fleet::domain::request::REQUEST_DETAIL_TYPES
        .iter()
        .map(|kind| format!("{kind}={}", source_of(kind)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Stands in for the heartbeat agent binary until it is published by the deploy.
pub const AGENT_BYTES: &[u8] = b"#!/bin/sh\n# stand-in heartbeat agent\nexit 0\n";

#[derive(Debug)]
pub struct Platform {
    pub sdk: SdkConfig,
    pub vpc_id: String,
    pub private_subnet_ids: Vec<String>,
    pub public_subnet_id: String,
    pub security_group_id: String,
    pub s3_endpoint_id: String,
    pub boundary_arn: String,
    pub agent_key: String,
    pub outcome_queue_url: String,
    /// Counts every AWS call the provisioner makes.
    pub calls: CallCounter,
    /// Keeps every request body the provisioner sends.
    pub requests: RequestRecorder,
}

impl Platform {
    pub async fn build(emulator: &Emulator) -> Result<Self> {
        Self::build_with(emulator.sdk_config().await).await
    }

    pub async fn build_with(sdk: SdkConfig) -> Result<Self> {
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let vpc_id =
            ec2.create_vpc().cidr_block("10.0.0.0/16").send().await?.vpc.and_then(|v| v.vpc_id).context("vpc id")?;

        // Private subnets: their route tables hold the local route and, below, the S3 endpoint's route.
        let (mut private_subnet_ids, mut private_tables) = (Vec::new(), Vec::new());
        for (cidr, az) in [("10.0.1.0/24", "a"), ("10.0.2.0/24", "b")] {
            let subnet = subnet(&ec2, &vpc_id, cidr, az).await?;
            private_tables.push(route_table(&ec2, &vpc_id, &subnet).await?);
            private_subnet_ids.push(subnet);
        }

        let public_subnet_id = subnet(&ec2, &vpc_id, "10.0.100.0/24", "a").await?;
        let public_table = route_table(&ec2, &vpc_id, &public_subnet_id).await?;
        let igw = internet_gateway(&ec2, &vpc_id).await?;
        ec2.create_route()
            .route_table_id(&public_table)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(&igw)
            .send()
            .await?;

        // The notebook security group: no ingress, egress to HTTPS inside the VPC (the endpoints) only.
        let security_group_id = ec2
            .create_security_group()
            .group_name("notebook-fleet-notebooks")
            .description("notebook-fleet notebooks: egress to VPC endpoints only")
            .vpc_id(&vpc_id)
            .send()
            .await?
            .group_id
            .context("sg id")?;
        let all = IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build();
        ec2.revoke_security_group_egress().group_id(&security_group_id).ip_permissions(all).send().await?;
        let https = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(443)
            .to_port(443)
            .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/16").build())
            .build();
        ec2.authorize_security_group_egress().group_id(&security_group_id).ip_permissions(https).send().await?;

        let data_buckets: Vec<String> = DATA_BUCKETS.iter().map(|b| (*b).to_owned()).collect();
        let s3_endpoint_id = ec2
            .create_vpc_endpoint()
            .vpc_id(&vpc_id)
            .vpc_endpoint_type(VpcEndpointType::Gateway)
            .service_name(format!("com.amazonaws.{REGION}.s3"))
            .set_route_table_ids(Some(private_tables))
            .policy_document(data_perimeter_policy(&data_buckets, ASSETS_BUCKET).to_json())
            .send()
            .await?
            .vpc_endpoint
            .and_then(|e| e.vpc_endpoint_id)
            .context("endpoint id")?;

        let iam = aws_sdk_iam::Client::new(&sdk);
        let boundary_arn = iam
            .create_policy()
            .policy_name("notebook-fleet-notebook-boundary")
            .policy_document(notebook_permissions_boundary(&data_buckets, ASSETS_BUCKET, REGION, ACCOUNT_ID).to_json())
            .send()
            .await?
            .policy
            .and_then(|p| p.arn)
            .context("boundary arn")?;

        let s3 = s3_client(&sdk);
        for bucket in [ASSETS_BUCKET, AUDIT_BUCKET, PLATFORM_CONFIG_BUCKET].into_iter().chain(DATA_BUCKETS) {
            s3.create_bucket()
                .bucket(bucket)
                // Object lock can only be switched on when a bucket is created.
                .object_lock_enabled_for_bucket(bucket == AUDIT_BUCKET)
                .create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(REGION))
                        .build(),
                )
                .send()
                .await
                .with_context(|| format!("creating bucket {bucket}"))?;
        }
        s3.put_object_lock_configuration()
            .bucket(AUDIT_BUCKET)
            .object_lock_configuration(
                ObjectLockConfiguration::builder()
                    .object_lock_enabled(ObjectLockEnabled::Enabled)
                    .rule(
                        ObjectLockRule::builder()
                            .default_retention(
                                DefaultRetention::builder().mode(ObjectLockRetentionMode::Governance).days(1).build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .context("the audit bucket's default retention")?;
        s3.put_object()
            .bucket(PLATFORM_CONFIG_BUCKET)
            .key(ENTITLEMENTS_KEY)
            .content_type("application/json")
            .body(ENTITLEMENTS.as_bytes().to_vec().into())
            .send()
            .await
            .context("publishing the entitlements document")?;
        let digest: String = Sha256::digest(AGENT_BYTES).iter().map(|b| format!("{b:02x}")).collect();
        let agent_key = format!("assets/agent/sha256-{digest}/heartbeat-agent");
        s3.put_object().bucket(ASSETS_BUCKET).key(&agent_key).body(AGENT_BYTES.to_vec().into()).send().await?;

        let events = aws_sdk_eventbridge::Client::new(&sdk);
        events.create_event_bus().name(BUS_NAME).send().await?;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let outcome_queue_url =
            sqs.create_queue().queue_name("notebook-fleet-outcomes").send().await?.queue_url.context("queue url")?;
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&outcome_queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await?
            .attributes
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned())
            .context("queue arn")?;
        events
            .put_rule()
            .name("capture-outcomes")
            .event_bus_name(BUS_NAME)
            .event_pattern(r#"{"source":["notebook-fleet"]}"#)
            .send()
            .await?;
        events
            .put_targets()
            .rule("capture-outcomes")
            .event_bus_name(BUS_NAME)
            .targets(aws_sdk_eventbridge::types::Target::builder().id("outcomes").arn(queue_arn).build()?)
            .send()
            .await?;

        Ok(Platform {
            sdk,
            vpc_id,
            private_subnet_ids,
            public_subnet_id,
            security_group_id,
            s3_endpoint_id,
            boundary_arn,
            agent_key,
            outcome_queue_url,
            calls: CallCounter::new(),
            requests: RequestRecorder::default(),
        })
    }

    /// The provisioner's environment, as the SAM template sets it.
    pub fn env(&self) -> HashMap<&'static str, String> {
        HashMap::from([
            (config::EVENT_BUS_NAME, BUS_NAME.to_owned()),
            (config::SUBNET_IDS, self.private_subnet_ids.join(",")),
            (config::SECURITY_GROUP_IDS, self.security_group_id.clone()),
            (config::PERMISSIONS_BOUNDARY_ARN, self.boundary_arn.clone()),
            (config::ASSETS_BUCKET, ASSETS_BUCKET.to_owned()),
            (config::DATA_BUCKETS, DATA_BUCKETS.join(",")),
            (config::AGENT_OBJECT_KEY, self.agent_key.clone()),
            (config::AUDIT_BUCKET, AUDIT_BUCKET.to_owned()),
            (config::REQUEST_SOURCES, request_sources()),
            (config::ENTITLEMENTS_URI, format!("s3://{PLATFORM_CONFIG_BUCKET}/{ENTITLEMENTS_KEY}")),
            (config::REGION, REGION.to_owned()),
        ])
    }

    /// The configuration, with the entitlements document the platform published (the functions read it
    /// from S3 at start: `fleet::aws::load_entitlements`, proven in tests/tests/authorization.rs).
    pub fn config(&self) -> ProvisionerSettings {
        let env = self.env();
        fleet::config::provisioner_settings(&fleet::config::Vars::from_pairs(env))
            .and_then(|c| config::with_entitlements(c, ENTITLEMENTS))
            .expect("the emulated platform's configuration is valid")
    }

    /// A provisioner configured for this platform whose AWS calls are counted and recorded.
    pub fn provisioner(&self) -> AwsProvisioner {
        self.provisioner_with(self.config())
    }

    pub fn provisioner_with(&self, config: ProvisionerSettings) -> AwsProvisioner {
        let sdk = &self.sdk;
        let (calls, requests) = (self.calls.clone(), self.requests.clone());
        macro_rules! client {
            ($sdk_crate:ident) => {
                $sdk_crate::Client::from_conf(
                    $sdk_crate::config::Builder::from(sdk)
                        .interceptor(calls.clone())
                        .interceptor(requests.clone())
                        .build(),
                )
            };
        }
        let clients = ProvisionerClients {
            ec2: client!(aws_sdk_ec2),
            iam: client!(aws_sdk_iam),
            sagemaker: client!(aws_sdk_sagemaker),
            tagging: client!(aws_sdk_resourcegroupstagging),
            eventbridge: client!(aws_sdk_eventbridge),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(sdk)
                    .force_path_style(true)
                    .interceptor(calls.clone())
                    .interceptor(requests.clone())
                    .build(),
            ),
        };
        AwsProvisioner::from_clients(clients, config).with_retry(fleet::service::RetryPolicy {
            attempts: 4,
            first_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
        })
    }

    /// What a notebook looks like from outside: status, tags, its role's inline policy (empty when none).
    pub async fn notebook_state(&self, name: &str) -> Result<(String, BTreeMap<String, String>, String)> {
        let sagemaker = aws_sdk_sagemaker::Client::new(&self.sdk);
        let described = sagemaker.describe_notebook_instance().notebook_instance_name(name).send().await?;
        let arn = described.notebook_instance_arn().context("arn")?.to_owned();
        let tags = sagemaker
            .list_tags()
            .resource_arn(&arn)
            .send()
            .await?
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| Some((t.key?, t.value?)))
            .collect();
        let policy = aws_sdk_iam::Client::new(&self.sdk)
            .get_role_policy()
            .role_name(format!("nbf-{name}"))
            .policy_name("notebook-fleet-data-access")
            .send()
            .await
            .map(|p| percent_encoding::percent_decode_str(&p.policy_document).decode_utf8_lossy().into_owned())
            .unwrap_or_default();
        let status = described.notebook_instance_status().map(|s| s.as_str().to_owned()).unwrap_or_default();
        Ok((status, tags, policy))
    }

    /// Every notebook and every role under the fleet's path on the account: what a refused request must
    /// leave as it was.
    pub async fn notebooks_and_roles(&self) -> Result<(Vec<String>, Vec<String>)> {
        let notebooks = aws_sdk_sagemaker::Client::new(&self.sdk)
            .list_notebook_instances()
            .send()
            .await?
            .notebook_instances
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| n.notebook_instance_name)
            .collect();
        let roles = aws_sdk_iam::Client::new(&self.sdk)
            .list_roles()
            .path_prefix("/notebook-fleet/")
            .send()
            .await?
            .roles
            .into_iter()
            .map(|r| r.role_name)
            .collect();
        Ok((notebooks, roles))
    }

    /// moto does not implement ListNotebookInstanceLifecycleConfigs: look for the one name the platform's
    /// configuration would produce.
    pub async fn lifecycle_config_exists(&self) -> Result<bool> {
        let config = self.config();
        let name = lifecycle_config(&OnStartParameters { assets_bucket: &config.assets_bucket, agent: &config.agent })
            .map_err(anyhow::Error::msg)?
            .name;
        let found = aws_sdk_sagemaker::Client::new(&self.sdk)
            .describe_notebook_instance_lifecycle_config()
            .notebook_instance_lifecycle_config_name(name)
            .send()
            .await;
        Ok(found.is_ok())
    }

    /// Every outcome event delivered to the capture queue so far (and removes them from the queue).
    pub async fn drain_outcomes(&self) -> Result<Vec<OutcomeEvent>> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let mut outcomes = Vec::new();
        loop {
            let received = sqs
                .receive_message()
                .queue_url(&self.outcome_queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await?;
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(outcomes);
            }
            for message in messages {
                // The EventBridge envelope: its `detail-type` and `detail` are the outcome, the rest is ignored.
                let body = message.body().unwrap_or_default();
                let outcome: OutcomeEvent =
                    serde_json::from_str(body).with_context(|| format!("not an outcome event: {body}"))?;
                outcomes.push(outcome);
                if let Some(handle) = message.receipt_handle() {
                    sqs.delete_message().queue_url(&self.outcome_queue_url).receipt_handle(handle).send().await?;
                }
            }
        }
    }
}

/// S3 on the emulator needs path-style addressing.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build())
}

async fn subnet(ec2: &aws_sdk_ec2::Client, vpc_id: &str, cidr: &str, az: &str) -> Result<String> {
    ec2.create_subnet()
        .vpc_id(vpc_id)
        .cidr_block(cidr)
        .availability_zone(format!("{REGION}{az}"))
        .send()
        .await?
        .subnet
        .and_then(|s| s.subnet_id)
        .context("subnet id")
}

/// A bucket in the emulator's region.
pub async fn create_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<()> {
    s3.create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(REGION)).build(),
        )
        .send()
        .await
        .with_context(|| format!("creating bucket {bucket}"))?;
    Ok(())
}

/// A new internet gateway attached to the VPC.
pub async fn internet_gateway(ec2: &aws_sdk_ec2::Client, vpc_id: &str) -> Result<String> {
    let igw = ec2
        .create_internet_gateway()
        .send()
        .await?
        .internet_gateway
        .and_then(|g| g.internet_gateway_id)
        .context("igw")?;
    ec2.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(vpc_id).send().await?;
    Ok(igw)
}

async fn route_table(ec2: &aws_sdk_ec2::Client, vpc_id: &str, subnet_id: &str) -> Result<String> {
    let table = ec2
        .create_route_table()
        .vpc_id(vpc_id)
        .send()
        .await?
        .route_table
        .and_then(|t| t.route_table_id)
        .context("route table id")?;
    ec2.associate_route_table().route_table_id(&table).subnet_id(subnet_id).send().await?;
    Ok(table)
}
