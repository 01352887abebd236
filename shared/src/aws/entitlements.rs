//! The entitlements document, read from S3 once when the provisioner starts.

use tracing::instrument;

use super::classify;
use super::error::s3_codes;
use crate::config::{with_entitlements, ConfigError, ENTITLEMENTS_URI};
use crate::domain::settings::ProvisionerSettings;
use crate::error::{AwsError, ErrorKind};

/// The configuration completed with its entitlements document (`FLEET_ENTITLEMENTS_URI`), checked against
/// the data perimeter. Without a document, no request can be given data. A document that cannot be read or
/// does not check out stops the function at start, with the line and field at fault.
#[instrument(skip(s3, config))]
pub async fn load_entitlements(
    s3: &aws_sdk_s3::Client,
    config: ProvisionerSettings,
) -> Result<ProvisionerSettings, ConfigError> {
    let Some(location) = config.entitlements_uri.clone() else {
        tracing::warn!("{ENTITLEMENTS_URI} is not set: no notebook can be given data access");
        return Ok(config);
    };
    let unreadable = |error: AwsError| ConfigError::Invalid {
        name: ENTITLEMENTS_URI,
        reason: format!("cannot read {location}: {error}"),
    };
    let output = s3
        .get_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .send()
        .await
        .map_err(|e| unreadable(classify("GetObject", e, s3_codes)))?;
    let bytes = output
        .body
        .collect()
        .await
        .map_err(|e| unreadable(AwsError::new("GetObject", ErrorKind::Transient, None, e.to_string())))?
        .into_bytes();
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| ConfigError::Invalid {
        name: ENTITLEMENTS_URI,
        reason: format!("{location} is not UTF-8 text"),
    })?;
    let config = with_entitlements(config, &text)?;
    tracing::info!(%location, rules = config.limits.entitlements.rules().len(), "entitlements loaded");
    Ok(config)
}
