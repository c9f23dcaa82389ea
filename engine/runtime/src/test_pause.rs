//! Test-only crash points: with `BERTHD_TEST_PAUSE_AT=<point>` in the environment, the code
//! reaching [`pause_at`] for that point logs it and sleeps forever, so a test can SIGKILL the
//! process at a known step (of a container's start, say) instead of relying on timing. Never
//! set it outside tests.

use std::time::Duration;

/// The environment variable naming the point to stop at.
pub const PAUSE_VARIABLE: &str = "BERTHD_TEST_PAUSE_AT";

/// Stops the calling thread for good when `PAUSE_VARIABLE` names `point`; returns at once
/// otherwise.
pub fn pause_at(point: &str) {
    if std::env::var_os(PAUSE_VARIABLE).is_none_or(|wanted| wanted != point) {
        return;
    }
    tracing::warn!(point, "test-only pause at {point} ({PAUSE_VARIABLE})");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
