//! The four data-quality dimensions — đủ (sufficient), đúng (correct), sạch (clean),
//! sống (alive) — as rules over one dataset at a time. Pure: no I/O, no clock (the time a
//! freshness verdict is taken at is an argument).
//!
//! A catalog can hold a million records, so a dataset is reduced, as it is read, to a
//! [`Mark`]: one bit per rule it fails, two bits of evidence for the targets, and the day
//! its data stops being fresh. Marks fold into a [`QualityTally`], and the agency's
//! scores come from the tally alone. Every rule has fixed points, so "what did this
//! dataset lose, and why" is always answerable from its bits.
//!
//! The rules and their points are listed in `docs/methodology.md`, with the indicator of
//! data.europa.eu's MQA, ckanext-qa or pydatajson each one comes from.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::catalog::{Dataset, Distribution};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    /// đủ: the metadata users need is there.
    Sufficient,
    /// đúng: the values conform to their standards.
    Correct,
    /// sạch: no duplicates, open formats, no placeholders, working links.
    Clean,
    /// sống: the data is kept up to date and its endpoints are up.
    Alive,
}

impl Dimension {
    pub const ALL: [Dimension; 4] = [
        Dimension::Sufficient,
        Dimension::Correct,
        Dimension::Clean,
        Dimension::Alive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Sufficient => "sufficient",
            Dimension::Correct => "correct",
            Dimension::Clean => "clean",
            Dimension::Alive => "alive",
        }
    }

    /// The word of the national plan.
    pub fn vietnamese(self) -> &'static str {
        match self {
            Dimension::Sufficient => "đủ",
            Dimension::Correct => "đúng",
            Dimension::Clean => "sạch",
            Dimension::Alive => "sống",
        }
    }
}

/// Each dimension is out of this many points.
pub const DIMENSION_POINTS: f64 = 100.0;

/// A rule a single dataset passes or fails, worth `points` of its dimension.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// Stable id, `Q.<dimension>.<name>`: the rule of every finding it produces.
    pub id: &'static str,
    pub dimension: Dimension,
    pub points: f64,
    /// What a failing dataset shows, completing "N of M datasets …".
    pub seen: &'static str,
    pub fix: &'static str,
}

const fn rule(
    id: &'static str,
    dimension: Dimension,
    points: f64,
    seen: &'static str,
    fix: &'static str,
) -> Rule {
    Rule {
        id,
        dimension,
        points,
        seen,
        fix,
    }
}

use Dimension::{Alive, Clean, Correct, Sufficient};

/// The rules judged per dataset, in bit order of [`Mark::lost`]. The points of each
/// dimension's dataset rules and of its catalog rules ([`CATALOG_RULES`]) add up to 100.
pub const DATASET_RULES: [Rule; 23] = [
    rule(
        "Q.sufficient.title",
        Sufficient,
        10.0,
        "have no title",
        "give every dataset a title",
    ),
    rule(
        "Q.sufficient.description",
        Sufficient,
        10.0,
        "have no description",
        "describe what each dataset contains and how it was collected",
    ),
    rule(
        "Q.sufficient.keyword",
        Sufficient,
        10.0,
        "have no keyword",
        "add keywords so users can find the dataset",
    ),
    rule(
        "Q.sufficient.theme",
        Sufficient,
        5.0,
        "have no theme",
        "classify each dataset under a theme",
    ),
    rule(
        "Q.sufficient.publisher",
        Sufficient,
        10.0,
        "name no publisher",
        "name the publishing unit (publisher.name)",
    ),
    rule(
        "Q.sufficient.contactPoint",
        Sufficient,
        10.0,
        "give no contact point",
        "give a contact (contactPoint.fn and hasEmail) for questions about the data",
    ),
    rule(
        "Q.sufficient.modified",
        Sufficient,
        10.0,
        "do not say when they were last modified",
        "state when each dataset was last changed (ISO 8601 date)",
    ),
    rule(
        "Q.sufficient.license",
        Sufficient,
        10.0,
        "state no license",
        "state the license under which the data may be reused (a URL)",
    ),
    rule(
        "Q.sufficient.accrualPeriodicity",
        Sufficient,
        5.0,
        "do not say how often they are updated",
        "state how often the dataset is updated (ISO 8601 duration, e.g. R/P1M)",
    ),
    rule(
        "Q.sufficient.spatial",
        Sufficient,
        5.0,
        "give no spatial coverage",
        "state the area the data covers (province, commune, or a bounding box)",
    ),
    rule(
        "Q.sufficient.temporal",
        Sufficient,
        5.0,
        "give no temporal coverage",
        "state the period the data covers (start/end, ISO 8601)",
    ),
    rule(
        "Q.sufficient.distribution",
        Sufficient,
        10.0,
        "have no distribution with a URL",
        "publish at least one distribution with an accessURL or downloadURL",
    ),
    rule(
        "Q.correct.schema",
        Correct,
        25.0,
        "do not conform to their format's schema or have fields of the wrong type",
        "make each record conform to its format's schema (dtindex inspect shows each error and its path)",
    ),
    rule(
        "Q.correct.date",
        Correct,
        15.0,
        "have an issued or modified date that is not ISO 8601",
        "write dates as ISO 8601 (2026-11-23 or 2026-11-23T08:00:00+07:00)",
    ),
    rule(
        "Q.correct.periodicity",
        Correct,
        10.0,
        "have an update frequency that is neither an ISO 8601 duration nor a known frequency",
        "write the frequency as an ISO 8601 repeating duration (R/P1D, R/P1M, R/P1Y) or a DCAT frequency URI",
    ),
    rule(
        "Q.correct.license",
        Correct,
        15.0,
        "state a license that is not a known one",
        "cite the license by its URL or SPDX id (e.g. https://creativecommons.org/licenses/by/4.0/)",
    ),
    rule(
        "Q.correct.media-type",
        Correct,
        15.0,
        "have no distribution with a registered IANA media type",
        "give each distribution its IANA media type (text/csv, application/json …)",
    ),
    rule(
        "Q.clean.duplicate-identifier",
        Clean,
        20.0,
        "reuse an identifier already used in the catalog",
        "give every dataset its own identifier",
    ),
    rule(
        "Q.clean.duplicate-record",
        Clean,
        10.0,
        "repeat another record of the catalog word for word",
        "list each dataset once",
    ),
    rule(
        "Q.clean.open-license",
        Clean,
        10.0,
        "are not under an open license (openness star 1)",
        "publish under an open license (CC BY 4.0, CC0, ODC-By, ODbL …)",
    ),
    rule(
        "Q.clean.machine-readable",
        Clean,
        10.0,
        "have no machine-readable distribution (openness star 2)",
        "publish the data itself as structured data (CSV, JSON, XML, XLSX), not only as PDF or a web page",
    ),
    rule(
        "Q.clean.open-format",
        Clean,
        15.0,
        "have no distribution in an open format (openness star 3)",
        "publish in an open, non-proprietary format (CSV, JSON, XML, GeoJSON, RDF)",
    ),
    rule(
        "Q.clean.placeholder-url",
        Clean,
        15.0,
        "have a placeholder as an access or download URL",
        "replace placeholder URLs (example.com, localhost, '#', 'TBD') with the data's real address",
    ),
];

