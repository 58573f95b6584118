//! Server-side apply benchmarks, in process: a `kubectl apply --server-side` of a Deployment
//! with 50 containers, through the same handler an HTTP PATCH reaches (decoding the applied
//! configuration, the structured merge, conflict detection, managedFields and the
//! compare-and-swap write), both re-applying an unchanged configuration (the no-op every
//! reconcile loop sends) and applying a changed image, alone and with a second manager owning
//! the status (as the deployment controller does), and a status update of that Deployment by a
//! third manager. It also prints how much managedFields
//! add to the stored size of a typical object. Each figure is printed as a one-line summary
//! (`== ... ==`) next to its target; criterion adds its own.
//!
//! Targets: an apply of a 50-container Deployment ≤ 200 µs server-side; managedFields add
//! ≤ 30% to the stored size of a typical object.

mod support;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method, header};
use kubetwin::http::ApiRequest;
use kubetwin::http::query::Query;
use kubetwin::registry::Scope;
use kubetwin::server::{Server, ServerConfig};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::percentile;

const CONTAINERS: usize = 50;

/// A Deployment with `containers` containers running `tag`, as a user would write it.
fn deployment(name: &str, containers: usize, tag: &str) -> Value {
    let containers: Vec<Value> = (0..containers)
        .map(|n| {
            json!({
                "name": format!("app-{n:02}"),
                "image": format!("registry.example.com/app-{n:02}:{tag}"),
                "ports": [{"containerPort": 8000 + n, "name": format!("http-{n:02}")}],
                "env": [{"name": "INDEX", "value": n.to_string()}, {"name": "MODE", "value": "bench"}],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
            })
        })
        .collect();
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}},
        },
    })
}

/// The PATCH request `kubectl apply --server-side` sends.
fn apply_request(name: &str, body: &Value) -> ApiRequest {
    apply_request_by("kubectl", name, "", body)
}

/// The apply PATCH `manager` sends for `name`'s `subresource`.
fn apply_request_by(manager: &str, name: &str, subresource: &str, body: &Value) -> ApiRequest {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/apply-patch+yaml"));
    ApiRequest {
        method: Method::PATCH,
        path: format!("/apis/apps/v1/namespaces/default/deployments/{name}{subresource}"),
        query: Query::parse(&format!("fieldManager={manager}&fieldValidation=Strict")),
        headers,
        body: Bytes::from(serde_json::to_vec(body).expect("serializes")),
        peer: Default::default(),
        user: Default::default(),
    }
}

fn apply_benchmarks(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let server = runtime
        .block_on(Server::start(ServerConfig { secure_port: 0, ..ServerConfig::default() }))
        .expect("server starts");
    let instance = server.instance();
    let resource = instance.resource("apps", "v1", "deployments").expect("deployments are served");
    let scope = Scope { instance, resource, namespace: Some("default") };
    let apply = |request: &ApiRequest| {
        kubetwin::http::applying::apply_patch(&scope, "web", "", request).expect("the apply succeeds")
    };
    let unchanged = apply_request("web", &deployment("web", CONTAINERS, "v1"));
    let changed = [apply_request("web", &deployment("web", CONTAINERS, "v2")), unchanged.clone()];
    apply(&unchanged);

    if !support::quick() {
        let samples = |requests: &[&ApiRequest]| {
            let mut times: Vec<Duration> = (0..2_000)
                .map(|n| {
                    let started = Instant::now();
                    apply(requests[n % requests.len()]);
                    started.elapsed()
                })
                .collect();
            times.sort();
            times
        };
        let noop = samples(&[&unchanged]);
        let change = samples(&[&changed[0], &changed[1]]);
        let shared = shared_deployment(&scope);
        let status_updates = status_updates(&scope);
        let micros = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "== apply of a {CONTAINERS}-container Deployment: unchanged p50 {:.0} µs p99 {:.0} µs; changed image p50 {:.0} µs p99 {:.0} µs (target ≤ 200 µs) ==",
            micros(percentile(&noop, 50)),
            micros(percentile(&noop, 99)),
            micros(percentile(&change, 50)),
            micros(percentile(&change, 99)),
        );
        println!(
            "== the same changed image with a second manager owning the status: p50 {:.0} µs p99 {:.0} µs ==",
            micros(percentile(&shared, 50)),
            micros(percentile(&shared, 99)),
        );
        println!(
            "== a status update (merge patch) of that applied Deployment by a third manager: p50 {:.0} µs p99 {:.0} µs ==",
            micros(percentile(&status_updates, 50)),
            micros(percentile(&status_updates, 99)),
        );
        print_managed_fields_overhead(&scope);
    }
    let mut group = c.benchmark_group("apply");
    group.bench_function("deployment_50_containers_unchanged", |b| b.iter(|| apply(&unchanged)));
    let mut round = 0;
    group.bench_function("deployment_50_containers_changed", |b| {
        b.iter(|| {
            round += 1;
            apply(&changed[round % 2])
        })
    });
    group.finish();
    runtime.block_on(server.shutdown());
}

