//! Finding a project's files on disk: the policies under a path and, for each policy, its
//! `.gate` files, its tool catalog, its approvers file, its `*.test.yaml` cases and the lint
//! levels (`.policy.yaml`) in force. Every command and the [`PolicyBuilder`] find files
//! here, so they all find the same ones.
//!
//! A *policy* is a `.gate` file, or a directory holding `.gate` files (all of them, sorted
//! by name, form one policy). Beside it may be:
//!
//! | file | names tried, in order |
//! |---|---|
//! | tool catalog | [`CATALOG_NAMES`] |
//! | approvers | [`APPROVERS_NAMES`] |
//! | test cases | every `*.test.yaml` (or `.test.yml`) |
//! | lint levels | [`LINT_LEVELS_NAME`], here or in any directory above |
//!
//! Directories are walked once each, by identity: a symbolic link back to a directory
//! already seen is skipped, so a link cycle neither hangs a walk nor loads a policy twice.
//!
//! [`PolicyBuilder`]: crate::PolicyBuilder

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// File names a policy's tool catalog may have, tried in order.
pub const CATALOG_NAMES: [&str; 3] = ["tools.yaml", "tools.yml", "tools.json"];

/// File names of an approvers file beside a policy, tried in order.
pub const APPROVERS_NAMES: [&str; 2] = ["approvers.yaml", "approvers.yml"];

/// The lint-levels file, looked for beside a policy and in every directory above it.
pub const LINT_LEVELS_NAME: &str = ".policy.yaml";

/// A path that could not be read as a project.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectError {
    /// A file or directory could not be read.
    #[error("cannot read `{path}`: {message}")]
    Io {
        /// The path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A directory that holds no `.gate` file, neither directly nor beneath.
    #[error("no `.gate` file under `{path}`")]
    NoPolicy {
        /// The directory.
        path: String,
    },
}

impl ProjectError {
    fn io(path: &Path, e: &std::io::Error) -> ProjectError {
        ProjectError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}

/// One policy on disk and the files that belong to it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyFiles {
    /// The path as found: a `.gate` file or a policy directory.
    pub path: PathBuf,
    /// The directory the policy's other files sit in (`.` for a bare file name).
    pub dir: PathBuf,
    /// Its `.gate` files, sorted.
    pub gates: Vec<PathBuf>,
    /// The tool catalog beside it, if any.
    pub catalog: Option<PathBuf>,
    /// The approvers file beside it, if any.
    pub approvers: Option<PathBuf>,
    /// The nearest lint-levels file at or above its directory, if any.
    pub lint_levels: Option<PathBuf>,
}

impl PolicyFiles {
    /// The policy at `path`: a `.gate` file, or a directory whose `.gate` files form it.
    pub fn at(path: &Path) -> Result<PolicyFiles, ProjectError> {
        let meta = std::fs::metadata(path).map_err(|e| ProjectError::io(path, &e))?;
        let (gates, dir) = if meta.is_dir() {
            let gates = gate_files(path)?;
            if gates.is_empty() {
                return Err(ProjectError::Io {
                    path: path.display().to_string(),
                    message: "the directory holds no `.gate` file".into(),
                });
            }
            (gates, path.to_path_buf())
        } else {
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (vec![path.to_path_buf()], dir)
        };
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        Ok(PolicyFiles {
            path: path.to_path_buf(),
            catalog: first_file(&dir, &CATALOG_NAMES),
            approvers: first_file(&dir, &APPROVERS_NAMES),
            lint_levels: lint_levels_for(&dir),
            gates,
            dir,
        })
    }

    /// Whether the policy is a directory (not a single `.gate` file).
    pub fn is_dir(&self) -> bool {
        self.path.is_dir()
    }

    /// The `*.test.yaml` (or `.test.yml`) files beside a policy directory, sorted; none
    /// for a single file.
    pub fn tests(&self) -> Result<Vec<PathBuf>, ProjectError> {
        if !self.is_dir() {
            return Ok(Vec::new());
        }
        let mut out: Vec<PathBuf> = entries(&self.dir)?
            .into_iter()
            .filter(|p| {
                p.is_file()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
            })
            .collect();
        out.sort();
        Ok(out)
    }
}

/// Every policy under `path`: the path itself if it is a file or holds `.gate` files, and
/// each directory beneath it that does, in sorted order. A directory with no policy
/// anywhere beneath it is [`ProjectError::NoPolicy`].
pub fn discover(path: &Path) -> Result<Vec<PolicyFiles>, ProjectError> {
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    walk(path, &mut seen, &mut found)?;
    if found.is_empty() {
        return Err(ProjectError::NoPolicy {
            path: path.display().to_string(),
        });
    }
    found.iter().map(|p| PolicyFiles::at(p)).collect()
}

fn walk(
    path: &Path,
    seen: &mut HashSet<PathBuf>,
    out: &mut Vec<PathBuf>,
) -> Result<(), ProjectError> {
    let meta = std::fs::metadata(path).map_err(|e| ProjectError::io(path, &e))?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    // A directory reached a second time (through a link) is neither loaded nor walked again.
    let identity = path
        .canonicalize()
        .map_err(|e| ProjectError::io(path, &e))?;
    if !seen.insert(identity) {
        return Ok(());
    }
    if !gate_files(path)?.is_empty() {
        out.push(path.to_path_buf());
    }
    let mut subdirs: Vec<PathBuf> = entries(path)?.into_iter().filter(|p| p.is_dir()).collect();
    subdirs.sort();
    for d in subdirs {
        walk(&d, seen, out)?;
    }
    Ok(())
}

/// The `.gate` files directly in a directory, sorted.
pub fn gate_files(dir: &Path) -> Result<Vec<PathBuf>, ProjectError> {
    let mut files: Vec<PathBuf> = entries(dir)?
        .into_iter()
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "gate"))
        .collect();
    files.sort();
    Ok(files)
}

/// The approvers file beside the policy at `policy` (a `.gate` file or a directory), if any.
pub fn approvers_beside(policy: &Path) -> Option<PathBuf> {
    let dir = if policy.is_dir() {
        policy.to_path_buf()
    } else {
        match policy.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    first_file(&dir, &APPROVERS_NAMES)
}

/// The nearest lint-levels file at or above `dir`, if any.
pub fn lint_levels_for(dir: &Path) -> Option<PathBuf> {
    let start = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let start = start.canonicalize().ok()?;
    start
        .ancestors()
        .map(|d| d.join(LINT_LEVELS_NAME))
        .find(|p| p.is_file())
}

fn first_file(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>, ProjectError> {
    Ok(std::fs::read_dir(dir)
        .map_err(|e| ProjectError::io(dir, &e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect())
}
