//! Request bodies in Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`),
//! decoded into the same JSON objects a JSON body gives. client-go's typed clients, and so
//! kubectl's `create` subcommands, helm's release storage and every controller-runtime
//! manager, send built-in objects this way.
//!
//! A body is the magic `k8s\0` followed by a `runtime.Unknown` envelope whose `raw` field holds
//! the object's message. Field numbers, JSON names and value kinds come from
//! `openapi/protobuf-fields.json.gz` (made by `scripts/gen-protobuf-fields.py`). Go's protobuf
//! marshaller writes every non-pointer field, so empty strings are dropped as Go's JSON
//! encoder would drop them with `omitempty`; zero numbers and `false` are kept, because the
//! wire cannot tell a pointer set to zero from a plain zero field.

use crate::error::{ApiError, ApiResult};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The media type, as clients name it in Content-Type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

const MAGIC: &[u8] = b"k8s\0";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";

#[derive(Debug, Deserialize)]
struct Field {
    tag: u32,
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    map: Option<String>,
    #[serde(default, rename = "type")]
    message: Option<String>,
    #[serde(default)]
    repeated: bool,
    #[serde(default)]
    inline: bool,
}

type Messages = HashMap<String, Vec<Field>>;

fn messages() -> &'static Messages {
    static TABLE: OnceLock<Messages> = OnceLock::new();
    TABLE.get_or_init(|| {
        let compressed: &[u8] = include_bytes!("../openapi/protobuf-fields.json.gz");
        let reader = flate2::read::GzDecoder::new(compressed);
        serde_json::from_reader(reader).expect("the protobuf field table is valid JSON")
    })
}

fn malformed(detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("the object provided is unrecognized: protobuf: {detail}"))
}

/// Decodes an object of the OpenAPI `definition` (a resource's type) from a protobuf body.
/// `apiVersion` and `kind` come from the envelope.
pub fn decode_object(body: &[u8], definition: &str) -> ApiResult<Value> {
    let (api_version, kind, raw) = envelope(body)?;
    let mut object = decode_message(raw, definition, 0)?;
    if let Value::Object(map) = &mut object {
        let mut ordered = Map::new();
        ordered.insert("kind".into(), json!(kind));
        ordered.insert("apiVersion".into(), json!(api_version));
        ordered.append(map);
        object = Value::Object(ordered);
    }
    Ok(object)
}

/// Decodes a `DeleteOptions` body.
pub fn decode_delete_options(body: &[u8]) -> ApiResult<Value> {
    let (_, _, raw) = envelope(body)?;
    decode_message(raw, DELETE_OPTIONS, 0)
}

/// Splits the `k8s\0` + `runtime.Unknown` envelope into apiVersion, kind and raw message.
fn envelope(body: &[u8]) -> ApiResult<(String, String, &[u8])> {
    let unknown =
        body.strip_prefix(MAGIC).ok_or_else(|| malformed("the body does not start with the k8s magic prefix"))?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    let mut reader = Reader(unknown);
    while let Some((tag, wire)) = reader.key()? {
        match (tag, wire) {
            (1, 2) => {
                let mut type_meta = Reader(reader.bytes()?);
                while let Some((tag, wire)) = type_meta.key()? {
                    match (tag, wire) {
                        (1, 2) => api_version = type_meta.string()?,
                        (2, 2) => kind = type_meta.string()?,
                        _ => type_meta.skip(wire)?,
                    }
                }
            }
            (2, 2) => raw = reader.bytes()?,
            (3, 2) => {
                let encoding = reader.string()?;
                if !encoding.is_empty() {
                    return Err(malformed(format!("unsupported content encoding {encoding:?}")));
                }
            }
            _ => reader.skip(wire)?,
        }
    }
    Ok((api_version, kind, raw))
}

/// Nesting deeper than this is refused rather than followed.
const MAX_DEPTH: usize = 64;

