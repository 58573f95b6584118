//! WATCH: a chunked stream of newline-delimited WatchEvents (ADDED, MODIFIED, DELETED,
//! BOOKMARK, ERROR) built on a store watch of the resource's key prefix. Synthetic ADDED events
//! replay the current state for `resourceVersion` "" or "0"; selectors apply to transitions
//! (an object that stops matching arrives as DELETED, with its last matching state); a start below the compacted revision
//! gets one 410 ERROR event, as the watch cache answers; `timeoutSeconds` and bookmarks are
//! honoured.

use super::ApiRequest;
use super::negotiate::{self, Representation};
use super::resources::selectors;
use super::respond;
use crate::error::{ApiError, ApiResult};
use crate::registry::Scope;
use crate::registry::encoding;
use crate::registry::list::ListOptions;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{EventKind, KeyRange, WatchRequest};
use crate::table::{IncludeObject, TableContext, build_table_with};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use warp::reply::Response;

/// Buffered chunks per watch before the producer waits for the client.
const CHANNEL_CAPACITY: usize = 256;
/// How often an idle watch that allows bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

struct Filter {
    label: Option<LabelSelector>,
    field: Option<FieldSelector>,
    name: Option<String>,
    group: String,
    plural: String,
}

impl Filter {
    fn matches(&self, object: &Value) -> bool {
        if let Some(name) = &self.name
            && object.pointer("/metadata/name").and_then(Value::as_str) != Some(name)
        {
            return false;
        }
        let labels = object.pointer("/metadata/labels").unwrap_or(&Value::Null);
        self.label.as_ref().is_none_or(|s| s.matches(labels))
            && self.field.as_ref().is_none_or(|s| s.matches(&self.group, &self.plural, object))
    }
}

/// Encodes events in the negotiated representation.
struct Encoder {
    representation: Representation,
    resource: Arc<crate::openapi::ResourceInfo>,
    include: IncludeObject,
    sent_columns: bool,
    clock: Arc<dyn crate::clock::Clock>,
}

impl Encoder {
    fn event(&mut self, kind: &str, object: &Value) -> Bytes {
        let object = match self.representation {
            Representation::Table => {
                let table = build_table_with(
                    &crate::crds::printer(&self.resource),
                    &[object],
                    self.include,
                    json!({"resourceVersion": object.pointer("/metadata/resourceVersion").cloned().unwrap_or_default()}),
                    !self.sent_columns,
                    &TableContext { now_unix: self.clock.unix_seconds() },
                );
                self.sent_columns = true;
                table
            }
            Representation::PartialObjectMetadata { .. } => {
                json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"]})
            }
            _ => object.clone(),
        };
        let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).expect("events serialize");
        line.push(b'\n');
        Bytes::from(line)
    }

    /// A stored object as the watched version shows it.
    fn view(&self, stored: &[u8], revision: i64) -> Value {
        crate::registry::conversion::from_storage(&self.resource, encoding::decode(stored, revision))
    }

    /// Fast path: splices the revision into stored bytes without parsing.
    fn stored_event(&mut self, kind: &str, stored: &[u8], revision: i64, parsed: &Value) -> Bytes {
        if self.representation != Representation::Json || crate::registry::conversion::converts(&self.resource) {
            return self.event(kind, parsed);
        }
        let mut line = Vec::with_capacity(stored.len() + 48);
        line.extend_from_slice(b"{\"type\":\"");
        line.extend_from_slice(kind.as_bytes());
        line.extend_from_slice(b"\",\"object\":");
        encoding::write_with_revision(&mut line, stored, revision);
        line.extend_from_slice(b"}\n");
        Bytes::from(line)
    }
}

pub(crate) fn error_event(error: &ApiError) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": "ERROR", "object": error.status()})).expect("Status serializes");
    line.push(b'\n');
    Bytes::from(line)
}

