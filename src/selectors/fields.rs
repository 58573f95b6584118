//! Field selectors as kube-apiserver parses them (`k8s.io/apimachinery/pkg/fields/selector.go`):
//! comma-separated `field=value`, `field==value` and `field!=value` terms, where `\`, `,` and `=`
//! inside a value are escaped with a backslash. Terms are sorted by their raw text, as the real
//! parser sorts them, and a term with an empty field and an empty value selects everything and
//! is dropped. Which fields a resource supports, and the values they take, live in
//! [`super::field_table`].

use super::field_table;
use serde_json::Value;
use std::fmt;

/// One `field=value` or `field!=value` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    pub field: String,
    pub value: String,
    /// `!=` rather than `=`/`==`.
    pub negated: bool,
}

/// An AND of field terms; the empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

/// Splits on unescaped commas, keeping escapes in place.
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in selector.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                terms.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// The first operator in the term, trying `!=`, `==` then `=` at each position.
fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
    for (i, _) in term.char_indices() {
        for op in ["!=", "==", "="] {
            if term[i..].starts_with(op) {
                return Some((&term[..i], op, &term[i + op.len()..]));
            }
        }
    }
    None
}

/// `fields.UnescapeValue`.
fn unescape(value: &str) -> Result<String, String> {
    if !value.contains(['\\', ',', '=']) {
        return Ok(value.to_string());
    }
    let mut out = String::with_capacity(value.len());
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(format!("invalid field selector: invalid escape sequence: \\{c}"));
            }
            out.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            // Go prints the rune with %v, which is its code point.
            ',' | '=' => return Err(format!("invalid field selector: unescaped character in value: {}", c as u32)),
            c => out.push(c),
        }
    }
    if escaped {
        return Err("invalid field selector: invalid escape sequence: \\".to_string());
    }
    Ok(out)
}

/// `fields.EscapeValue`.
pub fn escape_value(value: &str) -> String {
    value.replace('\\', "\\\\").replace(',', "\\,").replace('=', "\\=")
}

