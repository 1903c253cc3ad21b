//! The store: every cycle's observations, scores and findings, kept across restarts.
//!
//! diesel's connections are synchronous, so each use runs on tokio's blocking pool through
//! [`Store::run`]. The backend is the database URL's: SQLite, set up the way a daemon
//! needs it (`busy_timeout` first, so that no later statement fails on a lock, then WAL,
//! so readers never wait for the writer), or PostgreSQL, which several daemons may share
//! ([`work`]). Every cycle's results are written in one transaction that takes the write
//! lock first, so a crash leaves the last finished cycle whole.
//!
//! The schema and queries stay within what SQLite and PostgreSQL share (BIGINT keys,
//! DOUBLE PRECISION, TIMESTAMP in UTC): one query code path over [`Conn`], and two
//! migrations folders with the same migrations. Only row and advisory locks, upserts and
//! batch inserts are written per backend.

mod datasets;
mod links;
mod schema;
pub mod work;

pub use datasets::{DatasetQuery, search_datasets};
pub use links::{
    LinkChecks, Scope, agency_links, link_counts, link_ledger, link_records, record_links,
};

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::Pool;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use serde::Serialize;

use crate::harvest::HarvestState;
use crate::observation::AgencyObservation;
use crate::score::Ranked;
use schema::{
    agency_components, agency_results, catalog_fetches, cycles, findings, harvest_states,
    service_probes,
};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever backend the database URL names. Queries are written once
/// against this type; where the SQL truly differs (row locks, advisory locks) the code
/// matches on the variant.
#[derive(diesel::MultiConnection)]
pub enum Conn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs the same tokens against the concrete connection of either backend, for the few
/// queries diesel's multi-backend cannot express (upserts, `RETURNING`).
macro_rules! per_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::store::Conn::Pg($c) => $body,
            $crate::store::Conn::Sqlite($c) => $body,
        }
    };
}
pub(crate) use per_backend;

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest one PostgreSQL statement may run before the server cancels it, so that a
/// wedged query (a lock held by a stuck peer) fails the step and is retried instead of
/// hanging the daemon.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);

/// What PostgreSQL shows in `pg_stat_activity` for the daemon's connections, unless the
/// URL names an `application_name` of its own.
pub const APPLICATION_NAME: &str = "dtindex";

/// Advisory lock keys (the second half of PostgreSQL's two-key form; the first is the
/// schema's, so that daemons on different schemas of one server never wait on each other).
pub(crate) mod lock {
    pub const MIGRATE: i32 = 1;
    pub const CYCLE: i32 = 2;
    pub const SCORE: i32 = 3;
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL `{0}`: {1}")]
    Url(String, &'static str),
    #[error("cannot create the database directory {}: {source}", path.display())]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot write the database {}: {source}; the daemon needs write access to its state directory (and room on its disk)",
        path.display()
    )]
    NotWritable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("cannot open the database: {0}")]
    R2d2(String),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("the database task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Which backend a database URL names, and what to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A file path (or `:memory:`).
    Sqlite(String),
    /// A libpq connection URL.
    Postgres(String),
}

impl Backend {
    pub fn of(url: &str) -> Result<Backend, StoreError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Backend::Postgres(url.to_string()));
        }
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        if path.is_empty() || path.contains("://") {
            return Err(StoreError::Url(
                url.to_string(),
                "expected sqlite:///path/to/file.sqlite or postgres://user@host/database",
            ));
        }
        Ok(Backend::Sqlite(path.to_string()))
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Backend::Postgres(_))
    }
}

/// Checks that a database URL names a backend this build supports.
pub fn check_database_url(url: &str) -> Result<(), StoreError> {
    Backend::of(url).map(|_| ())
}

/// Opens connections of the URL's backend (never guessing: a PostgreSQL URL that cannot
/// connect must not fall back to a SQLite file of that name) and sets each up.
#[derive(Debug)]
struct Manager {
    backend: Backend,
}

impl diesel::r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Conn, Self::Error> {
        use diesel::r2d2::Error::{ConnectionError, QueryError};
        match &self.backend {
            Backend::Sqlite(path) => {
                let mut c = SqliteConnection::establish(path).map_err(ConnectionError)?;
                // busy_timeout before anything else: journal_mode itself can meet a lock.
                let setup = format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                    BUSY_TIMEOUT.as_millis()
                );
                c.batch_execute(&setup).map_err(QueryError)?;
                Ok(Conn::Sqlite(c))
            }
            Backend::Postgres(url) => {
                let mut c = PgConnection::establish(url).map_err(ConnectionError)?;
                let mut setup = format!(
                    "SET statement_timeout = {}; SET TIME ZONE 'UTC';",
                    STATEMENT_TIMEOUT.as_millis()
                );
                if !url.contains("application_name=") {
                    setup.push_str(&format!(" SET application_name = '{APPLICATION_NAME}';"));
                }
                c.batch_execute(&setup).map_err(QueryError)?;
                Ok(Conn::Pg(c))
            }
        }
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.is_broken()
    }
}

/// Counts the pool's failures to open a connection and reports each through tracing.
/// r2d2 retries them, so nothing is lost, but an operator should see them, and the tests
/// count them.
#[derive(Debug, Default, Clone)]
struct PoolErrors(Arc<AtomicU64>);

