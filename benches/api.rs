//! API benchmarks against the real server over HTTPS, with the load generator in this process on
//! the same machine: start-up to ready (the `kubetwin` binary, PKI included, and the in-process
//! `Server::start`), the idle binary's resident memory, GET and create throughput over
//! keep-alive HTTP/1.1 connections authenticated with the admin client certificate, and the
//! time to stream a LIST of 10k pods to its last byte. Each function prints a one-line summary
//! (`== ... ==`) with percentiles or rates next to its target, the CPU time the server and the
//! load generator spent per request and how busy other processes kept the machine; criterion
//! adds its own figures. A first line gives the machine and how fast it ran at the time.
//!
//! Targets: ready ≤ 25 ms at p50, idle RSS ≤ 20 MB, ≥ 25k GET/s, ≥ 12k creates/s, LIST of 10k
//! pods ≤ 15 ms at p50.
//!
//! `cargo bench --bench api -- list` runs one part (the filter also skips the others' set-up);
//! `KUBETWIN_BENCH_BINARY=/path/to/kubetwin` measures another build of the server.

mod support;
use base64::Engine;
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{Method, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use kubetwin::server::{Server, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::{millis, percentile, quick, selected};

/// The server binary: this build's, or `KUBETWIN_BENCH_BINARY` to compare another build.
fn binary() -> String {
    std::env::var("KUBETWIN_BENCH_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_kubetwin").to_string())
}

/// Keep-alive connections the load generator keeps busy, one request in flight on each.
const CONNECTIONS: usize = 8;
/// Worker threads of the load generator's runtime (the server has its own two).
const CLIENT_WORKERS: usize = 2;

/// The pods the LIST benchmark reads back.
const LIST_PODS: u64 = 10_000;
const LIST_NAMESPACE: &str = "bench-list";

/// The benchmark IDs, so that a criterion filter (`cargo bench --bench api -- list`) also skips
/// the set-up and the printed summaries of the functions it does not select.
const STARTUP_IDS: [&str; 2] = ["startup/binary_ready", "startup/in_process_server_start"];
const THROUGHPUT_IDS: [&str; 2] = ["https/get_configmap", "https/create_configmap"];
const LIST_ID: &str = "https/list_10k_pods";

/// A `kubetwin serve` child process, started on a free port and ready; SIGTERM on drop.
struct Spawned {
    child: Child,
    /// Kept open so the server's stdout never turns into a broken pipe.
    _stdout: BufReader<ChildStdout>,
    address: SocketAddr,
    /// From spawn until the ready line was read.
    ready_after: Duration,
    dir: tempfile::TempDir,
}

impl Spawned {
    fn start() -> Spawned {
        let dir = tempfile::Builder::new().prefix("kubetwin-bench-").tempdir().expect("temporary directory");
        let kubeconfig = dir.path().join("kubeconfig");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("server log");
        let binary = binary();
        let started = Instant::now();
        let mut child = Command::new(binary)
            .args(["serve", "--secure-port", "0", "--kubeconfig"])
            .arg(&kubeconfig)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawning kubetwin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("reading the ready line");
        let ready_after = started.elapsed();
        let url = line
            .strip_prefix("kubetwin ready: https://")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line from kubetwin: {line:?}"));
        let address = url.parse().expect("host:port in the ready line");
        Spawned { child, _stdout: stdout, address, ready_after, dir }
    }

    fn kubeconfig(&self) -> std::path::PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// `VmRSS` of the server process, in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("/proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc status")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
            eprintln!("kubetwin's log (exit status {:?}):\n{log}", self.child.try_wait());
        }
        // SIGTERM lets the server remove its temporary certificate directory.
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A rustls client configuration trusting the kubeconfig's CA and presenting its client
/// certificate, speaking HTTP/1.1.
fn client_tls(kubeconfig: &Path) -> Arc<rustls::ClientConfig> {
    let text = std::fs::read_to_string(kubeconfig).expect("reading the kubeconfig");
    let field = |name: &str| -> Vec<u8> {
        let encoded = text
            .lines()
            .find_map(|line| line.trim().strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} missing from the kubeconfig"));
        base64::engine::general_purpose::STANDARD.decode(encoded.trim()).expect("base64 in the kubeconfig")
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&field("certificate-authority-data:")) {
        roots.add(cert.expect("CA PEM")).expect("trusting the CA");
    }
    let chain = CertificateDer::pem_slice_iter(&field("client-certificate-data:"))
        .collect::<Result<Vec<_>, _>>()
        .expect("client certificate PEM");
    let key = PrivateKeyDer::from_pem_slice(&field("client-key-data:")).expect("client key PEM");
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client certificate");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// One keep-alive HTTP/1.1 connection over TLS.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    authority: String,
}

impl Connection {
    async fn open(address: SocketAddr, tls: Arc<rustls::ClientConfig>) -> Connection {
        let tcp = tokio::net::TcpStream::connect(address).await.expect("connecting");
        tcp.set_nodelay(true).expect("TCP_NODELAY");
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(ServerName::IpAddress(address.ip().into()), tcp)
            .await
            .expect("TLS handshake");
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("HTTP/1.1 handshake");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Connection { sender, authority: address.to_string() }
    }

    /// Sends one request and returns the response with its body still to be read.
    async fn start(&mut self, method: Method, path: &str, body: Bytes) -> hyper::Response<hyper::body::Incoming> {
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.authority)
            .header(header::ACCEPT, "application/json");
        if !body.is_empty() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let request = builder.body(Full::new(body)).expect("valid request");
        self.sender.ready().await.expect("connection ready");
        self.sender.send_request(request).await.expect("response")
    }

    /// Sends one request and reads the whole response body.
    async fn send(&mut self, method: Method, path: &str, body: Bytes) -> (StatusCode, Bytes) {
        let response = self.start(method, path, body).await;
        let status = response.status();
        let body = response.into_body().collect().await.expect("response body").to_bytes();
        (status, body)
    }

    /// Sends one request and reads the response body to its last byte as it streams in,
    /// counting the bytes rather than keeping them.
    async fn send_counting(&mut self, method: Method, path: &str) -> (StatusCode, usize) {
        let response = self.start(method, path, Bytes::new()).await;
        let status = response.status();
        let mut body = response.into_body();
        let mut received = 0;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.expect("response body").into_data() {
                received += data.len();
            }
        }
        (status, received)
    }
}

