//! Resource requests: maps a parsed [`RequestInfo`] onto the registry's verbs, reads the
//! parameters each verb takes, and encodes the answer in the negotiated representation
//! (object, list, Table, partial metadata, watch stream or Status).

use super::ApiRequest;
use super::negotiate::{self, BodyFormat, Representation};
use super::respond;
use super::scale;
use crate::error::{ApiError, ApiResult, success_status};
use crate::instance::Instance;
use crate::openapi::ResourceInfo;
use crate::registry::Scope;
use crate::registry::list::{ListOptions, ListResult};
use crate::registry::managed_fields::manager_from_user_agent;
use crate::registry::rest::{DeleteOptions, Deleted, WriteOptions};
use crate::registry::storage::Stored;
use crate::registry::unknown_fields::FieldValidation;
use crate::request_info::RequestInfo;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::table::{IncludeObject, TableContext, build_table_with};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use warp::reply::Response;

/// Subresources only a kubelet can serve.
const KUBELET_SUBRESOURCES: [&str; 5] = ["log", "exec", "attach", "portforward", "proxy"];

/// Serves one resource request.
pub async fn serve(instance: &Arc<Instance>, info: &RequestInfo, request: &ApiRequest) -> Response {
    match dispatch(instance, info, request).await {
        Ok(response) => response,
        Err(error) => respond::error(&error),
    }
}

async fn dispatch(instance: &Arc<Instance>, info: &RequestInfo, request: &ApiRequest) -> ApiResult<Response> {
    let Some(resource) = instance.resource(&info.group, &info.version, &info.resource) else {
        let served =
            instance.catalog().group_versions().iter().any(|gv| gv.group == info.group && gv.version == info.version);
        return Err(if served { ApiError::no_such_route() } else { ApiError::no_such_path() });
    };
    // A deprecated custom resource version warns on every answer, errors included.
    if let Some(warning) = crate::crds::deprecation_warning(&resource).map(String::from) {
        let response = dispatch_to(instance, info, request, resource).await.unwrap_or_else(|e| respond::error(&e));
        return Ok(respond::with_warnings(response, &[warning]));
    }
    dispatch_to(instance, info, request, resource).await
}

async fn dispatch_to(
    instance: &Arc<Instance>,
    info: &RequestInfo,
    request: &ApiRequest,
    resource: Arc<ResourceInfo>,
) -> ApiResult<Response> {
    if !resource.namespaced && !info.namespace.is_empty() && info.resource != "namespaces" {
        return Err(ApiError::no_such_path());
    }
    let namespace = resource.namespaced.then_some(info.namespace.as_str()).filter(|ns| !ns.is_empty());
    let scope = Scope { instance, resource: resource.clone(), namespace };
    if !info.subresource.is_empty() {
        return subresource(&scope, info, request).await;
    }
    if resource.is_virtual() && info.verb == "create" {
        let body = read_body(request, &resource.definition)?;
        let reviewed = crate::auth::reviews::review(&scope, &request.user, body).await?;
        return Ok(respond::value(201, representation(request, false)?, &reviewed));
    }
    if !resource.has_verb(&info.verb) {
        return Err(ApiError::method_not_allowed());
    }
    if resource.namespaced && namespace.is_none() && !matches!(info.verb.as_str(), "list" | "watch") {
        return Err(ApiError::method_not_allowed());
    }
    match info.verb.as_str() {
        "get" => get(&scope, &info.name, request),
        "list" => list(&scope, request),
        "watch" => super::watch::serve(&scope, &info.name, request).await,
        "create" if info.name.is_empty() => create(&scope, request),
        "update" => update(&scope, &info.name, "", request),
        "patch" => patch(&scope, &info.name, "", request),
        "delete" => delete(&scope, &info.name, request),
        "deletecollection" => delete_collection(&scope, request),
        _ => Err(ApiError::method_not_allowed()),
    }
}