/// The one time-dependent dataset rule: kept apart because its verdict changes with the
/// day it is taken, with no new harvest.
pub const FRESHNESS: Rule = rule(
    "Q.alive.fresh",
    Alive,
    50.0,
    "were not modified within their update period × 1.2 (one year when none is stated)",
    "update the data as often as its accrualPeriodicity promises, and the `modified` date with it",
);

/// The rules judged on the catalog as a whole (and the agency's endpoints), with points
/// of their dimension.
pub const CATALOG_RULES: [Rule; 5] = [
    rule(
        "Q.correct.served-type",
        Correct,
        20.0,
        "links serve another Content-Type than their declared media type",
        "declare the media type the server actually sends, or fix the server's Content-Type",
    ),
    rule(
        "Q.clean.broken-links",
        Clean,
        20.0,
        "links are broken (failed in consecutive cycles)",
        "fix or remove the broken access and download URLs",
    ),
    rule(
        "Q.alive.catalog-updated",
        Alive,
        20.0,
        "the catalog has no dataset modified in the last year",
        "keep the catalog current: update datasets and their `modified` dates",
    ),
    rule(
        "Q.alive.catalog-reachable",
        Alive,
        15.0,
        "the catalog could not be fetched in this cycle",
        "keep the catalog URL answering",
    ),
    rule(
        "Q.alive.services-up",
        Alive,
        15.0,
        "sharing services are down",
        "keep the data-sharing services answering",
    ),
];

/// Index of a rule in [`DATASET_RULES`], by id; a typo is a compile-time-tested panic.
const fn bit(id: &str) -> usize {
    let mut i = 0;
    while i < DATASET_RULES.len() {
        if const_eq(DATASET_RULES[i].id, id) {
            return i;
        }
        i += 1;
    }
    panic!("no such dataset rule");
}

const fn const_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const DUPLICATE_IDENTIFIER: usize = bit("Q.clean.duplicate-identifier");
const DUPLICATE_RECORD: usize = bit("Q.clean.duplicate-record");

/// What one dataset contributes to its agency's scores: all that is kept of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// Bit `i` set: the dataset fails `DATASET_RULES[i]`.
    pub lost: u32,
    /// Evidence for the targets: [`Mark::ROADMAP`], [`Mark::OPEN`].
    pub evidence: u8,
    /// The last day (days since 1970-01-01, UTC) its data counts as fresh; `None` when it
    /// cannot be fresh (no readable `modified`).
    pub fresh_until: Option<i32>,
    /// The day of its `modified`, for the catalog's own freshness.
    pub modified: Option<i32>,
}

impl Mark {
    /// The database has a roadmap: a status and a target date (Decree 47).
    pub const ROADMAP: u8 = 1;
    /// The dataset is open data: public, openly licensed, with a download or access URL.
    pub const OPEN: u8 = 2;

    pub fn fails(&self, rule: usize) -> bool {
        self.lost & (1 << rule) != 0
    }

    /// Marks the dataset as repeating an earlier record's identifier or whole content:
    /// only the sink that sees the whole catalog can tell.
    pub fn with_duplicates(mut self, identifier: bool, record: bool) -> Mark {
        if identifier {
            self.lost |= 1 << DUPLICATE_IDENTIFIER;
        }
        if record {
            self.lost |= 1 << DUPLICATE_RECORD;
        }
        self
    }

    pub fn fresh_at(&self, today: i32) -> bool {
        self.fresh_until.is_some_and(|until| until >= today)
    }
}

