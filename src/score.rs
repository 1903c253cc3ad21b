//! Scoring: observations in, points, verdicts, findings and ranks out. No I/O.
//!
//! The index is out of [`INDEX_SCALE`] points, like the official DTI. Each component
//! (a national target, a quality measure) has a weight in points; an agency earns a share
//! of it, and every point it does not earn is carried by exactly one [`Finding`] that says
//! what was seen and how to fix it. So the findings of an agency always add up to the
//! points it lost, a property the tests check.
//!
//! Method v0 (the spine): T1 (a catalog is published, parses and is not empty), T4 (the
//! sharing services answer) and metadata completeness. New components slot in as one more
//! function returning a [`Component`] and its findings.

use std::cmp::Ordering;

use serde::Serialize;

use crate::catalog::Dataset;
use crate::observation::{AgencyObservation, CatalogOutcome, Note};
use crate::registry::AgencyKind;

pub const INDEX_SCALE: f64 = 1000.0;

/// Points of each component, out of [`INDEX_SCALE`].
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    pub t1: f64,
    pub t4: f64,
    pub completeness: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            t1: 400.0,
            t4: 300.0,
            completeness: 300.0,
        }
    }
}

impl Weights {
    pub fn total(&self) -> f64 {
        self.t1 + self.t4 + self.completeness
    }
}

/// The targets of the national plan scored so far, with the share of agencies the plan
/// expects to meet each (Decision 17/QĐ-UBQGCĐS, 2023: all agencies for T1 and T4).
pub const TARGET_GOALS: &[(&str, f64)] = &[("T1", 1.0), ("T4", 1.0)];

/// Where an index falls, for people who read words rather than numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    Excellent,
    Good,
    Sufficient,
    Poor,
}

impl Band {
    pub const ALL: [Band; 4] = [Band::Excellent, Band::Good, Band::Sufficient, Band::Poor];

    /// Lower bounds out of 1000: 850 excellent, 700 good, 500 sufficient.
    pub fn of(index: f64) -> Band {
        if index >= 850.0 {
            Band::Excellent
        } else if index >= 700.0 {
            Band::Good
        } else if index >= 500.0 {
            Band::Sufficient
        } else {
            Band::Poor
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Band::Excellent => "excellent",
            Band::Good => "good",
            Band::Sufficient => "sufficient",
            Band::Poor => "poor",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing and fixing, but costs no points in this version of the method.
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// One reason an agency lost points, and what it should do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable rule id, e.g. `T1.no-catalog`.
    pub rule: String,
    pub severity: Severity,
    /// What the finding is about: the agency, a catalog URL, a service URL, a field.
    pub subject: String,
    /// What was observed.
    pub message: String,
    pub fix: String,
    /// Points of the index this finding costs.
    pub points: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Met,
    Partly,
    NotMet,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Partly => "partly",
            Verdict::NotMet => "not_met",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        [Verdict::Met, Verdict::Partly, Verdict::NotMet]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One scored part of the index: a target (with a verdict) or a quality measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    pub id: String,
    pub verdict: Option<Verdict>,
    pub points: f64,
    pub max_points: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgencyScore {
    pub code: String,
    pub kind: AgencyKind,
    pub name: String,
    pub components: Vec<Component>,
    /// Share of the checked metadata fields present, over all datasets (0–1).
    pub completeness: f64,
    pub datasets: usize,
    /// Sum of the components' points, 0–1000.
    pub index: f64,
    pub findings: Vec<Finding>,
}

impl AgencyScore {
    pub fn component(&self, id: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.id == id)
    }
}

// ---------------------------------------------------------------------------------------
// Metadata completeness

/// The metadata fields users need to find and reuse a dataset, each with how to fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title,
    Description,
    Keywords,
    Themes,
    Publisher,
    ContactPoint,
    Modified,
    License,
    AccrualPeriodicity,
    Distribution,
}

impl Field {
    pub const ALL: [Field; 10] = [
        Field::Title,
        Field::Description,
        Field::Keywords,
        Field::Themes,
        Field::Publisher,
        Field::ContactPoint,
        Field::Modified,
        Field::License,
        Field::AccrualPeriodicity,
        Field::Distribution,
    ];

