//! Unit tests of [`super`]: compiling rules into CRD errors, and evaluating them on objects.

use super::*;

fn schema(spec: Json) -> Json {
    json!({"type": "object", "properties": {"spec": spec, "status": {"type": "object", "properties": {
        "phase": {"type": "string"}}, "x-kubernetes-validations": [{"rule": "self.phase != 'Broken'"}]}}})
}

fn crd(spec: Json) -> Json {
    json!({"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": schema(spec)}}]}})
}

fn rendered(errors: &[FieldError]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

fn rules(spec: Json) -> Rules {
    let compiled = crd(spec);
    assert_eq!(rendered(&definition_errors(&compiled)), Vec::<String>::new());
    Rules::compile(&schema(compiled["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].clone()))
        .expect("rules")
}

fn check(rules: &Rules, spec: Json, old: Option<Json>) -> Vec<String> {
    let object = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec});
    let old =
        old.map(|o| json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": o}));
    rendered(&rules.validate(&object, old.as_ref()))
}

#[test]
fn rules_that_do_not_compile_refuse_the_crd_with_kube_wording() {
    let errors = definition_errors(&crd(json!({"type": "object", "properties": {"a": {"type": "string"}},
        "x-kubernetes-validations": [{"rule": "self.a =="}, {"rule": "self.b == 'x'"}, {"rule": "size(nope) > 0"},
            {"rule": "quantity(self.a).isGreaterThan(quantity('1'))"}, {"rule": "   "},
            {"rule": "self.a == 'x'", "reason": "Nope", "fieldPath": ".missing"}]})));
    let shown = rendered(&errors);
    let prefix = "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations";
    assert!(
        shown[0].starts_with(&format!(
            "{prefix}[0].rule: Invalid value: {{\"rule\":\"self.a ==\"}}: compilation failed: ERROR: <input>:1:"
        )),
        "{}",
        shown[0]
    );
    assert_eq!(
        shown[1],
        format!(
            "{prefix}[1].rule: Invalid value: {{\"rule\":\"self.b == 'x'\"}}: compilation failed: ERROR: <input>:1:5: undefined field 'b'\n | self.b == 'x'\n | ....^"
        )
    );
    assert!(
        shown[2].ends_with(
            "ERROR: <input>:1:6: undeclared reference to 'nope' (in container '')\n | size(nope) > 0\n | .....^"
        ),
        "{}",
        shown[2]
    );
    assert!(shown[3].contains("function 'quantity' is not supported by this server"), "{}", shown[3]);
    assert_eq!(shown[4], format!("{prefix}[4].rule: Required value: rule is not specified"));
    assert_eq!(
        shown[5..],
        [
            format!(
                "{prefix}[5].reason: Unsupported value: \"Nope\": supported values: \"FieldValueDuplicate\", \"FieldValueForbidden\", \"FieldValueInvalid\", \"FieldValueRequired\""
            ),
            format!("{prefix}[5].fieldPath: Invalid value: \".missing\": fieldPath must be a valid path"),
        ]
    );
    let mut two_schemas = crd(json!({"type": "object", "x-kubernetes-validations": [{"rule": "oldSelf.x("}]}));
    let versions = two_schemas["spec"]["versions"].as_array_mut().unwrap();
    versions.push(json!({"name": "v2", "schema": {"openAPIV3Schema": {"type": "object"}}}));
    let errors = rendered(&definition_errors(&two_schemas));
    assert!(
        errors[0]
            .starts_with("spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule")
    );
}

#[test]
fn old_self_is_forbidden_where_items_cannot_be_correlated() {
    let errors = definition_errors(&crd(json!({"type": "object", "properties": {"list": {"type": "array",
        "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}}}})));
    assert_eq!(
        rendered(&errors),
        [
            "spec.validation.openAPIV3Schema.properties[spec].properties[list].items.x-kubernetes-validations[0].rule: Invalid value: \"self == oldSelf\": oldSelf cannot be used on the uncorrelatable portion of the schema within spec.validation.openAPIV3Schema.properties[spec].properties[list]"
        ]
    );
}

#[test]
fn failures_use_the_message_the_default_or_the_message_expression() {
    let rules = rules(json!({"type": "object", "properties": {
            "min": {"type": "integer"}, "max": {"type": "integer"}, "name": {"type": "string"}},
        "x-kubernetes-validations": [
            {"rule": "self.min <= self.max"},
            {"rule": "!has(self.name) || self.name.matches('^[a-z]+$')", "message": "name must be lowercase"},
            {"rule": "self.max < 100", "messageExpression": "'max is ' + string(self.max) + ', over 99'"}]}));
    assert_eq!(check(&rules, json!({"min": 1, "max": 2, "name": "ok"}), None), Vec::<String>::new());
    assert_eq!(
        check(&rules, json!({"min": 300, "max": 200, "name": "NO"}), None),
        [
            "spec: Invalid value: \"object\": failed rule: self.min <= self.max",
            "spec: Invalid value: \"object\": name must be lowercase",
            "spec: Invalid value: \"object\": max is 200, over 99",
        ]
    );
    assert_eq!(
        check(&rules, json!({"min": 3}), None),
        [
            "spec: Invalid value: \"object\": no such key: max evaluating rule: self.min <= self.max",
            "spec: Invalid value: \"object\": no such key: max evaluating rule: self.max < 100"
        ]
    );
}

#[test]
fn transition_rules_run_only_on_update_and_unchanged_values_ratchet() {
    let rules = rules(json!({"type": "object", "properties": {
            "id": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "id is immutable"}]},
            "size": {"type": "integer", "x-kubernetes-validations": [{"rule": "self <= 10"}]}}}));
    assert_eq!(check(&rules, json!({"id": "a", "size": 1}), None), Vec::<String>::new());
    assert_eq!(
        check(&rules, json!({"id": "b", "size": 1}), Some(json!({"id": "a", "size": 1}))),
        ["spec.id: Invalid value: \"string\": id is immutable"]
    );
    assert_eq!(
        check(&rules, json!({"id": "a", "size": 1}), Some(json!({"size": 1}))),
        Vec::<String>::new(),
        "no old value: no transition"
    );
    assert_eq!(
        check(&rules, json!({"size": 11}), None),
        ["spec.size: Invalid value: \"integer\": failed rule: self <= 10"]
    );
    assert_eq!(check(&rules, json!({"size": 11}), Some(json!({"size": 11}))), Vec::<String>::new(), "ratcheted");
}

#[test]
fn optional_old_self_sees_an_empty_optional_on_create() {
    let rules = rules(json!({"type": "object", "properties": {"mode": {"type": "string",
        "x-kubernetes-validations": [{"rule": "!oldSelf.hasValue() || oldSelf.value() == self", "optionalOldSelf": true,
            "message": "mode is set once"}]}}}));
    assert_eq!(check(&rules, json!({"mode": "a"}), None), Vec::<String>::new());
    assert_eq!(
        check(&rules, json!({"mode": "b"}), Some(json!({"mode": "a"}))),
        ["spec.mode: Invalid value: \"string\": mode is set once"]
    );
}

#[test]
fn field_path_and_reason_shape_the_error() {
    let rules = rules(
        json!({"type": "object", "properties": {"replicas": {"type": "integer"}, "labels": {"type": "object", "additionalProperties": {"type": "string"}}},
        "x-kubernetes-validations": [
            {"rule": "self.replicas >= 0", "fieldPath": ".replicas", "reason": "FieldValueForbidden", "message": "must not be negative"},
            {"rule": "'app' in self.labels", "fieldPath": ".labels['app']", "reason": "FieldValueRequired", "message": "app label is required"},
            {"rule": "size(self.labels) < 3", "reason": "FieldValueDuplicate"}]}),
    );
    assert_eq!(
        check(&rules, json!({"replicas": -1, "labels": {"a": "1", "b": "2", "c": "3"}}), None),
        [
            "spec.replicas: Forbidden: must not be negative",
            "spec.labels[app]: Required value: app label is required",
            "spec: Duplicate value: \"object\"",
        ]
    );
}

#[test]
fn rules_in_arrays_and_maps_bind_self_to_each_item() {
    let rules = rules(json!({"type": "object", "properties": {
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "x-kubernetes-validations": [{"rule": "self.all(p, p.port > 0)", "message": "ports must be positive"}],
            "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                "x-kubernetes-validations": [{"rule": "self.port < 65536"}, {"rule": "self.port == oldSelf.port", "message": "port is immutable"}]}},
        "tags": {"type": "array", "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self.startsWith('t-')"}]},
            "x-kubernetes-validations": [{"rule": "self.isSorted()", "message": "tags must be sorted"}]},
        "env": {"type": "object", "additionalProperties": {"type": "string", "x-kubernetes-validations": [{"rule": "size(self) <= 3"}]}}}}));
    let spec = json!({"ports": [{"name": "http", "port": 80}, {"name": "big", "port": 70000}],
        "tags": ["t-b", "a"], "env": {"A": "long value"}});
    assert_eq!(
        check(&rules, spec, None),
        [
            "spec.ports[1]: Invalid value: \"object\": failed rule: self.port < 65536",
            "spec.tags: Invalid value: \"array\": tags must be sorted",
            "spec.tags[1]: Invalid value: \"string\": failed rule: self.startsWith('t-')",
            "spec.env[A]: Invalid value: \"string\": failed rule: size(self) <= 3",
        ]
    );
    let old = json!({"ports": [{"name": "http", "port": 80}]});
    let new = json!({"ports": [{"name": "other", "port": 1}, {"name": "http", "port": 81}]});
    assert_eq!(check(&rules, new, Some(old)), ["spec.ports[1]: Invalid value: \"object\": port is immutable"]);
}

#[test]
fn rules_are_not_run_when_the_schema_finds_a_wrong_type() {
    let rules = rules(json!({"type": "object", "properties": {"size": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.size > 0"}]}));
    let object = json!({"spec": {"size": "big"}});
    let type_error = FieldError {
        field: "spec.size".into(),
        kind: FieldErrorKind::TypeInvalid(json!("string")),
        detail: String::new(),
    };
    assert_eq!(
        rendered(&rules.validate_after(&[type_error], &object, None)),
        [
            "<nil>: Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"
        ]
    );
    assert_eq!(rendered(&rules.validate_after(&[], &json!({"spec": {"size": 0}}), None)).len(), 1);
}

#[test]
fn formats_become_timestamps_and_durations_and_names_are_escaped() {
    let rules = rules(json!({"type": "object", "properties": {
            "start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"},
            "timeout": {"type": "string", "format": "duration"}, "dry-run": {"type": "boolean"}},
        "x-kubernetes-validations": [
            {"rule": "self.end > self.start", "message": "end must follow start"},
            {"rule": "self.timeout <= duration('1h')", "message": "timeout too long"},
            {"rule": "!self.dry__dash__run", "message": "no dry runs"}]}));
    let spec =
        json!({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z", "timeout": "2h", "dry-run": true});
    assert_eq!(
        check(&rules, spec, None),
        [
            "spec: Invalid value: \"object\": end must follow start",
            "spec: Invalid value: \"object\": timeout too long",
            "spec: Invalid value: \"object\": no dry runs",
        ]
    );
    let fine =
        json!({"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z", "timeout": "30m", "dry-run": false});
    assert_eq!(check(&rules, fine, None), Vec::<String>::new());
}
