//! The hostile profile: agencies whose servers are slow, broken, lying or attacking.
//!
//! Each hostile agency gets one [`Hostility`] from a fixed table, and the table says which
//! finding it must cost the agency ([`Hostility::expected`]), so a test can check every
//! behaviour against its finding from one place. Everything here is served for real on
//! loopback: resets are TCP resets, TLS faults are real handshakes with bad certificates,
//! bombs are real gzip. Links to private and metadata addresses are only ever *listed*:
//! nothing listens there, and the daemon must refuse them by policy without asking.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use url::Url;

use super::render::{self, SimRecord};
use super::{FILES_HOST, Federation, SimAgency};
use crate::links::LinkClass;
use crate::observation::FailureClass;
use crate::registry::{CatalogEndpoint, CatalogFormat, Registry, ServiceEndpoint};

/// The host name a flooding catalog's links all point at (resolved to the simulator, like
/// [`FILES_HOST`]): a host of its own, so the flood meets the per-host limits alone.
pub const FLOOD_HOST: &str = "flood.federation.dtindex";

/// How many links a flooding catalog lists on [`FLOOD_HOST`].
pub const FLOOD_LINKS: usize = 1000;

/// The size of the oversized bodies. A crawl meant to see them refused sets its
/// `max_body_bytes` below this.
pub const OVERSIZED_BYTES: usize = 4 * 1024 * 1024;

/// Declares [`Hostility`] and its [`Hostility::ALL`] from one list, so the table cannot
/// forget a behaviour.
macro_rules! hostilities {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// What a hostile agency does. Catalog behaviours concern `/{code}/data.json` (or
        /// the CKAN or Turtle form for the paging loops), service behaviours its one sharing
        /// service, link behaviours the download URLs its catalog lists.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Hostility {
            $($(#[$doc])* $name,)*
        }

        impl Hostility {
            pub const ALL: &[Hostility] = &[$(Hostility::$name,)*];
        }
    };
}

hostilities! {
    // The catalog's fetch.
    CatalogServerError,
    CatalogNotFound,
    CatalogForbidden,
    /// 429 with a Retry-After of a day.
    CatalogRateLimited,
    /// 304 to a request that had no validators.
    CatalogNotModified,
    /// A body over the cap, with its Content-Length.
    CatalogDeclaredTooLarge,
    /// A body over the cap, chunked, without a length.
    CatalogStreamTooLarge,
    /// A few KB of gzip that inflate to many MB.
    CatalogGzipBomb,
    /// One byte at a time, never finishing.
    CatalogTrickle,
    /// The headers and the first bytes, then silence.
    CatalogStall,
    /// Accepts the request and never answers.
    CatalogNoAnswer,
    CatalogRedirectLoop,
    /// A redirect to a new URL each time, without end.
    CatalogRedirectChain,
    /// A redirect to a port where nothing listens.
    CatalogRedirectRefused,
    /// Part of the body, then the connection is aborted.
    CatalogReset,
    /// Says gzip, is not.
    CatalogBadGzip,
    /// HTTPS with a certificate from an authority nobody trusts.
    CatalogUntrustedTls,
    CatalogExpiredTls,
    /// HTTPS with a certificate for another name.
    CatalogMisnamedTls,
    // The catalog's content.
    /// An HTML page where JSON was promised.
    CatalogHtml,
    /// Random bytes labelled JSON.
    CatalogGarbage,
    CatalogTruncated,
    CatalogEmptyBody,
    /// `[[[[…` a hundred thousand deep: a parser that recurses overflows its stack.
    CatalogDeepNesting,
    /// UTF-16 with a byte-order mark.
    CatalogUtf16,
    /// Vietnamese in a legacy single-byte encoding: not UTF-8.
    CatalogLegacyEncoding,
    /// `dataset` is not a list.
    CatalogWrongShape,
    /// A valid data.json served as `image/png`.
    CatalogTypeLie,
    /// Valid and empty.
    CatalogEmpty,
    /// Every record twice.
    CatalogDuplicates,
    /// Records sharing an identifier and disagreeing on everything else.
    CatalogConflicts,
    /// `<script>` and event handlers in titles and descriptions.
    CatalogMarkup,
    /// NUL, escape sequences and other control characters in text.
    CatalogControlCharacters,
    /// `=HYPERLINK(…)`, `+cmd|…`, `@SUM(…)`: what a spreadsheet export would run.
    CatalogFormulaPrefixes,
    /// Dates that are not dates.
    CatalogBadDates,
    /// A CKAN portal that ignores `start`: the same page forever, with a huge count.
    CkanPagingLoop,
    /// A Turtle page whose `hydra:next` is itself.
    TurtleNextLoop,
    // The sharing service.
    ServiceServerError,
    /// Registered on a port where nothing listens.
    ServiceRefused,
    ServiceNoAnswer,
    /// 200, and a body that says it is down.
    ServiceSaysDown,
    ServiceRedirectLoop,
    /// Accepts the connection and resets it.
    ServiceReset,
    ServiceUntrustedTls,
    ServiceExpiredTls,
    ServiceMisnamedTls,
    /// Its "OpenAPI description" is an HTML page.
    ServiceApiDescriptionLies,
    // The catalog's links.
    /// A link to the cloud metadata address 169.254.169.254.
    LinkMetadataAddress,
    /// A link into a private network (10/8).
    LinkPrivateAddress,
    /// A link to a cloud metadata service by name.
    LinkMetadataName,
    /// A link to an IPv6 link-local address.
    LinkLinkLocalV6,
    /// A public-looking link that redirects to the metadata address.
    LinkRedirectToMetadata,
    LinkRedirectLoop,
    /// [`FLOOD_LINKS`] links to one host, each a 404.
    LinkFlood,
    /// Declared `text/csv`, served as an HTML page.
    LinkTypeLie,
    /// Never answers.
    LinkNoAnswer,
}

