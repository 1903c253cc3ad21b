//! The public answers are built once per finished cycle and served from memory until the
//! next one (`src/http/answers.rs`): a daemon serving a stored history is asked the same
//! things again and again, and a cycle is finished behind its back, as another daemon
//! sharing the database would.

use serde_json::Value;

mod common;

use common::{eventually, get_json};

/// `dtindex_http_answers_total` for one route and way of serving.
async fn answers(base: &str, route: &str, how: &str) -> u64 {
    let text = common::get_text(&format!("{base}/metrics")).await;
    let series = format!("dtindex_http_answers_total{{how=\"{how}\",route=\"{route}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_are_built_once_per_cycle_and_follow_a_cycle_finished_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let (_daemon, base, config) = common::history_daemon(dir.path(), 5, 2, None).await;
    let rankings = format!("{base}/api/v1/rankings");

    let (status, first) = get_json(&rankings).await;
    assert_eq!(status, 200);
    let cycle = first["cycle"]["id"].as_i64().unwrap();
    for _ in 0..5 {
        assert_eq!(get_json(&rankings).await, (200, first.clone()));
    }
    assert_eq!(answers(&base, "/api/v1/rankings", "built").await, 1);
    assert_eq!(answers(&base, "/api/v1/rankings", "cached").await, 5);
    // Another query is another answer.
    let (_, ministries) = get_json(&format!("{rankings}?kind=ministry")).await;
    assert_eq!(ministries["entries"].as_array().unwrap().len(), 17);
    assert_eq!(answers(&base, "/api/v1/rankings", "built").await, 2);

    // Errors are not kept: an unknown agency is looked up each time.
    for _ in 0..2 {
        let (status, _) = get_json(&format!("{base}/api/v1/agencies/nowhere")).await;
        assert_eq!(status, 404);
    }
    assert_eq!(answers(&base, "/api/v1/agencies/{code}", "built").await, 2);
    assert_eq!(answers(&base, "/api/v1/agencies/{code}", "cached").await, 0);
    // The metrics are about the moment, and never kept.
    assert_eq!(answers(&base, "/metrics", "built").await, 0);

    // A cycle finished by someone else: seen without any restart or signal.
    let written = common::add_history(
        &config,
        dtindex::simulate::history::HistorySpec {
            seed: 6,
            start: chrono::NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
            every_days: 7,
            cycles: 1,
            hostile_text: None,
        },
    )
    .await;
    assert!(written[0] > cycle);
    let fresh: Value = eventually("the new cycle in the rankings", || async {
        let (_, body) = get_json(&rankings).await;
        (body["cycle"]["id"].as_i64() == Some(written[0])).then_some(body)
    })
    .await;
    assert_ne!(fresh["entries"], first["entries"]);
    assert!(answers(&base, "/api/v1/rankings", "built").await >= 3);
}
