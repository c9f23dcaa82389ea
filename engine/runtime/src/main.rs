//! `berth-runtime`: a runc-compatible command line over the berth_runtime library.

mod cli;

fn main() {
    // A container init is this binary re-executed: it never returns from here.
    berth_runtime::init_hook();
    std::process::exit(cli::main());
}
