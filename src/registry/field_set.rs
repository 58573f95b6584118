//! Operations on [`FieldSet`]s, as structured-merge-diff's `fieldpath.Set` has them: parsing
//! FieldsV1 back into a set, union, difference and intersection (path by path, not
//! recursively), `EnsureNamedFieldsAreMembers`, the value at one path element, and the
//! `.spec.containers[name="x"]` rendering of paths that conflict messages use.

use super::managed_fields::{FieldSet, NodeKind};
use crate::openapi::{SchemaId, Schemas};
use serde_json::Value;
use std::collections::BTreeMap;

impl FieldSet {
    /// Parses FieldsV1 JSON: `{}` is a member leaf, `.` marks a node with children as a member.
    pub fn from_fields_v1(fields: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        let Some(map) = fields.as_object() else { return set };
        if map.is_empty() {
            set.own = true;
            return set;
        }
        for (key, child) in map {
            if key == "." {
                set.own = true;
            } else {
                set.children.insert(key.clone(), FieldSet::from_fields_v1(child));
            }
        }
        set
    }

    /// Whether [`FieldSet::from_fields_v1`] parses `fields` to this set, found without
    /// building that set.
    pub fn is_parsed_from(&self, fields: &Value) -> bool {
        let Some(map) = fields.as_object() else { return self.is_empty() };
        if map.is_empty() {
            return self.own && self.children.is_empty();
        }
        let own = map.contains_key(".");
        self.own == own
            && self.children.len() == map.len() - usize::from(own)
            && map
                .iter()
                .filter(|(key, _)| *key != ".")
                .all(|(key, child)| self.children.get(key).is_some_and(|mine| mine.is_parsed_from(child)))
    }

    /// Whether some member of this set is a member of `fields` (FieldsV1), as a non-empty
    /// intersection with [`FieldSet::from_fields_v1`] would say, found without parsing `fields`.
    pub fn meets_fields_v1(&self, fields: &Value) -> bool {
        let Some(map) = fields.as_object() else { return false };
        (self.own && (map.is_empty() || map.contains_key(".")))
            || self.children.iter().any(|(key, child)| {
                key != "." && map.get(key).is_some_and(|child_fields| child.meets_fields_v1(child_fields))
            })
    }

    /// A member leaf.
    pub fn leaf() -> FieldSet {
        FieldSet { own: true, children: BTreeMap::new() }
    }

    /// The child at one FieldsV1 path element, if any.
    pub fn child(&self, key: &str) -> Option<&FieldSet> {
        self.children.get(key)
    }

    /// Whether `path` (FieldsV1 elements) is a member.
    pub fn has(&self, path: &[&str]) -> bool {
        match path.split_first() {
            None => self.own,
            Some((first, rest)) => self.children.get(*first).is_some_and(|c| c.has(rest)),
        }
    }

    /// Every path that is a member of either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.own |= other.own;
        for (key, child) in &other.children {
            let merged = match out.children.get(key) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(key.clone(), merged);
        }
        out
    }

    /// The members of `self` that are not members of `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet { own: self.own && !other.own, children: BTreeMap::new() };
        for (key, child) in &self.children {
            let rest = match other.children.get(key) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                out.children.insert(key.clone(), rest);
            }
        }
        out
    }

    /// The members of both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet { own: self.own && other.own, children: BTreeMap::new() };
        for (key, child) in &self.children {
            if let Some(theirs) = other.children.get(key) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    out.children.insert(key.clone(), both);
                }
            }
        }
        out
    }

    /// `EnsureNamedFieldsAreMembers`: every `f:` node becomes a member too, so that a struct
    /// or map nobody owns anything under can be removed as a whole.
    pub fn with_named_fields_as_members(&self) -> FieldSet {
        let mut out = FieldSet { own: self.own, children: BTreeMap::new() };
        for (key, child) in &self.children {
            let mut child = child.with_named_fields_as_members();
            if key.starts_with("f:") {
                child.own = true;
            }
            out.children.insert(key.clone(), child);
        }
        out
    }

    /// The set as an Apply entry records it: maps and structs are never members themselves
    /// (only their leaves), list elements are.
    pub fn without_map_members(mut self) -> FieldSet {
        self.drop_map_members();
        self
    }

    fn drop_map_members(&mut self) {
        for (key, child) in &mut self.children {
            child.drop_map_members();
            if key.starts_with("f:") && !child.children.is_empty() {
                child.own = false;
            }
        }
    }

    /// Every member path, members of a node before its children's (the order of
    /// `fieldpath.Set.Iterate`).
    pub fn member_paths(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        for (key, child) in &self.children {
            if child.own {
                let mut path = prefix.clone();
                path.push(key.clone());
                out.push(path);
            }
        }
        for (key, child) in &self.children {
            if !child.children.is_empty() {
                prefix.push(key.clone());
                child.collect_paths(prefix, out);
                prefix.pop();
            }
        }
    }
}

