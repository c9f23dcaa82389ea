//! `berth-runtime`: a runc-compatible command line over the berth_runtime library.

fn main() {
    berth_runtime::init_hook();
    eprintln!("berth-runtime: CLI not built yet");
    std::process::exit(1);
}
