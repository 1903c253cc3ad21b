//! Several daemons on one PostgreSQL database, as operators run them when one machine is
//! not enough: the real `dtindex` binary, the real server (`DTINDEX_TEST_PG_URL`, each
//! test on a schema of its own), a simulated federation of 200 agencies. Every agency is
//! crawled once per cycle, whichever daemon dies or loses its connection on the way.

use std::path::{Path, PathBuf};

use dtindex::store::{Store, work};
use serde_json::Value;

mod common;

use common::{PgSchema, Proc, eventually, get_json, start};

/// The simulator's 200 agencies, each with a small data.json.
fn simulator(dir: &Path, agencies: Option<usize>) -> (Proc, PathBuf) {
    let registry = dir.join("agencies.toml");
    let mut args = vec![
        "simulate".to_string(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--seed".into(),
        "11".into(),
        "--write-registry".into(),
        registry.display().to_string(),
    ];
    if let Some(n) = agencies {
        args.extend(
            [
                "--agencies",
                &n.to_string(),
                "--datasets",
                "20",
                "--links",
                "2",
            ]
            .map(String::from),
        );
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (sim, _) = start(&args);
    (sim, registry)
}

/// A daemon's settings: its own state directory, the shared database, short leases.
fn settings(dir: &Path, n: usize, database: &str, schedule: &str) -> PathBuf {
    let path = dir.join(format!("dtindex-{n}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"registry = "agencies.toml"
[server]
listen = "127.0.0.1:0"
[state]
dir = "state-{n}"
[database]
url = "{database}"
# Short, so that a killed daemon's agencies are taken over within the test.
lease_secs = 3
[schedule]
{schedule}
[crawl]
concurrency = 2
total_timeout_secs = 10
extra_ca_file = "simulator-ca.pem"
[links]
allow_loopback = true
broken_after_cycles = 1
# Every agency's files are on the one simulator: no politeness delay between them.
per_host_interval_ms = 0
per_host_concurrency = 32
retries = 0
[links.hosts]
"files.federation.dtindex" = "127.0.0.1"
"#
        ),
    )
    .unwrap();
    path
}

/// Every daemon ticks on the same seconds: one cycle per tick, shared.
const EVERY_FIVE_SECONDS: &str = "cron = \"*/5 * * * * *\"\nrun_at_start = false";

struct Cluster {
    _dir: tempfile::TempDir,
    _sim: Proc,
    daemons: Vec<Proc>,
    bases: Vec<String>,
    store: Store,
}

async fn cluster(schema: &PgSchema, daemons: usize) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let (sim, registry) = simulator(dir.path(), Some(200));
    eventually("the simulator's registry", || async {
        registry.exists().then_some(())
    })
    .await;
    let mut procs = Vec::new();
    let mut bases = Vec::new();
    for n in 0..daemons {
        let config = settings(dir.path(), n, &schema.url, EVERY_FIVE_SECONDS);
        let (p, base) = start(&["serve", "--config", config.to_str().unwrap()]);
        procs.push(p);
        bases.push(base);
    }
    let url = schema.observer_url.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&url))
        .await
        .unwrap()
        .unwrap();
    Cluster {
        _dir: dir,
        _sim: sim,
        daemons: procs,
        bases,
        store,
    }
}

impl Cluster {
    async fn cycles(&self) -> Vec<dtindex::store::CycleRow> {
        self.store.run(work::cycles).await.unwrap()
    }

    async fn work(&self, cycle: i64) -> Vec<work::WorkRow> {
        self.store.run(move |c| work::work(c, cycle)).await.unwrap()
    }

    /// The first cycle, once it has started and `ready` says so of its work.
    async fn first_cycle_when(&self, what: &str, ready: impl Fn(&[work::WorkRow]) -> bool) -> i64 {
        eventually(what, || async {
            let first = self.cycles().await.first()?.id;
            ready(&self.work(first).await).then_some(first)
        })
        .await
    }

    async fn finished(&self, cycle: i64) -> dtindex::store::CycleRow {
        eventually("the cycle to finish", || async {
            self.cycles()
                .await
                .into_iter()
                .find(|c| c.id == cycle && c.status == "finished")
        })
        .await
    }
}

/// The owners, in order, that claimed an agency.
fn claimers(row: &work::WorkRow) -> Vec<&str> {
    row.claimed_by.split_whitespace().collect()
}

fn pid_of(owner: &str, pid: u32) -> bool {
    owner.contains(&format!(":{pid}:"))
}

