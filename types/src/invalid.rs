//! Why a value was refused: one sentence that says which rule it breaks and what would be accepted.

/// A refused value's reason, e.g. `must end with '/' so it names a folder, e.g. 'team/'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(String);

impl Invalid {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Invalid(reason.into())
    }

    pub fn reason(&self) -> &str {
        &self.0
    }

    pub fn into_reason(self) -> String {
        self.0
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

impl From<Invalid> for String {
    fn from(invalid: Invalid) -> Self {
        invalid.0
    }
}
