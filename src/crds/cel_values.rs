//! The CEL side of CRD validation rules: the environment every rule runs in (the `cel` crate's
//! standard library, its strings and lists extensions, and the parts of Kubernetes' own CEL
//! libraries cheap to add here: `isSorted`, `sum`, `min`, `max`, `find`, `findAll` and
//! `sets.*`), the compile-time checks of an expression (the names it calls, the fields of
//! `self` it selects, and the library functions kube-apiserver has that this server does not,
//! which refuse the CRD when it is written), and how a JSON value becomes a CEL value under its
//! schema as apiextensions-apiserver's `UnstructuredToVal` does it: `number` is always a double,
//! `date-time`/`date` strings are timestamps, `duration` strings durations, `byte` strings
//! bytes, property names are escaped (`foo-bar` is `foo__dash__bar`) and a resource's `metadata`
//! shows only `name` and `generateName`.

use super::cel::Node;
use ::cel::common::ast::{EntryExpr, Expr, IdedEntryExpr, IdedExpr};
use ::cel::common::types::{LIST_TYPE, STRING_TYPE};
use ::cel::common::value::{CowVal, Val};
use ::cel::objects::{Key, Map};
use ::cel::{Context, Env, ExecutionError, Program, Value, extensions};
use base64::Engine;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

/// The environment every rule is compiled and run in.
pub static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    extensions::strings(&mut env).expect("strings extension");
    extensions::lists(&mut env).expect("lists extension");
    let list_members: [(&str, ::cel::common::functions::Function); 4] =
        [("isSorted", is_sorted), ("sum", sum), ("min", min), ("max", max)];
    for (name, function) in list_members {
        env.add_member_overload(name, &format!("list.{name}()"), LIST_TYPE, vec![], function).expect("list function");
    }
    env.add_member_overload("find", "string.find(string)", STRING_TYPE, vec![STRING_TYPE], find).expect("find");
    env.add_member_overload("findAll", "string.findAll(string)", STRING_TYPE, vec![STRING_TYPE], find_all)
        .expect("findAll");
    let sets: [(&str, ::cel::common::functions::Function); 3] =
        [("sets.contains", sets_contains), ("sets.equivalent", sets_equivalent), ("sets.intersects", sets_intersects)];
    for (name, function) in sets {
        env.add_overload(name, name, vec![LIST_TYPE, LIST_TYPE], function).expect("sets function");
    }
    Arc::new(env)
});

/// Functions, macros and operators a rule may call: what [`ENV`] declares. Operators (`_==_`,
/// `@in`, `!_`) are always allowed.
pub const KNOWN_FUNCTIONS: &[&str] = &[
    // standard library
    "size",
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "bool",
    "dyn",
    "type",
    "duration",
    "timestamp",
    "matches",
    "contains",
    "startsWith",
    "endsWith",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getFullYear",
    "getHours",
    "getMilliseconds",
    "getMinutes",
    "getMonth",
    "getSeconds",
    "has",
    "all",
    "exists",
    "exists_one",
    "existsOne",
    "map",
    "filter",
    "optional.of",
    "optional.ofNonZeroValue",
    "optional.none",
    "hasValue",
    "value",
    "or",
    "orValue",
    // strings extension
    "charAt",
    "indexOf",
    "lastIndexOf",
    "join",
    "lowerAscii",
    "upperAscii",
    "trim",
    "replace",
    "split",
    "substring",
    "format",
    "strings.quote",
    "reverse",
    // lists extension
    "slice",
    "flatten",
    "distinct",
    "sort",
    "sortBy",
    "lists.range",
    // Kubernetes libraries, as far as implemented here
    "isSorted",
    "sum",
    "min",
    "max",
    "find",
    "findAll",
    "sets.contains",
    "sets.equivalent",
    "sets.intersects",
];

