//! Harvesting over real HTTP: conditional requests, and the hostile inputs of the catalog
//! path, each read through `harvest::harvest` from a loopback server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dtindex::config::CrawlSettings;
use dtindex::fetch::Fetcher;
use dtindex::harvest::{self, DatasetSink, HarvestState};
use dtindex::observation::{CatalogObservation, CatalogOutcome, Note};
use dtindex::registry::{CatalogEndpoint, CatalogFormat};
use url::Url;

const CATALOG: &str =
    r#"{"dataset":[{"identifier":"a","title":"Dân cư"},{"identifier":"b","title":"Đất đai"}]}"#;

#[derive(Default)]
struct Counters {
    requests: AtomicUsize,
    not_modified: AtomicUsize,
}

async fn serve(router: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

fn fetcher() -> Fetcher {
    Fetcher::new(&CrawlSettings {
        total_timeout: Duration::from_secs(20),
        max_body_bytes: 32 * 1024 * 1024,
        ..CrawlSettings::default()
    })
    .unwrap()
}

fn endpoint(addr: std::net::SocketAddr, path: &str) -> CatalogEndpoint {
    CatalogEndpoint {
        url: Url::parse(&format!("http://{addr}{path}")).unwrap(),
        format: CatalogFormat::Auto,
        organization: None,
    }
}

/// A server that honours If-None-Match (path /etag) or If-Modified-Since (path /dated), and
/// one that ignores both (path /plain).
fn conditional_server(counters: Arc<Counters>) -> Router {
    async fn etag(State(c): State<Arc<Counters>>, headers: HeaderMap) -> Response {
        c.requests.fetch_add(1, Ordering::SeqCst);
        if headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            == Some("\"v1\"")
        {
            c.not_modified.fetch_add(1, Ordering::SeqCst);
            return StatusCode::NOT_MODIFIED.into_response();
        }
        (
            [
                (header::ETAG, "\"v1\""),
                (header::CONTENT_TYPE, "application/json"),
            ],
            CATALOG,
        )
            .into_response()
    }
    async fn dated(State(c): State<Arc<Counters>>, headers: HeaderMap) -> Response {
        const DATE: &str = "Sun, 01 Nov 2026 00:00:00 GMT";
        c.requests.fetch_add(1, Ordering::SeqCst);
        if headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            == Some(DATE)
        {
            c.not_modified.fetch_add(1, Ordering::SeqCst);
            return StatusCode::NOT_MODIFIED.into_response();
        }
        ([(header::LAST_MODIFIED, DATE)], CATALOG).into_response()
    }
    async fn plain(State(c): State<Arc<Counters>>) -> &'static str {
        c.requests.fetch_add(1, Ordering::SeqCst);
        CATALOG
    }
    Router::new()
        .route("/etag", get(etag))
        .route("/dated", get(dated))
        .route("/plain", get(plain))
        .with_state(counters)
}

async fn twice(path: &str) -> (CatalogObservation, CatalogObservation, Arc<Counters>) {
    let counters = Arc::new(Counters::default());
    let addr = serve(conditional_server(counters.clone())).await;
    let fetcher = fetcher();
    let ep = endpoint(addr, path);
    let (first, state) = harvest::harvest(&fetcher, &ep, None).await;
    let state: HarvestState = state.expect("a parsed catalog leaves a state");
    let (second, _) = harvest::harvest(&fetcher, &ep, Some(&state)).await;
    (first, second, counters)
}

#[tokio::test]
async fn an_unchanged_catalog_costs_one_conditional_request() {
    for path in ["/etag", "/dated"] {
        let (first, second, counters) = twice(path).await;
        assert_eq!(first.datasets, 2);
        assert!(!first.unchanged);
        assert_eq!(counters.requests.load(Ordering::SeqCst), 2, "{path}");
        assert_eq!(counters.not_modified.load(Ordering::SeqCst), 1, "{path}");
        assert!(second.unchanged, "{path}");
        assert_eq!(second.http_status, Some(304));
        assert_eq!(
            (second.datasets, &second.tally),
            (first.datasets, &first.tally)
        );
        assert_eq!(second.outcome, CatalogOutcome::Parsed);
    }
}

#[tokio::test]
async fn the_same_bytes_from_a_server_without_validators_are_not_read_again() {
    let (first, second, counters) = twice("/plain").await;
    assert_eq!(counters.requests.load(Ordering::SeqCst), 2);
    assert!(second.unchanged);
    assert_eq!(second.http_status, Some(200));
    assert_eq!(second.datasets, first.datasets);
}