#[tokio::test(flavor = "multi_thread")]
async fn three_daemons_crawl_every_agency_exactly_once_per_cycle() {
    let Some(schema) = common::pg_schema("dt_three_daemons") else {
        return;
    };
    let cluster = cluster(&schema, 3).await;
    let first = cluster
        .first_cycle_when("the first cycle", |w| !w.is_empty())
        .await;
    let cycle = cluster.finished(first).await;
    assert_eq!(cycle.agencies, 200);
    let work = cluster.work(first).await;
    assert_eq!(work.len(), 200);
    let mut owners = std::collections::HashSet::new();
    for row in &work {
        assert!(row.done, "{row:?}");
        assert_eq!(row.claims, 1, "crawled more than once: {row:?}");
        assert_eq!(claimers(row).len(), 1, "{row:?}");
        owners.insert(row.owner.clone().unwrap());
    }
    assert!(
        owners.len() >= 2,
        "the work is shared between the daemons: {owners:?}"
    );
    // Every daemon serves the same answers from the shared database.
    let mut answers = Vec::new();
    for base in &cluster.bases {
        let body = eventually("the rankings", || async {
            let (status, body) = get_json(&format!("{base}/api/v1/rankings")).await;
            (status == 200 && body["cycle"]["id"].is_i64()).then_some(body)
        })
        .await;
        answers.push(body);
    }
    let first_answer = &answers[0];
    assert_eq!(first_answer["entries"].as_array().unwrap().len(), 200);
    for a in &answers[1..] {
        assert_eq!(a["cycle"]["id"], first_answer["cycle"]["id"]);
        assert_eq!(a["entries"], first_answer["entries"]);
    }
    // And the same per-agency gauges, whichever daemon scored the cycle: Prometheus
    // scraping all three sees one value per agency (docs/scaling.md).
    eventually("the same gauges on every daemon", || async {
        let mut exported = Vec::new();
        for base in &cluster.bases {
            let text = reqwest::get(format!("{base}/metrics"))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            let gauges: Vec<String> = text
                .lines()
                .filter(|l| l.starts_with("dtindex_agency_index{"))
                .map(String::from)
                .collect();
            exported.push(gauges);
        }
        (exported[0].len() == 200 && exported.iter().all(|g| *g == exported[0])).then_some(())
    })
    .await;
    // Later cycles too: one per tick, each agency once.
    let second = eventually("a second finished cycle", || async {
        cluster
            .cycles()
            .await
            .into_iter()
            .find(|c| c.id > first && c.status == "finished")
    })
    .await;
    for row in cluster.work(second.id).await {
        assert_eq!(row.claims, 1, "{row:?}");
    }
    // Each tick's cycle is one cycle, not one per daemon: never two running at once.
    let cycles = cluster.cycles().await;
    assert!(
        cycles.iter().filter(|c| c.status == "running").count() <= 1,
        "{cycles:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_killed_mid_cycle_loses_nothing_and_nothing_is_crawled_twice() {
    let Some(schema) = common::pg_schema("dt_kill_daemon") else {
        return;
    };
    let mut cluster = cluster(&schema, 3).await;
    let victim = cluster.daemons[0].0.id();
    // Kill it while it holds leases: crawls it started and will never finish.
    let first = cluster
        .first_cycle_when("the daemon to hold a lease", |w| {
            w.iter()
                .any(|r| !r.done && r.owner.as_deref().is_some_and(|o| pid_of(o, victim)))
        })
        .await;
    cluster.daemons[0].0.kill().unwrap();
    cluster.daemons[0].0.wait().unwrap();

    let cycle = cluster.finished(first).await;
    assert_eq!(cycle.agencies, 200, "nothing lost");
    let work = cluster.work(first).await;
    let mut taken_over = 0;
    for row in &work {
        assert!(row.done, "{row:?}");
        let by = claimers(row);
        // A survivor crawls an agency at most once, and only the killed daemon's
        // unfinished crawls are done again.
        let survivors = by.iter().filter(|o| !pid_of(o, victim)).count();
        assert!(survivors <= 1, "crawled twice: {row:?}");
        if by.len() > 1 {
            taken_over += 1;
            assert_eq!(by.len(), 2, "{row:?}");
            assert!(pid_of(by[0], victim), "{row:?}");
            assert!(!pid_of(by[1], victim), "{row:?}");
        }
        assert!(
            !pid_of(row.owner.as_deref().unwrap(), victim) || by.len() == 1,
            "{row:?}"
        );
    }
    assert!(
        taken_over >= 1,
        "the killed daemon's leases were taken over"
    );
    assert!(
        taken_over <= 2,
        "at most its two workers' agencies: {taken_over}"
    );
    // The survivors serve the finished cycle.
    let base = &cluster.bases[1];
    let (status, rankings) = get_json(&format!("{base}/api/v1/rankings")).await;
    assert_eq!(status, 200);
    assert!(rankings["cycle"]["id"].as_i64() >= Some(first));
}

#[tokio::test(flavor = "multi_thread")]
async fn cut_connections_are_reopened_and_the_cycle_completes() {
    let Some(schema) = common::pg_schema("dt_cut_connections") else {
        return;
    };
    let cluster = cluster(&schema, 3).await;
    let first = cluster
        .first_cycle_when("the cycle under way", |w| {
            w.iter().any(|r| r.done) && w.iter().any(|r| !r.done)
        })
        .await;
    let cut = common::cut_connections(&schema);
    assert!(cut >= 1, "the daemons had connections open");
    // And once more, a little later in the cycle, if it is still going.
    let _ = cluster
        .first_cycle_when("more of the cycle", |w| {
            w.iter().filter(|r| r.done).count() >= 100 || w.iter().all(|r| r.done)
        })
        .await;
    common::cut_connections(&schema);

    let cycle = cluster.finished(first).await;
    assert_eq!(cycle.agencies, 200);
    for row in cluster.work(first).await {
        assert!(row.done, "{row:?}");
        // A claim whose answer was lost with its connection is claimed again once its
        // lease runs out; nothing else is.
        assert!((1..=2).contains(&row.claims), "{row:?}");
    }
    // Every daemon still answers from the database after the cut.
    for base in &cluster.bases {
        let body = eventually("the rankings after the cut", || async {
            let (status, body) = get_json(&format!("{base}/api/v1/rankings")).await;
            (status == 200).then_some(body)
        })
        .await;
        assert_eq!(body["entries"].as_array().unwrap().len(), 200);
    }
}

/// Removes what differs between two runs of the same federation (times, durations,
/// cycle ids), keeping everything that is scored or reported.
fn stable(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    ![
                        "cycle",
                        "latency_ms",
                        "duration_ms",
                        "phases",
                        "dns_ms",
                        "connect_ms",
                        "tls_ms",
                        "first_byte_ms",
                        "started_at",
                        "finished_at",
                        "checked_at",
                        "last_success",
                        "first_failure",
                        "tls_expires_at",
                        "generated_at",
                    ]
                    .contains(&k.as_str())
                })
                .map(|(k, v)| (k.clone(), stable(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(stable).collect()),
        other => other.clone(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_and_postgresql_give_the_same_answers() {
    let Some(schema) = common::pg_schema("dt_same_answers") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_sim, registry) = simulator(dir.path(), None);
    eventually("the simulator's registry", || async {
        registry.exists().then_some(())
    })
    .await;
    let once = "cron = \"0 0 0 1 1 *\"\nrun_at_start = true";
    let sqlite = format!("sqlite://{}", dir.path().join("dt.sqlite").display());
    let mut bases = Vec::new();
    let mut procs = Vec::new();
    for (n, url) in [(0, sqlite.as_str()), (1, schema.url.as_str())] {
        let config = settings(dir.path(), n, url, once);
        let (p, base) = start(&["serve", "--config", config.to_str().unwrap()]);
        procs.push(p);
        bases.push(base);
    }
    for base in &bases {
        eventually("a finished cycle", || async {
            let (status, body) = get_json(&format!("{base}/api/v1/rankings")).await;
            (status == 200 && body["cycle"]["id"].is_i64()).then_some(())
        })
        .await;
    }
    let get = |path: String| {
        let bases = bases.clone();
        async move {
            let mut out = Vec::new();
            for base in &bases {
                let (status, body) = get_json(&format!("{base}{path}")).await;
                out.push((status, stable(&body)));
            }
            out
        }
    };
    let rankings = get("/api/v1/rankings".into()).await;
    assert_eq!(rankings[0], rankings[1]);
    let entries = rankings[0].1["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 51);
    for path in [
        "/api/v1/national",
        "/api/v1/rankings?kind=province",
        // The national catalog: search, filters and paging alike on both backends.
        "/api/v1/datasets?per_page=500",
        "/api/v1/datasets?q=du+LIEU&kind=province&per_page=50",
        "/api/v1/datasets?format=csv&page=2&per_page=7",
    ] {
        let answers = get(path.into()).await;
        assert_eq!(answers[0], answers[1], "{path}");
    }
    let all = get("/api/v1/datasets?per_page=1".into()).await;
    assert!(all[0].1["total"].as_i64().unwrap() > 0);
    for e in &entries {
        let code = e["code"].as_str().unwrap();
        for suffix in ["", "/findings", "/links", "/history"] {
            let path = format!("/api/v1/agencies/{code}{suffix}");
            let answers = get(path.clone()).await;
            assert_eq!(answers[0].0, 200, "{path}");
            assert_eq!(answers[0], answers[1], "{path}");
        }
    }
}

#[test]
fn the_postgresql_migrations_match_the_sqlite_ones_by_name() {
    let names = |dir: &str| {
        let mut names: Vec<String> =
            std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
        names.sort();
        names
    };
    let sqlite = names("migrations/sqlite");
    assert!(sqlite.len() >= 6);
    assert_eq!(sqlite, names("migrations/postgres"));
    for name in &sqlite {
        for file in ["up.sql", "down.sql"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations/postgres")
                .join(name)
                .join(file);
            assert!(path.exists(), "{}", path.display());
        }
    }
}