impl diesel::r2d2::HandleError<diesel::r2d2::Error> for PoolErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        self.0.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%error, "could not open a database connection; the pool tries again");
    }
}

#[derive(Clone)]
pub struct Store {
    pool: Pool<Manager>,
    postgres: bool,
    connection_errors: PoolErrors,
    /// SQLite's one write lock, taken in this process before the database's: writers
    /// queue here and are woken when the last one is done. Waiting on SQLite's own lock
    /// instead means its busy handler, which sleeps and polls (1, 2, 5 ... 100 ms): eight
    /// crawl workers writing at once slept there for most of an unchanged cycle.
    writer: Arc<std::sync::Mutex<()>>,
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(url: &str) -> Result<Store, StoreError> {
        let backend = Backend::of(url)?;
        if let Backend::Sqlite(path) = &backend
            && path != ":memory:"
            && let Some(dir) = Path::new(path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Directory {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        if let Backend::Sqlite(path) = &backend
            && path != ":memory:"
        {
            // A database that cannot be written (a read-only file system, a file the
            // daemon's user may not write) is refused at once and says why; SQLite alone
            // says "unable to open database file", after the pool's connection timeout.
            // Opening for append creates nothing but an empty file, which SQLite takes
            // for a new database anyway.
            std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .map_err(|source| StoreError::NotWritable {
                    path: PathBuf::from(path),
                    source,
                })?;
        }
        let postgres = backend.is_postgres();
        let manager = Manager { backend };
        if !postgres {
            // One connection turns a new file to WAL before the pool opens its eight at
            // once: switching the journal mode takes a lock SQLite does not wait for, so
            // eight connections switching it together met "database is locked".
            use diesel::r2d2::ManageConnection as _;
            drop(
                manager
                    .connect()
                    .map_err(|e| StoreError::R2d2(e.to_string()))?,
            );
        }
        let connection_errors = PoolErrors::default();
        let pool = Pool::builder()
            .max_size(8)
            // Longer than busy_timeout, so a waiting writer fails on the lock, not the pool.
            .connection_timeout(BUSY_TIMEOUT * 3)
            .error_handler(Box::new(connection_errors.clone()))
            .build(manager)?;
        let mut conn = pool.get()?;
        migrate(&mut conn)?;
        Ok(Store {
            pool,
            postgres,
            connection_errors,
            writer: Arc::default(),
        })
    }

    /// How many times the pool failed to open a connection (each was tried again).
    pub fn connection_errors(&self) -> u64 {
        self.connection_errors.0.load(Ordering::Relaxed)
    }

    /// Whether several daemons may share this database (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        self.postgres
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, diesel::result::Error> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            Ok(f(&mut conn)?)
        })
        .await?
    }

    /// [`Store::run`] for a step that writes: on SQLite it waits for this process's other
    /// writers first (see `writer`). A writer run by `run` is still correct, only slower
    /// when writers meet; PostgreSQL's writers do not wait for each other here.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, diesel::result::Error> + Send + 'static,
    {
        let (pool, writer, postgres) = (self.pool.clone(), self.writer.clone(), self.postgres);
        tokio::task::spawn_blocking(move || {
            let _turn = (!postgres).then(|| writer.lock().unwrap_or_else(PoisonError::into_inner));
            let mut conn = pool.get()?;
            Ok(f(&mut conn)?)
        })
        .await?
    }
}

/// Brings the schema up to date. On PostgreSQL under an advisory lock, so that daemons
/// starting at once migrate one after the other (the later ones find nothing to do).
fn migrate(conn: &mut Conn) -> Result<(), StoreError> {
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
    match conn {
        Conn::Sqlite(c) => c
            .run_pending_migrations(MIGRATIONS)
            .map(|_| ())
            .map_err(failed),
        Conn::Pg(c) => {
            diesel::sql_query("SELECT pg_advisory_lock(hashtext(current_schema()), $1)")
                .bind::<diesel::sql_types::Integer, _>(lock::MIGRATE)
                .execute(c)?;
            let ran = c
                .run_pending_migrations(PG_MIGRATIONS)
                .map(|_| ())
                .map_err(failed);
            diesel::sql_query("SELECT pg_advisory_unlock(hashtext(current_schema()), $1)")
                .bind::<diesel::sql_types::Integer, _>(lock::MIGRATE)
                .execute(c)?;
            ran
        }
    }
}

/// Makes the transaction it is called first in exclusive for `key`: on PostgreSQL a
/// transaction-scoped advisory lock (released at commit or rollback, or when the
/// connection dies); on SQLite a write, which takes the database's one write lock at
/// once (a transaction that read first could not upgrade without failing).
pub(crate) fn exclusive(conn: &mut Conn, key: i32) -> QueryResult<()> {
    match conn {
        Conn::Pg(c) => {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext(current_schema()), $1)")
                .bind::<diesel::sql_types::Integer, _>(key)
                .execute(c)?;
        }
        Conn::Sqlite(_) => write_first(conn)?,
    }
    Ok(())
}

