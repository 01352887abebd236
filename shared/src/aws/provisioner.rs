//! The provisioner wired to the AWS SDK: clients are built once, at start, from one SDK configuration.

use aws_config::SdkConfig;

use super::audit::S3AuditLog;
use super::ec2::Ec2Network;
use super::eventbridge::EventBridgeEvents;
use super::iam::IamRoles;
use super::sagemaker::SageMakerNotebooks;
use crate::domain::settings::ProvisionerSettings;
use crate::service::Provisioner;

pub type AwsProvisioner = Provisioner<Ec2Network, IamRoles, SageMakerNotebooks, EventBridgeEvents, S3AuditLog>;

/// Every client the provisioner calls.
#[derive(Debug, Clone)]
pub struct ProvisionerClients {
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub sagemaker: aws_sdk_sagemaker::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub s3: aws_sdk_s3::Client,
}

impl ProvisionerClients {
    /// Every client from one SDK configuration; `s3_path_style` is for emulators (moto).
    pub fn new(sdk: &SdkConfig, s3_path_style: bool) -> Self {
        ProvisionerClients {
            ec2: aws_sdk_ec2::Client::new(sdk),
            iam: aws_sdk_iam::Client::new(sdk),
            sagemaker: aws_sdk_sagemaker::Client::new(sdk),
            tagging: aws_sdk_resourcegroupstagging::Client::new(sdk),
            eventbridge: aws_sdk_eventbridge::Client::new(sdk),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(sdk).force_path_style(s3_path_style).build(),
            ),
        }
    }
}

impl AwsProvisioner {
    /// The clients built once in `main` (tests configure each one to count calls with an interceptor); the
    /// configuration completed with its entitlements ([`super::load_entitlements`]).
    pub fn from_clients(clients: ProvisionerClients, config: ProvisionerSettings) -> Self {
        let events = EventBridgeEvents::new(clients.eventbridge, &config.event_bus_name, &config.event_source);
        let audit = S3AuditLog::new(clients.s3, &config.audit_bucket);
        Provisioner::new(
            Ec2Network::new(clients.ec2),
            IamRoles::new(clients.iam),
            SageMakerNotebooks::new(clients.sagemaker, clients.tagging),
            events,
            audit,
            config,
        )
    }
}