async fn subresource(scope: &Scope<'_>, info: &RequestInfo, request: &ApiRequest) -> ApiResult<Response> {
    let Some(sub) = scope.resource.subresource(&info.subresource) else { return Err(ApiError::no_such_path()) };
    if !sub.verbs.contains(&info.verb) {
        return Err(ApiError::method_not_allowed());
    }
    match info.subresource.as_str() {
        "status" | "approval" => match info.verb.as_str() {
            "get" => get(scope, &info.name, request),
            "update" => update(scope, &info.name, &info.subresource, request),
            "patch" => patch(scope, &info.name, &info.subresource, request),
            _ => Err(ApiError::method_not_allowed()),
        },
        "scale" => scale::serve(scope, &info.name, &info.verb, request),
        "finalize" if info.verb == "update" => update(scope, &info.name, "finalize", request),
        "token" if info.verb == "create" => {
            let body = read_body(request, "io.k8s.api.authentication.v1.TokenRequest")?;
            let issued = crate::auth::reviews::token_request(scope, &info.name, body)?;
            Ok(respond::value(201, representation(request, false)?, &issued))
        }
        name if KUBELET_SUBRESOURCES.contains(&name) => {
            scope.get(&info.name)?;
            Err(ApiError::bad_request(format!(
                "{name} is not available: kubetwin runs no kubelet, so {} \"{}\" has no running containers to reach",
                scope.resource.plural, info.name
            )))
        }
        name => Err(ApiError::new(
            crate::error::Reason::MethodNotAllowed,
            format!("the {name} subresource of {} is not implemented by kubetwin", scope.resource.qualified_plural()),
        )),
    }
}

fn representation(request: &ApiRequest, list: bool) -> ApiResult<Representation> {
    negotiate::choose(request.header("accept"), list)
}

fn table_context(scope: &Scope<'_>) -> TableContext {
    TableContext { now_unix: scope.instance.clock.unix_seconds() }
}

fn include_object(request: &ApiRequest) -> ApiResult<IncludeObject> {
    IncludeObject::parse(request.query.get("includeObject")).map_err(ApiError::bad_request)
}

fn partial_metadata(object: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object.get("metadata").cloned().unwrap_or(json!({}))})
}

/// Encodes one object in the negotiated representation.
pub fn encode_object(scope: &Scope<'_>, status: u16, stored: &Stored, request: &ApiRequest) -> ApiResult<Response> {
    let representation = representation(request, false)?;
    Ok(match representation {
        Representation::Table => {
            let object = scope.try_view(stored)?;
            let table = build_table_with(
                &crate::crds::printer(&scope.resource),
                &[&object],
                include_object(request)?,
                json!({"resourceVersion": stored.revision.to_string()}),
                true,
                &table_context(scope),
            );
            respond::value(status, representation, &table)
        }
        Representation::PartialObjectMetadata { .. } => {
            respond::value(status, representation, &partial_metadata(&scope.try_view(stored)?))
        }
        _ => respond::json_bytes(status, representation, scope.view_json(stored)?),
    })
}

fn get(scope: &Scope<'_>, name: &str, request: &ApiRequest) -> ApiResult<Response> {
    let stored = scope.get(name)?;
    encode_object(scope, 200, &stored, request)
}

/// Reads label and field selectors, rejecting malformed ones with 400.
pub fn selectors(request: &ApiRequest) -> ApiResult<(Option<LabelSelector>, Option<FieldSelector>)> {
    let label = match request.query.get("labelSelector").filter(|s| !s.is_empty()) {
        Some(text) => Some(LabelSelector::parse(text).map_err(ApiError::bad_request)?),
        None => None,
    };
    let field = match request.query.get("fieldSelector").filter(|s| !s.is_empty()) {
        Some(text) => Some(FieldSelector::parse(text).map_err(ApiError::bad_request)?),
        None => None,
    };
    Ok((label, field))
}

fn list_options(request: &ApiRequest) -> ApiResult<ListOptions> {
    let (label_selector, field_selector) = selectors(request)?;
    let limit = request.query.integer("limit")?.unwrap_or(0);
    Ok(ListOptions {
        resource_version: request.query.get("resourceVersion").map(String::from),
        resource_version_match: request.query.get("resourceVersionMatch").filter(|m| !m.is_empty()).map(String::from),
        limit: limit.max(0) as usize,
        continue_token: request.query.get("continue").filter(|c| !c.is_empty()).map(String::from),
        label_selector,
        field_selector,
    })
}

