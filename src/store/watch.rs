//! Watching, from the consumer's side: [`WatchRequest`], [`WatchResponse`], why a stream ends
//! ([`WatchCancelReason`]) and the [`Watcher`] handle, an async stream of responses. The handle
//! takes responses from the registry in `watchers.rs` a batch at a time, and drives periodic
//! progress notifications with a tokio timer. Dropping it unregisters the watcher.

use super::mvcc::Inner;
use super::types::{EventBatch, KeyRange, Revision};
use super::watchers::WatcherId;
use futures_util::Stream;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// What to watch, and from when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRequest {
    pub range: KeyRange,
    /// The first revision to report; 0 means from now on (the current revision + 1). Must be
    /// above the compacted revision and at most the current revision + 1.
    pub start_revision: Revision,
    /// Fill in each event's `prev_kv`.
    pub prev_kv: bool,
    /// Send a progress notification this often (intervals under a millisecond count as one);
    /// `None` falls back to [`StoreConfig::progress_interval`](super::StoreConfig::progress_interval).
    /// Periodic notifications need a tokio runtime with timers.
    pub progress_interval: Option<Duration>,
}

impl WatchRequest {
    /// Watches `range` from now on, without `prev_kv` or periodic progress.
    pub fn new(range: KeyRange) -> Self {
        WatchRequest { range, start_revision: 0, prev_kv: false, progress_interval: None }
    }

    pub fn from_revision(mut self, start_revision: Revision) -> Self {
        self.start_revision = start_revision;
        self
    }

    pub fn with_prev_kv(mut self) -> Self {
        self.prev_kv = true;
        self
    }

    pub fn with_progress_interval(mut self, interval: Duration) -> Self {
        self.progress_interval = Some(interval);
        self
    }
}

/// Why a watch stream ended. The client should re-list and watch again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchCancelReason {
    /// The watcher fell behind and the revisions it still needed were compacted.
    Compacted { compact_revision: Revision },
    /// The store was shut down or dropped.
    Shutdown,
}

/// One message on a watch stream: the events of one transaction, a progress notification, or
/// the end of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchResponse {
    /// For events: the transaction's revision. For a progress notification: the store's
    /// revision, every event up to which has been delivered. When canceled: the store's revision.
    pub revision: Revision,
    /// In the order the transaction wrote them; shared with other watchers.
    pub events: Arc<EventBatch>,
    pub progress_notify: bool,
    /// Set on the last response of a stream.
    pub canceled: Option<WatchCancelReason>,
}

impl WatchResponse {
    pub(super) fn events(revision: Revision, events: Arc<EventBatch>) -> Self {
        WatchResponse { revision, events, progress_notify: false, canceled: None }
    }

    pub(super) fn progress(revision: Revision) -> Self {
        WatchResponse { revision, events: Arc::default(), progress_notify: true, canceled: None }
    }

    pub(super) fn canceled(revision: Revision, reason: WatchCancelReason) -> Self {
        WatchResponse { revision, events: Arc::default(), progress_notify: false, canceled: Some(reason) }
    }
}

/// A tick that asks for a progress notification, created on first poll (inside the runtime).
#[derive(Debug)]
struct ProgressTimer {
    interval: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl ProgressTimer {
    fn fired(&mut self, cx: &mut Context<'_>) -> bool {
        let interval = self.interval;
        let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(interval)));
        if sleep.as_mut().poll(cx).is_pending() {
            return false;
        }
        sleep.as_mut().reset(tokio::time::Instant::now() + interval);
        // Registers for the next tick.
        let _ = sleep.as_mut().poll(cx);
        true
    }
}

/// An open watch: a stream of [`WatchResponse`]s, ending after one with `canceled` set.
/// Cancel-safe: dropping a pending [`Watcher::next`] loses nothing.
pub struct Watcher {
    inner: Arc<Mutex<Inner>>,
    id: WatcherId,
    /// Responses taken from the store, not yet returned.
    ready: VecDeque<WatchResponse>,
    progress: Option<ProgressTimer>,
    ended: bool,
    /// Clear while the store has nothing for this watcher and holds `registered` to wake it.
    attention: Arc<AtomicBool>,
    /// The waker the store last registered for this watcher.
    registered: Option<Waker>,
}

pub(super) fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Watcher {
    pub(super) fn new(
        inner: Arc<Mutex<Inner>>,
        id: WatcherId,
        attention: Arc<AtomicBool>,
        progress_interval: Option<Duration>,
    ) -> Self {
        let progress = progress_interval
            .map(|interval| ProgressTimer { interval: interval.max(Duration::from_millis(1)), sleep: None });
        Watcher { inner, id, ready: VecDeque::new(), progress, ended: false, attention, registered: None }
    }

    /// The next response; `None` once the stream has ended.
    pub async fn next(&mut self) -> Option<WatchResponse> {
        std::future::poll_fn(|cx| self.poll_response(cx)).await
    }

    /// Asks for one progress notification, sent once everything up to the store's current
    /// revision has been delivered (what Kubernetes builds bookmarks on).
    pub fn request_progress(&self) {
        let waker = lock(&self.inner).watchers.request_progress(self.id);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Whether the waker the store last registered wakes the same task as `waker`.
    fn registered_for(&self, waker: &Waker) -> bool {
        self.registered.as_ref().is_some_and(|registered| registered.will_wake(waker))
    }

    fn poll_response(&mut self, cx: &mut Context<'_>) -> Poll<Option<WatchResponse>> {
        loop {
            if let Some(response) = self.ready.pop_front() {
                self.ended |= response.canceled.is_some();
                return Poll::Ready(Some(response));
            }
            if self.ended {
                return Poll::Ready(None);
            }
            let progress_due = self.progress.as_mut().is_some_and(|timer| timer.fired(cx));
            // Nothing was written for this watcher since the store last registered this task:
            // it would only register it again. (One lock per write instead of two, with a
            // thousand watchers polling one store.)
            if !progress_due && !self.attention.load(Ordering::Acquire) && self.registered_for(cx.waker()) {
                return Poll::Pending;
            }
            let mut inner = lock(&self.inner);
            if progress_due {
                inner.watchers.request_progress(self.id);
            }
            let polled = inner.poll_watcher(self.id, &mut self.ready, cx.waker());
            drop(inner);
            if !self.registered_for(cx.waker()) {
                self.registered = Some(cx.waker().clone());
            }
            if polled.is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watcher")
            .field("id", &self.id)
            .field("ready", &self.ready.len())
            .field("ended", &self.ended)
            .finish()
    }
}

impl Stream for Watcher {
    type Item = WatchResponse;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchResponse>> {
        self.get_mut().poll_response(cx)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        lock(&self.inner).watchers.remove(self.id);
    }
}
