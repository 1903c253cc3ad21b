// Each test crate uses a different part of these helpers.
#![allow(dead_code)]

//! Helpers shared by the integration tests.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

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

pub const BIN: &str = env!("CARGO_BIN_EXE_dtindex");

/// A child process killed when the test ends, however it ends.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `dtindex args…` and waits for its "listening on http://…" line.
pub fn start(args: &[&str]) -> (Proc, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("dtindex starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("dtindex exited before listening")
            .unwrap();
        if let Some(at) = line.find("listening on ") {
            break line[at + "listening on ".len()..].trim().to_string();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Proc(child), base)
}

pub async fn get_json(url: &str) -> (u16, Value) {
    let resp = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Polls until `check` gives a value; fails after a generous bound (not a timing assertion).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..600 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gave up waiting for {what}");
}

/// The first day of the seeded history the page, report and OpenAPI tests serve.
pub const HISTORY_START: (i32, u32, u32) = (2026, 6, 1);

/// A daemon that never crawls, serving a store holding `cycles` weekly cycles of the
/// built-in registry drawn from `seed` (see `dtindex::simulate::history`), from
/// [`HISTORY_START`]. Returns the daemon, its base URL and the settings file.
pub async fn history_daemon(
    dir: &std::path::Path,
    seed: u64,
    cycles: u32,
    hostile_text: Option<&str>,
) -> (Proc, String, std::path::PathBuf) {
    let config = write_history(dir, seed, cycles, hostile_text).await;
    let (proc, base) = start(&["serve", "--config", config.to_str().unwrap()]);
    (proc, base, config)
}

/// Writes the settings and the seeded history of [`history_daemon`]; returns the settings
/// file.
pub async fn write_history(
    dir: &std::path::Path,
    seed: u64,
    cycles: u32,
    hostile_text: Option<&str>,
) -> std::path::PathBuf {
    let config = dir.join("dtindex.toml");
    std::fs::write(
        &config,
        r#"[server]
listen = "127.0.0.1:0"
[state]
dir = "state"
[schedule]
# Never during a test: the store holds the history the test wrote.
cron = "0 0 0 1 1 *"
run_at_start = false
"#,
    )
    .unwrap();
    let settings = dtindex::config::Settings::load(&config).unwrap();
    let store = dtindex::store::Store::open(&settings.database_url).unwrap();
    let (y, m, d) = HISTORY_START;
    let spec = dtindex::simulate::history::HistorySpec {
        seed,
        start: chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap(),
        every_days: 7,
        cycles,
        hostile_text: hostile_text.map(str::to_string),
    };
    store
        .run(move |c| {
            dtindex::simulate::history::write(
                c,
                &dtindex::registry::Registry::builtin(),
                &dtindex::score::Method::builtin(),
                &spec,
            )
        })
        .await
        .unwrap();
    config
}
