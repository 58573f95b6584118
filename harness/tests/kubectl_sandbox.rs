//! End-to-end: kubectl 1.33 against kubetwin, doing what a newcomer tries first in a fresh
//! sandbox. Each test starts its own server and runs the real kubectl binary.

use kubetwin_harness::TestServer;
use serde_json::Value;

fn parse(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("kubectl printed invalid JSON ({e}):\n{json}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_api_resources_and_namespaces() {
    let twin = TestServer::start().await.unwrap();
    let version = twin.kubectl(&["version", "-o", "json"]).await;
    let version = parse(version.ok());
    assert_eq!(version["serverVersion"]["minor"], "36");
    assert!(version["serverVersion"]["gitVersion"].as_str().unwrap().contains("kubetwin"));

    let resources = twin.kubectl(&["api-resources"]).await;
    let resources = resources.ok();
    let pods_line = resources.lines().find(|l| l.starts_with("pods ")).expect("pods listed");
    assert!(
        pods_line.contains(" po ")
            && pods_line.contains("v1")
            && pods_line.contains("true")
            && pods_line.contains("Pod"),
        "{pods_line}"
    );
    assert!(resources.lines().any(|l| l.starts_with("deployments ") && l.contains("apps/v1")), "{resources}");

    let namespaces = twin.kubectl(&["get", "ns"]).await;
    let namespaces = namespaces.ok();
    assert!(namespaces.starts_with("NAME"), "{namespaces}");
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            namespaces.lines().any(|l| l.starts_with(name) && l.contains("Active")),
            "{name} missing:\n{namespaces}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_label_annotate_and_patch_a_configmap() {
    let twin = TestServer::start().await.unwrap();
    twin.kubectl(&["create", "configmap", "app", "--from-literal=color=blue"]).await.ok();
    twin.kubectl(&["label", "configmap", "app", "tier=web"]).await.ok();
    twin.kubectl(&["annotate", "configmap", "app", "owner=me"]).await.ok();
    twin.kubectl(&["patch", "configmap", "app", "-p", r#"{"data":{"size":"large"}}"#]).await.ok();
    twin.kubectl(&["patch", "configmap", "app", "--type=merge", "-p", r#"{"data":{"color":"green"}}"#]).await.ok();
    twin.kubectl(&["patch", "configmap", "app", "--type=json", "-p", r#"[{"op":"remove","path":"/data/size"}]"#])
        .await
        .ok();
    let object = parse(twin.kubectl(&["get", "configmap", "app", "-o", "json"]).await.ok());
    assert_eq!(object["data"], serde_json::json!({"color": "green"}));
    assert_eq!(object["metadata"]["labels"]["tier"], "web");
    assert_eq!(object["metadata"]["annotations"]["owner"], "me");
    let jsonpath = twin.kubectl(&["get", "configmap", "app", "-o", "jsonpath={.data.color}"]).await;
    assert_eq!(jsonpath.ok(), "green");
    let yaml = twin.kubectl(&["get", "configmap", "app", "-o", "yaml"]).await;
    assert!(yaml.ok().contains("color: green"));
    let table = twin.kubectl(&["get", "configmaps"]).await;
    let table = table.ok();
    assert!(table.lines().next().unwrap().split_whitespace().collect::<Vec<_>>() == ["NAME", "DATA", "AGE"], "{table}");
    assert!(table.lines().any(|l| l.starts_with("app ") && l.split_whitespace().nth(1) == Some("1")), "{table}");
}

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_twice_diff_and_scale() {
    let twin = TestServer::start().await.unwrap();
    let first = twin.kubectl_with_input(&["apply", "-f", "-"], DEPLOYMENT).await;
    assert_eq!(first.ok().trim(), "deployment.apps/web created");
    let second = twin.kubectl_with_input(&["apply", "-f", "-"], DEPLOYMENT).await;
    assert_eq!(second.ok().trim(), "deployment.apps/web unchanged");
    let same = twin.kubectl_with_input(&["diff", "-f", "-"], DEPLOYMENT).await;
    assert!(same.success, "no difference expected:\n{}{}", same.stdout, same.stderr);
    let changed = twin.kubectl_with_input(&["diff", "-f", "-"], &DEPLOYMENT.replace("nginx:1.27", "nginx:1.28")).await;
    assert!(
        !changed.success && changed.stdout.contains("+      - image: nginx:1.28"),
        "{}{}",
        changed.stdout,
        changed.stderr
    );
    let updated = twin.kubectl_with_input(&["apply", "-f", "-"], &DEPLOYMENT.replace("nginx:1.27", "nginx:1.28")).await;
    assert_eq!(updated.ok().trim(), "deployment.apps/web configured");
    twin.kubectl(&["scale", "deployment", "web", "--replicas=5"]).await.ok();
    let replicas = twin
        .kubectl(&[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.replicas} {.metadata.generation} {.spec.template.spec.containers[0].image}",
        ])
        .await;
    assert_eq!(replicas.ok(), "5 3 nginx:1.28");
    let table = twin.kubectl(&["get", "deployments"]).await;
    let header: Vec<&str> = table.ok().lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_a_pod_and_read_it_back() {
    let twin = TestServer::start().await.unwrap();
    twin.kubectl(&["run", "web", "--image=nginx", "--labels=app=web"]).await.ok();
    let pods = twin.kubectl(&["get", "pods"]).await;
    let pods = pods.ok();
    let header: Vec<&str> = pods.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    let row: Vec<&str> = pods.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..4], ["web", "0/1", "Pending", "0"]);
    let selected = twin.kubectl(&["get", "pods", "-l", "app=web", "-o", "name"]).await;
    assert_eq!(selected.ok().trim(), "pod/web");
    let none = twin.kubectl(&["get", "pods", "-l", "app=other"]).await;
    assert!(none.stderr.contains("No resources found in default namespace."), "{}", none.stderr);
    twin.kubectl(&["delete", "pod", "web"]).await.ok();
    let gone = twin.kubectl(&["get", "pod", "web"]).await;
    assert!(gone.err().contains("Error from server (NotFound): pods \"web\" not found"), "{}", gone.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_read_as_kube_apiserver_words_them() {
    let twin = TestServer::start().await.unwrap();
    // `kubectl create configmap` sends protobuf and words its own errors.
    twin.kubectl(&["create", "configmap", "dup"]).await.ok();
    let exists = twin.kubectl(&["create", "configmap", "dup"]).await;
    assert_eq!(exists.err().trim(), "error: failed to create configmap: configmaps \"dup\" already exists");
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\n";
    let exists = twin.kubectl_with_input(&["create", "-f", "-"], manifest).await;
    assert!(
        exists.err().contains(
            "Error from server (AlreadyExists): error when creating \"STDIN\": configmaps \"dup\" already exists"
        ),
        "{}",
        exists.stderr
    );
    let missing_ns = twin.kubectl_with_input(&["create", "-n", "nope", "-f", "-"], manifest).await;
    assert!(
        missing_ns
            .err()
            .contains("Error from server (NotFound): error when creating \"STDIN\": namespaces \"nope\" not found"),
        "{}",
        missing_ns.stderr
    );
    let strict = twin
        .kubectl_with_input(
            &["create", "-f", "-"],
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strict\nspec:\n  foo: 1\n",
        )
        .await;
    assert!(strict.err().contains("unknown field \"spec\""), "{}", strict.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_and_raw_documents() {
    let twin = TestServer::start().await.unwrap();
    let explain = twin.kubectl(&["explain", "deployment.spec.replicas"]).await;
    let explain = explain.ok();
    assert!(explain.contains("GROUP:") && explain.contains("apps"), "{explain}");
    assert!(explain.contains("Number of desired pods"), "{explain}");
    let raw = parse(twin.kubectl(&["get", "--raw", "/api/v1"]).await.ok());
    assert_eq!(raw["kind"], "APIResourceList");
    let healthz = twin.kubectl(&["get", "--raw", "/readyz?verbose"]).await;
    assert!(healthz.ok().contains("readyz check passed"));
    let apis = parse(twin.kubectl(&["get", "--raw", "/apis"]).await.ok());
    assert_eq!(apis["kind"], "APIGroupList");
}
