//! Name validation per kind, worded exactly as kube-apiserver's `apimachinery/pkg/util/validation`
//! words it: DNS-1123 subdomains for most objects, DNS-1123 labels for namespaces, DNS-1035
//! labels for Services, and path-segment names for RBAC objects.

/// Which rule a resource's names follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    Subdomain,
    Label,
    Dns1035Label,
    PathSegment,
}

impl NameRule {
    /// The rule kube-apiserver applies to `metadata.name` of this resource.
    pub fn for_resource(group: &str, plural: &str) -> NameRule {
        match (group, plural) {
            ("", "namespaces") => NameRule::Label,
            ("", "services") => NameRule::Dns1035Label,
            ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
            _ => NameRule::Subdomain,
        }
    }

    /// The problems with `name` under this rule (empty when valid).
    pub fn check(self, name: &str) -> Vec<String> {
        match self {
            NameRule::Subdomain => dns1123_subdomain(name),
            NameRule::Label => dns1123_label(name),
            NameRule::Dns1035Label => dns1035_label(name),
            NameRule::PathSegment => path_segment(name),
        }
    }
}

fn is_alphanumeric(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn is_label(name: &str, first_must_be_letter: bool) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.iter().all(|&c| is_alphanumeric(c) || c == b'-')
        && if first_must_be_letter { bytes[0].is_ascii_lowercase() } else { is_alphanumeric(bytes[0]) }
        && is_alphanumeric(bytes[bytes.len() - 1])
}

fn max_length(name: &str, max: usize) -> Option<String> {
    (name.len() > max).then(|| format!("must be no more than {max} characters"))
}

pub fn dns1123_label(name: &str) -> Vec<String> {
    let mut errors: Vec<String> = max_length(name, 63).into_iter().collect();
    if !is_label(name, false) {
        errors.push("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".into());
    }
    errors
}

pub fn dns1123_subdomain(name: &str) -> Vec<String> {
    let mut errors: Vec<String> = max_length(name, 253).into_iter().collect();
    if !name.split('.').all(|part| is_label(part, false)) {
        errors.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into());
    }
    errors
}

pub fn dns1035_label(name: &str) -> Vec<String> {
    let mut errors: Vec<String> = max_length(name, 63).into_iter().collect();
    if !is_label(name, true) {
        errors.push("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')".into());
    }
    errors
}

pub fn path_segment(name: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if name == "." || name == ".." {
        errors.push(format!("may not be '{name}'"));
    }
    for forbidden in ["/", "%"] {
        if name.contains(forbidden) {
            errors.push(format!("may not contain '{forbidden}'"));
        }
    }
    errors
}

/// The longest generateName prefix kept before the random suffix (63 - 5).
pub const MAX_GENERATE_NAME_PREFIX: usize = 58;

/// `generateName` plus a suffix, trimming the prefix as `names.SimpleNameGenerator` does.
pub fn generated_name(prefix: &str, suffix: &str) -> String {
    let mut cut = prefix.len().min(MAX_GENERATE_NAME_PREFIX);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &prefix[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains_labels_and_dns1035() {
        assert!(dns1123_subdomain("my-app.example.com").is_empty());
        assert!(!dns1123_subdomain("My_App").is_empty());
        assert!(!dns1123_subdomain("a..b").is_empty());
        assert!(dns1123_label("kube-system").is_empty());
        assert!(!dns1123_label("a.b").is_empty());
        assert!(dns1035_label("web").is_empty());
        assert!(!dns1035_label("1web").is_empty());
        assert_eq!(dns1123_label(&"a".repeat(64)), vec!["must be no more than 63 characters".to_string()]);
    }

    #[test]
    fn rbac_names_are_path_segments() {
        assert!(
            NameRule::for_resource("rbac.authorization.k8s.io", "clusterroles")
                .check("system:controller:foo")
                .is_empty()
        );
        assert_eq!(path_segment("a/b"), vec!["may not contain '/'".to_string()]);
    }

    #[test]
    fn generated_names_trim_long_prefixes() {
        assert_eq!(generated_name("web-", "x7k2p"), "web-x7k2p");
        assert_eq!(generated_name(&"a".repeat(70), "bcdfg").len(), 63);
    }
}
