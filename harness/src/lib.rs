//! `kubetwin-harness`: the cargo-test fixture. [`TestServer::start`] gives each test its own
//! isolated kubetwin on a free loopback port, with a ready admin [`kube::Client`] and a
//! kubeconfig file that kubectl, helm or any subprocess can use. Dropping it shuts the server
//! down and removes its files.
//!
//! ```rust
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), kubetwin_harness::Error> {
//! use k8s_openapi::api::core::v1::Namespace;
//! use kube::api::Api;
//! let twin = kubetwin_harness::TestServer::start().await?;
//! let namespaces: Api<Namespace> = Api::all(twin.client());
//! assert!(namespaces.get("default").await.is_ok());
//! # Ok(())
//! # }
//! ```
//!
//! Beyond the client, a [`TestServer`] offers what a controller test needs:
//!
//! - [`TestServer::builder`]: CRDs and objects present from the start, another authorization
//!   mode, or a deterministic clock and identifiers ([`TestServerBuilder`]).
//! - [`TestServer::direct_client`]: an admin client with no socket, for speed;
//!   [`TestServer::client_as_user`], [`TestServer::client_for_service_account`] and friends for
//!   clients RBAC applies to.
//! - [`TestServer::faults`]: server-side failures every client sees ([`faults::FaultBuilder`]).
//! - [`TestServer::requests`] and [`TestServer::mark`]: the request log ([`Requests`]).
//! - [`TestServer::wait_for`], [`TestServer::wait_deleted`] and
//!   [`TestServer::wait_for_condition`]: waits that follow a watch and explain a timeout.
//! - [`TestServer::snapshot`]: everything a test created, sorted and redacted, for snapshot
//!   tests.
//! - [`TestServer::kubectl`] and [`clients::helm`]: the real clients, run as subprocesses.

#![warn(missing_docs)]

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

/// Why a test server could not start, or any other error a harness call returns.
///
/// Every error type a test meets converts into it with `?` (`kube::Error`, [`WaitError`],
/// `serde_json::Error`, I/O errors), so a test or doctest can return `Result<(), Error>`.
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

/// What a kubeconfig for `server` with `user` in it gives kube-rs, built without the file.
fn client_config(server: &Server, user: kube::config::AuthInfo) -> Result<kube::Config, Error> {
    let mut config = kube::Config::new(server.url().parse()?);
    config.root_cert = Some(vec![server.pki().ca_cert_der()?]);
    config.auth_info = user;
    Ok(config)
}

/// A kubeconfig user that authenticates with a client certificate.
fn certificate_user(cert_pem: &str, key_pem: &str) -> kube::config::AuthInfo {
    use base64::Engine;
    let encode = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem);
    kube::config::AuthInfo {
        client_certificate_data: Some(encode(cert_pem)),
        client_key_data: Some(encode(key_pem).into()),
        ..Default::default()
    }
}

