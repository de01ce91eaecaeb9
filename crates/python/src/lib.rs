//! holdpoint for Python (`import holdpoint`): the policy engine in-process. A [`PyPolicy`]
//! is compiled once and shared by every thread; `evaluate` decides one call, given as a
//! dict (any shape the Rust `ToolCall` reads: OpenAI, Anthropic, MCP) or as JSON text.
//! The service's client (`holdpoint.Client`) and the framework adapters are in Python,
//! under `python/holdpoint/`.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use holdpoint::{
    DecisionReport, Diagnostic as RustDiagnostic, LoadError, PolicyBuilder, SourceMap, ToolCall,
};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

mod convert;

pyo3::create_exception!(
    holdpoint,
    HoldpointError,
    PyException,
    "Every error holdpoint raises."
);
pyo3::create_exception!(
    holdpoint,
    PolicyError,
    HoldpointError,
    "A policy that does not load: its message is the CLI's, and `diagnostics` lists each finding with its place."
);
pyo3::create_exception!(
    holdpoint,
    CallError,
    HoldpointError,
    "A call that is not a tool call (not JSON, or not a shape holdpoint reads)."
);
pyo3::create_exception!(
    holdpoint,
    PermitError,
    HoldpointError,
    "A permit that does not verify: a bad signature, expired, or for another call."
);

/// One finding of the checker: its code, message and place.
#[pyclass(frozen, module = "holdpoint", get_all)]
pub struct Diagnostic {
    /// The stable code, such as `E012`.
    code: String,
    /// `error` or `warning`.
    severity: String,
    /// One line.
    message: String,
    /// The file, when the finding has a place.
    file: Option<String>,
    /// 1-based line.
    line: Option<usize>,
    /// 1-based column.
    column: Option<usize>,
    /// 1-based line where it ends.
    end_line: Option<usize>,
    /// 1-based column where it ends.
    end_column: Option<usize>,
    /// How to fix it, when known.
    help: Option<String>,
    /// The finding as the CLI prints it, with the source line and a caret.
    rendered: String,
}

#[pymethods]
impl Diagnostic {
    fn __repr__(&self) -> String {
        let place = match (&self.file, self.line, self.column) {
            (Some(f), Some(l), Some(c)) => format!(" at {f}:{l}:{c}"),
            _ => String::new(),
        };
        format!(
            "<Diagnostic {} {}{place}: {}>",
            self.code, self.severity, self.message
        )
    }

    fn __str__(&self) -> String {
        self.rendered.clone()
    }
}

fn diagnostic(d: &RustDiagnostic, sources: &SourceMap) -> Diagnostic {
    let r = d.to_record(sources);
    Diagnostic {
        code: r.code.to_string(),
        severity: if d.is_error() { "error" } else { "warning" }.to_string(),
        message: r.message,
        file: r.file,
        line: r.line,
        column: r.column,
        end_line: r.end_line,
        end_column: r.end_column,
        help: r.help,
        rendered: d.render(sources),
    }
}

/// A load error as a [`PolicyError`], with its findings as `diagnostics`.
fn load_error(py: Python<'_>, e: LoadError) -> PyErr {
    let err = PolicyError::new_err(e.to_string());
    if let LoadError::Invalid {
        diagnostics,
        sources,
    } = &e
    {
        let found: Vec<Diagnostic> = diagnostics.iter().map(|d| diagnostic(d, sources)).collect();
        let list = PyList::empty(py);
        for d in found {
            if let Ok(obj) = Py::new(py, d) {
                let _ = list.append(obj);
            }
        }
        let _ = err.value(py).setattr("diagnostics", list);
    } else {
        let _ = err.value(py).setattr("diagnostics", PyList::empty(py));
    }
    err
}

/// A compiled policy: immutable, shared by every thread without locks.
#[pyclass(frozen, module = "holdpoint", name = "Policy")]
pub struct PyPolicy {
    inner: Arc<holdpoint::Policy>,
    /// What it was built from, for `check` (which runs every lint, as `policy check` does;
    /// building skips the ones that compare rules pairwise).
    builder: PolicyBuilder,
}