fn decode_message(bytes: &[u8], definition: &str, depth: usize) -> ApiResult<Value> {
    if depth > MAX_DEPTH {
        return Err(malformed("the message nests too deeply"));
    }
    if let Some(special) = decode_special(bytes, definition)? {
        return Ok(special);
    }
    let fields = messages().get(definition).map(Vec::as_slice).unwrap_or_default();
    let mut out = Map::new();
    let mut reader = Reader(bytes);
    while let Some((tag, wire)) = reader.key()? {
        let Some(field) = fields.iter().find(|f| f.tag == tag) else {
            reader.skip(wire)?;
            continue;
        };
        if let Some(value_kind) = &field.map {
            let (key, value) = map_entry(reader.bytes()?, value_kind, field.message.as_deref(), depth)?;
            let entries = out.entry(field.name.clone()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(entries) = entries {
                entries.insert(key, value);
            }
        } else if field.repeated {
            let items = out.entry(field.name.clone()).or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = items else { continue };
            if wire == 2 && is_varint_kind(&field.kind) {
                let mut packed = Reader(reader.bytes()?);
                while !packed.0.is_empty() {
                    items.push(scalar_from_varint(&field.kind, packed.varint()?));
                }
            } else {
                items.push(read_value(&mut reader, wire, &field.kind, field.message.as_deref(), depth)?);
            }
        } else {
            let value = read_value(&mut reader, wire, &field.kind, field.message.as_deref(), depth)?;
            match value {
                Value::Object(embedded) if field.inline => out.extend(embedded),
                Value::Null => {}
                Value::String(text) if text.is_empty() => {}
                value => {
                    out.insert(field.name.clone(), value);
                }
            }
        }
    }
    Ok(Value::Object(out))
}

fn is_varint_kind(kind: &str) -> bool {
    matches!(kind, "int32" | "int64" | "bool")
}

fn scalar_from_varint(kind: &str, raw: u64) -> Value {
    match kind {
        "bool" => json!(raw != 0),
        "int32" => json!(raw as i64 as i32),
        _ => json!(raw as i64),
    }
}

fn read_value(reader: &mut Reader<'_>, wire: u8, kind: &str, message: Option<&str>, depth: usize) -> ApiResult<Value> {
    let expected_wire = match kind {
        "int32" | "int64" | "bool" => 0,
        "double" => 1,
        _ => 2,
    };
    if wire != expected_wire {
        return Err(malformed(format!("wire type {wire} where {kind} was expected")));
    }
    Ok(match kind {
        "string" => Value::String(reader.string()?),
        "bytes" => Value::String(base64::engine::general_purpose::STANDARD.encode(reader.bytes()?)),
        "double" => json!(f64::from_le_bytes(reader.fixed::<8>()?)),
        "message" => decode_message(reader.bytes()?, message.unwrap_or_default(), depth + 1)?,
        _ => scalar_from_varint(kind, reader.varint()?),
    })
}

fn map_entry(bytes: &[u8], value_kind: &str, message: Option<&str>, depth: usize) -> ApiResult<(String, Value)> {
    let mut reader = Reader(bytes);
    let (mut key, mut value) = (String::new(), None);
    while let Some((tag, wire)) = reader.key()? {
        match tag {
            1 => key = reader.string()?,
            2 => value = Some(read_value(&mut reader, wire, value_kind, message, depth)?),
            _ => reader.skip(wire)?,
        }
    }
    let empty = match value_kind {
        "message" => json!({}),
        _ => json!(""),
    };
    Ok((key, value.unwrap_or(empty)))
}

/// Types whose JSON form is not their fields: times, durations, quantities, int-or-strings and
/// embedded raw JSON.
fn decode_special(bytes: &[u8], definition: &str) -> ApiResult<Option<Value>> {
    let short = definition.rsplit('.').next().unwrap_or_default();
    let package = definition.strip_suffix(short).unwrap_or_default();
    let fields = || -> ApiResult<HashMap<u32, Scalar>> { scalar_fields(bytes) };
    Ok(Some(match (package, short) {
        ("io.k8s.apimachinery.pkg.apis.meta.v1.", "Time" | "MicroTime") => {
            let fields = fields()?;
            let seconds = fields.get(&1).map(Scalar::int).unwrap_or(0);
            let nanos = fields.get(&2).map(Scalar::int).unwrap_or(0);
            if seconds == 0 && nanos == 0 {
                Value::Null
            } else if short == "Time" {
                json!(crate::timestamp::format_rfc3339(seconds))
            } else {
                json!(crate::timestamp::format_rfc3339_micros((seconds, (nanos / 1000) as u32)))
            }
        }
        ("io.k8s.apimachinery.pkg.apis.meta.v1.", "Duration") => {
            json!(go_duration(fields()?.get(&1).map(Scalar::int).unwrap_or(0)))
        }
        ("io.k8s.apimachinery.pkg.api.resource.", "Quantity") => {
            json!(fields()?.get(&1).map(Scalar::text).unwrap_or_default())
        }
        ("io.k8s.apimachinery.pkg.util.intstr.", "IntOrString") => {
            let fields = fields()?;
            if fields.get(&1).map(Scalar::int) == Some(1) {
                json!(fields.get(&3).map(Scalar::text).unwrap_or_default())
            } else {
                json!(fields.get(&2).map(Scalar::int).unwrap_or(0))
            }
        }
        ("io.k8s.apimachinery.pkg.runtime.", "RawExtension")
        | ("io.k8s.apimachinery.pkg.apis.meta.v1.", "FieldsV1")
        | (_, "JSON")
        | (_, "JSONSchemaPropsOrBool" | "JSONSchemaPropsOrArray" | "JSONSchemaPropsOrStringArray") => {
            let raw = match fields()?.remove(&1) {
                Some(Scalar::Bytes(raw)) => raw,
                _ => return Ok(Some(Value::Null)),
            };
            serde_json::from_slice(&raw).map_err(|e| malformed(format!("{short} does not hold JSON: {e}")))?
        }
        _ => return Ok(None),
    }))
}

/// The value of a top-level field of a small message, as read off the wire.
#[derive(Debug)]
enum Scalar {
    Int(i64),
    Bytes(Vec<u8>),
}

impl Scalar {
    fn int(&self) -> i64 {
        match self {
            Scalar::Int(value) => *value,
            Scalar::Bytes(_) => 0,
        }
    }

    fn text(&self) -> String {
        match self {
            Scalar::Bytes(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            Scalar::Int(value) => value.to_string(),
        }
    }
}

fn scalar_fields(bytes: &[u8]) -> ApiResult<HashMap<u32, Scalar>> {
    let mut reader = Reader(bytes);
    let mut fields = HashMap::new();
    while let Some((tag, wire)) = reader.key()? {
        match wire {
            0 => fields.insert(tag, Scalar::Int(reader.varint()? as i64)),
            2 => fields.insert(tag, Scalar::Bytes(reader.bytes()?.to_vec())),
            _ => {
                reader.skip(wire)?;
                None
            }
        };
    }
    Ok(fields)
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let total = nanos.unsigned_abs();
    let trim = |whole: u64, fraction: u64, digits: usize| {
        let fraction = format!("{fraction:0digits$}");
        let fraction = fraction.trim_end_matches('0');
        if fraction.is_empty() { whole.to_string() } else { format!("{whole}.{fraction}") }
    };
    if total < 1_000 {
        return format!("{sign}{total}ns");
    }
    if total < 1_000_000 {
        return format!("{sign}{}µs", trim(total / 1_000, total % 1_000, 3));
    }
    if total < 1_000_000_000 {
        return format!("{sign}{}ms", trim(total / 1_000_000, total % 1_000_000, 6));
    }
    let seconds = total / 1_000_000_000;
    let (hours, minutes, secs) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let secs = trim(secs, total % 1_000_000_000, 9);
    match (hours, minutes) {
        (0, 0) => format!("{sign}{secs}s"),
        (0, m) => format!("{sign}{m}m{secs}s"),
        (h, m) => format!("{sign}{h}h{m}m{secs}s"),
    }
}

/// A cursor over protobuf wire data.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn varint(&mut self) -> ApiResult<u64> {
        let mut value = 0u64;
        for (index, byte) in self.0.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                self.0 = &self.0[index + 1..];
                return Ok(value);
            }
        }
        Err(malformed("truncated or overlong varint"))
    }

    /// The next field's number and wire type, or None at the end.
    fn key(&mut self) -> ApiResult<Option<(u32, u8)>> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let tag = u32::try_from(key >> 3).map_err(|_| malformed("field number out of range"))?;
        Ok(Some((tag, (key & 7) as u8)))
    }

    fn bytes(&mut self) -> ApiResult<&'a [u8]> {
        let length = usize::try_from(self.varint()?).map_err(|_| malformed("length out of range"))?;
        if length > self.0.len() {
            return Err(malformed("a length-delimited field runs past the end of the message"));
        }
        let (head, tail) = self.0.split_at(length);
        self.0 = tail;
        Ok(head)
    }

    fn string(&mut self) -> ApiResult<String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| malformed("a string field is not valid UTF-8"))
    }

    fn fixed<const N: usize>(&mut self) -> ApiResult<[u8; N]> {
        if self.0.len() < N {
            return Err(malformed("truncated fixed-width field"));
        }
        let (head, tail) = self.0.split_at(N);
        self.0 = tail;
        Ok(head.try_into().expect("split at N"))
    }

    fn skip(&mut self, wire: u8) -> ApiResult<()> {
        match wire {
            0 => self.varint().map(drop),
            1 => self.fixed::<8>().map(drop),
            2 => self.bytes().map(drop),
            5 => self.fixed::<4>().map(drop),
            other => Err(malformed(format!("unsupported wire type {other}"))),
        }
    }
}

#[cfg(test)]
#[path = "protobuf_tests.rs"]
mod tests;
