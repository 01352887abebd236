//! Object-key prefixes that name a folder.

use crate::text::validated_text;
use crate::Invalid;

/// The longest prefix accepted; keeps a role's inline policy well under IAM's size limit.
pub const MAX_PREFIX_LEN: usize = 256;

validated_text!(
    /// A folder in a bucket: no wildcards or policy variables, no path tricks, relative to the bucket, and
    /// ending with '/' so that `team/al/` can never match `team/alice/`.
    Prefix,
    rule
);

fn rule(prefix: &str) -> Result<(), Invalid> {
    if prefix.is_empty() {
        return Err(Invalid::new("must name a folder such as 'team-a/alice/'; the whole bucket cannot be granted"));
    }
    if prefix.len() > MAX_PREFIX_LEN {
        return Err(Invalid::new(format!("must be at most {MAX_PREFIX_LEN} characters long")));
    }
    if prefix.chars().any(char::is_control) {
        return Err(Invalid::new("must not contain control characters"));
    }
    if let Some(c) = prefix.chars().find(|c| matches!(c, '*' | '?' | '$' | '{' | '}' | '\\' | '"')) {
        return Err(Invalid::new(format!("must not contain {c:?}: wildcards and policy variables are not allowed")));
    }
    if prefix.starts_with('/') {
        return Err(Invalid::new("must not start with '/'; S3 keys are relative to the bucket"));
    }
    if !prefix.ends_with('/') {
        return Err(Invalid::new(format!("must end with '/' so it names a folder, e.g. '{prefix}/'")));
    }
    if prefix.split('/').any(|segment| segment == ".." || segment == ".") {
        return Err(Invalid::new("must not contain '.' or '..' segments"));
    }
    if prefix.contains("//") {
        return Err(Invalid::new("must not contain an empty segment ('//')"));
    }
    Ok(())
}

impl Prefix {
    /// The key of `name` inside this folder.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_folder_prefixes() {
        for prefix in ["alice/", "team-a/alice/", "raw/2024-01/", "a.b/c d/", "heartbeats/"] {
            assert_eq!(Prefix::parse(prefix).map(String::from), Ok(prefix.to_owned()), "{prefix}");
        }
        assert_eq!(Prefix::parse("heartbeats/").expect("valid").key("nb-1"), "heartbeats/nb-1");
    }

    #[test]
    fn rejects_unsafe_prefixes_with_a_reason() {
        for (prefix, says) in [
            ("", "whole bucket"),
            ("team/*", "wildcards"),
            ("team/?/", "wildcards"),
            ("team/${aws:username}/", "policy variables"),
            ("/team/", "start with '/'"),
            ("team", "end with '/'"),
            ("team/../other/", "'..'"),
            ("team/./", "'..'"),
            ("team//x/", "empty segment"),
            ("team/\u{7}/", "control"),
            ("team/\n/", "control"),
        ] {
            let invalid = Prefix::parse(prefix).expect_err(prefix);
            assert!(invalid.reason().contains(says), "{prefix:?}: {invalid}");
        }
        assert!(Prefix::parse(&format!("{}/", "a".repeat(MAX_PREFIX_LEN))).is_err());
    }
}