/// On SQLite, takes the database's write lock at the start of a transaction that will
/// write after reading (waiting for it under busy_timeout): a transaction that read first
/// fails at once if another connection wrote meanwhile. PostgreSQL needs nothing: its
/// row locks are taken as rows are written.
pub(crate) fn write_first(conn: &mut Conn) -> QueryResult<()> {
    if let Conn::Sqlite(c) = conn {
        c.batch_execute("UPDATE cycles SET id = id WHERE id < 0")?;
    }
    Ok(())
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

// ---------------------------------------------------------------------------------------
// Rows

#[derive(Debug, Clone, Queryable, Selectable, Serialize, PartialEq)]
#[diesel(table_name = cycles)]
pub struct CycleRow {
    pub id: i64,
    #[serde(with = "utc")]
    pub started_at: NaiveDateTime,
    #[serde(with = "utc_opt")]
    pub finished_at: Option<NaiveDateTime>,
    pub status: String,
    pub agencies: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, PartialEq)]
#[diesel(table_name = agency_results)]
pub struct AgencyResultRow {
    pub cycle_id: i64,
    pub agency_code: String,
    pub kind: String,
    pub name: String,
    pub index_points: f64,
    pub rank_overall: i32,
    pub rank_in_kind: i32,
    pub completeness: f64,
    pub datasets: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, PartialEq)]
#[diesel(table_name = agency_components)]
pub struct ComponentRow {
    pub cycle_id: i64,
    pub agency_code: String,
    pub component: String,
    pub verdict: Option<String>,
    pub points: f64,
    pub max_points: f64,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, PartialEq)]
#[diesel(table_name = findings)]
pub struct FindingRow {
    pub id: i64,
    pub cycle_id: i64,
    pub agency_code: String,
    pub rule: String,
    pub severity: String,
    pub subject: String,
    pub message: String,
    pub fix: String,
    pub points: f64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = findings)]
struct NewFinding<'a> {
    cycle_id: i64,
    agency_code: &'a str,
    rule: &'a str,
    severity: &'a str,
    subject: &'a str,
    message: &'a str,
    fix: &'a str,
    points: f64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, PartialEq)]
#[diesel(table_name = catalog_fetches)]
pub struct CatalogFetchRow {
    pub cycle_id: i64,
    pub agency_code: String,
    pub url: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub http_status: Option<i32>,
    pub bytes: i64,
    pub datasets: i64,
    pub duration_ms: i64,
    pub links_checked: Option<i64>,
    pub links_broken: Option<i64>,
    pub links_mismatched: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, PartialEq)]
#[diesel(table_name = service_probes)]
pub struct ProbeRow {
    #[serde(skip)]
    pub id: i64,
    #[serde(skip)]
    pub cycle_id: i64,
    #[serde(skip)]
    pub agency_code: String,
    pub url: String,
    pub platform: Option<String>,
    pub http_status: Option<i32>,
    pub latency_ms: i64,
    pub failure_class: Option<String>,
    pub failure: Option<String>,
    pub tls_expires_at: Option<i64>,
    pub http_version: Option<String>,
    pub dns_ms: Option<i64>,
    pub connect_ms: Option<i64>,
    pub tls_ms: Option<i64>,
    pub first_byte_ms: Option<i64>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = service_probes)]
struct NewProbe<'a> {
    cycle_id: i64,
    agency_code: &'a str,
    url: &'a str,
    platform: Option<&'a str>,
    http_status: Option<i32>,
    latency_ms: i64,
    failure_class: Option<&'a str>,
    failure: Option<&'a str>,
    tls_expires_at: Option<i64>,
    http_version: Option<&'a str>,
    dns_ms: Option<i64>,
    connect_ms: Option<i64>,
    tls_ms: Option<i64>,
    first_byte_ms: Option<i64>,
}

/// Timestamps are stored as UTC without zone; the API shows them as RFC 3339 with `Z`.
mod utc {
    use chrono::NaiveDateTime;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(
            &t.and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        )
    }
}

