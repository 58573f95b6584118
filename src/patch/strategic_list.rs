//! Merging lists under `patchStrategy: merge` (`mergeSlice` and its helpers in
//! `strategicpatch/patch.go`). Lists of maps merge item by item on the merge key, honouring
//! `$patch: delete` and `$patch: replace` items; lists of scalars become the deduplicated union
//! (or lose the values of a `$deleteFromPrimitiveList`). The result is then ordered the way the
//! real code orders it: items named by the patch in the patch's order, the server's other items
//! slotted in by their original positions. The Go helpers are reproduced step by step, down to
//! the in-place deduplication that reorders scalars and the comparator that ranks unknown items
//! first, because clients can see the order.

use super::PatchError;
use super::go_json::go_value;
use super::strategic::{DIRECTIVE, GoKind, Meta, bad_arg_type, bad_patch_type, go_kind, merge_map, no_merge_key};
use serde_json::Value;
use std::collections::VecDeque;

/// `sliceElementType`: the one Go type of every element of these lists.
pub(super) fn element_kind(lists: &[&[Value]]) -> Result<GoKind, PatchError> {
    let mut kind = None;
    for item in lists.iter().flat_map(|l| l.iter()) {
        let this = go_kind(item);
        match kind {
            None if this == GoKind::Slice => return Err(PatchError::not_applied("lists of lists are not supported")),
            None => kind = Some(this),
            Some(kind) if kind != this => {
                let all = Value::Array(lists.iter().map(|l| Value::Array(l.to_vec())).collect());
                return Err(PatchError::internal(format!("list element types are not identical: {}", go_value(&all))));
            }
            Some(_) => {}
        }
    }
    kind.ok_or_else(|| PatchError::internal("no elements in any of the given slices"))
}

/// `mergeSlice`.
pub(super) fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: Option<Meta<'_>>,
    merge_key: &str,
    deleting: bool,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = element_kind(&[&original, &patch])?;
    let (original, patch, merged) = if kind != GoKind::Map {
        if deleting {
            return Ok(original.into_iter().filter(|v| !patch.contains(v)).collect());
        }
        let merged = dedup_scalars(original.iter().chain(&patch).cloned().collect());
        (original, patch, merged)
    } else {
        if merge_key.is_empty() {
            return Err(PatchError::internal("cannot merge lists without merge key for struct"));
        }
        let (original, patch) = split_special_items(original, patch, merge_key)?;
        let merged = merge_by_key(original.clone(), &patch, merge_key, schema)?;
        (original, patch, merged)
    };
    let (in_patch, server_only) = partition(merged, &patch, merge_key)?;
    normalize_element_order(in_patch, server_only, &patch, &original, merge_key, kind)
}

/// `deduplicateScalars`, which swaps the last element into each duplicate's place.
fn dedup_scalars(mut s: Vec<Value>) -> Vec<Value> {
    let mut length = s.len() as isize - 1;
    let mut i = 0;
    while i < length {
        let mut j = i + 1;
        while j <= length {
            if s[i as usize] == s[j as usize] {
                s[j as usize] = s[length as usize].clone();
                s.truncate(length as usize);
                length -= 1;
                j -= 1;
            }
            j += 1;
        }
        i += 1;
    }
    s
}

/// `mergeSliceWithSpecialElements`: applies `$patch: delete` items to the original and drops
/// them; a `$patch: replace` item makes the rest of the patch the whole list.
fn split_special_items(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut plain = Vec::new();
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.get(DIRECTIVE) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let key = item.get(merge_key).ok_or_else(|| no_merge_key(&item, merge_key))?;
                while let Some(i) = find_by_key(&original, merge_key, key)? {
                    original.remove(i);
                }
            }
            Some("replace") => replace = true,
            Some("merge") => return Err(PatchError::internal("merging lists cannot yet be specified in the patch")),
            _ => return Err(bad_patch_type(directive, &item)),
        }
    }
    Ok(if replace { (plain, Vec::new()) } else { (original, plain) })
}

/// `mergeSliceWithoutSpecialElements`: each patch item merges into the original item with the
/// same merge key value, or is appended.
fn merge_by_key(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    schema: Option<Meta<'_>>,
) -> Result<Vec<Value>, PatchError> {
    for item in patch {
        let key = item.get(merge_key).ok_or_else(|| no_merge_key(item, merge_key))?;
        match find_by_key(&original, merge_key, key)? {
            Some(i) => {
                let current = std::mem::take(&mut original[i]);
                let (Value::Object(current), Value::Object(patch)) = (current, item.clone()) else {
                    unreachable!("checked maps")
                };
                original[i] = Value::Object(merge_map(current, patch, schema)?);
            }
            None => original.push(item.clone()),
        }
    }
    Ok(original)
}

