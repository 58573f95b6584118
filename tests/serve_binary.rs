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

/// `--crds` with the third-party corpus in `../shared/crds` (cert-manager, Gateway API,
/// prometheus-operator) and `--manifests` with a custom resource of one of them: all served
/// before the ready line.
#[tokio::test]
async fn serve_preloads_crds_and_manifests_before_the_ready_line() {
    use kube::api::{ApiResource, DynamicObject};
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("admin.kubeconfig");
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    let issuer =
        "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: selfsigned}\nspec: {selfSigned: {}}\n";
    let configmap =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: preloaded, namespace: kube-public}\ndata: {k: v}\n";
    std::fs::write(manifests.join("objects.yaml"), format!("{issuer}---\n{configmap}")).unwrap();
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/crds");
    let args = ["serve", "--secure-port", "0", "--kubeconfig", kubeconfig.to_str().unwrap(), "--crds", corpus];
    let running = start(&[&args[..], &["--manifests", manifests.to_str().unwrap()]].concat());
    assert!(running.ready_line.starts_with("kubetwin ready: "), "{}", running.ready_line);

    let client = client_from(&kubeconfig).await;
    let corpus_files = std::fs::read_dir(corpus).unwrap().count();
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource {
            group: "apiextensions.k8s.io".into(),
            version: "v1".into(),
            api_version: "apiextensions.k8s.io/v1".into(),
            kind: "CustomResourceDefinition".into(),
            plural: "customresourcedefinitions".into(),
        },
    );
    let listed = crds.list(&Default::default()).await.unwrap();
    assert_eq!(listed.items.len(), corpus_files, "every CRD of the corpus is accepted");
    let issuers: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource {
            group: "cert-manager.io".into(),
            version: "v1".into(),
            api_version: "cert-manager.io/v1".into(),
            kind: "ClusterIssuer".into(),
            plural: "clusterissuers".into(),
        },
    );
    assert!(issuers.get("selfsigned").await.is_ok());
    let configmaps: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client, "kube-public");
    assert_eq!(configmaps.get("preloaded").await.unwrap().data.unwrap()["k"], "v");
}

#[test]
fn serve_refuses_to_start_when_a_manifest_cannot_be_created() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_kubetwin"))
        .args(["serve", "--secure-port", "0", "--kubeconfig"])
        .arg(dir.path().join("kc"))
        .arg("--manifests")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the server does not serve Widget in example.com/v1"), "{stderr}");
    assert!(output.stdout.is_empty(), "no ready line");
}

#[tokio::test]
async fn serve_takes_kube_apiserver_flags() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("admin.kubeconfig");
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "s3cret,carol,carol-uid,\"qa,ops\"\n").unwrap();
    let token_file = format!("--token-auth-file={}", tokens.display());
    let args = [
        "serve",
        "--secure-port=0",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        &token_file,
        "--authorization-mode",
        "RBAC",
        "--disable-admission-plugins=Priority",
        "--etcd-servers=http://127.0.0.1:2379",
    ];
    let running = start(&args);
    assert!(running.ready_line.starts_with("kubetwin ready: "), "{}", running.ready_line);
    let mut config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    config.auth_info = kube::config::AuthInfo { token: Some("s3cret".to_string().into()), ..Default::default() };
    let carol = kube::Client::try_from(config).unwrap();
    let Err(kube::Error::Api(status)) = Api::<Namespace>::all(carol).list(&Default::default()).await else {
        panic!("carol authenticates with her static token and RBAC refuses her")
    };
    assert_eq!(status.code, 403);
    assert!(status.message.starts_with("namespaces is forbidden: User \"carol\""), "{}", status.message);
}

#[test]
fn serve_names_an_unknown_admission_plugin() {
    let output = Command::new(env!("CARGO_BIN_EXE_kubetwin"))
        .args(["serve", "--secure-port=0", "--enable-admission-plugins=Bogus"])
        .output()
        .expect("running kubetwin");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("enable-admission-plugins plugin \"Bogus\" is unknown"), "{stderr}");
}
