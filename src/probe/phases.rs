//! How long each phase of reaching a sharing service takes: name lookup, TCP connect,
//! TLS handshake, and the wait for the first byte of the answer.
//!
//! reqwest hides its connection (pooled, maybe reused), so these are measured on a
//! connection of our own: one GET, no redirects followed, no body read. The verdict on
//! the service (up or down, its status, its certificate) stays with the probe's reqwest
//! request; this one only times. A slow phase tells an agency where to look: DNS, the
//! network, the TLS terminator, or the application behind it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use url::Url;

/// Milliseconds spent in each phase; `tls_ms` is `None` for plain HTTP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phases {
    pub dns_ms: u64,
    pub connect_ms: u64,
    pub tls_ms: Option<u64>,
    /// From the request sent to the answer's headers.
    pub first_byte_ms: u64,
}

impl Phases {
    /// Each phase by name, for the metric's `phase` label.
    pub fn named(&self) -> Vec<(&'static str, u64)> {
        let mut out = vec![("dns", self.dns_ms), ("connect", self.connect_ms)];
        if let Some(t) = self.tls_ms {
            out.push(("tls", t));
        }
        out.push(("first_byte", self.first_byte_ms));
        out
    }
}

/// The TLS settings of the timed connection: the platform's roots and the crawler's
/// extra ones, as reqwest trusts, and HTTP/1.1 only (one request needs no more).
pub fn tls_config(extra_roots_pem: &[String]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut extra = Vec::new();
    for pem in extra_roots_pem {
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(pem.as_bytes()) {
            extra.push(cert.map_err(|e| format!("an extra root certificate: {e}"))?);
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
            .map_err(|e| format!("the platform's certificate verifier: {e}"))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Times one GET of `url`, all within `limit`. The error says which phase failed.
pub async fn measure(
    url: &Url,
    tls: &Arc<rustls::ClientConfig>,
    user_agent: &str,
    limit: Duration,
) -> Result<Phases, String> {
    tokio::time::timeout(limit, measure_inner(url, tls, user_agent))
        .await
        .map_err(|_| format!("no answer within {} ms", limit.as_millis()))?
}

async fn measure_inner(
    url: &Url,
    tls: &Arc<rustls::ClientConfig>,
    user_agent: &str,
) -> Result<Phases, String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    // A bracketed IPv6 literal is looked up and named without its brackets.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ms = |since: Instant| since.elapsed().as_millis() as u64;

    let started = Instant::now();
    let addr = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|e| format!("dns: {e}"))?
        .next()
        .ok_or("dns: no address")?;
    let dns_ms = ms(started);

    let started = Instant::now();
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let connect_ms = ms(started);

    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let host_header = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    if url.scheme() == "https" {
        let name = ServerName::try_from(bare.to_string()).map_err(|e| format!("tls: {e}"))?;
        let started = Instant::now();
        let stream = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("tls: {e}"))?;
        let tls_ms = ms(started);
        let first_byte_ms = first_byte(stream, &target, &host_header, user_agent).await?;
        Ok(Phases {
            dns_ms,
            connect_ms,
            tls_ms: Some(tls_ms),
            first_byte_ms,
        })
    } else {
        let first_byte_ms = first_byte(tcp, &target, &host_header, user_agent).await?;
        Ok(Phases {
            dns_ms,
            connect_ms,
            tls_ms: None,
            first_byte_ms,
        })
    }
}

/// Sends the GET on an open connection and waits for the answer's headers.
async fn first_byte<S>(stream: S, target: &str, host: &str, user_agent: &str) -> Result<u64, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("http: {e}"))?;
    // The connection is driven until the answer's headers are in, then dropped with it.
    let driver = tokio::spawn(connection);
    let request = hyper::Request::get(target)
        .header(hyper::header::HOST, host)
        .header(hyper::header::USER_AGENT, user_agent)
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("http: {e}"))?;
    let started = Instant::now();
    let answered = sender.send_request(request).await;
    let first_byte_ms = started.elapsed().as_millis() as u64;
    driver.abort();
    answered.map_err(|e| format!("http: {e}"))?;
    Ok(first_byte_ms)
}
