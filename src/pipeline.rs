//! One request's path through the server, top to bottom: parse what it asks for, establish who
//! asks, decide whether they may, serve it, and count it. Each stage lives in its own module;
//! this file only chains them.

use crate::auth::{UserInfo, authenticate, authorize};
use crate::error::{ApiError, Reason};
use crate::faults::FaultAction;
use crate::http::{ApiRequest, nonresource, resources, respond};
use crate::instance::Instance;
use crate::metrics::RequestLabels;
use crate::request_info::{RequestInfo, VerbHints};
use std::sync::Arc;
use std::time::Instant;
use warp::reply::Response;

/// Serves one request.
pub async fn handle(instance: &Arc<Instance>, mut request: ApiRequest) -> Response {
    let started = Instant::now();
    let hints = VerbHints { watch: request.query.flag("watch").unwrap_or(false) };
    let info = RequestInfo::parse(request.method.as_str(), &request.path, hints);
    // Every request is recorded, the refused and the faulted ones too.
    let before = instance.requests.before(instance, &info, &request);
    let response = match identify(instance, &info, &request).await {
        Err(error) => respond::error(&error),
        Ok(user) => {
            request.user = user;
            match inject_fault(instance, &info).await {
                Some(response) => response,
                None => serve(instance, &info, &request).await,
            }
        }
    };
    instance.requests.record(instance, &info, &request, response.status().as_u16(), before);
    let labels = RequestLabels {
        verb: &info.verb,
        group: &info.group,
        version: &info.version,
        resource: &info.resource,
        subresource: &info.subresource,
    };
    instance.metrics.observe(labels, response.status().as_u16(), started.elapsed());
    tracing::debug!(method = %request.method, path = %request.path, code = response.status().as_u16(), "request");
    response
}

async fn serve(instance: &Arc<Instance>, info: &RequestInfo, request: &ApiRequest) -> Response {
    if info.is_resource_request {
        resources::serve(instance, info, request).await
    } else {
        match nonresource::serve(instance, info, request) {
            Some(response) => response,
            None => respond::error(&ApiError::no_such_path()),
        }
    }
}

/// Applies a test fault, if one matches: the response it forces, or None to serve normally
/// (after any injected delay).
async fn inject_fault(instance: &Instance, info: &RequestInfo) -> Option<Response> {
    let body = match instance.faults.check(info)? {
        FaultAction::Delay(delay) => {
            tokio::time::sleep(delay).await;
            return None;
        }
        FaultAction::Respond(code) => {
            let reason = Reason::for_code(code);
            let error =
                ApiError::new(reason, format!("kubetwin injected a {code} fault into this {} request", info.verb));
            return Some(respond::error(&error));
        }
        FaultAction::DropWatch => Vec::new(),
        FaultAction::ExpireWatch => {
            let revision = instance.store.current_revision();
            let message = format!("too old resource version: 1 ({revision})");
            crate::http::watch::error_event(&ApiError::expired(message)).to_vec()
        }
    };
    Some(respond::json_bytes(200, crate::http::negotiate::Representation::Json, body))
}

/// Authenticates the request, applies impersonation, and authorizes what it asks for.
async fn identify(instance: &Instance, info: &RequestInfo, request: &ApiRequest) -> Result<UserInfo, ApiError> {
    let user = authenticate::authenticate(instance, request)?;
    let user = authenticate::impersonate(instance, user, request).await?;
    authorize::authorize(instance, &user, info).await?;
    Ok(user)
}
