//! The comparison of two objects into the fields an update added or changed and the fields it
//! removed (structured-merge-diff's `typed.Comparison`: Added ∪ Modified, and Removed). Both
//! objects are walked together one level at a time, and subtrees whose values are equal are
//! skipped without building their field sets, so that a change to a few fields of a large
//! object costs little more than comparing the two values. Nodes the level-by-level walk
//! cannot follow exactly (a list naming two items alike, or one whose items a FieldsV1 element
//! does not find by its rendering) are compared on their full field sets instead.

use super::field_set::child_value;
use super::managed_fields::{
    FieldSet, ListKind, NodeKind, field_element, is_exact_scalar, list_kind, walked_object_members,
};
use crate::openapi::{SchemaId, Schemas};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

impl FieldSet {
    /// What changed from `old` to `new`: the members added or whose value changed, and the
    /// members removed (`typed.Comparison`'s Added ∪ Modified, and Removed).
    pub fn compare(schemas: &Schemas, root: Option<SchemaId>, old: &Value, new: &Value) -> (FieldSet, FieldSet) {
        let node = |value| Node { kind: NodeKind::Object, schema: root, value };
        compare_values(schemas, node(old), node(new), None)
    }

    /// [`FieldSet::compare`] looked at only under the nodes of `within`: every member path of
    /// `within` is in the result exactly when it is in `compare`'s, as are their ancestors,
    /// and subtrees `within` has nothing in are not walked. Apply asks only about the fields
    /// other managers own.
    pub fn compare_within(
        schemas: &Schemas,
        root: Option<SchemaId>,
        old: &Value,
        new: &Value,
        within: &FieldSet,
    ) -> (FieldSet, FieldSet) {
        let node = |value| Node { kind: NodeKind::Object, schema: root, value };
        compare_values(schemas, node(old), node(new), Some(within))
    }
}

/// A node of an object's field set: what it stands for, its schema and its value.
#[derive(Clone, Copy)]
struct Node<'a> {
    kind: NodeKind,
    schema: Option<SchemaId>,
    value: &'a Value,
}

impl Node<'_> {
    fn field_set(self, schemas: &Schemas) -> FieldSet {
        self.kind.field_set(schemas, self.schema, self.value)
    }
}

/// One node's field set one level deep: whether it is a member, and its children.
struct Level<'a> {
    own: bool,
    children: BTreeMap<String, Node<'a>>,
    /// Whether the children's values are the ones a FieldsV1 lookup finds under the node's
    /// value (no element names two items, and every item renders to its element exactly).
    exact: bool,
}

