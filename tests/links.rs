//! The link checker against real HTTP servers on loopback, one per behaviour.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request};
use axum::http::header::{CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE, RETRY_AFTER};
use axum::http::{Method as HttpMethod, StatusCode};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::routing::any;
use dtindex::links::{LinkChecker, LinkClass, LinkPolicy, Method};
use futures_util::StreamExt as _;
use url::Url;

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    range: Option<String>,
    at: Instant,
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    fn methods(&self) -> Vec<String> {
        self.all().into_iter().map(|s| s.method).collect()
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// Serves `router` on `ip`, recording every request in the returned log.
async fn serve_on(ip: &str, router: Router) -> (SocketAddr, Log) {
    let log = Log::default();
    let recorder = log.clone();
    let router = router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let log = recorder.clone();
            async move {
                log.0.lock().unwrap().push(Seen {
                    method: request.method().to_string(),
                    path: request.uri().path().to_string(),
                    range: request
                        .headers()
                        .get(RANGE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string),
                    at: Instant::now(),
                });
                next.run(request).await
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (addr, log)
}

async fn serve(router: Router) -> (SocketAddr, Log) {
    serve_on("127.0.0.1", router).await
}

fn url(addr: SocketAddr, path: &str) -> Url {
    Url::parse(&format!("http://{addr}{path}")).unwrap()
}

/// Loopback allowed, no interval, quick retries: what most tests need.
fn policy() -> LinkPolicy {
    LinkPolicy {
        allow_loopback: true,
        per_host_interval: Duration::ZERO,
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        retry_backoff: Duration::from_millis(10),
        ..LinkPolicy::default()
    }
}

fn checker(policy: LinkPolicy) -> LinkChecker {
    LinkChecker::new(policy).unwrap()
}

#[tokio::test]
async fn head_refused_falls_back_to_a_ranged_get() {
    let router = Router::new().route(
        "/data.csv",
        any(|m: HttpMethod| async move {
            if m == HttpMethod::HEAD {
                StatusCode::METHOD_NOT_ALLOWED.into_response()
            } else {
                let headers = [(CONTENT_TYPE, "text/csv"), (CONTENT_RANGE, "bytes 0-0/100")];
                (StatusCode::PARTIAL_CONTENT, headers, "a").into_response()
            }
        }),
    );
    let (addr, log) = serve(router).await;
    let r = checker(policy()).check(&url(addr, "/data.csv")).await;
    assert_eq!(r.class, LinkClass::Ok, "{r:?}");
    assert_eq!(r.status, Some(206));
    assert_eq!(r.method, Some(Method::RangedGet));
    assert_eq!(r.content_type.as_deref(), Some("text/csv"));
    assert!(!r.from_cache);
    let seen = log.all();
    assert_eq!(log.methods(), ["HEAD", "GET"]);
    assert_eq!(seen[1].range.as_deref(), Some("bytes=0-0"));
    assert_eq!(seen[0].range, None);
}

/// HEAD says 200, GET says 404. A HEAD success is trusted by default (one request per
/// link, as documented); `head_first = false` asks with the ranged GET alone and sees
/// the truth.
#[tokio::test]
async fn a_head_that_lies_is_trusted_unless_the_policy_asks_for_get() {
    let router = Router::new().route(
        "/gone.xlsx",
        any(|m: HttpMethod| async move {
            if m == HttpMethod::HEAD {
                ([(CONTENT_TYPE, "application/vnd.ms-excel")], "").into_response()
            } else {
                StatusCode::NOT_FOUND.into_response()
            }
        }),
    );
    let (addr, log) = serve(router).await;
    let link = url(addr, "/gone.xlsx");

    let r = checker(policy()).check(&link).await;
    assert_eq!(r.class, LinkClass::Ok, "{r:?}");
    assert_eq!(r.method, Some(Method::Head));
    assert_eq!(r.content_type.as_deref(), Some("application/vnd.ms-excel"));
    assert_eq!(log.methods(), ["HEAD"]);

    let strict = checker(LinkPolicy {
        head_first: false,
        ..policy()
    });
    let r = strict.check(&link).await;
    assert_eq!(r.class, LinkClass::ClientError, "{r:?}");
    assert_eq!(r.status, Some(404));
    assert_eq!(r.method, Some(Method::RangedGet));
    let seen = log.all();
    assert_eq!(log.methods(), ["HEAD", "GET"]);
    assert_eq!(seen[1].range.as_deref(), Some("bytes=0-0"));
}

/// HEAD says 404, GET says 200 and ignores Range with an endless body: the GET is the
/// truth, and the body is not downloaded.
#[tokio::test]
async fn a_head_404_is_confirmed_by_get_whose_body_is_never_read() {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let router = Router::new().route(
        "/big.zip",
        any(move |m: HttpMethod| {
            let counter = counter.clone();
            async move {
                if m == HttpMethod::HEAD {
                    return StatusCode::NOT_FOUND.into_response();
                }
                let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
                let endless = futures_util::stream::repeat(chunk).map(move |c| {
                    counter.fetch_add(c.len() as u64, Ordering::Relaxed);
                    Ok::<_, Infallible>(c)
                });
                (
                    [(CONTENT_TYPE, "application/zip")],
                    Body::from_stream(endless),
                )
                    .into_response()
            }
        }),
    );
    let (addr, log) = serve(router).await;
    let r = checker(policy()).check(&url(addr, "/big.zip")).await;
    assert_eq!(r.class, LinkClass::Ok, "{r:?}");
    assert_eq!(r.status, Some(200));
    assert_eq!(r.method, Some(Method::RangedGet));
    assert_eq!(r.content_type.as_deref(), Some("application/zip"));
    assert_eq!(log.methods(), ["HEAD", "GET"]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // At most what the socket buffers held before the connection was dropped.
    let bytes = sent.load(Ordering::Relaxed);
    assert!(bytes < 64 * 1024 * 1024, "{bytes} bytes were sent");
}

#[tokio::test]
async fn a_redirect_chain_ends_in_redirect_with_the_final_url() {
    let router = Router::new()
        .route(
            "/a",
            any(|| async { (StatusCode::MOVED_PERMANENTLY, [(LOCATION, "/b")]) }),
        )
        .route(
            "/b",
            any(|| async { (StatusCode::FOUND, [(LOCATION, "c?x=1")]) }),
        )
        .route("/c", any(|| async { ([(CONTENT_TYPE, "text/csv")], "") }));
    let (addr, log) = serve(router).await;
    let r = checker(policy()).check(&url(addr, "/a")).await;
    assert_eq!(r.class, LinkClass::Redirect, "{r:?}");
    assert_eq!(r.final_url, Some(url(addr, "/c?x=1")));
    assert_eq!(r.redirects, 2);
    assert_eq!(r.status, Some(200));
    assert_eq!(r.content_type.as_deref(), Some("text/csv"));
    assert!(!r.class.is_failure());
    let paths: Vec<String> = log.all().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/a", "/b", "/c"]);
}

#[tokio::test]
async fn a_redirect_loop_is_blocked_without_hanging() {
    let router = Router::new()
        .route(
            "/x",
            any(|| async { (StatusCode::FOUND, [(LOCATION, "/y")]) }),
        )
        .route(
            "/y",
            any(|| async { (StatusCode::FOUND, [(LOCATION, "/x#again")]) }),
        );
    let (addr, log) = serve(router).await;
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        checker(policy()).check(&url(addr, "/x")),
    )
    .await
    .expect("the loop was detected");
    assert_eq!(r.class, LinkClass::Blocked, "{r:?}");
    assert!(r.detail.contains("redirect loop"), "{}", r.detail);
    assert_eq!(r.status, Some(302));
    assert_eq!(log.len(), 2);
}

#[tokio::test]
async fn too_many_redirects_are_blocked() {
    let router = Router::new().route(
        "/r/{n}",
        any(|Path(n): Path<u32>| async move {
            (StatusCode::FOUND, [(LOCATION, format!("/r/{}", n + 1))])
        }),
    );
    let (addr, log) = serve(router).await;
    let r = checker(LinkPolicy {
        max_redirects: 3,
        ..policy()
    })
    .check(&url(addr, "/r/0"))
    .await;
    assert_eq!(r.class, LinkClass::Blocked, "{r:?}");
    assert!(r.detail.contains("more than 3 redirects"), "{}", r.detail);
    assert_eq!(r.redirects, 3);
    assert_eq!(log.len(), 4);
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let calls = Arc::new(AtomicUsize::new(0));
    let router = Router::new().route(
        "/busy",
        any(move || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    (StatusCode::TOO_MANY_REQUESTS, [(RETRY_AFTER, "1")]).into_response()
                } else {
                    StatusCode::OK.into_response()
                }
            }
        }),
    );
    let (addr, log) = serve(router).await;
    let links = checker(policy());
    let r = links.check(&url(addr, "/busy")).await;
    assert_eq!(r.class, LinkClass::Ok, "{r:?}");
    let seen = log.all();
    assert_eq!(log.methods(), ["HEAD", "HEAD"]);
    let gap = seen[1].at - seen[0].at;
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    let stats = links.stats();
    assert_eq!((stats.retries, stats.backoffs, stats.requests), (1, 1, 2));
}

