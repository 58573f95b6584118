//! kubetwin as controller-runtime envtest's control plane. envtest starts `etcd` and
//! `kube-apiserver` from `KUBEBUILDER_ASSETS`; `kubetwin install-envtest-assets DIR` makes both
//! names symlinks to kubetwin (plus `kubectl`, pointing at a real one found on `PATH`), and the
//! binary, started under either name, plays that part:
//!
//! - as `kube-apiserver` it takes kube-apiserver's flags ([`super::apiserver_flags`]), serves the
//!   API over HTTPS with the certificate envtest wrote into `--cert-dir`, verifies client
//!   certificates against `--client-ca-file` and signs ServiceAccount tokens with
//!   `--service-account-signing-key-file` (envtest's is RSA, so RS256);
//! - as `etcd` it only answers `GET /health` on the first `--listen-client-urls` address, plain
//!   HTTP, until it is stopped: kubetwin keeps its objects in memory and never calls it.
//!
//! Both stop on SIGTERM or SIGINT, as envtest stops them.

use super::apiserver_flags::ApiserverFlags;
use crate::server::Server;
use clap::Args;
use http_body_util::Full;
use hyper::body::Bytes;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `kubetwin install-envtest-assets`'s arguments.
#[derive(Args, Debug, Clone)]
pub struct InstallArgs {
    /// The directory to write `kube-apiserver`, `etcd` and `kubectl` into (created if missing);
    /// point `KUBEBUILDER_ASSETS` at it.
    pub dir: PathBuf,
}

/// The version kubetwin reports for kube-apiserver (as `/version` does).
fn kubernetes_version() -> String {
    format!("v1.36.0-kubetwin.{}", env!("CARGO_PKG_VERSION"))
}

#[cfg(unix)]
fn link(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn link(target: &Path, link: &Path) -> std::io::Result<()> {
    std::fs::copy(target, link).map(|_| ())
}

/// Replaces whatever is at `path` with a link to `target`.
fn replace_with_link(target: &Path, path: &Path) -> Result<(), String> {
    if path.symlink_metadata().is_ok() {
        std::fs::remove_file(path).map_err(|e| format!("removing {}: {e}", path.display()))?;
    }
    link(target, path).map_err(|e| format!("linking {} to {}: {e}", path.display(), target.display()))
}

/// A `kubectl` on `PATH` that is neither kubetwin nor inside `dir`.
fn find_kubectl(dir: &Path, own: &Path) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(dir).ok();
    let name = format!("kubectl{}", std::env::consts::EXE_SUFFIX);
    std::env::split_paths(&std::env::var_os("PATH")?)
        .filter(|entry| std::fs::canonicalize(entry).ok() != dir)
        .map(|entry| entry.join(&name))
        .find(|candidate| std::fs::canonicalize(candidate).is_ok_and(|real| real.is_file() && real != own))
}

/// `kubetwin install-envtest-assets DIR`.
pub fn install(args: &InstallArgs) -> Result<(), String> {
    std::fs::create_dir_all(&args.dir).map_err(|e| format!("creating {}: {e}", args.dir.display()))?;
    let own = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| format!("finding the kubetwin executable: {e}"))?;
    let suffix = std::env::consts::EXE_SUFFIX;
    for name in ["kube-apiserver", "etcd"] {
        let path = args.dir.join(format!("{name}{suffix}"));
        replace_with_link(&own, &path)?;
        println!("{} -> {}", path.display(), own.display());
    }
    match find_kubectl(&args.dir, &own) {
        Some(kubectl) => {
            let path = args.dir.join(format!("kubectl{suffix}"));
            replace_with_link(&kubectl, &path)?;
            println!("{} -> {}", path.display(), kubectl.display());
        }
        None => eprintln!(
            "kubetwin: no kubectl on PATH; {} gets none (envtest only needs one for its KubeCtl helper)",
            args.dir.display()
        ),
    }
    let absolute = std::fs::canonicalize(&args.dir).unwrap_or_else(|_| args.dir.clone());
    eprintln!("kubetwin: now run your tests with KUBEBUILDER_ASSETS={}", absolute.display());
    Ok(())
}

