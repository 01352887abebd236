//! The values notebook-fleet checks at its edges, as types that can only be built by parsing, and the one
//! reader of environment variables. Shared by the Lambda functions (through `fleet`) and the heartbeat agent
//! that runs on each notebook, so both apply the same rules. No dependencies.
//!
//! - [`NotebookName`], [`BucketName`], [`Prefix`], [`RequestId`], [`Owner`], [`Team`], [`Principal`]: each
//!   `parse` returns the value or an [`Invalid`] that says which rule it breaks.
//! - [`vars`]: environment variables read into those types, with errors that name the variable.
//! - [`error_chain`]: an error and its causes in one line, each once.

mod bucket_name;
mod error_chain;
mod invalid;
mod notebook_name;
mod prefix;
mod principal;
mod request_id;
mod text;
pub mod vars;

pub use bucket_name::BucketName;
pub use error_chain::error_chain;
pub use invalid::Invalid;
pub use notebook_name::NotebookName;
pub use prefix::{Prefix, MAX_PREFIX_LEN};
pub use principal::{Owner, Principal, Team, MAX_PRINCIPAL_LEN};
pub use request_id::{RequestId, MAX_REQUEST_ID_LEN};
