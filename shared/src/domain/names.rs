//! Names of the resources a notebook owns, derived from its validated name.

use sha2::{Digest, Sha256};

/// IAM's limit on a role name.
const MAX_ROLE_NAME_LEN: usize = 64;
/// Every notebook role's name starts with it.
pub const ROLE_PREFIX: &str = "nbf-";

/// The notebook's own IAM role: `nbf-<name>`, shortened with a hash of the name when IAM's 64-character
/// limit requires it, so that distinct notebooks never share a role.
pub fn role_name(notebook_name: &str) -> String {
    let full = format!("{ROLE_PREFIX}{notebook_name}");
    if full.len() <= MAX_ROLE_NAME_LEN {
        return full;
    }
    let digest = hex(&Sha256::digest(notebook_name.as_bytes()))[..8].to_owned();
    let keep = MAX_ROLE_NAME_LEN - ROLE_PREFIX.len() - 1 - digest.len();
    format!("{ROLE_PREFIX}{}-{digest}", &notebook_name[..keep])
}

/// A managed notebook's name from its tags (as requested), else from its ARN (`…:notebook-instance/<name>`,
/// which SageMaker writes in lower case).
pub fn notebook_name_of(arn: &str, tags: &std::collections::BTreeMap<String, String>) -> String {
    tags.get(super::tags::NOTEBOOK_NAME).cloned().unwrap_or_else(|| arn.rsplit('/').next().unwrap_or(arn).to_owned())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_fit_iam_and_stay_distinct() {
        assert_eq!(role_name("alice-nb"), "nbf-alice-nb");
        let a = role_name(&format!("{}a", "x".repeat(62)));
        let b = role_name(&format!("{}b", "x".repeat(62)));
        assert!(a.len() <= 64 && b.len() <= 64);
        assert_ne!(a, b);
        assert_eq!(role_name(&"y".repeat(60)).len(), 64);
    }
}