/// Judges one dataset by every dataset rule (duplicates aside: see
/// [`Mark::with_duplicates`]).
pub fn mark(d: &Dataset) -> Mark {
    let mut lost = 0u32;
    // Each rule's bit is found at compile time by `bit`: a misspelt id does not build.
    let mut fail = |rule: usize, failed: bool| {
        if failed {
            lost |= 1 << rule;
        }
    };
    let urls = || {
        d.distributions
            .iter()
            .flat_map(|x| [x.access_url.as_deref(), x.download_url.as_deref()])
            .flatten()
    };
    fail(const { bit("Q.sufficient.title") }, d.title.is_none());
    fail(
        const { bit("Q.sufficient.description") },
        d.description.is_none(),
    );
    fail(const { bit("Q.sufficient.keyword") }, d.keywords.is_empty());
    fail(const { bit("Q.sufficient.theme") }, d.themes.is_empty());
    fail(
        const { bit("Q.sufficient.publisher") },
        d.publisher.is_none(),
    );
    fail(
        const { bit("Q.sufficient.contactPoint") },
        d.contact_point.is_none(),
    );
    fail(const { bit("Q.sufficient.modified") }, d.modified.is_none());
    fail(const { bit("Q.sufficient.license") }, d.license.is_none());
    fail(
        const { bit("Q.sufficient.accrualPeriodicity") },
        d.accrual_periodicity.is_none(),
    );
    fail(const { bit("Q.sufficient.spatial") }, d.spatial.is_none());
    fail(const { bit("Q.sufficient.temporal") }, d.temporal.is_none());
    fail(
        const { bit("Q.sufficient.distribution") },
        urls().next().is_none(),
    );

    let schema_errors = d.schema.as_ref().is_some_and(|s| s.errors > 0);
    fail(
        const { bit("Q.correct.schema") },
        schema_errors || !d.problems.is_empty(),
    );
    let bad_date = [&d.issued, &d.modified]
        .into_iter()
        .flatten()
        .any(|t| parse_day(t).is_none() && !is_repeating(t));
    fail(const { bit("Q.correct.date") }, bad_date);
    let period = d.accrual_periodicity.as_deref().map(periodicity_days);
    fail(
        const { bit("Q.correct.periodicity") },
        matches!(period, Some(None)),
    );
    let license = d.license.as_deref().map(license_kind);
    fail(
        const { bit("Q.correct.license") },
        matches!(license, Some(LicenseKind::Unknown)),
    );
    let has_media_type = d.distributions.iter().any(|x| {
        [x.media_type.as_deref(), x.format.as_deref()]
            .into_iter()
            .flatten()
            .any(is_registered_media_type)
    });
    fail(const { bit("Q.correct.media-type") }, !has_media_type);

    let open_license = matches!(license, Some(LicenseKind::Open));
    let stars = d.distributions.iter().map(openness).max().unwrap_or(0);
    fail(const { bit("Q.clean.open-license") }, !open_license);
    fail(const { bit("Q.clean.machine-readable") }, stars < 2);
    fail(const { bit("Q.clean.open-format") }, stars < 3);
    let (mut placeholder, mut real) = (false, false);
    for url in urls() {
        if is_placeholder_url(url) {
            placeholder = true;
        } else {
            real = true;
        }
    }
    fail(const { bit("Q.clean.placeholder-url") }, placeholder);

    let mut evidence = 0;
    if d.database.roadmap_status.is_some() && d.database.roadmap_target.is_some() {
        evidence |= Mark::ROADMAP;
    }
    let public = d
        .access_level
        .as_deref()
        .is_none_or(|a| matches!(fold(a).as_str(), "public" | "cong khai" | "mo"));
    if public && open_license && real {
        evidence |= Mark::OPEN;
    }
    Mark {
        lost,
        evidence,
        fresh_until: fresh_until(d.modified.as_deref(), period.flatten()),
        modified: d.modified.as_deref().and_then(parse_day),
    }
}

/// The last fresh day: `modified` plus the update period × 1.2 (pydatajson's rule), a
/// year when the period is unknown or irregular. A `modified` that is itself a repeating
/// interval (data.json allows `R/P1D` for continuously updated data) is always fresh.
fn fresh_until(modified: Option<&str>, period: Option<Periodicity>) -> Option<i32> {
    let modified = modified?;
    if is_repeating(modified) {
        return Some(i32::MAX);
    }
    let day = parse_day(modified)?;
    let period = match period {
        Some(Periodicity::Days(d)) => d,
        Some(Periodicity::Irregular) | None => 365,
    } as f64;
    Some(day.saturating_add((period * 1.2).ceil() as i32))
}

/// Days since 1970-01-01 of an ISO 8601 date or date-time (also `YYYY-MM` and `YYYY`,
/// taken as their first day).
pub fn parse_day(text: &str) -> Option<i32> {
    let t = text.trim();
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    let date = if let Some(d) = plain_date(t) {
        d
    } else if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        dt.date_naive()
    } else if let Ok(dt) = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f") {
        dt.date()
    } else if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        d
    } else if let Ok(d) = NaiveDate::parse_from_str(&format!("{t}-01"), "%Y-%m-%d") {
        d
    } else if t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()) {
        NaiveDate::from_ymd_opt(t.parse().ok()?, 1, 1)?
    } else {
        return None;
    };
    i32::try_from((date - epoch).num_days()).ok()
}

/// `YYYY-MM-DD`, the form nearly every catalog uses, read without chrono's format
/// interpreter (which parses its format string on every call); `None` for anything else,
/// which the general forms then try.
fn plain_date(t: &str) -> Option<NaiveDate> {
    let b = t.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)
}

fn is_repeating(t: &str) -> bool {
    t.trim().starts_with("R/P")
}

/// How often a dataset says it is updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Periodicity {
    /// Every so many days (continuous counts as daily).
    Days(u32),
    /// A known frequency with no fixed period: irregular, as needed.
    Irregular,
}

