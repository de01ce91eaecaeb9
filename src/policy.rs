//! Loading a policy (a string, a `.gate` file, or a directory of them) and evaluating
//! calls against it. This is the embedding API.

use std::path::Path;
use std::sync::Arc;

use crate::approvers::{ApproversError, ApproversFile};
use crate::call::{CallError, ToolCall};
use crate::catalog::{Catalog, CatalogError};
use crate::check;
use crate::check::levels::{LevelsError, LintConfig};
use crate::compile::Tree;
use crate::diagnostic::{Code, Diagnostic};
use crate::eval::decision::Decision;
use crate::eval::fast::{self, CallReader, JsonDecision};
use crate::eval::reference;
use crate::eval::standing::{ToolIndex, ToolStanding};
use crate::ir::Program;
use crate::project::{PolicyFiles, ProjectError};
use crate::source::{FileId, SourceMap, Span};
use crate::syntax;
use crate::yaml::Place;

/// A compiled policy: immutable, `Send + Sync`, shared across threads without locks.
#[derive(Debug)]
pub struct Policy {
    program: Program,
    tree: Tree,
    tools: Option<ToolIndex>,
    warnings: Vec<Diagnostic>,
    /// [`Policy::canonical_text`], computed once (it formats every file).
    canonical: std::sync::OnceLock<String>,
}

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file or directory could not be read.
    #[error("cannot read `{path}`: {message}")]
    Io {
        /// The path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The tool catalog could not be read.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The policy has errors; each carries its span.
    #[error("{}", render_all(diagnostics, sources))]
    Invalid {
        /// Every finding (errors and warnings).
        diagnostics: Vec<Diagnostic>,
        /// The sources, for rendering.
        sources: SourceMap,
    },
}

fn render_all(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let errors: Vec<String> = diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.render(sources))
        .collect();
    errors.join("\n").trim_end().to_string()
}

/// The result of checking: every finding, the sources they point into, and the program
/// when there was no error.
#[derive(Debug)]
pub struct Report {
    /// Errors and warnings, in source order.
    pub diagnostics: Vec<Diagnostic>,
    /// The sources.
    pub sources: SourceMap,
    /// The checked program, when there was no error.
    pub program: Option<Program>,
}

impl Report {
    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Collects sources and a catalog, then checks or builds.
#[derive(Debug, Default, Clone)]
pub struct PolicyBuilder {
    sources: SourceMap,
    catalog: Option<Arc<Catalog>>,
    catalog_error: Option<CatalogError>,
    lints: Option<Result<LintConfig, LevelsError>>,
    approvers: Option<Result<Arc<ApproversFile>, ApproversError>>,
}

impl PolicyBuilder {
    /// An empty builder.
    pub fn new() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// Adds source text under a display name.
    pub fn source(mut self, name: &str, text: &str) -> PolicyBuilder {
        self.sources.add(name, text);
        self
    }

    /// Adds a `.gate` file, or every `.gate` file of a directory (sorted by name). The
    /// catalog, approvers file and lint levels found beside it (see [`crate::project`]) are
    /// used unless ones were given.
    pub fn path(self, path: &Path) -> Result<PolicyBuilder, LoadError> {
        let files = PolicyFiles::at(path).map_err(|e| match e {
            ProjectError::Io { path, message } => LoadError::Io { path, message },
            other => LoadError::Io {
                path: path.display().to_string(),
                message: other.to_string(),
            },
        })?;
        self.files(&files)
    }

    /// Adds a policy found by [`crate::project`]: its `.gate` files, and its catalog,
    /// approvers file and lint levels unless ones were given.
    pub fn files(mut self, files: &PolicyFiles) -> Result<PolicyBuilder, LoadError> {
        for f in &files.gates {
            let text = std::fs::read_to_string(f).map_err(|e| LoadError::Io {
                path: f.display().to_string(),
                message: e.to_string(),
            })?;
            self.sources.add(f.display().to_string(), text);
        }
        if self.lints.is_none()
            && let Some(found) = &files.lint_levels
        {
            self.lints = Some(LintConfig::load(found));
        }
        if self.approvers.is_none()
            && let Some(found) = &files.approvers
        {
            self.approvers = Some(ApproversFile::load(found).map(Arc::new));
        }
        if self.catalog.is_none()
            && self.catalog_error.is_none()
            && let Some(found) = &files.catalog
        {
            match Catalog::load(found) {
                Ok(c) => self.catalog = Some(Arc::new(c)),
                Err(e) => self.catalog_error = Some(e),
            }
        }
        Ok(self)
    }

