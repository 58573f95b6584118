//! Label selector parsing, printing and matching, checked against the real parser's outputs
//! and error texts, plus a parse → print → parse round-trip property.

use super::*;
use proptest::prelude::*;
use serde_json::json;

const NAME_PART: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const VALUE_REGEX: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

#[test]
fn parses_every_operator_into_its_canonical_string() {
    let cases = [
        ("", ""),
        ("a=b", "a=b"),
        ("a==b", "a==b"),
        ("a!=b", "a!=b"),
        ("a", "a"),
        ("!a", "!a"),
        ("a in (y,x)", "a in (x,y)"),
        ("a notin (x)", "a notin (x)"),
        ("a>5", "a>5"),
        ("a<5", "a<5"),
        ("z=1,a=2", "a=2,z=1"),
        ("  a = b ,  c  ", "a=b,c"),
        ("a=", "a="),
        ("a in ()", "a in ()"),
        ("a in (,b)", "a in (,b)"),
        ("a in (b,,c)", "a in (,b,c)"),
        ("a in (b,b)", "a in (b)"),
        ("in in (in),notin notin (notin)", "in in (in),notin notin (notin)"),
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
        ("app.kubernetes.io/name=web", "app.kubernetes.io/name=web"),
        ("a=b\0c=d", "a=b"),
    ];
    for (input, canonical) in cases {
        let selector = LabelSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(selector.to_string(), canonical, "input {input:?}");
    }
}

#[test]
fn malformed_selectors_get_the_real_messages() {
    let cases = [
        ("a=b=c", "found '=', expected: ',' or 'end of string'".to_string()),
        ("a=b,", "found '', expected: identifier after ','".into()),
        (",a", "found ',', expected: !, identifier, or 'end of string'".into()),
        ("=a", "found '=', expected: !, identifier, or 'end of string'".into()),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt".into()),
        ("!", "unable to parse requirement: found '', expected: identifier".into()),
        ("!a=b", "found '=', expected: ',' or 'end of string'".into()),
        ("a in b", "unable to parse requirement: found 'b' expected: '('".into()),
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'".into()),
        ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'".into()),
        ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier".into()),
        ("a in (b,=)", "unable to parse requirement: found '=', expected: ',', or identifier".into()),
        ("a=(b)", "unable to parse requirement: found '(', expected: identifier".into()),
        ("app:monolith", format!("unable to parse requirement: <nil>: Invalid value: \"app:monolith\": {NAME_PART}")),
        ("*bar=x", format!("unable to parse requirement: <nil>: Invalid value: \"*bar\": {NAME_PART}")),
        ("a=b@c", format!("unable to parse requirement: values[0][a]: Invalid value: \"b@c\": {VALUE_REGEX}")),
        (
            "a in (x@,y@)",
            format!(
                "unable to parse requirement: [values[0][a]: Invalid value: \"x@\": {VALUE_REGEX}, values[1][a]: Invalid value: \"y@\": {VALUE_REGEX}]"
            ),
        ),
        (
            "a>b",
            "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer".into(),
        ),
    ];
    for (input, message) in cases {
        assert_eq!(LabelSelector::parse(input), Err(message), "input {input:?}");
    }
}

#[test]
fn requirements_match_labels_like_the_real_selector() {
    let labels = json!({"app": "web", "tier": "front", "n": "7"});
    let cases = [
        ("", true),
        ("app=web", true),
        ("app==web", true),
        ("app=db", false),
        ("app!=db", true),
        ("missing!=x", true),
        ("app in (db,web)", true),
        ("missing in (x)", false),
        ("app notin (web)", false),
        ("missing notin (x)", true),
        ("app", true),
        ("missing", false),
        ("!missing", true),
        ("!app", false),
        ("n>6", true),
        ("n>7", false),
        ("n<8", true),
        ("app>1", false),
        ("missing<1", false),
        ("app=web,tier=back", false),
        ("app=web,tier=front", true),
        ("missing=", false),
    ];
    for (input, expected) in cases {
        let selector = LabelSelector::parse(input).unwrap();
        assert_eq!(selector.matches(&labels), expected, "selector {input:?}");
    }
    let selector = LabelSelector::parse("!app,tier notin (x)").unwrap();
    assert!(selector.matches(&Value::Null), "an object without labels has none of them");
    assert!(!LabelSelector::parse("app").unwrap().matches(&Value::Null));
}

