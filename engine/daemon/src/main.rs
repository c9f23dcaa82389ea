//! `berthd`: the berth daemon.

fn main() {
    eprintln!("berthd: not built yet");
    std::process::exit(1);
}
