//! The standalone fixtures, driven as a CI suite in another language drives them:
//! `kubetwin exec -- CMD` with kubectl, the Python client and plain shell (exit codes, signals,
//! shared server flags), and the envtest drop-in: `install-envtest-assets`, then the binary run
//! as `kube-apiserver` with exactly the arguments controller-runtime's envtest passes and with
//! key material made the way envtest makes it (RSA, via the `openssl` CLI; ECDSA from rcgen
//! where there is no openssl), and as `etcd`.
#![cfg(unix)]

use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const KUBETWIN: &str = env!("CARGO_BIN_EXE_kubetwin");

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `.tools/bin` with kubectl, fetched by `scripts/fetch-clients.sh` on first use (as the
/// harness does).
fn tools_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = workspace_root();
        let bin = root.join(".tools/bin");
        if !bin.join("kubectl").exists() || !root.join(".tools/python/kubernetes").exists() {
            let status = Command::new("bash").arg(root.join("scripts/fetch-clients.sh")).status().unwrap();
            assert!(status.success(), "scripts/fetch-clients.sh failed");
        }
        bin
    })
}

/// `PATH` with `.tools/bin` first.
fn path_with_tools() -> std::ffi::OsString {
    let mut paths = vec![tools_bin().to_path_buf()];
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(paths).unwrap()
}