impl FieldSelector {
    /// `fields.ParseSelector`: the `?fieldSelector=` string. The error is the message
    /// kube-apiserver returns with 400 BadRequest.
    pub fn parse(selector: &str) -> Result<Self, String> {
        let mut parts = split_terms(selector);
        parts.sort_unstable();
        let mut terms = Vec::new();
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let Some((field, op, raw)) = split_term(part) else {
                return Err(format!("invalid selector: '{selector}'; can't understand '{part}'"));
            };
            let value = unescape(raw)?;
            if field.is_empty() && value.is_empty() {
                continue;
            }
            terms.push(FieldTerm { field: field.to_string(), value, negated: op == "!=" });
        }
        Ok(FieldSelector { terms })
    }

    /// A selector of `field=value` terms.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let terms = pairs
            .into_iter()
            .map(|(field, value)| FieldTerm { field: field.to_string(), value: value.to_string(), negated: false })
            .collect();
        FieldSelector { terms }
    }

    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Checks every field against what the built-in resource `group`/`resource` supports, with
    /// the conversion error kube-apiserver answers 400 BadRequest with. A resource that is not
    /// built in is treated as a namespaced custom resource without selectable fields; use
    /// [`FieldSelector::validate_custom`] when the CRD is at hand.
    pub fn validate_for(&self, group: &str, resource: &str) -> Result<(), String> {
        self.terms.iter().try_for_each(|t| field_table::check_builtin(group, resource, &t.field))
    }

    /// The check for a custom resource: `metadata.name`, `metadata.namespace` when namespaced,
    /// and the CRD's `selectableFields` (given without the leading dot, `spec.color`).
    pub fn validate_custom(&self, namespaced: bool, selectable_fields: &[String]) -> Result<(), String> {
        self.terms.iter().try_for_each(|t| field_table::check_custom(namespaced, selectable_fields, &t.field))
    }

    /// Whether `object` of `group`/`resource` is selected, each field taking the string value
    /// kube-apiserver's `GetAttrs` gives it (missing fields are "").
    pub fn matches(&self, group: &str, resource: &str, object: &Value) -> bool {
        self.terms.iter().all(|t| (field_table::field_value(group, resource, &t.field, object) == t.value) != t.negated)
    }

    /// `RequiresExactMatch`: the value of the first `field=value` term for `field`.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms.iter().find(|t| !t.negated && t.field == field).map(|t| t.value.as_str())
    }

    /// The name a `metadata.name=X` term pins, which turns a list or watch into a single-object
    /// one (`SelectionPredicate.MatchesSingle`).
    pub fn single_name(&self) -> Option<String> {
        self.requires_exact_match("metadata.name").map(String::from)
    }

    /// Whether the selector is exactly one `metadata.name=X` term, so nothing is left to filter
    /// once the name is used.
    pub fn is_only_name(&self) -> bool {
        matches!(self.terms.as_slice(), [t] if !t.negated && t.field == "metadata.name")
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let terms: Vec<String> = self
            .terms
            .iter()
            .map(|t| format!("{}{}{}", t.field, if t.negated { "!=" } else { "=" }, escape_value(&t.value)))
            .collect();
        f.write_str(&terms.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn term(field: &str, value: &str, negated: bool) -> FieldTerm {
        FieldTerm { field: field.into(), value: value.into(), negated }
    }

    #[test]
    fn parses_terms_sorted_and_unescaped() {
        let cases = [
            ("", vec![]),
            ("a=b", vec![term("a", "b", false)]),
            ("a==b", vec![term("a", "b", false)]),
            ("a!=b", vec![term("a", "b", true)]),
            ("b=2,a=1", vec![term("a", "1", false), term("b", "2", false)]),
            ("a=,,b!=", vec![term("a", "", false), term("b", "", true)]),
            ("a=x\\,y\\=z\\\\", vec![term("a", "x,y=z\\", false)]),
            ("a=!b", vec![term("a", "!b", false)]),
            ("=", vec![]),
            ("=x", vec![term("", "x", false)]),
            ("spec.nodeName=", vec![term("spec.nodeName", "", false)]),
        ];
        for (input, terms) in cases {
            assert_eq!(FieldSelector::parse(input).unwrap().terms(), terms.as_slice(), "input {input:?}");
        }
    }

    #[test]
    fn malformed_selectors_get_the_real_messages() {
        let cases = [
            ("abc", "invalid selector: 'abc'; can't understand 'abc'"),
            ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
            ("a=b=c", "invalid field selector: unescaped character in value: 61"),
            ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
            ("a=b\\x", "invalid field selector: invalid escape sequence: \\x"),
        ];
        for (input, message) in cases {
            assert_eq!(FieldSelector::parse(input), Err(message.to_string()), "input {input:?}");
        }
    }

    #[test]
    fn single_name_and_exact_matches() {
        let only = FieldSelector::parse("metadata.name=web").unwrap();
        assert_eq!(only.single_name().as_deref(), Some("web"));
        assert!(only.is_only_name());
        let more = FieldSelector::parse("metadata.name=web,status.phase=Running").unwrap();
        assert_eq!(more.single_name().as_deref(), Some("web"));
        assert!(!more.is_only_name());
        let negated = FieldSelector::parse("metadata.name!=web").unwrap();
        assert_eq!(negated.single_name(), None);
        assert!(!negated.is_only_name());
    }

    #[test]
    fn matches_compare_strings() {
        let pod = json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"}});
        let cases = [
            ("metadata.name=p", true),
            ("metadata.name!=p", false),
            ("metadata.namespace=ns,spec.nodeName=n1", true),
            ("spec.nodeName=n2", false),
            ("status.phase=", true),
            ("spec.hostNetwork=false", true),
            ("", true),
        ];
        for (input, expected) in cases {
            let selector = FieldSelector::parse(input).unwrap();
            assert_eq!(selector.matches("", "pods", &pod), expected, "selector {input:?}");
        }
        assert!(FieldSelector::from_pairs([("metadata.name", "p")]).matches("", "pods", &pod));
    }

    proptest! {
        #[test]
        fn display_parses_back(pairs in proptest::collection::vec(("[a-z.]{1,6}", "[a-z,=\\\\!]{0,6}", any::<bool>()), 0..4)) {
            let text: Vec<String> = pairs
                .iter()
                .map(|(f, v, neg)| format!("{f}{}{}", if *neg { "!=" } else { "=" }, escape_value(v)))
                .collect();
            let selector = FieldSelector::parse(&text.join(",")).unwrap();
            prop_assert_eq!(selector.terms().len(), pairs.len());
            prop_assert_eq!(FieldSelector::parse(&selector.to_string()).unwrap(), selector);
        }
    }
}
