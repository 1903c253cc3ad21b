//! Probing: does each data-sharing service answer, how fast, until when its TLS
//! certificate is valid, and does it describe its API; and checking the claims of an
//! agency's declaration (a cited document resolves, a declared platform answers).
//!
//! A probe is a GET that waits for the headers and then drops the connection: a sharing
//! service's body can be large, and its status and latency are what is measured.

pub mod phases;

use url::Url;

use crate::declaration::{self, DeclaredService};
use crate::fetch::Fetcher;
use crate::observation::{
    ApiDescription, CatalogOutcome, CheckedClaim, CheckedDocument, DeclarationObservation, Failure,
    FailureClass, ProbeObservation,
};
use crate::registry::ServiceEndpoint;

pub async fn probe(fetcher: &Fetcher, service: &ServiceEndpoint) -> ProbeObservation {
    let started = std::time::Instant::now();
    let check = &service.check;
    let mut obs = ProbeObservation {
        url: service.url.to_string(),
        platform: service.platform.clone(),
        http_status: None,
        latency_ms: 0,
        failure: None,
        tls_expires_at: None,
        api_description: None,
        http_version: None,
        phases: None,
    };
    match fetcher.answer(&service.url, check.timeout).await {
        Ok((mut response, latency)) => {
            obs.latency_ms = latency.as_millis() as u64;
            obs.tls_expires_at = response
                .extensions()
                .get::<reqwest::tls::TlsInfo>()
                .and_then(|info| info.peer_certificate())
                .and_then(certificate_expiry);
            obs.http_version = Some(format!("{:?}", response.version()));
            let status = response.status();
            obs.http_status = Some(status.as_u16());
            let status_ok = match check.expect_status {
                Some(expected) => status.as_u16() == expected,
                None => status.is_success(),
            };
            obs.failure = if !status_ok {
                Some(Failure {
                    class: FailureClass::Status,
                    message: match check.expect_status {
                        Some(expected) => {
                            format!(
                                "the service answered HTTP {status}, not the {expected} expected"
                            )
                        }
                        None => format!("the server answered HTTP {status}"),
                    },
                })
            } else if let Some(needle) = &check.expect_body {
                let head = body_head(&mut response, BODY_CHECK_HEAD).await;
                match head {
                    Ok(head) if contains(&head, needle.as_bytes()) => None,
                    Ok(_) => Some(Failure {
                        class: FailureClass::Body,
                        message: format!(
                            "the answer does not contain the expected `{needle}` in its first {} KiB",
                            BODY_CHECK_HEAD / 1024
                        ),
                    }),
                    Err(e) => Some(Failure {
                        class: FailureClass::Body,
                        message: format!("the answer broke off: {e}"),
                    }),
                }
            } else {
                None
            };
        }
        Err((failure, status)) => {
            obs.http_status = status;
            obs.latency_ms = started.elapsed().as_millis() as u64;
            obs.failure = Some(failure);
        }
    }
    // Timed after the verdict, not beside it, so the two requests don't slow each other.
    obs.phases = fetcher.phases(&service.url, check.timeout).await.ok();
    if let Some(url) = &service.api_description {
        obs.api_description = Some(api_description(fetcher, url).await);
    }
    obs
}

/// How much of a service's answer is searched for its expected text.
const BODY_CHECK_HEAD: usize = 64 * 1024;

/// The first `limit` bytes of a body (fewer if it is shorter); the rest is never read.
async fn body_head(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut head = Vec::new();
    while head.len() < limit {
        match response.chunk().await? {
            Some(chunk) => head.extend_from_slice(&chunk[..chunk.len().min(limit - head.len())]),
            None => break,
        }
    }
    Ok(head)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// How much of an API description is read to recognise it.
const DESCRIPTION_HEAD: usize = 64 * 1024;

/// Fetches an API description and recognises it as OpenAPI, Swagger or WSDL.
pub async fn api_description(fetcher: &Fetcher, url: &Url) -> ApiDescription {
    let (kind, problem) = match fetcher.get(url).await {
        Ok(mut page) => match page.body.head(DESCRIPTION_HEAD) {
            Ok(head) => match describe(&head) {
                Some(kind) => (Some(kind.to_string()), None),
                None => (
                    None,
                    Some(format!(
                        "the document ({}) is neither OpenAPI, Swagger nor WSDL",
                        page.content_type.as_deref().unwrap_or("no Content-Type")
                    )),
                ),
            },
            Err(e) => (None, Some(format!("the document could not be read: {e}"))),
        },
        Err((failure, _)) => (None, Some(failure.message)),
    };
    ApiDescription {
        url: url.to_string(),
        kind,
        problem,
    }
}

/// The kind of API description a document's first bytes show.
pub fn describe(head: &[u8]) -> Option<&'static str> {
    let text = String::from_utf8_lossy(head);
    let key = |name: &str| {
        // JSON (`"openapi": "3.1.0"`) or YAML (`openapi: 3.1.0`) at any indentation.
        text.contains(&format!("\"{name}\""))
            || text
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{name}:")))
    };
    if key("openapi") {
        Some("openapi")
    } else if key("swagger") {
        Some("swagger")
    } else if text.contains("schemas.xmlsoap.org/wsdl") || text.contains("www.w3.org/ns/wsdl") {
        Some("wsdl")
    } else {
        None
    }
}

