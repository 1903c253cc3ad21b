//! Scoring: observations in, points, verdicts, findings and ranks out. No I/O, no clock
//! (the day a verdict is taken at is an argument, so golden cases stay golden).
//!
//! The index is out of [`INDEX_SCALE`] points, like the official DTI. The [`Method`]
//! (`config/targets.toml`) gives each part of each national target a weight, and the four
//! quality dimensions ([`quality`]) share the rest. An agency earns a share of each, and
//! every point it does not earn is carried by exactly one [`Finding`] that says what was
//! seen and how to fix it: the findings of an agency add up to the points it lost, a
//! property the tests check. `docs/methodology.md` is the method in words.

use std::cmp::Ordering;

use serde::Serialize;

use crate::catalog::Dataset;
use crate::declaration::DocumentKind;
use crate::observation::{AgencyObservation, CatalogOutcome, CheckedClaim, LinkSummary, Note};
use crate::registry::AgencyKind;

pub mod method;
pub mod national;
pub mod quality;

pub use method::{Bands, Evidence, Method, Part, Target};
pub use quality::{Dimension, Mark, QualityTally};

use quality::{CATALOG_RULES, DATASET_RULES, DIMENSION_POINTS, FRESHNESS, Rule};

pub const INDEX_SCALE: f64 = 1000.0;

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

    pub fn of(index: f64, bands: &Bands) -> Band {
        if index >= bands.excellent {
            Band::Excellent
        } else if index >= bands.good {
            Band::Good
        } else if index >= bands.sufficient {
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
            Severity::Info,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// A quality rule failed by this share of an agency's datasets.
    fn of_share(share: f64) -> Severity {
        if share > 0.5 {
            Severity::Medium
        } else {
            Severity::Low
        }
    }
}

/// One reason an agency lost points, and what it should do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable rule id, e.g. `T1.no-catalog`.
    pub rule: String,
    pub severity: Severity,
    /// What the finding is about: the agency, a catalog URL, a service URL, a dataset.
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

    fn of(points: f64, max: f64) -> Verdict {
        if max <= 0.0 || points >= max - 1e-9 {
            Verdict::Met
        } else if points > 1e-9 {
            Verdict::Partly
        } else {
            Verdict::NotMet
        }
    }
}

/// One scored part of the index: a target, a part of one, or a quality dimension.
/// Ids: `T1`, `T1.catalog`, `Q.sufficient`.
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
    /// Targets, then their parts, then the four dimensions.
    pub components: Vec<Component>,
    /// Share of the sufficient (đủ) dimension's metadata present, over all datasets (0–1).
    pub completeness: f64,
    pub datasets: usize,
    /// Sum of the targets' and the dimensions' points, 0–1000.
    pub index: f64,
    pub band: Band,
    pub findings: Vec<Finding>,
}

impl AgencyScore {
    pub fn component(&self, id: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.id == id)
    }

    /// A quality dimension's score out of 100.
    pub fn dimension(&self, d: Dimension) -> Option<f64> {
        let c = self.component(&dimension_id(d))?;
        Some(if c.max_points > 0.0 {
            DIMENSION_POINTS * c.points / c.max_points
        } else {
            DIMENSION_POINTS
        })
    }
}

pub fn dimension_id(d: Dimension) -> String {
    format!("Q.{}", d.as_str())
}

/// The day (days since 1970-01-01, UTC) of a Unix timestamp: what [`assess`] takes.
pub fn day_of(unix_seconds: i64) -> i32 {
    i32::try_from(unix_seconds.div_euclid(86_400)).unwrap_or(i32::MAX)
}

pub fn today() -> i32 {
    day_of(chrono::Utc::now().timestamp())
}

// ---------------------------------------------------------------------------------------
// Assessment

/// A share of a part's or a dimension's points lost, and why.
struct Loss {
    /// Of the part's weight (0–1), or of the dimension's 100 points.
    share: f64,
    rule: String,
    severity: Severity,
    subject: String,
    message: String,
    fix: String,
}

impl Loss {
    fn new(
        share: f64,
        rule: &str,
        severity: Severity,
        subject: &str,
        message: String,
        fix: &str,
    ) -> Loss {
        Loss {
            share,
            rule: rule.into(),
            severity,
            subject: subject.into(),
            message,
            fix: fix.into(),
        }
    }

    fn finding(self, scale: f64) -> Finding {
        Finding {
            rule: self.rule,
            severity: self.severity,
            subject: self.subject,
            message: self.message,
            fix: self.fix,
            points: scale * self.share,
        }
    }
}