impl<'a> Level<'a> {
    fn of(schemas: &Schemas, node: Node<'a>) -> Level<'a> {
        let mut children = BTreeMap::new();
        let mut repeated = false;
        let own = node.kind.visit_children(schemas, node.schema, node.value, |element, kind, schema, value| {
            repeated |= children.insert(element, Node { kind, schema, value }).is_some();
        });
        let exact = !repeated && renders_items_exactly(schemas, node);
        Level { own: node.kind.is_member(own, children.is_empty()), children, exact }
    }
}

/// Whether the items of a list node, if it is one, are found by their FieldsV1 elements: list-map
/// items with every key field a string, integer or boolean, set members that are such scalars.
fn renders_items_exactly(schemas: &Schemas, node: Node<'_>) -> bool {
    let (Some(list), Value::Array(items)) = (node.schema, node.value) else { return true };
    if !matches!(node.kind, NodeKind::Field | NodeKind::ListMapItem) || items.is_empty() {
        return true;
    }
    match list_kind(schemas, list) {
        ListKind::Map(keys) => keys.keys_items_exactly(items),
        ListKind::Set => items.iter().all(is_exact_scalar),
        ListKind::Atomic => true,
    }
}

/// `(changed, removed)` between two nodes at the same path, as [`compare_nodes`] finds them on
/// their full field sets; with `within`, only under its children (see
/// [`FieldSet::compare_within`]).
fn compare_values(schemas: &Schemas, old: Node<'_>, new: Node<'_>, within: Option<&FieldSet>) -> (FieldSet, FieldSet) {
    // Equal values have equal field sets, and the same values under each member: nothing
    // under them is added, changed or removed. Whole objects (compared only when they differ)
    // and metadata (with managedFields, untracked and often half the object) are looked at
    // field by field instead.
    if matches!(old.kind, NodeKind::Field | NodeKind::ListMapItem | NodeKind::SetMember) && old.value == new.value {
        return (FieldSet::default(), FieldSet::default());
    }
    if let Some(compared) = compare_objects(schemas, old, new, within) {
        return compared;
    }
    let (old_level, new_level) = (Level::of(schemas, old), Level::of(schemas, new));
    if !old_level.exact || !new_level.exact {
        let (old_set, new_set) = (old.field_set(schemas), new.field_set(schemas));
        return compare_nodes(schemas, old.schema, old_set, new_set, Some(old.value), Some(new.value));
    }
    let leaf = old_level.children.is_empty() && new_level.children.is_empty();
    let mut diff = Diff::new(old_level.own, new_level.own, leaf);
    walk_sorted_union(old_level.children, new_level.children, |element, pair| {
        let Some(within) = looked_into(within, &element) else { return };
        match pair {
            Paired::Old(node) => {
                diff.removed.children.insert(element, node.field_set(schemas));
            }
            Paired::New(node) => {
                diff.changed.children.insert(element, node.field_set(schemas));
            }
            Paired::Both(o, n) => diff.add(element, compare_values(schemas, o, n, within)),
        }
    });
    diff.into_pair()
}

/// Whether the child at `element` is looked into, and if so what to look into under it: all of
/// it without `within`, else what `within` has under it (nothing if `within` lacks it).
fn looked_into<'w>(within: Option<&'w FieldSet>, element: &str) -> Option<Option<&'w FieldSet>> {
    match within {
        None => Some(None),
        Some(within) => within.children.get(element).map(Some),
    }
}

/// [`compare_values`] of two walked objects whose fields are their children, field by field:
/// only the fields whose values differ are looked into. `None` for other nodes.
fn compare_objects(
    schemas: &Schemas,
    old: Node<'_>,
    new: Node<'_>,
    within: Option<&FieldSet>,
) -> Option<(FieldSet, FieldSet)> {
    let (Value::Object(old_fields), Value::Object(new_fields)) = (old.value, new.value) else { return None };
    if !matches!(old.kind, NodeKind::Field | NodeKind::ListMapItem) {
        return None;
    }
    let old_own = old.kind.is_member(walked_object_members(schemas, old.schema, old_fields)?, false);
    let new_own = new.kind.is_member(walked_object_members(schemas, new.schema, new_fields)?, false);
    let mut diff = Diff::new(old_own, new_own, false);
    let field = |key: &str, value| Node {
        kind: NodeKind::Field,
        schema: old.schema.and_then(|s| schemas.field(s, key)),
        value,
    };
    for (key, old_value) in old_fields {
        let new_value = new_fields.get(key);
        if new_value == Some(old_value) {
            continue;
        }
        let element = field_element(key);
        let Some(within) = looked_into(within, &element) else { continue };
        match new_value {
            Some(new_value) => {
                let compared = compare_values(schemas, field(key, old_value), field(key, new_value), within);
                diff.add(element, compared);
            }
            None => {
                diff.removed.children.insert(element, field(key, old_value).field_set(schemas));
            }
        }
    }
    for (key, new_value) in new_fields.iter().filter(|(key, _)| !old_fields.contains_key(*key)) {
        let element = field_element(key);
        if looked_into(within, &element).is_some() {
            diff.changed.children.insert(element, field(key, new_value).field_set(schemas));
        }
    }
    Some(diff.into_pair())
}

