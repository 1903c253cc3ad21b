//! The public answers are built once per finished cycle and served from memory until the
//! next one (`src/http/answers.rs`): a daemon serving a stored history is asked the same
//! things again and again, and a cycle is finished behind its back, as another daemon
//! sharing the database would.

use serde_json::Value;

mod common;

use common::{eventually, get_json};

/// `dtindex_http_answers_total` for one route and way of serving.
async fn answers(base: &str, route: &str, how: &str) -> u64 {
    series(
        base,
        &format!("dtindex_http_answers_total{{how=\"{how}\",route=\"{route}\"}}"),
    )
    .await
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

/// One series of a `/metrics` text, 0 when absent.
async fn series(base: &str, name_and_labels: &str) -> u64 {
    let text = common::get_text(&format!("{base}/metrics")).await;
    let prefix = format!("{name_and_labels} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// The HTTP metrics are counted from children each worker thread keeps: every request is
/// still counted once, under its own route, method and status, whichever thread served it.
#[tokio::test(flavor = "multi_thread")]
async fn every_request_is_counted_once_by_route_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let (_daemon, base, _config) = common::history_daemon(dir.path(), 5, 2, None).await;
    let requests = |route: &str, status: u16| {
        format!(
            "dtindex_http_requests_total{{method=\"GET\",route=\"{route}\",status=\"{status}\"}}"
        )
    };
    let asks = (0..40).map(|i| {
        let base = base.clone();
        async move {
            let url = if i % 4 == 0 {
                format!("{base}/api/v1/agencies/nowhere")
            } else {
                format!("{base}/api/v1/rankings")
            };
            get_json(&url).await.0
        }
    });
    let statuses = futures_util::future::join_all(asks).await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 30);
    assert_eq!(series(&base, &requests("/api/v1/rankings", 200)).await, 30);
    assert_eq!(
        series(&base, &requests("/api/v1/agencies/{code}", 404)).await,
        10
    );
    assert_eq!(
        series(
            &base,
            "dtindex_http_request_duration_seconds_count{route=\"/api/v1/rankings\"}"
        )
        .await,
        30
    );
    let served: u64 = futures_util::future::join_all(
        ["built", "cached", "shared"].map(|how| answers(&base, "/api/v1/rankings", how)),
    )
    .await
    .iter()
    .sum();
    assert_eq!(served, 30);
}
