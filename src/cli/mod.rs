//! The `kubetwin` command line. `kubetwin` and `kubetwin serve` start the sandbox server, print
//! one ready line on stdout and write an admin kubeconfig; `kubetwin exec -- CMD` runs a command
//! against a server that lives exactly as long as it ([`exec`]); `kubetwin install-envtest-assets
//! DIR` sets kubetwin up as controller-runtime envtest's `kube-apiserver` and `etcd`
//! ([`envtest`]). The binary is multi-call: started under the name `kube-apiserver` or `etcd`
//! it behaves as those. Logs go to stderr.

pub mod apiserver_flags;
pub mod apiserver_help;
pub mod envtest;
pub mod exec;
pub mod requestheader_flags;

use crate::server::{Server, ServerConfig};
use apiserver_flags::ApiserverFlags;
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "kubetwin",
    version,
    about = "A Kubernetes API server that runs entirely in memory",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServerFlags,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the Kubernetes API over HTTPS (the default). Every kube-apiserver flag listed
    /// below is accepted too.
    #[command(after_help = apiserver_help::help_for("kubetwin serve"))]
    Serve(ServerFlags),
    /// Start a server on a free port, run COMMAND with KUBECONFIG (and KUBETWIN_URL) pointing at
    /// it, stop the server and exit with the command's exit code.
    #[command(override_usage = "kubetwin exec [OPTIONS] -- <COMMAND>...")]
    Exec(exec::ExecArgs),
    /// Write `kube-apiserver` and `etcd` (and `kubectl`, if one is on PATH) into DIR, for
    /// `KUBEBUILDER_ASSETS=DIR go test ./...` with controller-runtime's envtest.
    InstallEnvtestAssets(envtest::InstallArgs),
}

/// The flags `serve` and `exec` share: how the server listens and what it is configured with.
#[derive(Args, Debug, Clone)]
pub struct ServerFlags {
    /// The port to serve HTTPS on; 0 picks a free port [default: 6443; for exec: 0].
    #[arg(long)]
    pub secure_port: Option<u16>,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_address: IpAddr,
    /// Where to write the admin kubeconfig once the server is ready [default:
    /// ./kubetwin.kubeconfig; for exec: a temporary file, removed afterwards].
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Where the PKI is kept; PEMs already there are reused. Default: in memory only.
    #[arg(long)]
    pub cert_dir: Option<PathBuf>,
    /// The range Service ClusterIPs come from.
    #[arg(long, default_value = "10.96.0.0/12")]
    pub service_cluster_ip_range: String,
    /// The range NodePorts come from.
    #[arg(long, default_value = "30000-32767")]
    pub service_node_port_range: String,
    /// CustomResourceDefinitions to create at start: a YAML/JSON file or a folder of them (may
    /// repeat). They are served before the ready line.
    #[arg(long = "crds", value_name = "PATH")]
    pub crds: Vec<PathBuf>,
    /// Objects to create at start, after the CRDs: a YAML/JSON file (documents separated by
    /// `---`) or a folder of them (may repeat).
    #[arg(long = "manifests", value_name = "PATH")]
    pub manifests: Vec<PathBuf>,
    /// Log more (-v, -vv).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The kube-apiserver flags on the command line that the options above do not cover
    /// (`--authorization-mode`, `--token-auth-file`, `--enable-admission-plugins`, ...), as
    /// [`split_apiserver_flags`] took them out before clap saw the rest.
    #[arg(skip)]
    pub apiserver_args: Vec<OsString>,
}

impl ServerFlags {
    /// The server configuration these flags describe; `default_port` applies when
    /// `--secure-port` is not given.
    pub fn server_config(&self, default_port: u16) -> Result<ServerConfig, String> {
        let mut args: Vec<OsString> = vec![
            format!("--secure-port={}", self.secure_port.unwrap_or(default_port)).into(),
            format!("--bind-address={}", self.bind_address).into(),
            format!("--service-cluster-ip-range={}", self.service_cluster_ip_range).into(),
            format!("--service-node-port-range={}", self.service_node_port_range).into(),
        ];
        if let Some(cert_dir) = &self.cert_dir {
            let mut flag = OsString::from("--cert-dir=");
            flag.push(cert_dir);
            args.push(flag);
        }
        // kubetwin's own default; kube-apiserver's is AlwaysAllow.
        if !self.apiserver_args.iter().any(|arg| arg.to_string_lossy().starts_with("--authorization-mode")) {
            args.push("--authorization-mode=RBAC".into());
        }
        args.extend(self.apiserver_args.iter().cloned());
        let flags = ApiserverFlags::parse(&args)?;
        if !flags.ignored.is_empty() {
            tracing::warn!(ignored = flags.ignored.join(" "), "accepted but meaningless in memory");
        }
        flags.server_config()
    }