/// What a load generator sends: method, path and body for the n-th request.
type RequestFactory = dyn Fn(u64) -> (Method, String, Bytes) + Sync;

/// Sends `total` requests spread over `connections`, each keeping one request in flight, and
/// returns the wall-clock time they took.
async fn drive(connections: &mut [Connection], total: u64, make: &RequestFactory, expect: StatusCode) -> Duration {
    let next = AtomicU64::new(0);
    let started = Instant::now();
    let workers = connections.iter_mut().map(|connection| {
        let next = &next;
        async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let (method, path, body) = make(n);
                let (status, response) = connection.send(method, &path, body).await;
                assert_eq!(status, expect, "{path}: {}", String::from_utf8_lossy(&response));
            }
        }
    });
    futures_util::future::join_all(workers).await;
    started.elapsed()
}

/// A server process with a client runtime and a pool of open connections to it.
struct LoadRig {
    // Dropped in this order: the connections close before the server is asked to stop.
    connections: Vec<Connection>,
    runtime: tokio::runtime::Runtime,
    server: Spawned,
}

impl LoadRig {
    fn new(connections: usize) -> LoadRig {
        let server = Spawned::start();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(CLIENT_WORKERS)
            .enable_all()
            .build()
            .expect("client runtime");
        let tls = client_tls(&server.kubeconfig());
        let address = server.address;
        let connections = runtime.block_on(async {
            let mut opened = Vec::new();
            for _ in 0..connections {
                opened.push(Connection::open(address, tls.clone()).await);
            }
            opened
        });
        LoadRig { connections, runtime, server }
    }

