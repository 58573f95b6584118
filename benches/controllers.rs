//! Controller benchmarks against an in-process server: one write reaching 1,000 watchers over
//! HTTPS with the admin client certificate (as 100 streams on each of ten HTTP/2 connections,
//! as client-go multiplexes informers, and for comparison over 1,000 HTTP/1.1 connections; the
//! write is a merge PATCH on its own connection), the memory each idle watcher holds, a
//! 500-item page of a 10k-object collection read through the registry, and deleting a
//! namespace that holds 1,000 objects until it is gone. The server runs on its own two-worker
//! runtime; a counting allocator counts what is allocated on that runtime's threads, so the
//! memory figure is the server's own (the process RSS delta, which includes the clients, is
//! printed next to it), and the CPU time of its threads is reported apart from the clients'.
//! Each function prints a one-line summary (`== ... ==`) next to its target; criterion adds its
//! own figures.
//!
//! Targets: one write reaching 1,000 watchers ≤ 5 ms at p99, ≤ 8 KiB per idle watcher, a
//! 500-item page ≤ 1 ms, deleting a namespace of 1,000 objects ≤ 200 ms.

mod support;
use bytes::Bytes;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use futures_util::StreamExt;
use http::{Method, StatusCode, header};
use http_body_util::{BodyExt, BodyStream, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use kubetwin::instance::Instance;
use kubetwin::registry::Scope;
use kubetwin::registry::list::ListOptions;
use kubetwin::registry::rest::{DeleteOptions, WriteOptions};
use kubetwin::server::{Server, ServerConfig};
use kubetwin::store::{EventKind, KeyRange, WatchRequest};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::json;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::heap::Threads;
use support::{millis, quick, selected, summary};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

const WATCHERS: usize = 1_000;
/// The server allows 100 concurrent streams per HTTP/2 connection, as kube-apiserver does.
const STREAMS_PER_CONNECTION: usize = 100;
const WATCH_NAMESPACE: &str = "bench-watch";
const LIST_NAMESPACE: &str = "bench-list";
const LIST_OBJECTS: usize = 10_000;
const NAMESPACE_OBJECTS: usize = 1_000;

/// CPU time (user and system) used so far by the server runtime's threads, and by the others.
fn cpu_time() -> (Duration, Duration) {
    let (mut server, mut others) = (0, 0);
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let Some((name, rest)) = stat.split_once(" (").and_then(|(_, rest)| rest.rsplit_once(')')) else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
        if name.starts_with("kubetwin-server") { server += ticks } else { others += ticks }
    }
    (Duration::from_millis(server * 10), Duration::from_millis(others * 10))
}

/// The machine and how fast it runs now (AES-256-GCM, what TLS spends its time on, best of
/// three), so that figures from a slow moment of a shared machine can be told apart.
fn print_machine() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find_map(|line| line.strip_prefix("model name")).unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let key = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &[7; 32]).expect("an AES-256 key");
    let key = ring::aead::LessSafeKey::new(key);
    let mut data = vec![1u8; 16 << 20];
    let fastest = (0..3)
        .map(|_| {
            let started = Instant::now();
            for record in data.chunks_mut(16 * 1024) {
                let nonce = ring::aead::Nonce::assume_unique_for_key([0; 12]);
                let _ = black_box(key.seal_in_place_separate_tag(nonce, ring::aead::Aad::empty(), record));
            }
            started.elapsed()
        })
        .min()
        .expect("three runs");
    println!(
        "== machine: {cores} CPUs, {}; load average {}; AES-256-GCM now {:.1} GB/s ==",
        model.trim_start_matches([' ', '\t', ':']),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        (16 << 20) as f64 / fastest.as_secs_f64() / 1e9,
    );
}

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// The server on its own two-worker runtime, and a two-worker runtime for the clients.
struct Rig {
    server: Option<Server>,
    server_runtime: Runtime,
    client_runtime: Runtime,
}

impl Rig {
    fn start() -> Rig {
        kubetwin::cli::init_logging("warn", 0);
        let server_runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kubetwin-server")
            .on_thread_start(support::heap::mark_current_thread)
            .enable_all()
            .build()
            .expect("server runtime");
        let client_runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("client runtime");
        let config = ServerConfig { secure_port: 0, ..ServerConfig::default() };
        let server = server_runtime.block_on(Server::start(config)).expect("server starts");
        Rig { server: Some(server), server_runtime, client_runtime }
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("running")
    }

    fn instance(&self) -> &Instance {
        self.server().instance()
    }

