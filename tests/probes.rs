//! Sharing-service probes against a real local server: what "up" means is the service's
//! own check (expected status, expected text, timeout), not merely an answer.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use dtindex::config::CrawlSettings;
use dtindex::fetch::Fetcher;
use dtindex::observation::FailureClass;
use dtindex::probe;
use dtindex::registry::{ServiceCheck, ServiceEndpoint};
use url::Url;

async fn serve() -> SocketAddr {
    let router = Router::new()
        .route("/ok", get(|| async { r#"{"status":"ok"}"# }))
        .route("/degraded", get(|| async { r#"{"status":"degraded"}"# }))
        .route(
            "/created",
            get(|| async { (StatusCode::CREATED, r#"{"status":"ok"}"#) }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

fn service(addr: SocketAddr, path: &str, check: ServiceCheck) -> ServiceEndpoint {
    ServiceEndpoint {
        url: Url::parse(&format!("http://{addr}{path}")).unwrap(),
        platform: Some("LGSP".into()),
        api_description: None,
        check,
    }
}

#[tokio::test]
async fn a_service_is_up_only_as_its_check_says() {
    let addr = serve().await;
    let fetcher = Fetcher::new(&CrawlSettings::default()).unwrap();
    let body = |text: &str| ServiceCheck {
        expect_body: Some(text.into()),
        ..ServiceCheck::default()
    };

    // Without a check, any 2xx is up; the protocol is recorded.
    let p = probe::probe(
        &fetcher,
        &service(addr, "/created", ServiceCheck::default()),
    )
    .await;
    assert!(p.is_up(), "{p:?}");
    assert_eq!(p.http_status, Some(201));
    assert_eq!(p.http_version.as_deref(), Some("HTTP/1.1"));
    // Plain HTTP: timed phases, without a TLS one.
    let phases = p.phases.expect("the phases of a reachable service");
    assert_eq!(phases.tls_ms, None);
    assert_eq!(
        phases.named().iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        ["dns", "connect", "first_byte"]
    );

    // An expected status must be the status.
    let strict = ServiceCheck {
        expect_status: Some(200),
        ..ServiceCheck::default()
    };
    let p = probe::probe(&fetcher, &service(addr, "/created", strict)).await;
    let f = p.failure.expect("201 is not the 200 expected");
    assert_eq!(f.class, FailureClass::Status);
    assert!(f.message.contains("not the 200 expected"), "{}", f.message);

    // An expected text must be in the answer.
    let ok = probe::probe(&fetcher, &service(addr, "/ok", body(r#""status":"ok""#))).await;
    assert!(ok.is_up(), "{ok:?}");
    let degraded = probe::probe(
        &fetcher,
        &service(addr, "/degraded", body(r#""status":"ok""#)),
    )
    .await;
    let f = degraded.failure.expect("the text is missing");
    assert_eq!(f.class, FailureClass::Body);
    assert!(f.message.contains(r#""status":"ok""#), "{}", f.message);

    // The service's own timeout replaces the crawl's (60 s by default).
    let quick = ServiceCheck {
        timeout: Some(Duration::from_millis(300)),
        ..ServiceCheck::default()
    };
    let p = probe::probe(&fetcher, &service(addr, "/slow", quick)).await;
    assert_eq!(p.failure.map(|f| f.class), Some(FailureClass::Timeout));
    assert_eq!(p.http_version, None);
}

#[tokio::test]
async fn an_https_service_is_timed_through_its_handshake() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = dtindex::simulate::launch(&dtindex::registry::Registry::builtin(), 4, listener)
        .await
        .unwrap();
    let https = sim
        .registry
        .agencies
        .iter()
        .flat_map(|a| &a.services)
        .find(|s| s.url.scheme() == "https")
        .expect("the simulator serves some services over HTTPS")
        .clone();
    let trusting = Fetcher::new(&CrawlSettings {
        extra_roots_pem: vec![sim.ca_pem.clone()],
        ..CrawlSettings::default()
    })
    .unwrap();
    let p = probe::probe(&trusting, &https).await;
    let phases = p.phases.expect("timed");
    assert!(phases.tls_ms.is_some(), "{phases:?}");
    assert!(p.tls_expires_at.is_some());
    // Without the simulator's CA the handshake fails, and nothing is timed.
    let strict = Fetcher::new(&CrawlSettings::default()).unwrap();
    let p = probe::probe(&strict, &https).await;
    assert!(!p.is_up());
    assert_eq!(p.phases, None);
}

#[test]
fn service_checks_are_read_from_the_registry_with_positions_for_errors() {
    let good = r#"
[[agency]]
code = "01"
kind = "province"
name = "Hà Nội"
services = [{ url = "https://lgsp.example.vn/api", expect_status = 200, expect_body = "ok", timeout_ms = 1500 }]
"#;
    let reg = dtindex::registry::Registry::parse(std::path::Path::new("a.toml"), good).unwrap();
    let check = &reg.agencies[0].services[0].check;
    assert_eq!(check.expect_status, Some(200));
    assert_eq!(check.expect_body.as_deref(), Some("ok"));
    assert_eq!(check.timeout, Some(Duration::from_millis(1500)));

    let bad = good.replace("expect_status = 200", "expect_status = 42");
    let err = dtindex::registry::Registry::parse(std::path::Path::new("a.toml"), &bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("42 is not an HTTP status"), "{err}");
    assert!(err.contains("a.toml:6:"), "{err}");
}