    fn drive(&mut self, total: u64, make: &RequestFactory, expect: StatusCode) -> Duration {
        self.runtime.block_on(drive(&mut self.connections, total, make, expect))
    }

    fn send(&mut self, method: Method, path: &str, body: &str) -> (StatusCode, Bytes) {
        let connection = &mut self.connections[0];
        self.runtime.block_on(connection.send(method, path, Bytes::copy_from_slice(body.as_bytes())))
    }

    /// Requests per second over `rounds` rounds of `per_round` requests, and the CPU time the
    /// server and this process spent per request.
    fn rates(&mut self, rounds: usize, per_round: u64, make: &RequestFactory, expect: StatusCode) -> Rates {
        let meter = CpuMeter::start(Some(self.server.child.id()));
        let rounds: Vec<f64> =
            (0..rounds).map(|_| per_round as f64 / self.drive(per_round, make, expect).as_secs_f64()).collect();
        let cpu = meter.finish(rounds.len() as u64 * per_round);
        let mut sorted = rounds.clone();
        sorted.sort_by(f64::total_cmp);
        Rates { median: sorted[sorted.len() / 2], rounds, cpu }
    }
}

/// Throughput over several rounds.
struct Rates {
    median: f64,
    /// Requests per second of each round, in order.
    rounds: Vec<f64>,
    cpu: CpuUse,
}

impl std::fmt::Display for Rates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rounds: Vec<String> = self.rounds.iter().map(|rate| format!("{rate:.0}")).collect();
        write!(f, "{:.0}/s median (rounds in order: {}; {})", self.median, rounds.join(" "), self.cpu)
    }
}

/// Clock ticks (`USER_HZ`) in `/proc`.
const TICK: Duration = Duration::from_millis(10);

/// User and system CPU time of a process, all threads, in ticks (`/proc/PID/stat`), with that
/// of the children it has waited for when asked.
fn process_ticks(pid: u32, with_children: bool) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|n| n.parse().expect("a tick count"))
        .collect();
    // utime, stime, cutime, cstime
    fields[0] + fields[1] + if with_children { fields[2] + fields[3] } else { 0 }
}

/// Ticks the whole machine spent busy (user, nice, system, irq, softirq) and stolen by the
/// hypervisor, over all CPUs (`/proc/stat`).
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let cpu: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("cpu "))
        .expect("the cpu line of /proc/stat")
        .split_whitespace()
        .map(|n| n.parse().expect("a tick count"))
        .collect();
    (cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6], cpu.get(7).copied().unwrap_or(0))
}

/// CPU time used by the server, by this process (with the children it has reaped) and by
/// anything else on the machine over a measurement, so that a figure taken on a busy machine
/// says so.
struct CpuMeter {
    server: Option<u32>,
    server_ticks: u64,
    own_ticks: u64,
    machine_ticks: (u64, u64),
    started: Instant,
}

/// What a [`CpuMeter`] saw, per request.
struct CpuUse {
    server: Duration,
    load_generator: Duration,
    /// The share of all CPUs other processes kept busy meanwhile.
    elsewhere: f64,
    /// The share of all CPUs the hypervisor took away meanwhile.
    stolen: f64,
}

impl CpuMeter {
    fn start(server: Option<u32>) -> CpuMeter {
        CpuMeter {
            server,
            server_ticks: server.map_or(0, |pid| process_ticks(pid, false)),
            own_ticks: process_ticks(std::process::id(), true),
            machine_ticks: machine_ticks(),
            started: Instant::now(),
        }
    }