/// What a behaviour must cost its agency: a finding with `rule`, and what the observation
/// shows of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub rule: &'static str,
    pub evidence: Evidence,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// The catalog's fetch failed so.
    Fetch(FailureClass),
    /// The catalog was fetched and could not be read.
    Parse,
    /// The catalog was read; the finding says what is wrong in it.
    Content,
    /// The probe of the service failed so.
    Probe(FailureClass),
    /// At least one of the catalog's links was checked with this class.
    Link(LinkClass),
}

/// Which TLS fault a listener has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFault {
    Untrusted,
    Expired,
    Misnamed,
}

impl Hostility {
    /// The finding each behaviour must produce: the table the hostile test checks.
    pub fn expected(self) -> Expected {
        use Evidence::*;
        use FailureClass as F;
        use Hostility::*;
        let (rule, evidence) = match self {
            CatalogServerError | CatalogNotFound | CatalogForbidden | CatalogRateLimited
            | CatalogNotModified => ("T1.catalog-unreachable", Fetch(F::Status)),
            CatalogDeclaredTooLarge | CatalogStreamTooLarge | CatalogGzipBomb => {
                ("T1.catalog-unreachable", Fetch(F::TooLarge))
            }
            CatalogTrickle | CatalogStall | CatalogNoAnswer => {
                ("T1.catalog-unreachable", Fetch(F::Timeout))
            }
            CatalogRedirectLoop | CatalogRedirectChain => {
                ("T1.catalog-unreachable", Fetch(F::Redirect))
            }
            CatalogRedirectRefused
            | CatalogUntrustedTls
            | CatalogExpiredTls
            | CatalogMisnamedTls => ("T1.catalog-unreachable", Fetch(F::Connect)),
            CatalogReset | CatalogBadGzip => ("T1.catalog-unreachable", Fetch(F::Body)),
            CatalogHtml
            | CatalogGarbage
            | CatalogTruncated
            | CatalogEmptyBody
            | CatalogDeepNesting
            | CatalogUtf16
            | CatalogLegacyEncoding
            | CatalogWrongShape => ("T1.catalog-invalid", Parse),
            CatalogTypeLie => ("T1.content-type", Content),
            CatalogEmpty => ("T1.catalog-empty", Content),
            CatalogDuplicates | CatalogConflicts => ("Q.clean.duplicate-identifier", Content),
            CatalogMarkup | CatalogControlCharacters | CatalogFormulaPrefixes => {
                ("T1.unsafe-text", Content)
            }
            CatalogBadDates => ("Q.correct.date", Content),
            CkanPagingLoop | TurtleNextLoop => ("T1.paging", Content),
            ServiceServerError => ("T4.service-down", Probe(F::Status)),
            ServiceSaysDown => ("T4.service-down", Probe(F::Body)),
            ServiceRefused | ServiceReset | ServiceUntrustedTls | ServiceExpiredTls
            | ServiceMisnamedTls => ("T4.service-down", Probe(F::Connect)),
            ServiceNoAnswer => ("T4.service-down", Probe(F::Timeout)),
            ServiceRedirectLoop => ("T4.service-down", Probe(F::Redirect)),
            ServiceApiDescriptionLies => ("T4.api-description-invalid", Content),
            LinkMetadataAddress
            | LinkPrivateAddress
            | LinkMetadataName
            | LinkLinkLocalV6
            | LinkRedirectToMetadata
            | LinkRedirectLoop => ("Q.clean.broken-links", Link(LinkClass::Blocked)),
            LinkFlood => ("Q.clean.broken-links", Link(LinkClass::ClientError)),
            LinkNoAnswer => ("Q.clean.broken-links", Link(LinkClass::Timeout)),
            LinkTypeLie => ("Q.correct.served-type", Link(LinkClass::Ok)),
        };
        Expected { rule, evidence }
    }