#[tokio::test]
async fn gateway_errors_are_retried_with_backoff() {
    let calls = Arc::new(AtomicUsize::new(0));
    let router = Router::new().route(
        "/flaky",
        any(move || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 => StatusCode::BAD_GATEWAY,
                    1 => StatusCode::GATEWAY_TIMEOUT,
                    _ => StatusCode::OK,
                }
            }
        }),
    );
    let (addr, log) = serve(router).await;
    let links = checker(LinkPolicy {
        retries: 2,
        ..policy()
    });
    let r = links.check(&url(addr, "/flaky")).await;
    assert_eq!(r.class, LinkClass::Ok, "{r:?}");
    assert_eq!(log.len(), 3);
    assert_eq!(links.stats().retries, 2);

    // Out of retries, the last answer stands.
    let router = Router::new().route("/down", any(|| async { StatusCode::BAD_GATEWAY }));
    let (addr, _) = serve(router).await;
    let r = checker(LinkPolicy {
        retries: 1,
        ..policy()
    })
    .check(&url(addr, "/down"))
    .await;
    assert_eq!(r.class, LinkClass::ServerError, "{r:?}");
    assert_eq!(r.status, Some(502));
}

#[tokio::test]
async fn a_404_is_confirmed_once_and_never_retried() {
    let router = Router::new().fallback(|| async { StatusCode::NOT_FOUND });
    let (addr, log) = serve(router).await;
    let links = checker(LinkPolicy {
        retries: 3,
        ..policy()
    });
    let r = links.check(&url(addr, "/missing.csv")).await;
    assert_eq!(r.class, LinkClass::ClientError, "{r:?}");
    assert_eq!(r.status, Some(404));
    assert!(r.class.is_failure());
    assert_eq!(log.methods(), ["HEAD", "GET"]);
    assert_eq!(links.stats().retries, 0);
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let router = Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        StatusCode::OK
    });
    let (addr, _) = serve(router).await;
    let started = Instant::now();
    let r = checker(LinkPolicy {
        timeout: Duration::from_millis(300),
        retries: 0,
        ..policy()
    })
    .check(&url(addr, "/slow"))
    .await;
    assert_eq!(r.class, LinkClass::Timeout, "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_reset_or_refused_connection_is_connect() {
    // Accepts and drops at once, before answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    let links = checker(LinkPolicy {
        retries: 1,
        ..policy()
    });
    let r = links.check(&url(addr, "/reset")).await;
    assert_eq!(r.class, LinkClass::Connect, "{r:?}");
    assert_eq!(r.status, None);
    // HEAD, then the ranged GET and its one retry.
    assert_eq!(accepted.load(Ordering::SeqCst), 3, "{r:?}");

    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let r = links.check(&url(closed, "/refused")).await;
    assert_eq!(r.class, LinkClass::Connect, "{r:?}");
    assert!(r.detail.contains("refused"), "{}", r.detail);
}

