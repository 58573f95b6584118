//! The `kubetwin` binary as a user starts it: one ready line on stdout, a kubeconfig that
//! works, a PKI kept in `--cert-dir` across restarts, and a clean exit on SIGTERM.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Running {
    child: Child,
    ready_line: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubetwin"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting kubetwin");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut ready_line = String::new();
    BufReader::new(stdout).read_line(&mut ready_line).expect("reading the ready line");
    Running { child, ready_line }
}

async fn client_from(path: &std::path::Path) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(path).expect("the kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

#[tokio::test]
async fn serve_prints_one_ready_line_and_writes_a_working_kubeconfig() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("admin.kubeconfig");
    let certs = dir.path().join("pki");
    let args = [
        "serve",
        "--secure-port",
        "0",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--cert-dir",
        certs.to_str().unwrap(),
    ];
    let mut running = start(&args);
    let line = running.ready_line.trim_end().to_string();
    let canonical = std::fs::canonicalize(&kubeconfig).unwrap();
    assert!(line.starts_with("kubetwin ready: https://127.0.0.1:"), "{line}");
    assert!(line.ends_with(&format!(" kubeconfig={}", canonical.display())), "{line}");

    let namespaces: Api<Namespace> = Api::all(client_from(&kubeconfig).await);
    assert!(namespaces.get("kube-system").await.is_ok());
    let first_ca = std::fs::read_to_string(certs.join("ca.crt")).unwrap();

    let pid = running.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "kubetwin did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");

    let restarted = start(&args);
    assert!(restarted.ready_line.starts_with("kubetwin ready: "));
    assert_eq!(std::fs::read_to_string(certs.join("ca.crt")).unwrap(), first_ca, "a restart keeps the CA");
    let namespaces: Api<Namespace> = Api::all(client_from(&kubeconfig).await);
    assert!(namespaces.get("default").await.is_ok());
}
