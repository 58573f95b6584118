//! [`RequestInfo::parse`]: the pure function that reads a request's method, path and query and
//! says what it asks for (verb, group, version, resource, subresource, namespace, name), as
//! kube-apiserver's `RequestInfoFactory` does. No I/O; table-tested below.

/// What a request asks for. Non-resource requests (`/healthz`, `/version`, discovery roots)
/// have `is_resource_request == false` and only `verb` and `path` filled in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestInfo {
    pub is_resource_request: bool,
    pub path: String,
    /// get, list, watch, create, update, patch, delete, deletecollection (lower-case HTTP
    /// method for non-resource requests).
    pub verb: String,
    /// `api` or `apis`.
    pub api_prefix: String,
    pub group: String,
    pub version: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// Path segments after the subresource (`pods/x/proxy/<rest>`).
    pub parts_after_subresource: Vec<String>,
}

/// Query parameters that change the verb.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerbHints {
    /// `watch=true` or `watch=1`.
    pub watch: bool,
}

impl RequestInfo {
    /// Parses `path` (without query) for an HTTP `method`.
    pub fn parse(method: &str, path: &str, hints: VerbHints) -> RequestInfo {
        let mut info =
            RequestInfo { path: path.to_string(), verb: method.to_ascii_lowercase(), ..RequestInfo::default() };
        let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        let (prefix, rest) = match segments.split_first() {
            Some((prefix @ (&"api" | &"apis"), rest)) => (*prefix, rest),
            _ => return info,
        };
        // /api/v1/...  or /apis/<group>/<version>/...
        let (group, rest) = if prefix == "api" {
            ("", rest)
        } else {
            match rest.split_first() {
                Some((g, r)) => (*g, r),
                None => return info,
            }
        };
        info.api_prefix = prefix.to_string();
        info.group = group.to_string();
        let Some((version, mut rest)) = rest.split_first() else { return info };
        info.version = version.to_string();
        if rest.is_empty() {
            return info;
        }
        info.is_resource_request = true;
        let mut legacy_watch = false;
        if rest[0] == "watch" {
            legacy_watch = true;
            rest = &rest[1..];
        }
        // namespaces/<ns>/<resource>... ; but namespaces/<name>[/status|finalize] is the
        // namespace resource itself.
        if rest.first() == Some(&"namespaces") {
            if let Some(namespace) = rest.get(1) {
                info.namespace = namespace.to_string();
            }
            let is_namespace_subresource = matches!(rest.get(2), Some(&"status" | &"finalize"));
            if rest.len() > 2 && !is_namespace_subresource {
                rest = &rest[2..];
            }
        }
        if let Some(resource) = rest.first() {
            info.resource = resource.to_string();
        }
        if let Some(name) = rest.get(1) {
            info.name = name.to_string();
        }
        if let Some(subresource) = rest.get(2) {
            info.subresource = subresource.to_string();
            info.parts_after_subresource = rest[3..].iter().map(|s| s.to_string()).collect();
        }
        info.verb = match (info.verb.as_str(), info.name.is_empty()) {
            ("get" | "head", _) if legacy_watch || (hints.watch && info.subresource.is_empty()) => "watch",
            ("get" | "head", true) => "list",
            ("get" | "head", false) => "get",
            ("post", _) => "create",
            ("put", _) => "update",
            ("patch", _) => "patch",
            ("delete", true) => "deletecollection",
            ("delete", false) => "delete",
            (other, _) => return RequestInfo { verb: other.to_string(), ..info },
        }
        .to_string();
        // A namespace's own name doubles as the namespace of the request.
        if info.resource == "namespaces" && info.group.is_empty() && !info.name.is_empty() {
            info.namespace = info.name.clone();
        }
        info
    }

    /// The group-version as `apiVersion` spells it.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(method: &str, path: &str) -> RequestInfo {
        RequestInfo::parse(method, path, VerbHints::default())
    }

    #[test]
    fn resource_requests_are_parsed_as_kube_apiserver_parses_them() {
        // (method, path, verb, group, version, namespace, resource, subresource, name)
        let cases = [
            ("GET", "/api/v1/namespaces/default/pods", "list", "", "v1", "default", "pods", "", ""),
            ("GET", "/api/v1/namespaces/default/pods/web", "get", "", "v1", "default", "pods", "", "web"),
            ("GET", "/api/v1/pods", "list", "", "v1", "", "pods", "", ""),
            ("POST", "/api/v1/namespaces/ns/configmaps", "create", "", "v1", "ns", "configmaps", "", ""),
            ("PUT", "/api/v1/namespaces/ns/pods/p/status", "update", "", "v1", "ns", "pods", "status", "p"),
            (
                "PATCH",
                "/apis/apps/v1/namespaces/ns/deployments/d/scale",
                "patch",
                "apps",
                "v1",
                "ns",
                "deployments",
                "scale",
                "d",
            ),
            (
                "DELETE",
                "/apis/apps/v1/namespaces/ns/deployments",
                "deletecollection",
                "apps",
                "v1",
                "ns",
                "deployments",
                "",
                "",
            ),
            ("DELETE", "/api/v1/namespaces/ns", "delete", "", "v1", "ns", "namespaces", "", "ns"),
            ("GET", "/api/v1/namespaces", "list", "", "v1", "", "namespaces", "", ""),
            ("PUT", "/api/v1/namespaces/ns/finalize", "update", "", "v1", "ns", "namespaces", "finalize", "ns"),
            ("GET", "/api/v1/watch/namespaces/ns/pods", "watch", "", "v1", "ns", "pods", "", ""),
            ("GET", "/api/v1/watch/namespaces/ns/pods/p", "watch", "", "v1", "ns", "pods", "", "p"),
            (
                "GET",
                "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin",
                "get",
                "rbac.authorization.k8s.io",
                "v1",
                "",
                "clusterroles",
                "",
                "admin",
            ),
        ];
        for (method, path, verb, group, version, namespace, resource, subresource, name) in cases {
            let info = parse(method, path);
            assert!(info.is_resource_request, "{path}");
            assert_eq!(
                (
                    info.verb.as_str(),
                    info.group.as_str(),
                    info.version.as_str(),
                    info.namespace.as_str(),
                    info.resource.as_str(),
                    info.subresource.as_str(),
                    info.name.as_str()
                ),
                (verb, group, version, namespace, resource, subresource, name),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn watch_query_turns_list_into_watch() {
        let info = RequestInfo::parse("GET", "/api/v1/namespaces/ns/pods", VerbHints { watch: true });
        assert_eq!(info.verb, "watch");
    }

    #[test]
    fn discovery_and_other_paths_are_not_resource_requests() {
        for path in ["/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/healthz", "/version", "/openapi/v3"] {
            let info = parse("GET", path);
            assert!(!info.is_resource_request, "{path}");
            assert_eq!(info.verb, "get");
        }
        assert_eq!(parse("GET", "/apis/apps/v1").group, "apps");
    }

    #[test]
    fn connect_subresources_keep_the_rest_of_the_path() {
        let info = parse("GET", "/api/v1/namespaces/ns/pods/p/proxy/metrics/x");
        assert_eq!(
            (info.subresource.as_str(), info.parts_after_subresource.clone()),
            ("proxy", vec!["metrics".to_string(), "x".to_string()])
        );
    }
}
