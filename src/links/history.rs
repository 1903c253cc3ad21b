//! What is kept of each link across cycles, and what it says about the agency: plain
//! values in, plain values out, so the rules are tested without a server or a database.
//!
//! A link is **broken** only once it has failed in `broken_after` consecutive cycles:
//! agencies' servers have bad minutes, and one must never flip a verdict. A link that
//! answers again starts over from zero. Failures are never served from the checker's
//! cache (see `LinkChecker`), so each counted failure is a check of its own; between two
//! checks a failure stands for `failure_recheck` ([`LinkRecord::stands`]), so that the
//! failures counted are that far apart however close the cycles run.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::{LinkClass, LinkResult};
use crate::harvest::CatalogLink;
use crate::observation::LinkSummary;

/// How many broken or mismatched links a finding names, so that it says what to fix
/// without becoming the whole list (the API serves the whole list).
pub const EXAMPLES: usize = 5;

/// One link of one agency, as last checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkRecord {
    pub url: String,
    pub media_type: Option<String>,
    pub class: LinkClass,
    pub http_status: Option<u16>,
    pub content_type: Option<String>,
    pub final_url: Option<String>,
    pub detail: String,
    pub consecutive_failures: u32,
    /// Failed in `broken_after` consecutive cycles, as configured when last checked.
    pub broken: bool,
    pub first_failure: Option<NaiveDateTime>,
    pub last_success: Option<NaiveDateTime>,
    pub checked_at: NaiveDateTime,
    /// The cycle that last counted it.
    pub cycle_id: i64,
}

impl LinkRecord {
    /// Whether the server sent another type than the catalog declares; `None` when
    /// either is unknown or the link did not answer.
    pub fn type_mismatch(&self) -> Option<bool> {
        if self.class.is_failure() {
            return None;
        }
        let declared = self.media_type.as_deref()?;
        let served = self.content_type.as_deref()?;
        served_type_matches(declared, served).map(|same| !same)
    }
}

impl LinkRecord {
    /// Whether the record still holds at `now` and counts in this cycle as it is, unasked:
    /// a success checked less than `fresh_for` ago, a failure less than `failure_recheck`
    /// ago.
    pub fn stands(
        &self,
        now: NaiveDateTime,
        fresh_for: std::time::Duration,
        failure_recheck: std::time::Duration,
    ) -> bool {
        let ttl = if self.class.is_failure() {
            failure_recheck
        } else {
            fresh_for
        };
        younger_than(self.checked_at, now, ttl)
    }
}

/// Whether `at` is less than `ttl` before `now`.
fn younger_than(at: NaiveDateTime, now: NaiveDateTime, ttl: std::time::Duration) -> bool {
    chrono::Duration::from_std(ttl).is_ok_and(|ttl| now.signed_duration_since(at) < ttl)
}

/// What a cycle has for one of an agency's links.
#[derive(Debug, Clone)]
pub enum Check {
    /// Its answer in this cycle (or a check of the same URL in flight, shared).
    Answered(LinkResult),
    /// Its record stands ([`LinkRecord::stands`]): counted as it is, not asked.
    Stands,
    /// The deadline came first: its history is kept, and it is not counted.
    NotReached,
}

/// The record after this cycle's check of `link`.
pub fn advance(
    before: Option<&LinkRecord>,
    link: &CatalogLink,
    result: &LinkResult,
    cycle_id: i64,
    now: NaiveDateTime,
    broken_after: u32,
) -> LinkRecord {
    let failed = result.class.is_failure();
    let counted_already = before.is_some_and(|b| b.cycle_id == cycle_id);
    let prior_failures = before.map_or(0, |b| b.consecutive_failures);
    let consecutive_failures = match (failed, counted_already) {
        (false, _) => 0,
        // A second check in the same cycle replaces the first; it is not a second cycle.
        (true, true) => prior_failures.max(1),
        (true, false) => prior_failures.saturating_add(1),
    };
    let first_failure = if failed {
        before
            .filter(|b| b.class.is_failure())
            .and_then(|b| b.first_failure)
            .or(Some(now))
    } else {
        None
    };
    let last_success = if failed {
        before.and_then(|b| b.last_success)
    } else {
        Some(now)
    };
    LinkRecord {
        url: link.url.clone(),
        media_type: link.media_type.clone(),
        class: result.class,
        http_status: result.status,
        content_type: result.content_type.clone(),
        final_url: result.final_url.as_ref().map(|u| u.to_string()),
        detail: result.detail.clone(),
        consecutive_failures,
        broken: failed && consecutive_failures >= broken_after.max(1),
        first_failure,
        last_success,
        checked_at: now,
        cycle_id,
    }
}