/// Apply times of the changed image on a Deployment whose status another manager applies, as
/// the deployment controller owns a real one's: the conflict check then walks that manager's
/// fields.
fn shared_deployment(scope: &Scope<'_>) -> Vec<Duration> {
    let applies = ["v1", "v2"].map(|tag| apply_request("shared", &deployment("shared", CONTAINERS, tag)));
    let apply = |request: &ApiRequest, subresource: &str| {
        kubetwin::http::applying::apply_patch(scope, "shared", subresource, request).expect("the apply succeeds")
    };
    apply(&applies[0], "");
    let status = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "shared"},
        "status": {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}});
    apply(&apply_request_by("deployment-controller", "shared", "/status", &status), "status");
    let mut times: Vec<Duration> = (0..2_000)
        .map(|n| {
            let started = Instant::now();
            apply(&applies[n % 2], "");
            started.elapsed()
        })
        .collect();
    times.sort();
    times
}

/// Times of status updates, as a controller's `patch_status` sends them, on the Deployment
/// [`shared_deployment`] leaves: the Update is recorded under a manager of its own while the
/// appliers' entries stay as they are.
fn status_updates(scope: &Scope<'_>) -> Vec<Duration> {
    let patches = [1, 2].map(|generation| {
        let mut request = apply_request_by(
            "status-updater",
            "shared",
            "/status",
            &json!({"status": {"observedGeneration": generation}}),
        );
        request.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/merge-patch+json"));
        request
    });
    let mut times: Vec<Duration> = (0..2_000)
        .map(|n| {
            let started = Instant::now();
            kubetwin::http::patching::patch(scope, "shared", "status", &patches[n % 2]).expect("the patch succeeds");
            started.elapsed()
        })
        .collect();
    times.sort();
    times
}

/// Stored bytes of typical objects (a one-container Deployment and the 50-container one, each
/// applied once) with and without their managedFields.
fn print_managed_fields_overhead(scope: &Scope<'_>) {
    let typical = apply_request("typical", &deployment("typical", 1, "v1"));
    kubetwin::http::applying::apply_patch(scope, "typical", "", &typical).expect("the apply succeeds");
    let overhead = |name: &str| {
        let stored = scope.get(name).expect("stored");
        let mut object: Value = serde_json::from_slice(&stored.bytes).expect("stored JSON");
        let with = stored.bytes.len();
        object["metadata"].as_object_mut().expect("metadata").remove("managedFields");
        let without = serde_json::to_vec(&object).expect("serializes").len();
        format!("{:.0}% ({without} → {with} bytes)", (with as f64 / without as f64 - 1.0) * 100.0)
    };
    println!(
        "== managedFields add to the stored size: one-container Deployment {}, {CONTAINERS}-container Deployment {} (target ≤ 30%) ==",
        overhead("typical"),
        overhead("web"),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = apply_benchmarks
}
criterion_main!(benches);
