//! [`StoreError`]: every way a store call can fail. Bad input is reported here as a typed value,
//! never as a panic, and revision errors carry the numbers a caller needs to explain them
//! (Kubernetes turns [`StoreError::Compacted`] into 410 Expired).

use super::types::Revision;
use bytes::Bytes;
use std::fmt;

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The requested revision has been compacted away: reads need `requested >= compacted`,
    /// watches need `requested > compacted`, and compaction needs `requested > compacted`.
    Compacted { requested: Revision, compacted: Revision },
    /// The requested revision has not happened yet.
    FutureRevision { requested: Revision, current: Revision },
    /// Revisions are never negative (0 means "current" where a revision is optional).
    NegativeRevision { requested: Revision },
    /// A key (or the start of a single-key range) was empty.
    EmptyKey,
    /// A range whose end sorts before its start.
    InvalidRange { start: Bytes, end: Bytes },
    /// One transaction branch writes the same key twice (two puts, or a put inside a delete's
    /// range), as etcd refuses with "duplicate key given in txn request".
    DuplicateKey { key: Bytes },
    /// The store has been shut down.
    Closed,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Compacted { requested, compacted } => {
                write!(f, "required revision {requested} has been compacted (compacted revision {compacted})")
            }
            StoreError::FutureRevision { requested, current } => {
                write!(f, "required revision {requested} is a future revision (current revision {current})")
            }
            StoreError::NegativeRevision { requested } => write!(f, "revision {requested} is negative"),
            StoreError::EmptyKey => f.write_str("key is not provided"),
            StoreError::InvalidRange { start, end } => {
                write!(f, "range end {:?} sorts before range start {:?}", Printable(end), Printable(start))
            }
            StoreError::DuplicateKey { key } => {
                write!(f, "duplicate key given in txn request: {:?}", Printable(key))
            }
            StoreError::Closed => f.write_str("the store has been shut down"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Shows a key as text where it is UTF-8, as escaped bytes otherwise.
struct Printable<'a>(&'a Bytes);

impl fmt::Debug for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.0) {
            Ok(text) => fmt::Debug::fmt(text, f),
            Err(_) => fmt::Debug::fmt(self.0, f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_revisions_and_keys() {
        let compacted = StoreError::Compacted { requested: 3, compacted: 7 };
        assert_eq!(compacted.to_string(), "required revision 3 has been compacted (compacted revision 7)");
        let future = StoreError::FutureRevision { requested: 9, current: 4 };
        assert!(future.to_string().contains("future revision"));
        let duplicate = StoreError::DuplicateKey { key: Bytes::from_static(b"/a") };
        assert_eq!(duplicate.to_string(), "duplicate key given in txn request: \"/a\"");
        let binary = StoreError::InvalidRange { start: Bytes::from_static(b"\xff"), end: Bytes::from_static(b"a") };
        assert!(binary.to_string().contains("\\xff"));
        let as_error: &dyn std::error::Error = &StoreError::EmptyKey;
        assert_eq!(as_error.to_string(), "key is not provided");
    }
}
