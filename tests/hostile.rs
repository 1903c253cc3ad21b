//! Hostile endpoints on the spine's path: each becomes a finding for its agency, the cycle
//! completes for everyone, and a well-behaved agency scores exactly as it would alone.
//!
//! Every endpoint is a real HTTP server on loopback.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use dtindex::config::Settings;
use dtindex::cycle::Crawler;
use dtindex::daemon;
use dtindex::observation::{CatalogOutcome, FailureClass};
use dtindex::registry::{
    Agency, AgencyKind, CatalogEndpoint, CatalogFormat, Registry, ServiceEndpoint,
};
use dtindex::simulate;
use dtindex::store;
use tokio_util::sync::CancellationToken;
use url::Url;

const CAP: u64 = 64 * 1024;

const GOOD: &str = r#"{"dataset":[{"identifier":"a","title":"Dân cư","description":"d","keyword":["k"],
 "theme":["t"],"publisher":{"name":"p"},"contactPoint":{"fn":"c"},"modified":"2026-01-01",
 "license":"https://creativecommons.org/licenses/by/4.0/","accrualPeriodicity":"R/P1M",
 "distribution":[{"downloadURL":"https://x/a.csv"}]}]}"#;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn json(body: impl Into<Body>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body.into()).into_response()
}

fn hostile_server() -> Router {
    Router::new()
        .route("/good/data.json", get(|| async { json(GOOD) }))
        .route("/ok", get(|| async { "ok" }))
        .route(
            "/html/data.json",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html")],
                    "<html><body>Cổng dữ liệu</body></html>",
                )
            }),
        )
        .route(
            "/not-json/data.json",
            get(|| async { json("dataset: [title: x]") }),
        )
        .route(
            "/truncated/data.json",
            get(|| async { json(&GOOD[..GOOD.len() / 2]) }),
        )
        .route(
            "/error/data.json",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/error/service",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/huge/data.json",
            get(|| async {
                // No Content-Length: the cap must hold while streaming.
                let chunks =
                    futures_util::stream::iter((0..64).map(|_| {
                        Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 16 * 1024]))
                    }));
                json(Body::from_stream(chunks))
            }),
        )
        .route(
            "/bomb/data.json",
            get(|| async {
                // 8 MB of spaces compress to about 8 KB: far under the cap on the wire,
                // far over it once decompressed.
                let bomb = gzip(&vec![b' '; 8 * 1024 * 1024]);
                assert!((bomb.len() as u64) < CAP);
                (
                    [
                        (header::CONTENT_TYPE, "application/json"),
                        (header::CONTENT_ENCODING, "gzip"),
                    ],
                    bomb,
                )
            }),
        )
        .route(
            "/trickle/data.json",
            get(|| async {
                let bytes = futures_util::stream::unfold(0u32, |n| async move {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    Some((
                        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b" ")),
                        n + 1,
                    ))
                });
                json(Body::from_stream(bytes))
            }),
        )
        .route(
            "/loop/data.json",
            get(|| async { Redirect::temporary("/loop/again") }),
        )
        .route(
            "/loop/again",
            get(|| async { Redirect::temporary("/loop/data.json") }),
        )
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

fn agency(code: &str, catalog: Option<Url>, services: Vec<Url>) -> Agency {
    Agency {
        code: code.into(),
        kind: AgencyKind::Province,
        name: format!("Tỉnh {code}"),
        name_ascii: String::new(),
        predecessors: vec![],
        catalog: catalog.map(|url| CatalogEndpoint {
            url,
            format: CatalogFormat::Auto,
            organization: None,
        }),
        services: services
            .into_iter()
            .map(|url| ServiceEndpoint {
                url,
                platform: None,
                api_description: None,
                check: Default::default(),
            })
            .collect(),
        declaration_url: None,
    }
}

fn settings(dir: &std::path::Path) -> Settings {
    let mut s = Settings::with_state_dir(dir.to_path_buf());
    s.crawl.max_body_bytes = CAP;
    s.crawl.connect_timeout = Duration::from_secs(2);
    s.crawl.read_timeout = Duration::from_secs(2);
    s.crawl.total_timeout = Duration::from_secs(3);
    s.crawl.agency_deadline = Duration::from_secs(20);
    s
}