    /// The data.json name of the field.
    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Description => "description",
            Field::Keywords => "keyword",
            Field::Themes => "theme",
            Field::Publisher => "publisher",
            Field::ContactPoint => "contactPoint",
            Field::Modified => "modified",
            Field::License => "license",
            Field::AccrualPeriodicity => "accrualPeriodicity",
            Field::Distribution => "distribution",
        }
    }

    fn fix(self) -> &'static str {
        match self {
            Field::Title => "give every dataset a title",
            Field::Description => "describe what each dataset contains and how it was collected",
            Field::Keywords => "add keywords so users can find the dataset",
            Field::Themes => "classify each dataset under a theme",
            Field::Publisher => "name the publishing unit (publisher.name)",
            Field::ContactPoint => {
                "give a contact (contactPoint.fn and hasEmail) for questions about the data"
            }
            Field::Modified => "state when each dataset was last changed (ISO 8601 date)",
            Field::License => "state the license under which the data may be reused (a URL)",
            Field::AccrualPeriodicity => {
                "state how often the dataset is updated (ISO 8601 duration, e.g. R/P1M)"
            }
            Field::Distribution => {
                "publish at least one distribution with an accessURL or downloadURL"
            }
        }
    }

    fn present(self, d: &Dataset) -> bool {
        match self {
            Field::Title => d.title.is_some(),
            Field::Description => d.description.is_some(),
            Field::Keywords => !d.keywords.is_empty(),
            Field::Themes => !d.themes.is_empty(),
            Field::Publisher => d.publisher.is_some(),
            Field::ContactPoint => d.contact_point.is_some(),
            Field::Modified => d.modified.is_some(),
            Field::License => d.license.is_some(),
            Field::AccrualPeriodicity => d.accrual_periodicity.is_some(),
            Field::Distribution => d
                .distributions
                .iter()
                .any(|x| x.access_url.is_some() || x.download_url.is_some()),
        }
    }
}

/// The fields a dataset lacks, one bit per field in the order of [`Field::ALL`]: all a
/// dataset contributes to the tally, so it can be kept per dataset and reused.
pub fn missing_mask(dataset: &Dataset) -> u16 {
    Field::ALL
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.present(dataset))
        .fold(0, |mask, (i, _)| mask | (1 << i))
}

/// A running count of missing fields, folded over a catalog one dataset at a time so the
/// catalog itself never has to be held in memory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct CompletenessTally {
    pub datasets: u64,
    /// Missing count per field, in the order of [`Field::ALL`].
    pub missing: [u64; Field::ALL.len()],
}

impl CompletenessTally {
    pub fn add(&mut self, dataset: &Dataset) {
        self.add_mask(missing_mask(dataset));
    }

    /// Counts one dataset given the fields it lacks (see [`missing_mask`]).
    pub fn add_mask(&mut self, mask: u16) {
        self.datasets += 1;
        for (i, missing) in self.missing.iter_mut().enumerate() {
            if mask & (1 << i) != 0 {
                *missing += 1;
            }
        }
    }

    /// Share of fields present over all datasets; 0 for no datasets.
    pub fn share(&self) -> f64 {
        if self.datasets == 0 {
            return 0.0;
        }
        let cells = self.datasets as f64 * Field::ALL.len() as f64;
        let missing: u64 = self.missing.iter().sum();
        1.0 - missing as f64 / cells
    }
}

// ---------------------------------------------------------------------------------------
// Assessment

