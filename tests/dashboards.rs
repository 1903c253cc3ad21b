//! Every dashboard query names only metrics that dtindex exports.

use std::path::Path;

/// The exposition with every labelled family holding one series (an empty vector is
/// not rendered at all).
fn exported() -> String {
    let m = dtindex::metrics::Metrics::new().unwrap();
    m.agency_index
        .with_label_values(&["01", "province"])
        .set(1.0);
    m.fetch_errors.with_label_values(&["01", "timeout"]).inc();
    m.probe_failures.with_label_values(&["01", "status"]).inc();
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
