//! End to end, as an operator runs it: the `dtindex` binary serves a simulated federation,
//! a second `dtindex` daemon crawls it on ephemeral ports, and the API and metrics are read
//! over HTTP. Then the daemon is stopped with SIGTERM and started again on the same
//! database, and the history must still be there.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

mod common;

use common::{BIN, eventually, get_json, start};

fn write_settings(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("dtindex.toml");
    std::fs::write(
        &path,
        r#"registry = "agencies.toml"
[server]
listen = "127.0.0.1:0"
[state]
dir = "state"
[schedule]
# Never during the test: only the cycle at start runs.
cron = "0 0 0 1 1 *"
run_at_start = true
[crawl]
total_timeout_secs = 10
# The simulator's HTTPS services are signed by its own CA, written beside the registry.
extra_ca_file = "simulator-ca.pem"
[links]
# The simulator's data files are on loopback, under a name of their own.
allow_loopback = true
# The simulator's failing files fail for good: broken from the first cycle, so that the
# two cycles of this test score alike.
broken_after_cycles = 1
[links.hosts]
"files.federation.dtindex" = "127.0.0.1"
"#,
    )
    .unwrap();
    path
}

async fn rankings_when_ready(base: &str, min_cycle: i64) -> Value {
    eventually("a finished cycle", || async {
        let (status, body) = get_json(&format!("{base}/api/v1/rankings")).await;
        (status == 200
            && body["cycle"]["id"]
                .as_i64()
                .is_some_and(|id| id >= min_cycle))
        .then_some(body)
    })
    .await
}

