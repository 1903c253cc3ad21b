//! The shipped unit must pass `systemd-analyze verify` without a warning, and its
//! hardening must keep `systemd-analyze security` exposure at 2.0 or below.

mod common;

use std::path::Path;

/// The unit as installed, with ExecStart pointing at the binary under test (verify checks
/// that the executable exists).
fn installed_unit(dir: &Path) -> std::path::PathBuf {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/dtindex.service"),
    )
    .unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/dtindex serve"));
    let unit = unit.replace("/usr/local/bin/dtindex", env!("CARGO_BIN_EXE_dtindex"));
    let path = dir.join("dtindex.service");
    std::fs::write(&path, unit).unwrap();
    path
}

#[test]
fn the_unit_verifies_cleanly() {
    let Some(mut analyze) = common::tool("systemd-analyze", "systemd") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let unit = installed_unit(dir.path());
    let out = analyze.arg("verify").arg(&unit).output().unwrap();
    common::assert_silent_success(&out, "systemd-analyze verify");
}

#[test]
fn the_unit_is_hardened() {
    let Some(mut analyze) = common::tool("systemd-analyze", "systemd") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let unit = installed_unit(dir.path());
    let out = analyze
        .args(["security", "--offline=yes"])
        .arg(&unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let exposure: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for dtindex.service:")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in: {text}"));
    assert!(exposure <= 2.0, "exposure {exposure} > 2.0:\n{text}");
}