    /// Uses this catalog (replacing any found beside the files).
    pub fn catalog(mut self, catalog: Catalog) -> PolicyBuilder {
        self.catalog = Some(Arc::new(catalog));
        self.catalog_error = None;
        self
    }

    /// Checks the gates' groups against these approvers (replacing any `approvers.yaml`
    /// found beside the files).
    pub fn approvers(mut self, approvers: ApproversFile) -> PolicyBuilder {
        self.approvers = Some(Ok(Arc::new(approvers)));
        self
    }

    /// Uses these lint levels (replacing any `.policy.yaml` found).
    pub fn lints(mut self, config: LintConfig) -> PolicyBuilder {
        self.lints = Some(Ok(config));
        self
    }

    /// The catalog in use, if any.
    pub fn catalog_ref(&self) -> Option<&Catalog> {
        self.catalog.as_deref()
    }

    /// Why the catalog found beside the files could not be read, if it could not
    /// (`build` then fails with it).
    pub fn catalog_error(&self) -> Option<&CatalogError> {
        self.catalog_error.as_ref()
    }

    /// Parses and checks, every lint included; never fails, every problem is a finding.
    pub fn check(self) -> Report {
        self.check_with(true)
    }

    /// The steps: findings about the files beside the policy, the raw-text lints, parsing,
    /// then (when everything parsed) checking and the approver groups; last, the lint
    /// levels and `# policy: allow(...)` comments apply.
    fn check_with(mut self, thorough: bool) -> Report {
        let mut data = Vec::new();
        if let Some(e) = &self.catalog_error {
            data.push(DataFinding::catalog(e));
        }
        let config = match &self.lints {
            Some(Ok(c)) => c.clone(),
            Some(Err(e)) => {
                data.push(DataFinding::levels(e));
                LintConfig::default()
            }
            None => LintConfig::default(),
        };
        let mut diagnostics = self.text_findings(&config);
        let parsed = self.parse(&mut diagnostics);
        let mut program = None;
        // A broken catalog or lint-levels file is an error: nothing is checked against it.
        if data.is_empty() && !diagnostics.iter().any(Diagnostic::is_error) {
            let checked = check::check_with(
                &parsed,
                self.sources.clone(),
                self.catalog.clone(),
                thorough,
            );
            diagnostics.extend(checked.diagnostics);
            match (&self.approvers, &checked.program) {
                (Some(Ok(approvers)), Some(program)) => {
                    diagnostics.extend(check::lints::approver_groups(program, approvers));
                }
                (Some(Err(e)), _) => data.push(DataFinding::approvers(e)),
                _ => {}
            }
            program = checked.program;
        }
        // The files beside the policy join the sources only now, so that they are never
        // parsed as policy text; their findings point into them.
        diagnostics.extend(data.into_iter().map(|d| d.attach(&mut self.sources)));
        let mut diagnostics = config.apply(diagnostics, &self.sources);
        check::sort(&mut diagnostics);
        // A lint raised to an error fails the policy like any error.
        let failed = diagnostics.iter().any(Diagnostic::is_error);
        Report {
            diagnostics,
            sources: self.sources,
            program: program.filter(|_| !failed),
        }
    }

    /// Findings on the raw text of each source: bidirectional controls and look-alike
    /// letters, and (when asked for) a layout other than `policy fmt`'s.
    fn text_findings(&self, config: &LintConfig) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for (id, file) in self.sources.iter() {
            out.extend(crate::check::lints::scan_text(id, &file.text));
            if config.wants(Code::NotFormatted)
                && let Ok(formatted) = crate::syntax::format::format_source(&file.text)
                && formatted != *file.text
            {
                let first = file.text.lines().next().map_or(0, str::len);
                out.push(
                    Diagnostic::new(
                        Code::NotFormatted,
                        crate::source::Span::new(id, 0, first),
                        format!("`{}` is not in the canonical layout", file.name),
                    )
                    .with_help(format!("run `policy fmt --write {}`", file.name)),
                );
            }
        }
        out
    }

