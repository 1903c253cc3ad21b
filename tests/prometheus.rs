//! The operators' surface against the real tools: the alert rules pass promtool's checks
//! and unit tests, and a real Prometheus scraping the demo answers every dashboard panel's
//! query and every alert expression without an error and with data.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Proc, eventually, get_json, start};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn alert_rules_check_and_pass_their_unit_tests() {
    let Some(mut check) = common::tool("promtool", "prometheus") else {
        return;
    };
    let out = check
        .args(["check", "rules"])
        .arg(root().join("alerts/dtindex.rules.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = Command::new("promtool")
        .args(["test", "rules"])
        .arg(root().join("alerts/dtindex.test.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every `expr` in a dashboard, with its panel title.
fn dashboard_queries() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join("dashboards")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for panel in doc["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                let title = format!(
                    "{} / {}",
                    path.file_name().unwrap().to_string_lossy(),
                    panel["title"]
                );
                out.push((title, target["expr"].as_str().unwrap().to_string()));
            }
        }
    }
    out
}

/// Every alert expression, with its name.
fn alert_expressions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("alerts/dtindex.rules.yml")).unwrap();
    let mut out = Vec::new();
    let mut name = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(n) = line.strip_prefix("- alert: ") {
            name = n.to_string();
        } else if let Some(e) = line.strip_prefix("expr: ") {
            out.push((name.clone(), e.to_string()));
        }
    }
    out
}

fn metric_names(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("dtindex_"))
        .map(str::to_string)
        .collect()
}

async fn query(prometheus: &str, expr: &str) -> Result<Vec<Value>, String> {
    let url =
        reqwest::Url::parse_with_params(&format!("{prometheus}/api/v1/query"), &[("query", expr)])
            .unwrap();
    let text = reqwest::get(url)
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    let body: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
    if body["status"] != "success" {
        return Err(format!("{}: {}", body["errorType"], body["error"]));
    }
    Ok(body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_prometheus(dir: &Path, target: &str) -> Option<(Proc, String)> {
    let mut prometheus = common::tool("prometheus", "prometheus")?;
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: dtindex\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let child = prometheus
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Some((Proc(child), format!("http://127.0.0.1:{port}")))
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_answers_every_dashboard_panel_and_alert() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_demo, base) = start(&[
        "demo",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    eventually("the first cycle", || async {
        let (_, body) = get_json(&format!("{base}/api/v1/rankings")).await;
        body["cycle"]["id"].as_i64()
    })
    .await;
    let target = base.trim_start_matches("http://").to_string();
    let Some((_prometheus, prom)) = start_prometheus(dir.path(), &target) else {
        return;
    };

    // An agency with probe latencies and checked links, so the agency dashboard has
    // something to show.
    let agency: String = eventually("a scrape with probe latencies and links", || async {
        let found = query(
            &prom,
            "dtindex_probe_latency_seconds_count and on (agency) dtindex_agency_links{class=\"ok\"}",
        )
            .await
            .ok()?;
        found.first()?["metric"]["agency"]
            .as_str()
            .map(str::to_string)
    })
    .await;

    // Rates need two samples of each counter: poll until every panel has data.
    let queries: Vec<(String, String)> = dashboard_queries()
        .into_iter()
        .map(|(title, expr)| (title, expr.replace("$agency", &agency)))
        .collect();
    assert!(queries.len() >= 20, "{} dashboard queries", queries.len());
    let mut missing = Vec::new();
    for (title, expr) in &queries {
        let answered = eventually(&format!("{title}: {expr}"), || async {
            match query(&prom, expr).await {
                Ok(result) if !result.is_empty() => Some(Ok(())),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            }
        })
        .await;
        if let Err(e) = answered {
            missing.push(format!("{title}: {expr}: {e}"));
        }
    }
    assert!(
        missing.is_empty(),
        "panels failing:\n{}",
        missing.join("\n")
    );

    // Alerts: the expression must evaluate (an empty result just means "not firing"), and
    // each series it reads must exist.
    for (name, expr) in alert_expressions() {
        query(&prom, &expr)
            .await
            .unwrap_or_else(|e| panic!("{name}: {expr}: {e}"));
        for metric in metric_names(&expr) {
            let series = query(&prom, &metric).await.unwrap();
            assert!(
                !series.is_empty(),
                "{name} reads {metric}, which has no data"
            );
        }
    }
}
