//! The state directory fails under the daemon: the disk fills up, the file system turns
//! read-only. Each time the cycle fails with an error that says so, the last finished
//! cycle stays whole and readable, the database passes SQLite's integrity check, and the
//! next cycle after the space (or the write access) returns completes.
//!
//! The state directory is a real tmpfs of its own (`mount -t tmpfs -o size=…`), so the
//! test needs to be allowed to mount (root, as in CI); elsewhere it is skipped with a
//! note, and under DTINDEX_REQUIRE_TOOLS it fails instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use diesel::RunQueryDsl as _;
use dtindex::config::{Live, Settings};
use dtindex::cycle::Crawler;
use dtindex::registry::Registry;
use dtindex::{daemon, simulate, store};
use tokio_util::sync::CancellationToken;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        if mounted {
            return Some(Tmpfs { dir });
        }
        if std::env::var_os("DTINDEX_REQUIRE_TOOLS").is_some() {
            panic!("mounting a tmpfs is required here (run as root)");
        }
        eprintln!("note: cannot mount a tmpfs here (not root?); disk-full checks skipped");
        None
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, options: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(self.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the file system at `dir` to the last byte; returns the filler.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write as _;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 * 1024];
    let mut small = vec![0u8; 512];
    loop {
        match file.write(&block) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    // The last few bytes, so nothing at all is left.
    while let Ok(n) = file.write(&small) {
        if n == 0 {
            break;
        }
        small.truncate(n);
    }
    let _ = file.sync_all();
    path
}

async fn integrity(store: &store::Store) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    store
        .run(|c| diesel::sql_query("PRAGMA integrity_check").load::<Check>(c))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.integrity_check)
        .collect()
}

/// The last finished cycle and how many agencies it ranks.
async fn last_finished(store: &store::Store) -> (i64, usize) {
    let cycle = store
        .run(store::latest_finished_cycle)
        .await
        .unwrap()
        .expect("a finished cycle");
    let id = cycle.id;
    let ranked = store.run(move |c| store::rankings(c, id)).await.unwrap();
    (id, ranked.len())
}

async fn start_crawler(settings: &Settings, registry: &Registry) -> anyhow::Result<Crawler> {
    let method = dtindex::score::Method::builtin();
    let (store, metrics) = daemon::open_store(settings, &method).await?;
    daemon::crawler(
        settings,
        Live::new(registry.clone(), method),
        store,
        metrics,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_or_read_only_state_directory_fails_cycles_clearly_and_recovers() {
    let Some(fs) = Tmpfs::mount("64m") else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = simulate::launch(&Registry::builtin(), 14, listener)
        .await
        .unwrap();
    let mut settings = Settings::with_state_dir(fs.path().join("state"));
    sim.configure(&mut settings);
    settings.links.policy.per_host_interval = std::time::Duration::from_millis(1);
    let crawler = start_crawler(&settings, &sim.registry).await.unwrap();
    let cancel = CancellationToken::new();
    let first = crawler.run_cycle(&cancel).await.unwrap();
    assert_eq!(last_finished(&crawler.store).await, (first.cycle_id, 51));

    // The disk fills up. The WAL is emptied first, so that the next cycle's writes need
    // new space rather than reusing the old log's.
    crawler
        .store
        .run(|c| diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").execute(c))
        .await
        .unwrap();
    let filler = fill(fs.path());
    let full = crawler.run_cycle(&cancel).await.unwrap_err();
    let said = full.to_string();
    assert!(said.contains("full"), "a clear error: {said}");
    assert_eq!(last_finished(&crawler.store).await, (first.cycle_id, 51));
    assert_eq!(integrity(&crawler.store).await, ["ok"]);

    // Space returns: the next cycle completes.
    std::fs::remove_file(&filler).unwrap();
    let recovered = crawler.run_cycle(&cancel).await.unwrap();
    assert!(recovered.cycle_id > first.cycle_id);
    assert_eq!(
        last_finished(&crawler.store).await,
        (recovered.cycle_id, 51)
    );

    // The file system turns read-only (a remount needs the files closed: the daemon is
    // stopped first). A daemon starting on it says why it cannot, and does not panic.
    drop(crawler);
    fs.remount("ro");
    let refused = match start_crawler(&settings, &sim.registry).await {
        Ok(_) => String::new(),
        Err(e) => format!("{e:#}"),
    };
    assert!(refused.contains("opening the database"), "{refused}");
    assert!(
        refused.to_lowercase().contains("read-only file system"),
        "says why: {refused}"
    );

    fs.remount("rw");
    let crawler = start_crawler(&settings, &sim.registry).await.unwrap();
    assert_eq!(
        last_finished(&crawler.store).await,
        (recovered.cycle_id, 51)
    );
    let again = crawler.run_cycle(&cancel).await.unwrap();
    assert!(again.cycle_id > recovered.cycle_id);
    assert_eq!(integrity(&crawler.store).await, ["ok"]);
    drop(crawler);
    // And a fresh start on the same directory serves the last cycle.
    let restarted = start_crawler(&settings, &sim.registry).await.unwrap();
    assert_eq!(last_finished(&restarted.store).await, (again.cycle_id, 51));
}