    /// The TLS fault of the listener the agency's catalog or service is on, if any.
    fn tls_fault(self) -> Option<TlsFault> {
        use Hostility::*;
        match self {
            CatalogUntrustedTls | ServiceUntrustedTls => Some(TlsFault::Untrusted),
            CatalogExpiredTls | ServiceExpiredTls => Some(TlsFault::Expired),
            CatalogMisnamedTls | ServiceMisnamedTls => Some(TlsFault::Misnamed),
            _ => None,
        }
    }

    fn is_service(self) -> bool {
        format!("{self:?}").starts_with("Service")
    }
}

/// Where the hostile federation's faulty listeners are.
#[derive(Debug, Clone)]
pub struct Faults {
    /// Nothing listens here.
    pub refused: SocketAddr,
    /// Accepts connections and resets them.
    pub reset: Url,
    pub untrusted: Url,
    pub expired: Url,
    pub misnamed: Url,
}

impl Faults {
    /// Starts the faulty listeners: a TCP port that resets every connection, and three
    /// HTTPS servers of the federation with an untrusted, an expired and a misnamed
    /// certificate. They live as long as the runtime.
    pub async fn start(federation: Arc<Federation>) -> anyhow::Result<Faults> {
        let reset = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let reset_url = Url::parse(&format!("http://{}/", reset.local_addr()?))?;
        tokio::spawn(async move {
            while let Ok((stream, _)) = reset.accept().await {
                // Linger 0: the close is a RST, not a FIN. (Deprecated because a non-zero
                // linger blocks the thread on drop; a zero one does not.)
                #[allow(deprecated)]
                let _ = stream.set_linger(Some(Duration::ZERO));
                drop(stream);
            }
        });
        let mut bases = Vec::new();
        for fault in [TlsFault::Untrusted, TlsFault::Expired, TlsFault::Misnamed] {
            let tls = match fault {
                // A fresh CA the daemon is never told about.
                TlsFault::Untrusted => super::tls::generate(90)?,
                TlsFault::Expired => super::tls::generate_for(-2, &["localhost", "127.0.0.1"])?,
                TlsFault::Misnamed => super::tls::generate_for(90, &["portal.other.invalid"])?,
            };
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            bases.push(Url::parse(&format!("https://{}/", listener.local_addr()?))?);
            let f = federation.clone();
            tokio::spawn(async move {
                if let Err(e) = super::tls::serve_tls(listener, f, &tls).await {
                    tracing::error!(error = %e, "a faulty HTTPS listener of the simulator stopped");
                }
            });
        }
        let [untrusted, expired, misnamed] = <[Url; 3]>::try_from(bases)
            .map_err(|_| anyhow::anyhow!("three faulty listeners were started"))?;
        Ok(Faults {
            refused: super::refused_address()?,
            reset: reset_url,
            untrusted,
            expired,
            misnamed,
        })
    }

