//! The provisioner wired to the AWS SDK: clients are built once, at start, from one SDK configuration.

use aws_config::SdkConfig;

use super::ec2::Ec2Network;
use super::eventbridge::EventBridgeEvents;
use super::iam::IamRoles;
use super::sagemaker::SageMakerNotebooks;
use crate::config::Config;
use crate::service::Provisioner;

pub type AwsProvisioner = Provisioner<Ec2Network, IamRoles, SageMakerNotebooks, EventBridgeEvents>;

impl AwsProvisioner {
    pub fn from_sdk_config(sdk: &SdkConfig, config: Config) -> Self {
        Self::from_clients(
            aws_sdk_ec2::Client::new(sdk),
            aws_sdk_iam::Client::new(sdk),
            aws_sdk_sagemaker::Client::new(sdk),
            aws_sdk_eventbridge::Client::new(sdk),
            config,
        )
    }

    /// For callers that configure each client themselves (tests count calls with an interceptor).
    pub fn from_clients(
        ec2: aws_sdk_ec2::Client,
        iam: aws_sdk_iam::Client,
        sagemaker: aws_sdk_sagemaker::Client,
        eventbridge: aws_sdk_eventbridge::Client,
        config: Config,
    ) -> Self {
        let events = EventBridgeEvents::new(eventbridge, &config.event_bus_name, &config.event_source);
        Provisioner::new(Ec2Network::new(ec2), IamRoles::new(iam), SageMakerNotebooks::new(sagemaker), events, config)
    }
}