    /// Creates the `--crds`, then the `--manifests`, on a started server.
    pub fn load_manifests(&self, server: &Server) -> Result<(), String> {
        let paths: Vec<&Path> = self.crds.iter().chain(&self.manifests).map(PathBuf::as_path).collect();
        let created = crate::manifests::load(server.instance(), &paths, "kubetwin")?;
        if created > 0 {
            tracing::info!(created, "created the objects from --crds and --manifests");
        }
        Ok(())
    }
}

/// Sends tracing output to stderr: `base` at verbosity 0, then debug, then trace.
/// `KUBETWIN_LOG` overrides it. Benchmarks call it too, so that they run with the binary's
/// logging set-up (without a subscriber, every dependency's trace span falls back to `log`).
pub fn init_logging(base: &str, verbosity: u8) {
    let default = match verbosity {
        0 => format!("kubetwin={base}"),
        1 => "kubetwin=debug".to_string(),
        _ => "kubetwin=trace".to_string(),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KUBETWIN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Waits for SIGINT or SIGTERM (Ctrl-C elsewhere).
pub(crate) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("starting the tokio runtime")
}

async fn serve(flags: ServerFlags) -> Result<(), String> {
    let config = flags.server_config(6443)?;
    let server = Server::start(config).await.map_err(|e| e.to_string())?;
    if let Err(error) = flags.load_manifests(&server) {
        server.shutdown().await;
        return Err(error);
    }
    let path = flags.kubeconfig.clone().unwrap_or_else(|| PathBuf::from("./kubetwin.kubeconfig"));
    server.write_kubeconfig(&path).map_err(|e| format!("writing {}: {e}", path.display()))?;
    let kubeconfig = std::fs::canonicalize(&path).unwrap_or(path);
    println!("kubetwin ready: {} kubeconfig={}", server.url(), kubeconfig.display());
    let cert_dir = server.cert_dir().map_or_else(|| "(in memory)".into(), |dir| dir.display().to_string());
    tracing::info!(url = %server.url(), cert_dir, "serving");
    wait_for_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

/// The program a multi-call invocation stands in for, from argv[0]'s file name.
fn personality(argv0: &OsString) -> Option<&'static str> {
    let name = Path::new(argv0).file_name()?.to_string_lossy();
    let name = name.strip_suffix(".exe").unwrap_or(&name);
    ["kube-apiserver", "etcd"].into_iter().find(|known| *known == name)
}

/// The binary's entry point.
pub fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    match personality(&argv0) {
        Some("kube-apiserver") => return envtest::kube_apiserver_main(args.collect()),
        Some(_) => return envtest::etcd_main(args.collect()),
        None => {}
    }
    let (ours, apiserver_args) = split_apiserver_flags(args.collect());
    let mut cli = Cli::parse_from(std::iter::once(argv0).chain(ours));
    match &mut cli.command {
        Some(Command::Serve(flags)) => flags.apiserver_args = apiserver_args,
        Some(Command::Exec(exec)) => exec.server.apiserver_args = apiserver_args,
        None => cli.serve.apiserver_args = apiserver_args,
        Some(Command::InstallEnvtestAssets(_)) => {}
    }
    let result = match cli.command {
        Some(Command::Exec(exec_args)) => return exec::main(exec_args),
        Some(Command::InstallEnvtestAssets(install)) => envtest::install(&install),
        Some(Command::Serve(flags)) => run_serve(flags),
        None => run_serve(cli.serve),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kubetwin: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The flags `serve` and `exec` declare themselves; every other kube-apiserver flag is passed on.
const OWN_FLAGS: [(&str, bool); 11] = [
    ("help", false),
    ("version", false),
    ("secure-port", true),
    ("bind-address", true),
    ("kubeconfig", true),
    ("cert-dir", true),
    ("service-cluster-ip-range", true),
    ("service-node-port-range", true),
    ("crds", true),
    ("manifests", true),
    ("verbose", false),
];

/// Takes the kube-apiserver flags kubetwin's own options do not declare (with their values) out
/// of `args` (argv without argv[0]), so that `kubetwin serve` and `kubetwin exec` take the
/// kube-apiserver command line as well. Splitting stops at `--` or at the first argument that
/// is not a flag (after the subcommand): what follows belongs to `exec`'s command.
fn split_apiserver_flags(args: Vec<OsString>) -> (Vec<OsString>, Vec<OsString>) {
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut args = args.into_iter();
    let mut first = true;
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy().into_owned();
        let subcommand = first && (text == "serve" || text == "exec");
        first = false;
        if text == "--" || (!text.starts_with('-') && !subcommand) || text == "install-envtest-assets" {
            ours.push(arg);
            ours.extend(args);
            break;
        }
        let Some(long) = text.strip_prefix("--").or_else(|| text.strip_prefix("-").filter(|s| s.starts_with("v=")))
        else {
            ours.push(arg);
            continue;
        };
        let (name, inline) = match long.split_once('=') {
            Some((name, _)) => (name, true),
            None => (long, false),
        };
        let (destination, takes_value) = match OWN_FLAGS.iter().find(|(own, _)| *own == name) {
            Some((_, takes_value)) => (&mut ours, *takes_value),
            None => match apiserver_flags::flag_takes_value(name) {
                Some(takes_value) => (&mut theirs, takes_value),
                None => (&mut ours, false),
            },
        };
        destination.push(arg);
        if takes_value && !inline {
            destination.extend(args.next());
        }
    }
    (ours, theirs)
}

fn run_serve(flags: ServerFlags) -> Result<(), String> {
    init_logging("info", flags.verbose);
    runtime().block_on(serve(flags))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    fn split(args: &[&str]) -> (Vec<String>, Vec<String>) {
        let strings = |list: Vec<OsString>| list.into_iter().map(|a| a.into_string().unwrap()).collect();
        let (ours, theirs) = split_apiserver_flags(args.iter().map(OsString::from).collect());
        (strings(ours), strings(theirs))
    }

    #[test]
    fn kube_apiserver_flags_are_taken_out_with_their_values() {
        let (ours, theirs) = split(&[
            "serve",
            "--secure-port",
            "0",
            "--token-auth-file",
            "t.csv",
            "-v",
            "--v=4",
            "--anonymous-auth=false",
            "--allow-privileged",
            "--etcd-servers",
            "x",
            "--crds",
            "d",
            "--help",
        ]);
        assert_eq!(ours, ["serve", "--secure-port", "0", "-v", "--crds", "d", "--help"]);
        assert_eq!(
            theirs,
            [
                "--token-auth-file",
                "t.csv",
                "--v=4",
                "--anonymous-auth=false",
                "--allow-privileged",
                "--etcd-servers",
                "x"
            ]
        );
        let (ours, theirs) =
            split(&["exec", "--authorization-mode=Webhook", "--", "kubectl", "--token-auth-file", "x"]);
        assert_eq!(ours, ["exec", "--", "kubectl", "--token-auth-file", "x"], "the command's arguments stay its own");
        assert_eq!(theirs, ["--authorization-mode=Webhook"]);
        let (ours, _) = split(&["exec", "pytest", "--v=2"]);
        assert_eq!(ours, ["exec", "pytest", "--v=2"]);
    }

    #[test]
    fn the_authorization_mode_defaults_to_rbac_unless_given() {
        let mut flags = Cli::try_parse_from(["kubetwin", "serve"]).unwrap().serve;
        let modes = |flags: &ServerFlags| flags.server_config(0).unwrap().instance.auth.authorization_modes;
        assert_eq!(modes(&flags), [crate::auth::authorize::AuthorizationMode::Rbac]);
        flags.apiserver_args = vec!["--authorization-mode=AlwaysAllow".into()];
        assert_eq!(modes(&flags), [crate::auth::authorize::AuthorizationMode::AlwaysAllow]);
    }

    #[test]
    fn argv0_picks_the_personality() {
        assert_eq!(personality(&"/tmp/assets/kube-apiserver".into()), Some("kube-apiserver"));
        assert_eq!(personality(&"etcd".into()), Some("etcd"));
        assert_eq!(personality(&"./target/debug/kubetwin".into()), None);
    }

    #[test]
    fn serve_and_exec_share_the_server_flags() {
        let cli = Cli::try_parse_from(["kubetwin", "exec", "--service-cluster-ip-range", "10.5.0.0/16", "--", "true"])
            .unwrap();
        let Some(Command::Exec(exec)) = cli.command else { panic!("exec parses") };
        let config = exec.server.server_config(0).unwrap();
        assert_eq!(
            (config.secure_port, config.instance.service_cluster_ip_range.first().to_string()),
            (0, "10.5.0.1".into())
        );
        let cli = Cli::try_parse_from(["kubetwin", "serve", "--secure-port", "7000"]).unwrap();
        let Some(Command::Serve(serve)) = cli.command else { panic!("serve parses") };
        assert_eq!(serve.server_config(6443).unwrap().secure_port, 7000);
        let cli = Cli::try_parse_from(["kubetwin"]).unwrap();
        assert_eq!(cli.serve.server_config(6443).unwrap().secure_port, 6443);
    }
}