    fn tls(&self, fault: TlsFault) -> &Url {
        match fault {
            TlsFault::Untrusted => &self.untrusted,
            TlsFault::Expired => &self.expired,
            TlsFault::Misnamed => &self.misnamed,
        }
    }
}

impl Federation {
    /// Points each hostile agency of `registry` at its behaviour: its catalog (in the form
    /// the behaviour needs, or on a faulty listener), one sharing service, no declaration.
    pub fn point_hostile(&self, registry: &mut Registry, base: &Url, faults: &Faults) {
        for agency in &mut registry.agencies {
            let Some(h) = self.agency(&agency.code).and_then(|a| a.hostility) else {
                continue;
            };
            let code = &agency.code;
            let catalog_base = match h.tls_fault() {
                Some(fault) if !h.is_service() => faults.tls(fault),
                _ => base,
            };
            let (path, format) = match h {
                Hostility::CkanPagingLoop => ("ckan/", CatalogFormat::Ckan),
                Hostility::TurtleNextLoop => ("catalog.ttl", CatalogFormat::Auto),
                _ => ("data.json", CatalogFormat::Auto),
            };
            agency.catalog = catalog_base
                .join(&format!("{code}/{path}"))
                .ok()
                .map(|url| CatalogEndpoint {
                    url,
                    format,
                    organization: None,
                });
            let service = match h {
                Hostility::ServiceRefused => {
                    Url::parse(&format!("http://{}/{code}/services/0", faults.refused)).ok()
                }
                Hostility::ServiceReset => faults.reset.join(&format!("{code}/services/0")).ok(),
                _ => match h.tls_fault() {
                    Some(fault) if h.is_service() => faults.tls(fault),
                    _ => base,
                }
                .join(&format!("{code}/services/0"))
                .ok(),
            };
            let api_description = (h == Hostility::ServiceApiDescriptionLies)
                .then(|| base.join(&format!("{code}/services/0/openapi.json")).ok())
                .flatten();
            agency.services = service
                .into_iter()
                .map(|url| ServiceEndpoint {
                    url,
                    platform: Some("LGSP".into()),
                    api_description: api_description.clone(),
                    check: crate::registry::ServiceCheck {
                        expect_body: Some("\"status\":\"ok\"".into()),
                        ..Default::default()
                    },
                })
                .collect();
            agency.declaration_url = None;
        }
    }

    /// A hostile agency's records: complete ones, whose download URLs the link behaviours
    /// replace.
    fn hostile_records(&self, sim: &SimAgency, h: Hostility, port: &str) -> Vec<SimRecord> {
        let files = format!("http://{FILES_HOST}:{port}/");
        let mut records = self.records(sim, &files);
        let replace = |records: &mut Vec<SimRecord>, url: &dyn Fn(usize) -> String| {
            for (i, r) in records.iter_mut().enumerate() {
                r.download_url = Some(url(i));
            }
        };
        match h {
            Hostility::LinkMetadataAddress => replace(&mut records, &|_| {
                "http://169.254.169.254/latest/meta-data/iam/security-credentials/".into()
            }),
            Hostility::LinkPrivateAddress => replace(&mut records, &|i| {
                format!("http://10.20.30.{}/du-lieu.csv", i + 1)
            }),
            Hostility::LinkMetadataName => replace(&mut records, &|_| {
                "http://metadata.google.internal/computeMetadata/v1/".into()
            }),
            Hostility::LinkLinkLocalV6 => replace(&mut records, &|i| {
                format!("http://[fe80::{}]/du-lieu.csv", i + 1)
            }),
            Hostility::LinkFlood => {
                if let Some(first) = records.first_mut() {
                    first.more_downloads = (0..FLOOD_LINKS)
                        .map(|i| format!("http://{FLOOD_HOST}:{port}/{}/files/{i}.csv", sim.code))
                        .collect();
                }
            }
            _ => {}
        }
        records
    }

