//! The objects the last few updates wrote, kept decoded, so that the next update of the same
//! object starts from them instead of parsing the stored bytes again. A controller or a
//! reconcile loop writes the same object over and over; for a 50-container Deployment, parsing
//! the stored object was a quarter of an apply. An entry answers only for the exact bytes and
//! revision it was written with, and is handed out once (the update consumes it); its value is
//! exactly what decoding those bytes gives ([`encoding::as_decoded`]), key order included.

use super::encoding;
use super::storage::Stored;
use bytes::Bytes;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Mutex;

/// How many objects are kept; the oldest goes first.
const CAPACITY: usize = 32;
/// Objects stored larger than this are not kept (a decoded object takes several times its
/// stored size), so the cache holds at most a few MiB.
const LARGEST_KEPT: usize = 64 * 1024;

/// Recently written objects, decoded, with the bytes and revision they were stored at.
#[derive(Debug, Default)]
pub struct DecodedObjects {
    entries: Mutex<VecDeque<(i64, Bytes, Value)>>,
}

impl DecodedObjects {
    /// The decoded form of `stored`, if it is kept; it is no longer kept afterwards.
    pub fn take(&self, stored: &Stored) -> Option<Value> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let at =
            entries.iter().position(|(revision, bytes, _)| *revision == stored.revision && *bytes == stored.bytes)?;
        entries.remove(at).map(|(_, _, object)| object)
    }

    /// Keeps `object`, which was just stored as `stored` (its bytes are `object` encoded for
    /// storage). Objects that are not JSON objects are not kept.
    pub fn keep(&self, stored: &Stored, object: Value) {
        if stored.bytes.len() > LARGEST_KEPT {
            return;
        }
        let Some(object) = encoding::as_decoded(object, stored.revision) else { return };
        // Checked in kubetwin's own tests only: a check on every update would cost a user's
        // debug-build tests more than the cache saves them.
        #[cfg(test)]
        assert_eq!(
            serde_json::to_string(&object).ok(),
            serde_json::to_string(&stored.to_value()).ok(),
            "a kept object is what decoding its stored bytes gives"
        );
        let evicted = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let evicted = if entries.len() == CAPACITY { entries.pop_front() } else { None };
            entries.push_back((stored.revision, stored.bytes.clone(), object));
            evicted
        };
        drop(evicted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(object: &Value, revision: i64) -> Stored {
        Stored { bytes: encoding::encode_for_storage(object), revision }
    }

    #[test]
    fn an_object_is_handed_out_once_for_its_own_bytes_and_revision() {
        let objects = DecodedObjects::default();
        let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
        let at_7 = stored(&object, 7);
        objects.keep(&at_7, object.clone());
        assert_eq!(objects.take(&stored(&object, 8)), None, "another revision");
        let other = stored(&json!({"kind": "ConfigMap", "metadata": {"name": "d"}}), 7);
        assert_eq!(objects.take(&other), None, "other bytes at the same revision");
        assert_eq!(objects.take(&at_7), Some(at_7.to_value()));
        assert_eq!(objects.take(&at_7), None, "handed out already");
    }

    #[test]
    fn the_oldest_objects_go_first() {
        let objects = DecodedObjects::default();
        let object = json!({"metadata": {"name": "c"}});
        for revision in 0..=CAPACITY as i64 {
            objects.keep(&stored(&object, revision), object.clone());
        }
        assert_eq!(objects.take(&stored(&object, 0)), None);
        assert!(objects.take(&stored(&object, 1)).is_some());
        assert!(objects.take(&stored(&object, CAPACITY as i64)).is_some());
    }

    #[test]
    fn large_objects_are_not_kept() {
        let objects = DecodedObjects::default();
        let object = json!({"metadata": {"name": "c"}, "data": {"big": "x".repeat(LARGEST_KEPT)}});
        objects.keep(&stored(&object, 3), object.clone());
        assert_eq!(objects.take(&stored(&object, 3)), None);
    }
}
