//! WATCH: a chunked stream of newline-delimited WatchEvents (ADDED, MODIFIED, DELETED,
//! BOOKMARK, ERROR) built on a store watch of the resource's key prefix. Synthetic ADDED events
//! replay the current state for `resourceVersion` "" or "0"; selectors apply to transitions
//! (an object that stops matching arrives as DELETED, with its last matching state); a start
//! below the compacted revision gets one 410 ERROR event, as the watch cache answers;
//! `timeoutSeconds` and bookmarks are honoured. The response body polls the store watch itself
//! (no channel per watch, and over HTTP/2 no task either: an idle watch holds about 2.6 KiB;
//! see [`super::http2`]), and without a selector that
//! needs the object an event is spliced from the stored bytes, never parsed. Watchers with no
//! filter at all share one encoding of each transaction (kept on the store's event batch).

use super::ApiRequest;
use super::negotiate::{self, Representation};
use super::resources::selectors;
use crate::error::{ApiError, ApiResult, FieldError, FieldErrorKind};
use crate::registry::Scope;
use crate::registry::encoding;
use crate::registry::list::ListOptions;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{EventKind, KeyRange, WatchRequest};
use crate::table::{IncludeObject, TableContext, build_table_with};
use bytes::Bytes;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use warp::reply::Response;

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
    /// Whether a selector needs the object itself; a name alone is read from the store key.
    fn needs_object(&self) -> bool {
        self.label.is_some() || self.field.is_some()
    }

    /// Whether every event passes.
    fn is_none(&self) -> bool {
        self.name.is_none() && !self.needs_object()
    }

    /// The name check on a store key (`.../{name}`).
    fn matches_key(&self, key: &[u8]) -> bool {
        self.name.as_ref().is_none_or(|name| key.rsplit(|b| *b == b'/').next() == Some(name.as_bytes()))
    }

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

    /// A stored object as the watched version shows it; fails only when a CRD's conversion
    /// webhook does.
    fn view(&self, stored: &[u8], revision: i64) -> ApiResult<Value> {
        crate::registry::conversion::try_from_storage(&self.resource, encoding::decode(stored, revision))
    }

    /// Whether events go out as the stored bytes with the revision spliced in.
    fn splices(&self) -> bool {
        self.representation == Representation::Json && !crate::registry::conversion::converts(&self.resource)
    }

    /// Fast path: splices the revision into stored bytes without parsing.
    fn stored_event(&mut self, kind: &str, stored: &[u8], revision: i64, parsed: &Value) -> Bytes {
        if !self.splices() {
            return self.event(kind, parsed);
        }
        self.splice(kind, stored, revision)
    }

    fn splice(&self, kind: &str, stored: &[u8], revision: i64) -> Bytes {
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
    validate_options(request)?;
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
    let prefix = scope.resource.key_prefix(scope.namespace);
    let requested_revision: i64 = if requested.is_empty() {
        0
    } else {
        requested.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version: {requested:?}")))?
    };

    // The initial state (synthetic ADDED events), read at one revision.
    let mut initial = VecDeque::new();
    let mut conversion_failed = false;
    let start_revision = if send_initial {
        let listed = scope.list(&ListOptions::default())?;
        for stored in &listed.items {
            let object = match scope.try_view(stored) {
                Ok(object) => object,
                // As for a later event: the stream ends here (see `WatchBody::poll_next`).
                Err(error) => {
                    tracing::warn!(%error, "unable to encode watch object; ending the watch");
                    conversion_failed = true;
                    break;
                }
            };
            if filter.matches(&object) {
                initial.push_back(encoder.stored_event("ADDED", &stored.bytes, stored.revision, &object));
            }
        }
        if request.query.has("sendInitialEvents") && bookmarks && !conversion_failed {
            let bookmark = bookmark_object(scope, listed.revision, true);
            initial.push_back(encoder.event("BOOKMARK", &bookmark));
        }
        listed.revision + 1
    } else if requested_revision == 0 {
        // `sendInitialEvents=false` from "" or "0": from now on (the store's next revision).
        0
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
    let mut body = WatchBody {
        initial,
        watcher: None,
        deadline: Box::pin(tokio::time::sleep(timeout)),
        encoder,
        filter,
        bookmarks,
        bookmark_template: bookmark_object(scope, 0, false),
        store: store.clone(),
        start_revision,
    };
    match watch {
        Ok(_) if conversion_failed => {}
        Ok(watcher) => body.watcher = Some(watcher),
        Err(crate::store::StoreError::Compacted { compacted, .. }) => {
            let error = ApiError::expired(format!("too old resource version: {requested_revision} ({compacted})"));
            body.initial = VecDeque::from([error_event(&error)]);
        }
        Err(crate::store::StoreError::FutureRevision { .. }) => {
            return Err(ApiError::new(
                crate::error::Reason::Timeout,
                format!("Too large resource version: {requested_revision}, current: {}", store.current_revision()),
            )
            .with_retry(1));
        }
        Err(other) => return Err(crate::registry::storage::store_error(other)),
    }
    let content_type = match representation {
        Representation::Table => "application/json;as=Table;v=v1;g=meta.k8s.io",
        _ => "application/json",
    };
    let mut response = super::http2::DetachableStream::response(body);
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    Ok(response)
}

/// kube-apiserver's `validateWatchOptions`: `resourceVersionMatch` goes with
/// `sendInitialEvents`, and only as `NotOlderThan`.
fn validate_options(request: &ApiRequest) -> ApiResult<()> {
    let matching = request.query.get("resourceVersionMatch").unwrap_or_default();
    let initial_events = request.query.has("sendInitialEvents");
    let mut errors = Vec::new();
    if initial_events && matching != "NotOlderThan" {
        let detail = "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan";
        errors.push(FieldError::forbidden("resourceVersionMatch", detail));
    }
    if !matching.is_empty() {
        if !initial_events {
            let detail = "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided";
            errors.push(FieldError::forbidden("resourceVersionMatch", detail));
        }
        if matching != "NotOlderThan" {
            errors.push(FieldError {
                field: "resourceVersionMatch".into(),
                kind: FieldErrorKind::NotSupported(json!(matching), vec!["NotOlderThan".into()]),
                detail: String::new(),
            });
        }
        if request.query.get("continue").is_some_and(|token| !token.is_empty()) {
            let detail = "resourceVersionMatch is forbidden when continue is provided";
            errors.push(FieldError::forbidden("resourceVersionMatch", detail));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(ApiError::invalid("meta.k8s.io", "ListOptions", "", errors)) }
}

/// A watch's response body: the initial events, then each store response as one chunk, until
/// the store watch ends (one 410 ERROR event) or `timeoutSeconds` pass. The connection polls
/// it directly (over HTTP/2, its connection's task polls every watch of the connection); a
/// client that stops reading stops the polling, and the store watch then falls
/// back to catching up from history (or ends with a 410 if compaction overtakes it).
struct WatchBody {
    initial: VecDeque<Bytes>,
    /// `None` once the watch has ended.
    watcher: Option<crate::store::Watcher>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    encoder: Encoder,
    filter: Filter,
    bookmarks: bool,
    bookmark_template: Value,
    store: crate::store::MemoryStore,
    start_revision: i64,
}

impl futures_util::Stream for WatchBody {
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let body = self.get_mut();
        if let Some(chunk) = body.initial.pop_front() {
            return Poll::Ready(Some(chunk));
        }
        loop {
            let Some(watcher) = body.watcher.as_mut() else { return Poll::Ready(None) };
            let response = match Pin::new(watcher).poll_next(cx) {
                // The deadline is looked at only when there is nothing to send.
                Poll::Pending if body.deadline.as_mut().poll(cx).is_ready() => {
                    body.watcher = None;
                    continue;
                }
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    body.watcher = None;
                    continue;
                }
                Poll::Ready(Some(response)) => response,
            };
            if let Some(reason) = &response.canceled {
                tracing::debug!(?reason, "store watch ended; the client will re-list");
                body.watcher = None;
                let compacted = body.store.compacted_revision();
                let error =
                    ApiError::expired(format!("too old resource version: {} ({compacted})", body.start_revision));
                return Poll::Ready(Some(error_event(&error)));
            }
            if response.events.is_empty() {
                if body.bookmarks && response.progress_notify {
                    let mut bookmark = body.bookmark_template.clone();
                    bookmark["metadata"]["resourceVersion"] = json!(response.revision.to_string());
                    return Poll::Ready(Some(body.encoder.event("BOOKMARK", &bookmark)));
                }
                continue;
            }
            let chunk = if body.filter.is_none() && body.encoder.splices() {
                // Every watcher without a filter sends these events as the same bytes: the first
                // one to get here encodes them for all (spliced, so no conversion can fail).
                let events = &response.events;
                let encode =
                    || encode_batch(&mut body.encoder, &body.filter, events).expect("spliced events never convert");
                events.encoded.get_or_init(encode).clone()
            } else {
                match encode_batch(&mut body.encoder, &body.filter, &response.events) {
                    Ok(chunk) => chunk,
                    // kube-apiserver's watch handler logs the failure and ends the stream.
                    Err(error) => {
                        tracing::warn!(%error, "unable to encode watch object; ending the watch");
                        body.watcher = None;
                        return Poll::Ready(None);
                    }
                }
            };
            if chunk.is_empty() {
                continue;
            }
            return Poll::Ready(Some(chunk));
        }
    }
}