    /// Any catalog route of a hostile agency.
    pub(super) async fn hostile_catalog(
        &self,
        sim: &SimAgency,
        h: Hostility,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Response {
        use Hostility::*;
        let port = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.rsplit_once(':'))
            .map_or("80", |(_, port)| port)
            .to_string();
        let mut records = self.hostile_records(sim, h, &port);
        let query = uri.query().unwrap_or_default();
        let json_type = [(header::CONTENT_TYPE, "application/json")];
        match h {
            CatalogServerError => (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
            CatalogNotFound => StatusCode::NOT_FOUND.into_response(),
            CatalogForbidden => (StatusCode::FORBIDDEN, "Forbidden").into_response(),
            CatalogRateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "86400")],
                "slow down",
            )
                .into_response(),
            CatalogNotModified => StatusCode::NOT_MODIFIED.into_response(),
            CatalogDeclaredTooLarge => (json_type, vec![b' '; OVERSIZED_BYTES]).into_response(),
            CatalogStreamTooLarge => {
                let chunks = futures_util::stream::iter((0..OVERSIZED_BYTES / 65536).map(|_| {
                    Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 65536]))
                }));
                (json_type, Body::from_stream(chunks)).into_response()
            }
            CatalogGzipBomb => (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CONTENT_ENCODING, "gzip"),
                ],
                gzip_bomb().to_vec(),
            )
                .into_response(),
            CatalogTrickle => {
                let bytes = futures_util::stream::unfold((), |()| async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Some((Ok::<_, std::io::Error>(bytes::Bytes::from_static(b" ")), ()))
                });
                (json_type, Body::from_stream(bytes)).into_response()
            }
            CatalogStall => {
                let head = futures_util::stream::once(async {
                    Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{\"dataset\":["))
                });
                let never = futures_util::stream::pending();
                (json_type, Body::from_stream(futures_util::StreamExt::chain(head, never)))
                    .into_response()
            }
            CatalogNoAnswer => std::future::pending().await,
            CatalogRedirectLoop => {
                let to = if query.is_empty() {
                    format!("{}?again=1", uri.path())
                } else {
                    uri.path().to_string()
                };
                (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
            }
            CatalogRedirectChain => {
                let hop: u64 = query
                    .strip_prefix("hop=")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let to = format!("{}?hop={}", uri.path(), hop + 1);
                (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
            }
            CatalogRedirectRefused => {
                let refused = super::refused_address()
                    .map_or_else(|_| "127.0.0.1:1".to_string(), |a| a.to_string());
                let to = format!("http://{refused}/data.json");
                (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
            }
            CatalogReset => {
                let head = futures_util::stream::once(async {
                    Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{\"dataset\":[{\"title\":"))
                });
                let abort = futures_util::stream::once(async {
                    // Lets the headers and the first bytes go out before the abort.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "the simulated server drops the connection",
                    ))
                });
                (json_type, Body::from_stream(futures_util::StreamExt::chain(head, abort)))
                    .into_response()
            }
            CatalogBadGzip => (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CONTENT_ENCODING, "gzip"),
                ],
                "{\"dataset\": [] } -- not gzip at all",
            )
                .into_response(),
            CatalogHtml => (
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<!DOCTYPE html><html><body><h1>Cổng dữ liệu</h1><p>Đăng nhập để tiếp tục.</p></body></html>",
            )
                .into_response(),
            CatalogGarbage => {
                use rand::{Rng as _, SeedableRng as _};
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed);
                let bytes: Vec<u8> = (0..4096).map(|_| rng.random()).collect();
                (json_type, bytes).into_response()
            }
            CatalogTruncated => {
                let body = render::datajson(&records);
                let cut = body.len() * 2 / 3;
                (json_type, body.into_bytes()[..cut].to_vec()).into_response()
            }
            CatalogEmptyBody => (json_type, "").into_response(),
            CatalogDeepNesting => {
                let mut body = String::from("{\"dataset\":");
                body.push_str(&"[".repeat(100_000));
                (json_type, body).into_response()
            }
            CatalogUtf16 => {
                let body = render::datajson(&records);
                let mut bytes = vec![0xFF, 0xFE];
                bytes.extend(body.encode_utf16().flat_map(u16::to_le_bytes));
                (json_type, bytes).into_response()
            }
            CatalogLegacyEncoding => {
                // Each character past ASCII as one byte, as a legacy code page would.
                let body: Vec<u8> = render::datajson(&records)
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)).unwrap_or(0xE0))
                    .collect();
                (json_type, body).into_response()
            }
            CatalogWrongShape => (
                json_type,
                r#"{"dataset": {"title": "Danh mục cơ sở dữ liệu", "count": 12}}"#,
            )
                .into_response(),
            CatalogTypeLie => (
                [(header::CONTENT_TYPE, "image/png")],
                render::datajson(&records),
            )
                .into_response(),
            CatalogEmpty => (json_type, render::datajson(&[])).into_response(),
            CatalogDuplicates => {
                let twice: Vec<SimRecord> = records.iter().chain(&records).cloned().collect();
                (json_type, render::datajson(&twice)).into_response()
            }
            CatalogConflicts => {
                let first = records.first().cloned();
                for (i, r) in records.iter_mut().enumerate() {
                    if let Some(first) = &first {
                        r.identifier = first.identifier.clone();
                    }
                    r.title = format!("{} (bản {i})", r.title);
                    r.modified = Some(format!("2025-{:02}-01", 1 + i % 12));
                }
                (json_type, render::datajson(&records)).into_response()
            }
            CatalogMarkup => {
                for r in &mut records {
                    r.title = format!("<script>alert('xss')</script>{}", r.title);
                    r.description = Some("<img src=x onerror=alert(1)><b>Dữ liệu</b>".into());
                }
                (json_type, render::datajson(&records)).into_response()
            }
            CatalogControlCharacters => {
                for r in &mut records {
                    r.title = format!("{}\u{0}\u{1b}[2J\u{1b}[31mĐÃ XÓA\u{7}", r.title);
                }
                (json_type, render::datajson(&records)).into_response()
            }
            CatalogFormulaPrefixes => {
                for (i, r) in records.iter_mut().enumerate() {
                    r.title = match i % 3 {
                        0 => format!("=HYPERLINK(\"http://evil.invalid\",\"{}\")", r.title),
                        1 => "+cmd|' /C calc'!A0".into(),
                        _ => "@SUM(1+1)*cmd|' /C calc'!A0".into(),
                    };
                }
                (json_type, render::datajson(&records)).into_response()
            }
            CatalogBadDates => {
                for (i, r) in records.iter_mut().enumerate() {
                    r.modified = Some(if i % 2 == 0 { "hôm qua" } else { "2026-13-45" }.into());
                }
                (json_type, render::datajson(&records)).into_response()
            }
            CkanPagingLoop => {
                let mut body: serde_json::Value =
                    serde_json::from_str(&render::ckan_search(&records, 0, super::PAGE_SIZE))
                        .unwrap_or_default();
                // Claims far more than it will ever page through.
                body["result"]["count"] = 1_000_000.into();
                (json_type, body.to_string()).into_response()
            }
            TurtleNextLoop => {
                let here = format!("http://simulated.invalid{}", uri.path());
                (
                    [(header::CONTENT_TYPE, "text/turtle")],
                    render::turtle(&here, &records, Some(uri.path())),
                )
                    .into_response()
            }
            // Their catalog is fine; their service or links are not (or the TLS listener
            // it is on fails the handshake before this is reached).
            _ => (json_type, render::datajson(&records)).into_response(),
        }
    }

    /// A hostile agency's sharing service.
    pub(super) async fn hostile_service(&self, code: &str, h: Hostility, uri: &Uri) -> Response {
        let ok = || axum::Json(serde_json::json!({ "service": code, "status": "ok" }));
        match h {
            Hostility::ServiceServerError => {
                (StatusCode::INTERNAL_SERVER_ERROR, "service unavailable").into_response()
            }
            Hostility::ServiceNoAnswer => std::future::pending().await,
            Hostility::ServiceSaysDown => {
                axum::Json(serde_json::json!({ "service": code, "status": "down" })).into_response()
            }
            Hostility::ServiceRedirectLoop => {
                let to = match uri.query() {
                    None => format!("{}?again=1", uri.path()),
                    Some(_) => uri.path().to_string(),
                };
                (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
            }
            _ => ok().into_response(),
        }
    }

    /// A hostile agency's "OpenAPI description".
    pub(super) fn hostile_openapi(h: Hostility) -> Response {
        match h {
            Hostility::ServiceApiDescriptionLies => (
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>API documentation coming soon</body></html>",
            )
                .into_response(),
            _ => StatusCode::NOT_FOUND.into_response(),
        }
    }

    /// A hostile agency's data file.
    pub(super) async fn hostile_file(code: &str, h: Hostility, uri: &Uri) -> Response {
        match h {
            Hostility::LinkRedirectToMetadata => (
                StatusCode::FOUND,
                [(
                    header::LOCATION,
                    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
                )],
            )
                .into_response(),
            Hostility::LinkRedirectLoop => {
                let to = match uri.query() {
                    None => format!("{}?again=1", uri.path()),
                    Some(_) => uri.path().to_string(),
                };
                (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
            }
            Hostility::LinkFlood => StatusCode::NOT_FOUND.into_response(),
            Hostility::LinkTypeLie => (
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                format!("<html><body>{code}: Trang chủ</body></html>"),
            )
                .into_response(),
            Hostility::LinkNoAnswer => std::future::pending().await,
            _ => (
                [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
                "ma,ten\n1,mot\n",
            )
                .into_response(),
        }
    }
}

/// 8 MiB of spaces, gzipped once to a few KB: far under any cap on the wire.
fn gzip_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        use std::io::Write as _;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..8 {
            // Writing to a Vec cannot fail.
            let _ = enc.write_all(&chunk);
        }
        enc.finish().unwrap_or_default()
    })
}

