//! The provisioner's variables into [`ProvisionerSettings`].

use std::collections::BTreeSet;

use super::*;
use crate::domain::entitlements::Entitlements;
use crate::domain::lifecycle::AgentObject;
use crate::domain::senders::RequestSenders;
use crate::domain::settings::{
    ProvisionerSettings, RequestLimits, S3Location, CUSTODIAN_MAX_HOURS_LIMIT, IDLE_TIMEOUT_MINUTES_MIN,
    MAX_DATA_ACCESS_ENTRIES, MAX_SNOOZE_HOURS_LIMIT, VOLUME_SIZE_GB_LIMIT, VOLUME_SIZE_GB_MIN,
};
use crate::domain::types::BucketName;

/// Reads every provisioner variable; the entitlements document named by `FLEET_ENTITLEMENTS_URI` is read
/// afterwards (it is in S3) and put in force with [`with_entitlements`].
pub fn provisioner_settings(vars: &Vars<'_>) -> Result<ProvisionerSettings, ConfigError> {
    let assets_bucket = vars.bucket(ASSETS_BUCKET)?;

    let mut data_buckets = BTreeSet::new();
    for bucket in vars.list(DATA_BUCKETS) {
        let name =
            BucketName::parse(&bucket).map_err(|r| ConfigError::invalid(DATA_BUCKETS, format!("{bucket:?}: {r}")))?;
        data_buckets.insert(name);
    }
    if data_buckets.is_empty() {
        return Err(ConfigError::Missing(DATA_BUCKETS));
    }
    if data_buckets.contains(&assets_bucket) {
        return Err(ConfigError::invalid(DATA_BUCKETS, "must not include the assets bucket"));
    }

    let subnet_ids = ids(vars, SUBNET_IDS, "subnet-", "subnet id")?;
    let security_group_ids = ids(vars, SECURITY_GROUP_IDS, "sg-", "security group id")?;

    let role_path = role_path(vars)?;
    let permissions_boundary_arn = vars.required(PERMISSIONS_BOUNDARY_ARN)?;
    if !(permissions_boundary_arn.starts_with("arn:") && permissions_boundary_arn.contains(":policy/")) {
        return Err(ConfigError::invalid(PERMISSIONS_BOUNDARY_ARN, "must be the ARN of a managed IAM policy"));
    }
    let agent = vars.required_parsed(AGENT_OBJECT_KEY, AgentObject::from_key)?;

    let instance_types: BTreeSet<String> = match vars.list(INSTANCE_TYPES) {
        types if types.is_empty() => fleet_types::vars::split_list(DEFAULT_INSTANCE_TYPES).into_iter().collect(),
        types => types.into_iter().collect(),
    };
    if let Some(bad) = instance_types.iter().find(|t| !t.starts_with("ml.")) {
        return Err(ConfigError::invalid(INSTANCE_TYPES, format!("{bad:?} is not a SageMaker instance type (ml.…)")));
    }

    let volume_max =
        vars.number_in(VOLUME_SIZE_GB_MAX, DEFAULT_VOLUME_SIZE_GB_MAX, VOLUME_SIZE_GB_MIN..=VOLUME_SIZE_GB_LIMIT)?;
    let idle_max = vars.number_in(
        IDLE_TIMEOUT_MINUTES_MAX,
        DEFAULT_IDLE_TIMEOUT_MINUTES_MAX,
        IDLE_TIMEOUT_MINUTES_MIN..=u32::MAX,
    )?;
    let idle_default = vars.number_in(
        IDLE_TIMEOUT_MINUTES_DEFAULT,
        DEFAULT_IDLE_TIMEOUT_MINUTES.min(idle_max),
        IDLE_TIMEOUT_MINUTES_MIN..=idle_max,
    )?;

    let event_source = vars.or(EVENT_SOURCE, DEFAULT_EVENT_SOURCE);
    let senders = vars.parsed(REQUEST_SOURCES, RequestSenders::parse)?.unwrap_or_default().without(&event_source);
    let allowed_route_targets: BTreeSet<String> = vars.list(ALLOWED_ROUTE_TARGETS).into_iter().collect();
    if let Some(bad) = allowed_route_targets.iter().find(|t| ["igw-", "eigw-", "nat-"].iter().any(|p| t.starts_with(p)))
    {
        return Err(ConfigError::invalid(
            ALLOWED_ROUTE_TARGETS,
            format!("{bad:?} leads to the internet; internet, egress-only and NAT gateways can never be allowed"),
        ));
    }

    Ok(ProvisionerSettings {
        event_bus_name: vars.required(EVENT_BUS_NAME)?,
        event_source,
        subnet_ids,
        security_group_ids,
        kms_key_id: vars.get(KMS_KEY_ID),
        role_path,
        permissions_boundary_arn,
        assets_bucket: assets_bucket.clone(),
        agent,
        platform_identifier: vars.or(PLATFORM_IDENTIFIER, DEFAULT_PLATFORM_IDENTIFIER),
        limits: RequestLimits {
            instance_types,
            volume_size_gb: VOLUME_SIZE_GB_MIN..=volume_max,
            idle_timeout_minutes: IDLE_TIMEOUT_MINUTES_MIN..=idle_max,
            default_idle_timeout_minutes: idle_default,
            data_buckets,
            assets_bucket,
            max_data_access_entries: MAX_DATA_ACCESS_ENTRIES,
            allow_root_access: vars.boolean(ALLOW_ROOT_ACCESS)?,
            entitlements: Entitlements::default(),
        },
        audit_bucket: vars.bucket(AUDIT_BUCKET)?,
        custodian_max_hours: vars.number_in(
            CUSTODIAN_MAX_HOURS,
            DEFAULT_CUSTODIAN_MAX_HOURS,
            1..=CUSTODIAN_MAX_HOURS_LIMIT,
        )?,
        senders,
        entitlements_uri: vars.parsed(ENTITLEMENTS_URI, S3Location::parse)?,
        allowed_route_targets,
        max_snooze_hours: vars.number_in(MAX_SNOOZE_HOURS, DEFAULT_MAX_SNOOZE_HOURS, 1..=MAX_SNOOZE_HOURS_LIMIT)?,
        region: vars.get(REGION).or_else(|| vars.get("AWS_DEFAULT_REGION")).ok_or(ConfigError::Missing(REGION))?,
    })
}

