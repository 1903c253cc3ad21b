//! The one HTTP client every request to an agency goes through, with its limits.
//!
//! reqwest sets no timeout and no body limit by default, and agencies' servers are
//! third-party: slow, broken or hostile. So every request here has a connect timeout, a
//! read timeout (the longest silence between two chunks), a total timeout, a cap on the
//! body measured after decompression (read chunk by chunk, so a decompression bomb is
//! stopped at the cap, not after it has filled memory), and a redirect policy that stops
//! at a loop or after `max_redirects` hops. Whatever goes wrong becomes a [`Failure`], a
//! plain value the agency's findings are made of.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use reqwest::{Client, Response, StatusCode, redirect};
use sha2::{Digest as _, Sha256};
use url::Url;

use crate::config::CrawlSettings;
use crate::links::address::AddressGuard;
use crate::links::resolve::{Dns, GuardedResolver};
use crate::observation::{Failure, FailureClass};

/// Names dtindex and where to learn about it, so an agency's operator seeing it in a log
/// knows who is calling and why.
pub const USER_AGENT: &str = concat!(
    "dtindex/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/dtindex/dtindex; national data-publication index)"
);

#[derive(Debug, Clone)]
pub struct Fetcher {
    client: Client,
    max_body_bytes: u64,
    /// For the probes' timed connections (see `probe::phases`), trusting what `client`
    /// trusts.
    timing_tls: std::sync::Arc<rustls::ClientConfig>,
    total_timeout: Duration,
    /// Which addresses a request may go to (see [`Fetcher::guarded`]).
    guard: AddressGuard,
}

