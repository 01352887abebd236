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
/// The notebook's own name as it was requested (SageMaker writes ARNs in lower case).
pub const NOTEBOOK_NAME: &str = "notebook-fleet:notebook-name";
/// Set when a notebook is locked (its owner was deactivated, or it was decommissioned): the RFC 3339 time.
/// A locked notebook is kept stopped, its role can no longer write, and start requests are refused.
pub const LOCKED_AT: &str = "notebook-fleet:locked-at";
/// Why the notebook is locked: `owner-deactivated` or `decommissioned`.
pub const LOCK_REASON: &str = "notebook-fleet:lock-reason";
/// Custodian notebooks: the deactivated owner whose data the notebook's role may read.
pub const CUSTODIAN_FOR: &str = "notebook-fleet:custodian-for";
/// Custodian notebooks: the ticket that justified the access.
pub const TICKET: &str = "notebook-fleet:ticket";
/// Custodian notebooks: RFC 3339 time after which the role's access is revoked and the notebook stopped.
pub const ACCESS_EXPIRES_AT: &str = "notebook-fleet:access-expires-at";
/// Custodian notebooks: set when the access was revoked, so that revocation happens once.
pub const ACCESS_REVOKED_AT: &str = "notebook-fleet:access-revoked-at";
/// Set by a decommission request: the RFC 3339 time the notebook was marked for deletion.
pub const DECOMMISSIONED_AT: &str = "notebook-fleet:decommissioned-at";