/// Turns every third agency of a federation hostile (index 2, 5, 8…), each with the next
/// behaviour of the table, leaving every other agency exactly as planned.
pub fn make_hostile(federation: &mut Federation) {
    for (n, sim) in federation
        .agencies
        .iter_mut()
        .skip(2)
        .step_by(3)
        .enumerate()
    {
        let h = Hostility::ALL[n % Hostility::ALL.len()];
        sim.profile = super::Profile::Hostile;
        sim.hostility = Some(h);
        sim.breakage = None;
        sim.datasets = 5;
        sim.services_up = vec![true];
        sim.published = match h {
            Hostility::CkanPagingLoop => super::Published::Ckan,
            Hostility::TurtleNextLoop => super::Published::DcatTurtle,
            _ => super::Published::DataJson,
        };
    }
}

/// A registry big enough for every behaviour to have an agency when a third are hostile:
/// the given one repeated under numbered codes (see [`super::Scale::registry`]).
pub fn registry_for_all(registry: &Registry) -> Registry {
    super::Scale {
        agencies: 3 * Hostility::ALL.len(),
        datasets: 0,
        links: 0,
    }
    .registry(registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_behaviour_once_and_at_least_forty() {
        let distinct: std::collections::HashSet<_> = Hostility::ALL.iter().collect();
        assert_eq!(distinct.len(), Hostility::ALL.len());
        assert!(Hostility::ALL.len() >= 40);
    }

    #[test]
    fn a_third_of_the_federation_turns_hostile_and_the_rest_is_unchanged() {
        let reg = registry_for_all(&Registry::builtin());
        let planned = Federation::plan(&reg, 4);
        let mut hostile = planned.clone();
        make_hostile(&mut hostile);
        let count = hostile
            .agencies
            .iter()
            .filter(|a| a.hostility.is_some())
            .count();
        assert_eq!(count, Hostility::ALL.len());
        assert_eq!(count * 3, reg.agencies.len());
        for (a, b) in planned.agencies.iter().zip(&hostile.agencies) {
            if b.hostility.is_none() {
                assert_eq!(
                    (a.profile, a.datasets, &a.services_up),
                    (b.profile, b.datasets, &b.services_up)
                );
            }
        }
    }

    #[test]
    fn the_bomb_is_small_on_the_wire() {
        assert!(gzip_bomb().len() < 64 * 1024, "{}", gzip_bomb().len());
    }
}