fn list_metadata(result: &ListResult) -> Map<String, Value> {
    let mut metadata = Map::new();
    metadata.insert("resourceVersion".into(), json!(result.revision.to_string()));
    if let Some(token) = &result.continue_token {
        metadata.insert("continue".into(), json!(token));
    }
    if let Some(remaining) = result.remaining.filter(|r| *r > 0) {
        metadata.insert("remainingItemCount".into(), json!(remaining));
    }
    metadata
}

fn list(scope: &Scope<'_>, request: &ApiRequest) -> ApiResult<Response> {
    let representation = representation(request, true)?;
    let result = scope.list(&list_options(request)?)?;
    let metadata = list_metadata(&result);
    Ok(match representation {
        Representation::Table => {
            let objects: Vec<Value> = result.items.iter().map(|s| scope.try_view(s)).collect::<ApiResult<_>>()?;
            let references: Vec<&Value> = objects.iter().collect();
            let table = build_table_with(
                &crate::crds::printer(&scope.resource),
                &references,
                include_object(request)?,
                Value::Object(metadata),
                true,
                &table_context(scope),
            );
            respond::value(200, representation, &table)
        }
        Representation::PartialObjectMetadata { .. } => {
            let items: Vec<Value> = result
                .items
                .iter()
                .map(|s| scope.try_view(s).map(|o| partial_metadata(&o)))
                .collect::<ApiResult<_>>()?;
            respond::value(
                200,
                representation,
                &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "items": items}),
            )
        }
        Representation::Json
            if !crate::registry::conversion::converts(&scope.resource)
                && result.items.iter().map(|s| s.bytes.len()).sum::<usize>() > LIST_CHUNK_BYTES =>
        {
            stream_list(scope, &metadata, result.items)
        }
        _ => respond::json_bytes(200, representation, encode_list(scope, &metadata, &result.items)?),
    })
}

/// Plain JSON lists larger than this are sent in chunks of about this size rather than built
/// whole: each chunk is written while the previous one is encrypted and sent, stays in the CPU
/// cache on its way to the socket, and the client starts reading before the last is built.
const LIST_CHUNK_BYTES: usize = 128 * 1024;

/// `{"kind":"<Kind>List","apiVersion":...,"metadata":{...},"items":[`, with room for `capacity`
/// bytes.
fn list_head(scope: &Scope<'_>, metadata: &Map<String, Value>, capacity: usize) -> Vec<u8> {
    let resource = &scope.resource;
    let mut out = Vec::with_capacity(capacity);
    out.extend_from_slice(b"{\"kind\":");
    out.extend_from_slice(json!(resource.list_kind()).to_string().as_bytes());
    out.extend_from_slice(b",\"apiVersion\":");
    out.extend_from_slice(json!(resource.api_version()).to_string().as_bytes());
    out.extend_from_slice(b",\"metadata\":");
    out.extend_from_slice(Value::Object(metadata.clone()).to_string().as_bytes());
    out.extend_from_slice(b",\"items\":[");
    out
}

/// The same document as [`encode_list`] for a resource that needs no conversion, as a chunked
/// body built one [`LIST_CHUNK_BYTES`] chunk at a time as the connection asks for it.
fn stream_list(scope: &Scope<'_>, metadata: &Map<String, Value>, items: Vec<Stored>) -> Response {
    let mut head = Some(list_head(scope, metadata, LIST_CHUNK_BYTES + LIST_CHUNK_BYTES / 4));
    let mut items = items.into_iter();
    let mut first = true;
    let mut finished = false;
    let chunks = std::iter::from_fn(move || {
        if finished {
            return None;
        }
        let mut chunk = head.take().unwrap_or_else(|| Vec::with_capacity(LIST_CHUNK_BYTES + LIST_CHUNK_BYTES / 4));
        while chunk.len() < LIST_CHUNK_BYTES {
            let Some(item) = items.next() else {
                chunk.extend_from_slice(b"]}");
                finished = true;
                break;
            };
            if !first {
                chunk.push(b',');
            }
            first = false;
            crate::registry::encoding::write_with_revision(&mut chunk, &item.bytes, item.revision);
        }
        Some(Ok::<_, std::convert::Infallible>(bytes::Bytes::from(chunk)))
    });
    let mut response = warp::reply::Reply::into_response(warp::reply::stream(futures_util::stream::iter(chunks)));
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(Representation::Json.content_type()));
    response
}