/// Kubernetes CEL library functions (and CEL extensions kube-apiserver enables) this server
/// cannot evaluate: a rule calling one is refused rather than silently skipped.
pub const UNSUPPORTED_FUNCTIONS: &[&str] = &[
    "quantity",
    "isQuantity",
    "asInteger",
    "asApproximateFloat",
    "isInteger",
    "sign",
    "add",
    "sub",
    "isGreaterThan",
    "isLessThan",
    "compareTo",
    "url",
    "isURL",
    "getScheme",
    "getHost",
    "getHostname",
    "getPort",
    "getEscapedPath",
    "getQuery",
    "ip",
    "isIP",
    "cidr",
    "isCIDR",
    "family",
    "isUnspecified",
    "isLoopback",
    "isLinkLocalMulticast",
    "isLinkLocalUnicast",
    "isGlobalUnicast",
    "ip.isCanonical",
    "containsIP",
    "containsCIDR",
    "masked",
    "prefixLength",
    "semver",
    "isSemver",
    "major",
    "minor",
    "patch",
    "format.named",
    "validate",
    "cel.bind",
    "transformList",
    "transformMap",
    "transformMapEntry",
    "base64.encode",
    "base64.decode",
    "math.abs",
    "math.ceil",
    "math.floor",
    "math.round",
    "math.sign",
    "math.sqrt",
    "math.trunc",
    "math.greatest",
    "math.least",
    "math.isInf",
    "math.isNaN",
    "math.isFinite",
    "math.bitAnd",
    "math.bitOr",
    "math.bitXor",
    "math.bitNot",
    "math.bitShiftLeft",
    "math.bitShiftRight",
];

/// Names CEL reserves, escaped as `__name__` when they name a property.
const RESERVED: [&str; 21] = [
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// How a property name is spelled in CEL (`foo-bar` as `foo__dash__bar`), or `None` when it
/// cannot be: apiextensions-apiserver's escaping.
pub fn escape(name: &str) -> Option<String> {
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let escaped = name
        .replace("__", "__underscores__")
        .replace('.', "__dot__")
        .replace('-', "__dash__")
        .replace('/', "__slash__");
    let mut chars = escaped.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(escaped)
}

fn string(text: &str) -> Value {
    Value::String(Arc::new(text.to_string()))
}

fn map(entries: impl IntoIterator<Item = (String, Value)>) -> Value {
    let entries: HashMap<Key, Value> = entries.into_iter().map(|(k, v)| (Key::String(Arc::new(k)), v)).collect();
    Value::Map(Map { map: Arc::new(entries) })
}

/// A value the schema leaves open, converted by its JSON type alone.
fn dynamic(value: &Json) -> Value {
    match value {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or_default()),
        },
        Json::String(s) => string(s),
        Json::Array(items) => Value::List(Arc::new(items.iter().map(dynamic).collect())),
        Json::Object(fields) => map(fields.iter().map(|(k, v)| (k.clone(), dynamic(v)))),
    }
}

/// Runs a one-variable conversion program (`timestamp(s)`), for the types the `cel` crate only
/// builds from its own functions.
fn convert_with(program: &Program, text: &str) -> Option<Value> {
    let mut context = Context::with_env(ENV.clone());
    context.add_variable_from_value("s", text.to_string());
    program.execute(&context).ok()
}

static TIMESTAMP: LazyLock<Program> = LazyLock::new(|| ENV.compile("timestamp(s)").expect("timestamp program"));
static DURATION: LazyLock<Program> = LazyLock::new(|| ENV.compile("duration(s)").expect("duration program"));

