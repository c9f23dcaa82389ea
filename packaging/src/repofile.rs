//! The docker-ce.repo-style `.repo` file: berth-{stable,test,nightly} with -debuginfo and
//! -source variants, only stable enabled.

/// The channels a repository publishes.
pub const CHANNELS: [&str; 3] = ["stable", "test", "nightly"];

/// Renders the `.repo` file from `template` (repo/berth.repo.in), in which `@BASE_URL@`,
/// `@GPGCHECK@` and `@GPGKEY@` are replaced. Unsigned repositories get gpgcheck=0.
pub fn render(template: &str, base_url: &str, signed: bool) -> String {
    let base = base_url.trim_end_matches('/');
    let check = if signed { "1" } else { "0" };
    template
        .replace("@BASE_URL@", base)
        .replace("@GPGCHECK@", check)
}
