//! `berth-runtime`: a runc-compatible command line over the berth_runtime library.

fn main() {
    eprintln!("berth-runtime: not built yet");
    std::process::exit(1);
}
