//! End-to-end: request-header (front-proxy) authentication, as an authenticating proxy or the
//! aggregation layer uses it. A client certificate from the request-header CA with an allowed
//! CN vouches for the user in `X-Remote-User`, `X-Remote-Group` and `X-Remote-Extra-*`; the same
//! headers from the cluster admin's certificate are ignored; a front-proxy certificate without
//! a username, or with a CN not allowed, is 401; and the settings are published in
//! `extension-apiserver-authentication`.

use http::{HeaderName, HeaderValue};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kubetwin::auth::requestheader::RequestHeaderConfig;
use kubetwin::pki::{CertifiedKey, FrontProxy};
use kubetwin::server::ServerConfig;
use kubetwin_harness::TestServer;
use serde_json::{Value, json};

async fn start() -> (TestServer, FrontProxy) {
    let front_proxy = FrontProxy::generate().unwrap();
    let mut config = ServerConfig { secure_port: 0, ..ServerConfig::default() };
    config.instance.auth.requestheader = Some(RequestHeaderConfig::kubeadm(front_proxy.ca_cert_pem.clone()).unwrap());
    (TestServer::start_with(config).await.unwrap(), front_proxy)
}

/// A client presenting `cert` and sending `headers` on every request.
async fn client(twin: &TestServer, cert: &CertifiedKey, headers: &[(&str, &str)]) -> kube::Client {
    let ca = &twin.server().pki().ca_cert_pem;
    let kubeconfig = kubetwin::server::kubeconfig(&twin.url(), ca, &cert.cert_pem, &cert.key_pem, "proxy");
    let parsed = kube::config::Kubeconfig::from_yaml(&kubeconfig).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(parsed, &Default::default()).await.unwrap();
    config.headers = headers
        .iter()
        .map(|(name, value)| (HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap()))
        .collect();
    kube::Client::try_from(config).unwrap()
}

/// POSTs a SelfSubjectReview: the user the server sees, or the error status code.
async fn who_am_i(client: &kube::Client) -> Result<Value, u16> {
    let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let request = http::Request::post("/apis/authentication.k8s.io/v1/selfsubjectreviews")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    match client.request::<Value>(request).await {
        Ok(review) => Ok(review["status"]["userInfo"].clone()),
        Err(kube::Error::Api(status)) => Err(status.code),
        Err(other) => panic!("unexpected error: {other:?}"),
    }
}

const ALICE: &[(&str, &str)] =
    &[("X-Remote-User", "alice"), ("X-Remote-Group", "dev"), ("X-Remote-Extra-Example.com%2Fteam", "blue")];

#[tokio::test]
async fn a_front_proxy_certificate_vouches_for_the_user_in_its_headers() {
    let (twin, front_proxy) = start().await;
    let proxy = client(&twin, &front_proxy.client, ALICE).await;
    let user = who_am_i(&proxy).await.unwrap();
    assert_eq!(user["username"], "alice");
    assert_eq!(user["groups"], json!(["dev", "system:authenticated"]));
    assert_eq!(user["extra"], json!({"example.com/team": ["blue"]}));
}

#[tokio::test]
async fn the_headers_count_only_from_front_proxy_certificates() {
    let (twin, front_proxy) = start().await;
    let admin = client(&twin, &twin.server().pki().admin, ALICE).await;
    let user = who_am_i(&admin).await.unwrap();
    assert_eq!(user["username"], "kubetwin-admin");
    assert_eq!(user["groups"], json!(["system:masters", "system:authenticated"]));

    let anonymous_proxy = client(&twin, &front_proxy.client, &[("X-Remote-Group", "dev")]).await;
    assert_eq!(who_am_i(&anonymous_proxy).await, Err(401), "no username: the certificate is no user itself");
    let stranger = front_proxy.issue_client_cert("someone-else").unwrap();
    let not_allowed = client(&twin, &stranger, ALICE).await;
    assert_eq!(who_am_i(&not_allowed).await, Err(401), "a CN outside --requestheader-allowed-names");
}

#[tokio::test]
async fn the_request_header_settings_are_published_for_extension_apiservers() {
    let (twin, front_proxy) = start().await;
    let configmaps: Api<ConfigMap> = Api::namespaced(twin.client(), "kube-system");
    let data = configmaps.get("extension-apiserver-authentication").await.unwrap().data.unwrap();
    assert_eq!(data["client-ca-file"], twin.server().pki().ca_cert_pem);
    assert_eq!(data["requestheader-client-ca-file"], front_proxy.ca_cert_pem);
    assert_eq!(data["requestheader-allowed-names"], r#"["front-proxy-client"]"#);
    assert_eq!(data["requestheader-username-headers"], r#"["X-Remote-User"]"#);
    assert_eq!(data["requestheader-group-headers"], r#"["X-Remote-Group"]"#);
    assert_eq!(data["requestheader-extra-headers-prefix"], r#"["X-Remote-Extra-"]"#);
}
