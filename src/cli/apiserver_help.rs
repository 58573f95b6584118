//! `kube-apiserver --help` as kubetwin prints it: the flags it accepts, grouped under
//! kube-apiserver's own section names (Generic, Secure serving, Authentication, Authorization,
//! API enablement, Admission, Logs, Misc, Global) in pflag's layout, which envtest greps for
//! flags, followed by the flags accepted and ignored.

use super::apiserver_flags::{FLAGS, Flag};
use super::requestheader_flags;

/// kube-apiserver's flag sections, in the order its `--help` prints them.
const SECTIONS: [&str; 9] = [
    "Generic",
    "Secure serving",
    "Authentication",
    "Authorization",
    "API enablement",
    "Admission",
    "Logs",
    "Misc",
    "Global",
];

/// The section kube-apiserver lists `name` under.
fn section(name: &str) -> &'static str {
    match name {
        "advertise-address" | "feature-gates" => "Generic",
        "bind-address" | "cert-dir" | "secure-port" | "tls-cert-file" | "tls-private-key-file" => "Secure serving",
        "anonymous-auth"
        | "api-audiences"
        | "client-ca-file"
        | "enable-bootstrap-token-auth"
        | "token-auth-file"
        | "service-account-issuer"
        | "service-account-key-file" => "Authentication",
        _ if name.starts_with("requestheader-") => "Authentication",
        _ if name.starts_with("authorization-") => "Authorization",
        "runtime-config" => "API enablement",
        "enable-admission-plugins" | "disable-admission-plugins" => "Admission",
        "v" => "Logs",
        "help" | "version" => "Global",
        _ => "Misc",
    }
}

/// `kube-apiserver --help`.
pub fn help() -> String {
    format!(
        "kubetwin standing in for kube-apiserver: the Kubernetes API, in memory, over HTTPS.\n\nUsage:\n  kube-apiserver [flags]\n\n{}",
        flag_sections()
    )
}

/// The kube-apiserver flags, after `command`'s own help.
pub fn help_for(command: &str) -> String {
    format!(
        "{command} also takes kube-apiserver's flags (its --authorization-mode defaults to RBAC):\n\n{}",
        flag_sections()
    )
}

fn flag_sections() -> String {
    let mut flags: Vec<&Flag> = FLAGS.iter().chain(requestheader_flags::FLAGS).collect();
    flags.sort_by_key(|flag| flag.name);
    let mut text = String::new();
    for title in SECTIONS {
        let listed: Vec<&&Flag> = flags.iter().filter(|flag| section(flag.name) == title).collect();
        if listed.is_empty() {
            continue;
        }
        text.push_str(&format!("{title} flags:\n\n"));
        for flag in listed {
            let head = match (flag.name, flag.value) {
                ("v", value) => format!("  -v, --v {}", value.unwrap_or_default()),
                ("help", _) => "  -h, --help".to_string(),
                (name, Some(value)) => format!("      --{name} {value}"),
                (name, None) => format!("      --{name}"),
            };
            text.push_str(&format!("{head:<48} {}\n", flag.help));
        }
        text.push('\n');
    }
    text.push_str(
        "Also accepted and ignored, as nothing in memory needs them: --etcd-*, --kubelet-*, --audit-*, \
         --insecure-port, --insecure-bind-address, --logtostderr, --log-dir, --event-ttl.\n",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_flag_in_its_section_but_not_insecure_port() {
        let help = help();
        for flag in FLAGS.iter().chain(requestheader_flags::FLAGS) {
            assert!(help.contains(&format!("--{} ", flag.name)), "--{} is missing from\n{help}", flag.name);
        }
        assert!(!help.lines().any(|line| line.trim_start().starts_with("--insecure-port")));
        let at = |needle: &str| help.find(needle).unwrap_or_else(|| panic!("{needle} is missing from\n{help}"));
        assert!(
            at("Secure serving flags:") < at("--secure-port int")
                && at("--secure-port int") < at("Authentication flags:")
        );
        assert!(at("Authorization flags:") < at("--authorization-mode strings"));
        assert!(at("Misc flags:") < at("--service-account-signing-key-file string"));
        assert!(at("Global flags:") < at("-h, --help"));
    }
}