/// `findMapInSliceBasedOnKeyValue`.
fn find_by_key(list: &[Value], merge_key: &str, value: &Value) -> Result<Option<usize>, PatchError> {
    for (i, item) in list.iter().enumerate() {
        let Value::Object(map) = item else {
            return Err(PatchError::internal(format!("value for key {i} is not a map")));
        };
        if map.get(merge_key) == Some(value) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// `partitionPrimitivesByPresentInList` / `partitionMapsByPresentInList`: the items `by`
/// names, and the rest.
pub(super) fn partition(
    items: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut named = Vec::new();
    let mut rest = Vec::new();
    for item in items {
        let found = if merge_key.is_empty() {
            by.contains(&item)
        } else {
            if !item.is_object() {
                return Err(bad_arg_type("map[string]interface {}", &item));
            }
            let key = item.get(merge_key).ok_or_else(|| no_merge_key(&item, merge_key))?;
            find_by_key(by, merge_key, key)?.is_some()
        };
        if found { named.push(item) } else { rest.push(item) }
    }
    Ok((named, rest))
}

/// `validateMergeKeyInLists`.
fn check_merge_keys(merge_key: &str, lists: &[&[Value]]) -> Result<(), PatchError> {
    for item in lists.iter().flat_map(|l| l.iter()) {
        if !item.is_object() {
            return Err(bad_arg_type("map[string]interface {}", item));
        }
        if item.get(merge_key).is_none() {
            return Err(no_merge_key(item, merge_key));
        }
    }
    Ok(())
}

/// `extractToDeleteItems`: items kept, and `$patch: delete` items.
fn split_deletions(items: Vec<Value>) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut kept = Vec::new();
    let mut deleted = Vec::new();
    for item in items {
        if !item.is_object() {
            return Err(bad_arg_type("map[string]interface {}", &item));
        }
        if item.get(DIRECTIVE).and_then(Value::as_str) == Some("delete") { deleted.push(item) } else { kept.push(item) }
    }
    Ok((kept, deleted))
}

/// `index`: the position of `item` in `list`, by merge key for maps.
fn position(list: &[Value], item: &Value, merge_key: &str, kind: GoKind) -> Option<usize> {
    if kind == GoKind::Map {
        let key = |v: &Value| v.as_object().and_then(|m| m.get(merge_key)).cloned();
        let wanted = key(item);
        list.iter().position(|v| key(v) == wanted)
    } else {
        list.iter().position(|v| v == item)
    }
}

/// `normalizeSliceOrder`: a stable sort by position in `order`, where an item missing from
/// `order` on either side compares as smaller (as the Go comparator does); deletions go last.
fn sort_by_order(items: Vec<Value>, order: &[Value], merge_key: &str, kind: GoKind) -> Result<Vec<Value>, PatchError> {
    let (mut items, deleted) = if kind == GoKind::Map {
        check_merge_keys(merge_key, &[&items, order])?;
        split_deletions(items)?
    } else {
        (items, Vec::new())
    };
    let less = |a: &Value, b: &Value| match (position(order, a, merge_key, kind), position(order, b, merge_key, kind)) {
        (Some(i), Some(j)) => i < j,
        _ => true,
    };
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && less(&items[j], &items[j - 1]) {
            items.swap(j, j - 1);
            j -= 1;
        }
    }
    items.extend(deleted);
    Ok(items)
}

/// `normalizeElementOrder`: patch items in patch order, server-only items in server order,
/// interleaved by `mergeSortedSlice`.
pub(super) fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: GoKind,
) -> Result<Vec<Value>, PatchError> {
    let patch_items = sort_by_order(patch_items, patch_order, merge_key, kind)?;
    let server_only = sort_by_order(server_only, server_order, merge_key, kind)?;
    let mut left: VecDeque<Value> = server_only.into();
    let mut right: VecDeque<Value> = patch_items.into();
    let mut merged = Vec::with_capacity(left.len() + right.len());
    while let (Some(l), Some(r)) = (left.front(), right.front()) {
        let left_first = matches!(
            (position(server_order, l, merge_key, kind), position(server_order, r, merge_key, kind)),
            (Some(i), Some(j)) if i < j
        );
        let next = if left_first { left.pop_front() } else { right.pop_front() };
        merged.extend(next);
    }
    merged.extend(left);
    merged.extend(right);
    Ok(merged)
}

