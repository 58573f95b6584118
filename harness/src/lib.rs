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

pub mod clients;

use kubetwin::server::{Server, ServerConfig};
use std::path::Path;

/// Why a test server could not start.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// One isolated API server for one test.
pub struct TestServer {
    server: Server,
    client: kube::Client,
    kubeconfig: tempfile::NamedTempFile,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer").field("url", &self.server.url()).finish_non_exhaustive()
    }
}

impl TestServer {
    /// Starts a server on a free loopback port with a fresh PKI.
    pub async fn start() -> Result<TestServer, Error> {
        Self::start_with(ServerConfig { secure_port: 0, ..ServerConfig::default() }).await
    }

    /// Starts a server from an explicit configuration (the port should be 0).
    pub async fn start_with(config: ServerConfig) -> Result<TestServer, Error> {
        let server = Server::start(config).await?;
        let kubeconfig = tempfile::Builder::new().prefix("kubetwin-").suffix(".kubeconfig").tempfile()?;
        server.write_kubeconfig(kubeconfig.path())?;
        let parsed = kube::config::Kubeconfig::from_yaml(&server.admin_kubeconfig())?;
        let config = kube::Config::from_custom_kubeconfig(parsed, &kube::config::KubeConfigOptions::default()).await?;
        let client = kube::Client::try_from(config)?;
        Ok(TestServer { server, client, kubeconfig })
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