    fn scope<'a>(&'a self, plural: &str, namespace: Option<&'a str>) -> Scope<'a> {
        let resource = self.instance().resource("", "v1", plural).expect("a core resource");
        Scope { instance: self.instance(), resource, namespace }
    }

    fn create_namespace(&self, name: &str) {
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        self.scope("namespaces", None).create(namespace, &WriteOptions::default()).expect("namespace created");
    }

    /// `count` ConfigMaps of about 1 KiB each in `namespace`.
    fn create_configmaps(&self, namespace: &str, count: usize) {
        let scope = self.scope("configmaps", Some(namespace));
        let filler = "x".repeat(768);
        for n in 0..count {
            let object = json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": format!("cm-{n:05}"), "namespace": namespace, "labels": {"app": "bench", "shard": (n % 10).to_string()}},
                "data": {"index": n.to_string(), "filler": filler},
            });
            scope.create(object, &WriteOptions::default()).expect("configmap created");
        }
    }

    fn client_tls(&self, protocol: Protocol) -> Arc<rustls::ClientConfig> {
        let pki = self.server().pki();
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pki.ca_cert_pem.as_bytes()) {
            roots.add(cert.expect("CA PEM")).expect("trusting the CA");
        }
        let chain = CertificateDer::pem_slice_iter(pki.admin.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("client certificate PEM");
        let key = PrivateKeyDer::from_pem_slice(pki.admin.key_pem.as_bytes()).expect("client key PEM");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .expect("client certificate");
        config.alpn_protocols = vec![protocol.alpn().to_vec()];
        Arc::new(config)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _guard = self.server_runtime.enter();
        self.server.take();
    }
}

/// How the watchers reach the server: as streams of shared HTTP/2 connections (as client-go
/// multiplexes its informers), or each over its own HTTP/1.1 connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http2,
    Http1,
}

impl Protocol {
    fn alpn(self) -> &'static [u8] {
        match self {
            Protocol::Http2 => b"h2",
            Protocol::Http1 => b"http/1.1",
        }
    }

    fn id(self) -> &'static str {
        match self {
            Protocol::Http2 => "controllers/watch_fanout_1000",
            Protocol::Http1 => "controllers/watch_fanout_1000_http1",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Protocol::Http2 => "HTTP/2 (100 streams a connection)",
            Protocol::Http1 => "HTTP/1.1 (a connection each)",
        }
    }
}

/// An open connection that sends requests.
enum Sender {
    Http2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
    Http1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
}

impl Sender {
    /// Connects over TLS with the protocol `tls` offers; the driver runs on the current runtime.
    async fn connect(address: std::net::SocketAddr, tls: Arc<rustls::ClientConfig>) -> Sender {
        let tcp = tokio::net::TcpStream::connect(address).await.expect("connecting");
        tcp.set_nodelay(true).expect("TCP_NODELAY");
        let stream = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(ServerName::IpAddress(address.ip().into()), tcp)
            .await
            .expect("TLS handshake");
        assert_eq!(stream.get_ref().1.alpn_protocol(), tls.alpn_protocols.first().map(Vec::as_slice));
        let io = TokioIo::new(stream);
        if tls.alpn_protocols[0] == Protocol::Http2.alpn() {
            let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                .handshake(io)
                .await
                .expect("HTTP/2 handshake");
            tokio::spawn(connection);
            Sender::Http2(sender)
        } else {
            let (sender, connection) = hyper::client::conn::http1::handshake(io).await.expect("HTTP/1.1 handshake");
            tokio::spawn(connection);
            Sender::Http1(sender)
        }
    }

    async fn send(&mut self, request: hyper::Request<Full<Bytes>>) -> hyper::Response<hyper::body::Incoming> {
        match self {
            Sender::Http2(sender) => {
                sender.ready().await.expect("connection ready");
                sender.send_request(request).await.expect("a response")
            }
            Sender::Http1(sender) => {
                sender.ready().await.expect("connection ready");
                sender.send_request(request).await.expect("a response")
            }
        }
    }
}

fn request(method: Method, path: &str, content_type: &str, body: Bytes) -> hyper::Request<Full<Bytes>> {
    hyper::Request::builder()
        .method(method)
        .uri(format!("https://127.0.0.1{path}"))
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(body))
        .expect("a valid request")
}

/// 1,000 open watches on one collection, each counting the events it receives.
struct Fanout {
    writer: Sender,
    /// The watchers' connections, kept open.
    _connections: Vec<Sender>,
    arrived: Arc<AtomicUsize>,
    all_arrived: Arc<Notify>,
    /// Server heap and process RSS growth while the watches opened, settled.
    server_bytes: isize,
    resident_bytes: isize,
    round: u64,
}