/// Fetches and reads an agency's declaration, checks each claim that has a URL, and
/// returns the services it declares (to be probed with the registry's).
pub async fn declaration(
    fetcher: &Fetcher,
    url: Option<&Url>,
) -> (DeclarationObservation, Vec<ServiceEndpoint>) {
    let Some(url) = url else {
        return (DeclarationObservation::default(), Vec::new());
    };
    let mut obs = DeclarationObservation {
        url: Some(url.to_string()),
        ..DeclarationObservation::default()
    };
    let page = match fetcher.get(url).await {
        Ok(page) => page,
        Err((failure, _)) => {
            obs.outcome = CatalogOutcome::FetchFailed(failure);
            return (obs, Vec::new());
        }
    };
    let parsed = page
        .body
        .reader()
        .map_err(|e| e.to_string())
        .and_then(|mut r| {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut r, &mut bytes).map_err(|e| e.to_string())?;
            declaration::parse(&bytes)
        });
    let declared = match parsed {
        Ok(d) => d,
        Err(message) => {
            obs.outcome = CatalogOutcome::ParseFailed(message);
            return (obs, Vec::new());
        }
    };
    obs.outcome = CatalogOutcome::Parsed;
    let documents = declared.documents.iter().map(|doc| async move {
        CheckedDocument {
            kind: doc.kind,
            number: doc.number.clone(),
            date: doc.date.clone(),
            claim: check_claim(fetcher, url, true, doc.url.as_deref()).await,
        }
    });
    obs.documents = futures_util::future::join_all(documents).await;
    if let Some(p) = &declared.analytics_platform {
        obs.platform = Some(check_claim(fetcher, url, p.deployed, p.url.as_deref()).await);
    }
    let services = declared
        .services
        .iter()
        .filter_map(|s| service_of(url, s))
        .map(|mut s| {
            // A description at a refused address is as good as none.
            if s.api_description
                .as_ref()
                .is_some_and(|d| fetcher.refusal(d).is_some())
            {
                s.api_description = None;
            }
            s
        })
        .collect();
    (obs, services)
}

/// A declared service at an address the policy refuses: down, and never requested.
pub fn refused(service: &ServiceEndpoint, why: String) -> ProbeObservation {
    ProbeObservation {
        url: service.url.to_string(),
        platform: service.platform.clone(),
        http_status: None,
        latency_ms: 0,
        failure: Some(Failure {
            class: FailureClass::Connect,
            message: why,
        }),
        tls_expires_at: None,
        api_description: None,
        http_version: None,
        phases: None,
    }
}

/// A declared service as a registry entry; URLs are resolved against the declaration's.
fn service_of(base: &Url, s: &DeclaredService) -> Option<ServiceEndpoint> {
    let url = base.join(&s.url).ok()?;
    Some(ServiceEndpoint {
        url,
        platform: s.platform.clone(),
        api_description: s.api_description.as_deref().and_then(|a| base.join(a).ok()),
        check: Default::default(),
    })
}

async fn check_claim(
    fetcher: &Fetcher,
    base: &Url,
    claimed: bool,
    url: Option<&str>,
) -> CheckedClaim {
    let mut claim = CheckedClaim {
        claimed,
        url: url.map(str::to_string),
        resolves: None,
        detail: None,
    };
    let Some(text) = url else {
        return claim;
    };
    match base.join(text) {
        Ok(target) if fetcher.refusal(&target).is_some() => {
            claim.resolves = Some(false);
            claim.detail = fetcher.refusal(&target);
        }
        Ok(target) if matches!(target.scheme(), "http" | "https") => {
            match fetcher.head_of(&target).await {
                Ok(_) => claim.resolves = Some(true),
                Err((failure, _)) => {
                    claim.resolves = Some(false);
                    claim.detail = Some(failure.message);
                }
            }
        }
        _ => {
            claim.resolves = Some(false);
            claim.detail = Some(format!("`{text}` is not an http(s) URL"));
        }
    }
    claim
}

/// The `notAfter` of a DER certificate, as Unix seconds.
pub fn certificate_expiry(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_read_from_the_certificate() {
        let tls = crate::simulate::tls::generate(30).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(tls.cert_pem.as_bytes()).unwrap();
        assert_eq!(certificate_expiry(&pem.contents), Some(tls.not_after));
        let in_30_days = chrono::Utc::now().timestamp() + 30 * 86400;
        assert!((tls.not_after - in_30_days).abs() < 86400 * 2);
        assert_eq!(certificate_expiry(b"not a certificate"), None);
    }

    #[test]
    fn api_descriptions_are_recognised() {
        assert_eq!(
            describe(br#"{"openapi": "3.1.0", "info": {}}"#),
            Some("openapi")
        );
        assert_eq!(
            describe(b"openapi: 3.0.3\ninfo:\n  title: x\n"),
            Some("openapi")
        );
        assert_eq!(describe(br#"{"swagger":"2.0"}"#), Some("swagger"));
        assert_eq!(
            describe(br#"<definitions xmlns="http://schemas.xmlsoap.org/wsdl/">"#),
            Some("wsdl")
        );
        assert_eq!(
            describe(b"<html><body>API docs coming soon</body></html>"),
            None
        );
    }
}
