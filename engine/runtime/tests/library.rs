//! The library API as berthd and xtask use it, against the real kernel (run as root).

mod common;

use common::*;

#[test]
fn run_echo_prints_and_exits_zero() {
    let bundle = TestBundle::new(&["echo", "hello from berth"]);
    let (code, stdout, stderr) = run_captured(&bundle);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "hello from berth\n"),
        "stderr: {stderr}"
    );
}
