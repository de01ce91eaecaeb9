//! Python objects to JSON values and back, for calls in and decisions out. Only what JSON
//! has: dict (with str keys), list, tuple, str, int, float, bool and None.

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

use crate::CallError;

/// How deep a call may nest (as the service's JSON reader allows).
const MAX_DEPTH: usize = 128;

/// `obj` as a JSON value; anything that is not JSON is a [`CallError`] naming where.
pub fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    value(obj, 0).map_err(|e| match e {
        NotJson::Python(e) => e,
        NotJson::At { path, what } => {
            let place: String = path.iter().rev().map(String::as_str).collect();
            CallError::new_err(format!("the call{place} {what}"))
        }
    })
}

/// Why a value is not JSON: where (innermost first, built only on the way out of an
/// error, so the good path formats nothing) and what.
enum NotJson {
    At { path: Vec<String>, what: String },
    Python(PyErr),
}

impl From<PyErr> for NotJson {
    fn from(e: PyErr) -> NotJson {
        NotJson::Python(e)
    }
}

fn not(what: String) -> NotJson {
    NotJson::At {
        path: Vec::new(),
        what,
    }
}

fn inside(e: NotJson, step: impl FnOnce() -> String) -> NotJson {
    match e {
        NotJson::At { mut path, what } => {
            path.push(step());
            NotJson::At { path, what }
        }
        other => other,
    }
}

fn value(obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, NotJson> {
    if depth > MAX_DEPTH {
        return Err(not(format!("nests deeper than {MAX_DEPTH} levels")));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_owned()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut m = Map::new();
        for (k, v) in d.iter() {
            let Ok(key) = k.cast::<PyString>() else {
                return Err(not(format!(
                    "has a key that is not a str ({})",
                    type_name(&k)
                )));
            };
            let key = key.to_str()?.to_owned();
            match value(&v, depth + 1) {
                Ok(item) => {
                    m.insert(key, item);
                }
                Err(e) => return Err(inside(e, || format!("[{key:?}]"))),
            }
        }
        return Ok(Value::Object(m));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: a Python bool is an int.
    if obj.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(obj.extract::<bool>()?));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(not("is an integer beyond 64 bits".to_string()));
    }
    if obj.is_instance_of::<PyFloat>() {
        let f = obj.extract::<f64>()?;
        return Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| not(format!("is {f}, which JSON has no number for")));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return items(l.iter(), depth);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return items(t.iter(), depth);
    }
    Err(not(format!(
        "is a {}, which is not JSON (dict, list, str, int, float, bool or None)",
        type_name(obj)
    )))
}

fn items<'py>(
    iter: impl Iterator<Item = Bound<'py, PyAny>>,
    depth: usize,
) -> Result<Value, NotJson> {
    let mut out = Vec::new();
    for (i, v) in iter.enumerate() {
        out.push(value(&v, depth + 1).map_err(|e| inside(e, || format!("[{i}]")))?);
    }
    Ok(Value::Array(out))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "value".to_string())
}

/// A JSON value as Python objects (dict, list, str, int, float, bool, None).
pub fn to_python<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    match v {
        Value::Null => Ok(py.None().into_bound(py)),
        Value::Bool(b) => b.into_bound_py_any(py),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_bound_py_any(py)
            } else if let Some(u) = n.as_u64() {
                u.into_bound_py_any(py)
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)
            }
        }
        Value::String(s) => s.into_bound_py_any(py),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            Ok(list.into_any())
        }
        Value::Object(m) => {
            let dict = PyDict::new(py);
            for (k, item) in m {
                dict.set_item(k, to_python(py, item)?)?;
            }
            Ok(dict.into_any())
        }
    }
}
