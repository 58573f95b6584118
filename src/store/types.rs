//! The store's data model, shaped like etcd's `mvccpb` and `RangeRequest`: revisions, key-value
//! pairs with their create/mod revisions and versions, watch events, key ranges, and range
//! (read) requests and responses. Keys and values are [`Bytes`], shared and never copied.

use super::error::StoreError;
use bytes::Bytes;
use std::ops::Bound;

/// A point in the store's history. The empty store is at revision 1; every committed write
/// advances it by one.
pub type Revision = i64;

/// A key's value as of some revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: Bytes,
    /// Empty for `keys_only` reads and for the `kv` of a delete event.
    pub value: Bytes,
    /// The revision that created this generation of the key (0 in a delete event's `kv`).
    pub create_revision: Revision,
    /// The revision of the last write (for a delete event's `kv`: the deletion).
    pub mod_revision: Revision,
    /// Writes to this generation so far: 1 on creation (0 in a delete event's `kv`).
    pub version: i64,
}

/// What happened to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change to one key, as a watcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// The key after the change. For a delete, as in etcd, only `key` and `mod_revision` (the
    /// deletion revision) are set.
    pub kv: KeyValue,
    /// The key before the change, when the watcher asked for it and the key existed.
    pub prev_kv: Option<KeyValue>,
}

/// One transaction's events as a watcher receives them. Every watcher that sees the same events
/// shares one `Arc<EventBatch>`, and with it `encoded`: a slot where a consumer that turns the
/// whole batch into the same bytes for each of its watchers (the API server's watch streams)
/// keeps them, so that one write fanned out to a thousand watchers is encoded once.
#[derive(Debug, Default)]
pub struct EventBatch {
    events: Box<[Event]>,
    pub encoded: std::sync::OnceLock<Bytes>,
}

impl std::ops::Deref for EventBatch {
    type Target = [Event];

    fn deref(&self) -> &[Event] {
        &self.events
    }
}

/// Batches compare by their events; the cached encoding is derived from them.
impl PartialEq for EventBatch {
    fn eq(&self, other: &Self) -> bool {
        self.events == other.events
    }
}

impl Eq for EventBatch {}

impl From<Vec<Event>> for EventBatch {
    fn from(events: Vec<Event>) -> Self {
        EventBatch { events: events.into_boxed_slice(), encoded: std::sync::OnceLock::new() }
    }
}

impl FromIterator<Event> for EventBatch {
    fn from_iter<I: IntoIterator<Item = Event>>(events: I) -> Self {
        EventBatch::from(events.into_iter().collect::<Vec<_>>())
    }
}

/// Where a [`KeyRange`] stops.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RangeEnd {
    /// The range is the single key `start`.
    SingleKey,
    /// Keys from `start` up to, not including, this one (etcd's `range_end`).
    Before(Bytes),
    /// Every key from `start` on (etcd's `range_end = "\0"`).
    Unbounded,
}

/// A set of keys: one key, a prefix, or a half-open interval `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyRange {
    pub start: Bytes,
    pub end: RangeEnd,
}

impl KeyRange {
    /// Exactly `key`.
    pub fn key(key: impl Into<Bytes>) -> Self {
        KeyRange { start: key.into(), end: RangeEnd::SingleKey }
    }

    /// Every key starting with `prefix` (every key at all for an empty prefix).
    pub fn prefix(prefix: impl Into<Bytes>) -> Self {
        let start = prefix.into();
        let end = prefix_end(&start).map_or(RangeEnd::Unbounded, RangeEnd::Before);
        KeyRange { start, end }
    }

    /// Keys in `[start, end)`.
    pub fn between(start: impl Into<Bytes>, end: impl Into<Bytes>) -> Self {
        KeyRange { start: start.into(), end: RangeEnd::Before(end.into()) }
    }

    /// Keys from `start` on.
    pub fn from_key(start: impl Into<Bytes>) -> Self {
        KeyRange { start: start.into(), end: RangeEnd::Unbounded }
    }

    /// Every key.
    pub fn all() -> Self {
        KeyRange::from_key(Bytes::new())
    }