/// `(changed, removed)` under one node of both sets, whose values are `old_value` and
/// `new_value` and whose schema is `schema`. The sets are taken apart: subtrees only one side
/// has move into the result whole.
fn compare_nodes(
    schemas: &Schemas,
    schema: Option<SchemaId>,
    old: FieldSet,
    new: FieldSet,
    old_value: Option<&Value>,
    new_value: Option<&Value>,
) -> (FieldSet, FieldSet) {
    let leaf = old.children.is_empty() && new.children.is_empty();
    // A leaf is a changed member only if its value differs.
    let mut diff = if leaf && old_value == new_value { Diff::default() } else { Diff::new(old.own, new.own, leaf) };
    let old_children = ChildValues::of(schemas, schema, old_value);
    let new_children = ChildValues::of(schemas, schema, new_value);
    walk_sorted_union(old.children, new.children, |key, pair| match pair {
        Paired::Old(subtree) => {
            diff.removed.children.insert(key, subtree);
        }
        Paired::New(subtree) => {
            diff.changed.children.insert(key, subtree);
        }
        Paired::Both(o, n) => {
            let child_schema = schema.and_then(|s| match key.strip_prefix("f:") {
                Some(field) => schemas.field(s, field),
                None => schemas.items(s),
            });
            let (old_child, new_child) = (old_children.get(&key), new_children.get(&key));
            diff.add(key, compare_nodes(schemas, child_schema, o, n, old_child, new_child));
        }
    });
    diff.into_pair()
}

/// What changed under one node, being built: the members added or changed, and those removed.
#[derive(Default)]
struct Diff {
    changed: FieldSet,
    removed: FieldSet,
}

impl Diff {
    /// A node that is a member on the old side if `old_own`, on the new side if `new_own`: a
    /// leaf member on both sides counts as changed (its value is known to differ), otherwise
    /// only being a member on one side counts.
    fn new(old_own: bool, new_own: bool, leaf: bool) -> Diff {
        let (changed, removed) =
            if leaf { (old_own && new_own, false) } else { (new_own && !old_own, old_own && !new_own) };
        Diff {
            changed: FieldSet { own: changed, ..FieldSet::default() },
            removed: FieldSet { own: removed, ..FieldSet::default() },
        }
    }

    /// Adds a child's `(changed, removed)` under `element`, leaving out empty sides.
    fn add(&mut self, element: String, (changed, removed): (FieldSet, FieldSet)) {
        if !changed.is_empty() {
            self.changed.children.insert(element.clone(), changed);
        }
        if !removed.is_empty() {
            self.removed.children.insert(element, removed);
        }
    }

    fn into_pair(self) -> (FieldSet, FieldSet) {
        (self.changed, self.removed)
    }
}

/// One key of two maps' sorted union: with the value of the old side, the new side, or both.
enum Paired<A> {
    Old(A),
    New(A),
    Both(A, A),
}

/// Walks two maps side by side in key order, calling `visit` once per key of their union.
fn walk_sorted_union<A>(old: BTreeMap<String, A>, new: BTreeMap<String, A>, mut visit: impl FnMut(String, Paired<A>)) {
    let (mut old, mut new) = (old.into_iter().peekable(), new.into_iter().peekable());
    loop {
        let order = match (old.peek(), new.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((o, _)), Some((n, _))) => o.cmp(n),
        };
        let (key, pair) = match order {
            Ordering::Less => old.next().map(|(key, value)| (key, Paired::Old(value))).expect("peeked"),
            Ordering::Greater => new.next().map(|(key, value)| (key, Paired::New(value))).expect("peeked"),
            Ordering::Equal => {
                let ((key, o), (_, n)) = (old.next().expect("peeked"), new.next().expect("peeked"));
                (key, Paired::Both(o, n))
            }
        };
        visit(key, pair);
    }
}