/// What an agency's links, as checked in `cycle_id`, count for its score.
pub fn summarize<'a>(
    records: impl IntoIterator<Item = &'a LinkRecord>,
    cycle_id: i64,
) -> LinkSummary {
    tally(records.into_iter().filter(|r| r.cycle_id == cycle_id))
}

/// What `records` count for, whichever cycle checked them.
fn tally<'a>(records: impl IntoIterator<Item = &'a LinkRecord>) -> LinkSummary {
    let mut summary = LinkSummary::default();
    for r in records {
        summary.checked += 1;
        if r.broken {
            summary.broken += 1;
            if summary.broken_examples.len() < EXAMPLES {
                summary
                    .broken_examples
                    .push(format!("{} ({})", r.url, r.detail));
            }
        }
        if r.type_mismatch() == Some(true) {
            summary.type_mismatch += 1;
            if summary.mismatch_examples.len() < EXAMPLES {
                summary.mismatch_examples.push(format!(
                    "{} (declared {}, served {})",
                    r.url,
                    r.media_type.as_deref().unwrap_or_default(),
                    r.content_type.as_deref().unwrap_or_default()
                ));
            }
        }
    }
    summary
}

/// `a` and `b` counted together, keeping at most [`EXAMPLES`] examples of each kind.
pub fn combine(mut a: LinkSummary, b: &LinkSummary) -> LinkSummary {
    a.checked += b.checked;
    a.broken += b.broken;
    a.type_mismatch += b.type_mismatch;
    for (into, from) in [
        (&mut a.broken_examples, &b.broken_examples),
        (&mut a.mismatch_examples, &b.mismatch_examples),
    ] {
        let room = EXAMPLES.saturating_sub(into.len());
        into.extend(from.iter().take(room).cloned());
    }
    a
}

/// A digest of an agency's link list, to tell the list a ledger was kept for.
pub fn list_digest(links: &[CatalogLink]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for l in links {
        h.update(l.url.as_bytes());
        h.update(&[0]);
        h.update(l.media_type.as_deref().unwrap_or_default().as_bytes());
        h.update(&[0xff]);
    }
    h.digest()
}

/// What an agency's links stood at when they were last recorded, in one small value kept
/// beside their rows.
///
/// An unchanged agency's links are mostly successes still fresh, which a cycle would read
/// back only to count them again. With the ledger, a cycle whose list is the one recorded,
/// and whose successes are all fresh, reads and asks only the failing links (failures are
/// asked every cycle, see the module's comment), and carries the successes' count forward.
/// The metrics read the counts by class from it too, not from every link's row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkLedger {
    /// The [`list_digest`] of the list recorded.
    pub list: u64,
    /// Every listed link has a record: none was left unasked by a deadline.
    pub complete: bool,
    /// When the least recently checked success was checked: all are fresh while it is.
    pub oldest_success: Option<NaiveDateTime>,
    /// What the successes count for.
    pub successes: LinkSummary,
    /// How many links are in each class, failures included.
    pub classes: BTreeMap<LinkClass, i64>,
}

impl LinkLedger {
    /// The ledger of `records`, the whole record of the list `list` of `listed` links.
    pub fn of(list: u64, listed: usize, records: &[LinkRecord]) -> LinkLedger {
        let successes = || records.iter().filter(|r| !r.class.is_failure());
        let mut classes = BTreeMap::new();
        for r in records {
            *classes.entry(r.class).or_insert(0) += 1;
        }
        LinkLedger {
            list,
            complete: records.len() == listed,
            oldest_success: successes().map(|r| r.checked_at).min(),
            successes: tally(successes()),
            classes,
        }
    }

    /// Whether a cycle at `now` may carry the successes forward and ask only the failing
    /// links of `list`: the list is the one recorded, wholly, and no success is older
    /// than `fresh_for`.
    pub fn carries(&self, list: u64, now: NaiveDateTime, fresh_for: std::time::Duration) -> bool {
        self.list == list
            && self.complete
            && self
                .oldest_success
                .is_none_or(|at| younger_than(at, now, fresh_for))
    }

    /// This ledger once the failing links, `before`, are recorded again as `after`
    /// (those that answered now join the successes).
    pub fn with_failing_rechecked(
        &self,
        before: &[&LinkRecord],
        after: &[LinkRecord],
    ) -> LinkLedger {
        let mut next = self.clone();
        for r in before {
            if let Some(n) = next.classes.get_mut(&r.class) {
                *n -= 1;
            }
        }
        for r in after {
            *next.classes.entry(r.class).or_insert(0) += 1;
        }
        next.classes.retain(|_, n| *n > 0);
        let recovered: Vec<&LinkRecord> = after.iter().filter(|r| !r.class.is_failure()).collect();
        next.successes = combine(next.successes, &tally(recovered.iter().copied()));
        next.oldest_success = recovered
            .iter()
            .map(|r| r.checked_at)
            .chain(next.oldest_success)
            .min();
        next
    }
}

