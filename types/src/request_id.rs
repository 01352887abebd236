//! Request ids: the idempotency key of every request.

use crate::text::validated_text;
use crate::Invalid;

pub const MAX_REQUEST_ID_LEN: usize = 128;

validated_text!(
    /// A request's idempotency key; it travels in tags and event details: letters, digits and `._:-`, at
    /// most 128 characters.
    RequestId,
    rule
);

fn rule(id: &str) -> Result<(), Invalid> {
    if id.is_empty() || id.len() > MAX_REQUEST_ID_LEN {
        return Err(Invalid::new(format!("must be 1 to {MAX_REQUEST_ID_LEN} characters long")));
    }
    match id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))) {
        Some(c) => Err(Invalid::new(format!("may contain only letters, digits and '._:-', not {c:?}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_tag_safe() {
        assert!(RequestId::parse("req-2024-01-01T10:00:00.1_a").is_ok());
        for (bad, says) in [("", "1 to 128"), (&"r".repeat(129), "1 to 128"), ("a b", "' '"), ("a/b", "'/'")] {
            let invalid = RequestId::parse(bad).expect_err(bad);
            assert!(invalid.reason().contains(says), "{bad:?}: {invalid}");
        }
    }
}