/// The hostile bodies of the catalog path that are not about size or time (those are in
/// tests/hostile.rs): each is read to a precise outcome, nothing panics.
fn hostile_bodies() -> Router {
    fn json(body: impl Into<Body>) -> Response {
        ([(header::CONTENT_TYPE, "application/json")], body.into()).into_response()
    }
    Router::new()
        .route(
            "/invalid-utf8",
            get(|| async {
                let mut bytes = br#"{"dataset":[{"identifier":"x","title":""#.to_vec();
                bytes.extend_from_slice(&[0xC3, 0x28, 0xFF]);
                bytes.extend_from_slice(br#""}]}"#);
                json(bytes)
            }),
        )
        .route(
            "/deep",
            get(|| async { json(format!(r#"{{"dataset":[{{"title":{}}}]}}"#, "[".repeat(50_000))) }),
        )
        .route(
            "/wrong-types",
            get(|| async {
                json(
                    r#"{"dataset":[{"identifier":1,"title":["x"],"description":{},"keyword":7,"theme":3,
                     "modified":true,"publisher":5,"contactPoint":[],"license":0,"accrualPeriodicity":{},
                     "distribution":"nope","accessLevel":null}]}"#,
                )
            }),
        )
        .route(
            "/million",
            get(|| async {
                // A million minimal records, streamed: the harvest folds them, never holds them.
                let head = futures_util::stream::once(async { Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{\"dataset\":[{}")) });
                let rest = futures_util::stream::iter(
                    (0..999).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(",{}".repeat(1000)))),
                );
                let tail = futures_util::stream::iter([
                    Ok::<_, std::io::Error>(bytes::Bytes::from(",{}".repeat(999))),
                    Ok(bytes::Bytes::from_static(b"]}")),
                ]);
                json(Body::from_stream(futures_util::StreamExt::chain(
                    futures_util::StreamExt::chain(head, rest),
                    tail,
                )))
            }),
        )
        .route(
            "/duplicates",
            get(|| async { json(r#"{"dataset":[{"identifier":"a"},{"identifier":"b"},{"identifier":"a"}]}"#) }),
        )
        .route(
            "/lying",
            get(|| async { ([(header::CONTENT_TYPE, "text/csv")], CATALOG) }),
        )
}

#[tokio::test]
async fn hostile_bodies_become_precise_outcomes() {
    let addr = serve(hostile_bodies()).await;
    let fetcher = fetcher();
    let get = |path: &'static str| {
        let fetcher = fetcher.clone();
        async move {
            harvest::harvest(&fetcher, &endpoint(addr, path), None)
                .await
                .0
        }
    };

    let obs = get("/invalid-utf8").await;
    match &obs.outcome {
        CatalogOutcome::ParseFailed(m) => assert!(m.contains("not valid JSON"), "{m}"),
        other => panic!("invalid UTF-8: {other:?}"),
    }

    let obs = get("/deep").await;
    match &obs.outcome {
        CatalogOutcome::ParseFailed(m) => assert!(m.contains("recursion"), "{m}"),
        other => panic!("deep nesting: {other:?}"),
    }

    let obs = get("/wrong-types").await;
    assert_eq!(obs.outcome, CatalogOutcome::Parsed);
    assert_eq!(obs.datasets, 1);
    assert_eq!(obs.schema_invalid, 1);
    // Every checked field is missing once its wrong-typed value is set aside.
    let sufficient = dtindex::score::quality::DATASET_RULES
        .iter()
        .enumerate()
        .filter(|(_, r)| r.dimension == dtindex::score::Dimension::Sufficient);
    for (i, rule) in sufficient {
        assert_eq!(obs.tally.failing(i), 1, "{}: {:?}", rule.id, obs.tally);
    }

    let obs = get("/million").await;
    assert_eq!(obs.outcome, CatalogOutcome::Parsed);
    assert_eq!(obs.datasets, 1_000_000);
    assert_eq!(obs.tally.datasets, 1_000_000);

    let obs = get("/duplicates").await;
    assert!(
        obs.notes.contains(&Note::DuplicateIdentifiers(1)),
        "{:?}",
        obs.notes
    );

    let obs = get("/lying").await;
    assert_eq!(obs.outcome, CatalogOutcome::Parsed);
    assert_eq!(obs.datasets, 2);
    assert!(
        obs.notes
            .iter()
            .any(|n| matches!(n, Note::ContentTypeMismatch(m) if m.contains("text/csv"))),
        "{:?}",
        obs.notes
    );
}

/// Paged catalogs: followed to the end, and stopped with a note at a loop, a repeated page
/// or a count that does not add up.
fn paging_server() -> Router {
    fn turtle(body: String) -> Response {
        ([(header::CONTENT_TYPE, "text/turtle")], body).into_response()
    }
    fn page(n: usize, next: Option<&str>) -> String {
        let mut t = String::from(
            "@prefix dcat: <http://www.w3.org/ns/dcat#> .\n@prefix dct: <http://purl.org/dc/terms/> .\n@prefix hydra: <http://www.w3.org/ns/hydra/core#> .\n",
        );
        t.push_str(&format!(
            "<#d{n}> a dcat:Dataset ; dct:title \"Trang {n}\" .\n"
        ));
        if let Some(next) = next {
            t.push_str(&format!("<> hydra:next <{next}> .\n"));
        }
        t
    }
    fn ckan(count: u64, ids: &[&str]) -> Response {
        let results: Vec<serde_json::Value> = ids
            .iter()
            .map(|id| serde_json::json!({"id": id, "title": id}))
            .collect();
        axum::Json(
            serde_json::json!({"success": true, "result": {"count": count, "results": results}}),
        )
        .into_response()
    }
    #[derive(serde::Deserialize)]
    struct Start {
        start: Option<u64>,
    }
    Router::new()
        .route(
            "/chain/1",
            get(|| async { turtle(page(1, Some("/chain/2"))) }),
        )
        .route(
            "/chain/2",
            get(|| async { turtle(page(2, Some("/chain/3"))) }),
        )
        .route("/chain/3", get(|| async { turtle(page(3, None)) }))
        .route(
            "/loop/1",
            get(|| async { turtle(page(1, Some("/loop/2"))) }),
        )
        .route(
            "/loop/2",
            get(|| async { turtle(page(2, Some("/loop/1"))) }),
        )
        .route(
            "/repeat/api/3/action/package_search",
            get(|| async { ckan(5, &["a", "b"]) }),
        )
        .route(
            "/short/api/3/action/package_search",
            get(|q: axum::extract::Query<Start>| async move {
                match q.start.unwrap_or(0) {
                    0 => ckan(4, &["a", "b"]),
                    _ => ckan(4, &[]),
                }
            }),
        )
}

#[tokio::test]
async fn paged_catalogs_are_followed_and_their_loops_stopped() {
    let addr = serve(paging_server()).await;
    let fetcher = fetcher();
    let harvest = |path: &'static str, format: CatalogFormat| {
        let fetcher = fetcher.clone();
        async move {
            let ep = CatalogEndpoint {
                url: Url::parse(&format!("http://{addr}{path}")).unwrap(),
                format,
                organization: None,
            };
            harvest::harvest(&fetcher, &ep, None).await.0
        }
    };
    let paging_note = |obs: &CatalogObservation| {
        obs.notes
            .iter()
            .find_map(|n| match n {
                Note::Paging(m) => Some(m.clone()),
                _ => None,
            })
            .unwrap_or_default()
    };

    let obs = harvest("/chain/1", CatalogFormat::Auto).await;
    assert_eq!(
        (obs.outcome.clone(), obs.datasets, obs.requests),
        (CatalogOutcome::Parsed, 3, 3)
    );
    assert!(obs.notes.is_empty(), "{:?}", obs.notes);

    let obs = harvest("/loop/1", CatalogFormat::Auto).await;
    assert_eq!((obs.datasets, obs.requests), (2, 2));
    assert!(paging_note(&obs).contains("loops back"), "{:?}", obs.notes);

    let obs = harvest("/repeat/", CatalogFormat::Ckan).await;
    assert_eq!(obs.format.as_deref(), Some("CKAN Action API"));
    assert_eq!((obs.datasets, obs.requests), (2, 2));
    assert!(
        paging_note(&obs).contains("same page twice"),
        "{:?}",
        obs.notes
    );

    let obs = harvest("/short/", CatalogFormat::Ckan).await;
    assert_eq!(obs.datasets, 2);
    assert!(
        paging_note(&obs).contains("announced 4 datasets but 2"),
        "{:?}",
        obs.notes
    );
}

