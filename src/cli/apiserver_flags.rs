//! kube-apiserver's command line, as far as kubetwin stands in for it: the flags
//! controller-runtime's envtest passes (and a few more a test suite plausibly adds), parsed the
//! way Go's pflag parses them (`--name=value`, `--name value`, bare `--bool`, `-v`), and turned
//! into a [`ServerConfig`]. Flags that mean nothing in memory (`--etcd-*`, `--insecure-port`,
//! `--insecure-bind-address`) are accepted and reported as ignored; any other flag is an error
//! that names it. `--help` deliberately lists no `--insecure-port`, so envtest (which probes the
//! help text) treats kubetwin as a kube-apiserver of 1.24 or later.

use super::requestheader_flags::{self, RequestHeaderFlags};
use crate::auth::authorize::AuthorizationMode;
use crate::auth::webhook::{self, WebhookConfig, review::ReviewVersion};
use crate::auth::{AuthConfig, authenticate, tokens};
use crate::instance::InstanceConfig;
use crate::pki::PkiFiles;
use crate::registry::admission_plugins::{AdmissionPlugins, PluginChange};
use crate::registry::allocators::{Cidr, PortAllocator};
use crate::server::ServerConfig;
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// One flag kubetwin's kube-apiserver understands: its name, its value's type (`None` for a
/// boolean) and its help.
pub(super) struct Flag {
    pub(super) name: &'static str,
    pub(super) value: Option<&'static str>,
    pub(super) help: &'static str,
}

pub(super) const fn flag(name: &'static str, value: Option<&'static str>, help: &'static str) -> Flag {
    Flag { name, value, help }
}

pub(super) const FLAGS: &[Flag] = &[
    flag("advertise-address", Some("ip"), "The address the kubernetes Service's endpoints name."),
    flag("allow-privileged", None, "Accepted; kubetwin runs no containers, privileged or not."),
    flag("anonymous-auth", None, "Let requests no authenticator claims in as system:anonymous. (default true)"),
    flag("api-audiences", Some("strings"), "Audiences a ServiceAccount token must name one of. (default: the issuer)"),
    flag(
        "authorization-mode",
        Some("strings"),
        "Ordered authorizers: AlwaysAllow, AlwaysDeny, RBAC, Webhook. (default AlwaysAllow)",
    ),
    flag(
        "authorization-webhook-cache-authorized-ttl",
        Some("duration"),
        "How long the webhook's allowed answers are cached. (default 5m0s)",
    ),
    flag(
        "authorization-webhook-cache-unauthorized-ttl",
        Some("duration"),
        "How long the webhook's other answers are cached. (default 30s)",
    ),
    flag(
        "authorization-webhook-config-file",
        Some("string"),
        "Kubeconfig-format file naming the HTTPS authorization webhook (for --authorization-mode=Webhook).",
    ),
    flag(
        "authorization-webhook-version",
        Some("string"),
        "The SubjectAccessReview version sent to the webhook: v1 or v1beta1. (default \"v1\")",
    ),
    flag("bind-address", Some("ip"), "The address to serve HTTPS on. (default 127.0.0.1)"),
    flag("cert-dir", Some("string"), "Where apiserver.crt and apiserver.key are read from, or kubetwin's PKI is kept."),
    flag("client-ca-file", Some("string"), "CA bundle client certificates are verified against."),
    flag(
        "disable-admission-plugins",
        Some("strings"),
        "Admission plugins to turn off (ServiceAccount, Priority, DefaultTolerationSeconds; others are ignored).",
    ),
    flag(
        "enable-admission-plugins",
        Some("strings"),
        "Admission plugins to turn on (all kubetwin implements are on by default; others are ignored).",
    ),
    flag(
        "enable-bootstrap-token-auth",
        None,
        "Let bootstrap.kubernetes.io/token Secrets in kube-system authenticate as system:bootstrap:<id>.",
    ),
    flag(
        "feature-gates",
        Some("mapStringBool"),
        "Checked for form and reported as ignored: kubetwin behaves as 1.36 with the default gates.",
    ),
    flag("help", None, "Show this help."),
    flag(
        "runtime-config",
        Some("mapStringString"),
        "Checked for form and reported as ignored: kubetwin serves the GA group-versions of 1.36.",
    ),
    flag("secure-port", Some("int"), "The port to serve HTTPS on; 0 picks a free one. (default 6443)"),
    flag("service-account-issuer", Some("strings"), "The issuer of ServiceAccount tokens; the first one signs."),
    flag("service-account-key-file", Some("strings"), "Accepted; tokens verify with the signing key's public key."),
    flag(
        "service-account-signing-key-file",
        Some("string"),
        "PEM key ServiceAccount tokens are signed with (P-256 or RSA).",
    ),
    flag("service-cluster-ip-range", Some("string"), "The range Service ClusterIPs come from. (default 10.0.0.0/24)"),
    flag("service-node-port-range", Some("portRange"), "The range NodePorts come from. (default 30000-32767)"),
    flag("tls-cert-file", Some("string"), "Serving certificate chain (PEM); needs --tls-private-key-file."),
    flag("tls-private-key-file", Some("string"), "The serving certificate's key (PEM)."),
    flag("token-auth-file", Some("string"), "Static bearer tokens: token,user,uid[,\"group1,group2\"] per line."),
    flag("v", Some("Level"), "Log verbosity: 4 and up logs debug, 6 and up trace."),
    flag("version", None, "Print the version and exit."),
];