/// Scores one agency from what the crawl saw.
pub fn assess(obs: &AgencyObservation, weights: &Weights) -> AgencyScore {
    let mut findings = Vec::new();
    let t1 = target_catalog(obs, weights.t1, &mut findings);
    let t4 = target_sharing(obs, weights.t4, &mut findings);
    let (completeness, quality) = metadata_completeness(obs, weights.completeness, &mut findings);
    let components = vec![t1, t4, quality];
    let index = components.iter().map(|c| c.points).sum();
    AgencyScore {
        code: obs.code.clone(),
        kind: obs.kind,
        name: obs.name.clone(),
        components,
        completeness,
        datasets: obs.catalog.datasets,
        index,
        findings,
    }
}

fn verdict_of(points: f64, max: f64) -> Verdict {
    if max <= 0.0 || points >= max {
        Verdict::Met
    } else if points > 0.0 {
        Verdict::Partly
    } else {
        Verdict::NotMet
    }
}

/// T1: a machine-readable database catalog is published, parses and is not empty.
fn target_catalog(obs: &AgencyObservation, weight: f64, findings: &mut Vec<Finding>) -> Component {
    let cat = &obs.catalog;
    let subject = cat.url.clone().unwrap_or_else(|| obs.code.clone());
    let lost = match &cat.outcome {
        CatalogOutcome::NotPublished => Some(Finding {
            rule: "T1.no-catalog".into(),
            severity: Severity::Critical,
            subject,
            message: "no machine-readable catalog of the agency's databases is published".into(),
            fix: "publish the catalog of the databases you manage as a DCAT-US data.json on your portal, and register its URL as catalog_url".into(),
            points: weight,
        }),
        CatalogOutcome::FetchFailed(failure) => Some(Finding {
            rule: "T1.catalog-unreachable".into(),
            severity: Severity::High,
            subject,
            message: format!("the catalog could not be fetched: {}", failure.message),
            fix: "make the catalog URL answer 200 with the catalog, quickly and within the size limit, to anonymous requests".into(),
            points: weight,
        }),
        CatalogOutcome::ParseFailed(detail) => Some(Finding {
            rule: "T1.catalog-invalid".into(),
            severity: Severity::High,
            subject,
            message: match &cat.format {
                Some(format) => format!("the catalog was fetched but could not be read as {format}: {detail}"),
                None => format!("the catalog was fetched but could not be read: {detail}"),
            },
            fix: "publish the catalog in one of the supported formats (DCAT-US data.json, DCAT in Turtle, RDF/XML or JSON-LD, a CKAN API, a CSV or XLSX list), valid at the position given; `dtindex inspect` shows where it breaks".into(),
            points: weight,
        }),
        CatalogOutcome::Parsed if cat.datasets == 0 => Some(Finding {
            rule: "T1.catalog-empty".into(),
            severity: Severity::High,
            subject,
            message: "the catalog is published and valid but lists no dataset".into(),
            fix: "list every database the agency manages in the catalog".into(),
            points: weight / 2.0,
        }),
        CatalogOutcome::Parsed => None,
    };
    let points = weight - lost.as_ref().map_or(0.0, |f| f.points);
    findings.extend(lost);
    findings.extend(catalog_notes(obs));
    Component {
        id: "T1".into(),
        verdict: Some(verdict_of(points, weight)),
        points,
        max_points: weight,
    }
}

