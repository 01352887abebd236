//! The pre-flight isolation check, run before a notebook is created and before it is started: its subnet
//! must have no path out of the VPC, and its security groups no egress beyond the VPC and its endpoints.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// One route of the subnet's route table, as the network reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// CIDR block or prefix list id.
    pub destination: String,
    pub target: RouteTarget,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RouteTarget {
    Local,
    InternetGateway(String),
    EgressOnlyInternetGateway(String),
    NatGateway(String),
    /// A gateway VPC endpoint (S3, DynamoDB): private by construction.
    VpcEndpoint(String),
    /// Anything else: an instance, a network interface, a transit gateway, a VPN gateway, a peering
    /// connection, a carrier gateway… Each can forward traffic out of the VPC.
    Other(String),
}

/// One egress rule of a security group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressRule {
    /// `tcp`, `udp`, `icmp`, `-1` (all), …
    pub protocol: String,
    pub ports: Option<(i32, i32)>,
    pub destination: EgressDestination,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EgressDestination {
    /// An IPv4 or IPv6 CIDR block.
    Cidr(String),
    /// A managed prefix list (`pl-…`), such as a gateway endpoint's.
    PrefixList(String),
    /// Another security group (traffic to the interfaces in it, such as interface endpoints).
    SecurityGroup(String),
}

/// A security group and its egress rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroupEgress {
    pub group_id: String,
    pub egress: Vec<EgressRule>,
}

/// Why a notebook's network is not isolated, and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IsolationViolation {
    #[error("subnet {subnet_id} is not isolated: route to {destination} goes through {target}; {remedy}")]
    Route { subnet_id: String, destination: String, target: String, remedy: String },
    #[error(
        "security group {group_id} is not isolated: egress {rule} reaches beyond the VPC ({vpc}) and its endpoints; \
         remove the rule or narrow it to the VPC, a gateway endpoint's prefix list or an endpoint's security group"
    )]
    SecurityGroup { group_id: String, rule: String, vpc: String },
}

/// Refuses a subnet whose route table sends any destination anywhere but the VPC itself (`local`) or a
/// gateway endpoint: internet, egress-only and NAT gateways always; instances, interfaces, transit and VPN
/// gateways, peering connections, carrier gateways and the rest unless the platform allow-listed that very
/// target (`allowed_targets`) after checking it leads nowhere public.
pub fn check_isolation(
    subnet_id: &str,
    routes: &[Route],
    allowed_targets: &BTreeSet<String>,
) -> Result<(), IsolationViolation> {
    for route in routes {
        let (target, remedy) = match &route.target {
            RouteTarget::Local | RouteTarget::VpcEndpoint(_) => continue,
            RouteTarget::InternetGateway(id)
            | RouteTarget::EgressOnlyInternetGateway(id)
            | RouteTarget::NatGateway(id) => (id, "notebooks never get a route to the internet: remove the route"),
            RouteTarget::Other(id) if allowed_targets.contains(id) => continue,
            RouteTarget::Other(id) => (
                id,
                "remove the route, or, if this target can reach nothing public, allow it in FLEET_ALLOWED_ROUTE_TARGETS \
                 (template parameter AllowedRouteTargets)",
            ),
        };
        return Err(IsolationViolation::Route {
            subnet_id: subnet_id.to_owned(),
            destination: route.destination.clone(),
            target: target.clone(),
            remedy: remedy.to_owned(),
        });
    }
    Ok(())
}

/// Refuses a security group with egress beyond the VPC: each rule must go to a block inside the VPC's own
/// ranges (the `local` routes of the subnet's table), to a prefix list the table routes to a gateway
/// endpoint, or to a security group.
pub fn check_security_groups(groups: &[SecurityGroupEgress], routes: &[Route]) -> Result<(), IsolationViolation> {
    let vpc_blocks: Vec<&str> =
        routes.iter().filter(|r| r.target == RouteTarget::Local).map(|r| r.destination.as_str()).collect();
    let endpoint_lists: BTreeSet<&str> = routes
        .iter()
        .filter(|r| matches!(r.target, RouteTarget::VpcEndpoint(_)) && r.destination.starts_with("pl-"))
        .map(|r| r.destination.as_str())
        .collect();
    for group in groups {
        for rule in &group.egress {
            let inside = match &rule.destination {
                EgressDestination::Cidr(block) => vpc_blocks.iter().any(|vpc| cidr_within(block, vpc)),
                EgressDestination::PrefixList(list) => endpoint_lists.contains(list.as_str()),
                EgressDestination::SecurityGroup(_) => true,
            };
            if !inside {
                return Err(IsolationViolation::SecurityGroup {
                    group_id: group.group_id.clone(),
                    rule: describe(rule),
                    vpc: if vpc_blocks.is_empty() { "no local route".into() } else { vpc_blocks.join(", ") },
                });
            }
        }
    }
    Ok(())
}

fn describe(rule: &EgressRule) -> String {
    let destination = match &rule.destination {
        EgressDestination::Cidr(c) | EgressDestination::PrefixList(c) | EgressDestination::SecurityGroup(c) => c,
    };
    let protocol = if rule.protocol == "-1" { "all traffic".to_owned() } else { rule.protocol.clone() };
    match rule.ports {
        Some((from, to)) if from == to => format!("{protocol} port {from} to {destination}"),
        Some((from, to)) => format!("{protocol} ports {from}-{to} to {destination}"),
        None => format!("{protocol} to {destination}"),
    }
}

