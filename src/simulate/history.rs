//! A federation's history written straight into a store: cycles on fixed days, each
//! agency's observation drawn from a seed and scored by the real method.
//!
//! Crawling the live simulator gives one cycle at today's clock; the pages, the reports
//! and their tests need months of history that reads the same on every run. The same
//! seed, days and registry give the same rows, byte for byte.

use chrono::NaiveDate;
use diesel::QueryResult;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::catalog::national::Records;
use crate::catalog::{DatabaseInfo, Dataset, Distribution};
use crate::declaration::DocumentKind;
use crate::harvest::DatasetSink;
use crate::observation::{
    AgencyObservation, ApiDescription, CatalogObservation, CatalogOutcome, CheckedClaim,
    CheckedDocument, DeclarationObservation, Failure, FailureClass, LinkSummary, ProbeObservation,
};
use crate::registry::{Agency, Registry};
use crate::score::{Method, assess, rank};
use crate::store::{self, Conn, CycleResults};

/// What to write: a cycle every `every_days` days from `start`, `cycles` of them.
#[derive(Debug, Clone)]
pub struct HistorySpec {
    pub seed: u64,
    pub start: NaiveDate,
    pub every_days: u32,
    pub cycles: u32,
    /// Text a hostile agency might publish (markup, formula prefixes), to show it is
    /// carried as text: the first agency's first dataset title and the number of every
    /// document its declaration cites (which then never resolve, so findings quote them).
    pub hostile_text: Option<String>,
}

/// Writes the cycles and returns their ids, oldest first.
pub fn write(
    conn: &mut Conn,
    registry: &Registry,
    method: &Method,
    spec: &HistorySpec,
) -> QueryResult<Vec<i64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    // Each agency starts somewhere between nothing and exemplary, and moves at its own
    // pace (some slide back).
    let profiles: Vec<(f64, f64)> = registry
        .agencies
        .iter()
        .map(|_| (rng.random_range(0.0..1.0), rng.random_range(-0.02..0.06)))
        .collect();
    let mut ids = Vec::new();
    for cycle in 0..spec.cycles {
        let day = spec.start + chrono::Days::new(u64::from(cycle * spec.every_days));
        let at = day.and_hms_opt(1, 0, 0).unwrap_or_default();
        let today = crate::score::day_of(at.and_utc().timestamp());
        let observations: Vec<AgencyObservation> = registry
            .agencies
            .iter()
            .zip(&profiles)
            .enumerate()
            .map(|(i, (agency, (start, pace)))| {
                let maturity = (start + pace * f64::from(cycle)).clamp(0.0, 1.0);
                let hostile = (i == 0).then_some(spec.hostile_text.as_deref()).flatten();
                observe(&mut rng, agency, maturity, day, hostile)
            })
            .collect();
        let scores = observations
            .iter()
            .map(|o| assess(o, method, today))
            .collect();
        let ranked = rank(scores);
        let id = store::begin_cycle(conn)?;
        store::finish_cycle(
            conn,
            id,
            &CycleResults {
                ranked: &ranked,
                observations: &observations,
                states: &[],
            },
        )?;
        let finished = at + chrono::Duration::minutes(20);
        store::stamp_cycle(conn, id, at, finished)?;
        ids.push(id);
    }
    Ok(ids)
}

fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    rng.random_bool(p.clamp(0.0, 1.0))
}

