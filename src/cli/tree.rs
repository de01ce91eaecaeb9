//! `policy tree`.

use std::path::PathBuf;

use super::{OK, builder, load_catalog, report_load_error};

/// Arguments of `policy tree`.
#[derive(clap::Args)]
pub struct Args {
    /// The policy: a .gate file or a policy directory.
    path: PathBuf,
    /// Tool catalog; replaces any tools.yaml beside the policy.
    #[arg(long, value_name = "CATALOG")]
    tools: Option<PathBuf>,
}

pub(super) fn run(args: Args) -> i32 {
    let catalog = match load_catalog(args.tools.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let policy = match builder(&args.path, catalog.as_ref()).and_then(|b| b.build()) {
        Ok(p) => p,
        Err(e) => return report_load_error(&e),
    };
    print!("{}", policy.tree().render(policy.program()));
    OK
}
