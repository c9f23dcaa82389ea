//! `berth`: the berth command-line client.

fn main() {
    eprintln!("berth: not built yet");
    std::process::exit(1);
}