    /// Every source parsed; syntax errors join `diagnostics`.
    fn parse(&self, diagnostics: &mut Vec<Diagnostic>) -> Vec<(FileId, crate::ast::File)> {
        let mut parsed = Vec::new();
        for (id, file) in self.sources.iter() {
            match syntax::parse(id, &file.text) {
                Ok(ast) => parsed.push((id, ast)),
                Err(mut errs) => diagnostics.append(&mut errs),
            }
        }
        parsed
    }

    /// Parses, checks and compiles.
    pub fn build(self) -> Result<Policy, LoadError> {
        if let Some(e) = self.catalog_error.clone() {
            return Err(LoadError::Catalog(e));
        }
        // Loading for evaluation skips the lints that compare rules pairwise.
        let report = self.check_with(false);
        match report.program {
            Some(program) => Ok(Policy::from_program(program, report.diagnostics)),
            None => Err(LoadError::Invalid {
                diagnostics: report.diagnostics,
                sources: report.sources,
            }),
        }
    }
}

impl Policy {
    /// Loads a policy from source text.
    pub fn from_source(text: &str) -> Result<Policy, LoadError> {
        PolicyBuilder::new().source("<policy>", text).build()
    }

    /// Loads a `.gate` file or a directory of them (with its `tools.yaml`, if any).
    pub fn load(path: impl AsRef<Path>) -> Result<Policy, LoadError> {
        PolicyBuilder::new().path(path.as_ref())?.build()
    }

    /// A builder for sources and catalogs.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::new()
    }

    fn from_program(program: Program, warnings: Vec<Diagnostic>) -> Policy {
        let tree = Tree::build(&program);
        let tools = program.catalog.as_deref().map(ToolIndex::new);
        Policy {
            program,
            tree,
            tools,
            warnings,
            canonical: std::sync::OnceLock::new(),
        }
    }

    /// Decides a call with the compiled tree. Does not allocate for a tool the catalog
    /// lists (or without a catalog).
    ///
    /// With a catalog, a tool it does not list is reported ([`Decision::unknown_tool`]),
    /// and one that equals a listed tool once case and Unicode compatibility are folded is
    /// refused as a confusable ([`Decision::confusable_with`]).
    pub fn evaluate(&self, call: &ToolCall) -> Decision<'_> {
        self.standing(self.tree.evaluate(&self.program, call), &call.tool)
    }

    /// Decides a call from its JSON text, as [`ToolCall::from_json`] and
    /// [`Policy::evaluate`] would, in one pass over the text that keeps only what the
    /// policy reads. Reuse one [`CallReader`] for many calls: deciding a call in
    /// holdpoint's own shape then does not allocate. Other shapes, and decisions that need
    /// more of the call than the policy's paths, are read in full: the result is the same.
    pub fn evaluate_json<'a>(
        &'a self,
        text: &'a str,
        reader: &'a mut CallReader,
    ) -> Result<JsonDecision<'a>, CallError> {
        if let Some(call) = fast::scan(text, &self.tree.paths, reader)
            && let Some(d) = self.tree.evaluate_scanned(&self.program, &call)
        {
            let decision = self.standing(d, call.tool);
            return Ok(JsonDecision::scanned(decision, call));
        }
        let call = ToolCall::from_json(text)?;
        let decision = self.evaluate(&call);
        Ok(JsonDecision::full(decision, call))
    }

    /// Decides a call with the reference interpreter (every rule in turn).
    pub fn evaluate_reference(&self, call: &ToolCall) -> Decision<'_> {
        self.standing(reference::evaluate(&self.program, call), &call.tool)
    }

    /// The call's tool against the catalog: reported when unlisted, refused when a
    /// confusable of a listed one.
    fn standing<'p>(&'p self, mut decision: Decision<'p>, tool: &str) -> Decision<'p> {
        if let Some(index) = &self.tools {
            match index.standing(tool) {
                ToolStanding::Confusable(listed) => decision.refuse_confusable(listed),
                standing => decision.tool = standing,
            }
        }
        decision
    }

    /// What calls of `tool` can come to under this policy (the rules that can apply, the
    /// default, the `never auto` classes), for showing beside the tool before any call.
    pub fn stance(&self, tool: &str) -> crate::ToolStance {
        crate::ToolStance::of(&self.program, &self.tree, tool)
    }

    /// The `policy "name"`, if given.
    pub fn name(&self) -> Option<&str> {
        self.program.name.as_deref()
    }

    /// The checked program.
    pub(crate) fn program(&self) -> &Program {
        &self.program
    }

    /// The compiled tree.
    pub(crate) fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The policy's source texts, with their names.
    pub fn sources(&self) -> &SourceMap {
        &self.program.sources
    }

    /// What the policy means, as text: each file's code without comments or layout
    /// (formatted, then every comment dropped and every run of blanks made one space), in
    /// an order that does not depend on the files' names, then the catalog's tools. Adding
    /// a comment, running `policy fmt`, or renaming or moving a file leaves it as it was;
    /// changing a rule, an option or the catalog changes it. Approval requests are bound to
    /// its hash.
    pub fn canonical_text(&self) -> String {
        self.canonical
            .get_or_init(|| self.compute_canonical_text())
            .clone()
    }

    fn compute_canonical_text(&self) -> String {
        let mut files: Vec<String> = self
            .sources()
            .iter()
            .map(|(_, f)| canonical_code(&f.text))
            .collect();
        files.sort_unstable();
        let mut out = files.join("\n");
        if let Some(catalog) = self.catalog() {
            out.push_str(&format!("\ncatalog {:?}", catalog.tools));
        }
        out
    }

    /// The tool catalog the policy was checked against, if any.
    pub fn catalog(&self) -> Option<&Catalog> {
        self.program.catalog.as_deref()
    }

    /// Warnings found while loading.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }
}

