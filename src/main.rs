//! The `kubetwin` command line: parses flags and hands over to the library. `kubetwin` and
//! `kubetwin serve` start the sandbox server, print one ready line on stdout and write an admin
//! kubeconfig; logs go to stderr.

use clap::{Args, Parser, Subcommand};
use kubetwin::instance::InstanceConfig;
use kubetwin::registry::allocators::{Cidr, PortAllocator};
use kubetwin::server::{Server, ServerConfig};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "kubetwin", version, about = "A Kubernetes API server that runs entirely in memory")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeFlags,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the Kubernetes API over HTTPS (the default).
    Serve(ServeFlags),
}

#[derive(Args, Debug, Clone)]
struct ServeFlags {
    /// The port to serve HTTPS on; 0 picks a free port.
    #[arg(long, default_value_t = 6443)]
    secure_port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: IpAddr,
    /// Where to write the admin kubeconfig once the server is ready.
    #[arg(long, default_value = "./kubetwin.kubeconfig")]
    kubeconfig: PathBuf,
    /// Where the PKI is kept; PEMs already there are reused. Default: a fresh temporary directory.
    #[arg(long)]
    cert_dir: Option<PathBuf>,
    /// The range Service ClusterIPs come from.
    #[arg(long, default_value = "10.96.0.0/12")]
    service_cluster_ip_range: String,
    /// The range NodePorts come from.
    #[arg(long, default_value = "30000-32767")]
    service_node_port_range: String,
    /// Log more (-v, -vv).
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn init_logging(verbosity: u8) {
    let default = match verbosity {
        0 => "kubetwin=info",
        1 => "kubetwin=debug",
        _ => "kubetwin=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KUBETWIN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

async fn wait_for_signal() {
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

async fn serve(flags: ServeFlags) -> Result<(), String> {
    let service_cluster_ip_range =
        Cidr::parse(&flags.service_cluster_ip_range).map_err(|e| format!("--service-cluster-ip-range: {e}"))?;
    let service_node_port_range = PortAllocator::parse_range(&flags.service_node_port_range)
        .map_err(|e| format!("--service-node-port-range: {e}"))?;
    let config = ServerConfig {
        bind_address: flags.bind_address,
        secure_port: flags.secure_port,
        cert_dir: flags.cert_dir.clone(),
        instance: InstanceConfig { service_cluster_ip_range, service_node_port_range, ..InstanceConfig::default() },
        deterministic_seed: None,
    };
    let server = Server::start(config).await.map_err(|e| e.to_string())?;
    server.write_kubeconfig(&flags.kubeconfig).map_err(|e| format!("writing {}: {e}", flags.kubeconfig.display()))?;
    let kubeconfig = std::fs::canonicalize(&flags.kubeconfig).unwrap_or(flags.kubeconfig.clone());
    println!("kubetwin ready: {} kubeconfig={}", server.url(), kubeconfig.display());
    tracing::info!(url = %server.url(), cert_dir = %server.cert_dir().display(), "serving");
    wait_for_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let flags = match cli.command {
        Some(Command::Serve(flags)) => flags,
        None => cli.serve,
    };
    init_logging(flags.verbose);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("starting the tokio runtime");
    match runtime.block_on(serve(flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kubetwin: {error}");
            ExitCode::FAILURE
        }
    }
}