/// Serves `?watch=true` (and the legacy `/watch/` paths) for a collection or one object.
pub async fn serve(scope: &Scope<'_>, name: &str, request: &ApiRequest) -> ApiResult<Response> {
    let representation = negotiate::choose(request.header("accept"), true)?;
    let representation = match representation {
        Representation::PartialObjectMetadata { .. } => Representation::PartialObjectMetadata { list: false },
        other => other,
    };
    let (label, mut field) = selectors(request)?;
    if let Some(selector) = &field {
        crate::crds::validate_field_selector(&scope.resource, selector).map_err(ApiError::bad_request)?;
    }
    let mut name = (!name.is_empty()).then(|| name.to_string());
    if name.is_none()
        && let Some(single) = field.as_ref().and_then(FieldSelector::single_name)
    {
        name = Some(single);
        field = field.filter(|f| !f.is_only_name());
    }
    let filter =
        Filter { label, field, name, group: scope.resource.group.clone(), plural: scope.resource.plural.clone() };
    let requested = request.query.get("resourceVersion").unwrap_or_default().to_string();
    let send_initial = match request.query.get("sendInitialEvents") {
        Some(_) => request.query.flag("sendInitialEvents")?,
        None => requested.is_empty() || requested == "0",
    };
    let bookmarks = request.query.flag("allowWatchBookmarks")?;
    let timeout = match request.query.integer("timeoutSeconds")? {
        Some(seconds) if seconds > 0 => Duration::from_secs(seconds as u64),
        _ => default_timeout(scope),
    };
    let include = IncludeObject::parse(request.query.get("includeObject")).map_err(ApiError::bad_request)?;
    let mut encoder = Encoder {
        representation,
        resource: scope.resource.clone(),
        include,
        sent_columns: false,
        clock: scope.instance.clock.clone(),
    };
    let (sender, receiver) = mpsc::channel::<Bytes>(CHANNEL_CAPACITY);
    let prefix = scope.resource.key_prefix(scope.namespace);
    let requested_revision: i64 = if requested.is_empty() {
        0
    } else {
        requested.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version: {requested:?}")))?
    };

    // The initial state (synthetic ADDED events), read at one revision.
    let mut initial = Vec::new();
    let start_revision = if send_initial {
        let listed = scope.list(&ListOptions::default())?;
        for stored in &listed.items {
            let object = scope.view(stored);
            if filter.matches(&object) {
                initial.push(encoder.stored_event("ADDED", &stored.bytes, stored.revision, &object));
            }
        }
        if request.query.has("sendInitialEvents") && bookmarks {
            let bookmark = bookmark_object(scope, listed.revision, true);
            initial.push(encoder.event("BOOKMARK", &bookmark));
        }
        listed.revision + 1
    } else {
        requested_revision + 1
    };
    let store = scope.instance.store.clone();
    let watch = store.watch(WatchRequest {
        range: KeyRange::prefix(prefix.clone().into_bytes()),
        start_revision,
        prev_kv: true,
        progress_interval: bookmarks.then_some(BOOKMARK_INTERVAL),
    });
    let mut watcher = match watch {
        Ok(watcher) => watcher,
        Err(crate::store::StoreError::Compacted { compacted, .. }) => {
            let error = ApiError::expired(format!("too old resource version: {requested_revision} ({compacted})"));
            let _ = sender.try_send(error_event(&error));
            drop(sender);
            return Ok(watch_response(encoder.representation, receiver));
        }
        Err(crate::store::StoreError::FutureRevision { .. }) => {
            return Err(ApiError::new(
                crate::error::Reason::Timeout,
                format!("Too large resource version: {requested_revision}, current: {}", store.current_revision()),
            )
            .with_retry(1));
        }
        Err(other) => return Err(crate::registry::storage::store_error(other)),
    };
    let bookmark_template = bookmark_object(scope, 0, false);
    tokio::spawn(async move {
        for chunk in initial {
            if sender.send(chunk).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            let response = tokio::select! {
                response = watcher.next() => response,
                _ = &mut deadline => return,
                _ = sender.closed() => return,
            };
            let Some(response) = response else { return };
            if let Some(reason) = &response.canceled {
                tracing::debug!(?reason, "store watch ended; the client will re-list");
                let error = ApiError::expired(format!(
                    "too old resource version: {start_revision} ({})",
                    store.compacted_revision()
                ));
                let _ = sender.send(error_event(&error)).await;
                return;
            }
            if response.events.is_empty() {
                if bookmarks && response.progress_notify {
                    let mut bookmark = bookmark_template.clone();
                    bookmark["metadata"]["resourceVersion"] = json!(response.revision.to_string());
                    if sender.send(encoder.event("BOOKMARK", &bookmark)).await.is_err() {
                        return;
                    }
                }
                continue;
            }
            for event in response.events.iter() {
                let Some(chunk) = translate(&mut encoder, &filter, event) else { continue };
                if sender.send(chunk).await.is_err() {
                    return;
                }
            }
        }
    });
    Ok(watch_response(representation, receiver))
}

fn watch_response(representation: Representation, receiver: mpsc::Receiver<Bytes>) -> Response {
    let content_type = match representation {
        Representation::Table => "application/json;as=Table;v=v1;g=meta.k8s.io",
        _ => "application/json",
    };
    respond::stream(200, content_type, receiver)
}

/// A store event as a WatchEvent, taking selectors into account across the transition.
fn translate(encoder: &mut Encoder, filter: &Filter, event: &crate::store::Event) -> Option<Bytes> {
    match event.kind {
        EventKind::Put => {
            let revision = event.kv.mod_revision;
            let object = encoder.view(&event.kv.value, revision);
            let now = filter.matches(&object);
            // The previous state, at this event's revision (what a DELETED event carries).
            let before = event.prev_kv.as_ref().map(|prev| (prev, encoder.view(&prev.value, revision)));
            let matched = before.as_ref().map(|(_, previous)| filter.matches(previous));
            match (matched, now) {
                (Some(true), true) => Some(encoder.stored_event("MODIFIED", &event.kv.value, revision, &object)),
                (_, true) => Some(encoder.stored_event("ADDED", &event.kv.value, revision, &object)),
                // Leaving the selection: the last state that matched, as kube-apiserver sends it.
                (Some(true), false) => {
                    let (prev, previous) = before?;
                    Some(encoder.stored_event("DELETED", &prev.value, revision, &previous))
                }
                (_, false) => None,
            }
        }
        EventKind::Delete => {
            let prev = event.prev_kv.as_ref()?;
            let object = encoder.view(&prev.value, event.kv.mod_revision);
            filter
                .matches(&object)
                .then(|| encoder.stored_event("DELETED", &prev.value, event.kv.mod_revision, &object))
        }
    }
}

fn bookmark_object(scope: &Scope<'_>, revision: i64, initial_events_end: bool) -> Value {
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": scope.resource.kind, "apiVersion": scope.resource.api_version(), "metadata": metadata})
}

/// kube-apiserver ends watches after a randomized timeout between 30 and 60 minutes.
fn default_timeout(scope: &Scope<'_>) -> Duration {
    let mut byte = [0u8; 1];
    scope.instance.ids.fill(&mut byte);
    Duration::from_secs(1800 + (byte[0] as u64 * 1800) / 255)
}
