//! Each agency's links and their history (`link_states`).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Conn;
use super::schema::{link_ledgers, link_states};
use crate::harvest::CatalogLink;
use crate::links::LinkClass;
use crate::links::history::{self, Check, LinkLedger, LinkRecord};
use crate::observation::LinkSummary;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = link_states)]
struct LinkStateRow {
    agency_code: String,
    url: String,
    media_type: Option<String>,
    class: String,
    http_status: Option<i32>,
    content_type: Option<String>,
    final_url: Option<String>,
    detail: String,
    consecutive_failures: i32,
    broken: bool,
    first_failure: Option<NaiveDateTime>,
    last_success: Option<NaiveDateTime>,
    checked_at: NaiveDateTime,
    cycle_id: i64,
}

impl LinkStateRow {
    fn of(agency: &str, r: &LinkRecord) -> LinkStateRow {
        LinkStateRow {
            agency_code: agency.to_string(),
            url: r.url.clone(),
            media_type: r.media_type.clone(),
            class: r.class.as_str().to_string(),
            http_status: r.http_status.map(i32::from),
            content_type: r.content_type.clone(),
            final_url: r.final_url.clone(),
            detail: r.detail.clone(),
            consecutive_failures: i32::try_from(r.consecutive_failures).unwrap_or(i32::MAX),
            broken: r.broken,
            first_failure: r.first_failure,
            last_success: r.last_success,
            checked_at: r.checked_at,
            cycle_id: r.cycle_id,
        }
    }

    fn record(self) -> LinkRecord {
        LinkRecord {
            url: self.url,
            media_type: self.media_type,
            // A class this build does not know (written by a newer one) reads as a failure
            // the next check will correct.
            class: LinkClass::ALL
                .into_iter()
                .find(|c| c.as_str() == self.class)
                .unwrap_or(LinkClass::Blocked),
            http_status: self.http_status.and_then(|s| u16::try_from(s).ok()),
            content_type: self.content_type,
            final_url: self.final_url,
            detail: self.detail,
            consecutive_failures: u32::try_from(self.consecutive_failures).unwrap_or(0),
            broken: self.broken,
            first_failure: self.first_failure,
            last_success: self.last_success,
            checked_at: self.checked_at,
            cycle_id: self.cycle_id,
        }
    }
}

/// One cycle's checks of one agency's links, to record.
pub struct LinkChecks<'a> {
    pub cycle_id: i64,
    pub agency: &'a str,
    /// The agency's records as [`link_records`] read them before the check (for
    /// [`Scope::Failing`], the failing ones only); the agency's lease keeps
    /// anyone else from writing them meanwhile.
    pub before: &'a HashMap<String, LinkRecord>,
    /// The links of the scope, each with what this cycle has for it.
    pub links: &'a [(CatalogLink, Check)],
    pub scope: Scope<'a>,
    pub broken_after: u32,
    pub now: NaiveDateTime,
}

/// Which of an agency's links a check covers.
#[derive(Clone, Copy)]
pub enum Scope<'a> {
    /// The whole list, whose [`history::list_digest`] this is: links no longer listed are
    /// forgotten.
    Whole { list: u64 },
    /// Only the links failing when the ledger was kept: its successes, fresh and listed
    /// as they were, are carried forward unasked.
    Failing(&'a LinkLedger),
}

