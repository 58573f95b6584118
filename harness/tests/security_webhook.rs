//! End-to-end: the Webhook authorizer (`--authorization-mode=...,Webhook`). The webhook is a
//! second kubetwin serving SubjectAccessReview over HTTPS with its own CA, reached with a
//! client certificate through a kubeconfig-format `--authorization-webhook-config-file`, and
//! answering from its own RBAC: the delegated set-up of a kube-apiserver whose webhook is
//! another API server. The tests check allow, no opinion (then 403), an explicit deny that wins
//! over RBAC, the decision cache, that the webhook received SubjectAccessReviews from the
//! server's client certificate, and that a webhook that cannot be reached fails closed (500)
//! unless a later authorizer allows, as kube-apiserver's union authorizer does.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kubetwin::cli::apiserver_flags::ApiserverFlags;
use kubetwin_harness::TestServer;
use serde_json::json;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

const REVIEWS_PATH: &str = "/apis/authorization.k8s.io/v1/subjectaccessreviews";

fn status_of(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// A kubeconfig naming `webhook`'s SubjectAccessReview endpoint, its CA and its admin client
/// certificate.
fn webhook_kubeconfig(webhook: &TestServer, dir: &Path) -> PathBuf {
    let pki = webhook.server().pki();
    let url = format!("{}{REVIEWS_PATH}", webhook.url());
    let text =
        kubetwin::server::kubeconfig(&url, &pki.ca_cert_pem, &pki.admin.cert_pem, &pki.admin.key_pem, "apiserver");
    let path = dir.join("authorization-webhook.kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}

/// A server started from a kube-apiserver command line, as `kubetwin` as `kube-apiserver` is.
async fn start_with_flags(flags: &[String]) -> TestServer {
    let args: Vec<OsString> = flags.iter().map(OsString::from).collect();
    let mut config = ApiserverFlags::parse(&args).unwrap().server_config().unwrap();
    config.secure_port = 0;
    TestServer::start_with(config).await.unwrap()
}

async fn bind_configmap_reader(twin: &TestServer, subject: serde_json::Value) {
    let roles: Api<Role> = Api::namespaced(twin.client(), "default");
    let role = json!({"metadata": {"name": "cm-reader"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]});
    roles.create(&PostParams::default(), &serde_json::from_value(role).unwrap()).await.unwrap();
    let bindings: Api<RoleBinding> = Api::namespaced(twin.client(), "default");
    let binding = json!({"metadata": {"name": "cm-reader"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"}, "subjects": [subject]});
    bindings.create(&PostParams::default(), &serde_json::from_value(binding).unwrap()).await.unwrap();
}

#[tokio::test]
async fn the_webhook_allows_what_rbac_does_not_and_its_answers_are_cached() {
    let webhook = TestServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = webhook_kubeconfig(&webhook, dir.path());
    let twin = start_with_flags(&[
        "--authorization-mode=RBAC,Webhook".into(),
        format!("--authorization-webhook-config-file={}", kubeconfig.display()),
    ])
    .await;
    let alice = twin.client_as_user("alice", &["dev"]).await.unwrap();
    let configmaps: Api<ConfigMap> = Api::namespaced(alice.clone(), "default");

    let mark = webhook.mark();
    let denied = status_of(configmaps.get("kube-root-ca.crt").await.unwrap_err());
    assert_eq!(
        (denied.code, denied.message.as_str()),
        (
            403,
            "configmaps \"kube-root-ca.crt\" is forbidden: User \"alice\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"default\""
        ),
        "neither RBAC nor the webhook allows it yet"
    );
    let reviews = webhook.requests().since(mark).matching("create", "subjectaccessreviews").into_vec();
    assert_eq!(reviews.len(), 1, "one SubjectAccessReview for one decision");
    assert_eq!(
        (reviews[0].path.as_str(), reviews[0].user.as_str(), reviews[0].code),
        (REVIEWS_PATH, "kubetwin-admin", 201),
        "POSTed to the configured path with the kubeconfig's client certificate"
    );

    // The webhook's own RBAC now allows the group: its answer names alice, her groups, the
    // verb, resource and namespace, or this binding would not match. The no-opinion answer
    // above is cached for 30s, so ask about another configmap.
    bind_configmap_reader(&webhook, json!({"kind": "Group", "name": "dev", "apiGroup": "rbac.authorization.k8s.io"}))
        .await;
    let allowed = configmaps.get_opt("other").await.unwrap();
    assert!(allowed.is_none(), "allowed through, then 404 as the configmap does not exist");
    let list = configmaps.list(&ListParams::default()).await.unwrap();
    assert!(list.items.iter().any(|cm| cm.metadata.name.as_deref() == Some("kube-root-ca.crt")));
    let elsewhere: Api<ConfigMap> = Api::namespaced(alice.clone(), "kube-system");
    assert_eq!(status_of(elsewhere.list(&ListParams::default()).await.unwrap_err()).code, 403);

    // Allowed answers are kept for 5 minutes: revoking on the webhook's side does not reach
    // the server until then, and the webhook is not asked again.
    let bindings: Api<RoleBinding> = Api::namespaced(webhook.client(), "default");
    bindings.delete("cm-reader", &DeleteParams::default()).await.unwrap();
    let mark = webhook.mark();
    configmaps.list(&ListParams::default()).await.unwrap();
    assert!(webhook.requests().since(mark).matching("create", "subjectaccessreviews").is_empty());
}

#[tokio::test]
async fn an_explicit_webhook_deny_wins_and_an_unreachable_webhook_fails_closed() {
    let webhook = TestServer::builder().authorization_mode("AlwaysDeny").unwrap().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = webhook_kubeconfig(&webhook, dir.path());
    let twin = start_with_flags(&[
        "--authorization-mode=Webhook,RBAC".into(),
        format!("--authorization-webhook-config-file={}", kubeconfig.display()),
        "--authorization-webhook-version=v1".into(),
        "--authorization-webhook-cache-unauthorized-ttl=0".into(),
    ])
    .await;
    bind_configmap_reader(&twin, json!({"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}))
        .await;
    let alice = twin.client_as_user("alice", &[]).await.unwrap();
    let configmaps: Api<ConfigMap> = Api::namespaced(alice.clone(), "default");
    let denied = status_of(configmaps.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(
        (denied.code, denied.message.as_str()),
        (
            403,
            "configmaps is forbidden: User \"alice\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\": Everything is forbidden."
        ),
        "the webhook's explicit deny comes first and carries its reason"
    );

    let webhook_url = format!("{}{REVIEWS_PATH}", webhook.url());
    drop(webhook);
    let secrets: Api<Secret> = Api::namespaced(alice, "default");
    let failed = status_of(secrets.list(&ListParams::default()).await.unwrap_err());
    assert_eq!((failed.code, failed.reason.as_str()), (500, "InternalError"));
    assert!(
        failed.message.starts_with(&format!("Internal error occurred: Post \"{webhook_url}\": ")),
        "{}",
        failed.message
    );
    let configmaps = configmaps.list(&ListParams::default()).await;
    assert!(configmaps.is_ok(), "a failed webhook has no opinion, so RBAC after it still allows; nothing was cached");
}