/// Runs `kubetwin exec ARGS`, with a private HOME (kubectl's cache) and no stdin.
fn exec(args: &[&str], envs: &[(&str, &std::ffi::OsStr)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(KUBETWIN);
    command.arg("exec").args(args).env("HOME", home.path()).env("PATH", path_with_tools()).stdin(Stdio::null());
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn wait_with_deadline(child: &mut Child, seconds: u64) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the process did not end within {seconds} s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, name: &str) {
    assert!(Command::new("kill").args(["-s", name, &child.id().to_string()]).status().unwrap().success());
}

fn refuses_connections(url: &str) -> bool {
    let address = url.trim().trim_start_matches("https://");
    std::net::TcpStream::connect_timeout(&address.parse().unwrap(), Duration::from_secs(1)).is_err()
}

#[test]
fn exec_runs_kubectl_against_a_fresh_server_and_cleans_up() {
    let output =
        exec(&["--", "sh", "-c", "kubectl get ns -o name && echo \"kubeconfig=$KUBECONFIG url=$KUBETWIN_URL\""], &[]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", text(&output.stderr));
    for namespace in ["namespace/default", "namespace/kube-system", "namespace/kube-public"] {
        assert!(stdout.contains(namespace), "{stdout}");
    }
    let last = stdout.lines().last().unwrap();
    let (kubeconfig, url) = last.strip_prefix("kubeconfig=").unwrap().split_once(" url=").unwrap();
    assert!(url.starts_with("https://127.0.0.1:"), "{last}");
    assert!(!Path::new(kubeconfig).exists(), "the temporary kubeconfig {kubeconfig} is removed");
    assert!(refuses_connections(url), "the server at {url} has stopped");
}

#[test]
fn exec_runs_a_python_client() {
    let script = "from kubernetes import client, config\n\
                  config.load_kube_config()\n\
                  print(' '.join(sorted(n.metadata.name for n in client.CoreV1Api().list_namespace().items)))";
    let python_path = workspace_root().join(".tools/python");
    tools_bin();
    let output = exec(&["--", "python3", "-c", script], &[("PYTHONPATH", python_path.as_os_str())]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), "default kube-node-lease kube-public kube-system");
}

#[test]
fn exec_returns_the_command_exit_code() {
    assert_eq!(exec(&["--", "sh", "-c", "exit 7"], &[]).status.code(), Some(7));
    assert_eq!(exec(&["sh", "-c", "exit 0"], &[]).status.code(), Some(0), "`--` is optional");
    assert_eq!(exec(&["--", "sh", "-c", "kill -TERM $$"], &[]).status.code(), Some(128 + 15));
    let missing = exec(&["--", "no-such-command-kubetwin"], &[]);
    assert_eq!(missing.status.code(), Some(127));
    assert!(text(&missing.stderr).contains("no-such-command-kubetwin"));
    let bad_flag = exec(&["--service-cluster-ip-range", "nonsense", "--", "true"], &[]);
    assert_eq!(bad_flag.status.code(), Some(125));
    assert!(text(&bad_flag.stderr).contains("--service-cluster-ip-range"));
}

#[test]
fn exec_takes_the_server_flags_serve_takes() {
    let output = exec(
        &[
            "--service-cluster-ip-range",
            "10.123.0.0/16",
            "--",
            "kubectl",
            "get",
            "service",
            "kubernetes",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "10.123.0.1");
}

#[test]
fn exec_forwards_sigterm_and_sigint_and_still_stops_the_server() {
    for (name, code) in [("TERM", 42), ("INT", 43)] {
        let script = format!("trap 'exit {code}' {name}; echo \"$KUBETWIN_URL\"; while :; do sleep 0.05; done");
        let mut child = Command::new(KUBETWIN)
            .args(["exec", "--", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut url = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut url).unwrap();
        assert!(url.starts_with("https://127.0.0.1:"), "{url}");
        signal(&child, name);
        assert_eq!(wait_with_deadline(&mut child, 10).code(), Some(code), "SIG{name} reaches the command");
        assert!(refuses_connections(&url), "the server stopped after SIG{name}");
    }
}

/// Key material laid out as envtest lays it out: `apiserver.crt`/`apiserver.key` (signed by a
/// serving CA envtest keeps to itself), `sa-signer.crt`/`sa-signer.key` and
/// `client-cert-auth-ca.crt` in the cert dir; client certificates for an admin and a plain user.
struct EnvtestPki {
    serving_ca: String,
    admin: (String, String),
    alice: (String, String),
    algorithm: &'static str,
}

const OPENSSL_CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,digitalSignature
subjectKeyIdentifier = hash
[serving]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
[client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
";

fn openssl_available() -> bool {
    Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success())
}

/// RSA 2048 everywhere, PKCS#8 keys, as envtest's TinyCA writes them.
fn envtest_pki_with_openssl(cert_dir: &Path, work: &Path) -> EnvtestPki {
    std::fs::write(work.join("openssl.cnf"), OPENSSL_CONFIG).unwrap();
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl").current_dir(work).args(args).output().unwrap();
        assert!(output.status.success(), "openssl {args:?}: {}", text(&output.stderr));
    };
    let new_ca = |name: &str| {
        let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
        openssl(&[
            "req",
            "-x509",
            "-config",
            "openssl.cnf",
            "-extensions",
            "ca",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &crt,
            "-days",
            "2",
            "-subj",
            "/O=envtest/CN=envtest-environment",
        ]);
    };
    let issue = |name: &str, ca: &str, subject: &str, extensions: &str| {
        let (key, csr, crt) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"));
        openssl(&[
            "req",
            "-new",
            "-config",
            "openssl.cnf",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            subject,
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-set_serial",
            "2",
            "-days",
            "2",
            "-extfile",
            "openssl.cnf",
            "-extensions",
            extensions,
            "-out",
            &crt,
        ]);
    };
    new_ca("serving-ca");
    new_ca("client-ca");
    new_ca("sa-signer");
    issue("apiserver", "serving-ca", "/O=envtest/CN=localhost", "serving");
    issue("admin", "client-ca", "/O=system:masters/CN=envtest-admin", "client");
    issue("alice", "client-ca", "/CN=alice", "client");
    let read = |name: &str| std::fs::read_to_string(work.join(name)).unwrap();
    assert!(read("sa-signer.key").starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8, as envtest writes it");
    for (from, to) in [
        ("apiserver.crt", "apiserver.crt"),
        ("apiserver.key", "apiserver.key"),
        ("sa-signer.crt", "sa-signer.crt"),
        ("sa-signer.key", "sa-signer.key"),
        ("client-ca.crt", "client-cert-auth-ca.crt"),
    ] {
        std::fs::write(cert_dir.join(to), read(from)).unwrap();
    }
    EnvtestPki {
        serving_ca: read("serving-ca.crt"),
        admin: (read("admin.crt"), read("admin.key")),
        alice: (read("alice.crt"), read("alice.key")),
        algorithm: "RS256",
    }
}

/// The same layout with ECDSA P-256 from rcgen, for machines without openssl (RSA signing is
/// covered by the unit tests of `auth::tokens`).
fn envtest_pki_with_rcgen(cert_dir: &Path) -> EnvtestPki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
    let new_ca = || {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, "envtest-environment");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem(), Issuer::new(params, key))
    };
    let issue = |issuer: &Issuer<'_, KeyPair>, names: Vec<String>, cn: &str, org: Option<&str>, usage| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        if let Some(org) = org {
            params.distinguished_name.push(DnType::OrganizationName, org);
        }
        params.extended_key_usages = vec![usage];
        (params.signed_by(&key, issuer).unwrap().pem(), key.serialize_pem())
    };
    let (serving_ca, _, serving_issuer) = new_ca();
    let (client_ca, _, client_issuer) = new_ca();
    let (sa_cert, sa_key, _) = new_ca();
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let serving = issue(&serving_issuer, names, "localhost", None, ExtendedKeyUsagePurpose::ServerAuth);
    let admin =
        issue(&client_issuer, vec![], "envtest-admin", Some("system:masters"), ExtendedKeyUsagePurpose::ClientAuth);
    let alice = issue(&client_issuer, vec![], "alice", None, ExtendedKeyUsagePurpose::ClientAuth);
    for (name, contents) in [
        ("apiserver.crt", &serving.0),
        ("apiserver.key", &serving.1),
        ("sa-signer.crt", &sa_cert),
        ("sa-signer.key", &sa_key),
        ("client-cert-auth-ca.crt", &client_ca),
    ] {
        std::fs::write(cert_dir.join(name), contents).unwrap();
    }
    EnvtestPki { serving_ca, admin, alice, algorithm: "ES256" }
}