/// What the harvest noticed besides the outcome: worth fixing, no points yet (the full
/// method weighs them under đúng and sạch).
fn catalog_notes(obs: &AgencyObservation) -> Vec<Finding> {
    let cat = &obs.catalog;
    let subject = cat.url.clone().unwrap_or_else(|| obs.code.clone());
    let note = |rule: &str, severity, message: String, fix: &str| Finding {
        rule: rule.into(),
        severity,
        subject: subject.clone(),
        message,
        fix: fix.into(),
        points: 0.0,
    };
    let mut out: Vec<Finding> = cat
        .notes
        .iter()
        .map(|n| match n {
            Note::ContentTypeMismatch(m) => note(
                "T1.content-type",
                Severity::Info,
                m.clone(),
                "serve the catalog with the Content-Type of its format (application/json, text/turtle, text/csv…)",
            ),
            Note::Paging(m) => note(
                "T1.paging",
                Severity::Info,
                m.clone(),
                "make every page link to the next one, and the last page to none",
            ),
            Note::UnknownOrganization(m) => note(
                "T1.ckan-organization",
                Severity::Info,
                m.clone(),
                "register the organization's `name` as it appears in the portal's organization_list",
            ),
            Note::DuplicateIdentifiers(n) => note(
                "Q.clean.duplicate-identifier",
                Severity::Info,
                format!("{n} records reuse an identifier already used in the catalog"),
                "give every dataset its own identifier",
            ),
        })
        .collect();
    if cat.schema_invalid > 0 {
        out.push(note(
            "Q.correct.schema",
            Severity::Info,
            format!("{} of {} records do not conform to the DCAT-US v1.1 schema", cat.schema_invalid, cat.datasets),
            "validate the catalog against the DCAT-US v1.1 schema (dtindex inspect shows each error and its path)",
        ));
    }
    out
}

/// T4: the agency's data-sharing services on LGSP/NDXP answer.
fn target_sharing(obs: &AgencyObservation, weight: f64, findings: &mut Vec<Finding>) -> Component {
    if obs.services.is_empty() {
        findings.push(Finding {
            rule: "T4.no-service".into(),
            severity: Severity::Critical,
            subject: obs.code.clone(),
            message: "no data-sharing service is registered for the agency".into(),
            fix: "provide data-sharing services on your LGSP or the NDXP and register their URLs under services".into(),
            points: weight,
        });
        return Component {
            id: "T4".into(),
            verdict: Some(Verdict::NotMet),
            points: 0.0,
            max_points: weight,
        };
    }
    let share = weight / obs.services.len() as f64;
    let mut points = weight;
    for probe in &obs.services {
        if let Some(failure) = &probe.failure {
            points -= share;
            findings.push(Finding {
                rule: "T4.service-down".into(),
                severity: Severity::High,
                subject: probe.url.clone(),
                message: format!("the sharing service did not answer: {}", failure.message),
                fix: "keep the service reachable and answering with a success status".into(),
                points: share,
            });
        }
    }
    let points = points.max(0.0);
    Component {
        id: "T4".into(),
        verdict: Some(verdict_of(points, weight)),
        points,
        max_points: weight,
    }
}

/// đủ (sufficient), first cut: the share of the checked metadata fields present.
fn metadata_completeness(
    obs: &AgencyObservation,
    weight: f64,
    findings: &mut Vec<Finding>,
) -> (f64, Component) {
    let tally = &obs.catalog.tally;
    let subject = obs.catalog.url.clone().unwrap_or_else(|| obs.code.clone());
    if tally.datasets == 0 {
        findings.push(Finding {
            rule: "Q.completeness.no-datasets".into(),
            severity: Severity::High,
            subject,
            message: "no dataset could be read, so no metadata could be assessed".into(),
            fix: "publish a readable catalog listing your datasets (see the T1 findings)".into(),
            points: weight,
        });
    } else {
        let cells = tally.datasets as f64 * Field::ALL.len() as f64;
        for (field, &missing) in Field::ALL.iter().zip(tally.missing.iter()) {
            if missing == 0 {
                continue;
            }
            let share_missing = missing as f64 / tally.datasets as f64;
            findings.push(Finding {
                rule: format!("Q.completeness.{}", field.name()),
                severity: if share_missing > 0.5 {
                    Severity::Medium
                } else {
                    Severity::Low
                },
                subject: subject.clone(),
                message: format!(
                    "`{}` is missing in {missing} of {} datasets",
                    field.name(),
                    tally.datasets
                ),
                fix: field.fix().to_string(),
                points: weight * missing as f64 / cells,
            });
        }
    }
    let share = tally.share();
    (
        share,
        Component {
            id: "completeness".into(),
            verdict: None,
            points: weight * share,
            max_points: weight,
        },
    )
}

