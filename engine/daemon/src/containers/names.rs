//! Docker-style generated container names ("brave_lovelace") for containers created
//! without `--name`.

const ADJECTIVES: &[&str] = &[
    "admiring", "bold", "brave", "busy", "calm", "clever", "dazzling", "eager", "elegant",
    "festive", "focused", "gentle", "happy", "jolly", "keen", "kind", "lucid", "modest", "nifty",
    "pensive", "quirky", "relaxed", "serene", "sharp", "stoic", "tender", "vibrant", "wizardly",
    "youthful", "zealous",
];

const SURNAMES: &[&str] = &[
    "archimedes",
    "babbage",
    "bell",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "euler",
    "faraday",
    "fermat",
    "galileo",
    "hopper",
    "hypatia",
    "kepler",
    "knuth",
    "lamport",
    "lovelace",
    "maxwell",
    "newton",
    "noether",
    "pascal",
    "ritchie",
    "shannon",
    "thompson",
    "turing",
    "wozniak",
];

/// A free name derived from the id's bytes; a numeric suffix resolves collisions.
pub fn generate(id: &str, is_free: impl Fn(&str) -> bool) -> String {
    let seed = u64::from_str_radix(&id[..id.len().min(12)], 16).unwrap_or(0);
    let base = format!(
        "{}_{}",
        ADJECTIVES[(seed % ADJECTIVES.len() as u64) as usize],
        SURNAMES[((seed / 97) % SURNAMES.len() as u64) as usize]
    );
    if is_free(&base) {
        return base;
    }
    (1..)
        .map(|n| format!("{base}{n}"))
        .find(|candidate| is_free(candidate))
        .unwrap_or(base)
}
