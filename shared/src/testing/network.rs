//! [`Network`] in memory: the subnets' routes and the security groups [`FakeAws::new`] sets up.

use super::FakeAws;
use crate::domain::isolation::{Route, SecurityGroupEgress};
use crate::error::{AwsError, ErrorKind};
use crate::ports::{AwsResult, Network};

impl Network for FakeAws {
    async fn subnet_routes(&self, subnet_id: &str) -> AwsResult<Vec<Route>> {
        self.call("DescribeRouteTables")?;
        self.state()
            .routes
            .get(subnet_id)
            .cloned()
            .ok_or_else(|| AwsError::new("DescribeRouteTables", ErrorKind::NotFound, None, "no subnet"))
    }

    async fn security_groups(&self, group_ids: &[String]) -> AwsResult<Vec<SecurityGroupEgress>> {
        self.call("DescribeSecurityGroups")?;
        let state = self.state();
        group_ids
            .iter()
            .map(|id| {
                state.security_groups.get(id).cloned().ok_or_else(|| {
                    AwsError::new("DescribeSecurityGroups", ErrorKind::NotFound, None, format!("no group {id}"))
                })
            })
            .collect()
    }
}