/// Whether a served Content-Type is the declared media type, allowing for the aliases
/// servers use for one type; `None` when the server says nothing useful
/// (`application/octet-stream` is what servers send when they don't know).
pub fn served_type_matches(declared: &str, served: &str) -> Option<bool> {
    let essence = |t: &str| {
        let t = t.split(';').next().unwrap_or_default().trim();
        // DCAT-AP writes the IANA registry's URI for a media type.
        let t = t
            .rsplit_once("/assignments/media-types/")
            .map_or(t, |(_, rest)| rest);
        canonical(&t.to_ascii_lowercase())
    };
    let served = essence(served);
    if served.is_empty() || served == "application/octet-stream" || !served.contains('/') {
        return None;
    }
    let declared = essence(declared);
    if !declared.contains('/') {
        return None;
    }
    Some(declared == served)
}

/// One name for each family of aliases.
fn canonical(t: &str) -> String {
    match t {
        "application/csv" | "text/comma-separated-values" | "text/x-csv" => "text/csv",
        "text/json" | "application/x-json" => "application/json",
        "text/xml" => "application/xml",
        "application/x-zip-compressed" | "application/x-zip" => "application/zip",
        "application/vnd.geo+json" => "application/geo+json",
        "application/x-excel" | "application/excel" => "application/vnd.ms-excel",
        other => other,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, day)
            .and_then(|d| d.and_hms_opt(1, 0, 0))
            .expect("a valid date")
    }

    fn link() -> CatalogLink {
        CatalogLink {
            url: "https://data.example.vn/a.csv".into(),
            media_type: Some("text/csv".into()),
        }
    }

    fn answer(class: LinkClass, status: Option<u16>, content_type: Option<&str>) -> LinkResult {
        LinkResult {
            class,
            status,
            final_url: None,
            content_type: content_type.map(str::to_string),
            method: None,
            redirects: 0,
            latency_ms: 1,
            detail: format!("{}", status.unwrap_or(0)),
            from_cache: false,
        }
    }

    #[test]
    fn a_link_is_broken_only_after_n_failed_cycles_in_a_row() {
        let fail = answer(LinkClass::ClientError, Some(404), None);
        let ok = answer(LinkClass::Ok, Some(200), Some("text/csv"));
        let r1 = advance(None, &link(), &fail, 1, at(1), 3);
        let r2 = advance(Some(&r1), &link(), &fail, 2, at(2), 3);
        assert!(!r2.broken, "two failures of three");
        let r3 = advance(Some(&r2), &link(), &fail, 3, at(3), 3);
        assert!(r3.broken);
        assert_eq!(r3.first_failure, Some(at(1)), "the first failure stays");
        assert_eq!(r3.last_success, None);
        // One good answer starts the count over.
        let r4 = advance(Some(&r3), &link(), &ok, 4, at(4), 3);
        assert!(!r4.broken);
        assert_eq!((r4.consecutive_failures, r4.first_failure), (0, None));
        assert_eq!(r4.last_success, Some(at(4)));
        let r5 = advance(Some(&r4), &link(), &fail, 5, at(5), 3);
        assert_eq!(r5.consecutive_failures, 1);
        assert_eq!(
            r5.last_success,
            Some(at(4)),
            "the last success is remembered"
        );
    }

    #[test]
    fn a_success_stands_for_its_ttl_and_a_failure_until_it_is_due_again() {
        let day = std::time::Duration::from_secs(86_400);
        let hour = std::time::Duration::from_secs(3_600);
        let ok = advance(
            None,
            &link(),
            &answer(LinkClass::Ok, Some(200), Some("text/csv")),
            1,
            at(1),
            3,
        );
        assert!(ok.stands(at(1), day, hour));
        assert!(
            !ok.stands(at(2), day, hour),
            "a day later it is asked again"
        );
        assert!(!ok.stands(at(1), std::time::Duration::ZERO, hour));
        let failed = advance(
            None,
            &link(),
            &answer(LinkClass::ServerError, Some(500), None),
            1,
            at(1),
            3,
        );
        assert!(failed.stands(at(1), day, hour));
        assert!(!failed.stands(at(1), day, std::time::Duration::ZERO));
        assert!(
            !failed.stands(at(2), day, hour),
            "past its recheck time, a failure is asked again"
        );
    }

    #[test]
    fn a_second_check_in_the_same_cycle_is_not_a_second_failure() {
        let fail = answer(LinkClass::Timeout, None, None);
        let r1 = advance(None, &link(), &fail, 7, at(1), 2);
        let again = advance(Some(&r1), &link(), &fail, 7, at(1), 2);
        assert!(!again.broken);
        assert_eq!(again.consecutive_failures, 1);
    }

    #[test]
    fn the_summary_counts_this_cycles_links_with_examples() {
        let fail = answer(LinkClass::ServerError, Some(500), None);
        let html = answer(LinkClass::Ok, Some(200), Some("text/html; charset=utf-8"));
        let csv = answer(LinkClass::Ok, Some(200), Some("application/csv"));
        let records = [
            advance(None, &link(), &fail, 9, at(1), 1),
            advance(None, &link(), &html, 9, at(1), 1),
            advance(None, &link(), &csv, 9, at(1), 1),
            // Not checked in this cycle (the deadline came first): not counted.
            advance(None, &link(), &fail, 8, at(1), 1),
        ];
        let s = summarize(&records, 9);
        assert_eq!((s.checked, s.broken, s.type_mismatch), (3, 1, 1));
        assert_eq!(s.broken_examples.len(), 1);
        assert!(s.mismatch_examples[0].contains("served text/html"));
        let once = [advance(None, &link(), &fail, 9, at(1), 2)];
        assert_eq!(summarize(&once, 9).broken, 0, "one failure of two");
    }

    fn listed(url: &str) -> CatalogLink {
        CatalogLink {
            url: url.into(),
            media_type: Some("text/csv".into()),
        }
    }

    #[test]
    fn a_ledger_carries_fresh_successes_and_counts_as_the_whole_list_would() {
        let ok = answer(LinkClass::Ok, Some(200), Some("text/csv"));
        let html = answer(LinkClass::Ok, Some(200), Some("text/html"));
        let gone = answer(LinkClass::ClientError, Some(404), None);
        let list = [listed("a"), listed("b"), listed("c"), listed("d")];
        let digest = list_digest(&list);
        // Cycle 1: a and b answer (b with the wrong type), c and d fail.
        let first: Vec<LinkRecord> = list
            .iter()
            .zip([&ok, &html, &gone, &gone])
            .map(|(l, r)| advance(None, l, r, 1, at(1), 2))
            .collect();
        let ledger = LinkLedger::of(digest, list.len(), &first);
        assert_eq!(ledger.successes.checked, 2);
        assert_eq!(ledger.successes.type_mismatch, 1);
        assert_eq!(ledger.classes.get(&LinkClass::ClientError), Some(&2));
        assert_eq!(ledger.oldest_success, Some(at(1)));

        let day = std::time::Duration::from_secs(86_400);
        assert!(ledger.carries(digest, at(1), day));
        assert!(!ledger.carries(digest, at(2), day), "a stale success");
        assert!(
            !ledger.carries(list_digest(&list[..3]), at(1), day),
            "another list"
        );
        let partial = LinkLedger::of(digest, list.len(), &first[..3]);
        assert!(!partial.carries(digest, at(1), day), "a link never asked");

        // Cycle 2: c answers now, d fails again. Counted from the ledger and the failing
        // links alone, the summary is the one the whole list gives.
        let second_failing = [
            advance(Some(&first[2]), &list[2], &ok, 2, at(1), 2),
            advance(Some(&first[3]), &list[3], &gone, 2, at(1), 2),
        ];
        let carried = combine(ledger.successes.clone(), &summarize(&second_failing, 2));
        let whole: Vec<LinkRecord> = first[..2]
            .iter()
            .map(|r| LinkRecord {
                cycle_id: 2,
                ..r.clone()
            })
            .chain(second_failing.iter().cloned())
            .collect();
        let counted = summarize(&whole, 2);
        assert_eq!(
            (carried.checked, carried.broken, carried.type_mismatch),
            (counted.checked, counted.broken, counted.type_mismatch)
        );
        assert_eq!((carried.checked, carried.broken), (4, 1));
        let next = ledger.with_failing_rechecked(&[&first[2], &first[3]], &second_failing);
        assert_eq!(next, LinkLedger::of(digest, list.len(), &whole));
    }

    #[test]
    fn served_types_are_compared_by_essence_and_alias() {
        assert_eq!(
            served_type_matches("text/csv", "text/csv; charset=utf-8"),
            Some(true)
        );
        assert_eq!(
            served_type_matches("text/csv", "application/csv"),
            Some(true)
        );
        assert_eq!(
            served_type_matches(
                "http://www.iana.org/assignments/media-types/text/csv",
                "text/csv"
            ),
            Some(true)
        );
        assert_eq!(served_type_matches("text/csv", "text/html"), Some(false));
        assert_eq!(
            served_type_matches("text/csv", "application/octet-stream"),
            None
        );
        assert_eq!(served_type_matches("CSV", "text/html"), None);
    }
}
