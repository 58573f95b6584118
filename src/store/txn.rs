//! Transactions, shaped like etcd's `TxnRequest`: compares on one key's `version`,
//! `create_revision`, `mod_revision` or value, then a success or a failure branch of puts,
//! deletes and ranges committed atomically at one revision. This module owns the request and
//! response types, compare evaluation and the up-front validation; `mvcc.rs` applies them.

use super::error::StoreError;
use super::key_index::Version;
use super::types::{KeyRange, KeyValue, RangeRequest, RangeResponse, Revision};
use bytes::Bytes;
use std::cmp::Ordering;

/// How the key's actual field relates to the expected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Equal,
    NotEqual,
    /// Actual < expected.
    Less,
    /// Actual > expected.
    Greater,
}

impl CompareOp {
    fn holds(self, actual_vs_expected: Ordering) -> bool {
        match self {
            CompareOp::Equal => actual_vs_expected == Ordering::Equal,
            CompareOp::NotEqual => actual_vs_expected != Ordering::Equal,
            CompareOp::Less => actual_vs_expected == Ordering::Less,
            CompareOp::Greater => actual_vs_expected == Ordering::Greater,
        }
    }
}

/// The field a [`Compare`] looks at, with the expected value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CompareTarget {
    Version(i64),
    CreateRevision(Revision),
    ModRevision(Revision),
    /// Compared bytewise.
    Value(Bytes),
}

/// A condition on one key's current state. As in etcd, a missing key has version,
/// create_revision and mod_revision 0, and no value compare holds on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Compare {
    pub key: Bytes,
    pub op: CompareOp,
    pub target: CompareTarget,
}

impl Compare {
    pub fn new(key: impl Into<Bytes>, op: CompareOp, target: CompareTarget) -> Self {
        Compare { key: key.into(), op, target }
    }

    /// The key was last written at `revision` (0: the key does not exist).
    pub fn mod_revision_equals(key: impl Into<Bytes>, revision: Revision) -> Self {
        Compare::new(key, CompareOp::Equal, CompareTarget::ModRevision(revision))
    }

    /// The key's generation was created at `revision` (0: the key does not exist).
    pub fn create_revision_equals(key: impl Into<Bytes>, revision: Revision) -> Self {
        Compare::new(key, CompareOp::Equal, CompareTarget::CreateRevision(revision))
    }

    pub fn version_equals(key: impl Into<Bytes>, version: i64) -> Self {
        Compare::new(key, CompareOp::Equal, CompareTarget::Version(version))
    }

    pub fn value_equals(key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Compare::new(key, CompareOp::Equal, CompareTarget::Value(value.into()))
    }

    /// Whether the compare holds against the key's current version (`None`: no such key).
    pub(super) fn holds(&self, current: Option<Version<'_>>) -> bool {
        let (actual, expected) = match &self.target {
            CompareTarget::Value(expected) => {
                return current.is_some_and(|version| self.op.holds(version.value[..].cmp(&expected[..])));
            }
            CompareTarget::Version(expected) => (current.map_or(0, |version| version.version), expected),
            CompareTarget::CreateRevision(expected) => (current.map_or(0, |version| version.create_revision), expected),
            CompareTarget::ModRevision(expected) => (current.map_or(0, |version| version.mod_revision), expected),
        };
        self.op.holds(actual.cmp(expected))
    }
}

/// One operation of a transaction branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnOp {
    /// Sets `key` to `value`; `prev_kv` asks for the value it replaced.
    Put { key: Bytes, value: Bytes, prev_kv: bool },
    /// Deletes every live key in `range`; `prev_kv` asks for what was deleted.
    Delete { range: KeyRange, prev_kv: bool },
    /// Reads, seeing the writes made earlier in the same branch.
    Range(RangeRequest),
}

impl TxnOp {
    pub fn put(key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        TxnOp::Put { key: key.into(), value: value.into(), prev_kv: false }
    }

