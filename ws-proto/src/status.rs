//! The result of a parser that may need more input.

/// The outcome of parsing input that may still be incomplete.
///
/// Incomplete input is not an error: [`Status::Partial`] asks the caller to
/// come back with more bytes (httparse's `Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// The value was parsed completely.
    Complete(T),
    /// More bytes are needed before anything can be decided.
    Partial,
}

impl<T> Status<T> {
    /// Returns `true` for [`Status::Complete`].
    pub fn is_complete(&self) -> bool {
        matches!(self, Self::Complete(_))
    }

    /// Returns `true` for [`Status::Partial`].
    pub fn is_partial(&self) -> bool {
        matches!(self, Self::Partial)
    }

    /// The completed value, if any.
    pub fn complete(self) -> Option<T> {
        match self {
            Self::Complete(value) => Some(value),
            Self::Partial => None,
        }
    }
}