/// Whether kube-apiserver's command line, as kubetwin reads it, has the flag `name`, and if so
/// whether it takes a value (`Some(true)`) or is a switch (`Some(false)`).
pub fn flag_takes_value(name: &str) -> Option<bool> {
    if is_ignored(name) {
        return Some(name != "logtostderr");
    }
    FLAGS.iter().chain(requestheader_flags::FLAGS).find(|flag| flag.name == name).map(|flag| flag.value.is_some())
}

/// Flags accepted for compatibility and ignored: storage, kubelets, audit and insecure serving
/// do not exist here, logs go to stderr, and events are kept until deleted.
pub(super) fn is_ignored(name: &str) -> bool {
    ["etcd-", "kubelet-", "audit-"].iter().any(|prefix| name.starts_with(prefix))
        || ["insecure-port", "insecure-bind-address", "logtostderr", "log-dir", "event-ttl"].contains(&name)
}

/// A parsed kube-apiserver command line.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiserverFlags {
    pub help: bool,
    pub version: bool,
    pub verbosity: u8,
    pub advertise_address: Option<IpAddr>,
    pub bind_address: IpAddr,
    pub secure_port: u16,
    pub cert_dir: Option<PathBuf>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_private_key_file: Option<PathBuf>,
    pub client_ca_file: Option<PathBuf>,
    pub service_account_signing_key_file: Option<PathBuf>,
    pub service_account_key_files: Vec<PathBuf>,
    pub service_account_issuers: Vec<String>,
    pub api_audiences: Vec<String>,
    pub authorization_modes: Vec<AuthorizationMode>,
    pub authorization_webhook_config_file: Option<PathBuf>,
    pub authorization_webhook_version: ReviewVersion,
    pub authorization_webhook_cache_authorized_ttl: Duration,
    pub authorization_webhook_cache_unauthorized_ttl: Duration,
    pub anonymous_auth: bool,
    pub token_auth_file: Option<PathBuf>,
    pub enable_bootstrap_token_auth: bool,
    /// `--requestheader-*` and `--proxy-client-*`.
    pub requestheader: RequestHeaderFlags,
    pub enable_admission_plugins: Vec<String>,
    pub disable_admission_plugins: Vec<String>,
    /// The admission plugins, once both lists are read.
    pub admission: AdmissionPlugins,
    pub allow_privileged: bool,
    pub service_cluster_ip_range: String,
    pub service_node_port_range: String,
    /// What was accepted but means nothing here, as given (`--etcd-servers`, `--insecure-port`,
    /// other admission plugins, the Node authorizer).
    pub ignored: Vec<String>,
}