/// `value` as CEL sees it at a schema node; `resource` marks the root (or an embedded
/// resource), whose `metadata` keeps only `name` and `generateName`.
pub fn to_cel(value: &Json, node: &Node, resource: bool) -> Value {
    if node.int_or_string || (node.type_.is_empty() && node.properties.is_empty()) {
        return dynamic(value);
    }
    match (value, node.type_.as_str()) {
        (Json::Number(n), "number") => Value::Float(n.as_f64().unwrap_or_default()),
        (Json::Number(n), "integer") => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Int(n.as_f64().unwrap_or_default() as i64),
        },
        (Json::String(s), "string") => {
            let converted = match node.format.as_str() {
                "date-time" | "datetime" => convert_with(&TIMESTAMP, s),
                "date" => convert_with(&TIMESTAMP, &format!("{s}T00:00:00Z")),
                "duration" => convert_with(&DURATION, s),
                "byte" => base64::engine::general_purpose::STANDARD.decode(s).ok().map(|b| Value::Bytes(Arc::new(b))),
                _ => None,
            };
            converted.unwrap_or_else(|| string(s))
        }
        (Json::Array(items), _) => match &node.items {
            Some(item) => Value::List(Arc::new(items.iter().map(|i| to_cel(i, item, item.embedded)).collect())),
            None => dynamic(value),
        },
        (Json::Object(fields), _) => {
            let mut entries = Vec::with_capacity(fields.len());
            for (key, child) in fields {
                if resource && key == "metadata" {
                    let kept = ["name", "generateName"]
                        .iter()
                        .filter_map(|k| child.get(*k).map(|v| (k.to_string(), dynamic(v))));
                    entries.push((key.clone(), map(kept)));
                } else if resource && (key == "apiVersion" || key == "kind") {
                    entries.push((key.clone(), dynamic(child)));
                } else if let Some(property) = node.property(key) {
                    if let Some(name) = escape(key) {
                        entries.push((name, to_cel(child, property, property.embedded)));
                    }
                } else if let Some(additional) = &node.additional {
                    entries.push((key.clone(), to_cel(child, additional, additional.embedded)));
                } else if node.preserve_unknown {
                    entries.push((key.clone(), dynamic(child)));
                }
            }
            map(entries)
        }
        _ => dynamic(value),
    }
}

fn values(args: &[CowVal<'_, '_>]) -> Result<Vec<Value>, ExecutionError> {
    args.iter().map(|a| Value::try_from(a.as_ref())).collect()
}

fn list(value: &Value, function: &str) -> Result<Arc<Vec<Value>>, ExecutionError> {
    match value {
        Value::List(items) => Ok(items.clone()),
        other => Err(ExecutionError::function_error(function, format!("expected a list, got {:?}", other.type_of()))),
    }
}

fn text<'a>(value: &'a Value, function: &str) -> Result<&'a str, ExecutionError> {
    match value {
        Value::String(s) => Ok(s.as_str()),
        other => Err(ExecutionError::function_error(function, format!("expected a string, got {:?}", other.type_of()))),
    }
}

fn owned<'b, 'v>(value: Value) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let boxed: Box<dyn Val> = value.try_into()?;
    Ok(CowVal::from(boxed))
}

fn is_sorted<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let items = list(&values(&args)?[0], "isSorted")?;
    owned(Value::Bool(items.windows(2).all(|pair| pair[0] <= pair[1])))
}

fn sum<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let items = list(&values(&args)?[0], "sum")?;
    let total = items.iter().try_fold(Value::Int(0), |total, item| match (total, item) {
        (Value::Int(a), Value::Int(b)) => {
            Ok(Value::Int(a.checked_add(*b).ok_or_else(|| ExecutionError::function_error("sum", "integer overflow"))?))
        }
        (Value::Int(a), Value::Float(b)) => Ok(Value::Float(a as f64 + b)),
        (Value::Float(a), Value::Float(b)) => Ok(Value::Float(a + b)),
        (Value::UInt(a), Value::UInt(b)) => Ok(Value::UInt(a + b)),
        (Value::Int(0), Value::UInt(b)) => Ok(Value::UInt(*b)),
        (_, other) => Err(ExecutionError::function_error("sum", format!("cannot add {:?}", other.type_of()))),
    })?;
    owned(total)
}

fn extreme<'b, 'v>(
    args: Vec<CowVal<'b, 'v>>,
    name: &str,
    keep: std::cmp::Ordering,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let items = list(&values(&args)?[0], name)?;
    let mut best: Option<&Value> = None;
    for item in items.iter() {
        if best.is_none_or(|b| item.partial_cmp(b) == Some(keep)) {
            best = Some(item);
        }
    }
    let found =
        best.cloned().ok_or_else(|| ExecutionError::function_error(name, format!("{name} called on empty list")))?;
    owned(found)
}

