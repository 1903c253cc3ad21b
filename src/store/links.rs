//! Each agency's links and their history (`link_states`).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Conn;
use super::schema::link_states;
use crate::harvest::CatalogLink;
use crate::links::history::{self, LinkRecord};
use crate::links::{LinkClass, LinkResult};
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

/// Records this cycle's checks of an agency's links and says what they count for.
///
/// `before` is the agency's records as [`link_records`] read them before the check (the
/// agency's lease keeps anyone else from writing them meanwhile); `links` is its whole
/// current list, each with its answer, or `None` when the check did not get to it (its
/// history is kept as it was). Links no longer listed are forgotten. Rows are written
/// only when something changed, so an unchanged federation whose links answer as before
/// costs one read, not writes.
pub fn record_links(
    conn: &mut Conn,
    cycle_id: i64,
    agency: &str,
    before: &HashMap<String, LinkRecord>,
    links: &[(CatalogLink, Option<LinkResult>)],
    broken_after: u32,
    now: NaiveDateTime,
) -> QueryResult<LinkSummary> {
    conn.transaction(|conn| {
        super::write_first(conn)?;
        let mut now_records = Vec::with_capacity(links.len());
        let mut listed = HashSet::with_capacity(links.len());
        for (link, result) in links {
            listed.insert(link.url.as_str());
            let prev = before.get(&link.url);
            let Some(result) = result else {
                now_records.extend(prev.cloned());
                continue;
            };
            let next = history::advance(prev, link, result, cycle_id, now, broken_after);
            // A success that reads the same as before needs no write: only its
            // last_success would move, and a cached answer did not make a new request.
            let same = prev.is_some_and(|p| {
                !p.class.is_failure()
                    && p.class == next.class
                    && p.http_status == next.http_status
                    && p.content_type == next.content_type
                    && p.media_type == next.media_type
                    && result.from_cache
            });
            if !same {
                let row = LinkStateRow::of(agency, &next);
                super::per_backend!(conn, c => diesel::insert_into(link_states::table)
                    .values(&row)
                    .on_conflict((link_states::agency_code, link_states::url))
                    .do_update()
                    .set(&row)
                    .execute(c))?;
            }
            let counted = if same {
                LinkRecord { cycle_id, ..next }
            } else {
                next
            };
            now_records.push(counted);
        }
        // What else `before` holds is no longer listed by the catalog.
        for url in before.keys().filter(|u| !listed.contains(u.as_str())) {
            diesel::delete(
                link_states::table
                    .filter(link_states::agency_code.eq(agency))
                    .filter(link_states::url.eq(url)),
            )
            .execute(conn)?;
        }
        Ok(history::summarize(&now_records, cycle_id))
    })
}

/// An agency's links as last checked, by URL.
pub fn link_records(conn: &mut Conn, agency: &str) -> QueryResult<HashMap<String, LinkRecord>> {
    Ok(link_states::table
        .filter(link_states::agency_code.eq(agency))
        .select(LinkStateRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|row| (row.url.clone(), row.record()))
        .collect())
}

/// Per agency, how many of its links are in each class as last checked.
pub fn link_counts(conn: &mut Conn) -> QueryResult<HashMap<String, Vec<(LinkClass, i64)>>> {
    let rows: Vec<(String, String, i64)> = link_states::table
        .group_by((link_states::agency_code, link_states::class))
        .select((
            link_states::agency_code,
            link_states::class,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    let mut out: HashMap<String, Vec<(LinkClass, i64)>> = HashMap::new();
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