/// What one dataset should fix: each missing field, each unusable value, each schema
/// error. Points are left at 0: what a missing field costs depends on the catalog's size,
/// and [`spread_completeness_points`] fills them in once the catalog has been read.
pub fn dataset_findings(d: &Dataset) -> Vec<Finding> {
    let subject = d.subject();
    let mut out: Vec<Finding> = Field::ALL
        .iter()
        .filter(|f| !f.present(d))
        .map(|f| Finding {
            rule: format!("Q.completeness.{}", f.name()),
            severity: Severity::Low,
            subject: subject.clone(),
            message: format!("`{}` is missing", f.name()),
            fix: f.fix().to_string(),
            points: 0.0,
        })
        .collect();
    out.extend(d.problems.iter().map(|p| Finding {
        rule: "Q.correct.field-type".into(),
        severity: Severity::Info,
        subject: subject.clone(),
        message: format!("`{}` {}", p.field, p.message),
        fix: "give the field the type the format defines (a string, a list of strings, an object…)".into(),
        points: 0.0,
    }));
    if let Some(check) = &d.schema {
        let more = check.errors.saturating_sub(check.first.len());
        out.extend(check.first.iter().map(|issue| Finding {
            rule: "Q.correct.schema".into(),
            severity: Severity::Info,
            subject: subject.clone(),
            message: format!(
                "{} at `{}`: {}",
                check.schema,
                if issue.path.is_empty() {
                    "/"
                } else {
                    &issue.path
                },
                issue.message
            ),
            fix: "make the record conform to the DCAT-US v1.1 schema".into(),
            points: 0.0,
        }));
        if more > 0 {
            out.push(Finding {
                rule: "Q.correct.schema".into(),
                severity: Severity::Info,
                subject,
                message: format!("{more} more schema errors in this record"),
                fix: "make the record conform to the DCAT-US v1.1 schema".into(),
                points: 0.0,
            });
        }
    }
    out
}

/// Gives each per-dataset completeness finding its share of `weight`: a catalog of
/// `datasets` records loses `weight / (datasets × fields)` per missing field.
pub fn spread_completeness_points(findings: &mut [Finding], datasets: usize, weight: f64) {
    if datasets == 0 {
        return;
    }
    let each = weight / (datasets as f64 * Field::ALL.len() as f64);
    for f in findings
        .iter_mut()
        .filter(|f| f.rule.starts_with("Q.completeness."))
    {
        f.points = each;
    }
}

// ---------------------------------------------------------------------------------------
// Rankings

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranked {
    pub score: AgencyScore,
    /// Rank among all agencies; equal indices share a rank (1, 2, 2, 4).
    pub rank: u32,
    /// Rank among agencies of the same kind.
    pub rank_in_kind: u32,
}

/// Indices are compared at a hundredth of a point, so that float noise never splits a tie.
fn rank_key(index: f64) -> i64 {
    (index * 100.0).round() as i64
}

/// Ranks agencies overall and within their kind, best first.
pub fn rank(scores: Vec<AgencyScore>) -> Vec<Ranked> {
    let mut scores = scores;
    scores.sort_by(|a, b| match rank_key(b.index).cmp(&rank_key(a.index)) {
        Ordering::Equal => a.code.cmp(&b.code),
        other => other,
    });
    let overall = competition_ranks(scores.iter().map(|s| rank_key(s.index)));
    let mut ranked: Vec<Ranked> = scores
        .into_iter()
        .zip(overall)
        .map(|(score, rank)| Ranked {
            score,
            rank,
            rank_in_kind: 0,
        })
        .collect();
    for kind in [AgencyKind::Ministry, AgencyKind::Province] {
        let positions: Vec<usize> = (0..ranked.len())
            .filter(|&i| ranked[i].score.kind == kind)
            .collect();
        let ranks = competition_ranks(positions.iter().map(|&i| rank_key(ranked[i].score.index)));
        for (i, r) in positions.into_iter().zip(ranks) {
            ranked[i].rank_in_kind = r;
        }
    }
    ranked
}

