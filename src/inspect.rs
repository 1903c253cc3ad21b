//! `dtindex inspect`: one catalog, read the way the daemon reads it, with every finding.
//!
//! So an agency can check its catalog before publishing it: the same formats, limits and
//! rules as a crawl, on a local file or a URL, and the catalog's quality score.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use url::Url;

use crate::config::CrawlSettings;
use crate::fetch::Fetcher;
use crate::harvest::{self, DatasetSink};
use crate::observation::{AgencyObservation, CatalogObservation};
use crate::registry::{AgencyKind, CatalogEndpoint, CatalogFormat};
use crate::score::{self, Dimension, Finding, Method, quality};

/// Points the catalog quality score is out of: the mean of the four dimensions.
pub const QUALITY_SCALE: f64 = 100.0;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub source: String,
    pub format: Option<String>,
    /// `parsed`, `parse_failed`, `fetch_failed`.
    pub outcome: String,
    pub datasets: usize,
    /// Catalog findings first, then each dataset's, in catalog order. Each one's `points`
    /// is what it costs the score; together they are what the catalog lost.
    pub findings: Vec<Finding>,
    /// Catalog quality, 0–100: the mean of the four dimensions.
    pub score: f64,
    /// Each dimension (sufficient/đủ, correct/đúng, clean/sạch, alive/sống), 0–100.
    pub dimensions: std::collections::BTreeMap<&'static str, f64>,
}

/// The method as inspect scores a lone catalog: quality alone, out of 100.
fn catalog_method() -> Method {
    Method {
        quality_weight: QUALITY_SCALE,
        ..Method::builtin()
    }
}

/// Reads `source` (a path, or an http(s) URL) and reports on it.
pub async fn inspect(
    source: &str,
    format: CatalogFormat,
    crawl: &CrawlSettings,
) -> anyhow::Result<Report> {
    let today = score::today();
    let method = catalog_method();
    let per_dataset: Arc<Mutex<Vec<Finding>>> = Arc::default();
    let collected = per_dataset.clone();
    let sink = DatasetSink::with(move |d, mark| {
        if let Ok(mut all) = collected.lock() {
            // Scaled for a catalog of one; divided by the real count once it is known.
            all.extend(score::dataset_findings(d, mark, &method, 1, today));
        }
    });
    let catalog = match Url::parse(source) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {
            let fetcher = Fetcher::new(crawl)?;
            let endpoint = CatalogEndpoint {
                url,
                format,
                organization: None,
            };
            harvest::harvest_into(&fetcher, &endpoint, None, sink)
                .await
                .0
        }
        _ => {
            let path = std::path::Path::new(source);
            harvest::read_file(path, format, sink)
                .await
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?
                .0
        }
    };
    let mut dataset_findings = std::mem::take(
        &mut *per_dataset
            .lock()
            .map_err(|_| anyhow::anyhow!("a parser thread panicked"))?,
    );
    let n = catalog.datasets.max(1) as f64;
    dataset_findings.iter_mut().for_each(|f| f.points /= n);
    Ok(report(source, catalog, dataset_findings, today))
}

fn report(
    source: &str,
    catalog: CatalogObservation,
    mut dataset_findings: Vec<Finding>,
    today: i32,
) -> Report {
    let obs = AgencyObservation {
        code: "inspect".into(),
        kind: AgencyKind::Province,
        name: source.into(),
        catalog: catalog.clone(),
        services: Vec::new(),
        declaration: Default::default(),
        links: None,
    };
    let assessed = score::assess(&obs, &catalog_method(), today);
    // Told per dataset below: the catalog-wide counts of the dataset rules.
    let per_dataset_rule = |rule: &str| {
        quality::DATASET_RULES.iter().any(|r| r.id == rule) || rule == quality::FRESHNESS.id
    };
    // A lone catalog has no services: that rule is not held against it.
    let not_applicable = "Q.alive.services-up";
    let given_back: f64 = assessed
        .findings
        .iter()
        .filter(|f| f.rule == not_applicable)
        .map(|f| f.points)
        .sum();
    let mut findings: Vec<Finding> = assessed
        .findings
        .iter()
        .filter(|f| f.rule.starts_with("T1.") || f.rule.starts_with("Q."))
        .filter(|f| f.rule != not_applicable && !per_dataset_rule(&f.rule))
        .cloned()
        .map(|mut f| {
            if f.rule.starts_with("T1.") {
                // The targets are not part of a catalog's quality score.
                f.points = 0.0;
            }
            f
        })
        .collect();
    findings.append(&mut dataset_findings);
    let mut dimensions = std::collections::BTreeMap::new();
    let mut total = 0.0;
    for d in Dimension::ALL {
        let c = assessed.component(&score::dimension_id(d));
        let (points, max) = c.map_or((0.0, 1.0), |c| (c.points, c.max_points));
        let back = if d == Dimension::Alive {
            given_back
        } else {
            0.0
        };
        let value = round2(100.0 * (points + back) / max);
        total += points + back;
        dimensions.insert(d.as_str(), value);
    }
    Report {
        source: source.into(),
        format: catalog.format.clone(),
        outcome: catalog.outcome.as_str().to_string(),
        datasets: catalog.datasets,
        findings,
        score: round2(total),
        dimensions,
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The report as people read it.
pub fn render_text(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "catalog:  {}", r.source);
    let _ = writeln!(
        out,
        "format:   {}",
        r.format.as_deref().unwrap_or("not recognised")
    );
    let _ = writeln!(out, "outcome:  {}", r.outcome);
    let _ = writeln!(out, "datasets: {}", r.datasets);
    let _ = writeln!(out, "score:    {:.1} / {QUALITY_SCALE}", r.score);
    for (d, v) in &r.dimensions {
        let _ = writeln!(out, "  {d:<11}{v:.1}");
    }
    let _ = writeln!(out, "findings: {}", r.findings.len());
    let mut subject = None;
    for f in &r.findings {
        if subject != Some(&f.subject) {
            let _ = writeln!(out, "\n{}", f.subject);
            subject = Some(&f.subject);
        }
        let _ = writeln!(
            out,
            "  [{}] {} {}\n      fix: {}",
            f.severity.as_str(),
            f.rule,
            f.message,
            f.fix
        );
    }
    out
}