/// The answer to `GET /health` from the etcd `child` listening on `port`, or `None` if it
/// exits (its port was taken) or never answers.
fn etcd_health(child: &mut std::process::Child, port: u16) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            stream.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            stream.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
            let mut response = String::new();
            let answered = stream.read_to_string(&mut response).is_ok();
            if answered && child.try_wait().unwrap().is_none() {
                return Some(response);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `install-envtest-assets DIR` with `.tools/bin` on PATH: kube-apiserver and etcd link to
/// kubetwin, kubectl to the real one.
fn install_assets(dir: &Path) {
    let output = Command::new(KUBETWIN)
        .args(["install-envtest-assets", dir.to_str().unwrap()])
        .env("PATH", path_with_tools())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let own = std::fs::canonicalize(KUBETWIN).unwrap();
    for name in ["kube-apiserver", "etcd"] {
        assert_eq!(std::fs::read_link(dir.join(name)).unwrap(), own, "{name}");
    }
    assert_eq!(
        std::fs::canonicalize(dir.join("kubectl")).unwrap(),
        std::fs::canonicalize(tools_bin().join("kubectl")).unwrap()
    );
}

async fn client(url: &str, ca: &str, identity: Option<&(String, String)>, token: Option<&str>) -> kube::Client {
    let (cert, key) = identity.cloned().unwrap_or_default();
    let kubeconfig = kubetwin::server::kubeconfig(url, ca, &cert, &key, "envtest");
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&kubeconfig).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    if identity.is_none() {
        config.auth_info = kube::config::AuthInfo { token: token.map(|t| t.to_string().into()), ..Default::default() };
    }
    kube::Client::try_from(config).unwrap()
}

