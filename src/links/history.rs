//! What is kept of each link across cycles, and what it says about the agency: plain
//! values in, plain values out, so the rules are tested without a server or a database.
//!
//! A link is **broken** only once it has failed in `broken_after` consecutive cycles:
//! agencies' servers have bad minutes, and one must never flip a verdict. A link that
//! answers again starts over from zero. Failures are never served from the checker's
//! cache (see `LinkChecker`), so each counted failure is a check made in that cycle.

use chrono::NaiveDateTime;
use serde::Serialize;

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
    /// The answer this record remembers, as if the checker had served it from its cache:
    /// for a link that answered recently enough not to be asked again.
    pub fn remembered(&self) -> LinkResult {
        LinkResult {
            class: self.class,
            status: self.http_status,
            final_url: self
                .final_url
                .as_deref()
                .and_then(|u| url::Url::parse(u).ok()),
            content_type: self.content_type.clone(),
            method: None,
            redirects: 0,
            latency_ms: 0,
            detail: self.detail.clone(),
            from_cache: true,
        }
    }

    /// Whether the answer still holds at `now`: a success checked less than `ttl` ago.
    /// A failure is never reused, so that "failed N cycles running" means N checks.
    pub fn fresh(&self, now: NaiveDateTime, ttl: std::time::Duration) -> bool {
        !self.class.is_failure()
            && chrono::Duration::from_std(ttl)
                .is_ok_and(|ttl| now.signed_duration_since(self.checked_at) < ttl)
    }
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
    let mut summary = LinkSummary::default();
    for r in records.into_iter().filter(|r| r.cycle_id == cycle_id) {
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
    fn a_success_is_remembered_for_the_ttl_and_a_failure_never() {
        let day = std::time::Duration::from_secs(86_400);
        let ok = advance(
            None,
            &link(),
            &answer(LinkClass::Ok, Some(200), Some("text/csv")),
            1,
            at(1),
            3,
        );
        assert!(ok.fresh(at(1), day));
        assert!(!ok.fresh(at(2), day), "a day later it is asked again");
        assert!(!ok.fresh(at(1), std::time::Duration::ZERO));
        let again = ok.remembered();
        assert!(again.from_cache);
        assert_eq!(
            (again.class, again.status, again.content_type.as_deref()),
            (LinkClass::Ok, Some(200), Some("text/csv"))
        );
        // Advanced by what it remembers, the record is what it was.
        let next = advance(Some(&ok), &link(), &again, 2, at(1), 3);
        assert_eq!((next.class, next.consecutive_failures), (ok.class, 0));
        let failed = advance(
            None,
            &link(),
            &answer(LinkClass::ServerError, Some(500), None),
            1,
            at(1),
            3,
        );
        assert!(!failed.fresh(at(1), day));
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
