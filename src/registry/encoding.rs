//! Stored objects as bytes. An object is serialized once, without its resourceVersion, when
//! it is written; every get, list and watch that sends it splices the revision into those same
//! bytes instead of serializing again.

use bytes::Bytes;
use serde_json::{Map, Value};

/// Serializes `object` for the store: `kind`, `apiVersion` and `metadata` first (as
/// kube-apiserver orders them), and no `metadata.resourceVersion`. Written straight from
/// `object`, without building a reordered copy first.
pub fn encode_for_storage(object: &Value) -> Bytes {
    let Value::Object(map) = object else { return Bytes::from_static(b"{}") };
    let mut out = Vec::with_capacity(1024);
    let leading = LEADING_FIELDS.iter().filter_map(|key| map.get_key_value(*key));
    let rest = map.iter().filter(|(key, _)| !LEADING_FIELDS.contains(&key.as_str()));
    write_object(&mut out, leading.chain(rest), |out, key, value| {
        write_string(out, key);
        out.push(b':');
        match value {
            Value::Object(metadata) if key == "metadata" => {
                write_object(out, without_resource_version(metadata), write_field)
            }
            value => write_json(out, value),
        }
    });
    Bytes::from(out)
}

/// The fields written first, in this order.
const LEADING_FIELDS: [&str; 3] = ["kind", "apiVersion", "metadata"];

/// Metadata's fields without `resourceVersion`, in the order removing it from the map leaves
/// them: the last field takes its place.
fn without_resource_version(metadata: &Map<String, Value>) -> impl Iterator<Item = (&String, &Value)> {
    let mut fields: Vec<(&String, &Value)> = metadata.iter().collect();
    if let Some(at) = fields.iter().position(|(key, _)| *key == "resourceVersion") {
        fields.swap_remove(at);
    }
    fields.into_iter()
}

/// Writes `value` as compact JSON, byte for byte what `serde_json::to_writer` writes, but
/// copying strings that need no escaping in one piece (serde_json looks each byte up in its
/// escape table and writes the string in fragments).
fn write_json(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(text) => write_string(out, text),
        Value::Object(map) => write_object(out, map.iter(), write_field),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_json(out, item);
            }
            out.push(b']');
        }
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => serde_json::to_writer(out, number).expect("numbers always serialize"),
    }
}

/// `{`, each field written by `write`, `}`.
fn write_object<'a>(
    out: &mut Vec<u8>,
    fields: impl Iterator<Item = (&'a String, &'a Value)>,
    mut write: impl FnMut(&mut Vec<u8>, &str, &Value),
) {
    out.push(b'{');
    for (index, (key, value)) in fields.enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write(out, key, value);
    }
    out.push(b'}');
}

/// `"key":value`.
fn write_field(out: &mut Vec<u8>, key: &str, value: &Value) {
    write_string(out, key);
    out.push(b':');
    write_json(out, value);
}

fn write_string(out: &mut Vec<u8>, text: &str) {
    if text.bytes().all(|byte| byte >= 0x20 && byte != b'"' && byte != b'\\') {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(out, text).expect("strings always serialize");
    }
}

const METADATA_OPEN: &[u8] = b"\"metadata\":{";

/// Where `"resourceVersion":"N"` goes: just inside the top-level metadata object (the first
/// `"metadata":{`). Only positions holding a quote are compared, so the search over the few dozen
/// bytes before `metadata` costs next to nothing even when a LIST splices thousands of objects.
fn splice_point(stored: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(offset) = stored[from..].iter().position(|&byte| byte == b'"') {
        let at = from + offset;
        if stored[at..].starts_with(METADATA_OPEN) {
            return Some(at + METADATA_OPEN.len());
        }
        from = at + 1;
    }
    None
}

/// Appends `value` in decimal without allocating.
fn push_decimal(out: &mut Vec<u8>, value: i64) {
    let mut digits = [0u8; 20];
    let mut rest = value.unsigned_abs();
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[start..]);
}

/// Appends the stored object to `out` with `metadata.resourceVersion` set to `revision`.
pub fn write_with_revision(out: &mut Vec<u8>, stored: &[u8], revision: i64) {
    match splice_point(stored) {
        Some(at) => {
            out.extend_from_slice(&stored[..at]);
            out.extend_from_slice(b"\"resourceVersion\":\"");
            push_decimal(out, revision);
            out.push(b'"');
            if stored.get(at) != Some(&b'}') {
                out.push(b',');
            }
            out.extend_from_slice(&stored[at..]);
        }
        None => out.extend_from_slice(stored),
    }
}

/// The stored object as bytes with its resourceVersion.
pub fn with_revision(stored: &[u8], revision: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(stored.len() + 32);
    write_with_revision(&mut out, stored, revision);
    out
}

/// Parses a stored object and sets its resourceVersion.
pub fn decode(stored: &[u8], revision: i64) -> Value {
    let mut object: Value = serde_json::from_slice(stored).unwrap_or(Value::Null);
    set_resource_version(&mut object, revision);
    object
}

