//! Real catalogs published by others (tests/fixtures, with their SOURCES.md), read the way
//! the daemon reads them. The counts and values asserted here were read from the files by
//! hand, not from dtindex's output.

use std::path::PathBuf;
use std::process::Command;

use dtindex::harvest::{self, DatasetSink};
use dtindex::observation::{CatalogOutcome, Note};
use dtindex::registry::CatalogFormat;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

async fn read(
    path: &str,
) -> (
    dtindex::observation::CatalogObservation,
    Vec<dtindex::catalog::Dataset>,
) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = seen.clone();
    let sink = DatasetSink::with(move |d, _| keep.lock().unwrap().push(d.clone()));
    let (obs, _) = harvest::read_file(&fixture(path), CatalogFormat::Auto, sink)
        .await
        .unwrap();
    let all = std::mem::take(&mut *seen.lock().unwrap());
    (obs, all)
}

#[tokio::test]
async fn the_fcc_catalog_reads_with_six_schema_failures() {
    let (obs, all) = read("datajson/us-fcc_opendata.fcc.gov_data.json").await;
    assert_eq!(obs.outcome, CatalogOutcome::Parsed);
    assert_eq!(obs.format.as_deref(), Some("DCAT-US data.json"));
    assert_eq!((obs.datasets, all.len()), (59, 59));
    // 6 records lack keywords or have an empty description: the 6 the corpus notes say
    // fail the POD schema.
    assert_eq!(obs.schema_invalid, 6);
    let first = &all[0];
    assert_eq!(
        first.identifier.as_deref(),
        Some("https://opendata.fcc.gov/api/views/2ah7-n9rk")
    );
    assert_eq!(first.title.as_deref(), Some("Linked Station Neighbors"));
    assert_eq!(first.publisher.as_deref(), Some("opendata.fcc.gov"));
    assert_eq!(first.contact_point.as_deref(), Some("Humza Riaz"));
    let failing: Vec<&str> = all
        .iter()
        .filter(|d| d.schema.as_ref().unwrap().errors > 0)
        .filter_map(|d| d.identifier.as_deref())
        .collect();
    assert!(
        failing.contains(&"https://opendata.fcc.gov/api/views/9wyt-yvgw"),
        "{failing:?}"
    );
}

#[tokio::test]
async fn every_datajson_fixture_reads() {
    for (file, datasets, first_title) in [
        (
            "pod-v1.1_example_catalog-sample.json",
            3,
            "U.S. Widget Manufacturing Statistics",
        ),
        (
            "us-gsa_open.gsa.gov_data.json",
            343,
            "Networx Business Volume FY2013, 3rd Qtr",
        ),
        (
            "us-ny-state_sample_data.json",
            1,
            "State of New York Mortgage Agency (SONYMA) Loans Purchased: Beginning 2004",
        ),
        (
            "argentina-minjus_catalogo-justicia_data.json",
            18,
            "Base de datos legislativos Infoleg",
        ),
    ] {
        let (obs, all) = read(&format!("datajson/{file}")).await;
        assert_eq!(obs.outcome, CatalogOutcome::Parsed, "{file}");
        assert_eq!(obs.datasets, datasets, "{file}");
        assert_eq!(all[0].title.as_deref(), Some(first_title), "{file}");
        assert!(
            !obs.notes
                .iter()
                .any(|n| matches!(n, Note::DuplicateIdentifiers(_))),
            "{file}"
        );
    }
}

#[test]
fn inspect_json_reports_datasets_findings_and_score() {
    let out = Command::new(env!("CARGO_BIN_EXE_dtindex"))
        .args(["inspect", "--json"])
        .arg(fixture("datajson/pod-v1.1_example_catalog-sample.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["datasets"], 3);
    // Read by hand. No record has theme, license, accrualPeriodicity, spatial or temporal
    // (5+10+5+5+5 = 30 of đủ's 100 points each) and the second has no distribution (10):
    // 100 points lost over 3 records, đủ = 66.67. The second also has no media type
    // (15 of đúng's): đúng = 95. sạch: none is openly licensed (10 each), the second has
    // nothing machine-readable (10) nor open (15): 100 − 18.33 = 81.67. sống: all were
    // modified in 2011, so none is fresh (50) and the catalog is not current (20): 30.
    let findings = report["findings"].as_array().unwrap();
    for f in findings {
        for key in ["rule", "severity", "subject", "message", "fix"] {
            assert!(f[key].is_string(), "{key} in {f}");
        }
    }
    let dims = &report["dimensions"];
    let dim = |d: &str| dims[d].as_f64().unwrap();
    assert_eq!(
        [
            dim("sufficient"),
            dim("correct"),
            dim("clean"),
            dim("alive")
        ],
        [66.67, 95.0, 81.67, 30.0]
    );
    let missing_theme = findings
        .iter()
        .filter(|f| f["rule"] == "Q.sufficient.theme")
        .count();
    assert_eq!(missing_theme, 3);
    let lost: f64 = findings.iter().map(|f| f["points"].as_f64().unwrap()).sum();
    let score = report["score"].as_f64().unwrap();
    assert_eq!(score, 68.33);
    assert!(
        (score + lost - 100.0).abs() < 0.01,
        "score {score} + lost {lost}"
    );
}

#[test]
fn inspect_fails_on_an_unreadable_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("catalog.json");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body>Cổng dữ liệu</body></html>",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dtindex"))
        .arg("inspect")
        .arg(&page)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("T1.catalog-invalid") && text.contains("HTML page"),
        "{text}"
    );
}

