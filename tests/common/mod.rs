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
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::inherit());
    start_command(cmd)
}

/// Starts `cmd` (a `dtindex` command with its own environment and stderr) and waits for
/// its "listening on http://…" line; returns the process and the address it names.
pub fn start_command(mut cmd: Command) -> (Proc, String) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("dtindex starts");
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

/// The body of a GET, as text.
pub async fn get_text(url: &str) -> String {
    reqwest::get(url)
        .await
        .and_then(reqwest::Response::error_for_status)
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
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
    let (y, m, d) = HISTORY_START;
    let spec = dtindex::simulate::history::HistorySpec {
        seed,
        start: chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap(),
        every_days: 7,
        cycles,
        hostile_text: hostile_text.map(str::to_string),
    };
    add_history(&config, spec).await;
    config
}

/// Writes the finished cycles `spec` draws into the store of the settings file `config`,
/// as a daemon sharing that store would; returns their ids.
pub async fn add_history(
    config: &std::path::Path,
    spec: dtindex::simulate::history::HistorySpec,
) -> Vec<i64> {
    let settings = dtindex::config::Settings::load(config).unwrap();
    let store = dtindex::store::Store::open(&settings.database_url).unwrap();
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
        .unwrap()
}

/// A PostgreSQL schema of a test's own on the server `DTINDEX_TEST_PG_URL` names (which
/// `.ci/run` sets), created empty, so that tests sharing the server run in parallel.
pub struct PgSchema {
    /// For the daemons: the schema, and the schema's name as their application_name, so a
    /// test can cut exactly their connections.
    pub url: String,
    /// For the test's own look at the database: another application_name.
    pub observer_url: String,
    pub name: String,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection as _;
        if let Ok(base) = std::env::var("DTINDEX_TEST_PG_URL")
            && let Ok(mut admin) = <diesel::PgConnection as diesel::Connection>::establish(&base)
        {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// `None` (with a note) when the variable is not set, unless DTINDEX_REQUIRE_TOOLS is.
/// The schema is named after the test and the process, so that two runs of the suite on
/// one server (two checkouts) never meet; it is dropped when the test ends.
pub fn pg_schema(test: &str) -> Option<PgSchema> {
    let name = format!("{test}_{}", std::process::id());
    use diesel::connection::SimpleConnection as _;
    let Ok(base) = std::env::var("DTINDEX_TEST_PG_URL") else {
        if std::env::var_os("DTINDEX_REQUIRE_TOOLS").is_some() {
            panic!("DTINDEX_TEST_PG_URL must name a PostgreSQL server here");
        }
        eprintln!(
            "note: DTINDEX_TEST_PG_URL not set, PostgreSQL test skipped; set it, e.g. postgres://postgres@127.0.0.1:5432/test"
        );
        return None;
    };
    let mut admin = <diesel::PgConnection as diesel::Connection>::establish(&base)
        .unwrap_or_else(|e| panic!("connecting to {base}: {e}"));
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name};"
        ))
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let with =
        |app: &str| format!("{base}{sep}options=-csearch_path%3D{name}&application_name={app}");
    Some(PgSchema {
        url: with(&name),
        observer_url: with(&format!("{name}_observer")),
        name,
    })
}

/// Closes every connection the daemons of `schema` hold, as a failover or a network cut
/// would; how many were closed. The server itself keeps running for the other tests.
pub fn cut_connections(schema: &PgSchema) -> usize {
    use diesel::RunQueryDsl as _;
    let base = std::env::var("DTINDEX_TEST_PG_URL").unwrap();
    let mut admin = <diesel::PgConnection as diesel::Connection>::establish(&base).unwrap();
    diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind::<diesel::sql_types::Text, _>(&schema.name)
    .execute(&mut admin)
    .unwrap()
}

/// Starts `dtindex simulate` with `seed` and waits until it has written its registry to
/// `dir/agencies.toml` (and its CA beside it); returns the process and its base URL.
pub async fn start_simulator(dir: &std::path::Path, seed: u64) -> (Proc, String) {
    let registry = dir.join("agencies.toml");
    let seed = seed.to_string();
    let (sim, base) = start(&[
        "simulate",
        "--listen",
        "127.0.0.1:0",
        "--seed",
        &seed,
        "--write-registry",
        registry.to_str().expect("a UTF-8 temporary path"),
    ]);
    eventually("the simulator's registry", || async {
        registry.exists().then_some(())
    })
    .await;
    (sim, base)
}

/// Sends a signal (`-TERM`, `-HUP`) to a child with `kill`.
pub fn signal(proc: &Proc, which: &str) {
    let pid = proc.0.id().to_string();
    assert!(
        Command::new("kill")
            .args([which, &pid])
            .status()
            .unwrap()
            .success()
    );
}

/// Stops a child as systemd would, and waits for it to exit.
pub fn sigterm(proc: &mut Proc) -> std::process::ExitStatus {
    signal(proc, "-TERM");
    proc.0.wait().unwrap()
}
