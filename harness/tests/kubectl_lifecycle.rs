//! End-to-end with kubectl 1.33: the watch- and deletion-driven commands a person runs while
//! working with controllers: `get -w`, `wait` for deletion, a condition and a JSONPath value,
//! `delete --cascade` with each policy, and `delete ns`, which returns once the namespace is gone.

use kubetwin_harness::TestServer;
use std::time::Duration;

const OWNED: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: child
  ownerReferences:
  - apiVersion: v1
    kind: ConfigMap
    name: parent
    uid: PARENT_UID
    blockOwnerDeletion: true
"#;

async fn create_family(twin: &TestServer) {
    twin.kubectl(&["create", "configmap", "parent"]).await.ok();
    let uid = twin.kubectl(&["get", "configmap", "parent", "-o", "jsonpath={.metadata.uid}"]).await;
    twin.kubectl_with_input(&["apply", "-f", "-"], &OWNED.replace("PARENT_UID", uid.ok().trim())).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_prints_rows_as_objects_change() {
    let twin = TestServer::start().await.unwrap();
    let watch = twin.kubectl(&["get", "configmaps", "-w", "--request-timeout=2s"]);
    let changes = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        twin.kubectl(&["create", "configmap", "watched", "--from-literal=a=b"]).await.ok();
    };
    let (watched, ()) = tokio::join!(watch, changes);
    let rows: Vec<&str> = watched.stdout.lines().collect();
    assert_eq!(rows.first().map(|r| r.split_whitespace().collect::<Vec<_>>()), Some(vec!["NAME", "DATA", "AGE"]));
    assert!(
        rows.iter().any(|r| r.split_whitespace().take(2).eq(["watched", "1"])),
        "{}{}",
        watched.stdout,
        watched.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_delete_condition_and_jsonpath() {
    let twin = TestServer::start().await.unwrap();
    twin.kubectl(&["run", "web", "--image=nginx"]).await.ok();
    let phase = twin.kubectl(&["wait", "pod/web", "--for=jsonpath={.status.phase}=Pending", "--timeout=5s"]).await;
    assert_eq!(phase.ok().trim(), "pod/web condition met");

    let ready = twin.kubectl(&["wait", "pod/web", "--for=condition=Ready", "--timeout=5s"]);
    let make_ready = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let status = r#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#;
        twin.kubectl(&["patch", "pod", "web", "--subresource=status", "--type=merge", "-p", status]).await.ok();
    };
    let (ready, ()) = tokio::join!(ready, make_ready);
    assert_eq!(ready.ok().trim(), "pod/web condition met");

    let deleted = twin.kubectl(&["wait", "pod/web", "--for=delete", "--timeout=5s"]);
    let delete = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        twin.kubectl(&["delete", "pod", "web", "--wait=false"]).await.ok();
    };
    let (deleted, ()) = tokio::join!(deleted, delete);
    assert_eq!(deleted.ok().trim(), "pod/web condition met");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_cascade_background_foreground_and_orphan() {
    let twin = TestServer::start().await.unwrap();
    for cascade in ["background", "foreground"] {
        create_family(&twin).await;
        let deleted = twin.kubectl(&["delete", "configmap", "parent", &format!("--cascade={cascade}")]).await;
        assert_eq!(deleted.ok().trim(), "configmap \"parent\" deleted");
        let child = twin.kubectl(&["wait", "configmap/child", "--for=delete", "--timeout=5s"]).await;
        assert!(child.success, "{cascade}: {}{}", child.stdout, child.stderr);
    }
    create_family(&twin).await;
    twin.kubectl(&["delete", "configmap", "parent", "--cascade=orphan"]).await.ok();
    twin.kubectl(&["wait", "configmap/parent", "--for=delete", "--timeout=5s"]).await.ok();
    let owners = twin.kubectl(&["get", "configmap", "child", "-o", "jsonpath={.metadata.ownerReferences}"]).await;
    assert_eq!(owners.ok(), "", "the orphaned child keeps no reference to its deleted owner");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_namespace_returns_once_it_is_gone() {
    let twin = TestServer::start().await.unwrap();
    twin.kubectl(&["create", "namespace", "scratch"]).await.ok();
    for name in ["a", "b", "c"] {
        twin.kubectl(&["-n", "scratch", "create", "configmap", name]).await.ok();
    }
    twin.kubectl(&["-n", "scratch", "run", "web", "--image=nginx"]).await.ok();
    let deleted = twin.kubectl(&["delete", "namespace", "scratch", "--timeout=10s"]).await;
    assert_eq!(deleted.ok().trim(), "namespace \"scratch\" deleted");
    let gone = twin.kubectl(&["get", "namespace", "scratch"]).await;
    assert_eq!(gone.err().trim(), "Error from server (NotFound): namespaces \"scratch\" not found");
}

/// NamespaceLifecycle keeps `default`, `kube-system` and `kube-public` from being deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_immortal_namespaces_cannot_be_deleted() {
    let twin = TestServer::start().await.unwrap();
    for name in ["default", "kube-system", "kube-public"] {
        let refused = twin.kubectl(&["delete", "namespace", name]).await;
        let expected = format!(
            "Error from server (Forbidden): namespaces \"{name}\" is forbidden: this namespace may not be deleted"
        );
        assert_eq!(refused.err().trim(), expected);
    }
    let phase = twin.kubectl(&["get", "namespace", "default", "-o", "jsonpath={.status.phase}"]).await;
    assert_eq!(phase.ok(), "Active");
}
