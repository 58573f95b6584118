//! Model test for the store: random sequences of puts, deletes, transactions with compares,
//! reads at revisions, compactions and watches run against `MemoryStore` and against a
//! deliberately naive model that keeps a full snapshot and the event list of every revision.
//! Both must agree on every result, errors included.

use bytes::Bytes;
use futures_util::FutureExt;
use kubetwin::store::{
    Compare, CompareOp, CompareTarget, Event, EventKind, KeyRange, KeyValue, KeyValueBackend, MemoryStore, OpResponse,
    RangeRequest, RangeResponse, Revision, StoreConfig, StoreError, Txn, TxnOp, TxnResponse, WatchCancelReason,
    WatchRequest, WatchResponse, Watcher,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

const KEYS: &[&str] = &["a", "a/1", "a/2", "a0", "b", "b/1", "c", ""];
const VALUES: &[&str] = &["x", "y", "z"];

// What a step asks for, before revisions are resolved against the current state.

#[derive(Debug, Clone)]
enum RangeSpec {
    Key(&'static str),
    Prefix(&'static str),
    Between(&'static str, &'static str),
    From(&'static str),
}

impl RangeSpec {
    fn key_range(&self) -> KeyRange {
        match *self {
            RangeSpec::Key(key) => KeyRange::key(key),
            RangeSpec::Prefix(prefix) => KeyRange::prefix(prefix),
            RangeSpec::Between(start, end) => KeyRange::between(start, end),
            RangeSpec::From(start) => KeyRange::from_key(start),
        }
    }

    fn contains(&self, key: &[u8]) -> bool {
        match *self {
            RangeSpec::Key(only) => key == only.as_bytes(),
            RangeSpec::Prefix(prefix) => key.starts_with(prefix.as_bytes()),
            RangeSpec::Between(start, end) => start.as_bytes() <= key && key < end.as_bytes(),
            RangeSpec::From(start) => start.as_bytes() <= key,
        }
    }

    fn check(&self) -> Result<(), StoreError> {
        match *self {
            RangeSpec::Key("") => Err(StoreError::EmptyKey),
            RangeSpec::Between(start, end) if end < start => {
                Err(StoreError::InvalidRange { start: start.into(), end: end.into() })
            }
            _ => Ok(()),
        }
    }
}

/// A revision chosen relative to the store's state when the step runs: 0 stays 0, anything
/// else lands in `-1 ..= current + 2`.
#[derive(Debug, Clone, Copy)]
struct RevisionPick(u8);

impl RevisionPick {
    fn resolve(self, current: Revision) -> Revision {
        if self.0 == 0 { 0 } else { i64::from(self.0) % (current + 4) - 1 }
    }
}

#[derive(Debug, Clone)]
struct ReadSpec {
    range: RangeSpec,
    revision: RevisionPick,
    limit: usize,
    count_only: bool,
    keys_only: bool,
}

impl ReadSpec {
    fn request(&self, current: Revision) -> RangeRequest {
        RangeRequest {
            range: self.range.key_range(),
            revision: self.revision.resolve(current),
            limit: self.limit,
            count_only: self.count_only,
            keys_only: self.keys_only,
        }
    }
}

#[derive(Debug, Clone)]
enum OpSpec {
    Put { key: &'static str, value: &'static str, prev_kv: bool },
    Delete { range: RangeSpec, prev_kv: bool },
    Range(ReadSpec),
}

#[derive(Debug, Clone)]
enum TargetSpec {
    Version(i64),
    CreateRevision(RevisionPick),
    ModRevision(RevisionPick),
    Value(&'static str),
}

#[derive(Debug, Clone)]
struct CompareSpec {
    key: &'static str,
    op: CompareOp,
    target: TargetSpec,
}

#[derive(Debug, Clone)]
enum Step {
    Put(&'static str, &'static str),
    Delete(&'static str),
    Get(&'static str),
    Txn { compares: Vec<CompareSpec>, success: Vec<OpSpec>, failure: Vec<OpSpec> },
    Read(ReadSpec),
    Compact(RevisionPick),
    Watch { range: RangeSpec, start: RevisionPick, prev_kv: bool },
    Drain(usize),
}

fn key() -> impl Strategy<Value = &'static str> {
    prop_oneof![40 => prop::sample::select(&KEYS[..KEYS.len() - 1]), 1 => Just("")]
}

fn value() -> impl Strategy<Value = &'static str> {
    prop::sample::select(VALUES)
}

fn revision_pick() -> impl Strategy<Value = RevisionPick> {
    any::<u8>().prop_map(RevisionPick)
}

fn range_spec() -> impl Strategy<Value = RangeSpec> {
    let bound = || prop::sample::select(&KEYS[..KEYS.len() - 1]);
    prop_oneof![
        3 => key().prop_map(RangeSpec::Key),
        3 => prop::sample::select(&["a", "a/", "b", ""][..]).prop_map(RangeSpec::Prefix),
        2 => (bound(), bound(), prop::bool::weighted(0.1)).prop_map(|(a, b, inverted)| {
            let (low, high) = if a <= b { (a, b) } else { (b, a) };
            if inverted { RangeSpec::Between(high, low) } else { RangeSpec::Between(low, high) }
        }),
        1 => bound().prop_map(RangeSpec::From),
    ]
}

fn read_spec() -> impl Strategy<Value = ReadSpec> {
    (range_spec(), revision_pick(), 0..4usize, prop::bool::weighted(0.15), prop::bool::weighted(0.15)).prop_map(
        |(range, revision, limit, count_only, keys_only)| ReadSpec { range, revision, limit, count_only, keys_only },
    )
}

fn op_spec() -> impl Strategy<Value = OpSpec> {
    prop_oneof![
        4 => (key(), value(), any::<bool>()).prop_map(|(key, value, prev_kv)| OpSpec::Put { key, value, prev_kv }),
        2 => (range_spec(), any::<bool>()).prop_map(|(range, prev_kv)| OpSpec::Delete { range, prev_kv }),
        2 => read_spec().prop_map(OpSpec::Range),
    ]
}

fn compare_spec() -> impl Strategy<Value = CompareSpec> {
    let op = prop::sample::select(&[CompareOp::Equal, CompareOp::NotEqual, CompareOp::Less, CompareOp::Greater][..]);
    let target = prop_oneof![
        (0..4i64).prop_map(TargetSpec::Version),
        revision_pick().prop_map(TargetSpec::CreateRevision),
        revision_pick().prop_map(TargetSpec::ModRevision),
        value().prop_map(TargetSpec::Value),
    ];
    (key(), op, target).prop_map(|(key, op, target)| CompareSpec { key, op, target })
}

fn step() -> impl Strategy<Value = Step> {
    let ops = || prop::collection::vec(op_spec(), 0..4);
    prop_oneof![
        6 => (key(), value()).prop_map(|(key, value)| Step::Put(key, value)),
        2 => key().prop_map(Step::Delete),
        1 => key().prop_map(Step::Get),
        5 => (prop::collection::vec(compare_spec(), 0..3), ops(), ops())
            .prop_map(|(compares, success, failure)| Step::Txn { compares, success, failure }),
        4 => read_spec().prop_map(Step::Read),
        2 => revision_pick().prop_map(Step::Compact),
        2 => (range_spec(), revision_pick(), any::<bool>())
            .prop_map(|(range, start, prev_kv)| Step::Watch { range, start, prev_kv }),
        3 => any::<usize>().prop_map(Step::Drain),
    ]
}

// The naive model: every revision's full snapshot and events.

type Snapshot = BTreeMap<Bytes, KeyValue>;

struct Model {
    /// `snapshots[r - 1]` is the state at revision `r`.
    snapshots: Vec<Snapshot>,
    /// `events[r - 1]` are the events committed at revision `r`.
    events: Vec<Vec<Event>>,
    compacted: Revision,
    window: Option<u64>,
}

struct ModelWatcher {
    range: RangeSpec,
    prev_kv: bool,
    /// The first revision whose events the store has not delivered yet.
    next: Revision,
    ended: bool,
}

impl Model {
    fn new(window: Option<u64>) -> Self {
        Model { snapshots: vec![Snapshot::new()], events: vec![Vec::new()], compacted: 0, window }
    }

    fn current(&self) -> Revision {
        self.snapshots.len() as Revision
    }

    fn snapshot(&self, revision: Revision) -> &Snapshot {
        &self.snapshots[revision as usize - 1]
    }

    fn check_readable(&self, revision: Revision) -> Result<(), StoreError> {
        let current = self.current();
        if revision < 0 {
            Err(StoreError::NegativeRevision { requested: revision })
        } else if revision > current {
            Err(StoreError::FutureRevision { requested: revision, current })
        } else if revision != 0 && revision < self.compacted {
            Err(StoreError::Compacted { requested: revision, compacted: self.compacted })
        } else {
            Ok(())
        }
    }

    fn read(state: &Snapshot, spec: &ReadSpec, present: Revision) -> RangeResponse {
        let matching: Vec<&KeyValue> = state.values().filter(|kv| spec.range.contains(&kv.key)).collect();
        let take = if spec.count_only {
            0
        } else if spec.limit == 0 {
            matching.len()
        } else {
            spec.limit
        };
        let kvs: Vec<KeyValue> = matching
            .iter()
            .take(take)
            .map(|kv| KeyValue { value: if spec.keys_only { Bytes::new() } else { kv.value.clone() }, ..(*kv).clone() })
            .collect();
        RangeResponse {
            more: !spec.count_only && kvs.len() < matching.len(),
            count: matching.len(),
            kvs,
            revision: present,
        }
    }

    fn range(&self, spec: &ReadSpec) -> Result<RangeResponse, StoreError> {
        spec.range.check()?;
        let revision = spec.revision.resolve(self.current());
        self.check_readable(revision)?;
        let at = if revision == 0 { self.current() } else { revision };
        Ok(Model::read(self.snapshot(at), spec, self.current()))
    }

    fn compare(&self, spec: &CompareSpec) -> bool {
        let current = self.snapshot(self.current()).get(spec.key.as_bytes());
        let field = |pick: fn(&KeyValue) -> i64| current.map_or(0, pick);
        let ordering = match &spec.target {
            TargetSpec::Value(expected) => match current {
                None => return false,
                Some(kv) => kv.value[..].cmp(expected.as_bytes()),
            },
            TargetSpec::Version(expected) => field(|kv| kv.version).cmp(expected),
            TargetSpec::CreateRevision(pick) => field(|kv| kv.create_revision).cmp(&pick.resolve(self.current())),
            TargetSpec::ModRevision(pick) => field(|kv| kv.mod_revision).cmp(&pick.resolve(self.current())),
        };
        match spec.op {
            CompareOp::Equal => ordering.is_eq(),
            CompareOp::NotEqual => ordering.is_ne(),
            CompareOp::Less => ordering.is_lt(),
            CompareOp::Greater => ordering.is_gt(),
        }
    }

    fn validate_branch(&self, ops: &[OpSpec]) -> Result<(), StoreError> {
        for op in ops {
            match op {
                OpSpec::Put { key: "", .. } => return Err(StoreError::EmptyKey),
                OpSpec::Put { .. } => {}
                OpSpec::Delete { range, .. } => range.check()?,
                OpSpec::Range(read) => {
                    read.range.check()?;
                    let revision = read.revision.resolve(self.current());
                    if revision < 0 {
                        return Err(StoreError::NegativeRevision { requested: revision });
                    }
                }
            }
        }
        let puts: Vec<&str> =
            ops.iter().filter_map(|op| if let OpSpec::Put { key, .. } = op { Some(*key) } else { None }).collect();
        for (index, key) in puts.iter().enumerate() {
            if puts[..index].contains(key) {
                return Err(StoreError::DuplicateKey { key: Bytes::from_static(key.as_bytes()) });
            }
        }
        for op in ops {
            if let OpSpec::Delete { range, .. } = op
                && let Some(key) = puts.iter().find(|key| range.contains(key.as_bytes()))
            {
                return Err(StoreError::DuplicateKey { key: Bytes::from_static(key.as_bytes()) });
            }
        }
        Ok(())
    }

    fn txn(
        &mut self,
        compares: &[CompareSpec],
        success: &[OpSpec],
        failure: &[OpSpec],
    ) -> Result<TxnResponse, StoreError> {
        if compares.iter().any(|compare| compare.key.is_empty()) {
            return Err(StoreError::EmptyKey);
        }
        self.validate_branch(success)?;
        self.validate_branch(failure)?;
        let succeeded = compares.iter().all(|compare| self.compare(compare));
        let ops = if succeeded { success } else { failure };
        for op in ops {
            if let OpSpec::Range(read) = op {
                self.check_readable(read.revision.resolve(self.current()))?;
            }
        }
        let current = self.current();
        let commit = current + 1;
        let mut state = self.snapshot(current).clone();
        let mut events = Vec::new();
        let mut responses = Vec::new();
        for op in ops {
            match op {
                OpSpec::Put { key, value, prev_kv } => {
                    let key = Bytes::from_static(key.as_bytes());
                    let previous = state.get(&key).cloned();
                    let kv = KeyValue {
                        key: key.clone(),
                        value: Bytes::from_static(value.as_bytes()),
                        create_revision: previous.as_ref().map_or(commit, |kv| kv.create_revision),
                        mod_revision: commit,
                        version: previous.as_ref().map_or(1, |kv| kv.version + 1),
                    };
                    state.insert(key, kv.clone());
                    responses.push(OpResponse::Put { prev_kv: previous.clone().filter(|_| *prev_kv) });
                    events.push(Event { kind: EventKind::Put, kv, prev_kv: previous });
                }
                OpSpec::Delete { range, prev_kv } => {
                    let doomed: Vec<Bytes> = state.keys().filter(|key| range.contains(key)).cloned().collect();
                    let removed: Vec<KeyValue> = doomed.iter().filter_map(|key| state.remove(key)).collect();
                    for kv in &removed {
                        let tombstone = KeyValue {
                            key: kv.key.clone(),
                            value: Bytes::new(),
                            create_revision: 0,
                            mod_revision: commit,
                            version: 0,
                        };
                        events.push(Event { kind: EventKind::Delete, kv: tombstone, prev_kv: Some(kv.clone()) });
                    }
                    let deleted = removed.len();
                    responses
                        .push(OpResponse::Delete { deleted, prev_kvs: if *prev_kv { removed } else { Vec::new() } });
                }
                OpSpec::Range(read) => {
                    let present = if events.is_empty() { current } else { commit };
                    let revision = read.revision.resolve(current);
                    let response = if revision == 0 {
                        Model::read(&state, read, present)
                    } else {
                        Model::read(self.snapshot(revision), read, present)
                    };
                    responses.push(OpResponse::Range(response));
                }
            }
        }
        if !events.is_empty() {
            self.snapshots.push(state);
            self.events.push(events);
            if let Some(window) = self.window {
                self.compacted = self.compacted.max(self.current() - window as i64);
            }
        }
        Ok(TxnResponse { succeeded, revision: self.current(), responses })
    }

    fn compact(&mut self, revision: Revision) -> Result<(), StoreError> {
        if revision < 0 {
            return Err(StoreError::NegativeRevision { requested: revision });
        }
        if revision <= self.compacted {
            return Err(StoreError::Compacted { requested: revision, compacted: self.compacted });
        }
        if revision > self.current() {
            return Err(StoreError::FutureRevision { requested: revision, current: self.current() });
        }
        self.compacted = revision;
        Ok(())
    }

    fn watch(&self, range: &RangeSpec, start: Revision, prev_kv: bool) -> Result<ModelWatcher, StoreError> {
        range.check()?;
        if start < 0 {
            return Err(StoreError::NegativeRevision { requested: start });
        }
        let start = if start == 0 { self.current() + 1 } else { start };
        if start <= self.compacted {
            return Err(StoreError::Compacted { requested: start, compacted: self.compacted });
        }
        if start > self.current() + 1 {
            return Err(StoreError::FutureRevision { requested: start, current: self.current() });
        }
        Ok(ModelWatcher { range: range.clone(), prev_kv, next: start, ended: false })
    }

    /// The responses a watcher should get from `watcher.next` up to now.
    fn expected(&self, watcher: &ModelWatcher) -> Vec<(Revision, Vec<Event>)> {
        (watcher.next..=self.current())
            .map(|revision| {
                let events = self.events[revision as usize - 1]
                    .iter()
                    .filter(|event| watcher.range.contains(&event.kv.key))
                    .map(|event| Event { prev_kv: event.prev_kv.clone().filter(|_| watcher.prev_kv), ..event.clone() })
                    .collect::<Vec<_>>();
                (revision, events)
            })
            .filter(|(_, events)| !events.is_empty())
            .collect()
    }
}

// Running both side by side.

struct Harness {
    store: MemoryStore,
    model: Model,
    watchers: Vec<(Watcher, ModelWatcher)>,
}

/// Everything a watcher can deliver without waiting.
fn drain_now(watcher: &mut Watcher) -> Vec<WatchResponse> {
    std::iter::from_fn(|| watcher.next().now_or_never().flatten()).collect()
}

impl Harness {
    fn run(&mut self, step: &Step) -> Result<(), TestCaseError> {
        let current = self.model.current();
        match step {
            Step::Put(key, value) => {
                let expected =
                    self.model.txn(&[], &[OpSpec::Put { key, value, prev_kv: false }], &[]).map(|r| r.revision);
                prop_assert_eq!(
                    self.store.put(Bytes::from_static(key.as_bytes()), Bytes::from_static(value.as_bytes())),
                    expected
                );
            }
            Step::Delete(key) => {
                let expected = self
                    .model
                    .txn(&[], &[OpSpec::Delete { range: RangeSpec::Key(key), prev_kv: true }], &[])
                    .map(|response| {
                        response.responses.into_iter().find_map(|op| match op {
                            OpResponse::Delete { mut prev_kvs, .. } => prev_kvs.pop(),
                            _ => None,
                        })
                    });
                prop_assert_eq!(self.store.delete(Bytes::from_static(key.as_bytes())), expected);
            }
            Step::Get(key) => {
                let spec = ReadSpec {
                    range: RangeSpec::Key(key),
                    revision: RevisionPick(0),
                    limit: 0,
                    count_only: false,
                    keys_only: false,
                };
                let expected = self.model.range(&spec).map(|mut response| response.kvs.pop());
                prop_assert_eq!(self.store.get(Bytes::from_static(key.as_bytes())), expected);
            }
            Step::Txn { compares, success, failure } => {
                let txn = Txn {
                    compares: compares.iter().map(|compare| store_compare(compare, current)).collect(),
                    success: success.iter().map(|op| store_op(op, current)).collect(),
                    failure: failure.iter().map(|op| store_op(op, current)).collect(),
                };
                let expected = self.model.txn(compares, success, failure);
                prop_assert_eq!(self.store.txn(txn), expected);
            }
            Step::Read(spec) => {
                prop_assert_eq!(self.store.range(spec.request(current)), self.model.range(spec));
            }
            Step::Compact(pick) => {
                let revision = pick.resolve(current);
                prop_assert_eq!(self.store.compact(revision), self.model.compact(revision));
            }
            Step::Watch { range, start, prev_kv } => {
                let start = start.resolve(current);
                let mut request = WatchRequest::new(range.key_range()).from_revision(start);
                request.prev_kv = *prev_kv;
                match (self.store.watch(request), self.model.watch(range, start, *prev_kv)) {
                    (Ok(watcher), Ok(model)) => self.watchers.push((watcher, model)),
                    (Err(error), Err(expected)) => prop_assert_eq!(error, expected),
                    (actual, expected) => {
                        prop_assert!(
                            false,
                            "watch from {}: store {:?}, model {:?}",
                            start,
                            actual.err(),
                            expected.err()
                        )
                    }
                }
            }
            Step::Drain(index) => {
                if !self.watchers.is_empty() {
                    let index = index % self.watchers.len();
                    self.drain(index)?;
                }
            }
        }
        prop_assert_eq!(self.store.current_revision(), self.model.current());
        prop_assert_eq!(self.store.compacted_revision(), self.model.compacted);
        Ok(())
    }

    /// Checks what one watcher delivers now: every expected response in order, or a prefix of
    /// them and then a compaction cancel, allowed only once the revisions it still needed are
    /// compacted.
    fn drain(&mut self, index: usize) -> Result<(), TestCaseError> {
        let (watcher, model_watcher) = &mut self.watchers[index];
        let actual = drain_now(watcher);
        if model_watcher.ended {
            prop_assert!(actual.is_empty(), "an ended watch delivered {:?}", actual);
            return Ok(());
        }
        let expected = self.model.expected(model_watcher);
        let (events, cancel) = match actual.split_last() {
            Some((last, events)) if last.canceled.is_some() => (events, Some(last)),
            _ => (&actual[..], None),
        };
        let delivered: Vec<(Revision, Vec<Event>)> =
            events.iter().map(|response| (response.revision, response.events.to_vec())).collect();
        match cancel {
            None => prop_assert_eq!(&delivered, &expected),
            Some(cancel) => {
                prop_assert_eq!(&delivered[..], &expected[..delivered.len().min(expected.len())]);
                let resume = delivered.last().map_or(model_watcher.next, |(revision, _)| revision + 1);
                prop_assert!(
                    resume <= self.model.compacted,
                    "canceled at {} though only {} is compacted",
                    resume,
                    self.model.compacted
                );
                let reason = WatchCancelReason::Compacted { compact_revision: self.model.compacted };
                prop_assert_eq!(cancel.canceled, Some(reason));
                prop_assert!(events.iter().all(|response| !response.progress_notify && response.canceled.is_none()));
                model_watcher.ended = true;
            }
        }
        model_watcher.next = self.model.current() + 1;
        Ok(())
    }
}

fn store_op(op: &OpSpec, current: Revision) -> TxnOp {
    match op {
        OpSpec::Put { key, value, prev_kv } => {
            TxnOp::Put { key: (*key).into(), value: (*value).into(), prev_kv: *prev_kv }
        }
        OpSpec::Delete { range, prev_kv } => TxnOp::Delete { range: range.key_range(), prev_kv: *prev_kv },
        OpSpec::Range(read) => TxnOp::Range(read.request(current)),
    }
}

fn store_compare(compare: &CompareSpec, current: Revision) -> Compare {
    let target = match &compare.target {
        TargetSpec::Version(version) => CompareTarget::Version(*version),
        TargetSpec::CreateRevision(pick) => CompareTarget::CreateRevision(pick.resolve(current)),
        TargetSpec::ModRevision(pick) => CompareTarget::ModRevision(pick.resolve(current)),
        TargetSpec::Value(value) => CompareTarget::Value((*value).into()),
    };
    Compare::new(compare.key, compare.op, target)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_store_agrees_with_a_naive_model(
        window in prop_oneof![Just(None), (1..8u64).prop_map(Some)],
        queue_capacity in 1..4usize,
        steps in prop::collection::vec(step(), 1..60),
    ) {
        let config = StoreConfig { history_revisions: window, watcher_queue_capacity: queue_capacity, ..StoreConfig::default() };
        let mut harness = Harness { store: MemoryStore::new(config), model: Model::new(window), watchers: Vec::new() };
        for step in &steps {
            harness.run(step)?;
        }
        for index in 0..harness.watchers.len() {
            harness.drain(index)?;
        }
    }
}