/// Whether `fields` (FieldsV1) is what the apply of `object` records, the encoding of
/// `FieldSet::of_object(schemas, root, object).without_map_members()`, found without building
/// that set: a re-apply of the same fields, which every reconcile sends, keeps its stored
/// FieldsV1. `false` also when a list has two items with one element (the set merges them);
/// the caller then builds the set.
pub fn records_applied_fields(schemas: &Schemas, root: Option<SchemaId>, object: &Value, fields: &Value) -> bool {
    encodes_node(schemas, NodeKind::Object, root, object, false, fields)
}

/// [`records_applied_fields`] for one node of kind `kind`; `named` when its element is an `f:`
/// field, which an apply set has as a member only if it has no children.
fn encodes_node(
    schemas: &Schemas,
    kind: NodeKind,
    schema: Option<SchemaId>,
    value: &Value,
    named: bool,
    fields: &Value,
) -> bool {
    let Some(encoded) = fields.as_object() else { return false };
    let (mut children, mut all_encoded) = (0, true);
    let mut items = Vec::new();
    let visited_own = kind.visit_children(schemas, schema, value, |element, child_kind, child_schema, child| {
        children += 1;
        all_encoded = all_encoded
            && encoded.get(&element).is_some_and(|child_fields| {
                let named = element.starts_with("f:");
                encodes_node(schemas, child_kind, child_schema, child, named, child_fields)
            });
        if matches!(child_kind, NodeKind::ListMapItem | NodeKind::SetMember) {
            items.push(element);
        }
    });
    let childless = children == 0;
    let own = kind.is_member(visited_own, childless) && (childless || !named);
    if encoded.is_empty() {
        return own && childless;
    }
    items.sort_unstable();
    let distinct = items.windows(2).all(|pair| pair[0] != pair[1]);
    let dot = encoded.contains_key(".");
    all_encoded && distinct && own == dot && children == encoded.len() - usize::from(dot)
}

/// The value at one FieldsV1 path element under `value`.
pub fn child_value<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    if let Some(field) = key.strip_prefix("f:") {
        return value.get(field);
    }
    let items = value.as_array()?;
    if let Some(keys) = key.strip_prefix("k:") {
        let keys: serde_json::Map<String, Value> = serde_json::from_str(keys).ok()?;
        return items.iter().find(|item| keys.iter().all(|(k, v)| item.get(k) == Some(v)));
    }
    if let Some(member) = key.strip_prefix("v:") {
        let member: Value = serde_json::from_str(member).ok()?;
        return items.iter().find(|item| **item == member);
    }
    let index: usize = key.strip_prefix("i:")?.parse().ok()?;
    items.get(index)
}

