//! RFC 6902 JSON Patch: the difference between a proposed and an edited document, and
//! applying a patch an approver wrote.

use serde_json::{Map, Value, json};

/// Why a JSON Patch could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", index.map(|i| format!("JSON Patch operation {i}: ")).unwrap_or_default())]
pub struct PatchError {
    /// The 0-based index of the failing operation (none when the patch is not a list).
    pub index: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// A patch (a JSON array of operations) that turns `from` into `to`. Objects are compared
/// key by key, arrays index by index (with `add`/`remove` at the tail), so an approver who
/// changed one field sees one operation.
pub fn diff(from: &Value, to: &Value) -> Value {
    let mut ops = Vec::new();
    diff_at(from, to, &mut String::new(), &mut ops);
    Value::Array(ops)
}

fn diff_at(from: &Value, to: &Value, path: &mut String, ops: &mut Vec<Value>) {
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort_unstable();
            keys.dedup();
            for k in keys {
                let len = path.len();
                path.push('/');
                path.push_str(&escape(k));
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff_at(x, y, path, ops),
                    (Some(_), None) => ops.push(json!({"op": "remove", "path": path.as_str()})),
                    (None, Some(y)) => {
                        ops.push(json!({"op": "add", "path": path.as_str(), "value": y}))
                    }
                    (None, None) => {}
                }
                path.truncate(len);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            let common = a.len().min(b.len());
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                diff_at(x, y, path, ops);
                path.truncate(len);
            }
            // Remove from the end backwards so each index is valid when applied.
            for i in (common..a.len()).rev() {
                ops.push(json!({"op": "remove", "path": format!("{path}/{i}")}));
            }
            for item in b.iter().skip(common) {
                ops.push(json!({"op": "add", "path": format!("{path}/-"), "value": item}));
            }
        }
        _ if from == to => {}
        _ => ops.push(json!({"op": "replace", "path": path.as_str(), "value": to})),
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Applies a patch to a copy of `doc`. All six operations of RFC 6902 are supported
/// (`add`, `remove`, `replace`, `move`, `copy`, `test`); a failing operation leaves `doc`
/// untouched and names its index.
///
/// A patch has at most [`MAX_OPS`] operations, and its `copy` operations copy at most
/// [`MAX_COPIED`] bytes in all: a few hundred bytes of doubling copies would otherwise
/// grow a document past any memory.
pub fn apply(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops = patch.as_array().ok_or(PatchError {
        index: None,
        message: "a JSON Patch is a JSON array of operations".into(),
    })?;
    if ops.len() > MAX_OPS {
        return Err(PatchError {
            index: None,
            message: format!(
                "a patch has at most {MAX_OPS} operations; this one has {}",
                ops.len()
            ),
        });
    }
    let mut out = doc.clone();
    let mut copied = 0;
    for (index, op) in ops.iter().enumerate() {
        apply_one(&mut out, op, &mut copied).map_err(|message| PatchError {
            index: Some(index),
            message,
        })?;
    }
    Ok(out)
}

/// The most operations [`apply`] takes in one patch.
pub const MAX_OPS: usize = 1_000;

/// The most the `copy` operations of one patch may copy in all, in bytes of JSON text
/// (about: each value counts its strings' and keys' lengths and 8 bytes more).
pub const MAX_COPIED: usize = 4 << 20;

/// About how many bytes `v` takes as JSON text, counting no further than `limit`.
fn weight(v: &Value, limit: usize) -> usize {
    let mut total = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total = total.saturating_add(8);
        match v {
            Value::String(text) => total = total.saturating_add(text.len()),
            Value::Array(items) => stack.extend(items),
            Value::Object(m) => {
                for (k, item) in m {
                    total = total.saturating_add(k.len());
                    stack.push(item);
                }
            }
            _ => {}
        }
        if total > limit {
            break;
        }
    }
    total
}

fn field<'a>(op: &'a Map<String, Value>, name: &str) -> Result<&'a Value, String> {
    op.get(name).ok_or_else(|| format!("missing `{name}`"))
}