/// Records this cycle's checks of an agency's links, keeps its ledger, and says what the
/// links count for. Rows are written only when something changed, so an unchanged
/// federation whose links answer as before costs reads, not writes.
pub fn record_links(conn: &mut Conn, checks: &LinkChecks) -> QueryResult<LinkSummary> {
    let LinkChecks {
        cycle_id,
        agency,
        before,
        links,
        scope,
        broken_after,
        now,
    } = *checks;
    conn.transaction(|conn| {
        super::write_first(conn)?;
        let mut now_records = Vec::with_capacity(links.len());
        let mut listed = HashSet::with_capacity(links.len());
        for (link, check) in links {
            listed.insert(link.url.as_str());
            let prev = before.get(&link.url);
            let result = match (check, prev) {
                (Check::Answered(result), _) => result,
                (Check::Stands, Some(prev)) => {
                    now_records.push(LinkRecord {
                        cycle_id,
                        ..prev.clone()
                    });
                    continue;
                }
                (Check::Stands | Check::NotReached, _) => {
                    now_records.extend(prev.cloned());
                    continue;
                }
            };
            let next = history::advance(prev, link, result, cycle_id, now, broken_after);
            // A success that reads the same as before needs no write: only its
            // last_success would move, and a shared answer did not make a request of its
            // own. What is counted is then the row as it stays.
            match prev.filter(|p| {
                !p.class.is_failure()
                    && p.class == next.class
                    && p.http_status == next.http_status
                    && p.content_type == next.content_type
                    && p.media_type == next.media_type
                    && result.from_cache
            }) {
                Some(same) => now_records.push(LinkRecord {
                    cycle_id,
                    ..same.clone()
                }),
                None => {
                    let row = LinkStateRow::of(agency, &next);
                    super::per_backend!(conn, c => diesel::insert_into(link_states::table)
                        .values(&row)
                        .on_conflict((link_states::agency_code, link_states::url))
                        .do_update()
                        .set(&row)
                        .execute(c))?;
                    now_records.push(next);
                }
            }
        }
        let this_cycle = history::summarize(&now_records, cycle_id);
        let (summary, ledger) = match scope {
            Scope::Whole { list } => {
                // What else `before` holds is no longer listed by the catalog.
                for url in before.keys().filter(|u| !listed.contains(u.as_str())) {
                    diesel::delete(
                        link_states::table
                            .filter(link_states::agency_code.eq(agency))
                            .filter(link_states::url.eq(url)),
                    )
                    .execute(conn)?;
                }
                (this_cycle, LinkLedger::of(list, links.len(), &now_records))
            }
            Scope::Failing(carried) => {
                let was: Vec<&LinkRecord> = links
                    .iter()
                    .filter_map(|(l, _)| before.get(&l.url))
                    .collect();
                (
                    history::combine(carried.successes.clone(), &this_cycle),
                    carried.with_failing_rechecked(&was, &now_records),
                )
            }
        };
        write_ledger(conn, agency, &ledger)?;
        Ok(summary)
    })
}

fn write_ledger(conn: &mut Conn, agency: &str, ledger: &LinkLedger) -> QueryResult<()> {
    let json = serde_json::to_string(ledger)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    super::per_backend!(conn, c => diesel::insert_into(link_ledgers::table)
        .values((
            link_ledgers::agency_code.eq(agency),
            link_ledgers::ledger.eq(&json),
        ))
        .on_conflict(link_ledgers::agency_code)
        .do_update()
        .set(link_ledgers::ledger.eq(&json))
        .execute(c))?;
    Ok(())
}

/// The agency's ledger, if one was kept and this build reads it.
pub fn link_ledger(conn: &mut Conn, agency: &str) -> QueryResult<Option<LinkLedger>> {
    let json: Option<String> = link_ledgers::table
        .find(agency)
        .select(link_ledgers::ledger)
        .first(conn)
        .optional()?;
    Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
}

/// An agency's links as last checked, by URL: all of them, or with `failing_only` those
/// that failed (a cycle that carries its ledger's successes forward reads no more).
pub fn link_records(
    conn: &mut Conn,
    agency: &str,
    failing_only: bool,
) -> QueryResult<HashMap<String, LinkRecord>> {
    let of_agency = link_states::table.filter(link_states::agency_code.eq(agency));
    let rows: Vec<LinkStateRow> = if failing_only {
        let failures = LinkClass::ALL
            .into_iter()
            .filter(|c| c.is_failure())
            .map(LinkClass::as_str);
        of_agency
            .filter(link_states::class.eq_any(failures))
            .select(LinkStateRow::as_select())
            .load(conn)?
    } else {
        of_agency.select(LinkStateRow::as_select()).load(conn)?
    };
    Ok(rows
        .into_iter()
        .map(|row| (row.url.clone(), row.record()))
        .collect())
}

