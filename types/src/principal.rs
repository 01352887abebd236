//! Owners, teams and the people who ask for things: identifiers that end up in tags and IAM.

use crate::text::validated_text;
use crate::Invalid;

pub const MAX_PRINCIPAL_LEN: usize = 64;

validated_text!(
    /// The person a notebook belongs to.
    Owner,
    rule
);

validated_text!(
    /// The team a notebook's owner works for; entitlements are granted per team.
    Team,
    rule
);

validated_text!(
    /// Whoever asked for an action (`requested_by`, a custodian, an approver).
    Principal,
    rule
);

/// Letters, digits and `._@+=-`, 1 to 64 characters: safe in a tag value and an IAM condition.
fn rule(value: &str) -> Result<(), Invalid> {
    if value.is_empty() || value.len() > MAX_PRINCIPAL_LEN {
        return Err(Invalid::new(format!("must be 1 to {MAX_PRINCIPAL_LEN} characters long")));
    }
    match value.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '+' | '=' | '-'))) {
        Some(c) => Err(Invalid::new(format!("may contain only letters, digits and '._@+=-', not {c:?}"))),
        None => Ok(()),
    }
}

impl From<Owner> for Principal {
    /// An owner acting on their own notebook.
    fn from(owner: Owner) -> Self {
        Principal(owner.into_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_allow_emails_and_refuse_what_tags_and_iam_cannot_hold() {
        for ok in ["alice", "alice@example.com", "a.b_c+d=e-f", &"x".repeat(64)] {
            assert!(Owner::parse(ok).is_ok() && Team::parse(ok).is_ok() && Principal::parse(ok).is_ok(), "{ok}");
        }
        for (bad, says) in
            [("", "1 to 64"), (&"x".repeat(65), "1 to 64"), ("a b", "' '"), ("a/b", "'/'"), ("a*", "'*'")]
        {
            let invalid = Owner::parse(bad).expect_err(bad);
            assert!(invalid.reason().contains(says), "{bad:?}: {invalid}");
        }
    }
}