    fn finish(self, requests: u64) -> CpuUse {
        let server = self.server.map_or(0, |pid| process_ticks(pid, false)) - self.server_ticks;
        let own = process_ticks(std::process::id(), true) - self.own_ticks;
        let (busy, stolen) = machine_ticks();
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
        let share = |ticks: u64| ticks as f64 * TICK.as_secs_f64() / (self.started.elapsed().as_secs_f64() * cores);
        let per_request = |ticks: u64| TICK * ticks as u32 / requests.max(1) as u32;
        CpuUse {
            server: per_request(server),
            load_generator: per_request(own),
            elsewhere: share((busy - self.machine_ticks.0).saturating_sub(server + own)),
            stolen: share(stolen - self.machine_ticks.1),
        }
    }
}

impl std::fmt::Display for CpuUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |d: Duration| match d.as_secs_f64() {
            seconds if seconds < 1e-3 => format!("{:.1} µs", seconds * 1e6),
            seconds => format!("{:.2} ms", seconds * 1e3),
        };
        write!(
            f,
            "CPU per request: server {}, load generator {}; other processes kept {:.0}% of the CPUs busy",
            text(self.server),
            text(self.load_generator),
            self.elsewhere * 100.0
        )?;
        if self.stolen >= 0.01 {
            write!(f, ", the hypervisor took {:.0}%", self.stolen * 100.0)?;
        }
        Ok(())
    }
}

/// The machine the figures come from, whether something else was keeping it busy, and how fast
/// it ran at the time: AES-256-GCM (what TLS spends most of a large response on) and memory
/// copies, best of three, so that figures from a slower moment of a shared machine can be told
/// apart from a slower server.
fn print_machine() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']));
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let key = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &[7; 32]).expect("an AES-256 key");
    let key = ring::aead::LessSafeKey::new(key);
    let mut data = vec![1u8; 16 << 20];
    let mut copy = vec![0u8; 16 << 20];
    let best = |run: &mut dyn FnMut()| {
        (0..3)
            .map(|_| {
                let started = Instant::now();
                run();
                started.elapsed()
            })
            .min()
            .expect("three runs")
    };
    let aes = best(&mut || {
        for record in data.chunks_mut(16 * 1024) {
            let nonce = ring::aead::Nonce::assume_unique_for_key([0; 12]);
            let tag = key.seal_in_place_separate_tag(nonce, ring::aead::Aad::empty(), record).expect("sealed");
            let _ = black_box(tag);
        }
    });
    let memcpy = best(&mut || {
        copy.copy_from_slice(black_box(&data));
        black_box(&copy);
    });
    let rate = |d: Duration| (16 << 20) as f64 / d.as_secs_f64() / 1e9;
    println!(
        "== machine: {cores} CPUs, {}; load average before the run: {}; speed now: AES-256-GCM {:.1} GB/s, memcpy {:.1} GB/s ==",
        model.unwrap_or("unknown CPU"),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        rate(aes),
        rate(memcpy),
    );
}

/// Starts the binary `runs` times and prints the time to the ready line and the RSS there,
/// then the RSS of one more after a second of idling.
fn report_binary_startup(runs: usize) {
    drop(Spawned::start()); // warms the page cache
    let mut ready = Vec::new();
    let mut rss_at_ready = Vec::new();
    let meter = CpuMeter::start(None);
    for _ in 0..runs {
        let server = Spawned::start();
        ready.push(server.ready_after);
        rss_at_ready.push(server.rss_kib());
    }
    let elsewhere = meter.finish(runs as u64).elsewhere;
    ready.sort();
    rss_at_ready.sort();
    println!(
        "== binary spawn to ready line (PKI included), {} runs: p50 {}, p90 {}, min {}, max {} (other processes kept {:.0}% of the CPUs busy) (target p50 <= 25 ms) ==",
        ready.len(),
        millis(percentile(&ready, 50)),
        millis(percentile(&ready, 90)),
        millis(ready[0]),
        millis(ready[ready.len() - 1]),
        elsewhere * 100.0,
    );
    let idle = Spawned::start();
    std::thread::sleep(Duration::from_secs(1));
    let idle_rss = idle.rss_kib();
    drop(idle);
    println!(
        "== idle RSS (VmRSS): {:.1} MiB after 1 s idle; at the ready line p50 {:.1} MiB, max {:.1} MiB (target <= 20 MB) ==",
        idle_rss as f64 / 1024.0,
        rss_at_ready[rss_at_ready.len() / 2] as f64 / 1024.0,
        rss_at_ready[rss_at_ready.len() - 1] as f64 / 1024.0,
    );
}