/// One agency as a crawl at `maturity` (0 publishes nothing, 1 everything, well) might see it.
fn observe(
    rng: &mut ChaCha8Rng,
    agency: &Agency,
    maturity: f64,
    day: NaiveDate,
    hostile: Option<&str>,
) -> AgencyObservation {
    // Under the simulator's top-level domain, which does not exist: never anyone's host.
    let base = format!(
        "https://{}.{}",
        agency.code.to_lowercase(),
        super::FILES_HOST
    );
    let published = maturity > 0.15;
    let mut sink = DatasetSink::default();
    let count = if published {
        rng.random_range(3..12)
    } else {
        0
    };
    for n in 0..count {
        let title = match (n, hostile) {
            (0, Some(t)) => t.to_string(),
            _ => format!("Cơ sở dữ liệu {} số {n}", agency.name),
        };
        sink.add(dataset(rng, &base, n, title, maturity, day));
    }
    let catalog = if published {
        CatalogObservation {
            url: Some(format!("{base}/data.json")),
            format: Some("data.json".into()),
            outcome: CatalogOutcome::Parsed,
            requests: 1,
            http_status: Some(200),
            bytes: 2_000 * count as u64,
            duration_ms: 120,
            datasets: sink.datasets,
            datasets_changed: sink.changed,
            records: Records::Replace(sink.take_records()),
            tally: sink.tally,
            ..CatalogObservation::default()
        }
    } else {
        CatalogObservation::default()
    };
    let document = |rng: &mut ChaCha8Rng, kind: DocumentKind, slug: &str, p: f64| {
        (hostile.is_some() || chance(rng, p)).then(|| CheckedDocument {
            kind,
            number: Some(hostile.map_or_else(
                || format!("{}/QĐ-{}", 10 + agency.code.len(), agency.code),
                str::to_string,
            )),
            date: Some("2025-03-01".into()),
            claim: CheckedClaim {
                claimed: true,
                url: Some(format!("{base}/{slug}.pdf")),
                resolves: Some(hostile.is_none() && chance(rng, maturity + 0.2)),
                detail: None,
            },
        })
    };
    let declared = maturity > 0.3 || hostile.is_some();
    let declaration = if declared {
        DeclarationObservation {
            url: Some(format!("{base}/declaration.json")),
            outcome: CatalogOutcome::Parsed,
            documents: [
                document(
                    rng,
                    DocumentKind::DatabaseCatalog,
                    "catalog",
                    maturity + 0.3,
                ),
                document(rng, DocumentKind::OpenDataPlan, "open-data", maturity + 0.1),
                document(rng, DocumentKind::AnalyticsPlan, "analytics", maturity),
            ]
            .into_iter()
            .flatten()
            .collect(),
            platform: Some(CheckedClaim {
                claimed: maturity > 0.6,
                url: Some(format!("{base}/platform")),
                resolves: Some(chance(rng, maturity)),
                detail: None,
            }),
        }
    } else {
        DeclarationObservation::default()
    };
    let up = chance(rng, 0.4 + maturity);
    let services = vec![ProbeObservation {
        url: format!("{base}/lgsp"),
        platform: Some("LGSP".into()),
        http_status: Some(if up { 200 } else { 503 }),
        latency_ms: rng.random_range(40..900),
        failure: (!up).then(|| Failure {
            class: FailureClass::Status,
            message: "503 Service Unavailable".into(),
        }),
        tls_expires_at: None,
        api_description: chance(rng, maturity).then(|| ApiDescription {
            url: format!("{base}/lgsp/openapi.json"),
            kind: Some("OpenAPI".into()),
            problem: None,
        }),
        http_version: Some("HTTP/1.1".into()),
        phases: None,
    }];
    let broken = (count as f64 * (1.0 - maturity) * rng.random_range(0.0..0.5)) as u64;
    AgencyObservation {
        code: agency.code.clone(),
        kind: agency.kind,
        name: agency.name.clone(),
        catalog,
        services,
        declaration,
        links: published.then(|| LinkSummary {
            checked: count as u64,
            broken,
            type_mismatch: 0,
            broken_examples: (0..broken)
                .map(|n| format!("{base}/files/{n}.csv: 404"))
                .collect(),
            mismatch_examples: Vec::new(),
        }),
    }
}

fn dataset(
    rng: &mut ChaCha8Rng,
    base: &str,
    n: usize,
    title: String,
    maturity: f64,
    day: NaiveDate,
) -> Dataset {
    let p = 0.3 + 0.7 * maturity;
    let age = rng.random_range(0..400u64);
    let modified = day - chrono::Days::new(age);
    let some = |rng: &mut ChaCha8Rng, v: String| chance(rng, p).then_some(v);
    Dataset {
        identifier: Some(format!("{base}/datasets/{n}")),
        title: Some(title),
        description: some(rng, "Dữ liệu được cập nhật định kỳ.".into()),
        publisher: some(rng, "Văn phòng".into()),
        contact_point: some(rng, "mailto:dulieu@example.gov.vn".into()),
        keywords: if chance(rng, p) {
            vec!["dữ liệu mở".into()]
        } else {
            Vec::new()
        },
        themes: Vec::new(),
        spatial: None,
        temporal: None,
        issued: some(rng, "2024-01-01".into()),
        modified: some(rng, modified.to_string()),
        accrual_periodicity: some(rng, "R/P1M".into()),
        license: some(rng, "https://creativecommons.org/licenses/by/4.0/".into()),
        access_level: Some("public".into()),
        rights: None,
        distributions: vec![Distribution {
            access_url: None,
            download_url: Some(format!("{base}/files/{n}.csv")),
            media_type: some(rng, "text/csv".into()),
            format: Some("CSV".into()),
            byte_size: None,
        }],
        database: DatabaseInfo {
            kind: some(rng, "chuyên ngành".into()),
            owner: some(rng, "Văn phòng".into()),
            roadmap_status: some(rng, "đang vận hành".into()),
            roadmap_target: some(rng, "2026".into()),
            shared_via: some(rng, "LGSP".into()),
        },
        problems: Vec::new(),
        schema: None,
    }
}
