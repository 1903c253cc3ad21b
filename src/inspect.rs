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
use crate::score::{self, Finding, Weights};

/// Points the catalog quality score is out of.
pub const QUALITY_SCALE: f64 = 100.0;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub source: String,
    pub format: Option<String>,
    /// `parsed`, `parse_failed`, `fetch_failed`.
    pub outcome: String,
    pub datasets: usize,
    /// Catalog findings first, then each dataset's, in catalog order.
    pub findings: Vec<Finding>,
    /// Metadata quality, 0–100: the share of the checked fields present.
    pub score: f64,
}

/// Reads `source` (a path, or an http(s) URL) and reports on it.
pub async fn inspect(
    source: &str,
    format: CatalogFormat,
    crawl: &CrawlSettings,
) -> anyhow::Result<Report> {
    let per_dataset: Arc<Mutex<Vec<Finding>>> = Arc::default();
    let collected = per_dataset.clone();
    let sink = DatasetSink::with(move |d| {
        if let Ok(mut all) = collected.lock() {
            all.extend(score::dataset_findings(d));
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
    Ok(report(source, catalog, &mut dataset_findings))
}

fn report(
    source: &str,
    catalog: CatalogObservation,
    dataset_findings: &mut Vec<Finding>,
) -> Report {
    score::spread_completeness_points(dataset_findings, catalog.datasets, QUALITY_SCALE);
    let obs = AgencyObservation {
        code: "inspect".into(),
        kind: AgencyKind::Province,
        name: source.into(),
        catalog: catalog.clone(),
        services: Vec::new(),
    };
    let assessed = score::assess(&obs, &Weights::default());
    // The catalog's own findings; completeness is told per dataset below, services do not
    // apply to a lone catalog.
    let mut findings: Vec<Finding> = assessed
        .findings
        .into_iter()
        .filter(|f| {
            f.rule.starts_with("T1.")
                || (f.rule.starts_with("Q.") && !f.rule.starts_with("Q.completeness."))
        })
        .filter(|f| f.rule != "Q.correct.schema")
        .collect();
    findings.append(dataset_findings);
    Report {
        source: source.into(),
        format: catalog.format.clone(),
        outcome: catalog.outcome.as_str().to_string(),
        datasets: catalog.datasets,
        findings,
        score: (catalog.tally.share() * QUALITY_SCALE * 100.0).round() / 100.0,
    }
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
