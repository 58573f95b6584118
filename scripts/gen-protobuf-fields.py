#!/usr/bin/env python3
"""Distils Kubernetes' protobuf wire format into openapi/protobuf-fields.json.gz.

client-go (and so kubectl and helm) sends built-in objects as protobuf. kubetwin decodes
those bodies into JSON with a table of, for each message, its field numbers, JSON names and
value kinds. The field numbers come from the kube-rs project's k8s-pb crate (prost bindings
generated from Kubernetes' generated.proto files); the JSON names from the OpenAPI spec.

Usage: scripts/gen-protobuf-fields.py [PATH-TO-k8s-pb-SOURCE]
(default: the k8s-pb 0.9.0 sources cargo keeps under ~/.cargo/registry; fetch them with
`cargo info k8s-pb@0.9.0`).
"""
import glob, gzip, json, os, re, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def source_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    found = glob.glob(os.path.expanduser("~/.cargo/registry/src/*/k8s-pb-0.9.0/src"))
    if not found:
        sys.exit("k8s-pb 0.9.0 sources not found; run `cargo info k8s-pb@0.9.0` first")
    return found[0]


def definition_prefix(module):
    return "io.k8s." + ".".join(part.replace("_", "-") for part in module)


def normal(name):
    return re.sub(r"[-_$]", "", name).lower()


def split_type(text, start):
    """The Rust type starting at text[start], up to the comma that ends the field."""
    depth, i = 0, start
    while i < len(text):
        c = text[i]
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif c == "," and depth == 0:
            break
        i += 1
    return re.sub(r"\s+", "", text[start:i])


def canonical(definitions):
    """Maps a definition name as prost spells it (PodDnsConfig) to the spec's (PodDNSConfig)."""
    by_lower = {name.lower(): name for name in definitions}
    return lambda name: by_lower.get(name.lower(), name)


def resolve(module, rust_type):
    """The definition name of a message type written as a Rust path inside `module`."""
    inner = rust_type
    for wrapper in ("::core::option::Option<", "::prost::alloc::vec::Vec<", "::prost::alloc::boxed::Box<"):
        while inner.startswith(wrapper):
            inner = inner[len(wrapper):-1]
    if "BTreeMap<" in inner:
        inner = inner[inner.index("BTreeMap<") + len("BTreeMap<"):-1]
        inner = inner.split(",", 1)[1].rstrip(",")
        for wrapper in ("::core::option::Option<", "::prost::alloc::boxed::Box<"):
            while inner.startswith(wrapper):
                inner = inner[len(wrapper):-1]
    parts = inner.rstrip(",").split("::")
    path = list(module)
    while parts and parts[0] == "super":
        parts.pop(0)
        path.pop()
    path.extend(parts[:-1])
    return definition_prefix(path) + "." + parts[-1]


def main():
    src = source_dir()
    with gzip.open(os.path.join(ROOT, "openapi", "kubernetes-v1.36-swagger.json.gz")) as f:
        definitions = json.load(f)["definitions"]
    spelled = canonical(definitions)
    table = {}
    for path in sorted(glob.glob(os.path.join(src, "**", "mod.rs"), recursive=True)):
        module = os.path.relpath(os.path.dirname(path), src).split(os.sep)
        text = open(path).read()
        for struct in re.finditer(r"pub struct (\w+) \{(.*?)\n\}", text, re.S):
            name, body = struct.group(1), struct.group(2)
            definition = spelled(definition_prefix(module) + "." + name)
            properties = definitions.get(definition, {}).get("properties", {})
            by_normal = {normal(p): p for p in properties}
            fields = []
            for field in re.finditer(r"#\[prost\(([^\]]*)\)\]\s*pub (?:r#)?(\w+):", body):
                attrs, rust_name = field.group(1), field.group(2)
                tag = int(re.search(r'tag = "(\d+)"', attrs).group(1))
                kind = attrs.split(",")[0].split("=")[0].strip()
                camel = re.sub(r"_(\w)", lambda m: m.group(1).upper(), rust_name)
                json_name = by_normal.get(normal(rust_name), camel)
                rust_type = split_type(body, field.end())
                entry = {"tag": tag, "name": json_name}
                if kind == "btree_map":
                    value = re.search(r'btree_map = "\w+, (\w+)"', attrs).group(1)
                    entry["map"] = value
                    if value == "message":
                        entry["type"] = spelled(resolve(module, rust_type))
                else:
                    entry["kind"] = kind
                    if "repeated" in attrs:
                        entry["repeated"] = True
                    if kind == "message":
                        entry["type"] = spelled(resolve(module, rust_type))
                        # An embedded Go struct (`json:",inline"`) is a nested message on the
                        # wire but its fields sit in the parent in JSON.
                        if properties and json_name not in properties and "repeated" not in entry:
                            entry["inline"] = "maybe"
                fields.append(entry)
            table[definition] = fields
    # An inline candidate is inlined when all of its own fields are the parent's properties
    # (inline-only types such as VolumeSource have no definition of their own in the spec).
    for definition, fields in table.items():
        properties = definitions.get(definition, {}).get("properties", {})
        for entry in fields:
            if entry.get("inline") == "maybe":
                embedded = {normal(f["name"]) for f in table.get(entry["type"], [])}
                if embedded and embedded <= {normal(p) for p in properties}:
                    entry["inline"] = True
                else:
                    del entry["inline"]
    out = os.path.join(ROOT, "openapi", "protobuf-fields.json.gz")
    with gzip.GzipFile(out, "wb", mtime=0) as f:
        f.write(json.dumps(table, separators=(",", ":"), sort_keys=True).encode())
    print(f"{len(table)} messages -> {out}")


if __name__ == "__main__":
    main()
