//! The registry's narrow view of the store: read one object, read a page of a prefix at a
//! revision, and compare-and-swap writes keyed on `mod_revision`. Everything above speaks
//! [`Stored`] objects and [`ApiError`]s; everything below is the etcd-shaped store.

use crate::error::{ApiError, ApiResult};
use crate::store::{Compare, KeyRange, MemoryStore, RangeRequest, StoreError, Txn, TxnOp};
use bytes::Bytes;

/// An object as stored (serialized without resourceVersion) and the revision that wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub bytes: Bytes,
    pub revision: i64,
}

impl Stored {
    pub fn to_value(&self) -> serde_json::Value {
        super::encoding::decode(&self.bytes, self.revision)
    }

    pub fn to_json(&self) -> Vec<u8> {
        super::encoding::with_revision(&self.bytes, self.revision)
    }
}

/// The outcome of a compare-and-swap write.
#[derive(Debug)]
pub enum Written {
    /// Committed at this revision.
    At(i64),
    /// The compare failed; here is what the key holds now.
    Conflict(Option<Stored>),
}

/// Maps store failures that reach the API (compaction, future revisions, bad input).
pub fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Compacted { requested, compacted } => ApiError::expired(format!(
            "The resourceVersion for the provided list is too old. (requested {requested}, compacted {compacted})"
        )),
        StoreError::FutureRevision { requested, current } => ApiError::new(
            crate::error::Reason::Timeout,
            format!("Too large resource version: {requested}, current: {current}"),
        ),
        other => ApiError::internal(other),
    }
}

pub fn read(store: &MemoryStore, key: &str) -> ApiResult<Option<Stored>> {
    let response = store.range(RangeRequest::new(KeyRange::key(key.as_bytes().to_vec()))).map_err(store_error)?;
    Ok(response.kvs.into_iter().next().map(|kv| Stored { bytes: kv.value, revision: kv.mod_revision }))
}

/// One page of a prefix.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<(Bytes, Stored)>,
    /// The revision the page was read at.
    pub revision: i64,
    /// Keys after this page.
    pub remaining: usize,
}

/// Reads up to `limit` (0 = all) keys under `prefix` from `start` (inclusive) at `revision`
/// (0 = now).
pub fn read_page(
    store: &MemoryStore,
    prefix: &str,
    start: Option<&[u8]>,
    revision: i64,
    limit: usize,
) -> Result<Page, StoreError> {
    let end = KeyRange::prefix(prefix.as_bytes().to_vec()).end;
    let range = match start {
        Some(start) => KeyRange { start: Bytes::copy_from_slice(start), end },
        None => KeyRange::prefix(prefix.as_bytes().to_vec()),
    };
    let mut request = RangeRequest::new(range);
    request.revision = revision;
    request.limit = limit;
    let response = store.range(request)?;
    let revision = if revision > 0 { revision } else { response.revision };
    let returned = response.kvs.len();
    let items =
        response.kvs.into_iter().map(|kv| (kv.key, Stored { bytes: kv.value, revision: kv.mod_revision })).collect();
    Ok(Page { items, revision, remaining: response.count.saturating_sub(returned) })
}

fn write(store: &MemoryStore, key: &str, compare: Compare, op: TxnOp) -> ApiResult<Written> {
    let key_bytes = Bytes::copy_from_slice(key.as_bytes());
    let txn = Txn {
        compares: vec![compare],
        success: vec![op],
        failure: vec![TxnOp::Range(RangeRequest::new(KeyRange::key(key_bytes)))],
    };
    let response = store.txn(txn).map_err(store_error)?;
    if response.succeeded {
        return Ok(Written::At(response.revision));
    }
    let current = response.responses.into_iter().find_map(|r| r.into_range()).and_then(|r| r.kvs.into_iter().next());
    Ok(Written::Conflict(current.map(|kv| Stored { bytes: kv.value, revision: kv.mod_revision })))
}

/// Creates `key` if it does not exist.
pub fn create(store: &MemoryStore, key: &str, value: Bytes) -> ApiResult<Written> {
    let key_bytes = Bytes::copy_from_slice(key.as_bytes());
    write(store, key, Compare::create_revision_equals(key_bytes.clone(), 0), TxnOp::put(key_bytes, value))
}

/// Replaces `key` if it was last written at `expected`.
pub fn replace(store: &MemoryStore, key: &str, value: Bytes, expected: i64) -> ApiResult<Written> {
    let key_bytes = Bytes::copy_from_slice(key.as_bytes());
    write(store, key, Compare::mod_revision_equals(key_bytes.clone(), expected), TxnOp::put(key_bytes, value))
}

/// Deletes `key` if it was last written at `expected`.
pub fn remove(store: &MemoryStore, key: &str, expected: i64) -> ApiResult<Written> {
    let key_bytes = Bytes::copy_from_slice(key.as_bytes());
    write(
        store,
        key,
        Compare::mod_revision_equals(key_bytes.clone(), expected),
        TxnOp::delete(KeyRange::key(key_bytes)),
    )
}