#[derive(Debug, thiserror::Error)]
pub enum FetcherError {
    #[error("the HTTP client could not be built: {0}")]
    Client(#[from] reqwest::Error),
    #[error("the TLS settings of the probes could not be built: {0}")]
    Tls(String),
}

/// The validators of a previous answer, for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Validators {
    fn of(headers: &HeaderMap) -> Validators {
        let text = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        Validators {
            etag: text(ETAG),
            last_modified: text(LAST_MODIFIED),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// A body read to its end, within the cap: in memory while small, in an anonymous
/// temporary file beyond [`SPOOL_THRESHOLD`], so a large catalog costs disk, not memory.
#[derive(Debug)]
pub enum Body {
    Memory(Vec<u8>),
    File(std::fs::File),
}

/// A body reader that can also go back: a parser's fast path may give up and read again.
pub trait ReadSeek: std::io::Read + std::io::Seek {}
impl<T: std::io::Read + std::io::Seek> ReadSeek for T {}

/// Bodies above this size are spooled to disk while they arrive.
pub const SPOOL_THRESHOLD: usize = 4 * 1024 * 1024;

impl Body {
    /// A reader over the whole body, from its first byte.
    pub fn reader(self) -> std::io::Result<Box<dyn ReadSeek + Send>> {
        use std::io::Seek as _;
        Ok(match self {
            Body::Memory(bytes) => Box::new(std::io::Cursor::new(bytes)),
            Body::File(mut file) => {
                file.seek(std::io::SeekFrom::Start(0))?;
                Box::new(std::io::BufReader::with_capacity(256 * 1024, file))
            }
        })
    }

    /// The first bytes, for sniffing the format.
    pub fn head(&mut self, n: usize) -> std::io::Result<Vec<u8>> {
        use std::io::{Read as _, Seek as _};
        match self {
            Body::Memory(bytes) => Ok(bytes[..bytes.len().min(n)].to_vec()),
            Body::File(file) => {
                file.seek(std::io::SeekFrom::Start(0))?;
                let mut head = Vec::with_capacity(n);
                file.by_ref().take(n as u64).read_to_end(&mut head)?;
                Ok(head)
            }
        }
    }
}

/// A successful answer and its body.
#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Body,
    /// Bytes of the body, after decompression.
    pub bytes: u64,
    /// SHA-256 of the body, hex: an unchanged catalog is recognised even from a server
    /// that ignores conditional requests.
    pub sha256: String,
    pub validators: Validators,
    /// Time until the headers arrived.
    pub latency: Duration,
}

/// What a conditional GET gave.
#[derive(Debug)]
pub enum Answer {
    /// 304: the previous body still holds.
    NotModified,
    Fresh(Fetched),
}

type FetchResult<T> = Result<T, (Failure, Option<u16>)>;

impl Fetcher {
    /// A client that requests whatever it is given, wherever it resolves: for URLs the
    /// operator typed. The daemon's crawler is [`Fetcher::guarded`].
    pub fn new(settings: &CrawlSettings) -> Result<Fetcher, FetcherError> {
        Fetcher::guarded(settings, AddressGuard::open())
    }

    /// A client that follows `guard`: a redirect to a host the operator did not name is
    /// vetted (an address written in it here, a resolved name by the resolver), so a
    /// catalog cannot point the crawler at a metadata service or an intranet.
    pub fn guarded(settings: &CrawlSettings, guard: AddressGuard) -> Result<Fetcher, FetcherError> {
        let max_redirects = settings.max_redirects;
        let hops = guard.clone();
        let policy = redirect::Policy::custom(move |attempt| {
            if attempt.previous().contains(attempt.url()) {
                let msg = format!("redirect loop: {} was already visited", attempt.url());
                attempt.error(msg)
            } else if attempt.previous().len() > max_redirects {
                let msg = format!("more than {max_redirects} redirects");
                attempt.error(msg)
            } else if let Some(refusal) = hops.refusal(attempt.url()) {
                let msg = format!(
                    "redirect to {} refused: a {refusal} address, which the address policy refuses",
                    attempt.url().host_str().unwrap_or_default()
                );
                attempt.error(msg)
            } else {
                attempt.follow()
            }
        });
        let mut roots = Vec::new();
        for pem in &settings.extra_roots_pem {
            roots.extend(reqwest::Certificate::from_pem_bundle(pem.as_bytes())?);
        }
        let dns = Dns::new(
            guard.policy.clone(),
            // Redirect targets are few and change rarely; a minute spares the resolver
            // without pinning a moved host for long.
            Duration::from_secs(60),
            settings.connect_timeout,
            &guard.hosts,
        );
        let client = Client::builder()
            .tls_certs_merge(roots)
            // Keeps the peer certificate on each response, for its expiry date.
            .tls_info(true)
            .user_agent(USER_AGENT)
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.read_timeout)
            .timeout(settings.total_timeout)
            .redirect(policy)
            .dns_resolver(Arc::new(GuardedResolver {
                dns: Arc::new(dns),
                trusted: guard.trusted.clone(),
            }))
            // A proxy would resolve names on its own terms, out of the guard's sight.
            .no_proxy()
            .build()?;
        Ok(Fetcher {
            client,
            max_body_bytes: settings.max_body_bytes,
            timing_tls: crate::probe::phases::tls_config(&settings.extra_roots_pem)
                .map_err(FetcherError::Tls)?,
            total_timeout: settings.total_timeout,
            guard,
        })
    }

    /// Why a URL an agency named must not be requested, if it must not: an address the
    /// policy refuses (private, loopback, link-local, a metadata name), written in the URL.
    pub fn refusal(&self, url: &Url) -> Option<String> {
        self.guard.refusal(url).map(|r| {
            format!(
                "not requested: {} is a {r} address, which the address policy refuses",
                url.host_str().unwrap_or_default()
            )
        })
    }

    pub fn max_body_bytes(&self) -> u64 {
        self.max_body_bytes
    }

    /// Times the phases of one GET of `url` on a connection of its own.
    pub async fn phases(
        &self,
        url: &Url,
        timeout: Option<Duration>,
    ) -> Result<crate::probe::phases::Phases, String> {
        let limit = timeout.unwrap_or(self.total_timeout);
        crate::probe::phases::measure(url, &self.timing_tls, USER_AGENT, limit).await
    }

    /// Sends a GET and waits for the headers; a non-success status is a failure.
    pub async fn head_of(&self, url: &Url) -> FetchResult<(Response, Duration)> {
        self.send(url, None).await
    }

    /// Sends a GET and waits for the headers, whatever the status: for probes, whose
    /// configuration says which status is right. `timeout` replaces the total timeout.
    pub async fn answer(
        &self,
        url: &Url,
        timeout: Option<Duration>,
    ) -> FetchResult<(Response, Duration)> {
        let started = Instant::now();
        let mut request = self.client.get(url.clone());
        if let Some(t) = timeout {
            request = request.timeout(t);
        }
        let response = request
            .send()
            .await
            .map_err(|e| (classify(&e), e.status().map(|s| s.as_u16())))?;
        Ok((response, started.elapsed()))
    }

    async fn send(
        &self,
        url: &Url,
        previous: Option<&Validators>,
    ) -> FetchResult<(Response, Duration)> {
        let started = Instant::now();
        let mut request = self.client.get(url.clone());
        if let Some(v) = previous {
            if let Some(etag) = &v.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(date) = &v.last_modified {
                request = request.header(IF_MODIFIED_SINCE, date);
            }
        }
        let response = request
            .send()
            .await
            .map_err(|e| (classify(&e), e.status().map(|s| s.as_u16())))?;
        let latency = started.elapsed();
        let status = response.status();
        let not_modified = previous.is_some() && status == StatusCode::NOT_MODIFIED;
        if !(status.is_success() || not_modified) {
            return Err((
                Failure {
                    class: FailureClass::Status,
                    message: format!("the server answered HTTP {status}"),
                },
                Some(status.as_u16()),
            ));
        }
        Ok((response, latency))
    }

    /// GETs a whole body, up to the cap.
    pub async fn get(&self, url: &Url) -> FetchResult<Fetched> {
        match self.get_if_changed(url, None).await? {
            Answer::Fresh(fetched) => Ok(fetched),
            // Without validators the server has no reason to answer 304; if it does, it
            // gave no body to read.
            Answer::NotModified => Err((
                Failure {
                    class: FailureClass::Status,
                    message: "the server answered 304 Not Modified to an unconditional request"
                        .into(),
                },
                Some(304),
            )),
        }
    }

    /// GETs a body unless it is unchanged since `previous` (conditional GET).
    pub async fn get_if_changed(
        &self,
        url: &Url,
        previous: Option<&Validators>,
    ) -> FetchResult<Answer> {
        let previous = previous.filter(|v| !v.is_empty());
        let (mut response, latency) = self.send(url, previous).await?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Answer::NotModified);
        }
        let content_type = content_type(response.headers());
        let validators = Validators::of(response.headers());
        let too_large = |seen: u64| Failure {
            class: FailureClass::TooLarge,
            message: format!(
                "the body is larger than the {} byte limit ({seen} bytes or more)",
                self.max_body_bytes
            ),
        };
        let code = Some(status.as_u16());
        // A declared length over the cap is refused before reading anything. Compressed
        // bodies declare their compressed length, so the running count below still applies.
        if let Some(len) = response.content_length()
            && len > self.max_body_bytes
        {
            return Err((too_large(len), code));
        }
        let local = |e: std::io::Error| {
            (
                Failure {
                    class: FailureClass::Body,
                    message: format!("the body could not be stored locally: {e}"),
                },
                code,
            )
        };
        let mut sink = Sink::default();
        let mut hasher = Sha256::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let seen = sink.len + chunk.len() as u64;
                    if seen > self.max_body_bytes {
                        return Err((too_large(seen), code));
                    }
                    hasher.update(&chunk);
                    sink.write(&chunk).await.map_err(local)?;
                }
                Ok(None) => break,
                Err(e) => return Err((classify(&e), code)),
            }
        }
        let bytes = sink.len;
        let body = sink.finish().await.map_err(local)?;
        Ok(Answer::Fresh(Fetched {
            status,
            content_type,
            body,
            bytes,
            sha256: hex(&hasher.finalize()),
            validators,
            latency,
        }))
    }
}