/// A CKAN portal whose packages can change between harvests, honouring rows, start and
/// the `metadata_modified` range of `fq`, and counting what it is asked.
#[derive(Default)]
struct Portal {
    packages: std::sync::Mutex<Vec<serde_json::Value>>,
    queries: std::sync::Mutex<Vec<String>>,
}

fn portal_server(portal: Arc<Portal>) -> Router {
    async fn search(
        State(p): State<Arc<Portal>>,
        axum::extract::RawQuery(raw): axum::extract::RawQuery,
    ) -> Response {
        let raw = raw.unwrap_or_default();
        p.queries.lock().unwrap().push(raw.clone());
        let params: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect();
        let rows: usize = params
            .get("rows")
            .and_then(|r| r.parse().ok())
            .unwrap_or(10);
        let start: usize = params
            .get("start")
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        // The two clauses dtindex sends, as Solr reads them: a date range (compared as
        // instants, so `.000Z` is dropped) and a quoted organization name.
        let clauses: Vec<String> = params
            .get("fq")
            .map(|fq| fq.split(" AND ").map(str::to_string).collect())
            .unwrap_or_default();
        let since = clauses.iter().find_map(|c| {
            c.strip_prefix("metadata_modified:[")
                .and_then(|r| r.split(" TO").next())
                .map(|s| s.trim_end_matches('Z').trim_end_matches(".000").to_string())
        });
        let organization = clauses.iter().find_map(|c| {
            c.strip_prefix("organization:")
                .map(|o| o.trim_matches('"').to_string())
        });
        let all = p.packages.lock().unwrap().clone();
        let matching: Vec<serde_json::Value> = all
            .into_iter()
            .filter(|pk| {
                since
                    .as_deref()
                    .is_none_or(|s| pk["metadata_modified"].as_str().unwrap() >= s)
            })
            .filter(|pk| {
                organization
                    .as_deref()
                    .is_none_or(|o| pk["organization"]["name"] == o)
            })
            .collect();
        let page: Vec<_> = matching.iter().skip(start).take(rows).cloned().collect();
        axum::Json(serde_json::json!({"success": true, "result": {"count": matching.len(), "results": page}}))
            .into_response()
    }
    async fn organizations(State(p): State<Arc<Portal>>) -> Response {
        let mut names: Vec<String> = p
            .packages
            .lock()
            .unwrap()
            .iter()
            .filter_map(|pk| pk["organization"]["name"].as_str().map(str::to_string))
            .collect();
        names.dedup();
        axum::Json(serde_json::json!({"success": true, "result": names})).into_response()
    }
    Router::new()
        .route("/api/3/action/package_search", get(search))
        .route("/api/3/action/organization_list", get(organizations))
        .with_state(portal)
}