impl Default for ApiserverFlags {
    fn default() -> Self {
        ApiserverFlags {
            help: false,
            version: false,
            verbosity: 0,
            advertise_address: None,
            bind_address: IpAddr::from([127, 0, 0, 1]),
            secure_port: 6443,
            cert_dir: None,
            tls_cert_file: None,
            tls_private_key_file: None,
            client_ca_file: None,
            service_account_signing_key_file: None,
            service_account_key_files: Vec::new(),
            service_account_issuers: Vec::new(),
            api_audiences: Vec::new(),
            authorization_modes: Vec::new(),
            authorization_webhook_config_file: None,
            authorization_webhook_version: ReviewVersion::V1,
            authorization_webhook_cache_authorized_ttl: webhook::DEFAULT_AUTHORIZED_TTL,
            authorization_webhook_cache_unauthorized_ttl: webhook::DEFAULT_UNAUTHORIZED_TTL,
            anonymous_auth: true,
            token_auth_file: None,
            enable_bootstrap_token_auth: false,
            requestheader: RequestHeaderFlags::default(),
            enable_admission_plugins: Vec::new(),
            disable_admission_plugins: Vec::new(),
            admission: AdmissionPlugins::default(),
            allow_privileged: false,
            service_cluster_ip_range: "10.0.0.0/24".into(),
            service_node_port_range: "30000-32767".into(),
            ignored: Vec::new(),
        }
    }
}

fn parse_bool(name: &str, text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid argument {text:?} for \"--{name}\" flag: not a boolean")),
    }
}

/// Parses a Go `time.Duration` (`30s`, `5m0s`, `1h30m`, `250ms`, `0`), as pflag reads one.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let (mut rest, mut total) = (text, 0f64);
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().map_err(|_| invalid())?;
        rest = &rest[number_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += number * seconds_per_unit;
        rest = &rest[unit_end..];
    }
    if text.is_empty() {
        return Err(invalid());
    }
    Ok(Duration::from_secs_f64(total))
}

fn list(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(',').map(str::trim).filter(|item| !item.is_empty()).map(String::from)
}