/// `{"kind":"<Kind>List",...,"items":[...]}`, splicing each stored object's revision into its
/// stored bytes without re-serializing it.
pub fn encode_list(scope: &Scope<'_>, metadata: &Map<String, Value>, items: &[Stored]) -> ApiResult<Vec<u8>> {
    let resource = &scope.resource;
    let mut out = list_head(scope, metadata, 128 + items.iter().map(|s| s.bytes.len() + 32).sum::<usize>());
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if crate::registry::conversion::converts(resource) {
            out.extend_from_slice(&scope.view_json(item)?);
        } else {
            crate::registry::encoding::write_with_revision(&mut out, &item.bytes, item.revision);
        }
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

/// Parses a create or update body (JSON, YAML or protobuf) into an object of the OpenAPI
/// `definition`.
pub fn read_body(request: &ApiRequest, definition: &str) -> ApiResult<Value> {
    let format = negotiate::body_format(request.header("content-type"))?;
    let parsed: Result<Value, String> = match format {
        BodyFormat::Json => serde_json::from_slice(&request.body).map_err(|e| e.to_string()),
        BodyFormat::Yaml => serde_saphyr::from_slice(&request.body).map_err(|e| e.to_string()),
        BodyFormat::Protobuf => return crate::protobuf::decode_object(&request.body, definition),
    };
    let value = parsed.map_err(|e| ApiError::bad_request(format!("the object provided is unrecognized: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request("the object provided is unrecognized: expected an object"));
    }
    Ok(value)
}

pub fn write_options(request: &ApiRequest) -> ApiResult<WriteOptions> {
    let field_manager = match request.query.get("fieldManager").filter(|m| !m.is_empty()) {
        Some(manager) => manager.to_string(),
        None => manager_from_user_agent(request.header("user-agent").unwrap_or_default()),
    };
    Ok(WriteOptions {
        dry_run: request.query.dry_run()?,
        field_manager,
        field_validation: FieldValidation::parse(request.query.get("fieldValidation"))
            .map_err(ApiError::bad_request)?,
        applied: false,
        requester: request.user.clone(),
    })
}

fn create(scope: &Scope<'_>, request: &ApiRequest) -> ApiResult<Response> {
    let object = read_body(request, &scope.resource.definition)?;
    let result = scope.create(object, &write_options(request)?)?;
    Ok(respond::with_warnings(encode_object(scope, 201, &result.object, request)?, &result.warnings))
}

fn update(scope: &Scope<'_>, name: &str, subresource: &str, request: &ApiRequest) -> ApiResult<Response> {
    let object = read_body(request, &scope.resource.definition)?;
    let result = scope.update(name, object, subresource, &write_options(request)?)?;
    let status = if result.created { 201 } else { 200 };
    Ok(respond::with_warnings(encode_object(scope, status, &result.object, request)?, &result.warnings))
}

fn patch(scope: &Scope<'_>, name: &str, subresource: &str, request: &ApiRequest) -> ApiResult<Response> {
    let result = super::patching::patch(scope, name, subresource, request)?;
    let status = if result.created { 201 } else { 200 };
    Ok(respond::with_warnings(encode_object(scope, status, &result.object, request)?, &result.warnings))
}

/// DeleteOptions from the body (if any) overlaid with the query string.
fn delete_options(request: &ApiRequest) -> ApiResult<DeleteOptions> {
    let body: Value = if request.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else if negotiate::body_format(request.header("content-type"))? == BodyFormat::Protobuf {
        crate::protobuf::decode_delete_options(&request.body)?
    } else {
        serde_json::from_slice(&request.body)
            .map_err(|e| ApiError::bad_request(format!("the body of the request was not valid DeleteOptions: {e}")))?
    };
    let mut options = DeleteOptions {
        dry_run: body["dryRun"].as_array().is_some_and(|d| d.iter().any(|v| v == "All")) || request.query.dry_run()?,
        propagation_policy: body["propagationPolicy"].as_str().map(String::from),
        grace_period_seconds: body["gracePeriodSeconds"].as_i64(),
        precondition_uid: body.pointer("/preconditions/uid").and_then(Value::as_str).map(String::from),
        precondition_resource_version: body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(String::from),
    };
    if body["orphanDependents"] == json!(true) || request.query.get("orphanDependents") == Some("true") {
        options.propagation_policy.get_or_insert_with(|| "Orphan".into());
    }
    if let Some(policy) = request.query.get("propagationPolicy").filter(|p| !p.is_empty()) {
        options.propagation_policy = Some(policy.to_string());
    }
    if let Some(grace) = request.query.integer("gracePeriodSeconds")? {
        options.grace_period_seconds = Some(grace);
    }
    Ok(options)
}

/// Whether DELETE answers with the deleted object rather than a Success Status.
fn returns_deleted_object(resource: &ResourceInfo) -> bool {
    matches!(
        (resource.group.as_str(), resource.plural.as_str()),
        ("", "pods")
            | ("", "services")
            | ("", "serviceaccounts")
            | ("", "namespaces")
            | ("storage.k8s.io", "storageclasses")
    ) || resource.custom
}

fn delete(scope: &Scope<'_>, name: &str, request: &ApiRequest) -> ApiResult<Response> {
    match scope.delete(name, &delete_options(request)?)? {
        Deleted::Pending(stored) => encode_object(scope, 202, &stored, request),
        Deleted::Gone(stored) if returns_deleted_object(&scope.resource) => encode_object(scope, 200, &stored, request),
        Deleted::Gone(stored) => {
            let object = scope.view(&stored);
            let uid = crate::registry::strategy::meta_str(&object, "uid");
            Ok(respond::value(
                200,
                Representation::Json,
                &success_status(&scope.resource.group, &scope.resource.plural, name, uid),
            ))
        }
    }
}

fn delete_collection(scope: &Scope<'_>, request: &ApiRequest) -> ApiResult<Response> {
    let options = delete_options(request)?;
    let mut list_options = list_options(request)?;
    list_options.limit = 0;
    let listed = scope.list(&list_options)?;
    let mut deleted = Vec::new();
    for stored in &listed.items {
        let object = scope.view(stored);
        let name = crate::registry::strategy::meta_str(&object, "name").to_string();
        match scope.delete(&name, &options) {
            Ok(Deleted::Gone(stored) | Deleted::Pending(stored)) => deleted.push(stored),
            Err(error) if error.code() == 404 => {}
            Err(error) => return Err(error),
        }
    }
    let mut metadata = Map::new();
    metadata.insert("resourceVersion".into(), json!(scope.instance.store.current_revision().to_string()));
    Ok(respond::json_bytes(200, Representation::Json, encode_list(scope, &metadata, &deleted)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::InstanceConfig;
    use crate::registry::encoding::encode_for_storage;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_streamed_list_is_the_same_document_as_one_encoded_whole() {
        let instance = Instance::with_defaults(InstanceConfig::default());
        let resource = instance.resource("", "v1", "configmaps").expect("configmaps are served");
        let scope = Scope { instance: &instance, resource, namespace: Some("default") };
        let items: Vec<Stored> = (0..300)
            .map(|n| Stored {
                bytes: encode_for_storage(&json!({
                    "kind": "ConfigMap",
                    "apiVersion": "v1",
                    "metadata": {"name": format!("cm-{n}"), "namespace": "default"},
                    "data": {"key": "x".repeat(1000)},
                })),
                revision: n + 1,
            })
            .collect();
        let mut metadata = Map::new();
        metadata.insert("resourceVersion".into(), json!("300"));
        let whole = encode_list(&scope, &metadata, &items).unwrap();
        assert!(whole.len() > 2 * LIST_CHUNK_BYTES, "the list spans several chunks");
        let response = stream_list(&scope, &metadata, items);
        assert_eq!(response.headers()[http::header::CONTENT_TYPE], "application/json");
        let streamed = response.into_body().collect().await.expect("the body streams").to_bytes();
        assert_eq!(streamed, whole);
        let parsed: Value = serde_json::from_slice(&streamed).expect("valid JSON");
        assert_eq!(parsed["items"][299]["metadata"]["resourceVersion"], "300");
    }
}