/// `promtool check metrics` (Debian package `prometheus`) must accept the exposition
/// without a single lint line.
fn promtool_accepts(metrics: &str) {
    use std::io::Write as _;
    let Some(mut promtool) = common::tool("promtool", "prometheus") else {
        return;
    };
    let mut child = promtool
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    common::assert_silent_success(&out, "promtool check metrics");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_crawls_the_simulated_federation_and_keeps_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, sim_base) = common::start_simulator(dir.path(), 11).await;
    let registry = dir.path().join("agencies.toml");
    let config = write_settings(dir.path());

    let check = Command::new(BIN)
        .args(["check-config", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        String::from_utf8_lossy(&check.stdout)
            .contains("51 agencies (17 ministries, 34 provinces)")
    );

    let (mut daemon, base) = start(&["serve", "--config", config.to_str().unwrap()]);
    let (status, health) = get_json(&format!("{base}/healthz")).await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));

    // Rankings: all 51 agencies, ranks consistent with the indices.
    let rankings = rankings_when_ready(&base, 1).await;
    let first_cycle = rankings["cycle"]["id"].as_i64().unwrap();
    let entries = rankings["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 51);
    assert!(
        entries.iter().all(|e| e["movement"].is_null()),
        "no previous cycle yet"
    );
    for pair in entries.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let (ia, ib) = (a["index"].as_f64().unwrap(), b["index"].as_f64().unwrap());
        assert!(ia >= ib, "rankings are ordered by index");
        let (ra, rb) = (a["rank"].as_i64().unwrap(), b["rank"].as_i64().unwrap());
        if ia == ib {
            assert_eq!(ra, rb, "equal indices share a rank");
        } else {
            assert!(rb > ra);
        }
        for key in ["code", "name", "kind"] {
            assert!(a[key].is_string(), "{key} in {a}");
        }
    }
    let (_, provinces) = get_json(&format!("{base}/api/v1/rankings?kind=province")).await;
    assert_eq!(provinces["entries"].as_array().unwrap().len(), 34);

    // The national catalog holds what every parsed catalog listed, whatever its format.
    let (_, datasets) = get_json(&format!("{base}/api/v1/datasets?per_page=1")).await;
    let parsed: i64 = entries
        .iter()
        .map(|e| e["datasets"].as_i64().unwrap())
        .sum();
    let stored = datasets["total"].as_i64().unwrap();
    assert!(stored > 0 && stored <= parsed, "{stored} of {parsed}");

    // What the simulator planned for each agency shows in its score and findings.
    let (_, plan) = get_json(&format!("{sim_base}/")).await;
    let mut broken_links = 0;
    for sim in plan["agencies"].as_array().unwrap() {
        let code = sim["code"].as_str().unwrap();
        let (status, findings) = get_json(&format!("{base}/api/v1/agencies/{code}/findings")).await;
        assert_eq!(status, 200);
        let rules: Vec<&str> = findings
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap())
            .collect();
        for f in findings.as_array().unwrap() {
            for key in ["rule", "severity", "message", "fix"] {
                assert!(
                    f[key].as_str().is_some_and(|s| !s.is_empty()),
                    "{key} in {f}"
                );
            }
        }
        let measured = findings.as_array().unwrap().iter().any(|f| {
            f["rule"] == "Q.clean.broken-links"
                && f["message"]
                    .as_str()
                    .unwrap()
                    .contains("checked links are broken")
        });
        if measured {
            broken_links += 1;
            let (status, links) = get_json(&format!("{base}/api/v1/agencies/{code}/links")).await;
            assert_eq!(status, 200);
            assert_eq!(links[0]["broken"], true, "broken links first: {links}");
        }
        let (_, detail) = get_json(&format!("{base}/api/v1/agencies/{code}")).await;
        let index = detail["index"].as_f64().unwrap();
        let lost: f64 = findings
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["points"].as_f64().unwrap())
            .sum();
        assert!(
            (index + lost - 1000.0).abs() < 0.1,
            "{code}: findings explain the score"
        );
        match sim["profile"].as_str().unwrap() {
            "silent" => {
                assert!(
                    rules.contains(&"T1.no-catalog") && rules.contains(&"T4.no-service"),
                    "{code}: {rules:?}"
                );
                assert_eq!(index, 0.0);
            }
            "broken" => {
                let expected = match sim["breakage"].as_str().unwrap() {
                    "server_error" => "T1.catalog-unreachable",
                    "empty_catalog" => "T1.catalog-empty",
                    _ => "T1.catalog-invalid",
                };
                assert!(rules.contains(&expected), "{code}: {rules:?}");
                assert!(rules.contains(&"T4.service-down"), "{code}: {rules:?}");
            }
            "exemplary" => {
                assert!(rules.is_empty(), "{code}: {rules:?}");
                assert_eq!(index, 1000.0);
                assert_eq!(detail["band"], "excellent");
                assert_eq!(detail["targets"][0]["verdict"], "met");
                assert_eq!(detail["targets"].as_array().unwrap().len(), 4);
                assert_eq!(detail["targets"][2]["parts"][1]["id"], "T3.platform");
                for d in ["sufficient", "correct", "clean", "alive"] {
                    assert_eq!(detail["dimensions"][d]["score"], 100.0, "{code} {d}");
                }
                // Its services answer as their checks ask, every time.
                assert_eq!(detail["uptime"]["agency"]["day"], 1.0, "{code}");
                let services = detail["uptime"]["services"].as_object().unwrap();
                assert_eq!(services.len(), 2, "{code}");
                // The simulator's HTTPS services negotiate HTTP/2 (ALPN); plain ones 1.1.
                for svc in detail["services"].as_array().unwrap() {
                    let tls = svc["url"].as_str().unwrap().starts_with("https:");
                    let expected = if tls { "HTTP/2.0" } else { "HTTP/1.1" };
                    assert_eq!(svc["http_version"], expected, "{svc}");
                }
            }
            "average" => {
                // Claims an analytics plan without a URL: half of T3.plan, with the reason.
                let t3 = &detail["targets"][2];
                assert_eq!(t3["parts"][0]["points"], 30.0, "{code}: {t3}");
                let reasons: Vec<&str> = t3["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["rule"].as_str().unwrap())
                    .collect();
                assert!(
                    reasons.contains(&"T3.plan-unverified"),
                    "{code}: {reasons:?}"
                );
            }
            _ => {}
        }
    }

    assert!(broken_links > 0, "the simulator's missing files are found");

    // National attainment: every target and part, overall and per kind, against its goal.
    let (status, national) = get_json(&format!("{base}/api/v1/national")).await;
    assert_eq!(status, 200);
    let rows = national["attainment"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        3 * 12,
        "4 targets and 8 parts × all, ministry, province"
    );
    let t3_plan = rows
        .iter()
        .find(|r| r["id"] == "T3.plan" && r["kind"] == "all")
        .unwrap();
    assert_eq!(t3_plan["goal"], 0.5);
    assert_eq!(t3_plan["goal_is_over"], true);
    assert_eq!(t3_plan["agencies"], 51);
    let exemplary = entries.iter().filter(|r| r["index"] == 1000.0).count() as u64;
    assert!(t3_plan["met"].as_u64().unwrap() >= exemplary);
    // One cycle so far: no trend yet, unless the goal is already met.
    assert!(
        ["not_enough_history", "met"].contains(&t3_plan["forecast"]["status"].as_str().unwrap()),
        "{t3_plan}"
    );

    let (status, err) = get_json(&format!("{base}/api/v1/agencies/NOPE")).await;
    assert_eq!(status, 404);
    assert!(err["error"].as_str().unwrap().contains("NOPE"));
    let (status, _) = get_json(&format!("{base}/api/v1/agencies/NOPE/history")).await;
    assert_eq!(status, 404);

    let metrics = common::get_text(&format!("{base}/metrics")).await;
    assert!(
        metrics.contains("dtindex_agency_index{agency=\"01\",kind=\"province\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("dtindex_cycles_total{outcome=\"finished\"} 1"));
    assert!(metrics.contains("dtindex_cycle_duration_seconds_count 1"));
    assert!(metrics.contains("# TYPE dtindex_fetch_errors_total counter"));
    assert!(metrics.contains("dtindex_agency_service_uptime_ratio{agency="));
    assert!(metrics.contains("dtindex_agency_links{agency="));
    assert_eq!(metrics.matches("dtindex_agency_index{").count(), 51);
    promtool_accepts(&metrics);

    // SIGTERM: a clean exit.
    let status = common::sigterm(&mut daemon);
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}"
    );
    drop(daemon);

    // Restart on the same database: the first cycle is still there, and a second is added.
    let (mut daemon, base) = start(&["serve", "--config", config.to_str().unwrap()]);
    let second = rankings_when_ready(&base, first_cycle + 1).await;
    // Ranked twice on the same federation: nobody moved, and bands follow the index.
    for e in second["entries"].as_array().unwrap() {
        assert_eq!(e["movement"], 0, "{e}");
        let band = match e["index"].as_f64().unwrap() {
            i if i >= 850.0 => "excellent",
            i if i >= 700.0 => "good",
            i if i >= 500.0 => "sufficient",
            _ => "poor",
        };
        assert_eq!(e["band"], band, "{e}");
    }
    let (status, history) = get_json(&format!("{base}/api/v1/agencies/01/history")).await;
    assert_eq!(status, 200);
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0]["cycle"]["id"].as_i64(), Some(first_cycle));
    assert!(history[0]["cycle"]["id"].as_i64() < history[1]["cycle"]["id"].as_i64());
    // The same seed and federation give the same index both times.
    assert_eq!(history[0]["index"], history[1]["index"]);
    // SIGHUP: a registry with errors is refused and the running one kept; a valid one
    // replaces it without a restart.
    let original = std::fs::read_to_string(&registry).unwrap();
    std::fs::write(
        &registry,
        original.replacen("kind = \"ministry\"", "kind = \"bureau\"", 1),
    )
    .unwrap();
    common::signal(&daemon, "-HUP");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (status, _) = get_json(&format!("{base}/api/v1/agencies/01")).await;
    assert_eq!(status, 200, "the daemon keeps serving after a bad reload");
    let without_hanoi: String = original
        .split("[[agency]]")
        .filter(|block| !block.contains("code = \"01\""))
        .collect::<Vec<_>>()
        .join("[[agency]]");
    std::fs::write(&registry, without_hanoi).unwrap();
    common::signal(&daemon, "-HUP");
    eventually("the reloaded registry", || async {
        let (status, _) = get_json(&format!("{base}/api/v1/agencies/01")).await;
        (status == 404).then_some(())
    })
    .await;
    let (status, _) = get_json(&format!("{base}/api/v1/agencies/79")).await;
    assert_eq!(status, 200);
    assert!(common::sigterm(&mut daemon).success());
}