#[tokio::test]
async fn the_other_formats_read_from_real_files() {
    // (file, format read as, datasets, first title), each read by hand from the file.
    let cases = [
        (
            "ckan/uk-datagovuk_package_search.json",
            "CKAN Action API",
            4,
            "Pollinator and pollination service data from the National Pollinator and Pollination Monitoring Framework pilot study from 13 UK crop field sites 2015",
        ),
        (
            "csv/pod-v1.1_example_catalog-sample.csv",
            "CSV",
            3,
            "U.S. Widget Manufacturing Statistics",
        ),
        (
            "csv/argentina-minjus_catalogo-justicia.xlsx",
            "XLSX",
            18,
            "Base de datos legislativos Infoleg",
        ),
        (
            "dcat/semic-dcat-ap-3.0-hvd_example_ms_catalogue.ttl",
            "DCAT Turtle",
            1,
            "The population of bees",
        ),
        (
            "dcat/semic-dcat-ap-3.0-hvd_example_ms_catalogue.jsonld",
            "DCAT JSON-LD",
            1,
            "The population of bees",
        ),
    ];
    for (file, format, datasets, title) in cases {
        let (obs, all) = read(file).await;
        assert_eq!(obs.outcome, CatalogOutcome::Parsed, "{file}");
        assert_eq!(obs.format.as_deref(), Some(format), "{file}");
        assert_eq!(obs.datasets, datasets, "{file}");
        assert_eq!(all[0].title.as_deref(), Some(title), "{file}");
    }
}

#[tokio::test]
async fn the_dc_inventory_reads_all_its_rows() {
    let (obs, all) = read("csv/us-dc_enterprise-dataset-inventory_2018-03-11.csv").await;
    assert_eq!(obs.outcome, CatalogOutcome::Parsed);
    assert_eq!(obs.datasets, 1640);
    assert_eq!(all[0].identifier.as_deref(), Some("4570"));
    assert_eq!(all[0].issued.as_deref(), Some("2018-03-11"));
}

#[tokio::test]
async fn a_ckan_package_show_and_a_name_list() {
    let (obs, all) = read("ckan/uk-datagovuk_package_show.json").await;
    assert_eq!((obs.outcome, obs.datasets), (CatalogOutcome::Parsed, 1));
    assert!(all[0].identifier.is_some());
    let (obs, _) = read("ckan/uk-datagovuk_organization_list.json").await;
    match obs.outcome {
        CatalogOutcome::ParseFailed(m) => assert!(m.contains("list of names"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// Every fixture, whatever its format and even when it cannot be read as a catalog, is
/// scored without error, and its findings explain its index exactly.
#[tokio::test]
async fn every_fixture_scores_and_its_findings_add_up() {
    let method = dtindex::score::Method::builtin();
    let mut scored = 0;
    for dir in ["datajson", "ckan", "csv", "dcat"] {
        for entry in std::fs::read_dir(fixture(dir)).unwrap() {
            let path = entry.unwrap().path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !["json", "jsonld", "ttl", "csv", "xlsx"].contains(&ext) {
                continue;
            }
            let (catalog, _) =
                harvest::read_file(&path, CatalogFormat::Auto, DatasetSink::default())
                    .await
                    .unwrap();
            let obs = dtindex::observation::AgencyObservation {
                code: "x".into(),
                kind: dtindex::registry::AgencyKind::Ministry,
                name: path.display().to_string(),
                catalog,
                services: vec![],
                declaration: Default::default(),
                links: None,
            };
            let today = dtindex::score::today();
            let s = dtindex::score::assess(&obs, &method, today);
            let lost: f64 = s.findings.iter().map(|f| f.points).sum();
            assert!((0.0..=1000.0).contains(&s.index), "{}", path.display());
            assert!(
                (s.index + lost - 1000.0).abs() < 1e-6,
                "{}: {} + {lost}",
                path.display(),
                s.index
            );
            for d in dtindex::score::Dimension::ALL {
                let v = s.dimension(d).unwrap();
                assert!((0.0..=100.0).contains(&v), "{} {d:?} {v}", path.display());
            }
            scored += 1;
        }
    }
    assert!(scored >= 15, "{scored} fixtures");
}
