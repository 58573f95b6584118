//! Store benchmarks: in-process, single writer, ~1 KiB values. Criterion measures puts, point
//! gets, a 10k-key prefix range and the delivery of one event to 1,000 watcher tasks; a manual
//! loop prints the delivery percentiles, and a counting allocator prints the memory held for
//! 100k live keys with a 10k-revision history window.
//!
//! Targets: ≥ 500k puts/s, ≥ 1M gets/s, 10k-key prefix range ≤ 2 ms, fan-out to 1,000
//! watchers ≤ 1 ms at p99, memory ≤ ~2× the raw value bytes.

mod support;
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kubetwin::store::{KeyRange, KeyValueBackend, MemoryStore, RangeRequest, StoreConfig, WatchRequest};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::heap::Threads;

const VALUE_SIZE: usize = 1024;
const KEYS: usize = 100_000;

fn pod_key(n: usize) -> Bytes {
    Bytes::from(format!("/registry/pods/namespace-{:02}/pod-{n:06}", n % 10))
}

fn value(seed: usize) -> Bytes {
    Bytes::from(vec![b'a' + (seed % 26) as u8; VALUE_SIZE])
}

/// A store holding `KEYS` pods of 1 KiB each, ten namespaces of 10k.
fn loaded_store() -> (MemoryStore, Vec<Bytes>) {
    let store = MemoryStore::new(StoreConfig::default());
    let keys: Vec<Bytes> = (0..KEYS).map(pod_key).collect();
    for (n, key) in keys.iter().enumerate() {
        store.put(key.clone(), value(n)).expect("valid");
    }
    (store, keys)
}

fn puts(c: &mut Criterion) {
    let (store, keys) = loaded_store();
    let value = value(7);
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1));
    let mut n = 0;
    group.bench_function("put_1KiB", |b| {
        b.iter(|| {
            n = (n + 7919) % KEYS;
            store.put(keys[n].clone(), value.clone()).expect("valid")
        })
    });
    group.finish();
}

fn gets(c: &mut Criterion) {
    let (store, keys) = loaded_store();
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1));
    let mut n = 0;
    group.bench_function("get_point", |b| {
        b.iter(|| {
            n = (n + 7919) % KEYS;
            store.get(keys[n].clone()).expect("valid").expect("present")
        })
    });
    group.finish();
}

fn prefix_range(c: &mut Criterion) {
    let (store, _) = loaded_store();
    let request = RangeRequest::new(KeyRange::prefix("/registry/pods/namespace-03/"));
    assert_eq!(store.range(request.clone()).expect("valid").kvs.len(), 10_000);
    c.bench_function("store/range_prefix_10k", |b| b.iter(|| store.range(black_box(request.clone())).expect("valid")));
}

/// 1,000 watcher tasks on a two-worker runtime, each counting the events it receives.
struct Fanout {
    store: MemoryStore,
    arrived: Arc<AtomicUsize>,
    all_arrived: mpsc::Receiver<()>,
    watchers: usize,
    _runtime: tokio::runtime::Runtime,
}

impl Fanout {
    fn new(watchers: usize) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().expect("runtime");
        let store = MemoryStore::new(StoreConfig::default());
        let arrived = Arc::new(AtomicUsize::new(0));
        let (all_arrived_tx, all_arrived) = mpsc::channel();
        for _ in 0..watchers {
            let mut watcher = store.watch(WatchRequest::new(KeyRange::prefix("/registry/pods/"))).expect("valid");
            let arrived = arrived.clone();
            let all_arrived_tx = all_arrived_tx.clone();
            runtime.spawn(async move {
                while let Some(response) = watcher.next().await {
                    if !response.events.is_empty() && arrived.fetch_add(1, Ordering::AcqRel) + 1 == watchers {
                        let _ = all_arrived_tx.send(());
                    }
                }
            });
        }
        Fanout { store, arrived, all_arrived, watchers, _runtime: runtime }
    }

    /// Time from the start of a put to the last watcher task holding its event.
    fn deliver_one(&self, value: &Bytes) -> Duration {
        self.arrived.store(0, Ordering::Release);
        let started = Instant::now();
        self.store.put(Bytes::from_static(b"/registry/pods/default/web"), value.clone()).expect("valid");
        self.all_arrived.recv().expect("watchers alive");
        let elapsed = started.elapsed();
        assert_eq!(self.arrived.load(Ordering::Acquire), self.watchers);
        elapsed
    }
}

fn watch_fanout(c: &mut Criterion) {
    let fanout = Fanout::new(1_000);
    let value = value(1);
    for _ in 0..100 {
        fanout.deliver_one(&value);
    }
    let mut samples: Vec<Duration> = (0..2_000).map(|_| fanout.deliver_one(&value)).collect();
    samples.sort();
    let percentile = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
    println!(
        "watch fan-out to 1000 watchers over {} puts: p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        samples.len(),
        percentile(50),
        percentile(90),
        percentile(99),
        samples[samples.len() - 1]
    );
    c.bench_function("store/watch_fanout_1000", |b| {
        b.iter_custom(|iterations| (0..iterations).map(|_| fanout.deliver_one(&value)).sum())
    });
}

/// Memory held by a store of 100k live 1 KiB keys after enough updates to fill the 10k-revision
/// history window with superseded values, against the raw value bytes of the live keys.
fn memory(_: &mut Criterion) {
    support::heap::start_counting(Threads::All);
    let (store, keys) = loaded_store();
    for n in 0..20_000 {
        store.put(keys[(n * 7919) % KEYS].clone(), value(n + 1)).expect("valid");
    }
    // The bench's own list of keys is not the store's.
    let held = support::heap::stop_counting() - (keys.capacity() * std::mem::size_of::<Bytes>()) as isize;
    let raw = (KEYS * VALUE_SIZE) as f64;
    println!(
        "memory: {:.1} MiB held for {} live keys of {} B with a 10k-revision window = {:.2}x the raw value bytes ({:.1} MiB)",
        held as f64 / (1 << 20) as f64,
        KEYS,
        VALUE_SIZE,
        held as f64 / raw,
        raw / (1 << 20) as f64
    );
    drop(store);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = memory, puts, gets, prefix_range, watch_fanout
}
criterion_main!(benches);
