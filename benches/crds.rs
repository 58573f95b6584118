//! CustomResourceDefinition benchmarks, in process: from creating a CRD to creating its first
//! custom resource; validating, defaulting and pruning a typical custom resource against its
//! schema (what every write of one pays); and what loading 100 CRDs adds to a server's start.
//! Each figure is printed as a one-line summary (`== ... ==`) next to its target; criterion
//! adds its own for the per-object work.
//!
//! Targets: CRD creation until its resources can be created ≤ 5 ms; validation, defaulting and
//! pruning of a typical custom resource ≤ 50 µs; loading 100 CRDs at start adds ≤ 50 ms.

mod support;
use criterion::{Criterion, criterion_group, criterion_main};
use kubetwin::instance::Instance;
use kubetwin::registry::Scope;
use kubetwin::registry::unknown_fields::FieldValidation;
use kubetwin::server::{Server, ServerConfig};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{millis, percentile};

/// A typical operator's CRD: a namespaced kind with a dozen spec fields (enums, patterns,
/// bounds, defaults, a list of maps), a status, printer columns and the status subresource.
fn crd(plural: &str) -> Value {
    let kind = format!("{}{}", plural[..1].to_uppercase(), &plural[1..plural.len() - 1]);
    let spec = json!({
        "type": "object",
        "required": ["image"],
        "properties": {
            "image": {"type": "string", "pattern": "^[a-z0-9./:-]+$"},
            "replicas": {"type": "integer", "minimum": 0, "maximum": 100, "default": 1},
            "mode": {"type": "string", "enum": ["fast", "safe"], "default": "safe"},
            "paused": {"type": "boolean", "default": false},
            "timeout": {"type": "string", "default": "30s"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "ports": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {
                    "type": "object",
                    "required": ["name", "port"],
                    "properties": {
                        "name": {"type": "string", "maxLength": 15},
                        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                        "protocol": {"type": "string", "enum": ["TCP", "UDP"], "default": "TCP"},
                    },
                },
            },
            "resources": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        },
    });
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.bench.example.com")},
        "spec": {
            "group": "bench.example.com",
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [{"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}],
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": spec,
                    "status": {"type": "object", "properties": {"ready": {"type": "integer"}}},
                }}},
            }],
        },
    })
}

/// A custom resource of [`crd`]'s kind as a user writes it, with a field the schema prunes.
fn custom_resource(plural: &str, name: &str) -> Value {
    let kind = format!("{}{}", plural[..1].to_uppercase(), &plural[1..plural.len() - 1]);
    json!({
        "apiVersion": "bench.example.com/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {
            "image": "registry.example.com/app:v1",
            "replicas": 3,
            "labels": {"team": "a", "tier": "web"},
            "ports": [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}],
            "resources": {"cpu": "100m"},
            "unknown": "pruned",
        },
    })
}

async fn server() -> Server {
    Server::start(ServerConfig { secure_port: 0, ..ServerConfig::default() }).await.expect("the server starts")
}

/// Creates a CRD and then, as soon as it is served, one of its custom resources.
fn crd_to_first_resource(instance: &Instance, plural: &str) -> Duration {
    let started = Instant::now();
    kubetwin::manifests::create(instance, crd(plural), "bench").expect("the CRD is created");
    loop {
        match kubetwin::manifests::create(instance, custom_resource(plural, "first"), "bench") {
            Ok(()) => return started.elapsed(),
            Err(error) if started.elapsed() > Duration::from_secs(5) => panic!("{plural} is not served: {error}"),
            Err(_) => std::hint::spin_loop(),
        }
    }
}

fn crd_benchmarks(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let server = runtime.block_on(server());
    let instance = server.instance();
    if !support::quick() {
        let mut times: Vec<Duration> =
            (0..200).map(|n| crd_to_first_resource(instance, &format!("widget{n:03}s"))).collect();
        times.sort();
        println!(
            "== CRD created to its first custom resource created: p50 {}, p99 {} over {} CRDs (target ≤ 5 ms) ==",
            millis(percentile(&times, 50)),
            millis(percentile(&times, 99)),
            times.len()
        );
        print_start_cost(&runtime);
    }
    crd_to_first_resource(instance, "gadgets");
    let resource = instance.resource("bench.example.com", "v1", "gadgets").expect("gadgets are served");
    let scope = Scope { instance, resource: resource.clone(), namespace: Some("default") };
    let typical = custom_resource("gadgets", "typical");
    let admit = || {
        let mut object = typical.clone();
        kubetwin::crds::decode(&scope, &mut object, FieldValidation::Warn, true).expect("decodes");
        assert!(kubetwin::crds::object_errors(&resource, &object, None).is_empty(), "valid");
        object
    };
    assert_eq!(admit()["spec"]["mode"], "safe", "defaults are applied");
    if !support::quick() {
        let mut times: Vec<Duration> = (0..20_000)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(admit());
                started.elapsed()
            })
            .collect();
        times.sort();
        let micros = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "== validation, defaulting and pruning of a typical custom resource: p50 {:.1} µs, p99 {:.1} µs (target ≤ 50 µs) ==",
            micros(percentile(&times, 50)),
            micros(percentile(&times, 99)),
        );
    }
    c.bench_function("crds/validate_default_prune_typical_resource", |b| b.iter(admit));
    runtime.block_on(server.shutdown());
}

/// A server's start with and without 100 CRDs created before it is used (as `--crds DIR` and
/// the harness's `crds_from` do), averaged over 20 starts each.
fn print_start_cost(runtime: &tokio::runtime::Runtime) {
    let definitions: Vec<Value> = (0..100).map(|n| crd(&format!("preload{n:03}s"))).collect();
    let rounds = 20;
    let mean = |with_crds: bool| {
        let mut total = Duration::ZERO;
        for _ in 0..rounds {
            let started = Instant::now();
            let server = runtime.block_on(server());
            if with_crds {
                for definition in &definitions {
                    kubetwin::manifests::create(server.instance(), definition.clone(), "bench").expect("created");
                }
            }
            total += started.elapsed();
            runtime.block_on(server.shutdown());
        }
        total / rounds
    };
    let (plain, loaded) = (mean(false), mean(true));
    println!(
        "== start with 100 CRDs: {} vs {} without, {} added (target ≤ 50 ms) ==",
        millis(loaded),
        millis(plain),
        millis(loaded.saturating_sub(plain))
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = crd_benchmarks
}
criterion_main!(benches);