#[test]
fn metav1_label_selectors_become_selectors() {
    let selector = LabelSelector::from_label_selector(&json!({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["front", "edge"]},
            {"key": "env", "operator": "NotIn", "values": ["prod"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "app", "operator": "Exists"}
        ]
    }))
    .unwrap();
    assert_eq!(selector.to_string(), "app=web,app,!canary,env notin (prod),tier in (edge,front)");
    assert!(selector.matches(&json!({"app": "web", "tier": "edge", "env": "dev"})));
    assert!(!selector.matches(&json!({"app": "web", "tier": "edge", "canary": "1"})));

    let everything = LabelSelector::from_label_selector(&json!({})).unwrap();
    assert!(everything.is_empty() && everything.matches(&Value::Null));
    let nothing = LabelSelector::from_label_selector(&Value::Null).unwrap();
    assert!(nothing.matches_nothing() && !nothing.matches(&json!({"a": "b"})));
}

#[test]
fn invalid_metav1_label_selectors_report_like_new_requirement() {
    let cases = [
        (json!({"matchLabels": {"a b": "x"}}), format!("key: Invalid value: \"a b\": {NAME_PART}")),
        (json!({"matchLabels": {"app": "-x"}}), format!("values[0][app]: Invalid value: \"-x\": {VALUE_REGEX}")),
        (
            json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty".to_string(),
        ),
        (
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x", "y"]}]}),
            "values: Invalid value: []string{\"x\", \"y\"}: values set must be empty for exists and does not exist"
                .to_string(),
        ),
        (
            json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}),
            "\"Gt\" is not a valid label selector operator".to_string(),
        ),
    ];
    for (selector, message) in cases {
        assert_eq!(LabelSelector::from_label_selector(&selector), Err(message), "{selector}");
    }
}

#[test]
fn exact_matches_are_detected() {
    let selector = LabelSelector::parse("a=1,b in (2),c in (3,4),d!=5").unwrap();
    assert_eq!(selector.requires_exact_match("a"), Some("1"));
    assert_eq!(selector.requires_exact_match("b"), Some("2"));
    assert_eq!(selector.requires_exact_match("c"), None);
    assert_eq!(selector.requires_exact_match("d"), None);
    assert_eq!(selector.requires_exact_match("e"), None);
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![Just("a".to_string()), Just("b.c/d-e".to_string()), Just("in".to_string()), "[a-z][a-z0-9]{0,4}"]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), Just("in".to_string()), "[A-Za-z0-9]([-A-Za-z0-9_.]{0,4}[A-Za-z0-9])?"]
}

fn requirement_text() -> impl Strategy<Value = String> {
    (key(), 0..9usize, proptest::collection::vec(value(), 1..4)).prop_map(|(k, op, values)| match op {
        0 => format!("{k}={}", values[0]),
        1 => format!("{k}=={}", values[0]),
        2 => format!("{k}!={}", values[0]),
        3 => format!("{k} in ({})", values.join(",")),
        4 => format!("{k} notin ({})", values.join(",")),
        5 => k,
        6 => format!("!{k}"),
        7 => format!("{k}>{}", values.len()),
        _ => format!("{k}<{}", values.len()),
    })
}

proptest! {
    #[test]
    fn display_parses_back_to_the_same_selector(terms in proptest::collection::vec(requirement_text(), 0..5)) {
        let text = terms.join(",");
        let selector = LabelSelector::parse(&text).unwrap();
        let again = LabelSelector::parse(&selector.to_string()).unwrap();
        prop_assert_eq!(&again, &selector);
        prop_assert_eq!(again.to_string(), selector.to_string());
    }
}