/// For each of `agencies`, how many of its links are in each class as last checked: from
/// its ledger, or, for an agency whose links were recorded before ledgers were kept, by
/// counting its rows (through the key's index: no other agency's rows are read).
pub fn link_counts(
    conn: &mut Conn,
    agencies: &[String],
) -> QueryResult<HashMap<String, Vec<(LinkClass, i64)>>> {
    let mut out: HashMap<String, Vec<(LinkClass, i64)>> = HashMap::new();
    let ledgers: Vec<(String, String)> = link_ledgers::table
        .filter(link_ledgers::agency_code.eq_any(agencies))
        .select((link_ledgers::agency_code, link_ledgers::ledger))
        .load(conn)?;
    for (agency, json) in ledgers {
        if let Ok(ledger) = serde_json::from_str::<LinkLedger>(&json) {
            out.insert(agency, ledger.classes.into_iter().collect());
        }
    }
    let unkept: Vec<&String> = agencies.iter().filter(|a| !out.contains_key(*a)).collect();
    if unkept.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(String, String, i64)> = link_states::table
        .filter(link_states::agency_code.eq_any(unkept))
        .group_by((link_states::agency_code, link_states::class))
        .select((
            link_states::agency_code,
            link_states::class,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    for (agency, class, n) in rows {
        if let Some(class) = LinkClass::ALL.into_iter().find(|c| c.as_str() == class) {
            out.entry(agency).or_default().push((class, n));
        }
    }
    Ok(out)
}

/// An agency's links, failing ones first (the longest failing first), then the rest.
pub fn agency_links(conn: &mut Conn, agency: &str) -> QueryResult<Vec<LinkRecord>> {
    let mut records: Vec<LinkRecord> = link_states::table
        .filter(link_states::agency_code.eq(agency))
        .select(LinkStateRow::as_select())
        .load(conn)?
        .into_iter()
        .map(LinkStateRow::record)
        .collect();
    records.sort_by(|a, b| {
        b.consecutive_failures
            .cmp(&a.consecutive_failures)
            .then_with(|| a.url.cmp(&b.url))
    });
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::links::LinkResult;
    use crate::store::Store;

    fn answer(class: LinkClass, status: u16) -> Check {
        Check::Answered(LinkResult {
            class,
            status: Some(status),
            final_url: None,
            content_type: Some("text/csv".into()),
            method: None,
            redirects: 0,
            latency_ms: 1,
            detail: status.to_string(),
            from_cache: false,
        })
    }

    fn record(store_conn: &mut Conn, agency: &str) -> QueryResult<LinkSummary> {
        let links = [
            (
                CatalogLink {
                    url: format!("https://{agency}.example.vn/ok.csv"),
                    media_type: Some("text/csv".into()),
                },
                answer(LinkClass::Ok, 200),
            ),
            (
                CatalogLink {
                    url: format!("https://{agency}.example.vn/gone.csv"),
                    media_type: Some("text/csv".into()),
                },
                answer(LinkClass::ClientError, 404),
            ),
        ];
        let list: Vec<CatalogLink> = links.iter().map(|(l, _)| l.clone()).collect();
        record_links(
            store_conn,
            &LinkChecks {
                cycle_id: 1,
                agency,
                before: &HashMap::new(),
                links: &links,
                scope: Scope::Whole {
                    list: history::list_digest(&list),
                },
                broken_after: 1,
                now: chrono::Utc::now().naive_utc(),
            },
        )
    }

    #[tokio::test]
    async fn counts_come_from_ledgers_and_from_rows_kept_before_ledgers() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("dt.sqlite").display());
        let store = Store::open(&url).unwrap();
        let (counts, failing, ledger) = store
            .run(|c| {
                let summary = record(c, "A")?;
                assert_eq!((summary.checked, summary.broken), (2, 1));
                record(c, "B")?;
                // A's links as a build from before ledgers left them.
                diesel::delete(link_ledgers::table.find("A")).execute(c)?;
                Ok((
                    link_counts(c, &["A".to_string(), "B".to_string()])?,
                    link_records(c, "B", true)?,
                    link_ledger(c, "B")?,
                ))
            })
            .await
            .unwrap();
        for agency in ["A", "B"] {
            let mut classes = counts[agency].clone();
            classes.sort();
            assert_eq!(
                classes,
                vec![(LinkClass::Ok, 1), (LinkClass::ClientError, 1)],
                "{agency}"
            );
        }
        assert_eq!(
            failing.keys().collect::<Vec<_>>(),
            ["https://B.example.vn/gone.csv"],
            "only the failing links are read"
        );
        let ledger = ledger.expect("B's ledger is kept");
        assert!(ledger.complete);
        assert_eq!(ledger.successes.checked, 1);
    }
}
