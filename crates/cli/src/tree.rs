//! `policy tree`.

use std::path::PathBuf;

use super::{Exit, load_policy};

/// Arguments of `policy tree`.
#[derive(clap::Args)]
pub struct Args {
    /// The policy: a .gate file or a policy directory.
    path: PathBuf,
    /// Tool catalog; replaces any tools.yaml beside the policy.
    #[arg(long, value_name = "CATALOG")]
    tools: Option<PathBuf>,
}

pub(super) fn run(args: Args) -> Exit {
    let policy = match load_policy(&args.path, args.tools.as_ref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    say_raw!("{}", holdpoint::tools::tree(&policy));
    Exit::Ok
}