/// `object` as [`decode`] gives it back once it is stored at `revision`, without serializing
/// and parsing it: the fields in storage order ([`LEADING_FIELDS`] first), metadata without its
/// old resourceVersion (the last field taking its place, as [`encode_for_storage`] leaves it) and
/// with `revision` as the last field. Values themselves come back unchanged, since serde_json
/// parses what it wrote exactly (floats included, with `float_roundtrip`). `None` for anything
/// but a JSON object, which is stored as `{}`.
pub fn as_decoded(object: Value, revision: i64) -> Option<Value> {
    let Value::Object(map) = object else { return None };
    let present = LEADING_FIELDS.iter().filter(|key| map.contains_key(**key));
    let in_order = present.zip(map.keys()).all(|(leading, key)| leading == key);
    let mut object = if in_order {
        map
    } else {
        let mut fields: Vec<(String, Value)> = map.into_iter().collect();
        let mut ordered = Map::with_capacity(fields.len());
        for leading in LEADING_FIELDS {
            if let Some(at) = fields.iter().position(|(key, _)| key == leading) {
                let (key, value) = fields.remove(at);
                ordered.insert(key, value);
            }
        }
        ordered.extend(fields);
        ordered
    };
    if let Some(Value::Object(metadata)) = object.get_mut("metadata") {
        metadata.swap_remove("resourceVersion");
    }
    let mut object = Value::Object(object);
    set_resource_version(&mut object, revision);
    Some(object)
}

/// Sets `metadata.resourceVersion`.
pub fn set_resource_version(object: &mut Value, revision: i64) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("resourceVersion".into(), Value::String(revision.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splicing_the_revision_gives_the_same_object_as_setting_it() {
        let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"metadata":{"x": "y"}}, "metadata": {"name": "c", "resourceVersion": "9"}});
        let stored = encode_for_storage(&object);
        assert!(stored.starts_with(b"{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"c\"}"));
        let spliced: Value = serde_json::from_slice(&with_revision(&stored, 42)).unwrap();
        assert_eq!(spliced, decode(&stored, 42));
        assert_eq!(spliced["metadata"], json!({"resourceVersion": "42", "name": "c"}));
        assert_eq!(spliced["data"], json!({"metadata": {"x": "y"}}));
    }

    #[test]
    fn storage_order_matches_removing_the_revision_from_a_reordered_copy() {
        let object =
            json!({"spec": {"a": 1}, "metadata": {"resourceVersion": "3", "name": "c", "uid": "u"}, "kind": "X"});
        let stored = encode_for_storage(&object);
        assert_eq!(&stored[..], br#"{"kind":"X","metadata":{"uid":"u","name":"c"},"spec":{"a":1}}"#);
        assert_eq!(&encode_for_storage(&json!([1]))[..], b"{}");
    }

    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        let values = [
            json!({"a": [1, -2, 3.5, 1e300, -0.0, 18446744073709551615u64, null, true, false], "": {}, "b": []}),
            json!([
                "plain",
                "quote \" and \\ backslash",
                "control \u{1} \n \t \u{1f}",
                "ünïcödé ✓ \u{2028}",
                "</script>"
            ]),
            json!({"k\"ey\n": "v", "emoji 😀": {"nested": [[], [{}]]}}),
            json!("top level"),
            json!(12),
        ];
        for value in values {
            let mut out = Vec::new();
            write_json(&mut out, &value);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&value).unwrap());
        }
    }

    #[test]
    fn revisions_are_written_in_decimal() {
        for revision in [0, 7, 10, 42, 1_000_000_007, i64::MAX, -3, i64::MIN] {
            let mut out = Vec::new();
            push_decimal(&mut out, revision);
            assert_eq!(out, revision.to_string().as_bytes());
        }
    }

    #[test]
    fn the_revision_goes_into_the_first_top_level_metadata() {
        let stored =
            br#"{"kind":"X","apiVersion":"v1","meta":"\"metadata\"","metadata":{"name":"a"},"spec":{"metadata":{}}}"#;
        let spliced = String::from_utf8(with_revision(stored, 5)).unwrap();
        assert!(spliced.contains(r#""metadata":{"resourceVersion":"5","name":"a"}"#), "{spliced}");
        assert!(spliced.ends_with(r#""spec":{"metadata":{}}}"#), "{spliced}");
        assert_eq!(with_revision(b"{\"kind\":\"X\"}", 5), b"{\"kind\":\"X\"}");
    }

    #[test]
    fn empty_metadata_gets_no_trailing_comma() {
        let stored = encode_for_storage(&json!({"kind": "X", "apiVersion": "v1", "metadata": {}}));
        let spliced: Value = serde_json::from_slice(&with_revision(&stored, 3)).unwrap();
        assert_eq!(spliced["metadata"]["resourceVersion"], "3");
    }

    #[test]
    fn an_object_as_decoded_is_what_decoding_its_stored_bytes_gives() {
        let objects = [
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "resourceVersion": "3", "uid": "u", "labels": {"a": "b"}}}),
            json!({"spec": {"x": [1.5, 0.1, 1e300, -0.0, 3.0, 7]}, "metadata": {"name": "c"}, "kind": "X", "status": {}}),
            json!({"kind": "X", "apiVersion": "v1", "metadata": {"resourceVersion": "9"}, "data": {"kind": "y"}}),
            json!({"kind": "X", "data": "no metadata"}),
            json!({"metadata": "not an object", "kind": "X"}),
            json!({}),
        ];
        for object in objects {
            let stored = encode_for_storage(&object);
            let decoded = as_decoded(object.clone(), 12).expect("an object");
            assert_eq!(serde_json::to_string(&decoded).unwrap(), serde_json::to_string(&decode(&stored, 12)).unwrap());
        }
        assert_eq!(as_decoded(json!([1]), 12), None);
    }
}
