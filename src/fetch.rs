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
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Client, Response, StatusCode, redirect};
use url::Url;

use crate::config::CrawlSettings;
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
}

/// A successful answer and its body.
#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// Time until the headers arrived.
    pub latency: Duration,
}

impl Fetcher {
    pub fn new(settings: &CrawlSettings) -> Result<Fetcher, reqwest::Error> {
        let max_redirects = settings.max_redirects;
        let policy = redirect::Policy::custom(move |attempt| {
            if attempt.previous().contains(attempt.url()) {
                let msg = format!("redirect loop: {} was already visited", attempt.url());
                attempt.error(msg)
            } else if attempt.previous().len() > max_redirects {
                let msg = format!("more than {max_redirects} redirects");
                attempt.error(msg)
            } else {
                attempt.follow()
            }
        });
        let client = Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.read_timeout)
            .timeout(settings.total_timeout)
            .redirect(policy)
            .build()?;
        Ok(Fetcher {
            client,
            max_body_bytes: settings.max_body_bytes,
        })
    }

    pub fn max_body_bytes(&self) -> u64 {
        self.max_body_bytes
    }

    /// Sends a GET and waits for the headers; a non-success status is a failure.
    pub async fn head_of(&self, url: &Url) -> Result<(Response, Duration), (Failure, Option<u16>)> {
        let started = Instant::now();
        let response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| (classify(&e), e.status().map(|s| s.as_u16())))?;
        let latency = started.elapsed();
        let status = response.status();
        if !status.is_success() {
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
    pub async fn get(&self, url: &Url) -> Result<Fetched, (Failure, Option<u16>)> {
        let (mut response, latency) = self.head_of(url).await?;
        let status = response.status();
        let content_type = content_type(response.headers());
        let too_large = |seen: u64| Failure {
            class: FailureClass::TooLarge,
            message: format!(
                "the body is larger than the {} byte limit ({seen} bytes or more)",
                self.max_body_bytes
            ),
        };
        // A declared length over the cap is refused before reading anything. Compressed
        // bodies declare their compressed length, so the running count below still applies.
        if let Some(len) = response.content_length()
            && len > self.max_body_bytes
        {
            return Err((too_large(len), Some(status.as_u16())));
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let seen = body.len() as u64 + chunk.len() as u64;
                    if seen > self.max_body_bytes {
                        return Err((too_large(seen), Some(status.as_u16())));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err((classify(&e), Some(status.as_u16()))),
            }
        }
        Ok(Fetched {
            status,
            content_type,
            body,
            latency,
        })
    }
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
        FailureClass::Redirect => "the redirects do not end",
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