/// Finds the values under one node by FieldsV1 path element, as [`child_value`] does. A list
/// whose items all render exactly (list-map items with every key field a string, integer or
/// boolean; set members that are such scalars) is indexed once by element instead of parsing
/// each element and scanning the list for it. An item found in the index is the one
/// `child_value` finds: it has the element's field values, and no earlier item can (it would
/// render to the same element). Elements the index lacks are looked up as `child_value` does.
enum ChildValues<'a> {
    Indexed { list: &'a Value, by_element: HashMap<String, &'a Value> },
    Scanned(Option<&'a Value>),
}

impl<'a> ChildValues<'a> {
    fn of(schemas: &Schemas, schema: Option<SchemaId>, value: Option<&'a Value>) -> ChildValues<'a> {
        let (Some(list_schema), Some(list @ Value::Array(items))) = (schema, value) else {
            return ChildValues::Scanned(value);
        };
        let index = |element: &dyn Fn(&Value) -> String| {
            let mut by_element = HashMap::with_capacity(items.len());
            for item in items {
                by_element.entry(element(item)).or_insert(item);
            }
            ChildValues::Indexed { list, by_element }
        };
        match list_kind(schemas, list_schema) {
            ListKind::Map(keys) if keys.keys_items_exactly(items) => index(&|item| keys.item_key(item)),
            ListKind::Set if items.iter().all(is_exact_scalar) => index(&|item| format!("v:{item}")),
            _ => ChildValues::Scanned(value),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        match self {
            ChildValues::Indexed { list, by_element } => {
                by_element.get(key).copied().or_else(|| child_value(list, key))
            }
            ChildValues::Scanned(value) => value.and_then(|v| child_value(v, key)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::schema;
    use serde_json::json;

    #[test]
    fn compare_reports_changed_and_removed_members() {
        let schemas = schema();
        let root = schemas.id("io.k8s.api.apps.v1.Deployment");
        let old = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 1, "template": {"spec": {
            "containers": [{"name": "c", "image": "x"}, {"name": "d", "image": "y"}]}}}});
        let new = json!({"metadata": {"labels": {"a": "1", "c": "3"}}, "spec": {"replicas": 2, "template": {"spec": {
            "containers": [{"name": "c", "image": "z"}]}}}});
        let (changed, removed) = FieldSet::compare(schemas, root, &old, &new);
        assert_eq!(
            changed.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:c": {}}}, "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {
                "f:containers": {"k:{\"name\":\"c\"}": {"f:image": {}}}}}}})
        );
        assert_eq!(
            removed.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:b": {}}}, "f:spec": {"f:template": {"f:spec": {
                "f:containers": {"k:{\"name\":\"d\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}})
        );
    }

    #[test]
    fn indexed_lists_find_the_items_child_value_finds() {
        let schemas = schema();
        let pod_spec = schemas.id("io.k8s.api.core.v1.PodSpec");
        let containers = schemas.field(pod_spec.unwrap(), "containers");
        let ports = schemas.items(containers.unwrap()).and_then(|c| schemas.field(c, "ports"));
        let exact = json!([{"containerPort": 80, "protocol": "TCP", "name": "a"}, {"containerPort": 80, "protocol": "TCP", "name": "b"}, {"containerPort": 81, "protocol": "UDP"}]);
        let defaulted =
            json!([{"containerPort": 80}, {"containerPort": 80, "protocol": "TCP"}, {"containerPort": 1.5}]);
        let elements = [
            "k:{\"containerPort\":80,\"protocol\":\"TCP\"}",
            "k:{\"containerPort\":81,\"protocol\":\"UDP\"}",
            "k:{\"containerPort\":80}",
            "k:{\"containerPort\":82,\"protocol\":\"TCP\"}",
        ];
        for list in [&exact, &defaulted] {
            let lookup = ChildValues::of(schemas, ports, Some(list));
            assert_eq!(matches!(lookup, ChildValues::Indexed { .. }), list == &exact);
            for element in elements {
                assert!(
                    lookup.get(element).map(std::ptr::from_ref) == child_value(list, element).map(std::ptr::from_ref)
                );
            }
        }
    }

    #[test]
    fn the_level_walk_finds_what_the_full_sets_find() {
        let schemas = schema();
        let root = schemas.id("io.k8s.api.apps.v1.Deployment");
        let containers = |items: Value| {
            json!({"metadata": {"name": "d", "finalizers": ["a", "b"]},
            "spec": {"replicas": 1, "template": {"spec": {"containers": items}}}})
        };
        let pairs = [
            (containers(json!([{"name": "a", "image": "x"}])), containers(json!([{"name": "a", "image": "y"}]))),
            (
                containers(json!([{"name": "a", "ports": [{"containerPort": 80}]}, {"name": "a", "image": "z"}])),
                containers(json!([{"name": "a", "ports": [{"containerPort": 80, "protocol": "TCP"}]}])),
            ),
            (
                containers(json!([{"name": "a", "args": ["1"]}])),
                json!({"metadata": {"labels": {"x": "y"}}, "spec": []}),
            ),
            (json!({"metadata": {"name": "d"}, "spec": {"paused": true}}), containers(json!([{"name": 1.5}]))),
            (
                json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"selector": {"matchLabels": {"a": "1"}},
                    "strategy": {"type": "Recreate"}, "template": {"metadata": {"labels": {}}}}}),
                json!({"metadata": {"labels": {"a": "1", "c": "3"}}, "spec": {"selector": {"matchLabels": {"b": "1"}},
                    "strategy": {"rollingUpdate": {"maxSurge": 1}}, "template": {"metadata": {"labels": {"x": "y"}}}}}),
            ),
        ];
        for (old, new) in &pairs {
            for (from, to) in [(old, new), (new, old)] {
                let full = compare_nodes(
                    schemas,
                    root,
                    FieldSet::of_object(schemas, root, from),
                    FieldSet::of_object(schemas, root, to),
                    Some(from),
                    Some(to),
                );
                assert_eq!(FieldSet::compare(schemas, root, from, to), full, "{from} → {to}");
            }
        }
    }

    #[test]
    fn a_comparison_within_a_set_finds_what_the_full_one_finds_there() {
        let schemas = schema();
        let root = schemas.id("io.k8s.api.apps.v1.Deployment");
        let old = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 1, "paused": true,
            "template": {"spec": {"containers": [{"name": "c", "image": "x"}, {"name": "d", "image": "y"}]}}}});
        let new = json!({"metadata": {"labels": {"a": "2", "c": "3"}}, "spec": {"replicas": 2, "minReadySeconds": 3,
            "template": {"spec": {"containers": [{"name": "c", "image": "z"}, {"name": "e", "image": "y"}]}}}});
        let withins = [
            json!({"f:spec": {"f:replicas": {}}}),
            json!({"f:metadata": {"f:labels": {"f:a": {}, "f:b": {}, "f:c": {}}}}),
            json!({"f:spec": {"f:paused": {}, "f:minReadySeconds": {}, "f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"d\"}": {".": {}, "f:image": {}}, "k:{\"name\":\"e\"}": {"f:name": {}}}}}}}),
            json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {"f:image": {}}}}}}}),
            json!({"f:status": {"f:replicas": {}}}),
        ];
        for within in withins.iter().map(FieldSet::from_fields_v1) {
            for (from, to) in [(&old, &new), (&new, &old)] {
                let (full_from, full_to) =
                    (FieldSet::of_object(schemas, root, from), FieldSet::of_object(schemas, root, to));
                let (changed, removed) = compare_nodes(schemas, root, full_from, full_to, Some(from), Some(to));
                let (changed_within, removed_within) = FieldSet::compare_within(schemas, root, from, to, &within);
                assert_eq!(changed_within.intersection(&within), changed.intersection(&within), "{within:?}");
                assert_eq!(removed_within.intersection(&within), removed.intersection(&within), "{within:?}");
                assert!(
                    !changed.intersection(&within).is_empty()
                        || !removed.intersection(&within).is_empty()
                        || within.has(&["f:status", "f:replicas"])
                );
            }
        }
    }
}