impl PyPolicy {
    fn build(py: Python<'_>, builder: PolicyBuilder) -> PyResult<PyPolicy> {
        let b = builder.clone();
        match py.detach(move || b.build()) {
            Ok(p) => Ok(PyPolicy {
                inner: Arc::new(p),
                builder,
            }),
            Err(e) => Err(load_error(py, e)),
        }
    }
}

/// What the policy decided for one call. The effect is kept at once; the rest (rules,
/// gates, reasons) is worked out the first time it is read, so a caller that reads only
/// `effect` pays for nothing more.
#[pyclass(frozen, module = "holdpoint")]
pub struct Decision {
    effect: holdpoint::Effect,
    policy: Arc<holdpoint::Policy>,
    call: ToolCall,
    report: OnceLock<DecisionReport>,
}

impl Decision {
    fn new(policy: &Arc<holdpoint::Policy>, call: ToolCall) -> Decision {
        let effect = policy.evaluate(&call).effect();
        Decision {
            effect,
            policy: policy.clone(),
            call,
            report: OnceLock::new(),
        }
    }

    /// The whole report (the same decision again: evaluation is deterministic).
    fn report(&self) -> &DecisionReport {
        self.report
            .get_or_init(|| self.policy.evaluate(&self.call).report(&self.call))
    }
}

/// A call given as a dict or as JSON text.
fn read_call(obj: &Bound<'_, PyAny>) -> PyResult<ToolCall> {
    let call = if let Ok(text) = obj.cast::<PyString>() {
        ToolCall::from_json(text.to_str()?)
    } else {
        ToolCall::from_value(convert::to_json(obj)?)
    };
    call.map_err(|e| CallError::new_err(e.to_string()))
}