/// Whether CIDR block `inner` lies inside `outer` (same address family).
fn cidr_within(inner: &str, outer: &str) -> bool {
    let (Some((inner_addr, inner_len)), Some((outer_addr, outer_len))) = (parse_cidr(inner), parse_cidr(outer)) else {
        return false;
    };
    if inner_len < outer_len {
        return false;
    }
    match (inner_addr, outer_addr) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(outer_len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(outer_len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

fn parse_cidr(block: &str) -> Option<(IpAddr, u8)> {
    let (address, length) = block.split_once('/')?;
    let address: IpAddr = address.parse().ok()?;
    let length: u8 = length.parse().ok()?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    (length <= max).then_some((address, length))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(destination: &str, target: RouteTarget) -> Route {
        Route { destination: destination.into(), target }
    }

    fn none() -> BTreeSet<String> {
        BTreeSet::new()
    }

    fn isolated_table() -> Vec<Route> {
        vec![
            route("10.0.0.0/16", RouteTarget::Local),
            route("2600:1f18::/56", RouteTarget::Local),
            route("pl-63a5400a", RouteTarget::VpcEndpoint("vpce-1".into())),
        ]
    }

    #[test]
    fn local_and_endpoint_routes_are_isolated() {
        assert_eq!(check_isolation("subnet-1", &isolated_table(), &none()), Ok(()));
        assert_eq!(check_isolation("subnet-1", &[], &none()), Ok(()));
    }

    #[test]
    fn a_route_to_any_destination_through_any_forwarding_target_is_refused_and_named() {
        let targets = [
            RouteTarget::InternetGateway("igw-1".into()),
            RouteTarget::EgressOnlyInternetGateway("eigw-1".into()),
            RouteTarget::NatGateway("nat-1".into()),
            RouteTarget::Other("i-0abc".into()),
            RouteTarget::Other("eni-0abc".into()),
            RouteTarget::Other("tgw-0abc".into()),
            RouteTarget::Other("vgw-0abc".into()),
            RouteTarget::Other("pcx-0abc".into()),
            RouteTarget::Other("cagw-0abc".into()),
        ];
        // Not only default routes: the two halves of the address space pass no default-route check.
        for destination in ["0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1", "52.0.0.0/8", "10.1.0.0/16", "::/0"] {
            for target in &targets {
                let mut routes = isolated_table();
                routes.push(route(destination, target.clone()));
                let violation = check_isolation("subnet-1", &routes, &none()).expect_err(destination);
                let IsolationViolation::Route { destination: d, .. } = &violation else { panic!("{violation}") };
                assert_eq!(d, destination);
                assert!(violation.to_string().contains("subnet-1 is not isolated"), "{violation}");
            }
        }
    }

    #[test]
    fn an_allow_listed_target_passes_but_never_an_internet_gateway() {
        let allowed: BTreeSet<String> = ["pcx-0abc".to_owned(), "igw-1".to_owned()].into();
        let peering = [route("10.1.0.0/16", RouteTarget::Other("pcx-0abc".into()))];
        assert_eq!(check_isolation("subnet-1", &peering, &allowed), Ok(()));
        let other = [route("10.2.0.0/16", RouteTarget::Other("pcx-0def".into()))];
        let violation = check_isolation("subnet-1", &other, &allowed).expect_err("not allowed");
        assert!(violation.to_string().contains("FLEET_ALLOWED_ROUTE_TARGETS"), "{violation}");
        let igw = [route("0.0.0.0/0", RouteTarget::InternetGateway("igw-1".into()))];
        assert!(check_isolation("subnet-1", &igw, &allowed).is_err(), "an internet gateway is never allowed");
    }

    fn group(destination: EgressDestination) -> SecurityGroupEgress {
        SecurityGroupEgress {
            group_id: "sg-1".into(),
            egress: vec![EgressRule { protocol: "tcp".into(), ports: Some((443, 443)), destination }],
        }
    }

    #[test]
    fn egress_inside_the_vpc_to_endpoint_lists_and_groups_is_isolated() {
        for destination in [
            EgressDestination::Cidr("10.0.0.0/16".into()),
            EgressDestination::Cidr("10.0.4.0/22".into()),
            EgressDestination::Cidr("2600:1f18:0:1::/64".into()),
            EgressDestination::PrefixList("pl-63a5400a".into()),
            EgressDestination::SecurityGroup("sg-endpoints".into()),
        ] {
            assert_eq!(
                check_security_groups(&[group(destination.clone())], &isolated_table()),
                Ok(()),
                "{destination:?}"
            );
        }
        assert_eq!(check_security_groups(&[], &isolated_table()), Ok(()));
    }

    #[test]
    fn egress_beyond_the_vpc_is_refused_and_named() {
        for destination in [
            EgressDestination::Cidr("0.0.0.0/0".into()),
            EgressDestination::Cidr("10.0.0.0/8".into()),
            EgressDestination::Cidr("52.95.0.0/16".into()),
            EgressDestination::Cidr("::/0".into()),
            EgressDestination::Cidr("not a block".into()),
            EgressDestination::PrefixList("pl-0unrouted".into()),
        ] {
            let violation =
                check_security_groups(&[group(destination.clone())], &isolated_table()).expect_err("beyond the VPC");
            assert!(violation.to_string().contains("sg-1 is not isolated: egress tcp port 443"), "{violation}");
        }
        let all = SecurityGroupEgress {
            group_id: "sg-default".into(),
            egress: vec![EgressRule {
                protocol: "-1".into(),
                ports: None,
                destination: EgressDestination::Cidr("0.0.0.0/0".into()),
            }],
        };
        let violation = check_security_groups(&[all], &isolated_table()).expect_err("allow-all");
        assert!(violation.to_string().contains("egress all traffic to 0.0.0.0/0"), "{violation}");
    }
}