/// One transaction's events as one chunk of WatchEvents (empty when none passes the filter).
fn encode_batch(encoder: &mut Encoder, filter: &Filter, events: &[crate::store::Event]) -> ApiResult<Bytes> {
    let mut chunks = Vec::new();
    for event in events {
        chunks.extend(translate(encoder, filter, event)?);
    }
    Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => Bytes::from(chunks.concat()),
    })
}

/// A store event as a WatchEvent, taking selectors into account across the transition; an error
/// when a conversion webhook fails on the object, which ends the watch.
fn translate(encoder: &mut Encoder, filter: &Filter, event: &crate::store::Event) -> ApiResult<Option<Bytes>> {
    // Nothing to parse when no selector needs the object and it goes out as stored: with many
    // watchers of one collection, each event is spliced once per watcher, never decoded.
    if !filter.needs_object() && encoder.splices() {
        if !filter.matches_key(&event.kv.key) {
            return Ok(None);
        }
        let revision = event.kv.mod_revision;
        return Ok(match (event.kind, event.prev_kv.as_ref()) {
            (EventKind::Put, None) => Some(encoder.splice("ADDED", &event.kv.value, revision)),
            (EventKind::Put, Some(_)) => Some(encoder.splice("MODIFIED", &event.kv.value, revision)),
            (EventKind::Delete, previous) => previous.map(|prev| encoder.splice("DELETED", &prev.value, revision)),
        });
    }
    Ok(match event.kind {
        EventKind::Put => {
            let revision = event.kv.mod_revision;
            let object = encoder.view(&event.kv.value, revision)?;
            let now = filter.matches(&object);
            // The previous state, at this event's revision (what a DELETED event carries).
            let before = match &event.prev_kv {
                Some(prev) => Some((prev, encoder.view(&prev.value, revision)?)),
                None => None,
            };
            let matched = before.as_ref().map(|(_, previous)| filter.matches(previous));
            match (matched, now) {
                (Some(true), true) => Some(encoder.stored_event("MODIFIED", &event.kv.value, revision, &object)),
                (_, true) => Some(encoder.stored_event("ADDED", &event.kv.value, revision, &object)),
                // Leaving the selection: the last state that matched, as kube-apiserver sends it.
                (Some(true), false) => {
                    before.map(|(prev, previous)| encoder.stored_event("DELETED", &prev.value, revision, &previous))
                }
                (_, false) => None,
            }
        }
        EventKind::Delete => {
            let Some(prev) = event.prev_kv.as_ref() else { return Ok(None) };
            let object = encoder.view(&prev.value, event.kv.mod_revision)?;
            filter
                .matches(&object)
                .then(|| encoder.stored_event("DELETED", &prev.value, event.kv.mod_revision, &object))
        }
    })
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
