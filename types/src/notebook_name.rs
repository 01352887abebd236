//! SageMaker notebook instance names.

use crate::text::validated_text;
use crate::Invalid;

/// The longest notebook name SageMaker accepts.
pub const MAX_NOTEBOOK_NAME_LEN: usize = 63;

validated_text!(
    /// A SageMaker notebook instance name: `^[a-zA-Z0-9](-*[a-zA-Z0-9])*$`, at most 63 characters.
    NotebookName,
    rule
);

fn rule(name: &str) -> Result<(), Invalid> {
    if name.is_empty() || name.len() > MAX_NOTEBOOK_NAME_LEN {
        return Err(Invalid::new(format!("must be 1 to {MAX_NOTEBOOK_NAME_LEN} characters long")));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
        return Err(Invalid::new(format!("may contain only letters, digits and '-', not {c:?}")));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(Invalid::new("must begin and end with a letter or digit"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_sagemaker_names() {
        for name in ["a", "nb-1", "Alice-Experiment-2", &"x".repeat(63), "a--b"] {
            assert_eq!(NotebookName::parse(name).map(String::from), Ok(name.to_owned()), "{name}");
        }
    }

    #[test]
    fn rejects_names_sagemaker_would_refuse() {
        for (name, says) in [
            ("", "1 to 63"),
            (&"x".repeat(64), "1 to 63"),
            ("-a", "begin and end"),
            ("a-", "begin and end"),
            ("a_b", "'_'"),
            ("a.b", "'.'"),
            ("a/b", "'/'"),
            ("a b", "' '"),
            ("café", "'é'"),
        ] {
            let invalid = NotebookName::parse(name).expect_err(name);
            assert!(invalid.reason().contains(says), "{name:?}: {invalid}");
        }
    }
}
