//! The label key and label value checks behind selector parsing, with kube-apiserver's exact
//! wording (`k8s.io/apimachinery/pkg/api/validate/content`: `IsLabelKey`, `IsLabelValue`,
//! `IsDNS1123Subdomain`, `RegexError`, `MaxLenError`), plus the two pieces of Go formatting the
//! messages need: `%q` quoting and `field.Error` rendering.

const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_KEY_ERR: &str =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const MAX_NAME_LENGTH: usize = 63;
const MAX_SUBDOMAIN_LENGTH: usize = 253;

/// `RegexError`: `<msg> (e.g. 'a',  or 'b', regex used for validation is '<re>')`, double space
/// included, as Go builds it.
fn regex_error(message: &str, regex: &str, examples: &[&str]) -> String {
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!("{message} (e.g. {}regex used for validation is '{regex}')", examples.join(" or "))
}

fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} bytes")
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, the shape of a label name and a non-empty value.
fn is_label_name_shaped(s: &str) -> bool {
    let bytes = s.as_bytes();
    let edge = |b: &u8| b.is_ascii_alphanumeric();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            edge(first) && edge(last) && bytes.iter().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
        }
        _ => false,
    }
}

fn is_dns1123_subdomain_shaped(s: &str) -> bool {
    s.split('.').all(|label| {
        let bytes = label.as_bytes();
        let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        match (bytes.first(), bytes.last()) {
            (Some(first), Some(last)) => edge(first) && edge(last) && bytes.iter().all(|b| edge(b) || *b == b'-'),
            _ => false,
        }
    })
}

fn dns1123_subdomain_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > MAX_SUBDOMAIN_LENGTH {
        errors.push(max_len_error(MAX_SUBDOMAIN_LENGTH));
    }
    if !is_dns1123_subdomain_shaped(value) {
        errors.push(regex_error(DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, &["example.com"]));
    }
    errors
}

/// `content.IsLabelKey`: an optional DNS-subdomain prefix and `/`, then a name of at most 63
/// bytes. Empty when valid.
pub fn label_key_errors(key: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_string());
            } else {
                errors.extend(dns1123_subdomain_errors(prefix).into_iter().map(|e| format!("prefix part {e}")));
            }
            *name
        }
        _ => {
            let regex = regex_error(LABEL_KEY_ERR, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"]);
            return vec![format!(
                "a valid label key {regex} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > MAX_NAME_LENGTH {
        errors.push(format!("name part {}", max_len_error(MAX_NAME_LENGTH)));
    }
    if !is_label_name_shaped(name) {
        errors.push(format!(
            "name part {}",
            regex_error(LABEL_KEY_ERR, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
        ));
    }
    errors
}

/// `content.IsLabelValue`: empty, or a name-shaped string of at most 63 bytes.
pub fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > MAX_NAME_LENGTH {
        errors.push(max_len_error(MAX_NAME_LENGTH));
    }
    if !value.is_empty() && !is_label_name_shaped(value) {
        errors.push(regex_error(LABEL_VALUE_ERR, LABEL_VALUE_FMT, &["MyValue", "my_value", "12345"]));
    }
    errors
}

/// Go's `strconv.Quote` (`%q`): double quotes, C escapes, `\x` for other control bytes.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if !is_print(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Roughly `unicode.IsPrint`: not a control, format or non-ASCII separator character.
fn is_print(c: char) -> bool {
    !(c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}'))
}

/// `field.Invalid(path, value, detail).Error()` for a string value.
pub fn invalid_value(path: &str, value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {}: {detail}", go_quote(value))
}

/// `utilerrors.NewAggregate(...).Error()`: one message alone, several deduplicated in brackets.
pub fn aggregate(messages: Vec<String>) -> Option<String> {
    let mut seen: Vec<String> = Vec::new();
    for message in messages {
        if !seen.contains(&message) {
            seen.push(message);
        }
    }
    match seen.len() {
        0 => None,
        1 => seen.pop(),
        _ => Some(format!("[{}]", seen.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME_PART_REGEX: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

    #[test]
    fn label_keys_are_checked_like_is_label_key() {
        let long = "a".repeat(64);
        let cases: Vec<(&str, Vec<String>)> = vec![
            ("app", vec![]),
            ("app.kubernetes.io/name", vec![]),
            ("a-b_c.d", vec![]),
            ("app:monolith", vec![NAME_PART_REGEX.to_string()]),
            ("", vec!["name part must be non-empty".into(), NAME_PART_REGEX.into()]),
            (long.as_str(), vec!["name part must be no more than 63 bytes".into()]),
            ("/name", vec!["prefix part must be non-empty".into()]),
            (
                "app.kubernetes_io/name",
                vec!["prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into()],
            ),
            (
                "a/b/c",
                vec!["a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')".into()],
            ),
        ];
        for (key, expected) in cases {
            assert_eq!(label_key_errors(key), expected, "key {key:?}");
        }
    }

    #[test]
    fn label_values_may_be_empty_but_not_malformed() {
        assert!(label_value_errors("").is_empty());
        assert!(label_value_errors("v1.2_x-y").is_empty());
        assert_eq!(
            label_value_errors("-x"),
            vec![
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
            ]
        );
        assert_eq!(label_value_errors(&"x".repeat(64)), vec!["must be no more than 63 bytes"]);
    }

    #[test]
    fn go_quote_escapes_like_strconv_quote() {
        assert_eq!(go_quote("a\"b\\c\n\t\u{1}\u{7f}é"), "\"a\\\"b\\\\c\\n\\t\\x01\\x7fé\"");
        assert_eq!(go_quote("\u{a0}\u{85}\u{200b}"), "\"\\u00a0\\u0085\\u200b\"");
        assert_eq!(invalid_value("<nil>", "a b", "why"), "<nil>: Invalid value: \"a b\": why");
        assert_eq!(aggregate(vec!["x".into(), "x".into()]), Some("x".into()));
        assert_eq!(aggregate(vec!["x".into(), "y".into()]), Some("[x, y]".into()));
        assert_eq!(aggregate(vec![]), None);
    }
}