async fn serve_tls(cert_pem: String, key_pem: String) -> SocketAddr {
    let config = axum_server::tls_rustls::RustlsConfig::from_pem(
        cert_pem.into_bytes(),
        key_pem.into_bytes(),
    )
    .await
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let router = Router::new().fallback(|| async { "ok" });
    let server = axum_server::from_tcp_rustls(listener, config).unwrap();
    tokio::spawn(async move { server.serve(router.into_make_service()).await });
    addr
}

fn https(addr: SocketAddr) -> Url {
    Url::parse(&format!("https://localhost:{}/data.csv", addr.port())).unwrap()
}

#[tokio::test]
async fn bad_certificates_are_tls() {
    let self_signed =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let addr = serve_tls(
        self_signed.cert.pem(),
        self_signed.signing_key.serialize_pem(),
    )
    .await;
    let r = checker(policy()).check(&https(addr)).await;
    assert_eq!(r.class, LinkClass::Tls, "{r:?}");
    assert!(r.detail.contains("trusted"), "{}", r.detail);

    // Issued by a CA the checker trusts, but expired ten days ago.
    let expired = dtindex::simulate::tls::generate(-10).unwrap();
    let addr = serve_tls(expired.cert_pem.clone(), expired.key_pem.clone()).await;
    let trusting = |ca: &str| {
        checker(LinkPolicy {
            extra_roots_pem: vec![ca.to_string()],
            ..policy()
        })
    };
    let r = trusting(&expired.ca_pem).check(&https(addr)).await;
    assert_eq!(r.class, LinkClass::Tls, "{r:?}");
    assert!(r.detail.contains("expired"), "{}", r.detail);

    // The same CA with a valid certificate: the name is checked through the pinned
    // address, and all is well.
    let valid = dtindex::simulate::tls::generate(30).unwrap();
    let addr = serve_tls(valid.cert_pem.clone(), valid.key_pem.clone()).await;
    let r = trusting(&valid.ca_pem).check(&https(addr)).await;
    assert_eq!(r.class, LinkClass::Ok, "{r:?}");
}