impl Fanout {
    async fn open(rig: &Rig, protocol: Protocol) -> Fanout {
        let tls = rig.client_tls(protocol);
        let address = rig.server().address();
        let writer = Sender::connect(address, rig.client_tls(Protocol::Http2)).await;
        let arrived = Arc::new(AtomicUsize::new(0));
        let all_arrived = Arc::new(Notify::new());
        let revision = rig.instance().store.current_revision();
        let path = format!("/api/v1/namespaces/{WATCH_NAMESPACE}/configmaps?watch=true&resourceVersion={revision}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rss_before = resident_bytes();
        support::heap::start_counting(Threads::Marked);
        let mut connections = Vec::new();
        for _ in 0..WATCHERS / STREAMS_PER_CONNECTION {
            let mut bodies = Vec::new();
            for n in 0..STREAMS_PER_CONNECTION {
                if protocol == Protocol::Http1 || n == 0 {
                    connections.push(Sender::connect(address, tls.clone()).await);
                }
                let sender = connections.last_mut().expect("a connection");
                let response = sender.send(request(Method::GET, &path, "application/json", Bytes::new())).await;
                assert_eq!(response.status(), StatusCode::OK);
                bodies.push(BodyStream::new(response.into_body()));
            }
            // One task reads a hundred watches, as an informer-heavy client multiplexes them;
            // a task per watch would double the clients' share of the two CPUs.
            let (arrived, all_arrived) = (arrived.clone(), all_arrived.clone());
            tokio::spawn(async move {
                let mut frames = futures_util::stream::select_all(bodies);
                while let Some(Ok(frame)) = frames.next().await {
                    let Some(data) = frame.data_ref() else { continue };
                    let events = data.iter().filter(|b| **b == b'\n').count();
                    if events > 0 && arrived.fetch_add(events, Ordering::AcqRel) + events == WATCHERS {
                        all_arrived.notify_one();
                    }
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let server_bytes = support::heap::stop_counting();
        let resident_bytes = resident_bytes() as isize - rss_before as isize;
        Fanout { writer, _connections: connections, arrived, all_arrived, server_bytes, resident_bytes, round: 0 }
    }

    /// From the start of a PATCH to the last of the watchers holding its event.
    async fn deliver_one(&mut self) -> Duration {
        self.round += 1;
        self.arrived.store(0, Ordering::SeqCst);
        let body = Bytes::from(json!({"data": {"round": self.round.to_string()}}).to_string());
        let path = format!("/api/v1/namespaces/{WATCH_NAMESPACE}/configmaps/watched");
        let all_arrived = self.all_arrived.clone();
        let start = Instant::now();
        let response = self.writer.send(request(Method::PATCH, &path, "application/merge-patch+json", body));
        let (response, ()) = tokio::join!(response, async {
            tokio::time::timeout(Duration::from_secs(10), all_arrived.notified()).await.expect("every watcher")
        });
        let elapsed = start.elapsed();
        assert_eq!(response.status(), StatusCode::OK);
        let _ = response.into_body().collect().await;
        assert_eq!(self.arrived.load(Ordering::SeqCst), WATCHERS, "one event per watcher");
        elapsed
    }
}

fn watch_fanout(c: &mut Criterion) {
    if !quick() {
        print_machine();
    }
    for protocol in [Protocol::Http2, Protocol::Http1] {
        if selected(&[protocol.id()]) {
            fanout_over(c, protocol);
        }
    }
}

fn fanout_over(c: &mut Criterion, protocol: Protocol) {
    let rig = Rig::start();
    rig.create_namespace(WATCH_NAMESPACE);
    let watched =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "watched"}, "data": {"round": "0"}});
    rig.scope("configmaps", Some(WATCH_NAMESPACE)).create(watched, &WriteOptions::default()).expect("created");
    let mut fanout = rig.client_runtime.block_on(Fanout::open(&rig, protocol));
    let name = protocol.name();
    let (memory_target, latency_target) = match protocol {
        Protocol::Http2 => ("target ≤ 8 KiB", "target p99 ≤ 5 ms"),
        Protocol::Http1 => ("for comparison", "for comparison"),
    };
    if !quick() {
        println!(
            "== {WATCHERS} idle watchers over {name}: {:.2} KiB each on the server heap ({memory_target}), {:.2} KiB each in process RSS (clients included) ==",
            fanout.server_bytes as f64 / WATCHERS as f64 / 1024.0,
            fanout.resident_bytes as f64 / WATCHERS as f64 / 1024.0,
        );
        let (mut samples, cpu) = rig.client_runtime.block_on(async {
            for _ in 0..50 {
                fanout.deliver_one().await;
            }
            let cpu = cpu_time();
            let mut samples = Vec::new();
            for _ in 0..1_000 {
                samples.push(fanout.deliver_one().await);
            }
            let (server, others) = cpu_time();
            let writes = samples.len() as u32;
            let per_write = |total: Duration, before: Duration| (total - before) / writes;
            (samples, (per_write(server, cpu.0), per_write(others, cpu.1)))
        });
        println!(
            "== one write to {WATCHERS} watchers over {name}: {} ({latency_target}); CPU per write: server {}, clients {} ==",
            summary(&mut samples),
            millis(cpu.0),
            millis(cpu.1),
        );
    }
    c.bench_function(protocol.id(), |b| {
        b.iter_custom(|iterations| {
            rig.client_runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    total += fanout.deliver_one().await;
                }
                total
            })
        })
    });
}