fn startup(c: &mut Criterion) {
    if !selected(&STARTUP_IDS) {
        return;
    }
    if !quick() {
        report_binary_startup(50);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let start_in_process = || {
        runtime.block_on(async {
            let started = Instant::now();
            let server =
                Server::start(ServerConfig { secure_port: 0, ..ServerConfig::default() }).await.expect("start");
            let elapsed = started.elapsed();
            server.shutdown().await;
            elapsed
        })
    };
    if !quick() {
        // What the binary pays once per process on top of a start: the schema graph (built on
        // the first registry write) and the rest of the first start (the bootstrap objects).
        let started = Instant::now();
        kubetwin::openapi::schema();
        let schema_graph = started.elapsed();
        let first = start_in_process();
        let mut in_process: Vec<Duration> = (0..200).map(|_| start_in_process()).collect();
        in_process.sort();
        println!(
            "== in-process Server::start (PKI included), {} runs: p50 {}, p90 {}, min {}, max {}; once per process before that: schema graph {}, first start {} ==",
            in_process.len(),
            millis(percentile(&in_process, 50)),
            millis(percentile(&in_process, 90)),
            millis(in_process[0]),
            millis(in_process[in_process.len() - 1]),
            millis(schema_graph),
            millis(first),
        );
    }
    let mut group = c.benchmark_group("startup");
    group.sample_size(20);
    group.bench_function("binary_ready", |b| {
        b.iter_custom(|iterations| (0..iterations).map(|_| Spawned::start().ready_after).sum())
    });
    group.bench_function("in_process_server_start", |b| {
        b.iter_custom(|iterations| (0..iterations).map(|_| start_in_process()).sum())
    });
    group.finish();
}

/// A unique ConfigMap name for every create in this process.
static NEXT_CONFIGMAP: AtomicU64 = AtomicU64::new(0);

fn get_configmap(_: u64) -> (Method, String, Bytes) {
    (Method::GET, "/api/v1/namespaces/default/configmaps/bench-get".into(), Bytes::new())
}

fn create_configmap(_: u64) -> (Method, String, Bytes) {
    let n = NEXT_CONFIGMAP.fetch_add(1, Ordering::Relaxed);
    let body = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"bench-{n}","labels":{{"app":"bench"}}}},"data":{{"key":"value-{n}"}}}}"#
    );
    (Method::POST, "/api/v1/namespaces/default/configmaps".into(), Bytes::from(body))
}

fn get_throughput(c: &mut Criterion) {
    if !selected(&THROUGHPUT_IDS[..1]) {
        return;
    }
    let mut rig = LoadRig::new(CONNECTIONS);
    let object = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bench-get","labels":{"app":"bench"}},"data":{"key":"value"}}"#;
    let (status, body) = rig.send(Method::POST, "/api/v1/namespaces/default/configmaps", object);
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    if !quick() {
        rig.drive(20_000, &get_configmap, StatusCode::OK);
        let rates = rig.rates(5, 60_000, &get_configmap, StatusCode::OK);
        println!(
            "== GET configmap, {CONNECTIONS} keep-alive HTTPS connections, 5 rounds of 60k: {rates} (target >= 25000/s) =="
        );
    }
    let mut group = c.benchmark_group("https");
    group.throughput(Throughput::Elements(1));
    group.bench_function("get_configmap", |b| {
        b.iter_custom(|iterations| rig.drive(iterations, &get_configmap, StatusCode::OK))
    });
    group.finish();
}