async fn crawler(settings: &Settings, agencies: Vec<Agency>) -> Crawler {
    let method = dtindex::score::Method::builtin();
    let (store, metrics) = daemon::open_store(settings, &method).await.unwrap();
    let live = dtindex::config::Live::new(Registry { agencies }, method);
    daemon::crawler(settings, live, store, metrics).unwrap()
}

#[tokio::test]
async fn each_hostile_endpoint_is_a_finding_and_the_cycle_completes() {
    let addr = serve(hostile_server()).await;
    let url = |path: &str| Url::parse(&format!("http://{addr}{path}")).unwrap();
    let refused = dtindex::simulate::refused_address().unwrap();
    let refused_url = Url::parse(&format!("http://{refused}/service")).unwrap();

    // (code, catalog path, expected catalog outcome check, expected T1 rule)
    let cases: Vec<(&str, &str, &str)> = vec![
        ("html", "/html/data.json", "T1.catalog-invalid"),
        ("notjson", "/not-json/data.json", "T1.catalog-invalid"),
        ("truncated", "/truncated/data.json", "T1.catalog-invalid"),
        ("error", "/error/data.json", "T1.catalog-unreachable"),
        ("huge", "/huge/data.json", "T1.catalog-unreachable"),
        ("bomb", "/bomb/data.json", "T1.catalog-unreachable"),
        ("trickle", "/trickle/data.json", "T1.catalog-unreachable"),
        ("loop", "/loop/data.json", "T1.catalog-unreachable"),
    ];
    let mut agencies: Vec<Agency> = cases
        .iter()
        .map(|(code, path, _)| agency(code, Some(url(path)), vec![url("/ok")]))
        .collect();
    agencies.push(agency(
        "refused",
        Some(url("/good/data.json")),
        vec![refused_url, url("/error/service")],
    ));
    agencies.push(agency(
        "good",
        Some(url("/good/data.json")),
        vec![url("/ok")],
    ));

    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path());
    let crawler = crawler(&settings, agencies.clone()).await;
    let (observations, _) = crawler
        .observe_all(&crawler.live.current().registry, &Default::default(), 1)
        .await;
    let by_code = |code: &str| observations.iter().find(|o| o.code == code).unwrap();

    let class = |code: &str| match &by_code(code).catalog.outcome {
        CatalogOutcome::FetchFailed(f) => Some(f.class),
        _ => None,
    };
    assert_eq!(class("error"), Some(FailureClass::Status));
    assert_eq!(class("huge"), Some(FailureClass::TooLarge));
    assert_eq!(class("bomb"), Some(FailureClass::TooLarge));
    assert_eq!(class("trickle"), Some(FailureClass::Timeout));
    assert_eq!(class("loop"), Some(FailureClass::Redirect));
    let parse_error = |code: &str| match &by_code(code).catalog.outcome {
        CatalogOutcome::ParseFailed(m) => m.clone(),
        other => panic!("{code}: expected a parse failure, got {other:?}"),
    };
    assert!(parse_error("html").contains("text/html"));
    assert!(parse_error("notjson").contains("not valid JSON"));
    assert!(parse_error("truncated").contains("ends before"));
    let probes = &by_code("refused").services;
    assert_eq!(
        probes[0].failure.as_ref().map(|f| f.class),
        Some(FailureClass::Connect)
    );
    assert_eq!(
        probes[1].failure.as_ref().map(|f| f.class),
        Some(FailureClass::Status)
    );
    assert_eq!(probes[1].http_status, Some(500));

    // The whole cycle, through the store: every agency has its finding.
    let report = crawler.run_cycle(&CancellationToken::new()).await.unwrap();
    assert_eq!(report.agencies, agencies.len());
    for (code, _, rule) in &cases {
        let code = code.to_string();
        let id = report.cycle_id;
        let found = crawler
            .store
            .run(move |c| store::agency_findings(c, id, &code))
            .await
            .unwrap();
        assert!(
            found.iter().any(|f| f.rule == *rule),
            "{rule} missing in {found:#?}"
        );
    }
    let refused_findings: Vec<_> = report
        .ranked
        .iter()
        .find(|r| r.score.code == "refused")
        .unwrap()
        .score
        .findings
        .iter()
        .filter(|f| f.rule == "T4.service-down")
        .collect();
    assert_eq!(refused_findings.len(), 2);

    // The well-behaved agency scores exactly what it scores on its own.
    let alone_dir = tempfile::tempdir().unwrap();
    let alone = crawler_alone(alone_dir.path(), &agencies).await;
    let good_with_hostile = report
        .ranked
        .iter()
        .find(|r| r.score.code == "good")
        .unwrap();
    // Its catalog and services are fine (it publishes no declaration, so T2/T3 are lost).
    let rules: Vec<&str> = good_with_hostile
        .score
        .findings
        .iter()
        .map(|f| f.rule.as_str())
        .collect();
    assert!(
        !rules
            .iter()
            .any(|r| r.starts_with("T1.catalog") || *r == "T4.service-down"),
        "{rules:?}"
    );
    assert_eq!(
        good_with_hostile
            .score
            .component("T1.catalog")
            .unwrap()
            .verdict,
        Some(dtindex::score::Verdict::Met)
    );
    assert_eq!(good_with_hostile.score, alone);
}