fn package(id: &str, modified: &str, with_notes: bool) -> serde_json::Value {
    let mut p = serde_json::json!({"id": id, "title": id, "metadata_modified": modified});
    if with_notes {
        p["notes"] = serde_json::json!("mô tả");
    }
    p
}

#[tokio::test]
async fn a_ckan_portal_is_harvested_incrementally_and_fully_when_packages_disappear() {
    let portal = Arc::new(Portal::default());
    *portal.packages.lock().unwrap() = vec![
        package("a", "2026-01-01T00:00:00", true),
        package("b", "2026-02-01T00:00:00", true),
        package("c", "2026-03-01T00:00:00", false),
    ];
    let addr = serve(portal_server(portal.clone())).await;
    let fetcher = fetcher();
    let ep = CatalogEndpoint {
        url: Url::parse(&format!("http://{addr}/")).unwrap(),
        format: CatalogFormat::Ckan,
        organization: None,
    };
    let description = 1; // `Q.sufficient.description` is the second dataset rule.

    let (first, state) = harvest::harvest(&fetcher, &ep, None).await;
    let state = state.unwrap();
    assert_eq!((first.datasets, first.tally.failing(description)), (3, 1));
    assert_eq!(state.ckan.as_ref().unwrap().packages.len(), 3);
    assert_eq!(
        state.ckan.as_ref().unwrap().last_modified.as_deref(),
        Some("2026-03-01T00:00:00")
    );

    // `b` gains nothing but loses its description, and is modified later.
    portal.packages.lock().unwrap()[1] = package("b", "2026-04-01T00:00:00", false);
    portal.queries.lock().unwrap().clear();
    let (second, state) = harvest::harvest(&fetcher, &ep, Some(&state)).await;
    let state = state.unwrap();
    let queries = portal.queries.lock().unwrap().clone();
    assert!(queries[0].contains("fq=metadata_modified"), "{queries:?}");
    assert!(
        queries[0].contains("2026-03-01T00%3A00%3A00.000Z"),
        "{queries:?}"
    );
    assert_eq!(
        second.requests, 2,
        "one page of changes and one count: {queries:?}"
    );
    assert_eq!((second.datasets, second.tally.failing(description)), (3, 2));
    assert!(!second.unchanged);

    // Nothing changed: still incremental, and told as unchanged.
    let (third, state) = harvest::harvest(&fetcher, &ep, Some(&state)).await;
    let state = state.unwrap();
    assert!(third.unchanged);
    assert_eq!(third.datasets, 3);

    // A package is deleted: the total gives it away and the portal is read in full.
    portal.packages.lock().unwrap().remove(0);
    portal.queries.lock().unwrap().clear();
    let (fourth, _) = harvest::harvest(&fetcher, &ep, Some(&state)).await;
    assert_eq!(fourth.datasets, 2);
    let queries = portal.queries.lock().unwrap().clone();
    assert!(
        queries.last().unwrap().contains("rows=1000") && !queries.last().unwrap().contains("fq="),
        "{queries:?}"
    );
}

