//! End-to-end: authentication and authorization as clients meet them: anonymous access to the
//! public documents only, 401 for bad tokens, RBAC denials worded as kube-apiserver words them
//! and lifted by a binding, bound ServiceAccount tokens that die with their account, the
//! review APIs behind `kubectl auth`, impersonation, and the ServiceAccount admission plugin.

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kubetwin_harness::TestServer;
use serde_json::json;

fn status_of(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn bind_configmap_reader(twin: &TestServer, namespace: &str, subject: serde_json::Value) {
    let roles: Api<Role> = Api::namespaced(twin.client(), namespace);
    let role = json!({"metadata": {"name": "cm-reader"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]});
    roles.create(&PostParams::default(), &serde_json::from_value(role).unwrap()).await.unwrap();
    let bindings: Api<RoleBinding> = Api::namespaced(twin.client(), namespace);
    let binding = json!({"metadata": {"name": "cm-reader"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"}, "subjects": [subject]});
    bindings.create(&PostParams::default(), &serde_json::from_value(binding).unwrap()).await.unwrap();
}

#[tokio::test]
async fn anonymous_reads_public_documents_only_and_bad_tokens_get_401() {
    let twin = TestServer::start().await.unwrap();
    let anonymous = twin.anonymous_client().await.unwrap();
    let version = anonymous.apiserver_version().await.unwrap();
    assert_eq!(version.major, "1");
    let configmaps: Api<ConfigMap> = Api::namespaced(anonymous, "default");
    let denied = status_of(configmaps.list(&ListParams::default()).await.unwrap_err());
    assert_eq!((denied.code, denied.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        denied.message,
        "configmaps is forbidden: User \"system:anonymous\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\""
    );

    let forged = twin.client_with_token("eyJhbGciOiJFUzI1NiJ9.e30.AAAA").await.unwrap();
    let configmaps: Api<ConfigMap> = Api::namespaced(forged, "default");
    let unauthorized = status_of(configmaps.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(
        (unauthorized.code, unauthorized.reason.as_str(), unauthorized.message.as_str()),
        (401, "Unauthorized", "Unauthorized")
    );
}

#[tokio::test]
async fn rbac_denies_until_a_binding_allows() {
    let twin = TestServer::start().await.unwrap();
    let alice = twin.client_as_user("alice", &["dev"]).await.unwrap();
    let configmaps: Api<ConfigMap> = Api::namespaced(alice.clone(), "default");
    let denied = status_of(configmaps.get("kube-root-ca.crt").await.unwrap_err());
    assert_eq!(
        denied.message,
        "configmaps \"kube-root-ca.crt\" is forbidden: User \"alice\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"default\""
    );

    bind_configmap_reader(
        &twin,
        "default",
        json!({"kind": "Group", "name": "dev", "apiGroup": "rbac.authorization.k8s.io"}),
    )
    .await;
    let ca = configmaps.get("kube-root-ca.crt").await.unwrap();
    assert!(ca.data.unwrap()["ca.crt"].starts_with("-----BEGIN CERTIFICATE-----"));
    let elsewhere: Api<ConfigMap> = Api::namespaced(alice.clone(), "kube-system");
    assert_eq!(status_of(elsewhere.list(&ListParams::default()).await.unwrap_err()).code, 403);
    let writes = status_of(configmaps.delete("kube-root-ca.crt", &DeleteParams::default()).await.unwrap_err());
    assert_eq!(writes.code, 403);
}

#[tokio::test]
async fn a_client_certificate_names_every_group_it_was_issued_for() {
    let twin = TestServer::start().await.unwrap();
    let alice = twin.client_as_user("alice", &["dev", "qa"]).await.unwrap();
    let review: SelfSubjectReview =
        serde_json::from_value(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})).unwrap();
    let reviewed = Api::<SelfSubjectReview>::all(alice).create(&PostParams::default(), &review).await.unwrap();
    let user = reviewed.status.and_then(|s| s.user_info).unwrap();
    assert_eq!(user.username.as_deref(), Some("alice"));
    let groups = user.groups.unwrap_or_default();
    for group in ["dev", "qa", "system:authenticated"] {
        assert!(groups.iter().any(|g| g == group), "{group} missing from {groups:?}");
    }
}

#[tokio::test]
async fn service_account_tokens_work_until_the_account_is_deleted() {
    let twin = TestServer::start().await.unwrap();
    let accounts: Api<ServiceAccount> = Api::namespaced(twin.client(), "default");
    accounts
        .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "robot"}})).unwrap())
        .await
        .unwrap();
    let robot = twin.client_for_service_account("default", "robot").await.unwrap();
    let configmaps: Api<ConfigMap> = Api::namespaced(robot.clone(), "default");
    let denied = status_of(configmaps.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(
        denied.message,
        "configmaps is forbidden: User \"system:serviceaccount:default:robot\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\""
    );
    bind_configmap_reader(&twin, "default", json!({"kind": "ServiceAccount", "name": "robot", "namespace": "default"}))
        .await;
    assert!(!configmaps.list(&ListParams::default()).await.unwrap().items.is_empty());

    accounts.delete("robot", &DeleteParams::default()).await.unwrap();
    let revoked = status_of(configmaps.list(&ListParams::default()).await.unwrap_err());
    assert_eq!((revoked.code, revoked.message.as_str()), (401, "Unauthorized"));
}