/// One isolated API server for one test.
///
/// Start one with [`TestServer::start`] (or [`TestServer::builder`]); it serves on a free
/// loopback port until it is dropped, and nothing it holds is shared with any other server.
///
/// ```rust
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kubetwin_harness::Error> {
/// let twin = kubetwin_harness::TestServer::start().await?;
/// let kubeconfig = twin.kubeconfig_path().to_path_buf();
/// assert!(kubeconfig.exists());
/// drop(twin);
/// assert!(!kubeconfig.exists(), "dropping the server removes its files");
/// # Ok(())
/// # }
/// ```
pub struct TestServer {
    server: Server,
    client: kube::Client,
    /// Written when first asked for: most tests never need it.
    kubeconfig: std::sync::OnceLock<tempfile::NamedTempFile>,
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
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::{Api, PostParams};
    /// use kubetwin_harness::TestServer;
    /// let (a, b) = (TestServer::start().await?, TestServer::start().await?);
    /// let in_a: Api<ConfigMap> = Api::default_namespaced(a.client());
    /// let settings = serde_json::from_value(serde_json::json!({"metadata": {"name": "settings"}}))?;
    /// in_a.create(&PostParams::default(), &settings).await?;
    /// let in_b: Api<ConfigMap> = Api::default_namespaced(b.client());
    /// assert!(in_b.get_opt("settings").await?.is_none(), "servers share no objects");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start() -> Result<TestServer, Error> {
        Self::start_with(ServerConfig { secure_port: 0, shared_pki: Some(shared_pki()?), ..ServerConfig::default() })
            .await
    }

    /// A builder for a server with CRDs, objects, another authorizer or a deterministic clock.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::Namespace;
    /// use kube::api::Api;
    /// let team: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": "team"}}))?;
    /// let twin = kubetwin_harness::TestServer::builder().object(team)?.start().await?;
    /// let namespaces: Api<Namespace> = Api::all(twin.client());
    /// assert!(namespaces.get("team").await.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    /// Starts a server from an explicit configuration (the port should be 0), for settings the
    /// [`TestServerBuilder`] does not offer. Unlike [`TestServer::start`] it uses the PKI the
    /// configuration names, so a configuration without `shared_pki` gets a PKI of its own.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::Service;
    /// use kube::api::Api;
    /// use kubetwin::{registry::allocators::Cidr, server::ServerConfig};
    /// let mut config = ServerConfig { secure_port: 0, ..ServerConfig::default() };
    /// config.instance.service_cluster_ip_range = Cidr::parse("10.100.0.0/16")?;
    /// let twin = kubetwin_harness::TestServer::start_with(config).await?;
    /// let kubernetes = Api::<Service>::default_namespaced(twin.client()).get("kubernetes").await?;
    /// assert_eq!(kubernetes.spec.unwrap().cluster_ip.as_deref(), Some("10.100.0.1"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start_with(config: ServerConfig) -> Result<TestServer, Error> {
        let deterministic = config.deterministic_seed.is_some();
        let server = Server::start(config).await?;
        server.instance().requests.enable();
        let admin = &server.pki().admin;
        let client =
            kube::Client::try_from(client_config(&server, certificate_user(&admin.cert_pem, &admin.key_pem))?)?;
        let baseline_revision = server.instance().store.current_revision();
        Ok(TestServer { server, client, kubeconfig: Default::default(), baseline_revision, deterministic })
    }

    /// Installs server-side faults; see [`faults::FaultBuilder`]. Each lasts as long as the
    /// [`FaultGuard`] that installing it returns.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::Api;
    /// use kubetwin_harness::Verb;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let _outage = twin.faults().on(Verb::List).respond(http::StatusCode::INTERNAL_SERVER_ERROR);
    /// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
    /// assert!(configmaps.list(&Default::default()).await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn faults(&self) -> faults::FaultBuilder {
        faults::FaultBuilder::new(self.server.instance().clone())
    }

    /// Every request served so far, in order. The requests made while the server was starting,
    /// those refused by authentication or authorization, and those a fault answered are not
    /// included.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::Api;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
    /// configmaps.get_opt("missing").await?;
    /// let last = twin.requests().into_vec().pop().expect("one request");
    /// assert_eq!((last.verb.as_str(), last.name.as_str(), last.code), ("get", "missing", 404));
    /// # Ok(())
    /// # }
    /// ```
    pub fn requests(&self) -> Requests {
        Requests::new(self.server.instance().requests.entries())
    }

    /// The current end of the request log, for [`Requests::since`].
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::Api;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
    /// configmaps.list(&Default::default()).await?; // setup the test does not care about
    /// let mark = twin.mark();
    /// configmaps.get_opt("settings").await?;
    /// assert_eq!(twin.requests().since(mark).len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn mark(&self) -> Mark {
        Mark(self.server.instance().requests.len())
    }

    /// Moves a deterministic server's clock forward (TTLs, token expiry, ages). The clock of a
    /// server started without [`TestServerBuilder::deterministic`] follows real time, and this does
    /// nothing to it.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::{Api, PostParams};
    /// let twin = kubetwin_harness::TestServer::builder().deterministic(1).start().await?;
    /// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
    /// let create = async |name: &str| -> Result<i64, kubetwin_harness::Error> {
    ///     let object = serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))?;
    ///     let created = configmaps.create(&PostParams::default(), &object).await?;
    ///     Ok(created.metadata.creation_timestamp.expect("set by the server").0.as_second())
    /// };
    /// let before = create("before").await?;
    /// twin.advance_clock(std::time::Duration::from_secs(3600));
    /// assert_eq!(create("after").await? - before, 3600);
    /// # Ok(())
    /// # }
    /// ```
    pub fn advance_clock(&self, by: std::time::Duration) {
        self.server.advance_clock(by);
    }

    /// A client authenticated by a client certificate for `user` in `groups`, issued by the
    /// server's CA (RBAC applies to it).
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::Secret;
    /// use kube::api::Api;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let alice = twin.client_as_user("alice", &["dev"]).await?;
    /// let secrets: Api<Secret> = Api::default_namespaced(alice);
    /// let Err(kube::Error::Api(status)) = secrets.list(&Default::default()).await else {
    ///     panic!("no RoleBinding lets alice list secrets")
    /// };
    /// assert_eq!(status.code, 403);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn client_as_user(&self, user: &str, groups: &[&str]) -> Result<kube::Client, Error> {
        let issued = self.server.pki().issue_client_cert(user, groups)?;
        let config = client_config(&self.server, certificate_user(&issued.cert_pem, &issued.key_pem))?;
        Ok(kube::Client::try_from(config)?)
    }

    /// A client with no credentials at all: it is `system:anonymous`.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::Namespace;
    /// use kube::api::Api;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let anonymous = twin.anonymous_client().await?;
    /// assert!(anonymous.apiserver_version().await.is_ok(), "/version is public");
    /// let Err(kube::Error::Api(status)) = Api::<Namespace>::all(anonymous).list(&Default::default()).await else {
    ///     panic!("anonymous users may not list namespaces")
    /// };
    /// assert!(status.code == 403 && status.message.contains("system:anonymous"), "{status:?}");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn anonymous_client(&self) -> Result<kube::Client, Error> {
        Ok(kube::Client::try_from(client_config(&self.server, kube::config::AuthInfo::default())?)?)
    }

    /// A client that sends `token` as its bearer token.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::Namespace;
    /// use kube::api::Api;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let stranger = twin.client_with_token("not-a-token-this-server-issued").await?;
    /// let Err(kube::Error::Api(status)) = Api::<Namespace>::all(stranger).list(&Default::default()).await else {
    ///     panic!("an unknown token does not authenticate")
    /// };
    /// assert_eq!(status.code, 401);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn client_with_token(&self, token: &str) -> Result<kube::Client, Error> {
        let user = kube::config::AuthInfo { token: Some(token.to_string().into()), ..Default::default() };
        Ok(kube::Client::try_from(client_config(&self.server, user)?)?)
    }

    /// A client for a ServiceAccount, with a bound token from the TokenRequest API (see
    /// [`TestServer::service_account_token`]). RBAC applies to it.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::Pod;
    /// use kube::api::Api;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let robot = twin.client_for_service_account("default", "default").await?;
    /// let Err(kube::Error::Api(status)) = Api::<Pod>::default_namespaced(robot).list(&Default::default()).await else {
    ///     panic!("no RoleBinding lets the ServiceAccount list pods")
    /// };
    /// assert!(status.message.contains("system:serviceaccount:default:default"), "{status:?}");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn client_for_service_account(&self, namespace: &str, name: &str) -> Result<kube::Client, Error> {
        let token = self.service_account_token(namespace, name).await?;
        self.client_with_token(&token).await
    }

    /// A bound token for a ServiceAccount, as `kubectl create token` gets one.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let token = twin.service_account_token("default", "default").await?;
    /// assert_eq!(token.split('.').count(), 3, "a signed JWT");
    /// let robot = twin.client_with_token(&token).await?;
    /// assert!(robot.apiserver_version().await.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn service_account_token(&self, namespace: &str, name: &str) -> Result<String, Error> {
        use k8s_openapi::api::authentication::v1::TokenRequest;
        use k8s_openapi::api::core::v1::ServiceAccount;
        let accounts: kube::Api<ServiceAccount> = kube::Api::namespaced(self.client(), namespace);
        let request = serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}});
        let issued: TokenRequest =
            accounts.create_subresource("token", name, &kube::api::PostParams::default(), &request).await?;
        Ok(issued.status.and_then(|s| s.token).unwrap_or_default())
    }

    /// An admin client over a real TLS connection. Each call returns a cheap clone of the same
    /// client.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::Namespace;
    /// use kube::api::Api;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let namespaces: Api<Namespace> = Api::all(twin.client());
    /// let listed = namespaces.list(&Default::default()).await?;
    /// assert!(listed.iter().any(|n| n.metadata.name.as_deref() == Some("kube-system")));
    /// # Ok(())
    /// # }
    /// ```
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// A kubeconfig file for this server, for kubectl, helm and subprocesses (pass it as
    /// `--kubeconfig` or in `KUBECONFIG`). It authenticates as the admin and is removed when the
    /// server is dropped. It is written on the first call.
    ///
    /// # Panics
    ///
    /// When the file cannot be written to the temporary directory.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let kubeconfig = std::fs::read_to_string(twin.kubeconfig_path())?;
    /// assert!(kubeconfig.contains(&twin.url()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn kubeconfig_path(&self) -> &Path {
        let file = self.kubeconfig.get_or_init(|| {
            let write = || {
                let file = tempfile::Builder::new().prefix("kubetwin-").suffix(".kubeconfig").tempfile()?;
                self.server.write_kubeconfig(file.path())?;
                std::io::Result::Ok(file)
            };
            write().unwrap_or_else(|error| panic!("writing the kubeconfig to the temporary directory: {error}"))
        });
        file.path()
    }

    /// The server's address, `https://127.0.0.1:PORT`.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let port = twin.server().address().port();
    /// assert_eq!(twin.url(), format!("https://127.0.0.1:{port}"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The server itself, for what the client API cannot reach.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::{Api, PostParams};
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let store = &twin.server().instance().store;
    /// let revision = store.current_revision();
    /// let settings = serde_json::from_value(serde_json::json!({"metadata": {"name": "settings"}}))?;
    /// Api::<ConfigMap>::default_namespaced(twin.client()).create(&PostParams::default(), &settings).await?;
    /// assert!(store.current_revision() > revision);
    /// # Ok(())
    /// # }
    /// ```
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Runs kubectl 1.33 against this server and returns its output (see [`clients::kubectl`]).
    /// kubectl is fetched into the workspace's `.tools/bin` on first use (see
    /// [`clients::tools_bin`]).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let namespaces = twin.kubectl(&["get", "namespaces", "-o", "name"]).await;
    /// assert!(namespaces.ok().contains("namespace/default"));
    /// let missing = twin.kubectl(&["get", "configmap", "missing"]).await;
    /// assert!(missing.err().contains("NotFound"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn kubectl(&self, args: &[&str]) -> clients::CommandOutput {
        clients::kubectl(self.kubeconfig_path(), args, None).await
    }

    /// Runs kubectl with `stdin` piped in (for `apply -f -` and friends).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n";
    /// let applied = twin.kubectl_with_input(&["apply", "-f", "-"], manifest).await;
    /// assert_eq!(applied.ok().trim(), "configmap/settings created");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn kubectl_with_input(&self, args: &[&str], stdin: &str) -> clients::CommandOutput {
        clients::kubectl(self.kubeconfig_path(), args, Some(stdin)).await
    }
}
