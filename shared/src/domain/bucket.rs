//! S3 bucket names and object-key prefixes as a request may name them.

/// S3's general-purpose bucket naming rules; the reason says which rule a name breaks.
pub fn validate_bucket_name(name: &str) -> Result<(), String> {
    if !(3..=63).contains(&name.len()) {
        return Err("must be 3 to 63 characters long".into());
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-')) {
        return Err(format!("may contain only lowercase letters, digits, '.' and '-', not {c:?}"));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        return Err("must begin and end with a letter or digit".into());
    }
    if name.contains("..") {
        return Err("must not contain two adjacent periods".into());
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())) {
        return Err("must not be formatted as an IP address".into());
    }
    for reserved in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(reserved) {
            return Err(format!("must not start with the reserved prefix {reserved:?}"));
        }
    }
    for reserved in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(reserved) {
            return Err(format!("must not end with the reserved suffix {reserved:?}"));
        }
    }
    Ok(())
}

/// The longest prefix a request may name; keeps the role's inline policy well under IAM's size limit.
pub const MAX_PREFIX_LEN: usize = 256;

/// A data prefix names a folder: no wildcards, no path tricks, and it ends with '/' so that `team/al/`
/// can never match `team/alice/`.
pub fn validate_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Err("must name a folder such as 'team-a/alice/'; the whole bucket cannot be granted".into());
    }
    if prefix.len() > MAX_PREFIX_LEN {
        return Err(format!("must be at most {MAX_PREFIX_LEN} characters long"));
    }
    if prefix.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if let Some(c) = prefix.chars().find(|c| matches!(c, '*' | '?' | '$' | '{' | '}' | '\\' | '"')) {
        return Err(format!("must not contain {c:?}: wildcards and policy variables are not allowed"));
    }
    if prefix.starts_with('/') {
        return Err("must not start with '/'; S3 keys are relative to the bucket".into());
    }
    if !prefix.ends_with('/') {
        return Err(format!("must end with '/' so it names a folder, e.g. '{prefix}/'"));
    }
    if prefix.split('/').any(|segment| segment == ".." || segment == ".") {
        return Err("must not contain '.' or '..' segments".into());
    }
    if prefix.contains("//") {
        return Err("must not contain an empty segment ('//')".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_bucket_names() {
        for name in ["team-data", "abc", "a.b-c.d1", "123bucket"] {
            assert_eq!(validate_bucket_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn rejects_each_broken_bucket_rule() {
        for name in [
            "ab",
            &"a".repeat(64),
            "Team",
            "te_am",
            "-team",
            "team-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "sthree-x",
            "abc-s3alias",
            "abc--ol-s3",
            "abc.mrap",
            "abc--x-s3",
            "a b",
        ] {
            assert!(validate_bucket_name(name).is_err(), "{name} should be rejected");
        }
    }

    #[test]
    fn accepts_folder_prefixes() {
        for prefix in ["alice/", "team-a/alice/", "raw/2024-01/", "a.b/c d/"] {
            assert_eq!(validate_prefix(prefix), Ok(()), "{prefix}");
        }
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
            let reason = validate_prefix(prefix).expect_err(prefix);
            assert!(reason.contains(says), "{prefix:?}: {reason}");
        }
        assert!(validate_prefix(&format!("{}/", "a".repeat(MAX_PREFIX_LEN))).is_err());
    }
}
