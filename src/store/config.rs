//! [`StoreConfig`]: how much history a store keeps, how far a watcher may fall behind before it
//! is caught up from that history, and the clock that ages history. No globals: each store is
//! built from its own config.

use crate::clock::{Clock, SystemClock};
use std::sync::Arc;
use std::time::Duration;

/// Settings for one [`MemoryStore`](super::MemoryStore).
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Keep at least this many revisions of history (reads and watches from
    /// `current - history_revisions` on keep working); older ones are compacted as writes
    /// arrive. `None`: no limit by count.
    pub history_revisions: Option<u64>,
    /// Also compact revisions committed longer ago than this, as measured by `clock`.
    /// `None`: no limit by age.
    pub history_max_age: Option<Duration>,
    /// How many undelivered responses a watcher may have queued before writers stop queueing
    /// for it and it catches up from history instead (at least 1).
    pub watcher_queue_capacity: usize,
    /// Progress notifications for watchers that do not choose their own interval.
    pub progress_interval: Option<Duration>,
    /// Stamps each commit, for `history_max_age`. Inject a fixed clock for deterministic tests.
    pub clock: Arc<dyn Clock>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            history_revisions: Some(10_000),
            history_max_age: None,
            watcher_queue_capacity: 1024,
            progress_interval: None,
            clock: Arc::new(SystemClock),
        }
    }
}