/// Scores one agency from what the crawl saw, at `today` (see [`day_of`]).
pub fn assess(obs: &AgencyObservation, method: &Method, today: i32) -> AgencyScore {
    let mut findings = Vec::new();
    let mut components = Vec::new();
    let mut part_components = Vec::new();
    for target in &method.targets {
        let (mut points, mut max) = (0.0, 0.0);
        for part in &target.parts {
            let losses = evidence(obs, part.evidence);
            let lost: f64 = losses.iter().map(|l| l.share).sum::<f64>().min(1.0);
            let earned = part.weight * (1.0 - lost);
            findings.extend(losses.into_iter().map(|l| l.finding(part.weight)));
            part_components.push(Component {
                id: part.id().into(),
                verdict: Some(Verdict::of(earned, part.weight)),
                points: earned,
                max_points: part.weight,
            });
            points += earned;
            max += part.weight;
        }
        components.push(Component {
            id: target.id.clone(),
            verdict: Some(Verdict::of(points, max)),
            points,
            max_points: max,
        });
    }
    components.append(&mut part_components);
    findings.extend(catalog_notes(obs));

    let weight = method.dimension_weight();
    for dimension in quality::Dimension::ALL {
        let losses = quality_losses(obs, dimension, today);
        let lost: f64 = losses
            .iter()
            .map(|l| l.share)
            .sum::<f64>()
            .min(DIMENSION_POINTS);
        findings.extend(
            losses
                .into_iter()
                .map(|l| l.finding(weight / DIMENSION_POINTS)),
        );
        components.push(Component {
            id: dimension_id(dimension),
            verdict: None,
            points: weight * (1.0 - lost / DIMENSION_POINTS),
            max_points: weight,
        });
    }
    let index = components
        .iter()
        .filter(|c| !c.id.contains('.') || c.id.starts_with("Q."))
        .map(|c| c.points)
        .sum::<f64>()
        .clamp(0.0, INDEX_SCALE);
    AgencyScore {
        code: obs.code.clone(),
        kind: obs.kind,
        name: obs.name.clone(),
        components,
        completeness: obs.catalog.tally.completeness(),
        datasets: obs.catalog.datasets,
        index,
        band: Band::of(index, &method.bands),
        findings,
    }
}

fn catalog_subject(obs: &AgencyObservation) -> String {
    obs.catalog.url.clone().unwrap_or_else(|| obs.code.clone())
}