/// The settings with the entitlements `document` (read from `entitlements_uri`) checked against the data
/// perimeter and put in force; a broken document names `FLEET_ENTITLEMENTS_URI`, the object, line and field.
pub fn with_entitlements(settings: ProvisionerSettings, document: &str) -> Result<ProvisionerSettings, ConfigError> {
    let entitlements =
        Entitlements::parse(document, &settings.limits.data_buckets, &settings.assets_bucket).map_err(|e| {
            let from =
                settings.entitlements_uri.as_ref().map_or_else(|| "the document".to_owned(), ToString::to_string);
            ConfigError::invalid(ENTITLEMENTS_URI, format!("{from}: {e}"))
        })?;
    Ok(settings.with_entitlements(entitlements))
}

/// A required list of AWS ids that all start with `prefix`.
fn ids(vars: &Vars<'_>, name: &'static str, prefix: &str, what: &str) -> Result<Vec<String>, ConfigError> {
    let ids = vars.list(name);
    if ids.is_empty() {
        return Err(ConfigError::Missing(name));
    }
    match ids.iter().find(|id| !id.starts_with(prefix)) {
        Some(bad) => Err(ConfigError::invalid(name, format!("{bad:?} is not a {what} ({prefix}…)"))),
        None => Ok(ids),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::settings::tests::{settings, AGENT_KEY, SENDER};
    use std::collections::HashMap;

    /// The variables of the test platform (`domain::settings::tests::settings`).
    pub(crate) fn vars() -> HashMap<&'static str, String> {
        HashMap::from([
            (EVENT_BUS_NAME, "fleet-bus".to_owned()),
            (SUBNET_IDS, "subnet-aaa, subnet-bbb".to_owned()),
            (SECURITY_GROUP_IDS, "sg-123".to_owned()),
            (PERMISSIONS_BOUNDARY_ARN, "arn:aws:iam::123456789012:policy/fleet-boundary".to_owned()),
            (ASSETS_BUCKET, "fleet-assets".to_owned()),
            (DATA_BUCKETS, "team-data,shared-data".to_owned()),
            (AGENT_OBJECT_KEY, AGENT_KEY.to_owned()),
            (AUDIT_BUCKET, "fleet-audit".to_owned()),
            (REGION, "eu-west-1".to_owned()),
            (
                REQUEST_SOURCES,
                crate::domain::request::REQUEST_DETAIL_TYPES
                    .iter()
                    .map(|t| format!("{t}={SENDER}"))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ])
    }

    fn from(vars: &HashMap<&'static str, String>) -> Result<ProvisionerSettings, ConfigError> {
        provisioner_settings(&Vars::new(|name| vars.get(name).cloned()))
    }

    #[test]
    fn the_required_variables_and_the_defaults_give_the_test_platform() {
        let read = from(&vars()).and_then(|s| with_entitlements(s, crate::domain::entitlements::tests::DOCUMENT));
        assert_eq!(read, Ok(settings()));
    }

    #[test]
    fn each_required_variable_is_named_when_missing() {
        for name in [
            EVENT_BUS_NAME,
            SUBNET_IDS,
            SECURITY_GROUP_IDS,
            PERMISSIONS_BOUNDARY_ARN,
            ASSETS_BUCKET,
            DATA_BUCKETS,
            AGENT_OBJECT_KEY,
            AUDIT_BUCKET,
            REGION,
        ] {
            let mut vars = vars();
            vars.insert(name, "  ".to_owned());
            assert_eq!(from(&vars), Err(ConfigError::Missing(name)), "{name}");
        }
    }

    #[test]
    fn invalid_values_are_rejected_with_the_variable_name() {
        let cases = [
            (SUBNET_IDS, "vpc-123"),
            (SECURITY_GROUP_IDS, "default"),
            (DATA_BUCKETS, "Bad_Bucket"),
            (DATA_BUCKETS, "fleet-assets"),
            (ROLE_PATH, "notebooks"),
            (PERMISSIONS_BOUNDARY_ARN, "boundary"),
            (AGENT_OBJECT_KEY, "agent/latest"),
            (INSTANCE_TYPES, "t3.medium"),
            (VOLUME_SIZE_GB_MAX, "lots"),
            (VOLUME_SIZE_GB_MAX, "2"),
            (IDLE_TIMEOUT_MINUTES_MAX, "5"),
            (IDLE_TIMEOUT_MINUTES_DEFAULT, "5000"),
            (ALLOW_ROOT_ACCESS, "yes"),
            (AUDIT_BUCKET, "Audit Bucket"),
            (CUSTODIAN_MAX_HOURS, "0"),
            (CUSTODIAN_MAX_HOURS, "10000"),
            (REQUEST_SOURCES, "Notebook Requested"),
            (ENTITLEMENTS_URI, "s3://bucket-only"),
            (ENTITLEMENTS_URI, "https://example.com/entitlements.json"),
            (ALLOWED_ROUTE_TARGETS, "tgw-1,nat-0abc"),
            (MAX_SNOOZE_HOURS, "0"),
            (MAX_SNOOZE_HOURS, "1000"),
        ];
        for (name, value) in cases {
            let mut vars = vars();
            vars.insert(name, value.to_owned());
            match from(&vars) {
                Err(ConfigError::Invalid { name: got, .. }) => assert_eq!(got, name, "{value}"),
                other => panic!("{name}={value:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn a_broken_entitlements_document_names_its_variable_and_object() {
        let mut vars = vars();
        vars.insert(ENTITLEMENTS_URI, "s3://fleet-config/entitlements.json".to_owned());
        let error = from(&vars).and_then(|s| with_entitlements(s, "{not json")).expect_err("broken");
        assert_eq!(error.name(), ENTITLEMENTS_URI);
        assert!(error.to_string().contains("s3://fleet-config/entitlements.json"), "{error}");
    }
}
