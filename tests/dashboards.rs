//! Every dashboard query names only metrics that dtindex exports.

use std::path::Path;

/// The exposition with every labelled family holding one series (an empty vector is
/// not rendered at all).
fn exported() -> String {
    use dtindex::metrics::{AgencySnapshot, ComponentSnapshot, Metrics};
    let m = Metrics::new().unwrap();
    let component = |id: &str, verdict: Option<&str>| ComponentSnapshot {
        id: id.into(),
        verdict: verdict.map(str::to_string),
        points: 1.0,
        max_points: 1.0,
    };
    m.publish(
        &[AgencySnapshot {
            code: "01".into(),
            kind: "province".into(),
            index: 500.0,
            datasets: 1,
            components: vec![
                component("T1", Some("met")),
                component("T1.catalog", Some("met")),
                component("Q.sufficient", None),
                component("Q.correct", None),
                component("Q.clean", None),
                component("Q.alive", None),
            ],
            findings: vec![],
            catalog_failures_in_a_row: 0,
            services_down: 0,
            tls_expires_at: Some(1),
            links: vec![(dtindex::links::LinkClass::Ok, 3)],
            links_broken: Some(0),
            uptime: dtindex::store::Uptime {
                day: Some(1.0),
                week: Some(1.0),
                month: Some(1.0),
            },
        }],
        &dtindex::score::Method::builtin(),
    );
    for v in [&m.fetches, &m.fetch_errors, &m.probes, &m.probe_failures] {
        v.with_label_values(&["01", "x"]).inc();
    }
    for h in [&m.fetch_duration, &m.probe_latency, &m.http_duration] {
        h.with_label_values(&["01"]).observe(1.0);
    }
    m.probe_phase
        .with_label_values(&["01", "connect"])
        .observe(0.01);
    m.link_checks.with_label_values(&["checked"]).inc();
    m.http_requests
        .with_label_values(&["/metrics", "GET", "200"])
        .inc();
    m.render()
}

fn expressions(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(e)) = map.get("expr") {
                out.push(e.clone());
            }
            map.values().for_each(|v| expressions(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| expressions(v, out)),
        _ => {}
    }
}

#[test]
fn dashboards_query_only_exported_metrics() {
    let metrics = exported();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut exprs = Vec::new();
        expressions(&doc, &mut exprs);
        assert!(!exprs.is_empty(), "{} has no query", path.display());
        for expr in exprs {
            for name in expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("dtindex_"))
            {
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(name);
                assert!(
                    metrics.contains(&format!("# TYPE {family} ")),
                    "{}: `{name}` is not exported",
                    path.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} metric references found");
}