/// An update frequency, or `None` when it is not recognised.
/// Accepts ISO 8601 durations (`R/P1M`, `P1Y`), DCAT frequency URIs (Dublin Core's
/// `cld/freq` and the EU's authority table) and the words portals use in English and
/// Vietnamese.
pub fn periodicity_days(text: &str) -> Option<Periodicity> {
    let t = text.trim();
    if let Some(d) = t.strip_prefix("R/").or(Some(t)).and_then(iso_duration_days) {
        return Some(Periodicity::Days(d));
    }
    let word = t
        .rsplit(['/', '#'])
        .next()
        .map(fold)
        .unwrap_or_default()
        .replace(['_', '-'], " ");
    let days = match word.as_str() {
        "continuous" | "update cont" | "daily" | "day" | "hang ngay" | "ngay" => 1,
        "weekly" | "week" | "hang tuan" | "tuan" => 7,
        "biweekly" | "fortnightly" => 14,
        "monthly" | "month" | "hang thang" | "thang" => 31,
        "bimonthly" => 62,
        "quarterly" | "quarter" | "hang quy" | "quy" => 92,
        "semiannual" | "biannual" | "semi annual" | "annual 2" | "6 thang" | "nua nam" => 183,
        "annual" | "annually" | "yearly" | "hang nam" | "nam" => 366,
        "biennial" | "2 nam" => 731,
        "triennial" | "3 nam" => 1096,
        "irregular" | "as needed" | "asneeded" | "not planned" | "other" | "never"
        | "khong dinh ky" | "khi co thay doi" => return Some(Periodicity::Irregular),
        _ => return None,
    };
    Some(Periodicity::Days(days))
}

/// Days of an ISO 8601 duration (`P1Y2M`, `P1W`, `PT6H`, rounded up to a day).
fn iso_duration_days(t: &str) -> Option<u32> {
    let rest = t.strip_prefix('P')?;
    if rest.is_empty() {
        return None;
    }
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut days = 0f64;
    let mut parse = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' {
                number.push(if c == ',' { '.' } else { c });
                continue;
            }
            let per = units.iter().find(|(u, _)| *u == c)?.1;
            days += number.parse::<f64>().ok()? * per;
            number.clear();
        }
        number.is_empty().then_some(())
    };
    parse(date, &[('Y', 365.25), ('M', 30.44), ('W', 7.0), ('D', 1.0)])?;
    parse(
        time,
        &[('H', 1.0 / 24.0), ('M', 1.0 / 1440.0), ('S', 1.0 / 86400.0)],
    )?;
    (days > 0.0).then(|| days.ceil() as u32)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenseKind {
    /// Known and open (Open Definition conformant).
    Open,
    /// Known, but not open (non-commercial, no derivatives, closed).
    Restricted,
    Unknown,
}

/// Classifies a license by URL, SPDX id, CKAN license id or name.
pub fn license_kind(text: &str) -> LicenseKind {
    let t = fold(text);
    let t = t
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_start_matches("www.")
        .trim_end_matches('/');
    let restricted = [
        "-nc",
        " nc",
        "noncommercial",
        "-nd",
        "other-closed",
        "other closed",
        "other-at",
    ];
    let open_prefixes = [
        "creativecommons.org/licenses/",
        "creativecommons.org/publicdomain/",
        "opendatacommons.org/licenses/",
        "opendefinition.org/licenses/",
        "nationalarchives.gov.uk/doc/open-government-licence",
        "usa.gov/government-works",
        "usa.gov/publicdomain",
        "etalab.gouv.fr/licence-ouverte",
        "data.norge.no/nlod",
        "govdata.de/dl-de/by",
        "govdata.de/dl-de/zero",
        "spdx.org/licenses/cc",
        "spdx.org/licenses/odc",
        "spdx.org/licenses/odbl",
        "spdx.org/licenses/pddl",
        "spdx.org/licenses/ogl",
        "data.gov.vn/",
    ];
    let open_ids = [
        "cc-by",
        "cc-by-4.0",
        "cc-by-3.0",
        "cc-by-sa",
        "cc-by-sa-4.0",
        "cc-by-sa-3.0",
        "cc-zero",
        "cc0",
        "cc0-1.0",
        "odc-by",
        "odc-by-1.0",
        "odc-odbl",
        "odbl",
        "odbl-1.0",
        "odc-pddl",
        "pddl",
        "pddl-1.0",
        "uk-ogl",
        "ogl-uk-3.0",
        "other-open",
        "other-pd",
        "us-pd",
        "public domain",
        "cc by 4.0",
        "cc by-sa 4.0",
        "cc0 1.0",
        "creative commons attribution",
        "mit",
        "apache-2.0",
        "gfdl",
        "ban quyen mo",
        "giay phep mo",
        "du lieu mo",
    ];
    if restricted.iter().any(|r| t.contains(r)) {
        return LicenseKind::Restricted;
    }
    if open_prefixes.iter().any(|p| t.starts_with(p))
        || open_ids.contains(&t)
        || t.starts_with("creative commons")
    {
        return LicenseKind::Open;
    }
    LicenseKind::Unknown
}

/// Registered IANA media types most used for data, plus any in the vendor (`vnd.`) tree
/// written correctly: the full registry is thousands of types, mostly not data.
const MEDIA_TYPES: &[&str] = &[
    "text/csv",
    "text/tab-separated-values",
    "text/plain",
    "text/html",
    "text/xml",
    "text/turtle",
    "text/n3",
    "text/calendar",
    "application/json",
    "application/ld+json",
    "application/geo+json",
    "application/xml",
    "application/rdf+xml",
    "application/n-triples",
    "application/n-quads",
    "application/trig",
    "application/sparql-results+json",
    "application/sparql-results+xml",
    "application/pdf",
    "application/zip",
    "application/gzip",
    "application/octet-stream",
    "application/msword",
    "application/rtf",
    "application/sql",
    "application/yaml",
    "application/xhtml+xml",
    "application/atom+xml",
    "application/gml+xml",
    "application/geopackage+sqlite3",
    "application/soap+xml",
    "application/wsdl+xml",
    "application/x-www-form-urlencoded",
    "application/zstd",
    "application/netcdf",
    "image/png",
    "image/jpeg",
    "image/tiff",
    "image/svg+xml",
    "image/gif",
];

