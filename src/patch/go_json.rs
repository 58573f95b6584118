//! Go's side of JSON, as far as patch errors show it: `encoding/json`'s syntax errors (the
//! scanner's `invalid character 'x' looking for beginning of value`, `unexpected end of JSON
//! input`), its `cannot unmarshal X into Go value of type T` errors, and `fmt`'s `%v` of decoded
//! values (`map[a:1 b:[x y]]`) and `reflect.TypeOf` names, which strategic merge patch errors
//! embed. Bodies are checked with the scanner first, as `json.Unmarshal` does, so a syntax error
//! wins over anything serde would say.

use crate::selectors::go_quote;
use serde_json::Value;

const END_OF_INPUT: &str = "unexpected end of JSON input";

/// `quoteChar`: how the scanner shows the offending byte (Go widens a byte to a rune and quotes
/// it like a string, between single quotes).
fn quote_char(byte: u8) -> String {
    match byte {
        b'\'' => "'\\''".to_string(),
        b'"' => "'\"'".to_string(),
        _ => {
            let quoted = go_quote(&char::from(byte).to_string());
            format!("'{}'", &quoted[1..quoted.len() - 1])
        }
    }
}

fn invalid(byte: u8, context: &str) -> String {
    format!("invalid character {} {context}", quote_char(byte))
}

#[derive(Clone, Copy, PartialEq)]
enum Frame {
    ObjectKey,
    ObjectValue,
    Array,
}