async fn crawler_alone(dir: &std::path::Path, agencies: &[Agency]) -> dtindex::score::AgencyScore {
    let good = agencies.iter().find(|a| a.code == "good").unwrap().clone();
    let crawler = crawler(&settings(dir), vec![good]).await;
    let report = crawler.run_cycle(&CancellationToken::new()).await.unwrap();
    report.ranked[0].score.clone()
}

#[tokio::test]
async fn an_agency_over_its_deadline_is_cut_off_without_stalling_the_others() {
    let addr = serve(hostile_server()).await;
    let url = |path: &str| Url::parse(&format!("http://{addr}{path}")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(dir.path());
    settings.crawl.total_timeout = Duration::from_secs(600);
    settings.crawl.agency_deadline = Duration::from_secs(2);
    let crawler = crawler(
        &settings,
        vec![
            agency("slow", Some(url("/trickle/data.json")), vec![url("/ok")]),
            agency("good", Some(url("/good/data.json")), vec![url("/ok")]),
        ],
    )
    .await;
    let (observations, _) = crawler
        .observe_all(&crawler.live.current().registry, &Default::default(), 1)
        .await;
    match &observations[0].catalog.outcome {
        CatalogOutcome::FetchFailed(f) => assert_eq!(f.class, FailureClass::Deadline),
        other => panic!("expected the deadline, got {other:?}"),
    }
    assert_eq!(
        observations[0].services[0]
            .failure
            .as_ref()
            .map(|f| f.class),
        Some(FailureClass::Deadline)
    );
    assert_eq!(observations[1].catalog.outcome, CatalogOutcome::Parsed);
    assert!(observations[1].services[0].is_up());
}

/// The settings of a crawl of the hostile federation: short timeouts (the hostile servers
/// that never answer cost seconds, not minutes), a cap under the simulator's oversized
/// bodies, and a link broken at its first failure so one cycle shows it.
fn federation_settings(dir: &std::path::Path, sim: &simulate::Launched) -> Settings {
    let mut s = Settings::with_state_dir(dir.to_path_buf());
    sim.configure(&mut s);
    s.crawl.concurrency = 64;
    s.crawl.max_body_bytes = 1024 * 1024;
    // Long enough that a well-behaved agency on a loaded machine (the whole suite, other
    // builds) is never cut off, which would change its score between the two crawls.
    s.crawl.connect_timeout = Duration::from_secs(4);
    s.crawl.read_timeout = Duration::from_secs(4);
    s.crawl.total_timeout = Duration::from_secs(8);
    s.crawl.agency_deadline = Duration::from_secs(30);
    s.links.broken_after_cycles = 1;
    // Generous: links cut off by the deadline are not counted, and on a loaded machine
    // that would differ between two runs.
    s.links.deadline = Duration::from_secs(120);
    s.links.policy.timeout = Duration::from_secs(5);
    s.links.policy.connect_timeout = Duration::from_secs(5);
    s.links.policy.retries = 0;
    s.links.policy.per_host_interval = Duration::from_millis(2);
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn a_federation_a_third_hostile_costs_each_hostile_agency_its_finding_and_no_one_else_anything()
 {
    use dtindex::simulate::hostile::{self, Evidence, Hostility};
    let registry = hostile::registry_for_all(&Registry::builtin());
    let mut federation = simulate::Federation::plan(&registry, 10);
    hostile::make_hostile(&mut federation);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = simulate::launch_federation(&registry, federation, listener)
        .await
        .unwrap();
    let hostile_codes: std::collections::HashMap<String, Hostility> = sim
        .federation
        .agencies
        .iter()
        .filter_map(|a| Some((a.code.clone(), a.hostility?)))
        .collect();
    assert_eq!(hostile_codes.len() * 3, registry.agencies.len());
    assert!(hostile_codes.len() >= 40);

    let dir = tempfile::tempdir().unwrap();
    let settings = federation_settings(dir.path(), &sim);
    assert!(settings.crawl.max_body_bytes < hostile::OVERSIZED_BYTES as u64);
    let method = dtindex::score::Method::builtin();
    let (store, metrics) = daemon::open_store(&settings, &method).await.unwrap();
    let live = dtindex::config::Live::new(sim.registry.clone(), method.clone());
    let crawler = daemon::crawler(&settings, live, store.clone(), metrics).unwrap();

    // However the hostile servers behave, the cycle ends within its deadline: every
    // agency's own, then its links'.
    let deadline =
        settings.crawl.agency_deadline + settings.links.deadline + Duration::from_secs(30);
    let report = tokio::time::timeout(deadline, crawler.run_cycle(&CancellationToken::new()))
        .await
        .expect("the cycle completes within its deadline")
        .unwrap();
    assert_eq!(report.agencies, registry.agencies.len());

    // What each fetch and probe failed with, for the evidence the table names.
    let (observations, _) = crawler
        .observe_all(&sim.registry, &Default::default(), report.cycle_id)
        .await;
    let snapshots = store.run(store::latest_snapshots).await.unwrap();
    let mut wrong = Vec::new();
    for (code, h) in &hostile_codes {
        let expected = h.expected();
        let id = report.cycle_id;
        let c = code.clone();
        let findings = store
            .run(move |conn| store::agency_findings(conn, id, &c))
            .await
            .unwrap();
        if !findings.iter().any(|f| f.rule == expected.rule) {
            let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
            wrong.push(format!("{h:?}: no {} among {rules:?}", expected.rule));
            continue;
        }
        let obs = observations.iter().find(|o| &o.code == code).unwrap();
        let seen = match expected.evidence {
            Evidence::Fetch(class) => match &obs.catalog.outcome {
                CatalogOutcome::FetchFailed(f) if f.class == class => None,
                other => Some(format!("{other:?}")),
            },
            Evidence::Parse => match &obs.catalog.outcome {
                CatalogOutcome::ParseFailed(_) => None,
                other => Some(format!("{other:?}")),
            },
            Evidence::Content => match &obs.catalog.outcome {
                CatalogOutcome::Parsed => None,
                other => Some(format!("{other:?}")),
            },
            Evidence::Probe(class) => {
                let classes: Vec<_> = obs
                    .services
                    .iter()
                    .map(|p| p.failure.as_ref().map(|f| f.class))
                    .collect();
                (classes != vec![Some(class)]).then(|| format!("{:?}", obs.services))
            }
            Evidence::Link(class) => {
                let snapshot = snapshots.iter().find(|s| &s.code == code).unwrap();
                (!snapshot.links.iter().any(|(c, n)| *c == class && *n > 0))
                    .then(|| format!("links {:?}", snapshot.links))
            }
        };
        if let Some(seen) = seen {
            wrong.push(format!(
                "{h:?}: expected {:?}, saw {seen}",
                expected.evidence
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The well-behaved agencies score exactly what they score without the hostile ones.
    let calm_dir = tempfile::tempdir().unwrap();
    let calm_settings = federation_settings(calm_dir.path(), &sim);
    let (calm_store, calm_metrics) = daemon::open_store(&calm_settings, &method).await.unwrap();
    let calm_registry = Registry {
        agencies: sim
            .registry
            .agencies
            .iter()
            .filter(|a| !hostile_codes.contains_key(&a.code))
            .cloned()
            .collect(),
    };
    let calm = daemon::crawler(
        &calm_settings,
        dtindex::config::Live::new(calm_registry.clone(), method),
        calm_store,
        calm_metrics,
    )
    .unwrap();
    let calm_report = calm.run_cycle(&CancellationToken::new()).await.unwrap();
    assert_eq!(calm_report.agencies, calm_registry.agencies.len());
    for alone in &calm_report.ranked {
        let together = report
            .ranked
            .iter()
            .find(|r| r.score.code == alone.score.code)
            .unwrap();
        if together.score != alone.score {
            // The links as each crawl recorded them: the likeliest place for a difference.
            let (c1, c2) = (alone.score.code.clone(), alone.score.code.clone());
            let t = store
                .run(move |c| store::agency_links(c, &c1))
                .await
                .unwrap();
            let a = calm
                .store
                .run(move |c| store::agency_links(c, &c2))
                .await
                .unwrap();
            let brief = |l: &[dtindex::links::history::LinkRecord]| {
                l.iter()
                    .map(|r| format!("{} {:?} {:?} {:?}", r.url, r.class, r.broken, r.detail))
                    .collect::<Vec<_>>()
            };
            panic!(
                "{}: {:#?}\nlinks together: {:#?}\nlinks alone: {:#?}",
                alone.score.code,
                (&together.score.findings, &alone.score.findings),
                brief(&t),
                brief(&a)
            );
        }
    }
}

/// An agency's declaration names the URLs dtindex checks: cited documents, its platform,
/// its services. Those that point at private, loopback or metadata addresses are refused
/// by the address policy and never requested; the agency is told so.
#[tokio::test]
async fn a_declaration_pointing_inside_is_refused_without_a_request() {
    let declaration = serde_json::json!({
        "documents": [
            {"kind": "open_data_plan", "number": "1/KH", "url": "http://169.254.169.254/latest/meta-data/"},
            {"kind": "analytics_plan", "number": "2/KH", "url": "http://metadata.google.internal/computeMetadata/v1/"},
        ],
        "analytics_platform": {"deployed": true, "url": "http://10.0.0.5/admin"},
        "services": [
            {"url": "http://localhost:1/internal", "api_description": "http://[fd00::1]/openapi.json"},
            {"url": "http://[::ffff:192.168.1.1]/api"},
        ],
    });
    let app = Router::new().route(
        "/decl/declaration.json",
        get(move || {
            let d = declaration.clone();
            async move { axum::Json(d) }
        }),
    );
    let addr = serve(app).await;
    let mut a = agency("inside", None, vec![]);
    a.declaration_url = Url::parse(&format!("http://{addr}/decl/declaration.json")).ok();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(dir.path());
    // The declaration itself is on loopback (the operator registered it); what it names
    // is vetted all the same.
    settings.links.policy.allow_loopback = false;
    let crawler = crawler(&settings, vec![a]).await;
    let (observations, _) = crawler
        .observe_all(&crawler.live.current().registry, &Default::default(), 1)
        .await;
    let obs = &observations[0];
    assert_eq!(obs.declaration.outcome, CatalogOutcome::Parsed);
    let refused = |detail: &Option<String>| {
        detail
            .as_deref()
            .is_some_and(|d| d.starts_with("not requested:"))
    };
    assert_eq!(obs.declaration.documents.len(), 2);
    for doc in &obs.declaration.documents {
        assert_eq!(doc.claim.resolves, Some(false));
        assert!(refused(&doc.claim.detail), "{doc:?}");
    }
    let platform = obs.declaration.platform.as_ref().unwrap();
    assert!(refused(&platform.detail), "{platform:?}");
    assert_eq!(obs.services.len(), 2);
    for s in &obs.services {
        let f = s.failure.as_ref().expect("refused services are down");
        assert!(f.message.starts_with("not requested:"), "{f:?}");
        assert_eq!((s.http_status, &s.phases), (None, &None));
    }
}

/// A catalog the operator registered may sit anywhere, but where it redirects is the
/// agency's word: a hop to an address the policy refuses is not followed, whether the
/// address is written in the Location or is what a name there resolves to.
#[tokio::test]
async fn a_catalog_redirect_inside_is_refused_by_address_and_by_resolved_name() {
    let catalog = serde_json::json!({"dataset": []});
    let to = |location: String| {
        move || {
            let location = location.clone();
            async move { axum::response::Redirect::temporary(&location) }
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let port = addr.port();
    let app = Router::new()
        .route(
            "/data.json",
            get(move || {
                let c = catalog.clone();
                async move { axum::Json(c) }
            }),
        )
        .route(
            "/same/data.json",
            get(to(format!("http://{addr}/data.json"))),
        )
        .route(
            "/metadata/data.json",
            get(to("http://169.254.169.254/latest/meta-data/".into())),
        )
        .route(
            "/loopback/data.json",
            get(to(format!("http://127.0.0.2:{port}/data.json"))),
        )
        .route(
            "/name/data.json",
            get(to(format!("http://intranet.invalid:{port}/data.json"))),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = |path: &str| Url::parse(&format!("http://{addr}{path}")).unwrap();
    let agencies = vec![
        agency("same", Some(url("/same/data.json")), vec![]),
        agency("metadata", Some(url("/metadata/data.json")), vec![]),
        agency("loopback", Some(url("/loopback/data.json")), vec![]),
        agency("name", Some(url("/name/data.json")), vec![]),
    ];
    let observe = |allow_loopback: bool| {
        let agencies = agencies.clone();
        async move {
            let dir = tempfile::tempdir().unwrap();
            let mut settings = settings(dir.path());
            settings.links.policy.allow_loopback = allow_loopback;
            // A name only this configuration knows, so the test needs no DNS: it
            // resolves to loopback, which the strict policy refuses.
            settings
                .links
                .policy
                .hosts
                .insert("intranet.invalid".into(), "127.0.0.1".parse().unwrap());
            let crawler = crawler(&settings, agencies).await;
            let (observations, _) = crawler
                .observe_all(&crawler.live.current().registry, &Default::default(), 1)
                .await;
            observations
                .into_iter()
                .map(|o| (o.code.clone(), o.catalog))
                .collect::<std::collections::BTreeMap<_, _>>()
        }
    };

    let strict = observe(false).await;
    // The registry names 127.0.0.1, so a hop back to it is followed.
    assert_eq!(
        strict["same"].outcome,
        CatalogOutcome::Parsed,
        "{:?}",
        strict["same"]
    );
    for (code, refused) in [
        ("metadata", "169.254.169.254"),
        ("loopback", "127.0.0.2"),
        ("name", "intranet.invalid"),
    ] {
        let catalog = &strict[code];
        let CatalogOutcome::FetchFailed(failure) = &catalog.outcome else {
            panic!("{code}: {catalog:?}");
        };
        assert!(
            failure.message.contains(refused) && failure.message.contains("refuse"),
            "{code}: {failure:?}"
        );
    }

    // Allowed by the policy, the same hops are followed: the refusal above was the
    // policy's, not a broken redirect. (Nothing listens on 127.0.0.2.)
    let open = observe(true).await;
    for code in ["same", "name"] {
        assert_eq!(
            open[code].outcome,
            CatalogOutcome::Parsed,
            "{code}: {:?}",
            open[code]
        );
    }
}
