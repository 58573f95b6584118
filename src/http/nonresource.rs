//! Requests for no resource: health checks, `/version`, `/metrics`, the discovery documents
//! and the OpenAPI documents (with their hash-pinned caching, redirects and 406s).

use super::ApiRequest;
use super::negotiate::{self, Representation, parse_media_ranges};
use super::respond;
use crate::discovery::{self, ApiRoot};
use crate::error::ApiError;
use crate::instance::Instance;
use crate::openapi::GroupVersion;
use crate::openapi::documents;
use crate::request_info::RequestInfo;
use http::{HeaderValue, header};
use serde_json::json;
use warp::reply::Response;

/// The health checks `?verbose` lists.
const CHECKS: [&str; 4] = ["ping", "log", "etcd", "poststarthook/start-kubetwin-controllers"];

/// Serves a non-resource request, or `None` when nothing is at that path.
pub fn serve(instance: &Instance, info: &RequestInfo, request: &ApiRequest) -> Option<Response> {
    if request.method != http::Method::GET && request.method != http::Method::HEAD {
        return Some(respond::error(&ApiError::method_not_allowed()));
    }
    let path = request.path.trim_end_matches('/');
    Some(match path {
        "/healthz" | "/livez" | "/readyz" => health(path, request),
        "/version" => respond::value(200, Representation::Json, &version()),
        "/metrics" => respond::bytes(200, "text/plain; version=0.0.4", instance.metrics.render()),
        "/api" | "/apis" => discovery_root(instance, path, request),
        "/openapi/v2" => openapi_v2(instance, request),
        "/openapi/v3" => {
            respond::value(200, Representation::Json, &crate::crds::openapi::v3_index(&instance.catalog()))
        }
        _ if path.starts_with("/openapi/v3/") => openapi_v3(instance, &path["/openapi/v3/".len()..], request),
        _ if path.starts_with("/healthz/") || path.starts_with("/livez/") || path.starts_with("/readyz/") => {
            let check = path.rsplit('/').next().unwrap_or_default();
            if CHECKS.contains(&check) { respond::bytes(200, "text/plain; charset=utf-8", "ok") } else { return None }
        }
        _ => return discovery_document(instance, info, request),
    })
}

fn health(path: &str, request: &ApiRequest) -> Response {
    if !request.query.has("verbose") {
        return respond::bytes(200, "text/plain; charset=utf-8", "ok");
    }
    let mut body: String = CHECKS.iter().map(|check| format!("[+]{check} ok\n")).collect();
    body.push_str(&format!("{} check passed\n", path.trim_start_matches('/')));
    respond::bytes(200, "text/plain; charset=utf-8", body)
}

/// `/version`: Kubernetes 1.36, served by kubetwin.
pub fn version() -> serde_json::Value {
    json!({
        "major": "1",
        "minor": "36",
        "emulationMajor": "1",
        "emulationMinor": "36",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "35",
        "gitVersion": format!("v1.36.0-kubetwin.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "kubetwin",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "n/a (kubetwin is written in Rust)",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, if std::env::consts::ARCH == "x86_64" { "amd64" } else { std::env::consts::ARCH }),
    })
}

fn with_vary(mut response: Response) -> Response {
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

fn discovery_root(instance: &Instance, path: &str, request: &ApiRequest) -> Response {
    let catalog = instance.catalog();
    let representation = match negotiate::choose_discovery(request.header("accept")) {
        Ok(representation) => representation,
        Err(error) => return respond::error(&error),
    };
    let body = match (representation, path) {
        (Representation::AggregatedDiscovery { v2beta1 }, "/api") => {
            discovery::aggregated(&catalog, ApiRoot::Core, v2beta1)
        }
        (Representation::AggregatedDiscovery { v2beta1 }, _) => {
            discovery::aggregated(&catalog, ApiRoot::Groups, v2beta1)
        }
        (_, "/api") => discovery::api_versions(instance.address.get().map(String::as_str).unwrap_or("127.0.0.1:6443")),
        _ => discovery::api_group_list(&catalog),
    };
    with_vary(respond::value(200, representation, &body))
}

fn discovery_document(instance: &Instance, info: &RequestInfo, request: &ApiRequest) -> Option<Response> {
    if info.api_prefix.is_empty() {
        return None;
    }
    let catalog = instance.catalog();
    let body = if info.version.is_empty() {
        discovery::api_group_document(&catalog, &info.group)?
    } else {
        let gv = GroupVersion { group: info.group.clone(), version: info.version.clone() };
        if info.api_prefix == "api" && !info.group.is_empty() {
            return None;
        }
        discovery::api_resource_list(&catalog, &gv)?
    };
    let representation = match negotiate::choose(request.header("accept"), false) {
        Ok(representation) => representation,
        Err(error) => return Some(respond::error(&error)),
    };
    Some(respond::value(200, representation, &body))
}

fn accepts_json(request: &ApiRequest) -> bool {
    match request.header("accept").filter(|a| !a.trim().is_empty()) {
        None => true,
        Some(accept) => parse_media_ranges(accept)
            .iter()
            .any(|r| matches!(r.essence.as_str(), "application/json" | "*/*" | "application/*")),
    }
}

/// The built-in document, with any custom resources spliced in.
fn openapi_v2(instance: &Instance, request: &ApiRequest) -> Response {
    if !accepts_json(request) {
        return respond::error(&ApiError::not_acceptable(&["application/json"]));
    }
    respond::bytes(200, "application/json", crate::crds::openapi_v2::document(&instance.catalog()))
}

/// A built-in document, or one for a custom resource group-version.
fn openapi_v3(instance: &Instance, document: &str, request: &ApiRequest) -> Response {
    let custom;
    let found = match documents::builtin().v3.get(document) {
        Some(found) => found,
        None => {
            custom = crate::crds::openapi::v3_document(&instance.catalog(), document);
            match &custom {
                Some(found) => found,
                None => return respond::error(&ApiError::no_such_path()),
            }
        }
    };
    if !accepts_json(request) {
        return respond::error(&ApiError::not_acceptable(&["application/json"]));
    }
    let etag = format!("\"{}\"", found.hash);
    match request.query.get("hash") {
        Some(hash) if hash != found.hash => {
            let mut response = respond::bytes(301, "text/plain; charset=utf-8", "");
            if let Ok(location) = HeaderValue::from_str(&format!("/openapi/v3/{document}?hash={}", found.hash)) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        pinned => {
            if request.header("if-none-match") == Some(etag.as_str()) {
                return respond::bytes(304, "application/json", "");
            }
            let mut response = respond::bytes(200, "application/json", found.json.clone());
            let headers = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&etag) {
                headers.insert(header::ETAG, value);
            }
            let cache = if pinned.is_some() { "public, immutable" } else { "no-cache, private" };
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            if pinned.is_some() {
                headers.insert(header::EXPIRES, HeaderValue::from_static("Fri, 01 Jan 2100 00:00:00 GMT"));
            }
            with_vary(response)
        }
    }
}
