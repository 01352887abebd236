//! Tag keys that notebook-fleet writes on the resources it manages and reads back.

pub const MANAGED_BY: &str = "notebook-fleet:managed-by";
pub const MANAGED_BY_VALUE: &str = "notebook-fleet";
pub const OWNER: &str = "notebook-fleet:owner";
pub const TEAM: &str = "notebook-fleet:team";
pub const REQUEST_ID: &str = "notebook-fleet:request-id";
pub const IDLE_TIMEOUT_MINUTES: &str = "notebook-fleet:idle-timeout-minutes";
pub const DATA_ACCESS: &str = "notebook-fleet:data-access";
/// Set by the notebook's owner: an RFC 3339 time until which the idle sweeper leaves the notebook alone.
pub const IDLE_EXEMPT_UNTIL: &str = "notebook-fleet:idle-exempt-until";
