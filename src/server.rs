//! [`Server`]: one running kubetwin. It owns its instance, PKI, listener and tasks; dropping it
//! shuts it down. Many run side by side in one process.

use crate::clock::{Clock, FixedClock, IdSource, RandomIds, SeededIds, SystemClock};
use crate::instance::{Instance, InstanceConfig};
use crate::pki::{Pki, PkiFiles, ServingNames};
use base64::Engine;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;

/// How to start a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub bind_address: IpAddr,
    /// 0 picks a free port.
    pub secure_port: u16,
    /// Where the PKI lives; a fresh temporary directory when `None`.
    pub cert_dir: Option<PathBuf>,
    /// Key material supplied from files (kube-apiserver's `--tls-cert-file`,
    /// `--client-ca-file`, `--service-account-signing-key-file`). When any is named, the PKI
    /// is built by [`Pki::from_files`] and nothing is read from or written to `cert_dir`.
    pub pki_files: PkiFiles,
    /// A PKI to serve with instead of issuing one (the test harness shares one per process;
    /// its serving certificate must cover `bind_address`).
    pub shared_pki: Option<Arc<Pki>>,
    /// The address the `kubernetes` Service's endpoints name (`--advertise-address`); the
    /// bind address (or 127.0.0.1 when it is unspecified) when `None`.
    pub advertise_address: Option<IpAddr>,
    pub instance: InstanceConfig,
    /// A seed makes UIDs, generated names and the clock deterministic.
    pub deterministic_seed: Option<u64>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind_address: IpAddr::from([127, 0, 0, 1]),
            secure_port: 6443,
            cert_dir: None,
            pki_files: PkiFiles::default(),
            shared_pki: None,
            advertise_address: None,
            instance: InstanceConfig::default(),
            deterministic_seed: None,
        }
    }
}

/// Why a server could not start.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// The fixed clock's start for deterministic instances: 2026-01-01T00:00:00Z.
pub const DETERMINISTIC_EPOCH: i64 = 1_767_225_600;

/// A running API server.
#[derive(Debug)]
pub struct Server {
    instance: Arc<Instance>,
    pki: Arc<Pki>,
    address: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    cert_dir: Option<PathBuf>,
    fixed_clock: Option<Arc<FixedClock>>,
    _controllers: crate::controllers::Controllers,
}