/// Formats (as catalogs write them) by openness star (ckanext-qa's scale): 3 open, 2
/// machine-readable but proprietary, 1 neither; 4 for RDF.
const FORMAT_STARS: &[(&str, u8)] = &[
    ("rdf", 4),
    ("ttl", 4),
    ("turtle", 4),
    ("jsonld", 4),
    ("json-ld", 4),
    ("nt", 4),
    ("n3", 4),
    ("sparql", 4),
    ("csv", 3),
    ("tsv", 3),
    ("json", 3),
    ("geojson", 3),
    ("xml", 3),
    ("ods", 3),
    ("kml", 3),
    ("gml", 3),
    ("gpx", 3),
    ("txt", 3),
    ("api", 3),
    ("parquet", 3),
    ("gpkg", 3),
    ("geopackage", 3),
    ("netcdf", 3),
    ("wms", 3),
    ("wfs", 3),
    ("xls", 2),
    ("xlsx", 2),
    ("shp", 2),
    ("shapefile", 2),
    ("mdb", 2),
    ("dbf", 2),
    ("kmz", 2),
    ("zip", 2),
    ("sqlite", 3),
    ("pdf", 1),
    ("doc", 1),
    ("docx", 1),
    ("html", 1),
    ("htm", 1),
    ("jpg", 1),
    ("jpeg", 1),
    ("png", 1),
    ("ppt", 1),
];

/// A media type as written, or as DCAT-AP writes it: the IANA registry's URI for it.
/// Lowercased; borrowed when it already is (as most are: this runs for every distribution).
fn media_type_of(text: &str) -> Cow<'_, str> {
    let t = text.split(';').next().unwrap_or_default().trim();
    let t = if t.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(t.to_ascii_lowercase())
    } else {
        Cow::Borrowed(t)
    };
    for prefix in [
        "http://www.iana.org/assignments/media-types/",
        "https://www.iana.org/assignments/media-types/",
    ] {
        if let Some(rest) = t.strip_prefix(prefix) {
            return Cow::Owned(rest.to_string());
        }
    }
    t
}

pub fn is_registered_media_type(text: &str) -> bool {
    let t = media_type_of(text);
    if MEDIA_TYPES.contains(&&*t) {
        return true;
    }
    // The vendor tree: `type/vnd.producer.name[+suffix]`.
    let Some((top, sub)) = t.split_once('/') else {
        return false;
    };
    ["application", "text", "image"].contains(&top)
        && sub.starts_with("vnd.")
        && sub.len() > 5
        && sub
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+-_".contains(&b))
}

/// A distribution's openness star from its media type, format or URL extension.
fn openness(x: &Distribution) -> u8 {
    // Without a lowercased copy of each name: this runs for every distribution.
    let stars = |name: &str| {
        FORMAT_STARS
            .iter()
            .find(|(f, _)| f.eq_ignore_ascii_case(name))
            .map_or(0, |(_, s)| *s)
    };
    let mut best = x.format.as_deref().map_or(0, |f| stars(f.trim()));
    if let Some(m) = &x.media_type {
        let m = media_type_of(m);
        let sub = m.rsplit('/').next().unwrap_or_default();
        let sub = sub.rsplit('+').next().unwrap_or(sub);
        best = best.max(stars(match &*m {
            "application/vnd.ms-excel" => "xls",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
            "application/vnd.oasis.opendocument.spreadsheet" => "ods",
            "application/vnd.google-earth.kml+xml" => "kml",
            "text/plain" => "txt",
            "application/ld+json" => "jsonld",
            "application/geo+json" | "application/vnd.geo+json" => "geojson",
            "text/tab-separated-values" => "tsv",
            _ => sub,
        }));
    }
    for url in [&x.download_url, &x.access_url].into_iter().flatten() {
        // By bytes: `?`, `#`, `.` and `/` are ASCII, and a char pattern decodes every
        // character of a long URL.
        let b = url.as_bytes();
        let path = &b[..memchr::memchr2(b'?', b'#', b).unwrap_or(b.len())];
        if let Some(dot) = memchr::memrchr(b'.', path)
            && memchr::memchr(b'/', &path[dot..]).is_none()
        {
            best = best.max(stars(&url[dot + 1..path.len()]));
        }
    }
    best
}

/// A URL nobody can reach the data at: reserved example domains, the local machine, or
/// words written where a URL should be.
pub fn is_placeholder_url(text: &str) -> bool {
    classify_url(text) == UrlKind::Placeholder
}

/// What a URL in a catalog is, found with one parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlKind {
    /// A placeholder: `TBD`, `#`, a scheme alone, a reserved or loopback host…
    Placeholder,
    /// A real `http` or `https` URL: one to check.
    Web,
    /// Anything else: `mailto:`, `ftp://`, text that is not a URL.
    Other,
}

pub fn classify_url(text: &str) -> UrlKind {
    let t = text.trim();
    if [
        "", "#", "tbd", "todo", "n/a", "na", "null", "none", "-", "http://", "https://",
    ]
    .iter()
    .any(|p| t.eq_ignore_ascii_case(p))
    {
        return UrlKind::Placeholder;
    }
    match plain_web_host(t) {
        Some(host) => kind_of_host(host, true),
        None => classify_parsed(t),
    }
}