#[tokio::test]
async fn an_agency_on_a_shared_portal_is_read_through_its_organization() {
    let portal = Arc::new(Portal::default());
    let mut a = package("a", "2026-01-01T00:00:00", true);
    a["organization"] =
        serde_json::json!({"name": "so-tnmt", "title": "Sở Tài nguyên và Môi trường"});
    let mut b = package("b", "2026-01-01T00:00:00", true);
    b["organization"] = serde_json::json!({"name": "so-yte", "title": "Sở Y tế"});
    *portal.packages.lock().unwrap() = vec![a, b];
    let addr = serve(portal_server(portal.clone())).await;
    let ep = CatalogEndpoint {
        url: Url::parse(&format!("http://{addr}/")).unwrap(),
        format: CatalogFormat::Ckan,
        organization: Some("so-yte".into()),
    };
    let (obs, _) = harvest::harvest(&fetcher(), &ep, None).await;
    let queries = portal.queries.lock().unwrap().clone();
    assert_eq!(obs.datasets, 1, "{queries:?}");
    assert!(
        queries[0].contains("organization%3A%22so-yte%22"),
        "{queries:?}"
    );

    // A misspelt organization: no package, and a note naming the ones the portal has.
    let misspelt = CatalogEndpoint {
        organization: Some("so-y-te".into()),
        ..ep
    };
    let (obs, _) = harvest::harvest(&fetcher(), &misspelt, None).await;
    assert_eq!(obs.datasets, 0);
    let told = obs.notes.iter().any(|n| matches!(n, Note::UnknownOrganization(m) if m.contains("so-y-te") && m.contains("so-yte")));
    assert!(told, "{:?}", obs.notes);
}

#[tokio::test]
async fn only_new_and_changed_datasets_are_processed_again() {
    let body = Arc::new(std::sync::Mutex::new(String::from(
        r#"{"dataset":[{"identifier":"a","title":"A"},{"identifier":"b","title":"B"},{"identifier":"c","title":"C"}]}"#,
    )));
    let served = body.clone();
    let router = Router::new().route(
        "/data.json",
        get(move || {
            let served = served.clone();
            async move { served.lock().unwrap().clone() }
        }),
    );
    let addr = serve(router).await;
    let fetcher = fetcher();
    let ep = endpoint(addr, "/data.json");
    let processed = |seen: Arc<std::sync::Mutex<Vec<String>>>| {
        DatasetSink::with(move |d, _| seen.lock().unwrap().push(d.subject()))
    };

    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (first, state, _) =
        harvest::harvest_into(&fetcher, &ep, None, processed(seen.clone())).await;
    assert_eq!((first.datasets, first.datasets_changed), (3, 3));
    assert_eq!(seen.lock().unwrap().len(), 3);

    // `b` changes, `d` is added, and the document is re-serialised: only `b` and `d` are new.
    *body.lock().unwrap() = String::from(
        r#"{ "dataset": [ {"title":"A", "identifier":"a"}, {"identifier":"b","title":"B, sửa"},
            {"identifier":"c","title":"C"}, {"identifier":"d","title":"D"} ] }"#,
    );
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (second, _, _) =
        harvest::harvest_into(&fetcher, &ep, state.as_ref(), processed(seen.clone())).await;
    assert_eq!((second.datasets, second.datasets_changed), (4, 2));
    assert!(!second.unchanged);
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["b".to_string(), "d".to_string()]
    );
    assert_eq!(
        second.tally.datasets, 4,
        "unchanged datasets still count in the scores"
    );
}