/// A cursor over the body that reports errors in the scanner's words.
struct Scanner<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn skip_space(&mut self) {
        while matches!(self.data.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn next(&mut self) -> Result<u8, String> {
        let byte = *self.data.get(self.pos).ok_or(END_OF_INPUT)?;
        self.pos += 1;
        Ok(byte)
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn string(&mut self) -> Result<(), String> {
        loop {
            match self.next()? {
                b'"' => return Ok(()),
                b'\\' => match self.next()? {
                    b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => {}
                    b'u' => {
                        for _ in 0..4 {
                            let byte = self.next()?;
                            if !byte.is_ascii_hexdigit() {
                                return Err(invalid(byte, "in \\u hexadecimal character escape"));
                            }
                        }
                    }
                    byte => return Err(invalid(byte, "in string escape code")),
                },
                byte if byte < 0x20 => return Err(invalid(byte, "in string literal")),
                _ => {}
            }
        }
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    /// A number whose first byte (`-` or a digit) was consumed.
    fn number(&mut self, first: u8) -> Result<(), String> {
        let lead = if first == b'-' { self.next()? } else { first };
        match lead {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            byte => return Err(invalid(byte, "in numeric literal")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            let byte = self.next()?;
            if !byte.is_ascii_digit() {
                return Err(invalid(byte, "after decimal point in numeric literal"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            let mut byte = self.next()?;
            if byte == b'+' || byte == b'-' {
                byte = self.next()?;
            }
            if !byte.is_ascii_digit() {
                return Err(invalid(byte, "in exponent of numeric literal"));
            }
            self.digits();
        }
        Ok(())
    }

    fn literal(&mut self, word: &str) -> Result<(), String> {
        for expected in word.bytes().skip(1) {
            let byte = self.next()?;
            if byte != expected {
                let context = format!("in literal {word} (expecting '{}')", char::from(expected));
                return Err(invalid(byte, &context));
            }
        }
        Ok(())
    }

    /// `checkValid`: the whole body must be one JSON value.
    fn check(&mut self) -> Result<(), String> {
        let mut stack: Vec<Frame> = Vec::new();
        'value: loop {
            self.skip_space();
            match self.next()? {
                b'{' => {
                    self.skip_space();
                    match self.next()? {
                        b'}' => {}
                        b'"' => {
                            self.string()?;
                            stack.push(Frame::ObjectKey);
                        }
                        byte => return Err(invalid(byte, "looking for beginning of object key string")),
                    }
                }
                b'[' => {
                    self.skip_space();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                    } else {
                        stack.push(Frame::Array);
                        continue 'value;
                    }
                }
                b'"' => self.string()?,
                byte @ (b'-' | b'0'..=b'9') => self.number(byte)?,
                b't' => self.literal("true")?,
                b'f' => self.literal("false")?,
                b'n' => self.literal("null")?,
                byte => return Err(invalid(byte, "looking for beginning of value")),
            }
            // The end of a value: what may follow depends on what encloses it.
            loop {
                self.skip_space();
                let Some(frame) = stack.last_mut() else {
                    return match self.peek() {
                        Some(byte) => Err(invalid(byte, "after top-level value")),
                        None => Ok(()),
                    };
                };
                match (*frame, self.next()?) {
                    (Frame::ObjectKey, b':') => {
                        *frame = Frame::ObjectValue;
                        continue 'value;
                    }
                    (Frame::ObjectKey, byte) => return Err(invalid(byte, "after object key")),
                    (Frame::ObjectValue, b',') => {
                        self.skip_space();
                        match self.next()? {
                            b'"' => self.string()?,
                            byte => return Err(invalid(byte, "looking for beginning of object key string")),
                        }
                        *frame = Frame::ObjectKey;
                    }
                    (Frame::ObjectValue, b'}') | (Frame::Array, b']') => {
                        stack.pop();
                    }
                    (Frame::ObjectValue, byte) => return Err(invalid(byte, "after object key:value pair")),
                    (Frame::Array, b',') => continue 'value,
                    (Frame::Array, byte) => return Err(invalid(byte, "after array element")),
                }
            }
        }
    }
}

/// Decodes a request body as Go would: the scanner's message for malformed JSON, otherwise
/// the value (invalid UTF-8 is replaced, as Go does, rather than rejected).
pub fn decode(body: &[u8]) -> Result<Value, String> {
    Scanner { data: body, pos: 0 }.check()?;
    serde_json::from_slice(body)
        .or_else(|_| serde_json::from_str(&String::from_utf8_lossy(body)))
        .map_err(|e: serde_json::Error| e.to_string())
}

/// The JSON kind `UnmarshalTypeError` names.
pub fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Null => "null",
    }
}

/// `json: cannot unmarshal <kind> into Go value of type <target>`.
pub fn type_error(value: &Value, target: &str) -> String {
    format!("json: cannot unmarshal {} into Go value of type {target}", kind_name(value))
}

/// `reflect.TypeOf(v)` printed with `%s`, for a value decoded into `interface{}`.
pub fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "map[string]interface {}",
        Value::Array(_) => "[]interface {}",
        Value::String(_) => "string",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::Bool(_) => "bool",
        Value::Null => "%!s(<nil>)",
    }
}

/// `strconv.FormatFloat(f, 'g', -1, 64)`, which `%v` uses for float64.
fn go_float(f: f64) -> String {
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if !(-4..6).contains(&exponent) {
        let rest = if digits.len() > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{}{rest}e{exp_sign}{:02}", &digits[..1], exponent.abs());
    }
    format!("{f}")
}

/// `fmt.Sprintf("%v", v)` for a value decoded into `interface{}` (map keys sorted).
pub fn go_value(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => go_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(go_value).collect::<Vec<_>>().join(" ")),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let parts: Vec<String> = entries.iter().map(|(k, v)| format!("{k}:{}", go_value(v))).collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// `%s` of an `interface{}`: strings as they are, anything else Go's `%!s(...)` complaint.
pub fn go_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => format!("%!s({}={})", go_type(other), go_value(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn syntax_errors_read_like_the_go_scanner() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "unexpected end of JSON input"),
            (b"   ", "unexpected end of JSON input"),
            (b"{", "unexpected end of JSON input"),
            (b"{\"a\":1", "unexpected end of JSON input"),
            (b"x", "invalid character 'x' looking for beginning of value"),
            (b"{x", "invalid character 'x' looking for beginning of object key string"),
            (b"{\"a\" 1}", "invalid character '1' after object key"),
            (b"{\"a\":1 \"b\"}", "invalid character '\"' after object key:value pair"),
            (b"{\"a\":1,}", "invalid character '}' looking for beginning of object key string"),
            (b"[1 2]", "invalid character '2' after array element"),
            (b"[1,]", "invalid character ']' looking for beginning of value"),
            (b"{} {}", "invalid character '{' after top-level value"),
            (b"01", "invalid character '1' after top-level value"),
            (b"-x", "invalid character 'x' in numeric literal"),
            (b"1.x", "invalid character 'x' after decimal point in numeric literal"),
            (b"1ex", "invalid character 'x' in exponent of numeric literal"),
            (b"tru", "unexpected end of JSON input"),
            (b"trux", "invalid character 'x' in literal true (expecting 'e')"),
            (b"nul!", "invalid character '!' in literal null (expecting 'l')"),
            (b"\"a\nb\"", "invalid character '\\n' in string literal"),
            (b"\"\\q\"", "invalid character 'q' in string escape code"),
            (b"\"\\u12g4\"", "invalid character 'g' in \\u hexadecimal character escape"),
            (b"'a'", "invalid character '\\'' looking for beginning of value"),
        ];
        for (body, message) in cases {
            assert_eq!(decode(body), Err(message.to_string()), "body {:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn valid_bodies_decode() {
        assert_eq!(
            decode(b" {\"a\": [1, -2.5e3, true, null, \"\\u00e9\"]} \n"),
            Ok(json!({"a": [1, -2500.0, true, null, "é"]}))
        );
        assert_eq!(decode(b"null"), Ok(Value::Null));
        assert_eq!(decode(b"{\"a\":\"\xff\"}"), Ok(json!({"a": "\u{fffd}"})));
    }

    #[test]
    fn go_formatting_of_decoded_values() {
        let value = json!({"b": [1, "x", null], "a": {"c": true}, "f": 0.5, "g": 1e21, "h": 1e-7, "i": 2.0, "j": 123456.0, "k": 1234567.0});
        assert_eq!(
            go_value(&value),
            "map[a:map[c:true] b:[1 x <nil>] f:0.5 g:1e+21 h:1e-07 i:2 j:123456 k:1.234567e+06]"
        );
        assert_eq!(go_type(&json!(1)), "int64");
        assert_eq!(go_type(&json!(1.5)), "float64");
        assert_eq!(go_type(&json!([])), "[]interface {}");
        assert_eq!(go_string(&json!("merge")), "merge");
        assert_eq!(go_string(&json!(true)), "%!s(bool=true)");
        assert_eq!(
            type_error(&json!([]), "map[string]interface {}"),
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
    }
}