#[tokio::test]
async fn pods_get_their_service_account_and_api_access_volume() {
    let twin = TestServer::start().await.unwrap();
    twin.kubectl(&["create", "namespace", "fresh"]).await.ok();
    twin.kubectl(&["-n", "fresh", "run", "web", "--image=nginx"]).await.ok();
    let pods: Api<Pod> = Api::namespaced(twin.client(), "fresh");
    let spec = pods.get("web").await.unwrap().spec.unwrap();
    assert_eq!(spec.service_account_name.as_deref(), Some("default"));
    let volume = spec.volumes.unwrap().into_iter().next().unwrap();
    assert!(volume.name.starts_with("kube-api-access-"), "{}", volume.name);
    let sources = volume.projected.unwrap().sources.unwrap();
    assert_eq!(sources[0].service_account_token.as_ref().unwrap().expiration_seconds, Some(3607));
    let mounts = spec.containers[0].volume_mounts.clone().unwrap();
    assert_eq!(mounts[0].mount_path, "/var/run/secrets/kubernetes.io/serviceaccount");

    let orphan = json!({"metadata": {"name": "lost"}, "spec": {"serviceAccountName": "missing", "containers": [{"name": "c", "image": "nginx"}]}});
    let refused =
        status_of(pods.create(&PostParams::default(), &serde_json::from_value(orphan).unwrap()).await.unwrap_err());
    assert_eq!(
        (refused.code, refused.message.as_str()),
        (
            403,
            "pods \"lost\" is forbidden: error looking up service account fresh/missing: serviceaccount \"missing\" not found"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_auth_commands_and_impersonation() {
    let twin = TestServer::start().await.unwrap();
    let whoami =
        twin.kubectl(&["auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"]).await;
    assert_eq!(whoami.ok(), "kubetwin-admin [\"system:masters\",\"system:authenticated\"]");
    assert_eq!(twin.kubectl(&["auth", "can-i", "delete", "nodes"]).await.ok().trim(), "yes");
    let alice = twin.kubectl(&["auth", "can-i", "list", "secrets", "--as", "alice"]).await;
    assert_eq!((alice.success, alice.stdout.trim()), (false, "no"));
    let as_alice = twin.kubectl(&["get", "configmaps", "--as", "alice"]).await;
    assert!(
        as_alice.err().contains(
            "User \"alice\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\""
        ),
        "{}",
        as_alice.stderr
    );

    let token = twin.kubectl(&["create", "token", "default", "--duration=10m"]).await;
    let token = token.ok().trim().to_string();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
    // Kinds without a PATCH operation make kubectl validate against /openapi/v2 in protobuf,
    // which kubetwin does not serve; hence --validate=false.
    let args = ["create", "--validate=false", "-f", "-", "-o", "jsonpath={.status.user.username}"];
    let reviewed = twin.kubectl_with_input(&args, &review.to_string()).await;
    assert_eq!(reviewed.ok(), "system:serviceaccount:default:default");

    let bob = twin.client_as_user("bob", &[]).await.unwrap();
    let mut config_request =
        http::Request::get("/api/v1/namespaces/default/configmaps").header("Impersonate-User", "alice");
    config_request = config_request.header("Accept", "application/json");
    let refused = bob.request::<serde_json::Value>(config_request.body(Vec::new()).unwrap()).await.unwrap_err();
    assert_eq!(
        status_of(refused).message,
        "users \"alice\" is forbidden: User \"bob\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
    );
}

#[tokio::test]
async fn every_namespace_gets_and_keeps_its_default_service_account_and_ca_bundle() {
    use k8s_openapi::api::core::v1::Namespace;
    let twin = TestServer::start().await.unwrap();
    let namespace = json!({"metadata": {"name": "team"}});
    let namespaces: Api<Namespace> = Api::all(twin.client());
    namespaces.create(&PostParams::default(), &serde_json::from_value(namespace).unwrap()).await.unwrap();
    let timeout = std::time::Duration::from_secs(5);
    for round in ["created with the namespace", "recreated after a delete"] {
        let account = twin.wait_for::<ServiceAccount>(Some("team"), "default", timeout, |_| true).await;
        let bundle = twin.wait_for::<ConfigMap>(Some("team"), "kube-root-ca.crt", timeout, |_| true).await;
        let (account, bundle) = (account.expect(round), bundle.expect(round));
        let ca = &bundle.data.unwrap()["ca.crt"];
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{round}: {ca}");
        assert_eq!(account.metadata.namespace.as_deref(), Some("team"));
        let delete = DeleteParams::default();
        Api::<ServiceAccount>::namespaced(twin.client(), "team").delete("default", &delete).await.unwrap();
        Api::<ConfigMap>::namespaced(twin.client(), "team").delete("kube-root-ca.crt", &delete).await.unwrap();
    }
}
