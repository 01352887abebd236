//! The detail of an expected outcome, or a panic that shows the outcome there was instead.

use crate::domain::outcome::{OutcomeEvent, Provisioned, Rejected};

/// The rejection, or a panic naming the outcome that is not one.
pub fn rejected(outcome: &OutcomeEvent) -> &Rejected {
    match outcome {
        OutcomeEvent::Rejected(rejected) => rejected,
        other => panic!("not rejected: {other:?}"),
    }
}

/// The provisioned notebook, or a panic naming the outcome that is not one.
pub fn provisioned(outcome: &OutcomeEvent) -> &Provisioned {
    match outcome {
        OutcomeEvent::Provisioned(provisioned) => provisioned,
        other => panic!("not provisioned: {other:?}"),
    }
}