impl ApiserverFlags {
    /// Parses kube-apiserver's arguments (without argv[0]).
    pub fn parse(args: &[OsString]) -> Result<ApiserverFlags, String> {
        let mut flags = ApiserverFlags::default();
        let mut args = args.iter().map(|arg| arg.to_str().ok_or_else(|| format!("argument {arg:?} is not UTF-8")));
        while let Some(arg) = args.next() {
            let arg = arg?;
            let name_and_value = match (arg.strip_prefix("--"), arg.strip_prefix('-')) {
                (Some(""), _) => return Err("positional arguments are not accepted (after `--`)".into()),
                (Some(long), _) => long,
                (None, Some("v")) => "v",
                (None, Some("h")) => "help",
                (None, Some(short)) if short.starts_with("v=") => short,
                (None, Some(short)) => return Err(format!("unknown shorthand flag: -{short}")),
                (None, None) => return Err(format!("unexpected argument {arg:?}: kube-apiserver takes only flags")),
            };
            let (name, inline) = match name_and_value.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (name_and_value, None),
            };
            if is_ignored(name) {
                if inline.is_none() && flag_takes_value(name) == Some(true) {
                    args.next().transpose()?;
                }
                flags.ignored.push(format!("--{name}"));
                continue;
            }
            let Some(known) = FLAGS.iter().chain(requestheader_flags::FLAGS).find(|flag| flag.name == name) else {
                return Err(format!("unknown flag: --{name}"));
            };
            let value = match (known.value, inline) {
                (_, Some(value)) => value.to_string(),
                (None, None) => "true".to_string(),
                (Some(_), None) => {
                    args.next().transpose()?.ok_or_else(|| format!("flag needs an argument: --{name}"))?.into()
                }
            };
            flags.set(name, &value)?;
        }
        let changes = flags.admission.configure(&flags.enable_admission_plugins, &flags.disable_admission_plugins)?;
        for (plugin, change) in changes {
            if let PluginChange::NotSupported(_) = change {
                let flag = if flags.enable_admission_plugins.contains(&plugin) { "enable" } else { "disable" };
                flags.ignored.push(format!("--{flag}-admission-plugins={plugin}"));
            }
        }
        Ok(flags)
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let invalid = |e: &dyn std::fmt::Display| format!("invalid argument {value:?} for \"--{name}\" flag: {e}");
        if self.requestheader.set(name, value) {
            return Ok(());
        }
        match name {
            "advertise-address" => self.advertise_address = Some(value.parse().map_err(|e| invalid(&e))?),
            "allow-privileged" => self.allow_privileged = parse_bool(name, value)?,
            "anonymous-auth" => self.anonymous_auth = parse_bool(name, value)?,
            "api-audiences" => self.api_audiences.extend(list(value)),
            "authorization-mode" => {
                for mode in list(value) {
                    match mode.as_str() {
                        "Node" => self.ignored.push("--authorization-mode=Node".into()),
                        other => {
                            self.authorization_modes.push(AuthorizationMode::parse(other).map_err(|e| invalid(&e))?)
                        }
                    }
                }
            }
            "authorization-webhook-cache-authorized-ttl" => {
                self.authorization_webhook_cache_authorized_ttl = parse_duration(value).map_err(|e| invalid(&e))?
            }
            "authorization-webhook-cache-unauthorized-ttl" => {
                self.authorization_webhook_cache_unauthorized_ttl = parse_duration(value).map_err(|e| invalid(&e))?
            }
            "authorization-webhook-config-file" => self.authorization_webhook_config_file = Some(value.into()),
            "authorization-webhook-version" => {
                self.authorization_webhook_version = ReviewVersion::parse(value).map_err(|e| invalid(&e))?
            }
            "bind-address" => self.bind_address = value.parse().map_err(|e| invalid(&e))?,
            "cert-dir" => self.cert_dir = Some(value.into()),
            "client-ca-file" => self.client_ca_file = Some(value.into()),
            "disable-admission-plugins" => self.disable_admission_plugins.extend(list(value)),
            "enable-admission-plugins" => self.enable_admission_plugins.extend(list(value)),
            "enable-bootstrap-token-auth" => self.enable_bootstrap_token_auth = parse_bool(name, value)?,
            "help" => self.help = parse_bool(name, value)?,
            "secure-port" => self.secure_port = value.parse().map_err(|e| invalid(&e))?,
            "service-account-issuer" => self.service_account_issuers.push(value.into()),
            "service-account-key-file" => self.service_account_key_files.push(value.into()),
            "service-account-signing-key-file" => self.service_account_signing_key_file = Some(value.into()),
            "service-cluster-ip-range" => self.service_cluster_ip_range = value.into(),
            "service-node-port-range" => self.service_node_port_range = value.into(),
            "tls-cert-file" => self.tls_cert_file = Some(value.into()),
            "tls-private-key-file" => self.tls_private_key_file = Some(value.into()),
            "token-auth-file" => self.token_auth_file = Some(value.into()),
            "feature-gates" | "runtime-config" => {
                for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                    match entry.split_once('=') {
                        Some((key, setting)) if name == "feature-gates" => {
                            parse_bool(name, setting).map_err(|_| {
                                invalid(&format!("invalid value of {key}: {setting}, err: strconv.ParseBool: parsing {setting:?}: invalid syntax"))
                            })?;
                        }
                        None if name == "feature-gates" => {
                            return Err(invalid(&format!("missing bool value for {entry}")));
                        }
                        _ => {}
                    }
                }
                self.ignored.push(format!("--{name}={value}"));
            }
            "v" => self.verbosity = value.parse().map_err(|e| invalid(&e))?,
            "version" => self.version = parse_bool(name, value)?,
            other => unreachable!("--{other} is in FLAGS but not handled"),
        }
        Ok(())
    }

    /// The server these flags describe. The serving certificate comes from
    /// `--tls-cert-file`/`--tls-private-key-file`, else from `apiserver.crt`/`apiserver.key` in
    /// `--cert-dir` when both are there (envtest writes them); with no file supplied at all,
    /// kubetwin's own PKI is kept in `--cert-dir`.
    pub fn server_config(&self) -> Result<ServerConfig, String> {
        let (serving_cert, serving_key) = match (&self.tls_cert_file, &self.tls_private_key_file, &self.cert_dir) {
            (Some(cert), Some(key), _) => (Some(cert.clone()), Some(key.clone())),
            // A directory kubetwin keeps its own PKI in (its CA key is there) is loaded whole,
            // so a restart keeps every certificate; otherwise a serving pair there is supplied.
            (None, None, Some(dir))
                if dir.join("apiserver.crt").is_file()
                    && dir.join("apiserver.key").is_file()
                    && !dir.join("ca.key").is_file() =>
            {
                (Some(dir.join("apiserver.crt")), Some(dir.join("apiserver.key")))
            }
            (None, None, _) => (None, None),
            _ => return Err("--tls-cert-file and --tls-private-key-file must be given together".into()),
        };
        let pki_files = PkiFiles {
            serving_cert,
            serving_key,
            client_ca: self.client_ca_file.clone(),
            service_account_signing_key: self.service_account_signing_key_file.clone(),
        };
        let first_range = self.service_cluster_ip_range.split(',').next().unwrap_or_default();
        let service_cluster_ip_range =
            Cidr::parse(first_range).map_err(|e| format!("--service-cluster-ip-range: {e}"))?;
        let service_node_port_range = PortAllocator::parse_range(&self.service_node_port_range)
            .map_err(|e| format!("--service-node-port-range: {e}"))?;
        let static_tokens = match &self.token_auth_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("--token-auth-file: reading {}: {e}", path.display()))?;
                authenticate::parse_token_file(&text).map_err(|e| format!("--token-auth-file: {e}"))?
            }
            None => Vec::new(),
        };
        let authorization_modes = match self.authorization_modes.is_empty() {
            true => vec![AuthorizationMode::AlwaysAllow],
            false => self.authorization_modes.clone(),
        };
        let webhook = self.webhook_config(&authorization_modes)?;
        let cert_dir = if pki_files.is_empty() { self.cert_dir.clone() } else { None };
        let auth = AuthConfig {
            authorization_modes,
            anonymous: self.anonymous_auth,
            requestheader: Some(self.requestheader.auth_config(cert_dir.as_deref())?),
            static_tokens,
            bootstrap_tokens: self.enable_bootstrap_token_auth,
            webhook,
            issuer: self.service_account_issuers.first().cloned().unwrap_or_else(|| tokens::DEFAULT_ISSUER.into()),
            audiences: self.api_audiences.clone(),
        };
        Ok(ServerConfig {
            bind_address: self.bind_address,
            secure_port: self.secure_port,
            cert_dir,
            pki_files,
            advertise_address: self.advertise_address,
            instance: InstanceConfig {
                service_cluster_ip_range,
                service_node_port_range,
                auth,
                admission: self.admission.clone(),
                ..InstanceConfig::default()
            },
            deterministic_seed: None,
            shared_pki: None,
        })
    }
}