impl std::str::FromStr for Policy {
    type Err = LoadError;

    fn from_str(s: &str) -> Result<Policy, LoadError> {
        Policy::from_source(s)
    }
}

/// A finding about a file beside the policy (catalog, approvers, lint levels), kept until
/// the end of checking so that it can point into that file.
struct DataFinding {
    code: Code,
    file: String,
    place: Option<Place>,
    /// What is wrong, without the file and place.
    message: String,
    /// The whole error, for a finding that cannot point into the file.
    whole: String,
}

impl DataFinding {
    fn catalog(e: &CatalogError) -> DataFinding {
        match e {
            CatalogError::Invalid {
                file,
                place,
                message,
            } => DataFinding {
                code: Code::BadCatalog,
                file: file.clone(),
                place: *place,
                message: format!("invalid tool catalog: {message}"),
                whole: e.to_string(),
            },
            CatalogError::Io { file, .. } => DataFinding {
                code: Code::BadCatalog,
                file: file.clone(),
                place: None,
                message: e.to_string(),
                whole: e.to_string(),
            },
        }
    }

    fn levels(e: &LevelsError) -> DataFinding {
        DataFinding {
            code: Code::BadConfig,
            file: e.file.clone(),
            place: e.place,
            message: format!("invalid lint levels: {}", e.message),
            whole: e.to_string(),
        }
    }

    fn approvers(e: &ApproversError) -> DataFinding {
        DataFinding {
            code: Code::BadApprovers,
            file: e.file.clone(),
            place: e.place,
            message: format!("invalid approvers file: {}", e.message),
            whole: e.to_string(),
        }
    }

    /// The finding, pointing into the file (added to `sources`) when the place is known
    /// and the file still reads.
    fn attach(self, sources: &mut SourceMap) -> Diagnostic {
        let text = self
            .place
            .and_then(|p| std::fs::read_to_string(&self.file).ok().map(|t| (p, t)));
        match text {
            Some((place, text)) if place.offset <= text.len() => {
                let width = text
                    .get(place.offset..)
                    .and_then(|rest| rest.chars().next())
                    .map_or(0, char::len_utf8);
                let id = sources.add(self.file, text);
                let span = Span::new(id, place.offset, place.offset + width);
                Diagnostic::new(self.code, span, self.message)
            }
            _ => Diagnostic::new(self.code, None, self.whole),
        }
    }
}

/// A file's code without comments or layout: formatted, every comment dropped, every run
/// of blanks outside strings made one space.
fn canonical_code(text: &str) -> String {
    use crate::syntax::comments::{Region, regions};
    let formatted = crate::format_source(text).unwrap_or_else(|_| text.to_string());
    let mut out = String::new();
    let mut blank = false;
    for (_, c, region) in regions(&formatted) {
        match region {
            Region::Comment => {}
            Region::Code if c.is_whitespace() => blank = true,
            _ => {
                if blank && !out.is_empty() {
                    out.push(' ');
                }
                blank = false;
                out.push(c);
            }
        }
    }
    out
}
