//! [`Network`] over EC2: reads the route table that governs a subnet.

use aws_sdk_ec2::types::{Filter, RouteTable};
use aws_sdk_ec2::Client;
use tracing::instrument;

use super::classify;
use crate::domain::isolation::{EgressDestination, EgressRule, Route, RouteTarget, SecurityGroupEgress};
use crate::error::{AwsError, ErrorKind};
use crate::ports::{AwsResult, Network};

#[derive(Debug, Clone)]
pub struct Ec2Network {
    client: Client,
}

impl Ec2Network {
    pub fn new(client: Client) -> Self {
        Ec2Network { client }
    }

    async fn route_tables(&self, filters: Vec<Filter>) -> AwsResult<Vec<RouteTable>> {
        let output = self
            .client
            .describe_route_tables()
            .set_filters(Some(filters))
            .send()
            .await
            .map_err(|e| classify("DescribeRouteTables", e, |_, _| None))?;
        Ok(output.route_tables.unwrap_or_default())
    }
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

impl Network for Ec2Network {
    #[instrument(skip(self))]
    async fn subnet_routes(&self, subnet_id: &str) -> AwsResult<Vec<Route>> {
        let mut tables = self.route_tables(vec![filter("association.subnet-id", subnet_id)]).await?;
        if tables.is_empty() {
            // No explicit association: the VPC's main route table governs the subnet.
            let subnets = self.client.describe_subnets().subnet_ids(subnet_id).send().await.map_err(|e| {
                classify("DescribeSubnets", e, |code, _| {
                    (code == "InvalidSubnetID.NotFound").then_some(ErrorKind::NotFound)
                })
            })?;
            let vpc_id = subnets.subnets.unwrap_or_default().into_iter().find_map(|s| s.vpc_id).ok_or_else(|| {
                AwsError::new("DescribeSubnets", ErrorKind::NotFound, None, format!("subnet {subnet_id} not found"))
            })?;
            tables = self.route_tables(vec![filter("vpc-id", &vpc_id), filter("association.main", "true")]).await?;
        }
        Ok(tables.into_iter().flat_map(|t| t.routes.unwrap_or_default()).map(route).collect())
    }

    #[instrument(skip(self))]
    async fn security_groups(&self, group_ids: &[String]) -> AwsResult<Vec<SecurityGroupEgress>> {
        let output =
            self.client.describe_security_groups().set_group_ids(Some(group_ids.to_vec())).send().await.map_err(
                |e| {
                    classify("DescribeSecurityGroups", e, |code, _| {
                        (code == "InvalidGroup.NotFound" || code == "InvalidGroupId.Malformed")
                            .then_some(ErrorKind::NotFound)
                    })
                },
            )?;
        Ok(output
            .security_groups
            .unwrap_or_default()
            .into_iter()
            .map(|group| SecurityGroupEgress {
                group_id: group.group_id.unwrap_or_default(),
                egress: group.ip_permissions_egress.unwrap_or_default().into_iter().flat_map(egress_rules).collect(),
            })
            .collect())
    }
}

/// One SDK permission holds several destinations; the check wants one rule per destination.
fn egress_rules(permission: aws_sdk_ec2::types::IpPermission) -> Vec<EgressRule> {
    let protocol = permission.ip_protocol.unwrap_or_else(|| "-1".to_owned());
    let ports = permission.from_port.zip(permission.to_port).filter(|_| protocol != "-1");
    let destinations = permission
        .ip_ranges
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| r.cidr_ip.map(EgressDestination::Cidr))
        .chain(
            permission
                .ipv6_ranges
                .unwrap_or_default()
                .into_iter()
                .filter_map(|r| r.cidr_ipv6.map(EgressDestination::Cidr)),
        )
        .chain(
            permission
                .prefix_list_ids
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| p.prefix_list_id.map(EgressDestination::PrefixList)),
        )
        .chain(
            permission
                .user_id_group_pairs
                .unwrap_or_default()
                .into_iter()
                .filter_map(|g| g.group_id.map(EgressDestination::SecurityGroup)),
        );
    destinations.map(|destination| EgressRule { protocol: protocol.clone(), ports, destination }).collect()
}

fn route(r: aws_sdk_ec2::types::Route) -> Route {
    let destination =
        r.destination_cidr_block.or(r.destination_ipv6_cidr_block).or(r.destination_prefix_list_id).unwrap_or_default();
    let target = if let Some(id) = r.nat_gateway_id {
        RouteTarget::NatGateway(id)
    } else if let Some(id) = r.egress_only_internet_gateway_id {
        RouteTarget::EgressOnlyInternetGateway(id)
    } else if let Some(id) = r.gateway_id {
        match id.as_str() {
            "local" => RouteTarget::Local,
            g if g.starts_with("igw-") => RouteTarget::InternetGateway(id),
            g if g.starts_with("vpce-") => RouteTarget::VpcEndpoint(id),
            _ => RouteTarget::Other(id),
        }
    } else {
        let other = [
            r.instance_id,
            r.transit_gateway_id,
            r.vpc_peering_connection_id,
            r.network_interface_id,
            r.carrier_gateway_id,
            r.local_gateway_id,
            r.core_network_arn,
        ];
        RouteTarget::Other(other.into_iter().flatten().next().unwrap_or_else(|| "unknown target".to_owned()))
    };
    Route { destination, target }
}
