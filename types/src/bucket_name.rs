//! S3 general-purpose bucket names.

use crate::text::validated_text;
use crate::Invalid;

validated_text!(
    /// An S3 general-purpose bucket name, by every naming rule S3 enforces.
    BucketName,
    rule
);

fn rule(name: &str) -> Result<(), Invalid> {
    if !(3..=63).contains(&name.len()) {
        return Err(Invalid::new("must be 3 to 63 characters long"));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-')) {
        return Err(Invalid::new(format!("may contain only lowercase letters, digits, '.' and '-', not {c:?}")));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        return Err(Invalid::new("must begin and end with a letter or digit"));
    }
    if name.contains("..") {
        return Err(Invalid::new("must not contain two adjacent periods"));
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())) {
        return Err(Invalid::new("must not be formatted as an IP address"));
    }
    for reserved in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(reserved) {
            return Err(Invalid::new(format!("must not start with the reserved prefix {reserved:?}")));
        }
    }
    for reserved in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(reserved) {
            return Err(Invalid::new(format!("must not end with the reserved suffix {reserved:?}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_bucket_names() {
        for name in ["team-data", "abc", "a.b-c.d1", "123bucket"] {
            assert_eq!(BucketName::parse(name).map(String::from), Ok(name.to_owned()), "{name}");
        }
    }

    #[test]
    fn rejects_each_broken_bucket_rule_with_its_reason() {
        for (name, says) in [
            ("ab", "3 to 63"),
            (&"a".repeat(64), "3 to 63"),
            ("Team", "'T'"),
            ("te_am", "'_'"),
            ("a b", "' '"),
            ("-team", "begin and end"),
            ("team-", "begin and end"),
            ("a..b", "adjacent periods"),
            ("192.168.1.1", "IP address"),
            ("xn--abc", "reserved prefix"),
            ("sthree-x", "reserved prefix"),
            ("amzn-s3-demo-x", "reserved prefix"),
            ("abc-s3alias", "reserved suffix"),
            ("abc--ol-s3", "reserved suffix"),
            ("abc.mrap", "reserved suffix"),
            ("abc--x-s3", "reserved suffix"),
            ("abc--table-s3", "reserved suffix"),
        ] {
            let invalid = BucketName::parse(name).expect_err(name);
            assert!(invalid.reason().contains(says), "{name:?}: {invalid}");
        }
    }
}