/// kubetwin started as `kube-apiserver`.
pub fn kube_apiserver_main(args: Vec<OsString>) -> ExitCode {
    let flags = match ApiserverFlags::parse(&args) {
        Ok(flags) => flags,
        Err(error) => {
            eprintln!("Error: {error}\nRun 'kube-apiserver --help' for the flags kubetwin accepts.");
            return ExitCode::FAILURE;
        }
    };
    if flags.help {
        print!("{}", super::apiserver_help::help());
        return ExitCode::SUCCESS;
    }
    if flags.version {
        println!("Kubernetes {}", kubernetes_version());
        return ExitCode::SUCCESS;
    }
    if !flags.ignored.is_empty() {
        eprintln!("kube-apiserver (kubetwin): ignoring what means nothing in memory: {}", flags.ignored.join(" "));
    }
    let level = match flags.verbosity {
        0..=3 => "info",
        4 | 5 => "debug",
        _ => "trace",
    };
    super::init_logging(level, 0);
    match super::runtime().block_on(serve_apiserver(&flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kube-apiserver (kubetwin): {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve_apiserver(flags: &ApiserverFlags) -> Result<(), String> {
    let config = flags.server_config()?;
    let server = Server::start(config).await.map_err(|e| e.to_string())?;
    eprintln!("kube-apiserver (kubetwin): serving {}", server.url());
    super::wait_for_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

const ETCD_HELP: &str = "\
kubetwin standing in for etcd: kubetwin keeps its objects in memory, so this only answers
GET /health (and /version) on the first client URL until it is stopped.

Usage:
  etcd [flags]

Flags:
      --listen-client-urls string      Where to answer /health (the first URL; plain http). (default http://localhost:2379)
      --advertise-client-urls string   Accepted and ignored.
      --listen-peer-urls string        Accepted and ignored.
      --data-dir string                Accepted and ignored.
      --unsafe-no-fsync                Accepted and ignored (nothing is written).
  -h, --help                           Show this help.
      --version                        Print the version and exit.

Any other flag is accepted and ignored.
";

/// The `host:port` of etcd's first `--listen-client-urls` entry, and whether help or the version
/// was asked for.
fn etcd_listen_address(args: &[OsString]) -> Result<(String, Option<&'static str>), String> {
    let mut urls = None;
    let mut args = args.iter().map(|arg| arg.to_string_lossy());
    while let Some(arg) = args.next() {
        match arg.split_once('=') {
            _ if arg == "--help" || arg == "-h" => return Ok((String::new(), Some("help"))),
            _ if arg == "--version" => return Ok((String::new(), Some("version"))),
            Some(("--listen-client-urls", value)) => urls = Some(value.to_string()),
            None if arg == "--listen-client-urls" => urls = args.next().map(|value| value.into_owned()),
            _ => {}
        }
    }
    let urls = urls.unwrap_or_else(|| "http://localhost:2379".into());
    let first = urls.split(',').next().unwrap_or_default().trim();
    let host_port = match first.split_once("://") {
        Some(("http", rest)) => rest.trim_end_matches('/'),
        Some((scheme, _)) => return Err(format!("--listen-client-urls: {scheme}:// is not served, only http://")),
        None => return Err(format!("--listen-client-urls: {first:?} is not a URL")),
    };
    Ok((host_port.to_string(), None))
}

/// kubetwin started as `etcd`.
pub fn etcd_main(args: Vec<OsString>) -> ExitCode {
    let address = match etcd_listen_address(&args) {
        Ok((_, Some("help"))) => {
            print!("{ETCD_HELP}");
            return ExitCode::SUCCESS;
        }
        Ok((_, Some(_))) => {
            println!("etcd Version: 3.5.21 (kubetwin stand-in)\nAPI Version: 3.5");
            return ExitCode::SUCCESS;
        }
        Ok((address, None)) => address,
        Err(error) => {
            eprintln!("etcd (kubetwin): {error}");
            return ExitCode::FAILURE;
        }
    };
    match super::runtime().block_on(serve_etcd(&address)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("etcd (kubetwin): {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve_etcd(address: &str) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| format!("listening on {address}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("etcd (kubetwin): answering /health on http://{local}; objects live in kube-apiserver's memory");
    let accept = async {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|request| async move {
                    Ok::<_, std::convert::Infallible>(etcd_answer(&request))
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    };
    tokio::select! {
        () = accept => Ok(()),
        () = super::wait_for_signal() => Ok(()),
    }
}

fn etcd_answer<B>(request: &hyper::Request<B>) -> hyper::Response<Full<Bytes>> {
    let (status, body) = match (request.method(), request.uri().path()) {
        (&hyper::Method::GET, "/health") => (200, r#"{"health":"true"}"#),
        (&hyper::Method::GET, "/version") => (200, r#"{"etcdserver":"3.5.21","etcdcluster":"3.5.0"}"#),
        _ => (404, "404 page not found\n"),
    };
    let content_type = if status == 200 { "application/json" } else { "text/plain; charset=utf-8" };
    hyper::Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("a static response is well-formed")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(args: &[&str]) -> Result<(String, Option<&'static str>), String> {
        etcd_listen_address(&args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn etcd_listens_on_the_first_client_url_and_ignores_the_rest() {
        let envtest = [
            "--advertise-client-urls=http://127.0.0.1:40001",
            "--data-dir=/tmp/k8s_test_framework_2",
            "--listen-client-urls=http://127.0.0.1:40001",
            "--listen-peer-urls=http://127.0.0.1:40003",
            "--unsafe-no-fsync=true",
        ];
        assert_eq!(address(&envtest).unwrap(), ("127.0.0.1:40001".into(), None));
        assert_eq!(address(&["--listen-client-urls", "http://[::1]:5/,http://x:6"]).unwrap().0, "[::1]:5");
        assert_eq!(address(&[]).unwrap().0, "localhost:2379");
        assert_eq!(address(&["--debug", "--help"]).unwrap().1, Some("help"));
        assert!(address(&["--listen-client-urls=https://127.0.0.1:1"]).unwrap_err().contains("https"));
    }

    #[test]
    fn etcd_answers_health_only() {
        let get = |path: &str| hyper::Request::get(path).body(()).unwrap();
        let health = etcd_answer(&get("/health"));
        assert_eq!(health.status(), 200);
        assert_eq!(etcd_answer(&get("/v3/kv/range")).status(), 404);
        assert!(ETCD_HELP.lines().any(|line| line.trim_start().starts_with("--unsafe-no-fsync")));
    }
}