#[pymethods]
impl PyPolicy {
    /// Loads a `.gate` file or a policy directory (with its `tools.yaml` and
    /// `approvers.yaml`). Raises `PolicyError` with the CLI's message and `diagnostics`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<PyPolicy> {
        let builder = py
            .detach(|| PolicyBuilder::new().path(&path))
            .map_err(|e| load_error(py, e))?;
        PyPolicy::build(py, builder)
    }

    /// Compiles a policy from its text, optionally with a tool catalog (the YAML text of
    /// a `tools.yaml`).
    #[staticmethod]
    #[pyo3(signature = (text, catalog = None))]
    fn from_source(py: Python<'_>, text: &str, catalog: Option<&str>) -> PyResult<PyPolicy> {
        let mut builder = PolicyBuilder::new().source("<policy>", text);
        if let Some(yaml) = catalog {
            let c = holdpoint::Catalog::from_yaml("tools.yaml", yaml)
                .map_err(|e| load_error(py, LoadError::Catalog(e)))?;
            builder = builder.catalog(c);
        }
        PyPolicy::build(py, builder)
    }

    /// The policy's name (its `policy NAME` line), if it has one.
    #[getter]
    fn name(&self) -> Option<String> {
        self.inner.name().map(str::to_string)
    }

    /// Every finding of the checker on this policy, as `policy check` gives them (a
    /// policy with errors does not load, so these are warnings), in source order.
    fn check(&self, py: Python<'_>) -> Vec<Diagnostic> {
        let b = self.builder.clone();
        let report = py.detach(move || b.check());
        report
            .diagnostics
            .iter()
            .map(|d| diagnostic(d, &report.sources))
            .collect()
    }

    /// Decides one call: a dict in any shape holdpoint reads, or JSON text. Raises
    /// `CallError` for something that is not a tool call.
    fn evaluate(&self, call: &Bound<'_, PyAny>) -> PyResult<Decision> {
        Ok(Decision::new(&self.inner, read_call(call)?))
    }

    /// Decides many calls, with the interpreter's lock released while it decides (other
    /// Python threads run meanwhile). Every call is read first: one bad call raises
    /// `CallError` and decides none.
    fn evaluate_many(&self, py: Python<'_>, calls: &Bound<'_, PyAny>) -> PyResult<Vec<Decision>> {
        let read: Vec<ToolCall> = calls
            .try_iter()?
            .map(|c| c.and_then(|c| read_call(&c)))
            .collect::<PyResult<_>>()?;
        let policy = self.inner.clone();
        Ok(py.detach(move || {
            read.into_iter()
                .map(|c| Decision::new(&policy, c))
                .collect()
        }))
    }

    fn __repr__(&self) -> String {
        match self.inner.name() {
            Some(n) => format!("<Policy {n}>"),
            None => "<Policy>".to_string(),
        }
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

#[pymethods]
impl Decision {
    /// `allow`, `audit`, `approve` or `deny`.
    #[getter]
    fn effect(&self) -> &'static str {
        self.effect.as_str()
    }

    /// Whether the call may run now (`allow` or `audit`).
    #[getter]
    fn runs(&self) -> bool {
        matches!(
            self.effect,
            holdpoint::Effect::Allow | holdpoint::Effect::Audit
        )
    }

    /// The rules that decided it.
    #[getter]
    fn rules(&self) -> Vec<String> {
        self.report().rules.clone()
    }

    /// For `approve`: `sync` or `async`.
    #[getter]
    fn mode<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let mode = self.report().approval.as_ref().map(|a| to_value(&a.mode));
        convert::to_python(py, &mode.unwrap_or(serde_json::Value::Null))
    }

    /// For `approve`: each gate (`rule`, `mode`, `by` groups, `quorum`, `within_s`,
    /// `on_timeout`, `decisions`, `show_diff`, `confirm_by_requester`, `reason`).
    #[getter]
    fn gates<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let gates = self
            .report()
            .approval
            .as_ref()
            .map(|a| to_value(&a.gates))
            .unwrap_or(serde_json::Value::Array(Vec::new()));
        convert::to_python(py, &gates)
    }

    /// The reasons of the rules that decided it (`rule`, `reason`).
    #[getter]
    fn reasons<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_python(py, &to_value(&self.report().reasons))
    }

    /// Conditions the policy could not judge (a value missing or of another type): such a
    /// gate asks a person.
    #[getter]
    fn unknown<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_python(py, &to_value(&self.report().unknown))
    }

    /// The whole decision as a dict (as `policy eval` prints it).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_python(py, &to_value(self.report()))
    }

    /// The whole decision as JSON text.
    fn to_json(&self) -> String {
        serde_json::to_string(self.report()).unwrap_or_default()
    }

    fn __repr__(&self) -> String {
        format!(
            "<Decision {} by {}>",
            self.effect.as_str(),
            self.report().rules.join(", ")
        )
    }
}

/// Checks a permit the service signed, with its public key (`GET /v1/keys`), against the
/// call about to run (`tool`, `args`): a good signature, not expired, the same tool and
/// arguments as approved. Gives the permit's claims; raises `PermitError` otherwise.
#[pyfunction]
fn verify_permit<'py>(
    py: Python<'py>,
    public_key: &str,
    permit: &str,
    tool: &str,
    args: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let args = convert::to_json(args)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let claims = holdpoint::approval::permit::verify(public_key, permit, tool, &args, now)
        .map_err(|e| PermitError::new_err(e.to_string()))?;
    convert::to_python(py, &to_value(&claims))
}

/// The `holdpoint._holdpoint` module.
#[pymodule]
fn _holdpoint(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<PyPolicy>()?;
    m.add_class::<Decision>()?;
    m.add_class::<Diagnostic>()?;
    m.add_function(wrap_pyfunction!(verify_permit, m)?)?;
    m.add("HoldpointError", py.get_type::<HoldpointError>())?;
    m.add("PolicyError", py.get_type::<PolicyError>())?;
    m.add("CallError", py.get_type::<CallError>())?;
    m.add("PermitError", py.get_type::<PermitError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