/// "1224" ranking of keys already sorted best first.
fn competition_ranks(keys: impl Iterator<Item = i64>) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    let mut previous = None;
    for (i, key) in keys.enumerate() {
        let rank = match (previous, out.last()) {
            (Some(p), Some(&r)) if p == key => r,
            _ => i as u32 + 1,
        };
        out.push(rank);
        previous = Some(key);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Distribution;
    use crate::observation::{CatalogObservation, Failure, FailureClass, ProbeObservation};

    fn full_dataset() -> Dataset {
        Dataset {
            identifier: Some("id".into()),
            title: Some("t".into()),
            description: Some("d".into()),
            publisher: Some("p".into()),
            contact_point: Some("c".into()),
            keywords: vec!["k".into()],
            themes: vec!["th".into()],
            modified: Some("2026-01-01".into()),
            accrual_periodicity: Some("R/P1M".into()),
            license: Some("l".into()),
            distributions: vec![Distribution {
                download_url: Some("https://x/a.csv".into()),
                ..Distribution::default()
            }],
            ..Dataset::default()
        }
    }

    fn obs(outcome: CatalogOutcome, datasets: &[Dataset], services: &[bool]) -> AgencyObservation {
        let mut tally = CompletenessTally::default();
        datasets.iter().for_each(|d| tally.add(d));
        AgencyObservation {
            code: "01".into(),
            kind: AgencyKind::Province,
            name: "Hà Nội".into(),
            catalog: CatalogObservation {
                url: (!matches!(outcome, CatalogOutcome::NotPublished))
                    .then(|| "http://x/data.json".into()),
                outcome,
                datasets: datasets.len(),
                tally,
                ..CatalogObservation::default()
            },
            services: services
                .iter()
                .enumerate()
                .map(|(i, up)| ProbeObservation {
                    url: format!("http://x/s{i}"),
                    platform: None,
                    http_status: Some(if *up { 200 } else { 500 }),
                    latency_ms: 1,
                    failure: (!up).then(|| Failure {
                        class: FailureClass::Status,
                        message: "HTTP 500".into(),
                    }),
                    tls_expires_at: None,
                })
                .collect(),
        }
    }

    fn lost(score: &AgencyScore) -> f64 {
        score.findings.iter().map(|f| f.points).sum()
    }

    #[test]
    fn an_exemplary_agency_gets_everything_and_no_finding() {
        let s = assess(
            &obs(CatalogOutcome::Parsed, &[full_dataset()], &[true, true]),
            &Weights::default(),
        );
        assert_eq!(s.index, 1000.0);
        assert!(s.findings.is_empty(), "{:?}", s.findings);
        assert_eq!(s.component("T1").unwrap().verdict, Some(Verdict::Met));
        assert_eq!(s.component("T4").unwrap().verdict, Some(Verdict::Met));
    }

    #[test]
    fn an_agency_that_published_nothing_scores_zero_with_reasons() {
        let s = assess(
            &obs(CatalogOutcome::NotPublished, &[], &[]),
            &Weights::default(),
        );
        assert_eq!(s.index, 0.0);
        let rules: Vec<&str> = s.findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(
            rules,
            [
                "T1.no-catalog",
                "T4.no-service",
                "Q.completeness.no-datasets"
            ]
        );
        assert_eq!(lost(&s), 1000.0);
        assert_eq!(s.component("T1").unwrap().verdict, Some(Verdict::NotMet));
    }

    #[test]
    fn hand_worked_partial_case() {
        // One complete dataset and one with only a title: 11 of 20 fields present.
        let sparse = Dataset {
            title: Some("only a title".into()),
            ..Dataset::default()
        };
        let s = assess(
            &obs(
                CatalogOutcome::Parsed,
                &[full_dataset(), sparse],
                &[true, false, true, true],
            ),
            &Weights::default(),
        );
        // T1 400 + T4 300 * 3/4 = 225 + completeness 300 * 11/20 = 165.
        assert!((s.index - 790.0).abs() < 1e-9, "{}", s.index);
        assert_eq!(s.component("T4").unwrap().verdict, Some(Verdict::Partly));
        assert!((s.completeness - 0.55).abs() < 1e-12);
        let keyword = s
            .findings
            .iter()
            .find(|f| f.rule == "Q.completeness.keyword")
            .unwrap();
        assert_eq!(keyword.message, "`keyword` is missing in 1 of 2 datasets");
        assert!((keyword.points - 15.0).abs() < 1e-9);
        assert!((lost(&s) - 210.0).abs() < 1e-9);
    }

    #[test]
    fn an_empty_catalog_partly_meets_t1() {
        let s = assess(
            &obs(CatalogOutcome::Parsed, &[], &[true]),
            &Weights::default(),
        );
        assert_eq!(s.component("T1").unwrap().verdict, Some(Verdict::Partly));
        assert_eq!(s.component("T1").unwrap().points, 200.0);
        assert!(s.findings.iter().any(|f| f.rule == "T1.catalog-empty"));
    }

    #[test]
    fn findings_always_add_up_to_the_points_lost() {
        let outcomes = [
            CatalogOutcome::NotPublished,
            CatalogOutcome::Parsed,
            CatalogOutcome::ParseFailed("bad".into()),
            CatalogOutcome::FetchFailed(Failure {
                class: FailureClass::Timeout,
                message: "timed out".into(),
            }),
        ];
        let sparse = Dataset {
            keywords: vec!["k".into()],
            ..Dataset::default()
        };
        let dataset_sets: [&[Dataset]; 3] = [
            &[],
            &[full_dataset()],
            &[full_dataset(), sparse.clone(), sparse],
        ];
        let service_sets: [&[bool]; 4] = [&[], &[true], &[false], &[true, false, false]];
        for outcome in &outcomes {
            for datasets in dataset_sets {
                for services in service_sets {
                    let s = assess(
                        &obs(outcome.clone(), datasets, services),
                        &Weights::default(),
                    );
                    assert!((0.0..=1000.0).contains(&s.index));
                    assert!(
                        (s.index + lost(&s) - 1000.0).abs() < 1e-6,
                        "{outcome:?} {} datasets {services:?}: index {} + lost {}",
                        datasets.len(),
                        s.index,
                        lost(&s)
                    );
                }
            }
        }
    }

    #[test]
    fn adding_a_missing_field_never_lowers_the_score() {
        let base = Dataset {
            title: Some("t".into()),
            ..Dataset::default()
        };
        let before = assess(
            &obs(CatalogOutcome::Parsed, std::slice::from_ref(&base), &[true]),
            &Weights::default(),
        );
        let mut more = base;
        more.license = Some("l".into());
        let after = assess(
            &obs(CatalogOutcome::Parsed, &[more], &[true]),
            &Weights::default(),
        );
        assert!(after.index > before.index);
    }

    fn scored(code: &str, kind: AgencyKind, index: f64) -> AgencyScore {
        AgencyScore {
            code: code.into(),
            kind,
            name: code.into(),
            components: vec![],
            completeness: 0.0,
            datasets: 0,
            index,
            findings: vec![],
        }
    }

    #[test]
    fn equal_scores_share_a_rank_overall_and_by_kind() {
        let ranked = rank(vec![
            scored("B", AgencyKind::Ministry, 500.0),
            scored("01", AgencyKind::Province, 900.0),
            scored("A", AgencyKind::Ministry, 900.0),
            scored("02", AgencyKind::Province, 500.0 + 1e-9),
            scored("03", AgencyKind::Province, 100.0),
        ]);
        let view: Vec<(&str, u32, u32)> = ranked
            .iter()
            .map(|r| (r.score.code.as_str(), r.rank, r.rank_in_kind))
            .collect();
        assert_eq!(
            view,
            [
                ("01", 1, 1),
                ("A", 1, 1),
                ("02", 3, 2),
                ("B", 3, 2),
                ("03", 5, 3)
            ]
        );
    }
}
