//! The embedded MVCC key-value store: etcd v3's data model (revisions, generations, transactions,
//! watch and compaction) in memory. It deals in bytes in and revisions out, and knows nothing of
//! HTTP or Kubernetes.
//!
//! # Model
//!
//! * **Revisions.** One global [`Revision`]: 1 for an empty store, advanced by exactly one by
//!   every transaction that writes something (a transaction that only reads, or deletes
//!   nothing, leaves it alone). Each [`KeyValue`] carries `create_revision`, `mod_revision` and
//!   `version`; deleting a key ends its generation, and a new put starts one at version 1.
//! * **Reads.** [`MemoryStore::range`] reads one key, a prefix or `[start, end)`
//!   ([`KeyRange`]) at the current or a past revision, with `limit`, `count`, `more`,
//!   `count_only` and `keys_only`, like etcd's Range. Reads below the compacted revision fail
//!   with [`StoreError::Compacted`], above the current one with [`StoreError::FutureRevision`].
//! * **Transactions.** [`MemoryStore::txn`] evaluates [`Compare`]s on `version`,
//!   `create_revision`, `mod_revision` or the value, then runs the success or failure branch of
//!   [`TxnOp`]s (put, delete, range; puts and deletes can return `prev_kv`) atomically at one
//!   revision. Put a `Range` in the failure branch to get the conflicting key-value back.
//! * **Watch.** [`MemoryStore::watch`] returns a [`Watcher`] (an async stream) of a key, prefix
//!   or interval from a start revision (0: from now; it must be above the compacted revision
//!   and at most the current one + 1): events in revision order, each exactly once, all of one
//!   transaction in one [`WatchResponse`], shared (`Arc`) between watchers. Progress
//!   notifications (on request or periodic) carry a revision up to which everything has been
//!   delivered. Writers never wait for a watcher: a watcher whose queue fills is caught up from
//!   the history, or, if compaction passed it, ended with [`WatchCancelReason::Compacted`].
//!   Streams also end, with [`WatchCancelReason::Shutdown`], when the store shuts down.
//! * **Compaction.** History is kept for a window of revisions and/or an age
//!   ([`StoreConfig`]), compacted a little on every write, or explicitly with
//!   [`MemoryStore::compact`]. The latest value of a live key is never dropped; deleted keys
//!   vanish once their deletion is compacted.
//! * **Backends.** [`KeyValueBackend`] is the narrow trait the API server needs, with
//!   `get`/`put`/`delete`/`count` conveniences; [`MemoryStore`] implements it, and a real etcd
//!   can later.
//!
//! ```
//! use kubetwin::store::{Compare, KeyRange, KeyValueBackend, MemoryStore, StoreConfig, Txn, TxnOp};
//!
//! let store = MemoryStore::new(StoreConfig::default());
//! let revision = store.put("/registry/pods/default/web".into(), "{}".into()).unwrap();
//! let update = Txn {
//!     compares: vec![Compare::mod_revision_equals("/registry/pods/default/web", revision)],
//!     success: vec![TxnOp::put("/registry/pods/default/web", "{\"v\":2}")],
//!     failure: vec![],
//! };
//! assert!(store.txn(update).unwrap().succeeded);
//! assert_eq!(store.count(KeyRange::prefix("/registry/pods/")).unwrap(), 1);
//! ```
//!
//! # Layout
//!
//! `types` (data model), `txn` (transactions), `error`, `config`, `key_index` (one key's
//! generations), `keyspace` (all keys, by hash and in order), `history` (events per revision), `mvcc` (the state under the store's single
//! lock: reads, commits, compaction), `watchers` (the watcher registry under that lock),
//! `watch` (the consumer-side handle), `memory` ([`MemoryStore`]) and `backend` (the trait).

mod backend;
mod config;
mod error;
mod history;
mod key_index;
mod keyspace;
mod memory;
mod mvcc;
mod txn;
mod types;
mod watch;
mod watchers;

pub use backend::{KeyValueBackend, WatchStream};
pub use config::StoreConfig;
pub use error::StoreError;
pub use memory::MemoryStore;
pub use txn::{Compare, CompareOp, CompareTarget, OpResponse, Txn, TxnOp, TxnResponse};
pub use types::{Event, EventBatch, EventKind, KeyRange, KeyValue, RangeEnd, RangeRequest, RangeResponse, Revision};
pub use watch::{WatchCancelReason, WatchRequest, WatchResponse, Watcher};