fn create_throughput(c: &mut Criterion) {
    if !selected(&THROUGHPUT_IDS[1..]) {
        return;
    }
    if !quick() {
        let mut rig = LoadRig::new(CONNECTIONS);
        rig.drive(10_000, &create_configmap, StatusCode::CREATED);
        let rates = rig.rates(5, 30_000, &create_configmap, StatusCode::CREATED);
        println!(
            "== POST configmap (unique names), {CONNECTIONS} keep-alive HTTPS connections, 5 rounds of 30k (10k to 160k ConfigMaps stored): {rates} (target >= 12000/s) =="
        );
        println!("(server RSS with 160k ConfigMaps stored: {:.1} MiB)", rig.server.rss_kib() as f64 / 1024.0);
    }
    // Criterion measures on a fresh server, so that its figure does not depend on the objects
    // the rounds above left behind.
    let mut rig = LoadRig::new(CONNECTIONS);
    let mut group = c.benchmark_group("https");
    group.throughput(Throughput::Elements(1));
    group.bench_function("create_configmap", |b| {
        b.iter_custom(|iterations| rig.drive(iterations, &create_configmap, StatusCode::CREATED))
    });
    group.finish();
}

fn create_pod(n: u64) -> (Method, String, Bytes) {
    let body = format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"pod-{n:05}","labels":{{"app":"bench","shard":"s{shard}"}}}},"spec":{{"containers":[{{"name":"app","image":"registry.k8s.io/pause:3.10","ports":[{{"containerPort":8080}}]}}]}}}}"#,
        shard = n % 16
    );
    (Method::POST, format!("/api/v1/namespaces/{LIST_NAMESPACE}/pods"), Bytes::from(body))
}

fn list_pods(c: &mut Criterion) {
    if !selected(&[LIST_ID]) {
        return;
    }
    let mut rig = LoadRig::new(CONNECTIONS);
    let namespace = format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{LIST_NAMESPACE}"}}}}"#);
    let (status, body) = rig.send(Method::POST, "/api/v1/namespaces", &namespace);
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    rig.drive(LIST_PODS, &create_pod, StatusCode::CREATED);

    let path = format!("/api/v1/namespaces/{LIST_NAMESPACE}/pods");
    let (status, body) = rig.send(Method::GET, &path, "");
    assert_eq!(status, StatusCode::OK);
    let list: serde_json::Value = serde_json::from_slice(&body).expect("a JSON list");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(LIST_PODS as usize), "the LIST returns every pod");
    let server = rig.server.child.id();
    let connection = &mut rig.connections[0];
    let mut list_once = || {
        rig.runtime.block_on(async {
            let started = Instant::now();
            let (status, received) = connection.send_counting(Method::GET, &path).await;
            let elapsed = started.elapsed();
            assert_eq!((status, received), (StatusCode::OK, body.len()));
            elapsed
        })
    };
    if !quick() {
        for _ in 0..10 {
            list_once();
        }
        let meter = CpuMeter::start(Some(server));
        let mut samples: Vec<Duration> = (0..100).map(|_| list_once()).collect();
        let cpu = meter.finish(samples.len() as u64);
        samples.sort();
        println!(
            "== LIST {LIST_PODS} pods ({:.1} MiB of JSON) to the last byte, {} runs: p50 {}, p90 {}, p99 {}, min {} ({cpu}) (target p50 <= 15 ms) ==",
            body.len() as f64 / (1 << 20) as f64,
            samples.len(),
            millis(percentile(&samples, 50)),
            millis(percentile(&samples, 90)),
            millis(percentile(&samples, 99)),
            millis(samples[0]),
        );
    }
    c.bench_function(LIST_ID, |b| b.iter_custom(|iterations| (0..iterations).map(|_| list_once()).sum()));
}

fn machine(_: &mut Criterion) {
    if !quick() {
        print_machine();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = machine, startup, get_throughput, create_throughput, list_pods
}
criterion_main!(benches);