fn min<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    extreme(args, "min", std::cmp::Ordering::Less)
}

fn max<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    extreme(args, "max", std::cmp::Ordering::Greater)
}

fn regex_args(args: &[CowVal<'_, '_>], function: &str) -> Result<(String, regex::Regex), ExecutionError> {
    let values = values(args)?;
    let pattern = text(&values[1], function)?;
    let regex = regex::Regex::new(pattern).map_err(|e| ExecutionError::function_error(function, e))?;
    Ok((text(&values[0], function)?.to_string(), regex))
}

fn find<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (haystack, regex) = regex_args(&args, "find")?;
    owned(string(regex.find(&haystack).map(|m| m.as_str()).unwrap_or_default()))
}

fn find_all<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (haystack, regex) = regex_args(&args, "findAll")?;
    owned(Value::List(Arc::new(regex.find_iter(&haystack).map(|m| string(m.as_str())).collect())))
}

/// A CEL list's elements.
type Items = Arc<Vec<Value>>;

fn two_lists(args: &[CowVal<'_, '_>], function: &str) -> Result<(Items, Items), ExecutionError> {
    let values = values(args)?;
    Ok((list(&values[0], function)?, list(&values[1], function)?))
}

fn sets_contains<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (a, b) = two_lists(&args, "sets.contains")?;
    owned(Value::Bool(b.iter().all(|x| a.contains(x))))
}

fn sets_equivalent<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (a, b) = two_lists(&args, "sets.equivalent")?;
    owned(Value::Bool(b.iter().all(|x| a.contains(x)) && a.iter().all(|x| b.contains(x))))
}

fn sets_intersects<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (a, b) = two_lists(&args, "sets.intersects")?;
    owned(Value::Bool(b.iter().any(|x| a.contains(x))))
}

static OPTIONAL_OF: LazyLock<Program> = LazyLock::new(|| ENV.compile("optional.of(v)").expect("optional program"));
static OPTIONAL_NONE: LazyLock<Program> = LazyLock::new(|| ENV.compile("optional.none()").expect("optional program"));

/// `oldSelf` for a rule with `optionalOldSelf: true`: an optional, empty on create.
pub fn optional(value: Option<Value>) -> Value {
    let mut context = Context::with_env(ENV.clone());
    let result = match value {
        Some(value) => {
            context.add_variable_from_value("v", value);
            OPTIONAL_OF.execute(&context)
        }
        None => OPTIONAL_NONE.execute(&context),
    };
    result.unwrap_or(Value::Null)
}

