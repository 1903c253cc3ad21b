//! Helpers shared by the integration tests.

use std::process::Command;

/// An external tool (promtool, systemd-analyze) a test runs. `.ci/run` installs them and
/// sets DTINDEX_REQUIRE_TOOLS, so there a missing tool fails the test; on a developer's
/// machine without it the check is skipped with a note saying what to install.
pub fn tool(name: &str, package: &str) -> Option<Command> {
    let found = Command::new(name).arg("--version").output().is_ok();
    if found {
        return Some(Command::new(name));
    }
    if std::env::var_os("DTINDEX_REQUIRE_TOOLS").is_some() {
        panic!("{name} is required here (Debian package `{package}`)");
    }
    eprintln!("note: {name} not found, check skipped; install the Debian package `{package}`");
    None
}

/// A tool's check passed without printing a single line (warnings count as failures).
pub fn assert_silent_success(out: &std::process::Output, what: &str) {
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "{what}: {said}"
    );
}