fn pointer_field(op: &Map<String, Value>, name: &str) -> Result<Vec<String>, String> {
    let text = field(op, name)?
        .as_str()
        .ok_or_else(|| format!("`{name}` must be a string"))?;
    parse_pointer(text)
}

fn apply_one(doc: &mut Value, op: &Value, copied: &mut usize) -> Result<(), String> {
    let op = op.as_object().ok_or("an operation is a JSON object")?;
    let kind = field(op, "op")?.as_str().ok_or("`op` must be a string")?;
    let path = pointer_field(op, "path")?;
    match kind {
        "add" => add(doc, &path, field(op, "value")?.clone()),
        "remove" => remove(doc, &path).map(drop),
        "replace" => {
            let value = field(op, "value")?.clone();
            let target = resolve_mut(doc, &path)?;
            *target = value;
            Ok(())
        }
        "move" => {
            let from = pointer_field(op, "from")?;
            if path.len() > from.len() && path.starts_with(&from) {
                return Err("cannot move a value into one of its own children".into());
            }
            let value = remove(doc, &from)?;
            add(doc, &path, value)
        }
        "copy" => {
            let from = pointer_field(op, "from")?;
            let source = resolve_mut(doc, &from)?;
            let left = MAX_COPIED.saturating_sub(*copied);
            *copied = copied.saturating_add(weight(source, left));
            if *copied > MAX_COPIED {
                return Err(format!(
                    "the patch copies more than {} MiB in all",
                    MAX_COPIED >> 20
                ));
            }
            let value = source.clone();
            add(doc, &path, value)
        }
        "test" => {
            let expected = field(op, "value")?;
            if resolve_mut(doc, &path)? == expected {
                Ok(())
            } else {
                Err(format!("test failed at `{}`", unparse(&path)))
            }
        }
        other => Err(format!(
            "unknown op `{other}` (expected add, remove, replace, move, copy or test)"
        )),
    }
}

fn parse_pointer(text: &str) -> Result<Vec<String>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let rest = text
        .strip_prefix('/')
        .ok_or_else(|| format!("`{text}` is not a JSON Pointer (it must start with `/`)"))?;
    Ok(rest
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn unparse(path: &[String]) -> String {
    path.iter().map(|s| format!("/{}", escape(s))).collect()
}

fn index(token: &str, len: usize, allow_end: bool) -> Result<usize, String> {
    if allow_end && token == "-" {
        return Ok(len);
    }
    let valid = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    let i: usize = if valid { token.parse().ok() } else { None }
        .ok_or_else(|| format!("`{token}` is not an array index"))?;
    let max = if allow_end {
        len
    } else {
        len.saturating_sub(1)
    };
    if i > max || (!allow_end && len == 0) {
        return Err(format!("index {i} is out of range (length {len})"));
    }
    Ok(i)
}

fn resolve_mut<'a>(doc: &'a mut Value, path: &[String]) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for (depth, token) in path.iter().enumerate() {
        cur = match cur {
            Value::Object(map) => map.get_mut(token),
            Value::Array(items) => {
                let i = index(token, items.len(), false)?;
                items.get_mut(i)
            }
            _ => None,
        }
        .ok_or_else(|| {
            format!(
                "`{}` does not exist",
                unparse(path.get(..=depth).unwrap_or(path))
            )
        })?;
    }
    Ok(cur)
}

fn split(path: &[String]) -> Result<(&[String], &String), String> {
    path.split_last()
        .map(|(last, parent)| (parent, last))
        .ok_or_else(|| "this operation needs a path below the root".to_string())
}

fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), String> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = split(path)?;
    match resolve_mut(doc, parent)? {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            let i = index(last, items.len(), true)?;
            items.insert(i, value);
            Ok(())
        }
        _ => Err(format!("`{}` is not an object or array", unparse(parent))),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value, String> {
    let (parent, last) = split(path)?;
    match resolve_mut(doc, parent)? {
        Value::Object(map) => map
            .remove(last)
            .ok_or_else(|| format!("`{}` does not exist", unparse(path))),
        Value::Array(items) => {
            let i = index(last, items.len(), false)?;
            Ok(items.remove(i))
        }
        _ => Err(format!("`{}` is not an object or array", unparse(parent))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn doubling_copies_are_refused_before_they_fill_memory() {
        // Each copy doubles the document: 64 of them would need 2^64 values.
        let mut ops = vec![json!({"op": "add", "path": "/a", "value": [1]})];
        for _ in 0..64 {
            ops.push(json!({"op": "copy", "from": "/a", "path": "/a/-"}));
        }
        let e = apply(&json!({}), &json!(ops)).unwrap_err();
        assert!(e.message.contains("copies more than"), "{e:?}");
        // One long string doubled 15 times: few values, but gigabytes.
        let mut ops = vec![json!({"op": "add", "path": "/a", "value": ["x".repeat(900_000)]})];
        for _ in 0..15 {
            ops.push(json!({"op": "copy", "from": "/a", "path": "/a/-"}));
        }
        let e = apply(&json!({}), &json!(ops)).unwrap_err();
        assert!(e.message.contains("copies more than"), "{e:?}");
        // A few copies of a small value are fine.
        let ok = apply(
            &json!({"a": 1}),
            &json!([{"op": "copy", "from": "/a", "path": "/b"}]),
        )
        .unwrap();
        assert_eq!(ok, json!({"a": 1, "b": 1}));
        let many: Vec<Value> = (0..=MAX_OPS)
            .map(|_| json!({"op": "test", "path": "", "value": {}}))
            .collect();
        let e = apply(&json!({}), &json!(many)).unwrap_err();
        assert!(e.message.contains("at most"), "{e:?}");
    }

    #[test]
    fn one_changed_field_is_one_replace() {
        let a = json!({"amount": 900, "currency": "EUR", "note": "x"});
        let b = json!({"amount": 450, "currency": "EUR"});
        let p = diff(&a, &b);
        assert_eq!(
            p,
            json!([
                {"op": "replace", "path": "/amount", "value": 450},
                {"op": "remove", "path": "/note"}
            ])
        );
        assert_eq!(apply(&a, &p).unwrap(), b);
    }

    #[test]
    fn the_rfc_examples_apply() {
        let doc = json!({"foo": ["bar", "baz"], "a/b": 1});
        let p = json!([
            {"op": "add", "path": "/foo/1", "value": "qux"},
            {"op": "test", "path": "/a~1b", "value": 1},
            {"op": "move", "from": "/foo/0", "path": "/first"},
            {"op": "copy", "from": "/first", "path": "/foo/-"},
        ]);
        assert_eq!(
            apply(&doc, &p).unwrap(),
            json!({"foo": ["qux", "baz", "bar"], "a/b": 1, "first": "bar"})
        );
    }

    #[test]
    fn bad_patches_name_the_operation() {
        let doc = json!({"a": [1]});
        for (p, needle) in [
            (json!({"op": "add"}), "JSON array"),
            (
                json!([{"op": "remove", "path": "/b"}]),
                "`/b` does not exist",
            ),
            (
                json!([{"op": "replace", "path": "/a/5", "value": 1}]),
                "out of range",
            ),
            (
                json!([{"op": "test", "path": "/a/0", "value": 2}]),
                "test failed",
            ),
            (json!([{"op": "frob", "path": "/a"}]), "unknown op"),
            (
                json!([{"op": "add", "path": "a", "value": 1}]),
                "JSON Pointer",
            ),
            (
                json!([{"op": "move", "from": "/a", "path": "/a/0"}]),
                "own children",
            ),
            (
                json!([{"op": "replace", "path": "/a/01", "value": 1}]),
                "not an array index",
            ),
        ] {
            let e = apply(&doc, &p).unwrap_err();
            assert!(e.to_string().contains(needle), "{e} lacks {needle}");
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-50i64..50).prop_map(|n| json!(n)),
            "[a-c/~]{0,3}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-c/~]{0,2}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Applying the diff of two documents to the first gives the second.
        #[test]
        fn diff_then_apply_round_trips(a in json_value(), b in json_value()) {
            let p = diff(&a, &b);
            prop_assert_eq!(apply(&a, &p).unwrap(), b);
        }
    }
}
