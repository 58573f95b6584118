//! A small bounded map whose entries expire, shared by the caches in front of slow
//! authentication and authorization steps (verified tokens, webhook decisions). Time is
//! whatever the caller measures it in (Unix seconds of the instance clock, or an `Instant`):
//! an entry is used strictly before its expiry. When full, expired entries are dropped first,
//! then an arbitrary one.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

/// Entries of type `V` under keys `K`, each valid until a time `T`.
#[derive(Debug)]
pub struct ExpiringCache<K, V, T> {
    capacity: usize,
    entries: Mutex<HashMap<K, (T, Arc<V>)>>,
}

impl<K: Hash + Eq + Clone, V, T: Ord + Copy> ExpiringCache<K, V, T> {
    pub fn new(capacity: usize) -> Self {
        ExpiringCache { capacity: capacity.max(1), entries: Mutex::new(HashMap::new()) }
    }

    /// The entry under `key` if it has not expired at `now` (an expired one is dropped).
    pub fn get(&self, key: &K, now: T) -> Option<Arc<V>> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some((expires_at, value)) if now < *expires_at => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `value` under `key` until `expires_at`; nothing is kept when that is not after `now`.
    pub fn insert(&self, key: K, value: V, expires_at: T, now: T) {
        if expires_at <= now {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, (at, _)| now < *at);
            if entries.len() >= self.capacity
                && let Some(victim) = entries.keys().next().cloned()
            {
                entries.remove(&victim);
            }
        }
        entries.insert(key, (expires_at, Arc::new(value)));
    }

    pub fn remove(&self, key: &K) {
        self.lock().remove(key);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, (T, Arc<V>)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_size_stays_bounded() {
        let cache = ExpiringCache::new(2);
        cache.insert("a", 1, 10, 0);
        assert_eq!(cache.get(&"a", 9).as_deref(), Some(&1));
        assert_eq!(cache.get(&"a", 10), None, "used strictly before its expiry");
        assert!(cache.is_empty(), "an expired entry is dropped when met");
        cache.insert("never", 0, 5, 5);
        assert!(cache.is_empty(), "an entry already expired is not kept");
        cache.insert("b", 2, 100, 0);
        cache.insert("c", 3, 100, 0);
        cache.insert("d", 4, 100, 0);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&"d", 1).as_deref(), Some(&4), "the newest entry is kept");
    }
}