/// Parses an expression and checks what the `cel` crate does not: every variable and function
/// it names, and the fields it selects from `self`. Returns the program and whether it uses
/// `oldSelf`, or cel-go-style error text (`ERROR: <input>:1:1: ...` with the source line).
pub(super) fn compile_expression(source: &str, node: &Node) -> Result<(Program, bool), String> {
    // cel-go prints its snippet lines as " | "; the `cel` crate's parse errors use "| ".
    let program = ENV.compile(source).map_err(|e| e.to_string().replace("\n| ", "\n | "))?;
    let mut checker = Checker { node, scope: Vec::new(), problems: Vec::new(), uses_old_self: false };
    checker.expr(program.expression());
    let info = program.source_info();
    let rendered: Vec<String> = checker
        .problems
        .iter()
        .map(|(id, message)| {
            let offset = info.offset_for(*id).map_or(0, |(start, _)| start as usize);
            let before = &source[..offset.min(source.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or_default().chars().count();
            let snippet = source.lines().nth(line - 1).unwrap_or_default();
            format!("ERROR: <input>:{line}:{}: {message}\n | {snippet}\n | {}^", column + 1, ".".repeat(column))
        })
        .collect();
    if rendered.is_empty() { Ok((program, checker.uses_old_self)) } else { Err(rendered.join("\n")) }
}

struct Checker<'a> {
    node: &'a Node,
    scope: Vec<String>,
    problems: Vec<(u64, String)>,
    uses_old_self: bool,
}

impl<'a> Checker<'a> {
    /// Checks `e`, returning the schema node it is known to evaluate to (a path from `self`).
    fn expr(&mut self, e: &IdedExpr) -> Option<&'a Node> {
        match &e.expr {
            Expr::Ident(name) if self.scope.contains(name) || name.starts_with('@') => None,
            Expr::Ident(name) if name == "self" => Some(self.node),
            Expr::Ident(name) if name == "oldSelf" => {
                self.uses_old_self = true;
                Some(self.node)
            }
            Expr::Ident(name) => {
                self.problems.push((e.id, format!("undeclared reference to '{name}' (in container '')")));
                None
            }
            Expr::Select(select) => {
                let operand = self.expr(&select.operand)?;
                self.select(operand, &select.field, e.id)
            }
            Expr::Call(call) => {
                let qualified = match call.target.as_deref().map(|t| &t.expr) {
                    Some(Expr::Ident(target))
                        if !self.scope.contains(target) && target != "self" && target != "oldSelf" =>
                    {
                        Some(format!("{target}.{}", call.func_name))
                    }
                    _ => None,
                };
                if let (None, Some(target)) = (&qualified, &call.target) {
                    self.expr(target);
                }
                let args: Vec<Option<&'a Node>> = call.args.iter().map(|a| self.expr(a)).collect();
                let name = qualified.as_deref().unwrap_or(&call.func_name);
                if name.starts_with(['_', '@', '!', '-']) {
                    return match (name, args.first()) {
                        ("_[_]", Some(Some(indexed))) => indexed.items.as_deref().or(indexed.additional.as_deref()),
                        _ => None,
                    };
                }
                if UNSUPPORTED_FUNCTIONS.contains(&name) {
                    let problem =
                        format!("function '{name}' is not supported by this server (kubetwin's CEL library lacks it)");
                    self.problems.push((e.id, problem));
                } else if !KNOWN_FUNCTIONS.contains(&name) {
                    self.problems.push((e.id, format!("undeclared reference to '{name}' (in container '')")));
                }
                None
            }
            Expr::Comprehension(comprehension) => {
                self.expr(&comprehension.iter_range);
                self.expr(&comprehension.accu_init);
                let bound =
                    [Some(&comprehension.iter_var), comprehension.iter_var2.as_ref(), Some(&comprehension.accu_var)];
                let pushed = bound.iter().flatten().count();
                self.scope.extend(bound.into_iter().flatten().cloned());
                for part in [&comprehension.loop_cond, &comprehension.loop_step, &comprehension.result] {
                    self.expr(part);
                }
                self.scope.truncate(self.scope.len() - pushed);
                None
            }
            Expr::List(list) => {
                list.elements.iter().for_each(|element| {
                    self.expr(element);
                });
                None
            }
            Expr::Map(map) => {
                self.entries(&map.entries);
                None
            }
            Expr::Struct(structure) => {
                self.entries(&structure.entries);
                None
            }
            Expr::Literal(_) | Expr::Unspecified => None,
        }
    }

    fn entries(&mut self, entries: &[IdedEntryExpr]) {
        for entry in entries {
            match &entry.expr {
                EntryExpr::StructField(field) => {
                    self.expr(&field.value);
                }
                EntryExpr::MapEntry(pair) => {
                    self.expr(&pair.key);
                    self.expr(&pair.value);
                }
            }
        }
    }

    /// `operand.field`: reported when the schema declares the object's fields and not this one.
    fn select(&mut self, operand: &'a Node, field: &str, id: u64) -> Option<&'a Node> {
        if let Some((_, property)) = operand.properties.iter().find(|(name, _)| escape(name).as_deref() == Some(field))
        {
            return Some(property);
        }
        let resource_field = operand.embedded && ["apiVersion", "kind", "metadata"].contains(&field);
        let closed = operand.type_ == "object" && !operand.preserve_unknown && operand.additional.is_none();
        if closed && !resource_field {
            self.problems.push((id, format!("undefined field '{field}'")));
        }
        operand.additional.as_deref()
    }
}