fn list_page(c: &mut Criterion) {
    if !selected(&["controllers/list_page_500_of_10k"]) {
        return;
    }
    let rig = Rig::start();
    rig.create_namespace(LIST_NAMESPACE);
    rig.create_configmaps(LIST_NAMESPACE, LIST_OBJECTS);
    let scope = rig.scope("configmaps", Some(LIST_NAMESPACE));
    let first = ListOptions { limit: 500, ..ListOptions::default() };
    let page = scope.list(&first).expect("a page");
    assert_eq!(page.items.len(), 500);
    assert_eq!(page.remaining, Some((LIST_OBJECTS - 500) as i64 + 1), "kube-root-ca.crt is there too");
    let middle = ListOptions { limit: 500, continue_token: page.continue_token.clone(), ..ListOptions::default() };
    if !quick() {
        for (what, options) in [("first", &first), ("second", &middle)] {
            let mut samples: Vec<Duration> = (0..2_000)
                .map(|_| {
                    let start = Instant::now();
                    black_box(scope.list(options).expect("a page"));
                    start.elapsed()
                })
                .collect();
            println!(
                "== {what} 500-item page of {LIST_OBJECTS} ConfigMaps, server-side: {} (target ≤ 1 ms) ==",
                summary(&mut samples)
            );
        }
    }
    c.bench_function("controllers/list_page_500_of_10k", |b| b.iter(|| black_box(scope.list(&first).expect("a page"))));
    c.bench_function("controllers/list_page_500_of_10k_continued", |b| {
        b.iter(|| black_box(scope.list(&middle).expect("a page")))
    });
}

/// Creates a namespace with `NAMESPACE_OBJECTS` ConfigMaps, then times its deletion until the
/// namespace itself is gone from the store.
fn delete_namespace(rig: &Rig, name: &str) -> Duration {
    rig.create_namespace(name);
    rig.create_configmaps(name, NAMESPACE_OBJECTS);
    let namespaces = rig.scope("namespaces", None);
    let key = namespaces.resource.key(None, name);
    let mut watch = rig.instance().store.watch(WatchRequest::new(KeyRange::key(key.into_bytes()))).expect("a watch");
    let start = Instant::now();
    namespaces.delete(name, &DeleteOptions::default()).expect("deletion starts");
    rig.client_runtime.block_on(async {
        loop {
            let response = tokio::time::timeout(Duration::from_secs(30), watch.next())
                .await
                .expect("the namespace goes")
                .expect("the watch goes on");
            if response.events.iter().any(|event| event.kind == EventKind::Delete) {
                break;
            }
        }
    });
    let elapsed = start.elapsed();
    let left = rig.scope("configmaps", Some(name)).list(&ListOptions::default()).expect("a list");
    assert!(left.items.is_empty(), "{} ConfigMaps left", left.items.len());
    elapsed
}

fn namespace_deletion(c: &mut Criterion) {
    if !selected(&["controllers/delete_namespace_1000"]) {
        return;
    }
    let rig = Rig::start();
    let mut round = 0;
    let mut next_name = move || {
        round += 1;
        format!("doomed-{round}")
    };
    if !quick() {
        let mut samples: Vec<Duration> = (0..20).map(|_| delete_namespace(&rig, &next_name())).collect();
        println!(
            "== deleting a namespace of {NAMESPACE_OBJECTS} ConfigMaps until it is gone: {} (target ≤ 200 ms) ==",
            summary(&mut samples)
        );
    }
    let mut group = c.benchmark_group("controllers");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    group.bench_function("delete_namespace_1000", |b| {
        b.iter_custom(|iterations| (0..iterations).map(|_| delete_namespace(&rig, &next_name())).sum())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = watch_fanout, list_page, namespace_deletion
}
criterion_main!(benches);