/// A path as structured-merge-diff prints it: `.spec.containers[name="nginx"].image`,
/// `.metadata.finalizers[="a/b"]`, `.spec.args[0]`.
pub fn path_string(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(field) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(field);
        } else if let Some(keys) = element.strip_prefix("k:") {
            let keys: serde_json::Map<String, Value> = serde_json::from_str(keys).unwrap_or_default();
            let rendered: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", rendered.join(",")));
        } else if let Some(member) = element.strip_prefix("v:") {
            out.push_str(&format!("[={member}]"));
        } else if let Some(index) = element.strip_prefix("i:") {
            out.push_str(&format!("[{index}]"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(fields: Value) -> FieldSet {
        FieldSet::from_fields_v1(&fields)
    }

    #[test]
    fn fields_v1_round_trips() {
        let fields = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:image": {}, "f:name": {}}}},
        });
        assert_eq!(set(fields.clone()).to_fields_v1(), fields);
        assert!(set(fields.clone()).has(&["f:metadata", "f:labels"]));
        assert!(!set(fields).has(&["f:metadata"]));
    }

    #[test]
    fn union_difference_and_intersection_work_path_by_path() {
        let a = set(json!({"f:spec": {"f:replicas": {}, "f:paused": {}}, "f:data": {".": {}, "f:k": {}}}));
        let b = set(json!({"f:spec": {"f:replicas": {}, "f:minReadySeconds": {}}, "f:data": {"f:k": {}}}));
        assert_eq!(
            a.union(&b).to_fields_v1(),
            json!({"f:spec": {"f:minReadySeconds": {}, "f:paused": {}, "f:replicas": {}}, "f:data": {".": {}, "f:k": {}}})
        );
        assert_eq!(a.difference(&b).to_fields_v1(), json!({"f:spec": {"f:paused": {}}, "f:data": {}}));
        assert_eq!(a.intersection(&b).to_fields_v1(), json!({"f:spec": {"f:replicas": {}}, "f:data": {"f:k": {}}}));
        assert!(a.difference(&a).is_empty());
        assert!(!a.difference(&b).has(&["f:data", "f:k"]));
        assert!(a.difference(&b).has(&["f:data"]), "the map itself stays a member");
    }

    #[test]
    fn meeting_fields_v1_is_a_non_empty_intersection_with_the_parsed_set() {
        let sets = [
            json!({"f:spec": {"f:replicas": {}}}),
            json!({"f:spec": {".": {}, "f:replicas": {}}}),
            json!({"f:spec": {}}),
            json!({"f:data": {".": {}, "f:k": {}}}),
            json!({"f:data": {"f:k": {}}, "f:spec": {"f:paused": {}}}),
            json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {".": {}}}}}}}),
            json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {"f:image": {}}}}}}}),
            json!({}),
        ];
        for a in &sets {
            for b in &sets {
                let meets = set(a.clone()).meets_fields_v1(b);
                assert_eq!(meets, !set(a.clone()).intersection(&set(b.clone())).is_empty(), "{a} / {b}");
            }
        }
        assert!(set(json!({"f:data": {"f:k": {}}})).meets_fields_v1(&json!({"f:data": {"f:k": {}}})));
        assert!(!set(json!({"f:data": {"f:k": {}}})).meets_fields_v1(&json!({"f:data": {".": {}}})));
    }

    #[test]
    fn named_fields_become_members_and_apply_sets_drop_map_members() {
        let a = set(json!({"f:spec": {"f:strategy": {"f:type": {}}}}));
        let named = a.with_named_fields_as_members();
        assert!(named.has(&["f:spec"]) && named.has(&["f:spec", "f:strategy"]));
        let labels = set(json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}}, "f:l": {"k:{\"n\":1}": {".": {}}}}));
        assert_eq!(
            labels.without_map_members().to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:a": {}}}, "f:l": {"k:{\"n\":1}": {}}})
        );
    }

    #[test]
    fn the_recorded_apply_fields_are_recognized_without_building_the_set() {
        let schemas = crate::openapi::schema();
        let root = schemas.id("io.k8s.api.apps.v1.Deployment");
        let deployment = |containers: Value, labels: Value| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": labels},
                "spec": {"replicas": 1, "template": {"spec": {"containers": containers}}}})
        };
        let configs = [
            deployment(json!([{"name": "a", "image": "x", "ports": [{"containerPort": 80}]}]), json!({"app": "d"})),
            deployment(json!([{"name": "a", "image": "y", "ports": [{"containerPort": 80}]}]), json!({"app": "d"})),
            deployment(json!([{"name": "a", "image": "x", "ports": [{"containerPort": 81}]}]), json!({"app": "d"})),
            deployment(json!([{"name": "a", "image": "x"}]), json!({"app": "d"})),
            deployment(json!([{"name": "a", "image": "x"}]), json!({})),
            deployment(json!([{"name": "a", "image": "x"}, {"name": "a", "image": "x"}]), json!({})),
            deployment(json!([{"name": "a", "image": "x"}, {"name": "b", "image": "x"}]), json!({})),
            json!({"metadata": {"name": "d", "finalizers": ["f", "f"]}}),
            json!({"metadata": {"name": "d", "finalizers": ["f", "g"]}}),
            json!({"metadata": {"name": "d", "finalizers": ["f"]}}),
        ];
        for config in &configs {
            for recorded in &configs {
                let fields = FieldSet::of_object(schemas, root, recorded).without_map_members().to_fields_v1();
                let applied = FieldSet::of_object(schemas, root, config).without_map_members();
                let recognized = records_applied_fields(schemas, root, config, &fields);
                let duplicated = config.to_string().matches("\"name\":\"a\"").count() > 1
                    || config.to_string().contains("[\"f\",\"f\"]");
                assert_eq!(recognized, applied.is_parsed_from(&fields) && !duplicated, "{config} / {fields}");
            }
        }
    }

    #[test]
    fn paths_print_as_structured_merge_diff_prints_them() {
        let s = set(json!({"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
            "k:{\"name\":\"nginx\"}": {"f:image": {}}}}}}, "f:metadata": {"f:finalizers": {"v:\"a/b\"": {}}}}));
        let rendered: Vec<String> = s.member_paths().iter().map(|p| path_string(p)).collect();
        assert_eq!(
            rendered,
            [
                ".metadata.finalizers[=\"a/b\"]",
                ".spec.replicas",
                ".spec.template.spec.containers[name=\"nginx\"].image"
            ]
        );
        assert_eq!(
            child_value(&json!([{"name": "a", "x": 1}]), "k:{\"name\":\"a\"}"),
            Some(&json!({"name": "a", "x": 1}))
        );
    }
}
