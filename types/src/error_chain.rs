//! An error with its causes, for a log line or an event: each error's own message says what failed, its
//! sources say why, and none repeats another (errors here never print their source in their own message).

/// `what failed: why: the root cause`, each cause once (a cause whose text is already there is skipped).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Failure(&'static str, Option<Box<Failure>>);

    impl std::fmt::Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Failure {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
        }
    }

    #[test]
    fn every_cause_is_named_once() {
        let root = Failure("connection refused", None);
        let middle = Failure("client error (Connect)", Some(Box::new(root)));
        let top = Failure("the audit record could not be written", Some(Box::new(middle)));
        assert_eq!(
            error_chain(&top),
            "the audit record could not be written: client error (Connect): connection refused"
        );
        let repeating = Failure("GET failed: connection refused", Some(Box::new(Failure("connection refused", None))));
        assert_eq!(error_chain(&repeating), "GET failed: connection refused");
    }
}
