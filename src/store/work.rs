//! A cycle's crawl work, shared by the daemons on one database (`cycle_work`).
//!
//! Each agency of a cycle is one row, claimed under a lease: on PostgreSQL with
//! `FOR UPDATE SKIP LOCKED`, so that daemons claiming at once each get a different agency
//! without waiting on each other; on SQLite (one daemon) the claims are serialized by its
//! write lock. A lease is renewed while the crawl runs; one left to expire (its daemon died
//! or lost the database) is claimed again by whoever asks next. A crawl's result is
//! accepted only from the lease's holder, so an agency is counted once even when a slow
//! daemon finishes after its lease was taken over.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{cycle_work, cycles};
use super::{Conn, CycleResults, exclusive, lock, now, per_backend, write_results};
use crate::catalog::national::Records;
use crate::observation::AgencyObservation;
use crate::score::Ranked;

/// Joins the running cycle, or starts one for `slot` (the schedule's tick, in Unix
/// seconds) with a row of work per agency. `None` when the cycle of `slot` has already
/// run: another daemon that ticked at the same time started and finished it.
/// Returns the cycle and whether this call started it.
pub fn join_or_begin(
    conn: &mut Conn,
    slot: Option<i64>,
    agencies: &[String],
) -> QueryResult<Option<(i64, bool)>> {
    conn.transaction(|conn| {
        exclusive(conn, lock::CYCLE)?;
        let running: Option<i64> = cycles::table
            .filter(cycles::status.eq("running"))
            .order(cycles::id.desc())
            .select(cycles::id)
            .first(conn)
            .optional()?;
        if let Some(id) = running {
            return Ok(Some((id, false)));
        }
        if let Some(slot) = slot {
            let ran: i64 = cycles::table
                .filter(cycles::slot.eq(slot))
                .count()
                .get_result(conn)?;
            if ran > 0 {
                return Ok(None);
            }
        }
        let id: i64 = per_backend!(conn, c => diesel::insert_into(cycles::table)
            .values((
                cycles::started_at.eq(now()),
                cycles::status.eq("running"),
                cycles::agencies.eq(0),
                cycles::slot.eq(slot),
            ))
            .returning(cycles::id)
            .get_result(c))?;
        let rows: Vec<_> = agencies
            .iter()
            .map(|code| {
                (
                    cycle_work::cycle_id.eq(id),
                    cycle_work::agency_code.eq(code.as_str()),
                )
            })
            .collect();
        // SQLite limits bound parameters per statement; batches keep well under it.
        for batch in rows.chunks(500) {
            per_backend!(conn, c => diesel::insert_into(cycle_work::table)
                .values(batch)
                .execute(c))?;
        }
        Ok(Some((id, true)))
    })
}

/// Claims one agency of the cycle that nobody holds (never claimed, released, or its
/// lease expired) for `owner` until `lease` from now, skipping the codes in `skip`.
pub fn claim(
    conn: &mut Conn,
    cycle_id: i64,
    owner: &str,
    lease: Duration,
    skip: &[String],
) -> QueryResult<Option<String>> {
    let now = now();
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    conn.transaction(|conn| {
        macro_rules! open {
            () => {
                cycle_work::table
                    .filter(cycle_work::cycle_id.eq(cycle_id))
                    .filter(cycle_work::done.eq(false))
                    .filter(
                        cycle_work::locked_until
                            .is_null()
                            .or(cycle_work::locked_until.lt(now)),
                    )
                    .filter(diesel::dsl::not(cycle_work::agency_code.eq_any(skip)))
                    .order(cycle_work::agency_code.asc())
                    .select(cycle_work::agency_code)
                    .limit(1)
            };
        }
        let code: Option<String> = match conn {
            // Rows another daemon is claiming right now are skipped, not waited for.
            Conn::Pg(c) => open!().for_update().skip_locked().first(c).optional()?,
            Conn::Sqlite(_) => {
                // Workers of the one daemon claim one after another.
                exclusive(conn, lock::CYCLE)?;
                open!().first(conn).optional()?
            }
        };
        let Some(code) = code else {
            return Ok(None);
        };
        diesel::update(cycle_work::table.find((cycle_id, &code)))
            .set((
                cycle_work::owner.eq(owner),
                cycle_work::locked_until.eq(until),
                cycle_work::claims.eq(cycle_work::claims + 1),
                cycle_work::claimed_by.eq(cycle_work::claimed_by.concat(format!("{owner} "))),
            ))
            .execute(conn)?;
        Ok(Some(code))
    })
}