/// Where a body goes while it arrives: memory first, a temporary file past the threshold.
#[derive(Default)]
struct Sink {
    memory: Vec<u8>,
    file: Option<tokio::fs::File>,
    len: u64,
}

impl Sink {
    async fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt as _;
        self.len += chunk.len() as u64;
        if self.file.is_none() && self.memory.len() + chunk.len() > SPOOL_THRESHOLD {
            let mut file = tokio::fs::File::from_std(tempfile::tempfile()?);
            file.write_all(&self.memory).await?;
            self.memory = Vec::new();
            self.file = Some(file);
        }
        match &mut self.file {
            Some(file) => file.write_all(chunk).await,
            None => {
                self.memory.extend_from_slice(chunk);
                Ok(())
            }
        }
    }

    async fn finish(self) -> std::io::Result<Body> {
        use tokio::io::AsyncWriteExt as _;
        match self.file {
            Some(mut file) => {
                file.flush().await?;
                Ok(Body::File(file.into_std().await))
            }
            None => Ok(Body::Memory(self.memory)),
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.to_string())
}

/// Turns a reqwest error into a failure an agency can act on.
pub fn classify(e: &reqwest::Error) -> Failure {
    let class = if e.is_timeout() {
        FailureClass::Timeout
    } else if e.is_redirect() {
        FailureClass::Redirect
    } else if e.is_connect() {
        FailureClass::Connect
    } else if e.is_body() || e.is_decode() {
        FailureClass::Body
    } else if e.is_status() {
        FailureClass::Status
    } else {
        FailureClass::Connect
    };
    let what = match class {
        FailureClass::Timeout => "no answer in time",
        FailureClass::Redirect => "a redirect could not be followed",
        FailureClass::Connect => "the server could not be reached",
        FailureClass::Body => "the body broke off or could not be decoded",
        _ => "the request failed",
    };
    Failure {
        class,
        message: format!("{what} ({})", chain(e)),
    }
}

/// An error and its causes on one line; reqwest's own message alone rarely says what failed.
fn chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