impl ApiserverFlags {
    /// The webhook authorizer's configuration, which the Webhook mode needs and nothing else
    /// may have (kube-apiserver refuses either mismatch).
    fn webhook_config(&self, modes: &[AuthorizationMode]) -> Result<Option<WebhookConfig>, String> {
        let wanted = modes.contains(&AuthorizationMode::Webhook);
        let path = match (&self.authorization_webhook_config_file, wanted) {
            (None, false) => return Ok(None),
            (Some(_), false) => {
                return Err("cannot specify --authorization-webhook-config-file without mode Webhook".into());
            }
            (None, true) => return Err("authorization-mode Webhook's authorization config file not passed".into()),
            (Some(path), true) => path,
        };
        let config = WebhookConfig::from_kubeconfig_file(path)
            .map_err(|e| format!("--authorization-webhook-config-file: {e}"))?;
        Ok(Some(WebhookConfig {
            version: self.authorization_webhook_version,
            authorized_ttl: self.authorization_webhook_cache_authorized_ttl,
            unauthorized_ttl: self.authorization_webhook_cache_unauthorized_ttl,
            ..config
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ApiserverFlags, String> {
        ApiserverFlags::parse(&args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    /// What envtest (controller-runtime 0.2x) passes, sorted as it renders them.
    const ENVTEST: &[&str] = &[
        "--allow-privileged=true",
        "--authorization-mode=RBAC",
        "--bind-address=127.0.0.1",
        "--cert-dir=/tmp/k8s_test_framework_1",
        "--client-ca-file=/tmp/k8s_test_framework_1/client-cert-auth-ca.crt",
        "--disable-admission-plugins=ServiceAccount",
        "--etcd-servers=http://127.0.0.1:40001",
        "--secure-port=40002",
        "--service-account-issuer=https://127.0.0.1:40002/",
        "--service-account-key-file=/tmp/k8s_test_framework_1/sa-signer.crt",
        "--service-account-signing-key-file=/tmp/k8s_test_framework_1/sa-signer.key",
        "--service-cluster-ip-range=10.0.0.0/24",
    ];

    #[test]
    fn envtest_arguments_parse() {
        let flags = parse(ENVTEST).unwrap();
        assert_eq!(flags.secure_port, 40002);
        assert_eq!(flags.authorization_modes, [AuthorizationMode::Rbac]);
        assert!(!flags.admission.is_enabled("ServiceAccount") && flags.allow_privileged);
        assert_eq!(flags.service_account_issuers, ["https://127.0.0.1:40002/"]);
        assert_eq!(flags.ignored, ["--etcd-servers"]);
        let config = flags.server_config().unwrap();
        assert_eq!(config.pki_files.client_ca, Some("/tmp/k8s_test_framework_1/client-cert-auth-ca.crt".into()));
        assert_eq!(config.pki_files.serving_cert, None, "no apiserver.crt in a directory that does not exist");
        assert_eq!(config.cert_dir, None, "supplied files keep kubetwin's PKI out of the cert dir");
        assert!(!config.instance.admission.is_enabled("ServiceAccount"));
        assert_eq!(config.instance.auth.issuer, "https://127.0.0.1:40002/");
        assert_eq!(config.instance.service_cluster_ip_range.first().to_string(), "10.0.0.1");
    }

    #[test]
    fn pflag_forms_are_understood() {
        let flags = parse(&[
            "--secure-port",
            "7443",
            "-v=4",
            "--anonymous-auth=false",
            "--insecure-port",
            "0",
            "--authorization-mode=Node,RBAC",
            "--advertise-address=10.1.2.3",
            "--help",
        ])
        .unwrap();
        assert_eq!((flags.secure_port, flags.verbosity, flags.anonymous_auth, flags.help), (7443, 4, false, true));
        assert_eq!(flags.ignored, ["--insecure-port", "--authorization-mode=Node"]);
        assert_eq!(flags.advertise_address, Some(IpAddr::from([10, 1, 2, 3])));
        assert_eq!(parse(&["-v", "2"]).unwrap().verbosity, 2);
        assert_eq!(
            parse(&[]).unwrap().server_config().unwrap().instance.auth.authorization_modes,
            [AuthorizationMode::AlwaysAllow]
        );
    }

    #[test]
    fn bad_flags_are_named() {
        assert_eq!(parse(&["--no-such-flag=1"]).unwrap_err(), "unknown flag: --no-such-flag");
        let gates = parse(&["--feature-gates=Foo=true,Bar=false", "--runtime-config=api/all=true"]).unwrap();
        assert_eq!(gates.ignored, ["--feature-gates=Foo=true,Bar=false", "--runtime-config=api/all=true"]);
        assert!(parse(&["--feature-gates=Foo=maybe"]).unwrap_err().contains("invalid value of Foo: maybe"));
        assert!(parse(&["--feature-gates=Foo"]).unwrap_err().contains("missing bool value for Foo"));
        assert!(parse(&["--secure-port=http"]).unwrap_err().contains("--secure-port"));
        assert!(parse(&["--cert-dir"]).unwrap_err().contains("--cert-dir"));
        assert!(parse(&["--authorization-mode=Magic"]).unwrap_err().contains("Magic"));
        assert!(parse(&["serve"]).unwrap_err().contains("serve"));
        assert!(parse(&["--tls-cert-file=a"]).unwrap().server_config().unwrap_err().contains("--tls-private-key-file"));
    }

    #[test]
    fn flags_meaningless_in_memory_are_ignored_with_or_without_values() {
        let flags = parse(&[
            "--logtostderr",
            "--kubelet-client-key",
            "k.pem",
            "--audit-log-path=/var/log/a",
            "--event-ttl",
            "1h",
            "--log-dir",
            "/tmp",
            "--secure-port=1",
        ])
        .unwrap();
        assert_eq!(
            flags.ignored,
            ["--logtostderr", "--kubelet-client-key", "--audit-log-path", "--event-ttl", "--log-dir"]
        );
        assert_eq!(flags.secure_port, 1, "a switch takes no value, so the next flag is read");
    }

    #[test]
    fn go_durations_parse_as_pflag_reads_them() {
        assert_eq!(parse_duration("5m0s"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "5", "5 minutes", "m", "1d"] {
            assert_eq!(parse_duration(bad), Err(format!("time: invalid duration {bad:?}")));
        }
    }

    #[test]
    fn webhook_and_bootstrap_token_flags_reach_the_auth_config() {
        let defaults = parse(&[]).unwrap().server_config().unwrap().instance.auth;
        assert!(!defaults.bootstrap_tokens && defaults.webhook.is_none());

        let dir = tempfile::tempdir().unwrap();
        let text = crate::auth::test_support::webhook_kubeconfig();
        let path = dir.path().join("webhook.kubeconfig");
        std::fs::write(&path, text).unwrap();
        let config_file = format!("--authorization-webhook-config-file={}", path.display());
        let flags = parse(&[
            "--authorization-mode=RBAC,Webhook",
            &config_file,
            "--authorization-webhook-version=v1beta1",
            "--authorization-webhook-cache-authorized-ttl=1m30s",
            "--authorization-webhook-cache-unauthorized-ttl=0",
            "--enable-bootstrap-token-auth",
        ])
        .unwrap();
        let auth = flags.server_config().unwrap().instance.auth;
        assert_eq!(auth.authorization_modes, [AuthorizationMode::Rbac, AuthorizationMode::Webhook]);
        assert!(auth.bootstrap_tokens);
        let webhook = auth.webhook.unwrap();
        assert_eq!(webhook.connection.url, "https://127.0.0.1:9443/authorize");
        assert_eq!(webhook.version, ReviewVersion::V1beta1);
        assert_eq!((webhook.authorized_ttl, webhook.unauthorized_ttl), (Duration::from_secs(90), Duration::ZERO));

        let unconfigured = parse(&["--authorization-mode=Webhook"]).unwrap().server_config().unwrap_err();
        assert_eq!(unconfigured, "authorization-mode Webhook's authorization config file not passed");
        let unused = parse(&["--authorization-mode=RBAC", &config_file]).unwrap().server_config().unwrap_err();
        assert_eq!(unused, "cannot specify --authorization-webhook-config-file without mode Webhook");
        let missing = parse(&["--authorization-mode=Webhook", "--authorization-webhook-config-file=/nonexistent/k"]);
        assert!(missing.unwrap().server_config().unwrap_err().contains("/nonexistent/k"));
        assert_eq!(
            parse(&["--authorization-webhook-cache-authorized-ttl=5 minutes"]).unwrap_err(),
            r#"invalid argument "5 minutes" for "--authorization-webhook-cache-authorized-ttl" flag: time: invalid duration "5 minutes""#
        );
        assert!(parse(&["--authorization-webhook-version=v2"]).unwrap_err().contains("v1beta1"));
    }
}