    pub fn delete(range: KeyRange) -> Self {
        TxnOp::Delete { range, prev_kv: false }
    }

    pub fn range(request: RangeRequest) -> Self {
        TxnOp::Range(request)
    }

    /// Asks a put or delete for the previous key-values (no effect on a range).
    pub fn with_prev_kv(mut self) -> Self {
        if let TxnOp::Put { prev_kv, .. } | TxnOp::Delete { prev_kv, .. } = &mut self {
            *prev_kv = true;
        }
        self
    }

    fn validate(&self) -> Result<(), StoreError> {
        match self {
            TxnOp::Put { key, .. } if key.is_empty() => Err(StoreError::EmptyKey),
            TxnOp::Put { .. } => Ok(()),
            TxnOp::Delete { range, .. } => range.validate(),
            TxnOp::Range(request) => {
                request.range.validate()?;
                match request.revision {
                    requested if requested < 0 => Err(StoreError::NegativeRevision { requested }),
                    _ => Ok(()),
                }
            }
        }
    }
}

/// If every compare holds, run `success`, otherwise `failure`; atomically, at one revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Txn {
    pub compares: Vec<Compare>,
    pub success: Vec<TxnOp>,
    pub failure: Vec<TxnOp>,
}

impl Txn {
    /// A transaction with no compares: `ops` always run.
    pub fn unconditional(ops: Vec<TxnOp>) -> Self {
        Txn { compares: Vec::new(), success: ops, failure: Vec::new() }
    }

    /// Rejects empty keys, inverted ranges, negative revisions and branches that write one key
    /// twice, before anything is evaluated.
    pub(super) fn validate(&self) -> Result<(), StoreError> {
        if self.compares.iter().any(|compare| compare.key.is_empty()) {
            return Err(StoreError::EmptyKey);
        }
        for branch in [&self.success, &self.failure] {
            branch.iter().try_for_each(TxnOp::validate)?;
            reject_duplicate_writes(branch)?;
        }
        Ok(())
    }
}

/// Each key may be written at most once per revision: no two puts of one key, and no put of a
/// key that a delete in the same branch covers.
fn reject_duplicate_writes(ops: &[TxnOp]) -> Result<(), StoreError> {
    let put_keys: Vec<&Bytes> = ops
        .iter()
        .filter_map(|op| match op {
            TxnOp::Put { key, .. } => Some(key),
            _ => None,
        })
        .collect();
    let deleted_ranges = ops.iter().filter_map(|op| match op {
        TxnOp::Delete { range, .. } => Some(range),
        _ => None,
    });
    let mut seen = std::collections::HashSet::with_capacity(put_keys.len());
    if let Some(key) = put_keys.iter().find(|key| !seen.insert(**key)) {
        return Err(StoreError::DuplicateKey { key: (*key).clone() });
    }
    for range in deleted_ranges {
        if let Some(key) = put_keys.iter().find(|key| range.contains(key)) {
            return Err(StoreError::DuplicateKey { key: (*key).clone() });
        }
    }
    Ok(())
}

/// What one operation of the branch that ran produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResponse {
    /// `prev_kv`: the value the put replaced, if asked for and the key existed.
    Put {
        prev_kv: Option<KeyValue>,
    },
    /// `deleted`: how many keys were deleted; `prev_kvs`: them, if asked for.
    Delete {
        deleted: usize,
        prev_kvs: Vec<KeyValue>,
    },
    Range(RangeResponse),
}

impl OpResponse {
    /// The range response, if this is one.
    pub fn into_range(self) -> Option<RangeResponse> {
        match self {
            OpResponse::Range(response) => Some(response),
            _ => None,
        }
    }
}