#[tokio::test]
async fn an_unresolvable_name_is_dns() {
    let links = checker(policy());
    let r = links
        .check(&Url::parse("http://does-not-exist.invalid/data.csv").unwrap())
        .await;
    assert_eq!(r.class, LinkClass::Dns, "{r:?}");
    assert_eq!(r.method, None);
    assert_eq!(links.stats().requests, 0);
}

#[tokio::test]
async fn private_addresses_are_blocked_before_any_request() {
    let (addr, log) = serve(Router::new().fallback(|| async { "secret" })).await;
    let links = checker(LinkPolicy {
        allow_loopback: false,
        ..policy()
    });
    let port = addr.port();
    let refused = [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::1]:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://0x7f.1:{port}/"),
        format!("http://0.0.0.0:{port}/"),
        "http://10.0.0.1/".to_string(),
        "http://192.168.1.1/admin".to_string(),
        "http://100.64.0.1/".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://[fe80::1]/".to_string(),
        "http://[fd00::1]/".to_string(),
        "http://metadata.google.internal/computeMetadata/v1/".to_string(),
        "ftp://example.gov.vn/data.csv".to_string(),
        "file:///etc/passwd".to_string(),
    ];
    let urls: Vec<Url> = refused.iter().map(|u| Url::parse(u).unwrap()).collect();
    let results = links.check_all(urls.clone()).await;
    for u in &urls {
        let r = &results[u];
        assert_eq!(r.class, LinkClass::Blocked, "{u}: {r:?}");
        assert_eq!(r.method, None, "{u}");
        assert!(!r.detail.is_empty());
    }
    assert_eq!(log.len(), 0, "a request reached the server");
    let stats = links.stats();
    assert_eq!(stats.requests, 0);
    // `0x7f.1` is 127.0.0.1 once parsed: one link.
    let distinct: std::collections::HashSet<&Url> = urls.iter().collect();
    assert_eq!(distinct.len(), urls.len() - 1);
    assert_eq!(stats.blocked, distinct.len() as u64);
    assert!(
        results[&urls[1]].detail.contains("loopback"),
        "{}",
        results[&urls[1]].detail
    );
}

/// Loopback is refused except 127.0.0.1 itself (`allow_networks`), so a server there can
/// redirect to 127.0.0.2 and to the metadata address, and both hops are refused.
#[tokio::test]
async fn a_redirect_to_a_refused_address_is_blocked() {
    let (inner, inner_log) =
        serve_on("127.0.0.2", Router::new().fallback(|| async { "secret" })).await;
    let to_inner = format!("http://{inner}/secret");
    let router = Router::new()
        .route(
            "/inner",
            any(move || {
                let to = to_inner.clone();
                async move { (StatusCode::FOUND, [(LOCATION, to)]) }
            }),
        )
        .route(
            "/metadata",
            any(|| async {
                (
                    StatusCode::MOVED_PERMANENTLY,
                    [(LOCATION, "http://169.254.169.254/latest/meta-data/")],
                )
            }),
        )
        .route("/fine", any(|| async { "ok" }));
    let (outer, outer_log) = serve(router).await;
    let links = checker(LinkPolicy {
        allow_loopback: false,
        allow_networks: vec!["127.0.0.1/32".into()],
        ..policy()
    });
    assert_eq!(links.check(&url(outer, "/fine")).await.class, LinkClass::Ok);
    // The vetting itself: 127.0.0.2 directly is refused.
    let direct = links.check(&url(inner, "/secret")).await;
    assert_eq!(direct.class, LinkClass::Blocked, "{direct:?}");

    let r = links.check(&url(outer, "/inner")).await;
    assert_eq!(r.class, LinkClass::Blocked, "{r:?}");
    assert_eq!(r.redirects, 1);
    assert_eq!(r.status, Some(302));
    assert!(r.detail.contains("127.0.0.2"), "{}", r.detail);
    let r = links.check(&url(outer, "/metadata")).await;
    assert_eq!(r.class, LinkClass::Blocked, "{r:?}");
    assert!(r.detail.contains("link-local"), "{}", r.detail);
    assert_eq!(
        inner_log.len(),
        0,
        "the redirect reached the refused address"
    );
    assert_eq!(outer_log.len(), 3);
}