fn status_of(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Polls `/healthz` anonymously, as envtest does, until it answers `ok`.
async fn wait_for_healthz(url: &str, ca: &str, child: &mut Child, log: &Path) {
    let anonymous = client(url, ca, None, None).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let request = http::Request::get("/healthz").body(Vec::new()).unwrap();
        if anonymous.request_text(request).await.is_ok_and(|body| body == "ok") {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("kube-apiserver exited with {status}: {}", std::fs::read_to_string(log).unwrap_or_default());
        }
        assert!(Instant::now() < deadline, "no /healthz: {}", std::fs::read_to_string(log).unwrap_or_default());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn as_kube_apiserver_it_serves_envtest_with_envtest_certificates() {
    let scratch = tempfile::tempdir().unwrap();
    let (bin, cert_dir, work) = (scratch.path().join("bin"), scratch.path().join("certs"), scratch.path().join("ca"));
    std::fs::create_dir_all(&cert_dir).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    install_assets(&bin);
    let pki = if openssl_available() {
        envtest_pki_with_openssl(&cert_dir, &work)
    } else {
        eprintln!("no openssl: using ECDSA key material instead of envtest's RSA");
        envtest_pki_with_rcgen(&cert_dir)
    };

    let help = Command::new(bin.join("kube-apiserver")).arg("--help").output().unwrap();
    assert!(help.status.success());
    let help = text(&help.stdout);
    assert!(help.lines().any(|line| line.trim_start().starts_with("--secure-port")), "{help}");
    assert!(!help.lines().any(|line| line.trim_start().starts_with("--insecure-port")), "envtest must not pass it");

    let (port, etcd_port) = (free_port(), free_port());
    let dir = cert_dir.to_str().unwrap();
    let args = [
        "--allow-privileged=true".to_string(),
        "--authorization-mode=RBAC".to_string(),
        "--bind-address=127.0.0.1".to_string(),
        format!("--cert-dir={dir}"),
        format!("--client-ca-file={dir}/client-cert-auth-ca.crt"),
        "--disable-admission-plugins=ServiceAccount".to_string(),
        format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
        format!("--secure-port={port}"),
        format!("--service-account-issuer=https://127.0.0.1:{port}/"),
        format!("--service-account-key-file={dir}/sa-signer.crt"),
        format!("--service-account-signing-key-file={dir}/sa-signer.key"),
        "--service-cluster-ip-range=10.0.0.0/24".to_string(),
    ];
    let log = scratch.path().join("kube-apiserver.log");
    let mut child = Command::new(bin.join("kube-apiserver"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let url = format!("https://127.0.0.1:{port}");
    wait_for_healthz(&url, &pki.serving_ca, &mut child, &log).await;

    let admin = client(&url, &pki.serving_ca, Some(&pki.admin), None).await;
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert!(names.contains(&"default".to_string()), "{names:?}");

    let alice = client(&url, &pki.serving_ca, Some(&pki.alice), None).await;
    let denied = status_of(Api::<Pod>::namespaced(alice, "default").list(&ListParams::default()).await.unwrap_err());
    assert_eq!(denied.code, 403);
    assert!(denied.message.contains("User \"alice\""), "RBAC sees the client certificate's user: {}", denied.message);

    let pods: Api<Pod> = Api::namespaced(admin.clone(), "default");
    let pod = json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}});
    let pod = pods.create(&PostParams::default(), &serde_json::from_value(pod).unwrap()).await.unwrap();
    let spec = pod.spec.unwrap();
    assert_eq!((spec.service_account_name, spec.volumes), (None, None), "ServiceAccount admission is off");

    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), "default");
    accounts
        .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "robot"}})).unwrap())
        .await
        .unwrap();
    let request = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}});
    let request = http::Request::post("/api/v1/namespaces/default/serviceaccounts/robot/token")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&request).unwrap())
        .unwrap();
    let issued: Value = admin.request(request).await.unwrap();
    let token = issued["status"]["token"].as_str().unwrap();
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&base64_url(header)).unwrap();
    assert_eq!(header["alg"], pki.algorithm, "signed with --service-account-signing-key-file");
    let robot = client(&url, &pki.serving_ca, None, Some(token)).await;
    let denied = status_of(Api::<Pod>::namespaced(robot, "default").list(&ListParams::default()).await.unwrap_err());
    assert!(denied.message.contains("system:serviceaccount:default:robot"), "the token verifies: {}", denied.message);

    signal(&child, "TERM");
    assert!(wait_with_deadline(&mut child, 20).success());
    let stderr = std::fs::read_to_string(&log).unwrap();
    let ignored: Vec<&str> = stderr.lines().filter(|line| line.contains("ignoring")).collect();
    assert_eq!(ignored.len(), 1, "{stderr}");
    assert!(ignored[0].contains("--etcd-servers"), "{stderr}");
    let leftovers: Vec<_> = std::fs::read_dir(&cert_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 5, "kubetwin writes nothing into envtest's cert dir: {leftovers:?}");
}

fn base64_url(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).unwrap()
}

#[test]
fn as_kube_apiserver_it_names_flags_it_does_not_know() {
    let scratch = tempfile::tempdir().unwrap();
    let link = scratch.path().join("kube-apiserver");
    std::os::unix::fs::symlink(KUBETWIN, &link).unwrap();
    let output = Command::new(&link).args(["--secure-port=0", "--no-such-flag=1"]).output().unwrap();
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("unknown flag: --no-such-flag"), "{}", text(&output.stderr));
}

#[test]
fn as_etcd_it_answers_health_until_stopped() {
    let scratch = tempfile::tempdir().unwrap();
    let bin = scratch.path().join("bin");
    install_assets(&bin);
    let help = Command::new(bin.join("etcd")).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(text(&help.stdout).lines().any(|line| line.trim_start().starts_with("--unsafe-no-fsync")));

    let data = scratch.path().join("data");
    // A free port can be taken by a parallel test's server before etcd binds it (then etcd
    // exits and the probe may even reach that server): such a pair of ports is given up.
    let (mut child, response) = (0..5)
        .find_map(|_| {
            let (port, peer) = (free_port(), free_port());
            let mut child = Command::new(bin.join("etcd"))
                .args([
                    format!("--advertise-client-urls=http://127.0.0.1:{port}"),
                    format!("--data-dir={}", data.display()),
                    format!("--listen-client-urls=http://127.0.0.1:{port}"),
                    format!("--listen-peer-urls=http://127.0.0.1:{peer}"),
                    "--unsafe-no-fsync=true".to_string(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            match etcd_health(&mut child, port) {
                Some(response) => Some((child, response)),
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    None
                }
            }
        })
        .expect("etcd answered on one of five pairs of free ports");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with(r#"{"health":"true"}"#), "{response}");
    signal(&child, "TERM");
    assert!(wait_with_deadline(&mut child, 10).success());
}