/// The outcome of a [`Txn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnResponse {
    /// Whether the compares held (so `success` ran).
    pub succeeded: bool,
    /// The store's revision after the transaction: the commit revision if it wrote anything.
    pub revision: Revision,
    /// One response per operation of the branch that ran, in order.
    pub responses: Vec<OpResponse>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(value: &'static Bytes) -> Version<'static> {
        Version { create_revision: 3, mod_revision: 5, version: 2, value }
    }

    #[test]
    fn compares_look_at_the_named_field() {
        static VALUE: Bytes = Bytes::from_static(b"m");
        let current = Some(version(&VALUE));
        assert!(Compare::mod_revision_equals("k", 5).holds(current));
        assert!(Compare::create_revision_equals("k", 3).holds(current));
        assert!(Compare::version_equals("k", 2).holds(current));
        assert!(Compare::value_equals("k", "m").holds(current));
        assert!(Compare::new("k", CompareOp::Less, CompareTarget::ModRevision(6)).holds(current));
        assert!(!Compare::new("k", CompareOp::Greater, CompareTarget::ModRevision(5)).holds(current));
        assert!(Compare::new("k", CompareOp::Greater, CompareTarget::Value("a".into())).holds(current));
        assert!(Compare::new("k", CompareOp::NotEqual, CompareTarget::Version(1)).holds(current));
    }

    #[test]
    fn a_missing_key_has_zero_revisions_and_no_value() {
        assert!(Compare::create_revision_equals("k", 0).holds(None));
        assert!(Compare::mod_revision_equals("k", 0).holds(None));
        assert!(Compare::new("k", CompareOp::Less, CompareTarget::Version(1)).holds(None));
        assert!(!Compare::value_equals("k", "").holds(None));
        assert!(!Compare::new("k", CompareOp::NotEqual, CompareTarget::Value("x".into())).holds(None));
    }

    #[test]
    fn validation_rejects_bad_input_in_either_branch() {
        let with_failure = |op| Txn { failure: vec![op], ..Txn::default() };
        assert_eq!(with_failure(TxnOp::put("", "v")).validate(), Err(StoreError::EmptyKey));
        let inverted = TxnOp::delete(KeyRange::between("b", "a"));
        assert!(matches!(with_failure(inverted).validate(), Err(StoreError::InvalidRange { .. })));
        let negative = TxnOp::range(RangeRequest::new(KeyRange::key("a")).at_revision(-2));
        assert_eq!(with_failure(negative).validate(), Err(StoreError::NegativeRevision { requested: -2 }));
        let empty_compare = Txn { compares: vec![Compare::version_equals("", 1)], ..Txn::default() };
        assert_eq!(empty_compare.validate(), Err(StoreError::EmptyKey));
    }

    #[test]
    fn a_branch_may_write_each_key_once() {
        let twice = Txn::unconditional(vec![TxnOp::put("a", "1"), TxnOp::put("a", "2")]);
        assert_eq!(twice.validate(), Err(StoreError::DuplicateKey { key: "a".into() }));
        let put_then_delete = Txn::unconditional(vec![TxnOp::put("a/1", "1"), TxnOp::delete(KeyRange::prefix("a/"))]);
        assert_eq!(put_then_delete.validate(), Err(StoreError::DuplicateKey { key: "a/1".into() }));
        let overlapping_deletes =
            Txn::unconditional(vec![TxnOp::delete(KeyRange::prefix("a")), TxnOp::delete(KeyRange::key("a1"))]);
        assert_eq!(overlapping_deletes.validate(), Ok(()));
        let one_per_branch =
            Txn { success: vec![TxnOp::put("a", "1")], failure: vec![TxnOp::put("a", "2")], ..Txn::default() };
        assert_eq!(one_per_branch.validate(), Ok(()));
    }

    #[test]
    fn prev_kv_applies_to_writes_only() {
        assert_eq!(
            TxnOp::put("a", "1").with_prev_kv(),
            TxnOp::Put { key: "a".into(), value: "1".into(), prev_kv: true }
        );
        let range = TxnOp::range(RangeRequest::new(KeyRange::key("a")));
        assert_eq!(range.clone().with_prev_kv(), range);
    }
}
