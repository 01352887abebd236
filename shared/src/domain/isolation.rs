//! The pre-flight isolation check: a notebook's subnet must have no path to the internet.

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
    /// Anything else: an instance, a transit gateway, a peering connection, a virtual private gateway…
    Other(String),
}

/// Why a subnet is not isolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("subnet {subnet_id} is not isolated: route to {destination} goes through {target}")]
pub struct IsolationViolation {
    pub subnet_id: String,
    pub destination: String,
    pub target: String,
}

/// Refuses a subnet whose route table reaches an internet or NAT gateway by any route, or sends its default
/// route anywhere at all (a NAT instance or a transit gateway can reach the internet too).
pub fn check_isolation(subnet_id: &str, routes: &[Route]) -> Result<(), IsolationViolation> {
    for route in routes {
        let default_route = route.destination == "0.0.0.0/0" || route.destination == "::/0";
        let target = match &route.target {
            RouteTarget::InternetGateway(id)
            | RouteTarget::EgressOnlyInternetGateway(id)
            | RouteTarget::NatGateway(id) => Some(id),
            RouteTarget::Other(id) if default_route => Some(id),
            _ => None,
        };
        if let Some(target) = target {
            return Err(IsolationViolation {
                subnet_id: subnet_id.to_owned(),
                destination: route.destination.clone(),
                target: target.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(destination: &str, target: RouteTarget) -> Route {
        Route { destination: destination.into(), target }
    }

    #[test]
    fn local_and_endpoint_routes_are_isolated() {
        let routes =
            [route("10.0.0.0/16", RouteTarget::Local), route("pl-63a5400a", RouteTarget::VpcEndpoint("vpce-1".into()))];
        assert_eq!(check_isolation("subnet-1", &routes), Ok(()));
        assert_eq!(check_isolation("subnet-1", &[]), Ok(()));
    }

    #[test]
    fn internet_paths_are_refused_and_named() {
        for (destination, target) in [
            ("0.0.0.0/0", RouteTarget::InternetGateway("igw-1".into())),
            ("0.0.0.0/0", RouteTarget::NatGateway("nat-1".into())),
            ("::/0", RouteTarget::EgressOnlyInternetGateway("eigw-1".into())),
            ("52.0.0.0/8", RouteTarget::InternetGateway("igw-2".into())),
            ("0.0.0.0/0", RouteTarget::Other("tgw-1".into())),
        ] {
            let routes = [route("10.0.0.0/16", RouteTarget::Local), route(destination, target)];
            let violation = check_isolation("subnet-1", &routes).expect_err(destination);
            assert_eq!(violation.destination, destination);
            assert!(violation.to_string().contains("subnet-1 is not isolated"));
        }
    }

    #[test]
    fn a_peering_route_to_a_private_range_is_allowed() {
        let routes = [route("10.1.0.0/16", RouteTarget::Other("pcx-1".into()))];
        assert_eq!(check_isolation("subnet-1", &routes), Ok(()));
    }
}
