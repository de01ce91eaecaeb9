//! `policy gen`: a generated policy directory and a JSONL file of calls.

use std::io::Write as _;
use std::path::PathBuf;

use super::Exit;
use holdpoint::tools::generate::{Dialect, generate};

/// Arguments of `policy gen`.
#[derive(clap::Args)]
pub struct Args {
    /// Number of rules.
    #[arg(long, default_value_t = 100)]
    rules: usize,
    /// Number of calls.
    #[arg(long, default_value_t = 1000)]
    calls: usize,
    /// Seed: the same seed gives the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Keep to what Cedar and Rego can express too (no regex, quantifiers or len()).
    #[arg(long)]
    portable: bool,
    /// Output directory: gets policy.gate, tools.yaml and calls.jsonl.
    #[arg(long)]
    out: PathBuf,
}

pub(super) fn run(args: Args) -> Exit {
    let dialect = if args.portable {
        Dialect::Portable
    } else {
        Dialect::Full
    };
    let g = generate(args.rules, args.calls, args.seed, dialect);
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&args.out)?;
        std::fs::write(args.out.join("policy.gate"), &g.policy)?;
        std::fs::write(args.out.join("tools.yaml"), &g.catalog)?;
        let mut f = std::io::BufWriter::new(std::fs::File::create(args.out.join("calls.jsonl"))?);
        for c in &g.calls {
            f.write_all(c.as_bytes())?;
            f.write_all(b"\n")?;
        }
        f.flush()
    };
    match write() {
        Ok(()) => {
            say!(
                "wrote policy.gate ({} rules), tools.yaml and calls.jsonl ({} calls) to {}",
                args.rules,
                args.calls,
                args.out.display()
            );
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: cannot write to `{}`: {e}", args.out.display());
            Exit::Usage
        }
    }
}
