//! The OpenAPI document describes every endpoint, and the daemon keeps to it:
//! schemathesis (PyPI) generates requests from the document, valid and invalid, against a
//! daemon serving a seeded history, and fails on any 5xx or any answer that breaks the
//! documented status codes, content types or schemas.

use std::collections::BTreeSet;

mod common;

use common::get_json;

/// Every route of `http::router`: a route missing from the document fails here.
const ROUTES: [&str; 15] = [
    "/healthz",
    "/metrics",
    "/api/openapi.json",
    "/api/v1/rankings",
    "/api/v1/national",
    "/api/v1/agencies/{code}",
    "/api/v1/agencies/{code}/findings",
    "/api/v1/agencies/{code}/history",
    "/api/v1/agencies/{code}/links",
    "/api/v1/datasets",
    "/api/v1/catalog.jsonld",
    "/",
    "/agencies/{code}",
    "/agencies/{code}/findings.csv",
    "/datasets",
];

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_keeps_to_its_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let (_daemon, base, _) = common::history_daemon(dir.path(), 5, 2, None).await;
    check(&base).await;
}

/// Before any cycle, every answer is emptier: it must still keep to the document.
#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_without_history_keeps_to_its_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let (_daemon, base, _) = common::history_daemon(dir.path(), 5, 0, None).await;
    check(&base).await;
}

async fn check(base: &str) {
    let (status, doc) = get_json(&format!("{base}/api/openapi.json")).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(paths, ROUTES.into_iter().collect());

    let Some(mut st) = common::tool("schemathesis", "schemathesis (pip install schemathesis)")
    else {
        return;
    };
    let report = tempfile::tempdir().unwrap();
    let out = st
        .args([
            "--no-color",
            "run",
            &format!("{base}/api/openapi.json"),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--workers",
            "2",
            "--report-dir",
        ])
        .arg(report.path())
        // Its cache of crashes goes there too, not into the checkout.
        .current_dir(report.path())
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis found problems:\n{said}");
}
