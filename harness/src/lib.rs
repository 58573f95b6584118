//! `kubetwin-harness`: the cargo-test fixture. [`TestServer::start`] gives each test its own
//! isolated kubetwin on a free loopback port, with a ready admin [`kube::Client`] and a
//! kubeconfig file that kubectl, helm or any subprocess can use. Dropping it shuts the server
//! down and removes its files.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use k8s_openapi::api::core::v1::Namespace;
//! use kube::api::Api;
//! let twin = kubetwin_harness::TestServer::start().await?;
//! let namespaces: Api<Namespace> = Api::all(twin.client());
//! assert!(namespaces.get("default").await.is_ok());
//! # Ok(())
//! # }
//! ```

pub mod builder;
pub mod clients;
pub mod direct;
pub mod faults;
pub mod requests;
pub mod snapshot;
pub mod waiting;

pub use builder::TestServerBuilder;
pub use faults::{FaultGuard, Verb};
pub use requests::{Mark, RecordedRequest, Requests};
pub use waiting::WaitError;

use kubetwin::server::{Server, ServerConfig};
use std::path::Path;

/// Why a test server could not start.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The PKI every harness server in this process serves with.
fn shared_pki() -> Result<std::sync::Arc<kubetwin::pki::Pki>, Error> {
    static SHARED: std::sync::OnceLock<std::sync::Arc<kubetwin::pki::Pki>> = std::sync::OnceLock::new();
    if let Some(pki) = SHARED.get() {
        return Ok(pki.clone());
    }
    let first_service_ip = ServerConfig::default().instance.service_cluster_ip_range.first();
    let names = kubetwin::pki::ServingNames::standard(std::net::IpAddr::V4(first_service_ip), &[]);
    let pki = std::sync::Arc::new(kubetwin::pki::Pki::generate(&names)?);
    Ok(SHARED.get_or_init(|| pki).clone())
}

async fn config_from(kubeconfig: &str) -> Result<kube::Config, Error> {
    let parsed = kube::config::Kubeconfig::from_yaml(kubeconfig)?;
    Ok(kube::Config::from_custom_kubeconfig(parsed, &kube::config::KubeConfigOptions::default()).await?)
}

/// One isolated API server for one test.
pub struct TestServer {
    server: Server,
    client: kube::Client,
    kubeconfig: tempfile::NamedTempFile,
    /// The store revision once the server was ready: snapshots show what came after.
    baseline_revision: i64,
    deterministic: bool,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer").field("url", &self.server.url()).finish_non_exhaustive()
    }
}

impl TestServer {
    /// Starts a server on a free loopback port. Servers in one process share one PKI (a CA,
    /// serving and admin certificates issued once); nothing else is shared.
    pub async fn start() -> Result<TestServer, Error> {
        Self::start_with(ServerConfig { secure_port: 0, shared_pki: Some(shared_pki()?), ..ServerConfig::default() })
            .await
    }

    /// A builder for a server with CRDs, objects, another authorizer or a deterministic clock.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    /// Starts a server from an explicit configuration (the port should be 0).
    pub async fn start_with(config: ServerConfig) -> Result<TestServer, Error> {
        let deterministic = config.deterministic_seed.is_some();
        let server = Server::start(config).await?;
        server.instance().requests.enable();
        let kubeconfig = tempfile::Builder::new().prefix("kubetwin-").suffix(".kubeconfig").tempfile()?;
        server.write_kubeconfig(kubeconfig.path())?;
        let config = config_from(&server.admin_kubeconfig()).await?;
        let client = kube::Client::try_from(config)?;
        let baseline_revision = server.instance().store.current_revision();
        Ok(TestServer { server, client, kubeconfig, baseline_revision, deterministic })
    }

    /// Installs server-side faults; see [`faults::FaultBuilder`].
    pub fn faults(&self) -> faults::FaultBuilder {
        faults::FaultBuilder::new(self.server.instance().clone())
    }

    /// Every request served so far, in order.
    pub fn requests(&self) -> Requests {
        Requests::new(self.server.instance().requests.entries())
    }

    /// The current end of the request log, for [`Requests::since`].
    pub fn mark(&self) -> Mark {
        Mark(self.server.instance().requests.len())
    }

    /// Moves a deterministic server's clock forward (TTLs, token expiry, ages).
    pub fn advance_clock(&self, by: std::time::Duration) {
        self.server.advance_clock(by);
    }

    /// A client authenticated by a client certificate for `user` in `groups`, issued by the
    /// server's CA (RBAC applies to it).
    pub async fn client_as_user(&self, user: &str, groups: &[&str]) -> Result<kube::Client, Error> {
        let issued = self.server.pki().issue_client_cert(user, groups)?;
        let ca = &self.server.pki().ca_cert_pem;
        let kubeconfig = kubetwin::server::kubeconfig(&self.server.url(), ca, &issued.cert_pem, &issued.key_pem, user);
        Ok(kube::Client::try_from(config_from(&kubeconfig).await?)?)
    }

    /// A client with no credentials at all: it is `system:anonymous`.
    pub async fn anonymous_client(&self) -> Result<kube::Client, Error> {
        let mut config = config_from(&self.server.admin_kubeconfig()).await?;
        config.auth_info = kube::config::AuthInfo::default();
        Ok(kube::Client::try_from(config)?)
    }

    /// A client that sends `token` as its bearer token.
    pub async fn client_with_token(&self, token: &str) -> Result<kube::Client, Error> {
        let mut config = config_from(&self.server.admin_kubeconfig()).await?;
        config.auth_info = kube::config::AuthInfo { token: Some(token.to_string().into()), ..Default::default() };
        Ok(kube::Client::try_from(config)?)
    }

    /// A client for a ServiceAccount, with a bound token from the TokenRequest API.
    pub async fn client_for_service_account(&self, namespace: &str, name: &str) -> Result<kube::Client, Error> {
        let token = self.service_account_token(namespace, name).await?;
        self.client_with_token(&token).await
    }

    /// A bound token for a ServiceAccount, as `kubectl create token` gets one.
    pub async fn service_account_token(&self, namespace: &str, name: &str) -> Result<String, Error> {
        use k8s_openapi::api::authentication::v1::TokenRequest;
        use k8s_openapi::api::core::v1::ServiceAccount;
        let accounts: kube::Api<ServiceAccount> = kube::Api::namespaced(self.client(), namespace);
        let request = serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}});
        let issued: TokenRequest =
            accounts.create_subresource("token", name, &kube::api::PostParams::default(), &request).await?;
        Ok(issued.status.and_then(|s| s.token).unwrap_or_default())
    }

    /// An admin client over a real TLS connection.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// A kubeconfig file for this server, for kubectl, helm and subprocesses.
    pub fn kubeconfig_path(&self) -> &Path {
        self.kubeconfig.path()
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The server itself, for what the client API cannot reach.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Runs kubectl 1.33 against this server and returns its output.
    pub async fn kubectl(&self, args: &[&str]) -> clients::CommandOutput {
        clients::kubectl(self.kubeconfig_path(), args, None).await
    }

    /// Runs kubectl with `stdin` piped in (for `apply -f -` and friends).
    pub async fn kubectl_with_input(&self, args: &[&str], stdin: &str) -> clients::CommandOutput {
        clients::kubectl(self.kubeconfig_path(), args, Some(stdin)).await
    }
}