/// Extends `owner`'s leases on `agencies` of the cycle; how many it still holds.
pub fn renew(
    conn: &mut Conn,
    cycle_id: i64,
    owner: &str,
    agencies: &[String],
    lease: Duration,
) -> QueryResult<usize> {
    let until = now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    diesel::update(
        cycle_work::table
            .filter(cycle_work::cycle_id.eq(cycle_id))
            .filter(cycle_work::agency_code.eq_any(agencies))
            .filter(cycle_work::owner.eq(owner))
            .filter(cycle_work::done.eq(false)),
    )
    .set(cycle_work::locked_until.eq(until))
    .execute(conn)
}

/// Records what the crawl of `agency` saw, if `owner` still holds its lease; `false` when
/// the lease was taken over (then the other daemon's crawl counts, not this one).
pub fn complete(
    conn: &mut Conn,
    cycle_id: i64,
    agency: &str,
    owner: &str,
    observation: &str,
    state: Option<&str>,
    datasets: Option<&str>,
) -> QueryResult<bool> {
    let n = diesel::update(
        cycle_work::table
            .find((cycle_id, agency))
            .filter(cycle_work::owner.eq(owner))
            .filter(cycle_work::done.eq(false)),
    )
    .set((
        cycle_work::done.eq(true),
        cycle_work::locked_until.eq(None::<NaiveDateTime>),
        cycle_work::observation.eq(observation),
        cycle_work::harvest_state.eq(state),
        cycle_work::datasets.eq(datasets),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Gives back the leases `owner` holds, for another daemon to claim at once (a daemon
/// shutting down mid-cycle).
pub fn release(conn: &mut Conn, cycle_id: i64, owner: &str) -> QueryResult<usize> {
    diesel::update(
        cycle_work::table
            .filter(cycle_work::cycle_id.eq(cycle_id))
            .filter(cycle_work::owner.eq(owner))
            .filter(cycle_work::done.eq(false)),
    )
    .set(cycle_work::locked_until.eq(None::<NaiveDateTime>))
    .execute(conn)
}

/// Agencies of the cycle not crawled yet (held by someone or not).
pub fn remaining(conn: &mut Conn, cycle_id: i64) -> QueryResult<i64> {
    cycle_work::table
        .filter(cycle_work::cycle_id.eq(cycle_id))
        .filter(cycle_work::done.eq(false))
        .count()
        .get_result(conn)
}

/// One agency's crawl as stored: what it saw, and the harvest state to keep.
pub struct StoredCrawl {
    pub agency: String,
    /// `Err` with the reason when the stored observation does not read back.
    pub observation: Result<AgencyObservation, String>,
}

/// What scoring a cycle gives: the ranking, and the observations it was computed from.
pub type Scored = (Vec<Ranked>, Vec<AgencyObservation>);

/// Scores the cycle and writes its results, once: under the scoring lock, and only while
/// the cycle is still running. `None` when another daemon already did (it held the lock
/// first; this call waited for it, so the cycle is finished when it returns).
///
/// Every observation is read at once (scoring ranks them together), but they are small;
/// the datasets and harvest states, which grow with the catalogs, are moved into place one
/// agency at a time.
pub fn score_once<F>(conn: &mut Conn, cycle_id: i64, score: F) -> QueryResult<Option<Scored>>
where
    F: FnOnce(Vec<StoredCrawl>) -> Scored,
{
    conn.transaction(|conn| {
        exclusive(conn, lock::SCORE)?;
        let status: String = cycles::table
            .find(cycle_id)
            .select(cycles::status)
            .first(conn)?;
        if status != "running" {
            return Ok(None);
        }
        let done = cycle_work::table
            .filter(cycle_work::cycle_id.eq(cycle_id))
            .filter(cycle_work::done.eq(true));
        let rows: Vec<(String, Option<String>)> = done
            .order(cycle_work::agency_code.asc())
            .select((cycle_work::agency_code, cycle_work::observation))
            .load(conn)?;
        let crawls = rows
            .into_iter()
            .map(|(agency, observation)| StoredCrawl {
                observation: serde_json::from_str(observation.as_deref().unwrap_or_default())
                    .map_err(|e| format!("the stored observation does not read back: {e}")),
                agency,
            })
            .collect();
        let (ranked, observations) = score(crawls);
        let results = CycleResults {
            ranked: &ranked,
            observations: &observations,
            states: &[],
        };
        write_results(conn, cycle_id, &results)?;

        let waiting: Vec<String> = done
            .filter(
                cycle_work::datasets
                    .is_not_null()
                    .or(cycle_work::harvest_state.is_not_null()),
            )
            .select(cycle_work::agency_code)
            .load(conn)?;
        let at = now();
        for agency in waiting {
            let (datasets, state): (Option<String>, Option<String>) = cycle_work::table
                .find((cycle_id, &agency))
                .select((cycle_work::datasets, cycle_work::harvest_state))
                .first(conn)?;
            // Datasets that do not read back (written by another version) leave the
            // agency's last good list standing.
            if let Some(records) = datasets.and_then(|d| serde_json::from_str::<Records>(&d).ok()) {
                super::datasets::apply(conn, &agency, &records, at)?;
            }
            if let Some(state) = state {
                super::write_harvest_state(conn, &agency, &state)?;
            }
        }
        // Scored: what waited to be is in the results now.
        diesel::update(cycle_work::table.filter(cycle_work::cycle_id.eq(cycle_id)))
            .set((
                cycle_work::observation.eq(None::<String>),
                cycle_work::harvest_state.eq(None::<String>),
                cycle_work::datasets.eq(None::<String>),
            ))
            .execute(conn)?;
        Ok(Some((ranked, observations)))
    })
}

/// An agency's row of a cycle's work, as the daemons left it.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = cycle_work)]
pub struct WorkRow {
    pub agency_code: String,
    pub owner: Option<String>,
    pub claims: i32,
    /// Every claim's owner, in order, each followed by a space.
    pub claimed_by: String,
    pub done: bool,
}

/// Every agency's work in a cycle: who claimed it, how often, and whether it is done.
pub fn work(conn: &mut Conn, cycle_id: i64) -> QueryResult<Vec<WorkRow>> {
    cycle_work::table
        .filter(cycle_work::cycle_id.eq(cycle_id))
        .order(cycle_work::agency_code.asc())
        .select(WorkRow::as_select())
        .load(conn)
}

/// One cycle, as it stands.
pub fn cycle(conn: &mut Conn, cycle_id: i64) -> QueryResult<Option<super::CycleRow>> {
    cycles::table
        .find(cycle_id)
        .select(super::CycleRow::as_select())
        .first(conn)
        .optional()
}

/// Every cycle, oldest first.
pub fn cycles(conn: &mut Conn) -> QueryResult<Vec<super::CycleRow>> {
    cycles::table
        .order(cycles::id.asc())
        .select(super::CycleRow::as_select())
        .load(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn codes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("{i:02}")).collect()
    }

    #[tokio::test]
    async fn a_lease_is_taken_over_once_expired_and_only_its_holder_completes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!(
            "sqlite://{}",
            dir.path().join("w.sqlite").display()
        ))
        .unwrap();
        let (id, created) = store
            .run(|c| join_or_begin(c, Some(100), &codes(3)))
            .await
            .unwrap()
            .unwrap();
        assert!(created);
        // A daemon ticking at the same slot joins the running cycle.
        let joined = store
            .run(|c| join_or_begin(c, Some(100), &codes(3)))
            .await
            .unwrap();
        assert_eq!(joined, Some((id, false)));

        let long = Duration::from_secs(3600);
        let a = store
            .run(move |c| claim(c, id, "a", Duration::ZERO, &[]))
            .await
            .unwrap();
        assert_eq!(a.as_deref(), Some("01"));
        // "a"'s lease on 01 has already run out (a zero lease): "b" takes it over.
        let b = store
            .run(move |c| claim(c, id, "b", long, &[]))
            .await
            .unwrap();
        assert_eq!(b.as_deref(), Some("01"));
        // A live lease is not taken: "c" gets the next agency, skipping the one it is told to.
        let skip = vec!["02".to_string()];
        let c3 = store
            .run(move |c| claim(c, id, "c", long, &skip))
            .await
            .unwrap();
        assert_eq!(c3.as_deref(), Some("03"));
        assert_eq!(
            store
                .run(move |c| renew(c, id, "b", &["01".to_string()], long))
                .await
                .unwrap(),
            1
        );
        // The late holder's crawl does not count; the new holder's does, once.
        let done = |owner: &'static str, code: &'static str| {
            store.run(move |c| complete(c, id, code, owner, "{}", None, None))
        };
        assert!(!done("a", "01").await.unwrap());
        assert!(done("b", "01").await.unwrap());
        assert!(!done("b", "01").await.unwrap());
        assert_eq!(store.run(move |c| remaining(c, id)).await.unwrap(), 2);

        let rows = store.run(move |c| work(c, id)).await.unwrap();
        assert_eq!(rows[0].claims, 2);
        assert_eq!(rows[0].claimed_by, "a b ");
        assert_eq!((rows[1].claims, rows[2].claims), (0, 1));

        // Scored once: the second call finds the cycle finished and leaves it alone.
        let score = |crawls: Vec<StoredCrawl>| {
            assert_eq!(crawls.len(), 1);
            assert!(crawls[0].observation.is_err(), "`{{}}` is no observation");
            (Vec::new(), Vec::new())
        };
        assert!(
            store
                .run(move |c| score_once(c, id, score))
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .run(move |c| score_once(c, id, |_| unreachable!("scored twice")))
                .await
                .unwrap()
                .is_none()
        );
        // Its slot has run: a late tick of it starts nothing.
        assert_eq!(
            store
                .run(|c| join_or_begin(c, Some(100), &codes(3)))
                .await
                .unwrap(),
            None
        );
    }
}
