//! End-to-end: legacy ServiceAccount token Secrets as kube-controller-manager's tokens
//! controller and kube-apiserver's legacy token authenticator handle them. A
//! `kubernetes.io/service-account-token` Secret gets a token, the cluster CA and its namespace;
//! the token authenticates as its ServiceAccount under RBAC until the Secret is deleted; a
//! Secret naming a missing ServiceAccount is deleted, and so are a deleted ServiceAccount's
//! token Secrets; a fresh server settles without a write.

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kubetwin_harness::TestServer;
use serde_json::json;
use std::time::Duration;

const TOKEN_TYPE: &str = "kubernetes.io/service-account-token";

fn status_of(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn create_account(twin: &TestServer, name: &str) {
    let accounts: Api<ServiceAccount> = Api::namespaced(twin.client(), "default");
    let account = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    accounts.create(&PostParams::default(), &account).await.unwrap();
}

async fn create_token_secret(twin: &TestServer, name: &str, account: &str) {
    let secrets: Api<Secret> = Api::namespaced(twin.client(), "default");
    let secret = json!({
        "metadata": {"name": name, "annotations": {"kubernetes.io/service-account.name": account}},
        "type": TOKEN_TYPE,
    });
    secrets.create(&PostParams::default(), &serde_json::from_value(secret).unwrap()).await.unwrap();
}

/// Polls (5 s at most) until `done` holds for the Secret `name` (None: it does not exist).
async fn wait_for_secret(twin: &TestServer, name: &str, done: impl Fn(Option<&Secret>) -> bool) -> Option<Secret> {
    let secrets: Api<Secret> = Api::namespaced(twin.client(), "default");
    for _ in 0..100 {
        let secret = secrets.get_opt(name).await.unwrap();
        if done(secret.as_ref()) {
            return secret;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("secret {name} did not reach the expected state within 5 s");
}

fn data(secret: &Secret, key: &str) -> String {
    let bytes = &secret.data.as_ref().unwrap()[key].0;
    String::from_utf8(bytes.clone()).unwrap()
}

#[tokio::test]
async fn a_token_secret_gets_a_token_that_works_until_the_secret_is_deleted() {
    let twin = TestServer::start().await.unwrap();
    create_account(&twin, "robot").await;
    create_token_secret(&twin, "robot-token", "robot").await;
    let filled = wait_for_secret(&twin, "robot-token", |secret| {
        secret.and_then(|s| s.data.as_ref()).is_some_and(|data| data.contains_key("token"))
    })
    .await
    .unwrap();
    let ca: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    let cluster_ca = ca.get("kube-root-ca.crt").await.unwrap().data.unwrap()["ca.crt"].clone();
    assert_eq!(data(&filled, "ca.crt"), cluster_ca);
    assert_eq!(data(&filled, "namespace"), "default");
    let accounts: Api<ServiceAccount> = Api::namespaced(twin.client(), "default");
    let uid = accounts.get("robot").await.unwrap().metadata.uid.unwrap();
    let annotations = filled.metadata.annotations.clone().unwrap();
    assert_eq!(annotations["kubernetes.io/service-account.uid"], uid);
    let writers: Vec<_> = filled
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|entry| (entry.manager.clone().unwrap_or_default(), entry.operation.clone().unwrap_or_default()))
        .collect();
    assert!(writers.contains(&("kube-controller-manager".into(), "Update".into())), "{writers:?}");
    let token = data(&filled, "token");
    assert_eq!(token.split('.').count(), 3, "a compact JWT");

    let robot = twin.client_with_token(&token).await.unwrap();
    let review: SelfSubjectReview =
        serde_json::from_value(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})).unwrap();
    let reviewed = Api::<SelfSubjectReview>::all(robot.clone()).create(&PostParams::default(), &review).await.unwrap();
    let user = reviewed.status.and_then(|s| s.user_info).unwrap();
    assert_eq!(user.username.as_deref(), Some("system:serviceaccount:default:robot"));
    assert_eq!(user.uid.as_deref(), Some(uid.as_str()));
    assert_eq!(
        user.groups.unwrap_or_default(),
        ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]
    );

    let secrets: Api<Secret> = Api::namespaced(robot.clone(), "default");
    let denied = status_of(secrets.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(
        (denied.code, denied.message.as_str()),
        (
            403,
            "secrets is forbidden: User \"system:serviceaccount:default:robot\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\""
        )
    );
    let used = Api::<Secret>::namespaced(twin.client(), "default").get("robot-token").await.unwrap();
    let labels = used.metadata.labels.unwrap_or_default();
    assert!(labels.contains_key("kubernetes.io/legacy-token-last-used"), "the use is dated: {labels:?}");

    Api::<Secret>::namespaced(twin.client(), "default").delete("robot-token", &DeleteParams::default()).await.unwrap();
    let revoked = status_of(secrets.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(
        (revoked.code, revoked.reason.as_str(), revoked.message.as_str()),
        (401, "Unauthorized", "Unauthorized")
    );
}

#[tokio::test]
async fn token_secrets_without_their_service_account_are_deleted() {
    let twin = TestServer::start().await.unwrap();
    create_token_secret(&twin, "orphan-token", "missing").await;
    wait_for_secret(&twin, "orphan-token", |secret| secret.is_none()).await;

    create_account(&twin, "robot").await;
    create_token_secret(&twin, "robot-a", "robot").await;
    create_token_secret(&twin, "robot-b", "robot").await;
    for name in ["robot-a", "robot-b"] {
        wait_for_secret(&twin, name, |secret| {
            secret.and_then(|s| s.data.as_ref()).is_some_and(|data| data.contains_key("token"))
        })
        .await;
    }
    let accounts: Api<ServiceAccount> = Api::namespaced(twin.client(), "default");
    accounts.delete("robot", &DeleteParams::default()).await.unwrap();
    for name in ["robot-a", "robot-b"] {
        wait_for_secret(&twin, name, |secret| secret.is_none()).await;
    }
}

#[tokio::test]
async fn a_fresh_server_settles_without_a_token_controller_write() {
    let twin = TestServer::start().await.unwrap();
    let store = &twin.server().instance().store;
    let revision = store.current_revision();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.current_revision(), revision);
}