#[tokio::test]
async fn a_url_listed_fifty_times_is_requested_once() {
    let (addr, log) = serve(Router::new().fallback(|| async { "ok" })).await;
    let links = checker(policy());
    let link = url(addr, "/same.csv");
    let mut with_fragment = link.clone();
    with_fragment.set_fragment(Some("sheet2"));
    let mut urls = vec![link.clone(); 50];
    urls.push(with_fragment.clone());
    let results = links.check_all(urls).await;
    assert_eq!(results.len(), 2);
    assert_eq!(results[&link].class, LinkClass::Ok);
    assert_eq!(results[&with_fragment].class, LinkClass::Ok);
    assert_eq!(log.len(), 1);
    assert_eq!(links.stats().requests, 1);
}

#[tokio::test]
async fn concurrent_checks_of_one_url_share_one_request() {
    let router = Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        "ok"
    });
    let (addr, log) = serve(router).await;
    let links = checker(policy());
    let link = url(addr, "/shared.csv");
    let checks = (0..20).map(|_| links.check(&link));
    let results = futures_util::future::join_all(checks).await;
    assert!(results.iter().all(|r| r.class == LinkClass::Ok));
    assert_eq!(results.iter().filter(|r| !r.from_cache).count(), 1);
    assert_eq!(log.len(), 1);
    assert_eq!(links.stats().coalesced, 19);
}

#[tokio::test]
async fn a_second_pass_within_the_ttl_costs_no_request() {
    let (addr, log) = serve(Router::new().fallback(|| async { "ok" })).await;
    let links = checker(policy());
    let urls: Vec<Url> = (0..10).map(|i| url(addr, &format!("/{i}.csv"))).collect();
    let first = links.check_all(urls.clone()).await;
    assert!(
        first
            .values()
            .all(|r| r.class == LinkClass::Ok && !r.from_cache)
    );
    assert_eq!(log.len(), 10);
    let second = links.check_all(urls.clone()).await;
    assert!(
        second
            .values()
            .all(|r| r.class == LinkClass::Ok && r.from_cache)
    );
    assert_eq!(log.len(), 10);
    let stats = links.stats();
    assert_eq!(
        (stats.checks, stats.cache_hits, stats.requests),
        (10, 10, 10)
    );
    // A clone shares the cache.
    assert!(links.clone().check(&urls[0]).await.from_cache);

    // With no TTL, every pass asks again.
    let forgetful = checker(LinkPolicy {
        cache_ttl: Duration::ZERO,
        ..policy()
    });
    forgetful.check(&urls[0]).await;
    let again = forgetful.check(&urls[0]).await;
    assert!(!again.from_cache);
    assert_eq!(log.len(), 12);
}

/// Counts requests in flight and remembers the most seen at once.
fn gauge_router(hold: Duration) -> (Router, Arc<AtomicUsize>) {
    let now = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let seen_max = max.clone();
    let router = Router::new().fallback(move || {
        let (now, max) = (now.clone(), max.clone());
        async move {
            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(hold).await;
            now.fetch_sub(1, Ordering::SeqCst);
            "ok"
        }
    });
    (router, seen_max)
}