    /// Whether `key` is in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        match &self.end {
            RangeEnd::SingleKey => key == &self.start[..],
            RangeEnd::Before(end) => &self.start[..] <= key && key < &end[..],
            RangeEnd::Unbounded => &self.start[..] <= key,
        }
    }

    /// Rejects an empty single key and an end that sorts before the start.
    pub fn validate(&self) -> Result<(), StoreError> {
        match &self.end {
            RangeEnd::SingleKey if self.start.is_empty() => Err(StoreError::EmptyKey),
            RangeEnd::Before(end) if end < &self.start => {
                Err(StoreError::InvalidRange { start: self.start.clone(), end: end.clone() })
            }
            _ => Ok(()),
        }
    }

    /// The range as map bounds. An inverted range (which [`KeyRange::validate`] rejects)
    /// becomes an empty one rather than a panic.
    pub(super) fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        let start = &self.start[..];
        match &self.end {
            RangeEnd::SingleKey => (Bound::Included(start), Bound::Included(start)),
            RangeEnd::Before(end) if end[..] < *start => (Bound::Included(start), Bound::Excluded(start)),
            RangeEnd::Before(end) => (Bound::Included(start), Bound::Excluded(&end[..])),
            RangeEnd::Unbounded => (Bound::Included(start), Bound::Unbounded),
        }
    }
}

/// The smallest key greater than every key with this prefix, or `None` when there is none
/// (an empty prefix, or one made only of `0xff` bytes).
fn prefix_end(prefix: &[u8]) -> Option<Bytes> {
    let last = prefix.iter().rposition(|byte| *byte != 0xff)?;
    let mut end = prefix[..=last].to_vec();
    end[last] += 1;
    Some(end.into())
}

/// A read of a range of keys, as etcd's `RangeRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeRequest {
    pub range: KeyRange,
    /// The revision to read at; 0 reads the current revision.
    pub revision: Revision,
    /// At most this many key-values are returned (in key order); 0 means no limit.
    pub limit: usize,
    /// Return only `count`, no key-values.
    pub count_only: bool,
    /// Return key-values with empty values.
    pub keys_only: bool,
}

impl RangeRequest {
    /// Reads all of `range` at the current revision.
    pub fn new(range: KeyRange) -> Self {
        RangeRequest { range, revision: 0, limit: 0, count_only: false, keys_only: false }
    }

    pub fn at_revision(mut self, revision: Revision) -> Self {
        self.revision = revision;
        self
    }

    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    pub fn with_count_only(mut self) -> Self {
        self.count_only = true;
        self
    }

    pub fn with_keys_only(mut self) -> Self {
        self.keys_only = true;
        self
    }
}

/// The answer to a [`RangeRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeResponse {
    /// The matching key-values in key order, at most `limit` of them.
    pub kvs: Vec<KeyValue>,
    /// How many keys match, ignoring the limit.
    pub count: usize,
    /// Whether keys were left out because of the limit.
    pub more: bool,
    /// The store's current revision when the read was served (etcd's header revision).
    pub revision: Revision,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends_after_every_key_with_the_prefix() {
        let range = KeyRange::prefix("/registry/pods/");
        assert_eq!(range.end, RangeEnd::Before(Bytes::from_static(b"/registry/pods0")));
        assert!(range.contains(b"/registry/pods/default/web"));
        assert!(!range.contains(b"/registry/pods"));
        assert!(!range.contains(b"/registry/pods0"));
        assert_eq!(KeyRange::prefix(vec![b'a', 0xff, 0xff]).end, RangeEnd::Before(Bytes::from_static(b"b")));
        assert_eq!(KeyRange::prefix(vec![0xff]).end, RangeEnd::Unbounded);
        assert_eq!(KeyRange::prefix(Bytes::new()), KeyRange::all());
        assert!(KeyRange::all().contains(b""));
    }

    #[test]
    fn single_keys_and_intervals_contain_what_they_say() {
        assert!(KeyRange::key("a").contains(b"a"));
        assert!(!KeyRange::key("a").contains(b"ab"));
        let interval = KeyRange::between("b", "d");
        assert!(!interval.contains(b"a") && interval.contains(b"b") && interval.contains(b"c\xff"));
        assert!(!interval.contains(b"d"));
        assert!(KeyRange::from_key("m").contains(b"zzz") && !KeyRange::from_key("m").contains(b"l"));
    }

    #[test]
    fn bad_ranges_are_typed_errors_and_never_panic() {
        assert_eq!(KeyRange::key("").validate(), Err(StoreError::EmptyKey));
        let inverted = KeyRange::between("z", "a");
        assert!(matches!(inverted.validate(), Err(StoreError::InvalidRange { .. })));
        assert!(!inverted.contains(b"m"));
        let map: std::collections::BTreeMap<Bytes, ()> = [(Bytes::from_static(b"m"), ())].into();
        assert_eq!(map.range::<[u8], _>(inverted.bounds()).count(), 0);
        assert_eq!(KeyRange::between("a", "a").validate(), Ok(()));
        assert_eq!(KeyRange::prefix("").validate(), Ok(()));
    }
}