mod utc_opt {
    use chrono::NaiveDateTime;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::utc::serialize(t, s),
            None => s.serialize_none(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Writes

/// Marks cycles left `running` by a daemon that died as `abandoned`. Run at start.
pub fn abandon_unfinished(conn: &mut Conn) -> QueryResult<usize> {
    diesel::update(cycles::table.filter(cycles::status.eq("running")))
        .set(cycles::status.eq("abandoned"))
        .execute(conn)
}

/// A cycle started by hand, with no work rows: the unit tests' and the seeded history's
/// way to write a cycle's results directly (daemons use [`work::join_or_begin`]).
pub fn begin_cycle(conn: &mut Conn) -> QueryResult<i64> {
    // In a transaction of its own: in autocommit, an INSERT … RETURNING hands back the new
    // id before the commit, and a commit that then fails (a full disk) went unreported,
    // leaving the cycle to run under an id that was never stored.
    conn.transaction(|conn| {
        diesel::insert_into(cycles::table)
            .values((
                cycles::started_at.eq(now()),
                cycles::status.eq("running"),
                cycles::agencies.eq(0),
            ))
            .returning(cycles::id)
            .get_result(conn)
    })
}

/// Sets a finished cycle's times: for history written after the fact (the simulated
/// history, imports), where "now" is not when the cycle ran.
pub fn stamp_cycle(
    conn: &mut Conn,
    cycle_id: i64,
    started_at: NaiveDateTime,
    finished_at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(cycles::table.find(cycle_id))
        .set((
            cycles::started_at.eq(started_at),
            cycles::finished_at.eq(Some(finished_at)),
        ))
        .execute(conn)
}

pub fn abandon_cycle(conn: &mut Conn, cycle_id: i64) -> QueryResult<usize> {
    diesel::update(cycles::table.find(cycle_id))
        .set(cycles::status.eq("abandoned"))
        .execute(conn)
}

/// One agency's last good harvest, if there is one that reads.
pub fn load_harvest_state(conn: &mut Conn, agency: &str) -> QueryResult<Option<HarvestState>> {
    let json: Option<String> = harvest_states::table
        .find(agency)
        .select(harvest_states::state)
        .first(conn)
        .optional()?;
    Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
}

/// Keeps `state` (JSON) as the agency's last good harvest.
fn write_harvest_state(conn: &mut Conn, agency: &str, state: &str) -> QueryResult<()> {
    per_backend!(conn, c => diesel::insert_into(harvest_states::table)
        .values((
            harvest_states::agency_code.eq(agency),
            harvest_states::state.eq(state),
            harvest_states::updated_at.eq(now()),
        ))
        .on_conflict(harvest_states::agency_code)
        .do_update()
        .set((
            harvest_states::state.eq(state),
            harvest_states::updated_at.eq(now()),
        ))
        .execute(c))?;
    Ok(())
}

/// A cycle's results, as they are written when it is scored.
pub struct CycleResults<'a> {
    pub ranked: &'a [Ranked],
    pub observations: &'a [AgencyObservation],
    /// The harvest state to keep per agency (only agencies whose harvest succeeded).
    pub states: &'a [(String, HarvestState)],
}

/// Writes a cycle's results and marks it finished, all or nothing (the unit tests' and
/// the seeded history's way; daemons score through [`work::score_once`]).
pub fn finish_cycle(conn: &mut Conn, cycle_id: i64, results: &CycleResults<'_>) -> QueryResult<()> {
    conn.transaction(|conn| {
        exclusive(conn, lock::SCORE)?;
        write_results(conn, cycle_id, results)
    })
}

/// Writes a cycle's results and marks it finished, inside the caller's exclusive
/// transaction.
fn write_results(conn: &mut Conn, cycle_id: i64, results: &CycleResults<'_>) -> QueryResult<()> {
    let CycleResults {
        ranked,
        observations,
        states,
    } = *results;
    {
        for (code, state) in states {
            let json = serde_json::to_string(state).unwrap_or_default();
            write_harvest_state(conn, code, &json)?;
        }
        let results: Vec<AgencyResultRow> = ranked
            .iter()
            .map(|r| AgencyResultRow {
                cycle_id,
                agency_code: r.score.code.clone(),
                kind: r.score.kind.as_str().to_string(),
                name: r.score.name.clone(),
                index_points: r.score.index,
                rank_overall: r.rank as i32,
                rank_in_kind: r.rank_in_kind as i32,
                completeness: r.score.completeness,
                datasets: r.score.datasets as i64,
            })
            .collect();
        per_backend!(conn, c => diesel::insert_into(agency_results::table)
            .values(&results)
            .execute(c))?;

        let components: Vec<ComponentRow> = ranked
            .iter()
            .flat_map(|r| {
                r.score.components.iter().map(|c| ComponentRow {
                    cycle_id,
                    agency_code: r.score.code.clone(),
                    component: c.id.clone(),
                    verdict: c.verdict.map(|v| v.as_str().to_string()),
                    points: c.points,
                    max_points: c.max_points,
                })
            })
            .collect();
        per_backend!(conn, c => diesel::insert_into(agency_components::table)
            .values(&components)
            .execute(c))?;

        let new_findings: Vec<NewFinding<'_>> = ranked
            .iter()
            .flat_map(|r| {
                r.score.findings.iter().map(|f| NewFinding {
                    cycle_id,
                    agency_code: &r.score.code,
                    rule: &f.rule,
                    severity: f.severity.as_str(),
                    subject: &f.subject,
                    message: &f.message,
                    fix: &f.fix,
                    points: f.points,
                })
            })
            .collect();
        // SQLite limits bound parameters per statement; batches keep well under it.
        for batch in new_findings.chunks(500) {
            per_backend!(conn, c => diesel::insert_into(findings::table)
                .values(batch)
                .execute(c))?;
        }

        let fetches: Vec<CatalogFetchRow> = observations
            .iter()
            .map(|o| CatalogFetchRow {
                cycle_id,
                agency_code: o.code.clone(),
                url: o.catalog.url.clone(),
                outcome: o.catalog.outcome.as_str().to_string(),
                detail: o.catalog.outcome.detail(),
                http_status: o.catalog.http_status.map(i32::from),
                bytes: o.catalog.bytes as i64,
                datasets: o.catalog.datasets as i64,
                duration_ms: o.catalog.duration_ms as i64,
                links_checked: o.links.as_ref().map(|l| l.checked as i64),
                links_broken: o.links.as_ref().map(|l| l.broken as i64),
                links_mismatched: o.links.as_ref().map(|l| l.type_mismatch as i64),
            })
            .collect();
        per_backend!(conn, c => diesel::insert_into(catalog_fetches::table)
            .values(&fetches)
            .execute(c))?;

        let probes: Vec<NewProbe<'_>> = observations
            .iter()
            .flat_map(|o| {
                o.services.iter().map(|p| NewProbe {
                    cycle_id,
                    agency_code: &o.code,
                    url: &p.url,
                    platform: p.platform.as_deref(),
                    http_status: p.http_status.map(i32::from),
                    latency_ms: p.latency_ms as i64,
                    failure_class: p.failure.as_ref().map(|f| f.class.as_str()),
                    failure: p.failure.as_ref().map(|f| f.message.as_str()),
                    tls_expires_at: p.tls_expires_at,
                    http_version: p.http_version.as_deref(),
                    dns_ms: p.phases.map(|f| f.dns_ms as i64),
                    connect_ms: p.phases.map(|f| f.connect_ms as i64),
                    tls_ms: p.phases.and_then(|f| f.tls_ms).map(|t| t as i64),
                    first_byte_ms: p.phases.map(|f| f.first_byte_ms as i64),
                })
            })
            .collect();
        for batch in probes.chunks(500) {
            per_backend!(conn, c => diesel::insert_into(service_probes::table)
                .values(batch)
                .execute(c))?;
        }

        let at = now();
        for o in observations {
            datasets::apply(conn, &o.code, &o.catalog.records, at)?;
        }

        diesel::update(cycles::table.find(cycle_id))
            .set((
                cycles::status.eq("finished"),
                cycles::finished_at.eq(Some(now())),
                cycles::agencies.eq(ranked.len() as i32),
            ))
            .execute(conn)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Reads: only finished cycles are ever shown.

pub fn latest_finished_cycle(conn: &mut Conn) -> QueryResult<Option<CycleRow>> {
    cycles::table
        .filter(cycles::status.eq("finished"))
        .order(cycles::id.desc())
        .select(CycleRow::as_select())
        .first(conn)
        .optional()
}

pub fn cycle_count(conn: &mut Conn, status: &str) -> QueryResult<i64> {
    cycles::table
        .filter(cycles::status.eq(status))
        .count()
        .get_result(conn)
}

/// The finished cycle before `cycle_id`: what movement in the rankings is measured against.
pub fn previous_finished_cycle(conn: &mut Conn, cycle_id: i64) -> QueryResult<Option<CycleRow>> {
    cycles::table
        .filter(cycles::status.eq("finished"))
        .filter(cycles::id.lt(cycle_id))
        .order(cycles::id.desc())
        .select(CycleRow::as_select())
        .first(conn)
        .optional()
}

pub fn rankings(conn: &mut Conn, cycle_id: i64) -> QueryResult<Vec<AgencyResultRow>> {
    agency_results::table
        .filter(agency_results::cycle_id.eq(cycle_id))
        .order((
            agency_results::rank_overall.asc(),
            agency_results::agency_code.asc(),
        ))
        .select(AgencyResultRow::as_select())
        .load(conn)
}

/// How many of the latest finished cycles in a row each agency's published catalog could
/// not be read (fetched or parsed), looking back at most [`STREAK_WINDOW`] cycles.
pub fn failure_streaks(conn: &mut Conn) -> QueryResult<HashMap<String, i64>> {
    let recent: Vec<i64> = cycles::table
        .filter(cycles::status.eq("finished"))
        .order(cycles::id.desc())
        .limit(STREAK_WINDOW)
        .select(cycles::id)
        .load(conn)?;
    let rows: Vec<(i64, String, String)> = catalog_fetches::table
        .filter(catalog_fetches::cycle_id.eq_any(&recent))
        .select((
            catalog_fetches::cycle_id,
            catalog_fetches::agency_code,
            catalog_fetches::outcome,
        ))
        .load(conn)?;
    let mut streaks: HashMap<String, i64> = HashMap::new();
    let mut ended: HashSet<String> = HashSet::new();
    // Newest cycle first: a streak ends at the first cycle the catalog was read.
    for cycle in &recent {
        for (_, code, outcome) in rows.iter().filter(|(c, _, _)| c == cycle) {
            if ended.contains(code) {
                continue;
            }
            if outcome == "fetch_failed" || outcome == "parse_failed" {
                *streaks.entry(code.clone()).or_default() += 1;
            } else {
                ended.insert(code.clone());
            }
        }
    }
    Ok(streaks)
}

/// Cycles looked back on for failure streaks.
pub const STREAK_WINDOW: i64 = 30;

/// The latest finished cycle as the metrics show it, so a restarted daemon exports the same
/// gauges before its first cycle ends.
pub fn latest_snapshots(conn: &mut Conn) -> QueryResult<Vec<crate::metrics::AgencySnapshot>> {
    use crate::metrics::{AgencySnapshot, ComponentSnapshot};
    let Some(cycle) = latest_finished_cycle(conn)? else {
        return Ok(Vec::new());
    };
    let rows = rankings(conn, cycle.id)?;
    let components: Vec<ComponentRow> = agency_components::table
        .filter(agency_components::cycle_id.eq(cycle.id))
        .select(ComponentRow::as_select())
        .load(conn)?;
    let counts: Vec<(String, String, i64)> = findings::table
        .filter(findings::cycle_id.eq(cycle.id))
        .group_by((findings::agency_code, findings::severity))
        .select((
            findings::agency_code,
            findings::severity,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    let streaks = failure_streaks(conn)?;
    let down: Vec<(String, i64)> = service_probes::table
        .filter(service_probes::cycle_id.eq(cycle.id))
        .filter(service_probes::failure_class.is_not_null())
        .group_by(service_probes::agency_code)
        .select((service_probes::agency_code, diesel::dsl::count_star()))
        .load(conn)?;
    let expiries: Vec<(String, Option<i64>)> = service_probes::table
        .filter(service_probes::cycle_id.eq(cycle.id))
        .filter(service_probes::tls_expires_at.is_not_null())
        .group_by(service_probes::agency_code)
        .select((
            service_probes::agency_code,
            diesel::dsl::min(service_probes::tls_expires_at),
        ))
        .load(conn)?;
    let broken: HashMap<String, i64> = catalog_fetches::table
        .filter(catalog_fetches::cycle_id.eq(cycle.id))
        .filter(catalog_fetches::links_broken.is_not_null())
        .select((catalog_fetches::agency_code, catalog_fetches::links_broken))
        .load::<(String, Option<i64>)>(conn)?
        .into_iter()
        .filter_map(|(code, n)| Some((code, n?)))
        .collect();
    let codes: Vec<String> = rows.iter().map(|r| r.agency_code.clone()).collect();
    let mut classes = link_counts(conn, &codes)?;
    let mut uptimes = uptime(conn, None, now())?.agencies;
    Ok(rows
        .into_iter()
        .map(|r| AgencySnapshot {
            links_broken: broken.get(&r.agency_code).copied(),
            uptime: uptimes.remove(&r.agency_code).unwrap_or_default(),
            links: classes.remove(&r.agency_code).unwrap_or_default(),
            tls_expires_at: expiries
                .iter()
                .find(|(c, _)| *c == r.agency_code)
                .and_then(|(_, t)| *t),
            catalog_failures_in_a_row: streaks.get(&r.agency_code).copied().unwrap_or(0),
            services_down: down
                .iter()
                .find(|(c, _)| *c == r.agency_code)
                .map_or(0, |(_, n)| *n),
            components: components
                .iter()
                .filter(|c| c.agency_code == r.agency_code)
                .map(|c| ComponentSnapshot {
                    id: c.component.clone(),
                    verdict: c.verdict.clone(),
                    points: c.points,
                    max_points: c.max_points,
                })
                .collect(),
            findings: counts
                .iter()
                .filter(|(code, _, _)| *code == r.agency_code)
                .map(|(_, severity, n)| (severity.clone(), *n))
                .collect(),
            code: r.agency_code,
            kind: r.kind,
            index: r.index_points,
            datasets: r.datasets,
        })
        .collect())
}

/// Everything the latest finished cycle says about one agency.
#[derive(Debug, Clone, Serialize)]
pub struct AgencyDetail {
    pub result: AgencyResultRow,
    pub components: Vec<ComponentRow>,
    pub catalog: Option<CatalogFetchRow>,
    pub probes: Vec<ProbeRow>,
    pub uptime: UptimeReport,
}

pub fn agency_detail(
    conn: &mut Conn,
    cycle_id: i64,
    code: &str,
) -> QueryResult<Option<AgencyDetail>> {
    let Some(result) = agency_results::table
        .find((cycle_id, code))
        .select(AgencyResultRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let components = agency_components::table
        .filter(agency_components::cycle_id.eq(cycle_id))
        .filter(agency_components::agency_code.eq(code))
        .order(agency_components::component.asc())
        .select(ComponentRow::as_select())
        .load(conn)?;
    let catalog = catalog_fetches::table
        .find((cycle_id, code))
        .select(CatalogFetchRow::as_select())
        .first(conn)
        .optional()?;
    let probes = service_probes::table
        .filter(service_probes::cycle_id.eq(cycle_id))
        .filter(service_probes::agency_code.eq(code))
        .order(service_probes::id.asc())
        .select(ProbeRow::as_select())
        .load(conn)?;
    let uptime = uptime(conn, Some(code), now())?;
    Ok(Some(AgencyDetail {
        result,
        components,
        catalog,
        probes,
        uptime,
    }))
}

pub fn agency_findings(conn: &mut Conn, cycle_id: i64, code: &str) -> QueryResult<Vec<FindingRow>> {
    findings::table
        .filter(findings::cycle_id.eq(cycle_id))
        .filter(findings::agency_code.eq(code))
        .order((findings::points.desc(), findings::id.asc()))
        .select(FindingRow::as_select())
        .load(conn)
}

/// A finished cycle and each agency's target verdicts in it, with the agency's kind.
pub type CycleVerdicts = (CycleRow, Vec<(String, ComponentRow)>);

/// Every agency's target verdicts in each of the last `cycles` finished cycles, oldest
/// first: what national attainment and its trend are computed from.
pub fn verdict_history(conn: &mut Conn, cycles: i64) -> QueryResult<Vec<CycleVerdicts>> {
    let mut recent: Vec<CycleRow> = cycles::table
        .filter(cycles::status.eq("finished"))
        .order(cycles::id.desc())
        .limit(cycles)
        .select(CycleRow::as_select())
        .load(conn)?;
    recent.reverse();
    let mut out = Vec::with_capacity(recent.len());
    for cycle in recent {
        let rows = cycle_verdicts(conn, cycle.id)?;
        out.push((cycle, rows));
    }
    Ok(out)
}

/// Every agency's target and part verdicts in one cycle, with the agency's kind.
pub fn cycle_verdicts(conn: &mut Conn, cycle_id: i64) -> QueryResult<Vec<(String, ComponentRow)>> {
    agency_components::table
        .inner_join(
            agency_results::table.on(agency_results::cycle_id
                .eq(agency_components::cycle_id)
                .and(agency_results::agency_code.eq(agency_components::agency_code))),
        )
        .filter(agency_components::cycle_id.eq(cycle_id))
        .filter(agency_components::verdict.is_not_null())
        .select((agency_results::kind, ComponentRow::as_select()))
        .load(conn)
}

/// The windows uptime is measured over.
pub const UPTIME_WINDOWS: [(&str, i64); 3] = [("day", 1), ("week", 7), ("month", 30)];

/// Share of probes that found a service up, per window (day, week, month, in that
/// order; `None` when there was no probe in it), grouped by `key` (agency, or one
/// agency's services by URL).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Uptime {
    pub day: Option<f64>,
    pub week: Option<f64>,
    pub month: Option<f64>,
}

impl Uptime {
    pub fn windows(&self) -> [(&'static str, Option<f64>); 3] {
        [
            ("day", self.day),
            ("week", self.week),
            ("month", self.month),
        ]
    }
}

/// Uptime up to `now`: of each agency's services taken together, and of each service
/// (by URL) when only one agency is asked for.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UptimeReport {
    pub agencies: HashMap<String, Uptime>,
    pub services: HashMap<String, Uptime>,
}

pub fn uptime(
    conn: &mut Conn,
    agency: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<UptimeReport> {
    let mut out = UptimeReport::default();
    for (name, days) in UPTIME_WINDOWS {
        let since = now - chrono::Duration::days(days);
        // Probes are written with their cycle, so the first cycle in the window bounds
        // them (cycle ids grow with time).
        let Some(first) = cycles::table
            .filter(cycles::started_at.ge(since))
            .select(diesel::dsl::min(cycles::id))
            .first::<Option<i64>>(conn)?
        else {
            continue;
        };
        let mut query = service_probes::table
            .filter(service_probes::cycle_id.ge(first))
            .into_boxed();
        if let Some(code) = agency {
            query = query.filter(service_probes::agency_code.eq(code.to_string()));
        }
        let rows: Vec<(String, String, bool)> = query
            .select((
                service_probes::agency_code,
                service_probes::url,
                service_probes::failure_class.is_null(),
            ))
            .load(conn)?;
        let mut by_agency: HashMap<String, (u64, u64)> = HashMap::new();
        let mut by_service: HashMap<String, (u64, u64)> = HashMap::new();
        for (code, url, up) in rows {
            for (map, key) in [(&mut by_agency, code), (&mut by_service, url)] {
                let c = map.entry(key).or_default();
                c.0 += 1;
                c.1 += u64::from(up);
            }
        }
        if agency.is_none() {
            by_service.clear();
        }
        for (counts, into) in [
            (by_agency, &mut out.agencies),
            (by_service, &mut out.services),
        ] {
            for (key, (total, up)) in counts {
                let share = Some(up as f64 / total as f64);
                let u = into.entry(key).or_default();
                match name {
                    "day" => u.day = share,
                    "week" => u.week = share,
                    _ => u.month = share,
                }
            }
        }
    }
    Ok(out)
}

/// The finished cycles that finished in `[from, to)`, oldest first.
pub fn cycles_between(
    conn: &mut Conn,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<CycleRow>> {
    cycles::table
        .filter(cycles::status.eq("finished"))
        .filter(cycles::finished_at.ge(from))
        .filter(cycles::finished_at.lt(to))
        .order(cycles::id.asc())
        .select(CycleRow::as_select())
        .load(conn)
}

/// The last cycle that finished before `at`.
pub fn last_cycle_before(conn: &mut Conn, at: NaiveDateTime) -> QueryResult<Option<CycleRow>> {
    cycles::table
        .filter(cycles::status.eq("finished"))
        .filter(cycles::finished_at.lt(at))
        .order(cycles::id.desc())
        .select(CycleRow::as_select())
        .first(conn)
        .optional()
}

/// One agency's result in every finished cycle, oldest first.
pub fn agency_history(
    conn: &mut Conn,
    code: &str,
) -> QueryResult<Vec<(CycleRow, AgencyResultRow)>> {
    cycles::table
        .inner_join(agency_results::table)
        .filter(cycles::status.eq("finished"))
        .filter(agency_results::agency_code.eq(code))
        .order(cycles::id.asc())
        .select((CycleRow::as_select(), AgencyResultRow::as_select()))
        .load(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::{CatalogObservation, CatalogOutcome};
    use crate::registry::AgencyKind;
    use crate::score::{Method, assess, rank};

    fn observation(code: &str) -> AgencyObservation {
        AgencyObservation {
            code: code.into(),
            kind: AgencyKind::Province,
            name: format!("Tỉnh {code}"),
            catalog: CatalogObservation {
                outcome: CatalogOutcome::NotPublished,
                ..CatalogObservation::default()
            },
            services: vec![],
            declaration: Default::default(),
            links: None,
        }
    }

    /// The pool opens its eight connections at once, in the background. On a new file,
    /// each switching the journal to WAL met the others' locks ("database is locked",
    /// which SQLite does not wait out for a journal-mode change), seen on half of the
    /// demo's first starts.
    #[test]
    fn a_new_sqlite_database_opens_every_connection_at_the_first_try() {
        for _ in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("dt.sqlite").display());
            let store = Store::open(&url).unwrap();
            let waited = std::time::Instant::now();
            while store.pool.state().connections < 8 && store.connection_errors() == 0 {
                assert!(
                    waited.elapsed() < Duration::from_secs(60),
                    "the pool never opened its connections"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            assert_eq!(store.connection_errors(), 0);
        }
    }

    #[tokio::test]
    async fn a_cycle_is_visible_only_once_finished_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("sub/dt.sqlite").display());
        let store = Store::open(&url).unwrap();
        let id = store.run(begin_cycle).await.unwrap();
        assert_eq!(store.run(latest_finished_cycle).await.unwrap(), None);

        let obs = vec![observation("01"), observation("02")];
        let ranked = rank(
            obs.iter()
                .map(|o| assess(o, &Method::builtin(), 20_000))
                .collect(),
        );
        let state = HarvestState {
            url: "http://x/data.json".into(),
            etag: Some("\"v1\"".into()),
            ..HarvestState::default()
        };
        let states = vec![("01".to_string(), state.clone())];
        let (r, o) = (ranked.clone(), obs.clone());
        store
            .run(move |c| {
                let results = CycleResults {
                    ranked: &r,
                    observations: &o,
                    states: &states,
                };
                finish_cycle(c, id, &results)
            })
            .await
            .unwrap();
        drop(store);

        let store = Store::open(&url).unwrap();
        let latest = store.run(latest_finished_cycle).await.unwrap().unwrap();
        assert_eq!(
            (latest.id, latest.agencies, latest.status.as_str()),
            (id, 2, "finished")
        );
        let rows = store.run(move |c| rankings(c, id)).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].rank_overall, rows[1].rank_overall), (1, 1));
        let found = store
            .run(move |c| agency_findings(c, id, "02"))
            .await
            .unwrap();
        assert!(found.len() > 10, "{found:?}");
        let lost: f64 = found.iter().map(|f| f.points).sum();
        assert!((lost - 1000.0).abs() < 1e-6, "{lost}");
        let detail = store
            .run(move |c| agency_detail(c, id, "01"))
            .await
            .unwrap()
            .unwrap();
        // Four targets, their eight parts, four dimensions.
        assert_eq!(detail.components.len(), 16);
        assert_eq!(detail.catalog.unwrap().outcome, "not_published");
    }

    #[tokio::test]
    async fn an_unfinished_cycle_is_abandoned_at_start_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("dt.sqlite").display());
        let store = Store::open(&url).unwrap();
        store.run(begin_cycle).await.unwrap();
        assert_eq!(store.run(abandon_unfinished).await.unwrap(), 1);
        assert_eq!(store.run(|c| cycle_count(c, "abandoned")).await.unwrap(), 1);
        assert_eq!(store.run(latest_finished_cycle).await.unwrap(), None);
    }

    #[tokio::test]
    async fn failure_streaks_count_back_to_the_last_readable_catalog() {
        use crate::observation::{Failure, FailureClass};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!(
            "sqlite://{}",
            dir.path().join("dt.sqlite").display()
        ))
        .unwrap();
        let failed = CatalogOutcome::FetchFailed(Failure {
            class: FailureClass::Timeout,
            message: "slow".into(),
        });
        // Oldest first: 01 fails, is read, then fails twice; 02 is never published.
        for outcome01 in [
            failed.clone(),
            CatalogOutcome::Parsed,
            failed.clone(),
            failed,
        ] {
            let mut a = observation("01");
            a.catalog.outcome = outcome01;
            let obs = vec![a, observation("02")];
            let ranked = rank(
                obs.iter()
                    .map(|o| assess(o, &Method::builtin(), 20_000))
                    .collect(),
            );
            store
                .run(move |c| {
                    let id = begin_cycle(c)?;
                    let results = CycleResults {
                        ranked: &ranked,
                        observations: &obs,
                        states: &[],
                    };
                    finish_cycle(c, id, &results)
                })
                .await
                .unwrap();
        }
        let streaks = store.run(failure_streaks).await.unwrap();
        assert_eq!(streaks.get("01"), Some(&2));
        assert_eq!(
            streaks.get("02"),
            None,
            "publishing nothing is not a failure to read"
        );
        let snapshots = store.run(latest_snapshots).await.unwrap();
        let s01 = snapshots.iter().find(|s| s.code == "01").unwrap();
        assert_eq!(s01.catalog_failures_in_a_row, 2);
        assert!(s01.findings.iter().any(|(sev, n)| sev == "high" && *n >= 1));
    }

    #[test]
    fn database_urls() {
        assert!(check_database_url("sqlite:///var/lib/dtindex/dt.sqlite").is_ok());
        assert!(check_database_url("/tmp/x.sqlite").is_ok());
        assert_eq!(
            Backend::of("postgres://localhost/test").unwrap(),
            Backend::Postgres("postgres://localhost/test".into())
        );
        assert!(check_database_url("postgresql://u@h:5433/db?application_name=x").is_ok());
        assert!(check_database_url("mysql://x").is_err());
    }
}