/// `classify_url` by the `url` crate's parse, for any text.
fn classify_parsed(t: &str) -> UrlKind {
    let Ok(url) = url::Url::parse(t) else {
        return UrlKind::Other;
    };
    let web = matches!(url.scheme(), "http" | "https");
    let Some(host) = url.host_str() else {
        return if matches!(url.scheme(), "mailto" | "urn" | "data") {
            UrlKind::Other
        } else {
            UrlKind::Placeholder
        };
    };
    // Hosts of special schemes (http, https, ftp…) come out of the parser in lower case;
    // only others need folding.
    let host = host.trim_end_matches('.');
    let folded;
    let host = if host.bytes().any(|b| b.is_ascii_uppercase()) {
        folded = host.to_ascii_lowercase();
        folded.as_str()
    } else {
        host
    };
    kind_of_host(host, web)
}

/// The host of an `http(s)` URL whose parse is foregone: lower-case ASCII DNS labels (no
/// IDNA, no IP address, no port or user), which the `url` crate would take and hand back
/// unchanged. `None` for anything else, which is parsed. Parsing was most of the rules'
/// time, and nearly every catalog URL is of this kind.
fn plain_web_host(t: &str) -> Option<&str> {
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))?;
    let end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let host = &rest[..end];
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        (1..=63).contains(&b.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && !l.starts_with("xn--")
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
    };
    let last = host.rsplit('.').next()?;
    // A last label of digits, or `0x…`, would make the host an IPv4 address.
    let not_ipv4 = last.bytes().any(|c| c.is_ascii_lowercase()) && !last.starts_with("0x");
    (host.len() <= 253 && not_ipv4 && host.split('.').all(label_ok)).then_some(host)
}

fn kind_of_host(host: &str, web: bool) -> UrlKind {
    let placeholder = host == "localhost"
        || host.starts_with("127.")
        || host == "0.0.0.0"
        || ["example.com", "example.org", "example.net"]
            .iter()
            .any(|d| host == *d || host.strip_suffix(d).is_some_and(|h| h.ends_with('.')))
        || [".example", ".invalid", ".test", ".localhost"]
            .iter()
            .any(|s| host.ends_with(s));
    if placeholder {
        UrlKind::Placeholder
    } else if web {
        UrlKind::Web
    } else {
        UrlKind::Other
    }
}

/// Lower case without Vietnamese diacritics, so `Hàng năm` reads as `hang nam`; the
/// same letters as the list headers are folded with.
pub(crate) fn fold(text: &str) -> String {
    let text = text.trim();
    // Most licenses, formats and headers are plain ASCII: nothing to fold but the case.
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    text.chars()
        .flat_map(char::to_lowercase)
        .map(crate::catalog::table::base_letter)
        // Combining marks of decomposed text.
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .collect()
}

/// A catalog's marks folded together: what the agency's dimension scores are made of.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QualityTally {
    pub datasets: u64,
    /// Datasets failing each rule, in the order of [`DATASET_RULES`].
    pub failing: Vec<u64>,
    pub with_roadmap: u64,
    pub open: u64,
    /// How many datasets stay fresh until each day; a histogram, so its size is bounded
    /// by the distinct days, not the datasets.
    pub fresh_until: BTreeMap<i32, u64>,
    /// The latest `modified` day of any dataset.
    pub newest_modified: Option<i32>,
}

impl QualityTally {
    pub fn add(&mut self, mark: &Mark) {
        if self.failing.len() != DATASET_RULES.len() {
            self.failing.resize(DATASET_RULES.len(), 0);
        }
        self.datasets += 1;
        for (i, n) in self.failing.iter_mut().enumerate() {
            if mark.fails(i) {
                *n += 1;
            }
        }
        if mark.evidence & Mark::ROADMAP != 0 {
            self.with_roadmap += 1;
        }
        if mark.evidence & Mark::OPEN != 0 {
            self.open += 1;
        }
        if let Some(day) = mark.fresh_until {
            *self.fresh_until.entry(day).or_default() += 1;
        }
        if let Some(day) = mark.modified {
            self.newest_modified = self.newest_modified.max(Some(day));
        }
    }

    /// Datasets failing `DATASET_RULES[i]`.
    pub fn failing(&self, i: usize) -> u64 {
        self.failing.get(i).copied().unwrap_or(0)
    }

    /// Datasets whose data is not fresh at `today`.
    pub fn stale_at(&self, today: i32) -> u64 {
        let fresh: u64 = self.fresh_until.range(today..).map(|(_, n)| n).sum();
        self.datasets.saturating_sub(fresh)
    }

    /// Share of the sufficient (đủ) dimension's dataset points held, 0–1: the metadata
    /// completeness shown beside the index.
    pub fn completeness(&self) -> f64 {
        if self.datasets == 0 {
            return 0.0;
        }
        let (mut max, mut lost) = (0.0, 0.0);
        for (i, r) in DATASET_RULES.iter().enumerate() {
            if r.dimension == Dimension::Sufficient {
                max += r.points;
                lost += r.points * self.failing(i) as f64 / self.datasets as f64;
            }
        }
        if max > 0.0 { 1.0 - lost / max } else { 0.0 }
    }
}