#[tokio::test]
async fn a_host_never_sees_more_than_its_concurrency() {
    let (router, max) = gauge_router(Duration::from_millis(50));
    let (addr, log) = serve(router).await;
    let links = checker(LinkPolicy {
        per_host_concurrency: 3,
        ..policy()
    });
    let urls: Vec<Url> = (0..12).map(|i| url(addr, &format!("/{i}"))).collect();
    let results = links.check_all(urls).await;
    assert!(results.values().all(|r| r.class == LinkClass::Ok));
    assert_eq!(log.len(), 12);
    let max = max.load(Ordering::SeqCst);
    assert!((2..=3).contains(&max), "{max} requests in flight at once");
}

#[tokio::test]
async fn the_global_limit_holds_across_hosts() {
    let (router, max) = gauge_router(Duration::from_millis(50));
    let (addr, _) = serve(router).await;
    let links = checker(LinkPolicy {
        global_concurrency: 2,
        per_host_concurrency: 16,
        ..policy()
    });
    // Two host names for one server: 127.0.0.1 and localhost.
    let urls: Vec<Url> = (0..8)
        .flat_map(|i| {
            [
                url(addr, &format!("/{i}")),
                Url::parse(&format!("http://localhost:{}/{i}", addr.port())).unwrap(),
            ]
        })
        .collect();
    let results = links.check_all(urls).await;
    assert!(
        results.values().all(|r| r.class == LinkClass::Ok),
        "{results:?}"
    );
    assert!(max.load(Ordering::SeqCst) <= 2);
}

#[tokio::test]
async fn requests_to_a_host_are_spaced_by_its_interval() {
    let (addr, log) = serve(Router::new().fallback(|| async { "ok" })).await;
    let links = checker(LinkPolicy {
        per_host_interval: Duration::from_millis(150),
        ..policy()
    });
    let urls: Vec<Url> = (0..4).map(|i| url(addr, &format!("/{i}"))).collect();
    links.check_all(urls).await;
    let mut at: Vec<Instant> = log.all().into_iter().map(|s| s.at).collect();
    at.sort();
    assert_eq!(at.len(), 4);
    // The checker spaces the requests' starts; the server sees their arrivals, which a
    // loaded machine delays unevenly (the first also opens the connection). Unthrottled,
    // the four arrive within a few milliseconds of each other; throttled, every gap is
    // the interval give or take that jitter: half the interval tells the two apart.
    for pair in at.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(75), "requests {gap:?} apart");
    }
}

#[tokio::test]
async fn results_serialise_for_the_store() {
    let (addr, _) =
        serve(Router::new().fallback(|| async { ([(CONTENT_TYPE, "text/csv")], "") })).await;
    let r = checker(policy()).check(&url(addr, "/a.csv")).await;
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["class"], "ok");
    assert_eq!(json["method"], "head");
    assert_eq!(json["content_type"], "text/csv");
    let back: dtindex::links::LinkResult = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}

/// `dtindex check-links` checks a list as the daemon would, one line per URL in the
/// list's order, each URL requested once however often it is listed, and fails when a
/// link does.
#[tokio::test]
async fn the_check_links_command_prints_one_verdict_per_url() {
    let router = Router::new()
        .route(
            "/ok.csv",
            any(|| async { ([(CONTENT_TYPE, "text/csv")], "") }),
        )
        .route("/gone.csv", any(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/old.csv",
            any(|| async { (StatusCode::MOVED_PERMANENTLY, [(LOCATION, "/ok.csv")]) }),
        );
    let (addr, log) = serve(router).await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("urls.txt");
    std::fs::write(
        &list,
        format!(
            "# a comment\nhttp://{addr}/ok.csv\nnot a url\nhttp://{addr}/gone.csv\n\nhttp://{addr}/old.csv\nhttp://{addr}/ok.csv\n"
        ),
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_dtindex"))
            .arg("check-links")
            .arg(&list)
            .args(["--allow-loopback", "--interval-ms", "0", "--retries", "0"])
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stdout,
        format!(
            "ok\t200\thttp://{addr}/ok.csv\nclient_error\t404\thttp://{addr}/gone.csv\nredirect\t200\thttp://{addr}/old.csv\nok\t200\thttp://{addr}/ok.csv\n"
        ),
        "{stderr}"
    );
    assert!(stderr.contains(":3: `not a url` is not a URL"), "{stderr}");
    assert!(stderr.contains("1 failing"), "{stderr}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failing link fails the command"
    );
    let ok_requests = log.all().iter().filter(|s| s.path == "/ok.csv").count();
    assert_eq!(
        ok_requests, 2,
        "once listed twice, once as /old.csv's target"
    );
}
