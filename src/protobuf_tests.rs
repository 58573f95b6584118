//! Protobuf bodies built field by field, decoded into the JSON kube-apiserver would store.

use super::*;

fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn delimited(tag: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = varint(u64::from(tag) << 3 | 2);
    out.extend(varint(payload.len() as u64));
    out.extend_from_slice(payload);
    out
}

fn number(tag: u32, value: u64) -> Vec<u8> {
    let mut out = varint(u64::from(tag) << 3);
    out.extend(varint(value));
    out
}

fn entry(key: &str, value: &[u8]) -> Vec<u8> {
    [delimited(1, key.as_bytes()), delimited(2, value)].concat()
}

fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let type_meta = [delimited(1, api_version.as_bytes()), delimited(2, kind.as_bytes())].concat();
    [MAGIC.to_vec(), delimited(1, &type_meta), delimited(2, raw), delimited(3, b""), delimited(4, b"")].concat()
}

/// ObjectMeta as Go writes it: every non-pointer string, even empty ones.
fn object_meta(name: &str) -> Vec<u8> {
    [
        delimited(1, name.as_bytes()),
        delimited(2, b""),
        delimited(3, b""),
        delimited(8, &[]),
        delimited(11, &entry("app", b"web")),
    ]
    .concat()
}

#[test]
fn a_configmap_decodes_with_envelope_type_and_without_empty_strings() {
    let raw = [
        delimited(1, &object_meta("settings")),
        delimited(2, &entry("mode", b"fast")),
        delimited(2, &entry("level", b"3")),
    ]
    .concat();
    let object = decode_object(&envelope("v1", "ConfigMap", &raw), "io.k8s.api.core.v1.ConfigMap").unwrap();
    assert_eq!(
        object,
        json!({"kind": "ConfigMap", "apiVersion": "v1",
               "metadata": {"name": "settings", "labels": {"app": "web"}},
               "data": {"mode": "fast", "level": "3"}})
    );
    assert_eq!(object.as_object().unwrap().keys().take(2).collect::<Vec<_>>(), ["kind", "apiVersion"]);
}

#[test]
fn secret_bytes_become_base64_and_zero_replicas_survive() {
    let secret = [delimited(1, &object_meta("s")), delimited(2, &entry("password", b"hunter2"))].concat();
    let object = decode_object(&envelope("v1", "Secret", &secret), "io.k8s.api.core.v1.Secret").unwrap();
    assert_eq!(object["data"]["password"], "aHVudGVyMg==");

    let spec = [number(1, 0), delimited(4, &[])].concat();
    let deployment = [delimited(1, &object_meta("web")), delimited(2, &spec)].concat();
    let object =
        decode_object(&envelope("apps/v1", "Deployment", &deployment), "io.k8s.api.apps.v1.Deployment").unwrap();
    assert_eq!(object["spec"], json!({"replicas": 0, "strategy": {}}));
}

#[test]
fn special_types_take_their_json_forms() {
    let meta = [delimited(1, b"p"), delimited(8, &[number(1, 1_700_000_000), number(2, 0)].concat())].concat();
    let port =
        [delimited(1, b"http"), number(3, 80), delimited(4, &[number(1, 1), delimited(3, b"web")].concat())].concat();
    let service = [delimited(1, &meta), delimited(2, &delimited(1, &port))].concat();
    let object = decode_object(&envelope("v1", "Service", &service), "io.k8s.api.core.v1.Service").unwrap();
    assert_eq!(object["metadata"]["creationTimestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(object["spec"]["ports"], json!([{"name": "http", "port": 80, "targetPort": "web"}]));

    let limits = entry("memory", &delimited(1, b"128Mi"));
    let container = [delimited(1, b"c"), delimited(2, b"nginx"), delimited(8, &delimited(1, &limits))].concat();
    let empty_dir = delimited(2, &[]);
    let volume = [delimited(1, b"scratch"), delimited(2, &empty_dir)].concat();
    let pod_spec = [delimited(1, &volume), delimited(2, &container)].concat();
    let pod = [delimited(1, &delimited(1, b"p")), delimited(2, &pod_spec)].concat();
    let object = decode_object(&envelope("v1", "Pod", &pod), "io.k8s.api.core.v1.Pod").unwrap();
    assert_eq!(object["spec"]["containers"][0]["resources"], json!({"limits": {"memory": "128Mi"}}));
    assert_eq!(object["spec"]["volumes"], json!([{"name": "scratch", "emptyDir": {}}]), "VolumeSource is inlined");
}

#[test]
fn delete_options_decode_preconditions_and_policy() {
    let preconditions = delimited(1, b"uid-1");
    let raw = [number(1, 0), delimited(2, &preconditions), delimited(4, b"Foreground")].concat();
    let options = decode_delete_options(&envelope("meta.k8s.io/v1", "DeleteOptions", &raw)).unwrap();
    assert_eq!(
        options,
        json!({"gracePeriodSeconds": 0, "preconditions": {"uid": "uid-1"}, "propagationPolicy": "Foreground"})
    );
}

#[test]
fn malformed_bodies_are_bad_requests() {
    for body in
        [&b"{\"kind\":\"Pod\"}"[..], b"k8s\0\x0a\x05ab", b"k8s\0\x12\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"]
    {
        let error = decode_object(body, "io.k8s.api.core.v1.Pod").unwrap_err();
        assert_eq!(error.code(), 400, "{body:?}");
        assert!(error.message.starts_with("the object provided is unrecognized: protobuf: "), "{}", error.message);
    }
}

#[test]
fn go_durations_read_as_go_prints_them() {
    assert_eq!(go_duration(0), "0s");
    assert_eq!(go_duration(1_500_000), "1.5ms");
    assert_eq!(go_duration(3_723_500_000_000), "1h2m3.5s");
    assert_eq!(go_duration(-90_000_000_000), "-1m30s");
}
