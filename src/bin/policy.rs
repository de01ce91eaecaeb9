//! The `policy` command: check, evaluate and inspect gate policies.

fn main() {
    std::process::exit(holdpoint::cli::main());
}