impl Server {
    /// Issues or loads the PKI, creates the bootstrap objects, binds the port and starts
    /// serving. The server is ready when this returns.
    pub async fn start(config: ServerConfig) -> Result<Server, StartError> {
        let first_service_ip = IpAddr::V4(config.instance.service_cluster_ip_range.first());
        let extra = [Some(config.bind_address), config.advertise_address]
            .into_iter()
            .flatten()
            .filter(|ip| !ip.is_unspecified())
            .collect::<Vec<_>>();
        let names = ServingNames::standard(first_service_ip, &extra);
        let pki = match &config.shared_pki {
            Some(shared) => shared.clone(),
            None if !config.pki_files.is_empty() => {
                Arc::new(Pki::from_files(&config.pki_files, &names).map_err(|e| StartError(e.to_string()))?)
            }
            None => match &config.cert_dir {
                Some(cert_dir) => {
                    Arc::new(Pki::load_or_generate(cert_dir, &names).map_err(|e| StartError(e.to_string()))?)
                }
                None => Arc::new(Pki::generate(&names).map_err(|e| StartError(e.to_string()))?),
            },
        };
        let requestheader = config.instance.auth.requestheader.as_ref();
        let tls = match requestheader {
            Some(config) => pki.server_config_trusting(Some(&config.client_ca_pem)).map(Arc::new),
            None => pki.server_config(),
        }
        .map_err(|e| StartError(e.to_string()))?;
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(config.bind_address, config.secure_port))
            .await
            .map_err(|e| StartError(format!("binding {}:{}: {e}", config.bind_address, config.secure_port)))?;
        let address = listener.local_addr().map_err(|e| StartError(e.to_string()))?;
        let (clock, ids, fixed_clock): (Arc<dyn Clock>, Arc<dyn IdSource>, _) = match config.deterministic_seed {
            Some(seed) => {
                let fixed = Arc::new(FixedClock::at_unix_seconds(DETERMINISTIC_EPOCH));
                (fixed.clone(), Arc::new(SeededIds::new(seed)), Some(fixed))
            }
            None => (Arc::new(SystemClock), Arc::new(RandomIds), None),
        };
        let instance = Arc::new(Instance::new(config.instance.clone(), clock, ids));
        let auth = &config.instance.auth;
        let signer = pki.token_signer(&auth.issuer, auth.audiences.clone()).map_err(StartError)?;
        let _ = instance.auth.signer.set(signer);
        let _ = instance.auth.ca_bundle.set(pki.ca_cert_pem.clone());
        let _ = instance.auth.cluster_signer.set(pki.clone());
        if requestheader.is_some() {
            let client_cas = crate::pki::bundle_subjects(&pki.client_ca_pem).map_err(|e| StartError(e.to_string()))?;
            let _ = instance.auth.client_ca_subjects.set(client_cas);
        }
        let reachable = if address.ip().is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { address.ip() };
        let _ = instance.address.set(format!("{reachable}:{}", address.port()));
        crate::bootstrap::run(
            &instance,
            config.advertise_address.unwrap_or(reachable),
            address.port(),
            config.deterministic_seed.is_some(),
        )
        .map_err(|e| StartError(format!("creating the bootstrap objects: {e}")))?;
        let controllers = crate::controllers::Controllers::start(&instance);
        let (shutdown, shutdown_signal) = watch::channel(false);
        let routes = crate::http::routes(instance.clone());
        let task = tokio::spawn(crate::http::tls::serve(listener, tls, routes, shutdown_signal));
        Ok(Server {
            instance,
            pki,
            address,
            shutdown,
            task: Some(task),
            cert_dir: config.cert_dir.clone(),
            fixed_clock,
            _controllers: controllers,
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        let host = match self.address.ip() {
            ip if ip.is_unspecified() => "127.0.0.1".to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        format!("https://{host}:{}", self.address.port())
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn instance(&self) -> &Arc<Instance> {
        &self.instance
    }

    pub fn pki(&self) -> &Pki {
        &self.pki
    }

    /// The `--cert-dir` the server was started with; without one its PKI lives in memory only.
    pub fn cert_dir(&self) -> Option<&Path> {
        self.cert_dir.as_deref()
    }

    /// Moves a deterministic instance's clock forward (no-op otherwise).
    pub fn advance_clock(&self, by: std::time::Duration) {
        if let Some(clock) = &self.fixed_clock {
            clock.advance(by);
        }
    }

    /// An admin kubeconfig for this server.
    pub fn admin_kubeconfig(&self) -> String {
        kubeconfig(
            &self.url(),
            &self.pki.ca_cert_pem,
            &self.pki.admin.cert_pem,
            &self.pki.admin.key_pem,
            "kubetwin-admin",
        )
    }

    /// Writes the admin kubeconfig to `path` (owner-readable only).
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.admin_kubeconfig())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    }

    /// Stops accepting connections, ends watches and waits for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A kubeconfig with one cluster, one client-certificate user and one context, all named
/// `kubetwin`.
pub fn kubeconfig(server: &str, ca_pem: &str, cert_pem: &str, key_pem: &str, user: &str) -> String {
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kubetwin\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\ncontexts:\n- name: kubetwin\n  context:\n    cluster: kubetwin\n    user: {user}\n    namespace: default\ncurrent-context: kubetwin\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n",
        ca = b64(ca_pem),
        cert = b64(cert_pem),
        key = b64(key_pem),
    )
}
