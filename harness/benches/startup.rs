//! How fast a test gets its own server: start to first successful request in-process (over
//! TLS and over the direct client), the extra memory an idle instance holds, 1,000 instances
//! started one after another, and the share of fixture time in 200 typical tests run two at a
//! time. Run with `cargo bench -p kubetwin-harness`.

use criterion::{Criterion, criterion_group, criterion_main};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kubetwin_harness::TestServer;
use std::time::{Duration, Instant};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime")
}

async fn start_and_first_request(direct: bool) -> TestServer {
    let twin = TestServer::start().await.expect("the server starts");
    let client = if direct { twin.direct_client() } else { twin.client() };
    let namespaces: Api<Namespace> = Api::all(client);
    namespaces.get("default").await.expect("the first request succeeds");
    twin
}

fn startup(c: &mut Criterion) {
    let runtime = runtime();
    let mut group = c.benchmark_group("harness");
    group.sample_size(100).measurement_time(Duration::from_secs(10));
    group
        .bench_function("start_and_first_request_tls", |b| b.iter(|| runtime.block_on(start_and_first_request(false))));
    group.bench_function("start_and_first_request_direct", |b| {
        b.iter(|| runtime.block_on(start_and_first_request(true)))
    });
    group.finish();
}

fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Not a criterion measurement: where a start's time goes, memory per idle instance and 1,000
/// sequential starts, printed.
fn footprint(_c: &mut Criterion) {
    let runtime = runtime();
    runtime.block_on(async {
        let rounds = 200u32;
        let (mut pki, mut server, mut client, mut request) = (Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for _ in 0..rounds {
            let t = Instant::now();
            let names = kubetwin::pki::ServingNames::standard("10.96.0.1".parse().unwrap(), &[]);
            drop(kubetwin::pki::Pki::generate(&names).unwrap());
            pki += t.elapsed();
            let t = Instant::now();
            let started = kubetwin::server::Server::start(kubetwin::server::ServerConfig {
                secure_port: 0,
                ..Default::default()
            })
            .await
            .unwrap();
            server += t.elapsed();
            drop(started);
            let t = Instant::now();
            let twin = TestServer::start().await.unwrap();
            client += t.elapsed();
            let t = Instant::now();
            let namespaces: Api<Namespace> = Api::all(twin.direct_client());
            namespaces.get("default").await.unwrap();
            request += t.elapsed();
        }
        println!(
            "harness/phases (mean of {rounds}): pki {:?}, Server::start {:?}, TestServer::start {:?}, first direct request {:?}",
            pki / rounds,
            server / rounds,
            client / rounds,
            request / rounds
        );
        let warm = start_and_first_request(true).await;
        drop(warm);
        let before = resident_kib();
        let mut held = Vec::new();
        for _ in 0..100 {
            held.push(start_and_first_request(true).await);
        }
        let per_instance = (resident_kib().saturating_sub(before)) as f64 / 100.0;
        println!("harness/idle_instance_memory: {per_instance:.0} KiB per instance (RSS delta over 100)");
        drop(held);

        let started = Instant::now();
        for _ in 0..1000 {
            drop(TestServer::start().await.expect("the server starts"));
        }
        println!("harness/1000_sequential_starts: {:.2} s", started.elapsed().as_secs_f64());
    });
    fixture_share(&runtime);
}

/// What a typical controller test does once its server is up: create a Deployment and a
/// ConfigMap, watch for the ConfigMap, patch it, list, and delete it (over TLS, as `client()`).
async fn typical_test_body(twin: &TestServer) {
    use futures::StreamExt;
    use k8s_openapi::api::{apps::v1::Deployment, core::v1::ConfigMap};
    use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
    let client = twin.client();
    let deployments: Api<Deployment> = Api::default_namespaced(client.clone());
    let deployment = serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
    });
    deployments.create(&PostParams::default(), &serde_json::from_value(deployment).unwrap()).await.unwrap();
    let configmaps: Api<ConfigMap> = Api::default_namespaced(client);
    let mut events = configmaps.watch(&WatchParams::default(), "0").await.unwrap().boxed();
    let configmap = serde_json::json!({"metadata": {"name": "settings"}, "data": {"mode": "fast"}});
    configmaps.create(&PostParams::default(), &serde_json::from_value(configmap).unwrap()).await.unwrap();
    loop {
        if let Some(Ok(WatchEvent::Added(added))) = events.next().await
            && added.metadata.name.as_deref() == Some("settings")
        {
            break;
        }
    }
    let patch = Patch::Merge(serde_json::json!({"data": {"mode": "slow"}}));
    configmaps.patch("settings", &PatchParams::default(), &patch).await.unwrap();
    assert_eq!(configmaps.list(&ListParams::default()).await.unwrap().items.len(), 2);
    configmaps.delete("settings", &DeleteParams::default()).await.unwrap();
}

/// 200 typical tests, each with its own server, two at a time as `cargo test` runs them on
/// this machine: how much of their time goes to starting and dropping the fixtures.
fn fixture_share(runtime: &tokio::runtime::Runtime) {
    let fixtures = runtime.block_on(async {
        let one = || async {
            let started = Instant::now();
            let twin = TestServer::start().await.expect("the server starts");
            let start = started.elapsed();
            typical_test_body(&twin).await;
            let dropping = Instant::now();
            drop(twin);
            [start, dropping.elapsed(), started.elapsed()]
        };
        let mut sums = [Duration::ZERO; 3];
        for _ in 0..100 {
            let (first, second) = tokio::join!(tokio::spawn(one()), tokio::spawn(one()));
            for times in [first.expect("a test"), second.expect("a test")] {
                sums.iter_mut().zip(times).for_each(|(sum, time)| *sum += time);
            }
        }
        sums
    });
    let [start, drop, total] = fixtures.map(|d| d.as_secs_f64() * 1000.0 / 200.0);
    println!(
        "harness/fixture_share: 200 typical tests, two at a time: fixtures {:.1}% of their time (start {start:.2} ms + drop {drop:.2} ms of {total:.2} ms per test; target < 10%)",
        (start + drop) / total * 100.0,
    );
}

criterion_group!(benches, startup, footprint);
criterion_main!(benches);