/// What the agency lost of one part of a target, as shares of the part's weight.
fn evidence(obs: &AgencyObservation, evidence: Evidence) -> Vec<Loss> {
    let cat = &obs.catalog;
    let subject = catalog_subject(obs);
    match evidence {
        Evidence::Catalog => {
            let (share, rule, severity, message, fix) = match &cat.outcome {
                CatalogOutcome::NotPublished => (
                    1.0,
                    "T1.no-catalog",
                    Severity::Critical,
                    "no machine-readable catalog of the agency's databases is published"
                        .to_string(),
                    "publish the catalog of the databases you manage (DCAT-US data.json, DCAT, a CKAN portal, or a CSV/XLSX list) and register its URL as catalog_url",
                ),
                CatalogOutcome::FetchFailed(failure) => (
                    1.0,
                    "T1.catalog-unreachable",
                    Severity::High,
                    format!("the catalog could not be fetched: {}", failure.message),
                    "make the catalog URL answer 200 with the catalog, quickly and within the size limit, to anonymous requests",
                ),
                CatalogOutcome::ParseFailed(detail) => (
                    1.0,
                    "T1.catalog-invalid",
                    Severity::High,
                    match &cat.format {
                        Some(format) => format!(
                            "the catalog was fetched but could not be read as {format}: {detail}"
                        ),
                        None => format!("the catalog was fetched but could not be read: {detail}"),
                    },
                    "publish the catalog in one of the supported formats (DCAT-US data.json, DCAT in Turtle, RDF/XML or JSON-LD, a CKAN API, a CSV or XLSX list), valid at the position given; `dtindex inspect` shows where it breaks",
                ),
                CatalogOutcome::Parsed if cat.datasets == 0 => (
                    0.5,
                    "T1.catalog-empty",
                    Severity::High,
                    "the catalog is published and valid but lists no dataset".to_string(),
                    "list every database the agency manages in the catalog",
                ),
                CatalogOutcome::Parsed => return Vec::new(),
            };
            vec![Loss::new(share, rule, severity, &subject, message, fix)]
        }
        Evidence::Roadmap => {
            // The decision publishing the catalog (Decree 47) carries each database's
            // roadmap: a cited decision that resolves is the roadmap, whatever the
            // catalog's format can say.
            let decided =
                obs.declaration.documents.iter().any(|d| {
                    d.kind == DocumentKind::DatabaseCatalog && d.claim.resolves == Some(true)
                });
            let n = cat.tally.datasets;
            if decided && n > 0 {
                return Vec::new();
            }
            let without = n.saturating_sub(cat.tally.with_roadmap);
            if n == 0 {
                return vec![Loss::new(
                    1.0,
                    "T1.roadmap",
                    Severity::High,
                    &subject,
                    "no database could be read from a catalog, so none has a roadmap".into(),
                    "publish the catalog with each database's roadmap status and target date",
                )];
            }
            if without == 0 {
                return Vec::new();
            }
            vec![Loss::new(
                without as f64 / n as f64,
                "T1.roadmap",
                Severity::of_share(without as f64 / n as f64),
                &subject,
                format!("{without} of {n} databases have no roadmap (a status and a target date)"),
                "give each database its roadmap: its status (planned, building, in operation) and the date it is to be in operation",
            )]
        }
        Evidence::OpenDataPlan => plan(
            obs,
            DocumentKind::OpenDataPlan,
            "T2.plan",
            "an open-data plan",
        ),
        Evidence::AnalyticsPlan => plan(
            obs,
            DocumentKind::AnalyticsPlan,
            "T3.plan",
            "a plan for an aggregated data-analysis platform",
        ),
        Evidence::OpenData => {
            if cat.tally.open > 0 {
                return Vec::new();
            }
            vec![Loss::new(
                1.0,
                "T2.no-open-data",
                Severity::High,
                &subject,
                format!(
                    "none of the {} datasets read is open data: public, under an open license, with a download or access URL",
                    cat.tally.datasets
                ),
                "publish open datasets: access level public, an open license (CC BY 4.0, CC0, ODbL), and a working download URL",
            )]
        }
        Evidence::AnalyticsPlatform => {
            let fix = "deploy the data-analysis platform and declare it with its URL in the declaration (analytics_platform)";
            match &obs.declaration.platform {
                Some(CheckedClaim { claimed: true, resolves: Some(true), .. }) => Vec::new(),
                Some(c @ CheckedClaim { claimed: true, .. }) => vec![Loss::new(0.5, "T3.platform-unverified", Severity::Medium,
                    c.url.as_deref().unwrap_or(&obs.code),
                    match (&c.url, &c.detail) {
                        (None, _) => "the declaration says the platform is deployed but gives no URL to check".into(),
                        (Some(_), Some(d)) => format!("the declared platform does not answer: {d}"),
                        (Some(_), None) => "the declared platform does not answer".into(),
                    }, fix)],
                _ => vec![Loss::new(1.0, "T3.no-platform", Severity::Medium, &obs.code,
                    "no deployed data-analysis platform is declared".into(), fix)],
            }
        }
        Evidence::ServicesUp => {
            if obs.services.is_empty() {
                return vec![Loss::new(
                    1.0,
                    "T4.no-service",
                    Severity::Critical,
                    &obs.code,
                    "no data-sharing service is registered or declared for the agency".into(),
                    "provide data-sharing services on your LGSP or the NDXP and register their URLs under services",
                )];
            }
            let share = 1.0 / obs.services.len() as f64;
            obs.services
                .iter()
                .filter_map(|p| {
                    let failure = p.failure.as_ref()?;
                    Some(Loss::new(
                        share,
                        "T4.service-down",
                        Severity::High,
                        &p.url,
                        format!("the sharing service did not answer: {}", failure.message),
                        "keep the service reachable and answering with a success status",
                    ))
                })
                .collect()
        }
        Evidence::ApiDescribed => {
            if obs.services.is_empty() {
                return vec![Loss::new(
                    1.0,
                    "T4.no-service",
                    Severity::High,
                    &obs.code,
                    "no data-sharing service, so no API description".into(),
                    "provide data-sharing services with an OpenAPI or WSDL description of each",
                )];
            }
            let share = 1.0 / obs.services.len() as f64;
            obs.services.iter().filter_map(|p| match &p.api_description {
                None => Some(Loss::new(share, "T4.api-undescribed", Severity::Medium, &p.url,
                    "no description of the service's API is registered or declared".into(),
                    "publish an OpenAPI (Swagger) or WSDL description and give its URL as api_description")),
                Some(d) => d.problem.as_ref().map(|problem| Loss::new(share, "T4.api-description-invalid", Severity::Medium, &d.url,
                    format!("the API description cannot be used: {problem}"),
                    "serve an OpenAPI (JSON or YAML) or WSDL document at the api_description URL")),
            }).collect()
        }
    }
}