/// Points of `dimension` held by dataset rules (the rest are catalog rules).
pub fn dataset_points(dimension: Dimension) -> f64 {
    DATASET_RULES
        .iter()
        .filter(|r| r.dimension == dimension)
        .map(|r| r.points)
        .sum::<f64>()
        + if dimension == FRESHNESS.dimension {
            FRESHNESS.points
        } else {
            0.0
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dimension_is_out_of_one_hundred() {
        for dim in Dimension::ALL {
            let catalog: f64 = CATALOG_RULES
                .iter()
                .filter(|r| r.dimension == dim)
                .map(|r| r.points)
                .sum();
            assert_eq!(dataset_points(dim) + catalog, DIMENSION_POINTS, "{dim:?}");
        }
        assert!(DATASET_RULES.len() <= 32, "the rules are bits of a u32");
        let mut ids: Vec<_> = DATASET_RULES
            .iter()
            .chain(&CATALOG_RULES)
            .map(|r| r.id)
            .collect();
        ids.push(FRESHNESS.id);
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "rule ids are unique");
    }

    fn exemplary() -> Dataset {
        Dataset {
            identifier: Some("db-1".into()),
            title: Some("Cơ sở dữ liệu đất đai".into()),
            description: Some("Thửa đất".into()),
            publisher: Some("Sở TN&MT".into()),
            contact_point: Some("a@b.gov.vn".into()),
            keywords: vec!["đất".into()],
            themes: vec!["environment".into()],
            spatial: Some("Hà Nội".into()),
            temporal: Some("2020/2025".into()),
            issued: Some("2020-01-01".into()),
            modified: Some("2026-10-01".into()),
            accrual_periodicity: Some("R/P1M".into()),
            license: Some("https://creativecommons.org/licenses/by/4.0/".into()),
            access_level: Some("public".into()),
            distributions: vec![Distribution {
                download_url: Some("https://data.hanoi.gov.vn/dat-dai.csv".into()),
                media_type: Some("text/csv".into()),
                format: Some("CSV".into()),
                ..Distribution::default()
            }],
            database: crate::catalog::DatabaseInfo {
                roadmap_status: Some("đang vận hành".into()),
                roadmap_target: Some("2025".into()),
                ..Default::default()
            },
            ..Dataset::default()
        }
    }

    fn failed(d: &Dataset) -> Vec<&'static str> {
        let m = mark(d);
        DATASET_RULES
            .iter()
            .enumerate()
            .filter(|(i, _)| m.fails(*i))
            .map(|(_, r)| r.id)
            .collect()
    }

    #[test]
    fn an_exemplary_dataset_fails_nothing_and_is_evidence_for_t1_and_t2() {
        let m = mark(&exemplary());
        assert_eq!(m.lost, 0, "{:?}", failed(&exemplary()));
        assert_eq!(m.evidence, Mark::ROADMAP | Mark::OPEN);
        // 2026-10-01 + 31 days × 1.2 = 38 days → 2026-11-08.
        assert_eq!(m.fresh_until, parse_day("2026-11-08"));
    }

    #[test]
    fn golden_cases_one_rule_each() {
        type Change = Box<dyn Fn(&mut Dataset)>;
        let cases: Vec<(&str, Change)> = vec![
            ("Q.sufficient.keyword", Box::new(|d| d.keywords.clear())),
            (
                "Q.correct.date",
                Box::new(|d| d.modified = Some("01/10/2026".into())),
            ),
            (
                "Q.correct.periodicity",
                Box::new(|d| d.accrual_periodicity = Some("sometimes".into())),
            ),
            (
                "Q.correct.schema",
                Box::new(|d| {
                    d.problems.push(crate::catalog::FieldProblem {
                        field: "keyword".into(),
                        message: "is a number".into(),
                    })
                }),
            ),
            (
                "Q.correct.media-type",
                Box::new(|d| {
                    d.distributions[0].media_type = Some("csv file".into());
                    d.distributions[0].format = None;
                }),
            ),
            (
                "Q.clean.placeholder-url",
                Box::new(|d| {
                    d.distributions.push(Distribution {
                        access_url: Some("http://example.com/data".into()),
                        ..Default::default()
                    })
                }),
            ),
        ];
        for (rule, change) in cases {
            let mut d = exemplary();
            change(&mut d);
            assert_eq!(failed(&d), [rule], "{rule}");
        }
        // An unknown license is neither correct nor open.
        let mut d = exemplary();
        d.license = Some("see our website".into());
        assert_eq!(failed(&d), ["Q.correct.license", "Q.clean.open-license"]);
        // A restricted license: known (so correct), but not open.
        let mut d = exemplary();
        d.license = Some("https://creativecommons.org/licenses/by-nc/4.0/".into());
        assert_eq!(failed(&d), ["Q.clean.open-license"]);
        assert_eq!(mark(&d).evidence, Mark::ROADMAP, "not open data");
        // Only a PDF: star 1, so neither machine-readable nor open.
        let mut d = exemplary();
        d.distributions = vec![Distribution {
            download_url: Some("https://x.gov.vn/report.pdf".into()),
            media_type: Some("application/pdf".into()),
            ..Default::default()
        }];
        assert_eq!(
            failed(&d),
            ["Q.clean.machine-readable", "Q.clean.open-format"]
        );
        // XLSX: machine-readable, proprietary.
        d.distributions[0].download_url = Some("https://x.gov.vn/so-lieu.xlsx".into());
        d.distributions[0].media_type = None;
        assert_eq!(failed(&d), ["Q.correct.media-type", "Q.clean.open-format"]);
    }

    #[test]
    fn an_empty_record_fails_every_rule_it_can() {
        let failed = failed(&Dataset::default());
        assert!(failed.contains(&"Q.sufficient.title"));
        assert!(
            !failed.contains(&"Q.correct.date"),
            "absent is not malformed"
        );
        assert!(!failed.contains(&"Q.clean.duplicate-identifier"));
        assert_eq!(mark(&Dataset::default()).fresh_until, None);
    }

    #[test]
    fn frequencies_are_read_in_every_form() {
        assert_eq!(periodicity_days("R/P1M"), Some(Periodicity::Days(31)));
        assert_eq!(periodicity_days("R/P1Y"), Some(Periodicity::Days(366)));
        assert_eq!(periodicity_days("P1W"), Some(Periodicity::Days(7)));
        assert_eq!(periodicity_days("R/PT6H"), Some(Periodicity::Days(1)));
        assert_eq!(
            periodicity_days("http://purl.org/cld/freq/quarterly"),
            Some(Periodicity::Days(92))
        );
        assert_eq!(
            periodicity_days("http://publications.europa.eu/resource/authority/frequency/ANNUAL"),
            Some(Periodicity::Days(366))
        );
        assert_eq!(periodicity_days("Hàng tháng"), Some(Periodicity::Days(31)));
        // The same words, decomposed (NFD), as some spreadsheets store them.
        assert_eq!(
            periodicity_days("Ha\u{300}ng tha\u{301}ng"),
            Some(Periodicity::Days(31))
        );
        assert_eq!(periodicity_days("irregular"), Some(Periodicity::Irregular));
        assert_eq!(
            periodicity_days("Không định kỳ"),
            Some(Periodicity::Irregular)
        );
        assert_eq!(periodicity_days("R/P"), None);
        assert_eq!(periodicity_days("often"), None);
    }

    #[test]
    fn freshness_follows_the_period_with_a_fifth_of_grace() {
        let today = parse_day("2026-11-23").unwrap();
        let at = |modified: &str, period: &str| {
            let mut d = exemplary();
            d.modified = Some(modified.into());
            d.accrual_periodicity = Some(period.into());
            mark(&d).fresh_at(today)
        };
        assert!(at("2026-10-01", "R/P3M"));
        assert!(!at("2026-10-01", "R/P1W"));
        // A year × 1.2 when irregular.
        assert!(at("2025-11-23", "irregular"));
        assert!(!at("2025-06-01", "irregular"));
        assert!(at("R/P1D", "R/P1D"), "continuously updated");
    }

    #[test]
    fn licenses_and_media_types() {
        assert_eq!(license_kind("cc-by"), LicenseKind::Open);
        assert_eq!(
            license_kind("http://opendatacommons.org/licenses/odbl/1.0/"),
            LicenseKind::Open
        );
        assert_eq!(license_kind("CC0-1.0"), LicenseKind::Open);
        assert_eq!(license_kind("other-nc"), LicenseKind::Restricted);
        assert_eq!(license_kind("notspecified"), LicenseKind::Unknown);
        assert!(is_registered_media_type("text/csv; charset=utf-8"));
        assert!(is_registered_media_type("application/vnd.ms-excel"));
        assert!(is_registered_media_type(
            "http://www.iana.org/assignments/media-types/text/csv"
        ));
        assert!(!is_registered_media_type("application/csv"));
        assert!(!is_registered_media_type("CSV"));
        assert!(is_placeholder_url("https://www.example.org/x"));
        assert!(is_placeholder_url("TBD"));
        assert!(!is_placeholder_url("https://data.gov.vn/x.csv"));
    }

    #[test]
    fn the_tally_counts_stale_datasets_at_any_day() {
        let mut t = QualityTally::default();
        let mut d = exemplary();
        t.add(&mark(&d));
        d.modified = None;
        t.add(&mark(&d));
        let day = |s| parse_day(s).unwrap();
        assert_eq!(t.stale_at(day("2026-11-01")), 1);
        assert_eq!(t.stale_at(day("2026-12-01")), 2);
        assert_eq!(t.failing(bit("Q.sufficient.modified")), 1);
        assert_eq!(t.newest_modified, Some(day("2026-10-01")));
        assert!((t.completeness() - (1.0 - 10.0 / 100.0 / 2.0)).abs() < 1e-9);
    }

    proptest::proptest! {
        #[test]
        fn a_host_taken_without_parsing_is_the_one_the_parser_finds(
            t in r"(https?|HTTP|ftp)://(xn--|0x|[a-z0-9]|[A-Z_%:@\\ -]|\.){0,24}([/?#][a-z./]{0,6})?",
        ) {
            if let Some(host) = plain_web_host(&t) {
                let parsed = url::Url::parse(&t);
                proptest::prop_assert_eq!(
                    parsed.as_ref().ok().and_then(|u| u.host_str()),
                    Some(host),
                    "{}",
                    t
                );
                proptest::prop_assert_eq!(classify_url(&t), classify_parsed(&t));
            }
        }

        #[test]
        fn the_plain_date_reader_agrees_with_chrono(t in "[0-9+-]{4}-[0-9-]{2}-[0-9 ]{2}") {
            let chrono = NaiveDate::parse_from_str(&t, "%Y-%m-%d").ok();
            if let Some(d) = plain_date(&t) {
                proptest::prop_assert_eq!(Some(d), chrono);
            } else if t.bytes().enumerate().all(|(i, b)| b.is_ascii_digit() || i == 4 || i == 7) {
                // Only dates that do not exist are refused in this shape.
                proptest::prop_assert_eq!(chrono, None);
            }
        }
    }

    #[test]
    fn urls_are_classified_by_scheme_and_host() {
        for (text, kind) in [
            ("http://127.0.0.1/x", UrlKind::Placeholder),
            ("http://0x7f.1/x", UrlKind::Placeholder),
            ("http://a.example/x", UrlKind::Placeholder),
            ("https://sub.example.com", UrlKind::Placeholder),
            ("https://data.gov.vn:99999/x", UrlKind::Other),
            ("https://data.gov.vn/x.csv", UrlKind::Web),
            ("HTTP://Data.Gov.VN/x.csv", UrlKind::Web),
            ("https://sub.EXAMPLE.org/a", UrlKind::Placeholder),
            ("https://badexample.com/a", UrlKind::Web),
            ("http://127.0.0.1:8080/", UrlKind::Placeholder),
            ("https://", UrlKind::Placeholder),
            (" TBD ", UrlKind::Placeholder),
            ("file:///etc/passwd", UrlKind::Placeholder),
            ("ftp://files.gov.vn/x.csv", UrlKind::Other),
            ("mailto:a@b.vn", UrlKind::Other),
            ("not a url", UrlKind::Other),
        ] {
            assert_eq!(classify_url(text), kind, "{text}");
        }
    }
}
