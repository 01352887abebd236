//! The validated names every layer uses after the edge (from `fleet-types`, shared with the agent).

pub use fleet_types::{
    BucketName, Invalid, NotebookName, Owner, Prefix, Principal, RequestId, Team, MAX_PREFIX_LEN, MAX_PRINCIPAL_LEN,
    MAX_REQUEST_ID_LEN,
};