/// A plan the declaration cites: verified if its document resolves, half if it is only
/// claimed (no URL, or one that does not answer), nothing if not declared.
fn plan(obs: &AgencyObservation, kind: DocumentKind, rule: &str, what: &str) -> Vec<Loss> {
    let d = &obs.declaration;
    let fix = "issue the plan and cite it in the declaration (kind, number, date and the URL of the document)";
    let cited: Vec<_> = d.documents.iter().filter(|doc| doc.kind == kind).collect();
    if cited.iter().any(|doc| doc.claim.resolves == Some(true)) {
        return Vec::new();
    }
    let subject = d.url.clone().unwrap_or_else(|| obs.code.clone());
    if let Some(doc) = cited.first() {
        let number = doc.number.as_deref().unwrap_or("without a number");
        let message = match (&doc.claim.url, &doc.claim.detail) {
            (None, _) => {
                format!("the declaration cites {what} ({number}) but gives no URL to check it")
            }
            (Some(url), detail) => format!(
                "the declaration cites {what} ({number}) but its document {url} does not resolve{}",
                detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
        };
        return vec![Loss::new(
            0.5,
            &format!("{rule}-unverified"),
            Severity::Medium,
            &subject,
            message,
            "publish the document where its URL says, readable without logging in",
        )];
    }
    let message = match &d.outcome {
        CatalogOutcome::NotPublished => {
            format!("no declaration is published, so {what} cannot be found")
        }
        CatalogOutcome::FetchFailed(f) => format!(
            "the declaration could not be fetched ({}), so {what} cannot be found",
            f.message
        ),
        CatalogOutcome::ParseFailed(m) => {
            format!("the declaration could not be read ({m}), so {what} cannot be found")
        }
        CatalogOutcome::Parsed => format!("the declaration cites no {what}"),
    };
    vec![Loss::new(
        1.0,
        &format!("{rule}-missing"),
        Severity::High,
        &subject,
        message,
        fix,
    )]
}

/// Points of one quality dimension lost (out of 100), each with its finding.
fn quality_losses(obs: &AgencyObservation, dimension: Dimension, today: i32) -> Vec<Loss> {
    let cat = &obs.catalog;
    let t = &cat.tally;
    let subject = catalog_subject(obs);
    let mut out = Vec::new();
    let n = t.datasets;
    if n == 0 {
        let points = quality::dataset_points(dimension);
        out.push(Loss::new(points, &format!("Q.{}.no-datasets", dimension.as_str()), Severity::High, &subject,
            format!("no dataset could be read, so none earns the {points} points of {} ({}) judged per dataset", dimension.as_str(), dimension.vietnamese()),
            "publish a readable catalog listing your datasets (see the T1 findings)"));
    } else {
        let per_dataset = |rule: &Rule, failing: u64| {
            let share = failing as f64 / n as f64;
            Loss::new(
                rule.points * share,
                rule.id,
                Severity::of_share(share),
                &subject,
                format!("{failing} of {n} datasets {}", rule.seen),
                rule.fix,
            )
        };
        for (i, rule) in DATASET_RULES.iter().enumerate() {
            let failing = t.failing(i);
            if rule.dimension == dimension && failing > 0 {
                out.push(per_dataset(rule, failing));
            }
        }
        let stale = t.stale_at(today);
        if FRESHNESS.dimension == dimension && stale > 0 {
            out.push(per_dataset(&FRESHNESS, stale));
        }
    }
    for rule in CATALOG_RULES.iter().filter(|r| r.dimension == dimension) {
        if let Some((share, seen)) = catalog_rule(obs, rule.id, today) {
            out.push(Loss::new(
                rule.points * share,
                rule.id,
                Severity::of_share(share.max(0.6)),
                &subject,
                seen,
                rule.fix,
            ));
        }
    }
    out
}

/// The share of a catalog rule's points lost, with what was seen; `None` when nothing is.
fn catalog_rule(obs: &AgencyObservation, id: &str, today: i32) -> Option<(f64, String)> {
    let cat = &obs.catalog;
    let rule = CATALOG_RULES.iter().find(|r| r.id == id)?;
    let of_links = |bad: fn(&LinkSummary) -> (u64, &Vec<String>)| {
        if cat.tally.datasets == 0 {
            // No dataset, no link: nothing to earn these points with.
            return Some((
                1.0,
                "no dataset could be read, so no link could be checked".to_string(),
            ));
        }
        // Links not (yet) checked cost nothing: the rule only weighs what was measured.
        let links = obs
            .links
            .as_ref()
            .filter(|l| l.checked > 0 && bad(l).0 > 0)?;
        let (count, examples) = bad(links);
        Some((
            count as f64 / links.checked as f64,
            format!(
                "{count} of {} checked {}, e.g. {}",
                links.checked,
                rule.seen,
                examples.join("; ")
            ),
        ))
    };
    match id {
        "Q.correct.served-type" => of_links(|l| (l.type_mismatch, &l.mismatch_examples)),
        "Q.clean.broken-links" => of_links(|l| (l.broken, &l.broken_examples)),
        "Q.alive.catalog-updated" => match cat.tally.newest_modified {
            Some(day) if today - day <= 365 => None,
            Some(day) => Some((
                1.0,
                format!(
                    "the newest dataset in the catalog was modified {} days ago",
                    today - day
                ),
            )),
            None => Some((
                1.0,
                "no dataset in the catalog says when it was modified".into(),
            )),
        },
        "Q.alive.catalog-reachable" => match &cat.outcome {
            CatalogOutcome::NotPublished => Some((1.0, "no catalog is published".into())),
            CatalogOutcome::FetchFailed(f) => Some((
                1.0,
                format!(
                    "the catalog could not be fetched in this cycle: {}",
                    f.message
                ),
            )),
            _ => None,
        },
        "Q.alive.services-up" => {
            let total = obs.services.len();
            let down = obs.services.iter().filter(|p| !p.is_up()).count();
            match (total, down) {
                (0, _) => Some((
                    1.0,
                    "no sharing service is registered, so none is up".into(),
                )),
                (_, 0) => None,
                _ => Some((
                    down as f64 / total as f64,
                    format!("{down} of {total} sharing services are down"),
                )),
            }
        }
        _ => None,
    }
}

/// What the harvest noticed besides the outcome that no rule weighs: worth fixing, no
/// points.
fn catalog_notes(obs: &AgencyObservation) -> Vec<Finding> {
    let cat = &obs.catalog;
    let subject = catalog_subject(obs);
    let note = |rule: &str, message: String, fix: &str| Finding {
        rule: rule.into(),
        severity: Severity::Info,
        subject: subject.clone(),
        message,
        fix: fix.into(),
        points: 0.0,
    };
    cat.notes
        .iter()
        .filter_map(|n| match n {
            Note::ContentTypeMismatch(m) => Some(note("T1.content-type", m.clone(),
                "serve the catalog with the Content-Type of its format (application/json, text/turtle, text/csv…)")),
            Note::Paging(m) => Some(note("T1.paging", m.clone(),
                "make every page link to the next one, and the last page to none")),
            Note::UnknownOrganization(m) => Some(note("T1.ckan-organization", m.clone(),
                "register the organization's `name` as it appears in the portal's organization_list")),
            Note::UnsafeText(t) => Some(note("T1.unsafe-text", format!(
                "{} records carry markup, {} control characters and {} a spreadsheet formula prefix (=, +, -, @) in their text",
                t.markup, t.control, t.formula),
                "publish plain text: no HTML tags, no control characters, and no leading =, +, - or @ in titles, descriptions and keywords")),
            // Weighed by Q.clean.duplicate-identifier.
            Note::DuplicateIdentifiers(_) => None,
        })
        .collect()
}

/// What one dataset lost, each rule it fails as a finding whose points are its share of
/// the agency's index in a catalog of `datasets` records (so a catalog's dataset findings
/// add up to what its dataset rules cost), followed by the details behind them (each
/// schema error, each unusable field) at no points.
pub fn dataset_findings(
    d: &Dataset,
    mark: &Mark,
    method: &Method,
    datasets: usize,
    today: i32,
) -> Vec<Finding> {
    let subject = d.subject();
    let scale = method.dimension_weight() / DIMENSION_POINTS / datasets.max(1) as f64;
    let mut out: Vec<Finding> = DATASET_RULES
        .iter()
        .enumerate()
        .filter(|(i, _)| mark.fails(*i))
        .map(|(_, r)| (r, r.points))
        .chain((!mark.fresh_at(today)).then_some((&FRESHNESS, FRESHNESS.points)))
        .map(|(r, points)| Finding {
            rule: r.id.into(),
            severity: Severity::Low,
            subject: subject.clone(),
            message: format!(
                "the dataset does not pass: it is among those that {}",
                r.seen
            ),
            fix: r.fix.into(),
            points: points * scale,
        })
        .collect();
    out.extend(d.problems.iter().map(|p| Finding {
        rule: "Q.correct.schema.field".into(),
        severity: Severity::Info,
        subject: subject.clone(),
        message: format!("`{}` {}", p.field, p.message),
        fix: "give the field the type the format defines (a string, a list of strings, an object…)".into(),
        points: 0.0,
    }));
    if let Some(check) = &d.schema {
        let more = check.errors.saturating_sub(check.first.len());
        out.extend(check.first.iter().map(|issue| Finding {
            rule: "Q.correct.schema.error".into(),
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
                rule: "Q.correct.schema.error".into(),
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
    use crate::catalog::{DatabaseInfo, Distribution};
    use crate::observation::{
        ApiDescription, CatalogObservation, CheckedDocument, DeclarationObservation, Failure,
        FailureClass, ProbeObservation,
    };
    use proptest::prelude::*;

    /// 2026-11-23.
    const TODAY: i32 = 20_780;

    fn full_dataset() -> Dataset {
        Dataset {
            identifier: Some("id".into()),
            title: Some("t".into()),
            description: Some("d".into()),
            publisher: Some("p".into()),
            contact_point: Some("c".into()),
            keywords: vec!["k".into()],
            themes: vec!["th".into()],
            spatial: Some("VN".into()),
            temporal: Some("2020/2026".into()),
            modified: Some("2026-11-01".into()),
            accrual_periodicity: Some("R/P1M".into()),
            license: Some("cc-by".into()),
            distributions: vec![Distribution {
                download_url: Some("https://x.gov.vn/a.csv".into()),
                media_type: Some("text/csv".into()),
                ..Distribution::default()
            }],
            database: DatabaseInfo {
                roadmap_status: Some("in operation".into()),
                roadmap_target: Some("2025".into()),
                ..DatabaseInfo::default()
            },
            ..Dataset::default()
        }
    }

    fn claim(resolves: Option<bool>) -> CheckedClaim {
        CheckedClaim {
            claimed: true,
            url: resolves.map(|_| "https://x.gov.vn/doc.pdf".into()),
            resolves,
            detail: None,
        }
    }

    /// `declared`: whether the declaration cites both plans and the platform, verified.
    fn obs(
        outcome: CatalogOutcome,
        datasets: &[Dataset],
        services: &[bool],
        declared: bool,
    ) -> AgencyObservation {
        let mut tally = QualityTally::default();
        datasets.iter().for_each(|d| tally.add(&quality::mark(d)));
        let documents = [DocumentKind::OpenDataPlan, DocumentKind::AnalyticsPlan]
            .into_iter()
            .filter(|_| declared)
            .map(|kind| CheckedDocument {
                kind,
                number: Some("1/KH".into()),
                date: None,
                claim: claim(Some(true)),
            })
            .collect();
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
                    http_version: None,
                    phases: None,
                    api_description: Some(ApiDescription {
                        url: format!("http://x/s{i}/openapi.json"),
                        kind: Some("openapi".into()),
                        problem: None,
                    }),
                })
                .collect(),
            declaration: DeclarationObservation {
                url: Some("http://x/declaration.json".into()),
                outcome: CatalogOutcome::Parsed,
                documents,
                platform: declared.then(|| claim(Some(true))),
            },
            links: None,
        }
    }

    fn lost(score: &AgencyScore) -> f64 {
        score.findings.iter().map(|f| f.points).sum()
    }

    fn rules(score: &AgencyScore) -> Vec<&str> {
        score.findings.iter().map(|f| f.rule.as_str()).collect()
    }

    #[test]
    fn an_exemplary_agency_gets_everything_and_no_finding() {
        let s = assess(
            &obs(
                CatalogOutcome::Parsed,
                &[full_dataset()],
                &[true, true],
                true,
            ),
            &Method::builtin(),
            TODAY,
        );
        assert!(s.findings.is_empty(), "{:?}", s.findings);
        assert!((s.index - 1000.0).abs() < 1e-9);
        assert_eq!(s.band, Band::Excellent);
        for t in ["T1", "T2", "T3", "T4", "T3.platform"] {
            assert_eq!(s.component(t).unwrap().verdict, Some(Verdict::Met), "{t}");
        }
        assert_eq!(s.dimension(Dimension::Alive), Some(100.0));
    }

    #[test]
    fn an_agency_that_published_nothing_scores_zero_with_reasons() {
        let mut o = obs(CatalogOutcome::NotPublished, &[], &[], false);
        o.declaration = DeclarationObservation::default();
        let s = assess(&o, &Method::builtin(), TODAY);
        assert_eq!(s.index, 0.0);
        assert_eq!(s.band, Band::Poor);
        assert!((lost(&s) - 1000.0).abs() < 1e-9, "{}", lost(&s));
        let r = rules(&s);
        for expected in [
            "T1.no-catalog",
            "T1.roadmap",
            "T2.plan-missing",
            "T2.no-open-data",
            "T3.plan-missing",
            "T3.no-platform",
            "T4.no-service",
            "Q.sufficient.no-datasets",
            "Q.alive.catalog-reachable",
            "Q.alive.services-up",
        ] {
            assert!(r.contains(&expected), "{expected} not in {r:?}");
        }
        let plan = s
            .findings
            .iter()
            .find(|f| f.rule == "T2.plan-missing")
            .unwrap();
        assert_eq!(
            plan.message,
            "no declaration is published, so an open-data plan cannot be found"
        );
    }

    #[test]
    fn hand_worked_partial_case() {
        // Two datasets: one exemplary, one with a title only. Services: 3 of 4 up.
        let sparse = Dataset {
            title: Some("only a title".into()),
            ..Dataset::default()
        };
        let s = assess(
            &obs(
                CatalogOutcome::Parsed,
                &[full_dataset(), sparse],
                &[true, false, true, true],
                true,
            ),
            &Method::builtin(),
            TODAY,
        );
        // T1: catalog 150 + roadmap 100 × 1/2 = 200.
        assert!((s.component("T1").unwrap().points - 200.0).abs() < 1e-9);
        // T4: services 120 × 3/4 = 90, API 80 (all described) = 170.
        assert!((s.component("T4").unwrap().points - 170.0).abs() < 1e-9);
        // Sufficient: the sparse record fails every rule but the title: 90 of 100 points,
        // half the datasets: 45 lost → 55 of 100 → 75 × 0.55 = 41.25 index points.
        assert_eq!(s.dimension(Dimension::Sufficient), Some(55.0));
        assert!((s.component("Q.sufficient").unwrap().points - 41.25).abs() < 1e-9);
        let keyword = s
            .findings
            .iter()
            .find(|f| f.rule == "Q.sufficient.keyword")
            .unwrap();
        assert_eq!(keyword.message, "1 of 2 datasets have no keyword");
        // 10 points × 1/2 of the datasets × 75/100 per point.
        assert!((keyword.points - 3.75).abs() < 1e-9);
        assert!((s.completeness - 0.55).abs() < 1e-12);
        assert_eq!(s.component("T4").unwrap().verdict, Some(Verdict::Partly));
        assert!((s.index + lost(&s) - 1000.0).abs() < 1e-9);
    }

    #[test]
    fn claims_that_cannot_be_checked_earn_half() {
        let mut o = obs(CatalogOutcome::Parsed, &[full_dataset()], &[true], true);
        o.declaration.documents[0].claim = claim(None);
        o.declaration.platform = Some(CheckedClaim {
            detail: Some("HTTP 404".into()),
            ..claim(Some(false))
        });
        let s = assess(&o, &Method::builtin(), TODAY);
        assert_eq!(s.component("T2.plan").unwrap().points, 25.0);
        assert_eq!(s.component("T3.platform").unwrap().points, 20.0);
        let platform = s
            .findings
            .iter()
            .find(|f| f.rule == "T3.platform-unverified")
            .unwrap();
        assert_eq!(
            platform.message,
            "the declared platform does not answer: HTTP 404"
        );
        assert_eq!(s.component("T2").unwrap().verdict, Some(Verdict::Partly));
    }

    #[test]
    fn an_empty_catalog_partly_meets_t1() {
        let s = assess(
            &obs(CatalogOutcome::Parsed, &[], &[true], true),
            &Method::builtin(),
            TODAY,
        );
        assert_eq!(s.component("T1.catalog").unwrap().points, 75.0);
        assert_eq!(s.component("T1").unwrap().verdict, Some(Verdict::Partly));
        assert!(rules(&s).contains(&"T1.catalog-empty"));
    }

    #[test]
    fn data_goes_stale_as_days_pass() {
        let o = obs(CatalogOutcome::Parsed, &[full_dataset()], &[true], true);
        let fresh = assess(&o, &Method::builtin(), TODAY);
        // Monthly data modified 2026-11-01 is stale after 38 days, and the catalog as a
        // whole after a year.
        let later = assess(&o, &Method::builtin(), TODAY + 60);
        assert_eq!(fresh.dimension(Dimension::Alive), Some(100.0));
        assert_eq!(later.dimension(Dimension::Alive), Some(50.0));
        let much_later = assess(&o, &Method::builtin(), TODAY + 400);
        assert!((much_later.dimension(Dimension::Alive).unwrap() - 30.0).abs() < 1e-9);
    }

    fn arb_dataset() -> impl Strategy<Value = Dataset> {
        let opt = || proptest::option::of("[a-z]{1,3}");
        (
            opt(),
            opt(),
            opt(),
            opt(),
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(prop_oneof![
                Just("2026-10-01".to_string()),
                Just("bad".to_string()),
                Just("2019-01-01".to_string())
            ]),
            proptest::option::of(prop_oneof![
                Just("cc-by".to_string()),
                Just("other-nc".to_string()),
                Just("mine".to_string())
            ]),
            any::<bool>(),
        )
            .prop_map(
                |(
                    title,
                    description,
                    publisher,
                    spatial,
                    keyword,
                    dist,
                    modified,
                    license,
                    roadmap,
                )| Dataset {
                    identifier: title.clone(),
                    title,
                    description,
                    publisher,
                    spatial,
                    keywords: if keyword { vec!["k".into()] } else { vec![] },
                    modified,
                    license,
                    distributions: if dist {
                        vec![Distribution {
                            download_url: Some("https://x.gov.vn/a.csv".into()),
                            ..Default::default()
                        }]
                    } else {
                        vec![]
                    },
                    database: DatabaseInfo {
                        roadmap_status: roadmap.then(|| "x".into()),
                        roadmap_target: roadmap.then(|| "2026".into()),
                        ..Default::default()
                    },
                    ..Dataset::default()
                },
            )
    }

    fn arb_outcome() -> impl Strategy<Value = CatalogOutcome> {
        prop_oneof![
            Just(CatalogOutcome::NotPublished),
            Just(CatalogOutcome::Parsed),
            Just(CatalogOutcome::ParseFailed("bad".into())),
            Just(CatalogOutcome::FetchFailed(Failure {
                class: FailureClass::Timeout,
                message: "timed out".into()
            })),
        ]
    }

    proptest! {
        #[test]
        fn findings_always_add_up_to_the_points_lost(
            outcome in arb_outcome(),
            datasets in proptest::collection::vec(arb_dataset(), 0..6),
            services in proptest::collection::vec(any::<bool>(), 0..4),
            declared in any::<bool>(),
            days in 0..800i32,
        ) {
            let s = assess(&obs(outcome, &datasets, &services, declared), &Method::builtin(), TODAY + days);
            prop_assert!((0.0..=1000.0).contains(&s.index));
            prop_assert!((s.index + lost(&s) - 1000.0).abs() < 1e-6, "index {} + lost {}", s.index, lost(&s));
            for d in Dimension::ALL {
                let v = s.dimension(d).unwrap();
                prop_assert!((0.0..=100.0 + 1e-9).contains(&v));
            }
            prop_assert!(s.findings.iter().all(|f| f.points >= 0.0));
        }

        #[test]
        fn adding_a_missing_field_never_lowers_the_score(
            mut datasets in proptest::collection::vec(arb_dataset(), 1..5),
            field in 0..5usize,
        ) {
            let method = Method::builtin();
            let before = assess(&obs(CatalogOutcome::Parsed, &datasets, &[true], true), &method, TODAY);
            let d = &mut datasets[0];
            match field {
                0 => d.description = d.description.take().or(Some("added".into())),
                1 => d.publisher = d.publisher.take().or(Some("added".into())),
                2 => d.spatial = d.spatial.take().or(Some("added".into())),
                3 => if d.keywords.is_empty() { d.keywords.push("added".into()) },
                _ => d.themes.push("added".into()),
            }
            let after = assess(&obs(CatalogOutcome::Parsed, &datasets, &[true], true), &method, TODAY);
            prop_assert!(after.index >= before.index - 1e-9, "{} < {}", after.index, before.index);
        }
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
            band: Band::of(index, &Bands::default()),
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
