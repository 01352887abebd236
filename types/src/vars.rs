//! The one reader of environment variables: every function and the agent read their settings through it, so
//! that an unset, empty, malformed or out-of-range variable is reported the same way, by name.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

use crate::BucketName;

/// A variable that is missing or that does not hold what it must.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    Missing(&'static str),
    Invalid { name: &'static str, reason: String },
}

impl ConfigError {
    pub fn invalid(name: &'static str, reason: impl Display) -> Self {
        ConfigError::Invalid { name, reason: reason.to_string() }
    }

    /// The variable at fault.
    pub fn name(&self) -> &'static str {
        match self {
            ConfigError::Missing(name) | ConfigError::Invalid { name, .. } => name,
        }
    }
}

impl Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Missing(name) => write!(f, "{name} is not set; see the configuration table in the README"),
            ConfigError::Invalid { name, reason } => write!(f, "{name} is invalid: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A source of variables: the process environment, or any lookup (tests use a map). Values are trimmed, and
/// an empty value counts as unset.
pub struct Vars<'a> {
    lookup: Lookup<'a>,
}

type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

impl std::fmt::Debug for Vars<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vars { .. }")
    }
}

impl Vars<'static> {
    /// The process environment. Read once, in `main`.
    pub fn from_env() -> Self {
        Vars::new(|name| std::env::var(name).ok())
    }

    /// Fixed pairs, for tests and tools.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let map: std::collections::HashMap<String, String> =
            pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        Vars::new(move |name| map.get(name).cloned())
    }
}

impl<'a> Vars<'a> {
    pub fn new(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Vars { lookup: Box::new(lookup) }
    }

    /// The trimmed value, `None` when unset or blank.
    pub fn get(&self, name: &'static str) -> Option<String> {
        (self.lookup)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing(name))
    }

    /// The value or `default`.
    pub fn or(&self, name: &'static str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    /// The value read by `parse`, `None` when unset; a refusal names the variable.
    pub fn parsed<T, E: Display>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, ConfigError> {
        self.get(name).map(|v| parse(&v).map_err(|e| ConfigError::invalid(name, e))).transpose()
    }

    /// Like [`Vars::parsed`], but the variable must be set.
    pub fn required_parsed<T, E: Display>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, ConfigError> {
        self.parsed(name, parse)?.ok_or(ConfigError::Missing(name))
    }

    /// A required S3 bucket name.
    pub fn bucket(&self, name: &'static str) -> Result<BucketName, ConfigError> {
        self.required_parsed(name, BucketName::parse)
    }

    /// A whole number, `default` when unset.
    pub fn number<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError> {
        Ok(self
            .parsed(name, |v| v.parse::<T>().map_err(|_| format!("{v:?} is not a whole number")))?
            .unwrap_or(default))
    }

    /// A whole number within `range`, `default` when unset (the default is not checked).
    pub fn number_in<T: FromStr + PartialOrd + Display>(
        &self,
        name: &'static str,
        default: T,
        range: RangeInclusive<T>,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<T>() {
                Ok(n) if range.contains(&n) => Ok(n),
                Ok(n) => Err(ConfigError::invalid(
                    name,
                    format!("{n} is out of bounds; must be between {} and {}", range.start(), range.end()),
                )),
                Err(_) => Err(ConfigError::invalid(name, format!("{v:?} is not a whole number"))),
            },
        }
    }

    /// `true` or `false`; unset is `false`.
    pub fn boolean(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.get(name).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(ConfigError::invalid(name, format!("{other:?} is not true or false"))),
        }
    }

    /// A comma-separated list, its items trimmed, empty items dropped; unset is empty.
    pub fn list(&self, name: &'static str) -> Vec<String> {
        self.get(name).map(|v| split_list(&v)).unwrap_or_default()
    }
}

/// `a, b,,c` → `["a", "b", "c"]`.
pub fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "X_VAR";

    fn with(value: &str) -> Vars<'static> {
        Vars::from_pairs([(NAME, value)])
    }

    #[test]
    fn blank_values_are_unset_and_required_ones_are_named() {
        assert_eq!(with("  ").get(NAME), None);
        assert_eq!(with(" a ").get(NAME).as_deref(), Some("a"));
        let missing = with("").required(NAME).expect_err("blank");
        assert_eq!(missing, ConfigError::Missing(NAME));
        assert!(missing.to_string().contains("X_VAR is not set"), "{missing}");
    }

    #[test]
    fn numbers_booleans_and_lists_parse_or_name_the_variable() {
        assert_eq!(with("").number(NAME, 7u32), Ok(7));
        assert_eq!(with("12").number(NAME, 7u32), Ok(12));
        assert_eq!(
            with("12").number_in(NAME, 7u32, 1..=10).map_err(|e| e.to_string()),
            Err("X_VAR is invalid: 12 is out of bounds; must be between 1 and 10".into())
        );
        assert_eq!(with("lots").number(NAME, 7u32).map_err(|e| e.name()), Err(NAME));
        assert_eq!(with("true").boolean(NAME), Ok(true));
        assert_eq!(with("").boolean(NAME), Ok(false));
        assert_eq!(with("yes").boolean(NAME).map_err(|e| e.name()), Err(NAME));
        assert_eq!(with(" a, b,,c ").list(NAME), ["a", "b", "c"]);
        assert_eq!(with("Bad_Bucket").bucket(NAME).map_err(|e| e.name()), Err(NAME));
        assert_eq!(with("good-bucket").bucket(NAME).map(String::from), Ok("good-bucket".to_owned()));
    }
}
