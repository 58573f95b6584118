//! LIST: a consistent page of a collection at one revision, with label and field selectors,
//! `limit`/`continue` (an opaque token carrying the revision and the next key, as
//! kube-apiserver's), `remainingItemCount`, and the `resourceVersion`/`resourceVersionMatch`
//! rules.

use super::Scope;
use super::storage::{self, Stored};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::selectors::{FieldSelector, LabelSelector};
use base64::Engine;
use serde_json::{Value, json};

/// The list parameters of a request.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub limit: usize,
    pub continue_token: Option<String>,
    pub label_selector: Option<LabelSelector>,
    pub field_selector: Option<FieldSelector>,
}

/// A page of a collection.
#[derive(Debug, Clone)]
pub struct ListResult {
    pub items: Vec<Stored>,
    pub revision: i64,
    pub continue_token: Option<String>,
    pub remaining: Option<i64>,
}

fn encode_continue(revision: i64, start: &str) -> String {
    let token = json!({"v": "meta.k8s.io/v1", "rv": revision, "start": start});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string())
}

fn decode_continue(token: &str) -> ApiResult<(i64, String)> {
    let invalid = || {
        ApiError::invalid(
            "meta.k8s.io",
            "ListOptions",
            "",
            vec![FieldError::invalid(
                "continue",
                json!(token),
                "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
            )],
        )
    };
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let revision = value["rv"].as_i64().filter(|rv| *rv > 0).ok_or_else(invalid)?;
    let start = value["start"].as_str().ok_or_else(invalid)?.to_string();
    if start.contains("..") || start.starts_with('/') {
        return Err(invalid());
    }
    Ok((revision, start))
}

fn parse_revision(text: &str) -> ApiResult<i64> {
    text.parse::<i64>()
        .ok()
        .filter(|rv| *rv >= 0)
        .ok_or_else(|| ApiError::bad_request(format!("invalid resource version: {text:?}")))
}

impl Scope<'_> {
    /// The revision to read at (0 = now) for the given options.
    fn read_revision(&self, options: &ListOptions) -> ApiResult<i64> {
        let requested = options.resource_version.as_deref().unwrap_or_default();
        let mode = options.resource_version_match.as_deref().unwrap_or_default();
        if requested.is_empty() {
            if !mode.is_empty() {
                return Err(ApiError::invalid(
                    "meta.k8s.io",
                    "ListOptions",
                    "",
                    vec![FieldError::forbidden(
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden unless resourceVersion is provided",
                    )],
                ));
            }
            return Ok(0);
        }
        let revision = parse_revision(requested)?;
        let current = self.instance.store.current_revision();
        match mode {
            "Exact" => {
                if revision == 0 {
                    return Err(ApiError::invalid(
                        "meta.k8s.io",
                        "ListOptions",
                        "",
                        vec![FieldError::forbidden(
                            "resourceVersionMatch",
                            "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                        )],
                    ));
                }
                Ok(revision)
            }
            "" | "NotOlderThan" => {
                if revision > current {
                    return Err(ApiError::new(
                        crate::error::Reason::Timeout,
                        format!("Too large resource version: {revision}, current: {current}"),
                    )
                    .with_retry(1));
                }
                Ok(0)
            }
            other => Err(ApiError::invalid(
                "meta.k8s.io",
                "ListOptions",
                "",
                vec![FieldError {
                    field: "resourceVersionMatch".into(),
                    kind: crate::error::FieldErrorKind::NotSupported(
                        json!(other),
                        vec!["Exact".into(), "NotOlderThan".into(), "".into()],
                    ),
                    detail: String::new(),
                }],
            )),
        }
    }

    fn matches(&self, stored: &Stored, options: &ListOptions) -> bool {
        if options.label_selector.is_none() && options.field_selector.is_none() {
            return true;
        }
        let object = self.view(stored);
        let labels = object.pointer("/metadata/labels").unwrap_or(&Value::Null);
        options.label_selector.as_ref().is_none_or(|s| s.matches(labels))
            && options
                .field_selector
                .as_ref()
                .is_none_or(|s| s.matches(&self.resource.group, &self.resource.plural, &object))
    }

    /// LIST of the collection (all namespaces when the scope has none).
    pub fn list(&self, options: &ListOptions) -> ApiResult<ListResult> {
        if let Some(selector) = &options.field_selector {
            crate::crds::validate_field_selector(&self.resource, selector).map_err(ApiError::bad_request)?;
        }
        let prefix = self.resource.key_prefix(self.namespace);
        let (mut revision, mut start) = match &options.continue_token {
            Some(token) if !token.is_empty() => {
                let (revision, start) = decode_continue(token)?;
                (revision, Some(format!("{prefix}{start}").into_bytes()))
            }
            _ => (self.read_revision(options)?, None),
        };
        let filtered = options.label_selector.is_some() || options.field_selector.is_some();
        let mut items = Vec::new();
        loop {
            let want = if options.limit == 0 { 0 } else { options.limit - items.len() };
            let page = storage::read_page(&self.instance.store, &prefix, start.as_deref(), revision, want).map_err(
                |e| match e {
                    crate::store::StoreError::Compacted { .. } if options.continue_token.is_some() => {
                        ApiError::expired(CONTINUE_TOO_OLD)
                    }
                    other => storage::store_error(other),
                },
            )?;
            revision = page.revision;
            let last_key = page.items.last().map(|(key, _)| key.clone());
            items.extend(
                page.items.into_iter().map(|(_, stored)| stored).filter(|stored| self.matches(stored, options)),
            );
            let exhausted = page.remaining == 0;
            match last_key {
                Some(last) if !exhausted && options.limit > 0 => {
                    let mut next = last.to_vec();
                    next.push(0);
                    if items.len() >= options.limit {
                        let start_text = String::from_utf8_lossy(&next[prefix.len()..]).into_owned();
                        return Ok(ListResult {
                            items,
                            revision,
                            continue_token: Some(encode_continue(revision, &start_text)),
                            remaining: (!filtered).then_some(page.remaining as i64),
                        });
                    }
                    start = Some(next);
                }
                _ => return Ok(ListResult { items, revision, continue_token: None, remaining: None }),
            }
        }
    }
}

/// kube-apiserver's message for a continue token below the compacted revision.
pub const CONTINUE_TOO_OLD: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let token = encode_continue(42, "web-2\u{0}");
        assert_eq!(decode_continue(&token).unwrap(), (42, "web-2\u{0}".to_string()));
        assert_eq!(decode_continue("not-a-token").unwrap_err().code(), 422);
    }
}
