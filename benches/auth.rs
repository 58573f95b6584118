//! What authentication plus authorization cost one request, through the functions the request
//! pipeline calls (`authenticate::authenticate`, then `authorize::authorize`), under RBAC with
//! 1,000 RoleBindings in the namespace asked about: a client-certificate identity, a
//! ServiceAccount token the token cache already holds, and (for comparison) the same token
//! verified afresh, signature included. Target: ≤ 10 µs per request for the first two.

mod support;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use http::{HeaderMap, HeaderValue, Method};
use kubetwin::auth::{UserInfo, authenticate, authorize, tokens};
use kubetwin::http::ApiRequest;
use kubetwin::http::query::Query;
use kubetwin::http::tls::PeerIdentity;
use kubetwin::instance::Instance;
use kubetwin::pki::CertificateSubject;
use kubetwin::registry::Scope;
use kubetwin::registry::rest::WriteOptions;
use kubetwin::request_info::{RequestInfo, VerbHints};
use kubetwin::server::{Server, ServerConfig};
use serde_json::{Value, json};
use std::hint::black_box;

const NAMESPACE: &str = "default";
const BINDINGS: usize = 1000;
const PATH: &str = "/api/v1/namespaces/default/configmaps/kube-root-ca.crt";

fn create(instance: &Instance, plural: &str, group: &str, version: &str, object: Value) -> Value {
    let resource = instance.resource(group, version, plural).expect("a built-in resource");
    let scope = Scope { instance, resource, namespace: Some(NAMESPACE) };
    scope.create(object, &WriteOptions::default()).expect("a valid object").object.to_value()
}

fn binding(name: &str, subject: Value) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [subject],
    })
}

/// The policy: 1,000 bindings for other users, one for alice and one for the robot account.
fn populate(instance: &Instance) -> String {
    for n in 0..BINDINGS {
        let subject = json!({"kind": "User", "name": format!("user-{n}"), "apiGroup": "rbac.authorization.k8s.io"});
        create(instance, "rolebindings", "rbac.authorization.k8s.io", "v1", binding(&format!("other-{n}"), subject));
    }
    let alice = json!({"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"});
    create(instance, "rolebindings", "rbac.authorization.k8s.io", "v1", binding("alice", alice));
    let robot = json!({"kind": "ServiceAccount", "name": "robot", "namespace": NAMESPACE});
    create(instance, "rolebindings", "rbac.authorization.k8s.io", "v1", binding("robot", robot));
    let account = create(
        instance,
        "serviceaccounts",
        "",
        "v1",
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}}),
    );
    let uid = account["metadata"]["uid"].as_str().expect("a uid");
    let signer = instance.auth.signer.get().expect("the server has a signing key");
    let now = instance.clock.unix_seconds();
    let claims =
        tokens::bound_claims(&signer.issuer, &signer.audiences, NAMESPACE, ("robot", uid), None, now, 3600, "j");
    signer.sign(&claims)
}

fn request(peer: PeerIdentity, bearer: Option<&str>) -> ApiRequest {
    let mut headers = HeaderMap::new();
    if let Some(token) = bearer {
        headers.insert("authorization", HeaderValue::from_str(&format!("Bearer {token}")).expect("a header value"));
    }
    ApiRequest {
        method: Method::GET,
        path: PATH.into(),
        query: Query::parse(""),
        headers,
        body: Bytes::new(),
        peer,
        user: UserInfo::default(),
    }
}

/// Authenticates and authorizes `request` as the pipeline does; RBAC decides without waiting.
fn identify(instance: &Instance, info: &RequestInfo, request: &ApiRequest) -> UserInfo {
    let user = authenticate::authenticate(instance, request).expect("authenticated");
    authorize::authorize(instance, &user, info).now_or_never().expect("RBAC does not wait").expect("allowed");
    user
}

fn auth(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let server = runtime.block_on(Server::start(ServerConfig { secure_port: 0, ..ServerConfig::default() })).unwrap();
    let instance = server.instance().clone();
    let token = populate(&instance);
    let info = RequestInfo::parse("GET", PATH, VerbHints::default());
    let x509 = request(
        PeerIdentity(Some(CertificateSubject { user: "alice".into(), groups: vec!["dev".into()], issuer: Vec::new() })),
        None,
    );
    let bearer = request(PeerIdentity(None), Some(&token));
    assert_eq!(identify(&instance, &info, &bearer).name, "system:serviceaccount:default:robot");

    let mut group = c.benchmark_group("auth");
    group.bench_function("x509_rbac_1000_bindings", |b| b.iter(|| identify(&instance, &info, black_box(&x509))));
    group.bench_function("cached_token_rbac_1000_bindings", |b| {
        b.iter(|| identify(&instance, &info, black_box(&bearer)))
    });
    let audiences = instance.auth.signer.get().unwrap().audiences.clone();
    group.bench_function("uncached_token_verification", |b| {
        b.iter(|| authenticate::authenticate_token(&instance, black_box(&token), Some(&audiences)).unwrap())
    });
    group.finish();
    drop(server);
}

criterion_group!(benches, auth);
criterion_main!(benches);