/// `mergeKeyValueEqual`.
fn same_item(left: &Value, right: &Value, merge_key: &str) -> Result<bool, PatchError> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let key = |v: &Value| {
        if !v.is_object() {
            return Err(bad_arg_type("map[string]interface {}", v));
        }
        v.get(merge_key).cloned().ok_or_else(|| no_merge_key(v, merge_key))
    };
    Ok(key(left)? == key(right)?)
}

/// `validatePatchWithSetOrderList`: the patch list's items (deletions and directives aside) must
/// appear in the `$setElementOrder` list, in the same relative order.
pub(super) fn validate_order(patch_list: &[Value], order: &[Value], merge_key: &str) -> Result<(), PatchError> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let items = if merge_key.is_empty() { patch_list.to_vec() } else { split_deletions(patch_list.to_vec())?.0 };
    let (mut p, mut o) = (0, 0);
    while p < items.len() && o < order.len() {
        if items[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        if same_item(&items[p], &order[o], merge_key)? {
            p += 1;
        }
        o += 1;
    }
    if p < items.len() && o >= order.len() {
        return Err(PatchError::internal(format!(
            "The order in patch list:\n{}\n doesn't match $setElementOrder list:\n{}\n",
            go_value(&Value::Array(patch_list.to_vec())),
            go_value(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list(v: Value) -> Vec<Value> {
        v.as_array().unwrap().clone()
    }

    #[test]
    fn dedup_reorders_like_the_go_algorithm() {
        assert_eq!(dedup_scalars(list(json!(["a", "b", "a", "c"]))), list(json!(["a", "b", "c"])));
        assert_eq!(dedup_scalars(list(json!(["a", "a", "b", "c"]))), list(json!(["a", "c", "b"])));
        assert_eq!(dedup_scalars(list(json!([1, 1.0, 1]))), list(json!([1, 1.0])));
        assert_eq!(dedup_scalars(Vec::new()), Vec::<Value>::new());
    }

    #[test]
    fn scalar_lists_union_in_patch_order_around_server_items() {
        let cases = [
            // Without `$setElementOrder` a new item has no known position and goes first.
            (json!(["a", "b"]), json!(["c"]), json!(["c", "a", "b"])),
            (json!(["a", "b", "c"]), json!(["c", "a"]), json!(["b", "c", "a"])),
            (json!(["x", "y"]), json!(["y", "z"]), json!(["x", "y", "z"])),
        ];
        for (original, patch, expected) in cases {
            let merged = merge_slice(list(original.clone()), list(patch.clone()), None, "", false).unwrap();
            assert_eq!(Value::Array(merged), expected, "{original} + {patch}");
        }
        let removed = merge_slice(list(json!(["a", "b", "c"])), list(json!(["b"])), None, "", true).unwrap();
        assert_eq!(Value::Array(removed), json!(["a", "c"]));
    }

    #[test]
    fn element_kinds_must_agree() {
        assert_eq!(element_kind(&[&list(json!([1])), &list(json!([2]))]).unwrap(), GoKind::Int);
        let error = element_kind(&[&list(json!([[1]]))]).unwrap_err();
        assert_eq!(error.detail.as_deref(), Some("lists of lists are not supported"));
        let error = element_kind(&[&list(json!(["a"])), &list(json!([{"b": 1}]))]).unwrap_err();
        assert_eq!(error.message, "list element types are not identical: [[a] [map[b:1]]]");
        assert_eq!(element_kind(&[&[], &[]]).unwrap_err().message, "no elements in any of the given slices");
    }

    #[test]
    fn set_element_order_must_agree_with_the_patch_list() {
        let order = list(json!([{"name": "a"}, {"name": "b"}]));
        assert!(validate_order(&list(json!([{"name": "b"}])), &order, "name").is_ok());
        assert!(
            validate_order(&list(json!([{"name": "z", "$patch": "delete"}, {"name": "a"}])), &order, "name").is_ok()
        );
        let error = validate_order(&list(json!([{"name": "b"}, {"name": "a"}])), &order, "name").unwrap_err();
        assert_eq!(
            error.message,
            "The order in patch list:\n[map[name:b] map[name:a]]\n doesn't match $setElementOrder list:\n[map[name:a] map[name:b]]\n"
        );
        let error = validate_order(&list(json!([{"image": "x"}])), &order, "name").unwrap_err();
        assert_eq!(error.message, "map: map[image:x] does not contain declared merge key: name");
    }
}
