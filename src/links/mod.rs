//! Checking dataset links: does each access or download URL a catalog lists still lead to
//! something, without downloading it, without hammering the agencies' servers, and
//! without letting a catalog aim the daemon at addresses it must not reach.
//!
//! The links come from third-party catalogs, so they are hostile input. How each question
//! is answered:
//!
//! - **Cheap.** A `HEAD` first. A ranged `GET` (`Range: bytes=0-0`) replaces it when the
//!   server refuses HEAD or answers it with anything but a success or a redirect, and when
//!   a HEAD times out or the connection drops: some servers implement HEAD badly, so a
//!   HEAD 404 is confirmed by the GET, and the GET's answer is the one kept. Bodies are
//!   never read: each response is dropped once its headers are in, so a server that
//!   ignores `Range` and starts sending a 1 GB file costs a closed connection, not 1 GB.
//! - **HEAD that lies.** A server whose HEAD says 200 while its GET says 404 cannot be
//!   caught without a GET for every link. By default a HEAD success is trusted (one
//!   request per link); [`LinkPolicy::head_first`] `= false` sends the ranged GET alone
//!   instead, which costs the same one request and tells the truth about such servers.
//! - **Redirects** are followed here, not by reqwest, so that every hop's address is
//!   vetted before it is requested. A link that ends in a success after at least one
//!   hop is [`LinkClass::Redirect`] with its `final_url`. A redirect loop, or more than
//!   `max_redirects` hops, is [`LinkClass::Blocked`]: the checker refused to go on,
//!   and `status` is the last 3xx. `ClientError` and `ServerError` keep meaning "the
//!   server answered 4xx/5xx", so they can be counted as such.
//! - **Safe (SSRF).** Only `http` and `https`. The checker resolves each host itself
//!   and refuses loopback, private, link-local (cloud metadata), multicast, unspecified,
//!   broadcast, CGNAT and reserved addresses, their IPv4-mapped forms, and metadata
//!   names ([`address`]); `allow_loopback`, `allow_private` and `allow_networks` open
//!   them. The vetted addresses are pinned: the HTTP client resolves through the same
//!   cache (see `resolve.rs`), so it connects only to what was vetted, and no proxy is
//!   used. URLs with an IP literal are vetted as written.
//! - **Fair.** A global limit on requests in flight, a per-host limit and a minimum
//!   interval between request starts at one host. A 429 or 503 doubles that host's
//!   interval (it halves back on each success) and its `Retry-After` (seconds or a date,
//!   capped) is waited out. Timeouts, dropped connections, 429, 502, 503 and 504 are
//!   retried with exponential backoff; nothing else is (a 404 is an answer).
//! - **Once.** A URL listed many times is requested once: duplicates are merged, checks
//!   of a URL already in flight wait for it, and results are kept for `cache_ttl`
//!   (`from_cache` says so): in memory by [`LinkChecker::new`], in the database by the
//!   daemon's cycles ([`LinkChecker::for_cycles`]). Fragments are not part of what is requested, so
//!   `a.csv#x` and `a.csv` are one link.
//! - **Fast.** One client, one keep-alive connection pool, no bodies, and at most a few
//!   times `global_concurrency` checks alive at once however many links there are.

pub mod address;
mod classify;
pub mod history;
pub mod resolve;
mod throttle;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt as _;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION, RANGE, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use url::{Host, Url};

use self::address::{AddressPolicy, Network};
use self::classify::Failure;
use self::resolve::{Dns, PinnedResolver};
pub use self::throttle::parse_retry_after;
use self::throttle::{Throttle, retry_delay};
use crate::memo::{Memo, Served};

/// How links are checked. Durations are whole milliseconds in configuration files
/// (`timeout_ms = 15000`), except the cache's, in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkPolicy {
    /// Lets links reach 127.0.0.0/8 and ::1: for the simulator and tests only.
    pub allow_loopback: bool,
    /// Lets links reach RFC 1918, CGNAT and IPv6 unique-local addresses.
    pub allow_private: bool,
    /// Networks links may reach whatever their kind (`"10.20.0.0/16"`, `"fd00::/8"`, a
    /// bare address), e.g. a government WAN where some portals live.
    pub allow_networks: Vec<String>,
    /// Requests in flight at once, over all hosts.
    pub global_concurrency: usize,
    /// Requests in flight at once to one host.
    pub per_host_concurrency: usize,
    /// The least time between the starts of two requests to one host.
    #[serde(rename = "per_host_interval_ms", with = "millis")]
    pub per_host_interval: Duration,
    /// Longest wait for one answer's headers.
    #[serde(rename = "timeout_ms", with = "millis")]
    pub timeout: Duration,
    #[serde(rename = "connect_timeout_ms", with = "millis")]
    pub connect_timeout: Duration,
    pub max_redirects: usize,
    /// Retries of a request after a transient failure (so at most `retries + 1` tries).
    pub retries: u32,
    /// The first retry's wait when the server gave no `Retry-After`; doubled each time.
    #[serde(rename = "retry_backoff_ms", with = "millis")]
    pub retry_backoff: Duration,
    /// The longest `Retry-After` honoured: a server asking for more gets this.
    #[serde(rename = "max_retry_after_ms", with = "millis")]
    pub max_retry_after: Duration,
    /// How long a result (and a host's addresses) is reused without asking again.
    #[serde(rename = "cache_ttl_secs", with = "secs")]
    pub cache_ttl: Duration,
    /// HEAD first (cheapest), or the ranged GET alone (catches servers whose HEAD says
    /// 200 for a missing file).
    pub head_first: bool,
    pub user_agent: String,
    /// Certificate authorities trusted besides the system's (PEM), like the crawler's.
    pub extra_roots_pem: Vec<String>,
    /// Names resolved to a fixed address instead of through DNS, like `/etc/hosts` for
    /// the checker and the crawler (a split-horizon government network; the simulator's
    /// file host). The address is still vetted against the policy, unless the registry
    /// names the host.
    pub hosts: std::collections::BTreeMap<String, std::net::IpAddr>,
}

impl Default for LinkPolicy {
    fn default() -> Self {
        LinkPolicy {
            allow_loopback: false,
            allow_private: false,
            allow_networks: Vec::new(),
            global_concurrency: 64,
            per_host_concurrency: 4,
            per_host_interval: Duration::from_millis(50),
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            max_redirects: 10,
            retries: 2,
            retry_backoff: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(60),
            cache_ttl: Duration::from_secs(3600),
            head_first: true,
            user_agent: crate::fetch::USER_AGENT.to_string(),
            extra_roots_pem: Vec::new(),
            hosts: std::collections::BTreeMap::new(),
        }
    }
}

mod millis {
    use serde::{Deserialize as _, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

mod secs {
    use serde::{Deserialize as _, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("link policy: `{field}` must be at least 1")]
    Zero { field: &'static str },
    #[error(
        "link policy: `{value}` in allow_networks is not a network: {reason}; write an address or a CIDR range such as \"10.20.0.0/16\""
    )]
    Network { value: String, reason: String },
    #[error("link policy: extra root certificate #{index} is not a PEM certificate: {reason}")]
    Certificate { index: usize, reason: String },
    #[error("the link checker's HTTP client could not be built: {0}")]
    Client(#[source] reqwest::Error),
}

/// What checking a link found. A small fixed set, so it can be a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkClass {
    /// Answered 2xx (or 416 to the ranged GET: an empty file).
    Ok,
    /// Answered 2xx after at least one redirect.
    Redirect,
    /// Answered 4xx.
    ClientError,
    /// Answered 5xx (also a 3xx without a usable Location).
    ServerError,
    /// No connection or no answer in time.
    Timeout,
    /// Refused, reset or unreachable.
    Connect,
    /// The TLS handshake failed: untrusted, expired or misnamed certificate.
    Tls,
    /// The name does not resolve.
    Dns,
    /// The checker refused: not http(s), an address the policy refuses, a redirect loop
    /// or too many redirects.
    Blocked,
}

impl LinkClass {
    pub const ALL: [LinkClass; 9] = [
        LinkClass::Ok,
        LinkClass::Redirect,
        LinkClass::ClientError,
        LinkClass::ServerError,
        LinkClass::Timeout,
        LinkClass::Connect,
        LinkClass::Tls,
        LinkClass::Dns,
        LinkClass::Blocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LinkClass::Ok => "ok",
            LinkClass::Redirect => "redirect",
            LinkClass::ClientError => "client_error",
            LinkClass::ServerError => "server_error",
            LinkClass::Timeout => "timeout",
            LinkClass::Connect => "connect",
            LinkClass::Tls => "tls",
            LinkClass::Dns => "dns",
            LinkClass::Blocked => "blocked",
        }
    }

    /// Whether the link does not lead to its resource (everything but ok and redirect).
    pub fn is_failure(self) -> bool {
        !matches!(self, LinkClass::Ok | LinkClass::Redirect)
    }
}

/// The request whose answer decided the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Head,
    /// `GET` with `Range: bytes=0-0`.
    RangedGet,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Head => "head",
            Method::RangedGet => "ranged_get",
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Method::Head => "HEAD",
            Method::RangedGet => "GET",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkResult {
    pub class: LinkClass,
    /// The last HTTP status received, if any answer came.
    pub status: Option<u16>,
    /// Where the redirects led; `None` when there was none.
    pub final_url: Option<Url>,
    /// The Content-Type served with the final answer (a redirect's own is not kept).
    pub content_type: Option<String>,
    /// The last request sent; `None` when none was (refused or unresolvable).
    pub method: Option<Method>,
    pub redirects: u32,
    /// Time spent waiting for answers, over every request of the check; time queued
    /// behind the concurrency limits, intervals and retry waits is not counted.
    pub latency_ms: u64,
    /// What happened, in words, for a finding.
    pub detail: String,
    /// True when no request was made for this answer: it came from the cache, or from
    /// a check of the same URL that was already running.
    pub from_cache: bool,
}

/// Counters since the checker was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CheckerStats {
    /// Links actually checked (not served from the cache).
    pub checks: u64,
    /// HTTP requests sent, redirect hops, fallbacks and retries included.
    pub requests: u64,
    pub cache_hits: u64,
    /// Checks that waited for the same URL's check already in flight.
    pub coalesced: u64,
    pub retries: u64,
    /// Times a host's interval was raised after a 429 or 503.
    pub backoffs: u64,
    /// Links classed [`LinkClass::Blocked`]: refused addresses and schemes, redirect
    /// loops and chains over the limit.
    pub blocked: u64,
}

#[derive(Default)]
struct Counters {
    checks: AtomicU64,
    requests: AtomicU64,
    cache_hits: AtomicU64,
    coalesced: AtomicU64,
    retries: AtomicU64,
    backoffs: AtomicU64,
    blocked: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Checks links; cheap to clone (the clones share the cache, limits and connections).
#[derive(Clone)]
pub struct LinkChecker {
    inner: Arc<Inner>,
}

struct Inner {
    policy: LinkPolicy,
    client: reqwest::Client,
    dns: Arc<Dns>,
    throttle: Throttle,
    results: Memo<Url, LinkResult>,
    counters: Counters,
}

impl std::fmt::Debug for LinkChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkChecker")
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

impl LinkPolicy {
    /// The address rules of this policy: what links, and the URLs an agency's declaration
    /// names, may reach.
    pub fn addresses(&self) -> Result<AddressPolicy, LinkError> {
        let allow_networks = self
            .allow_networks
            .iter()
            .map(|n| {
                Network::parse(n).map_err(|reason| LinkError::Network {
                    value: n.clone(),
                    reason,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AddressPolicy {
            allow_loopback: self.allow_loopback,
            allow_private: self.allow_private,
            allow_networks,
        })
    }
}

impl LinkChecker {
    /// A checker that reuses an answer for `cache_ttl`, from memory.
    pub fn new(policy: LinkPolicy) -> Result<LinkChecker, LinkError> {
        let keep = policy.cache_ttl;
        LinkChecker::build(policy, keep)
    }

    /// A checker for the daemon's cycles, which keep the answers between cycles in the
    /// database (`link_states`, see `cycle::LinkStage`): here an answer is shared only
    /// with the checks of the same URL already waiting for it. Held in memory for the
    /// TTL, the answers of a national federation (600,000 links) were most of the
    /// daemon's peak memory.
    pub fn for_cycles(policy: LinkPolicy) -> Result<LinkChecker, LinkError> {
        LinkChecker::build(policy, Duration::ZERO)
    }

    fn build(policy: LinkPolicy, keep_answers: Duration) -> Result<LinkChecker, LinkError> {
        if policy.global_concurrency == 0 {
            return Err(LinkError::Zero {
                field: "global_concurrency",
            });
        }
        if policy.per_host_concurrency == 0 {
            return Err(LinkError::Zero {
                field: "per_host_concurrency",
            });
        }
        let mut roots = Vec::new();
        for (index, pem) in policy.extra_roots_pem.iter().enumerate() {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
                LinkError::Certificate {
                    index,
                    reason: e.to_string(),
                }
            })?;
            if certs.is_empty() {
                return Err(LinkError::Certificate {
                    index,
                    reason: "no certificate in it".into(),
                });
            }
            roots.extend(certs);
        }
        let addresses = policy.addresses()?;
        let dns = Arc::new(Dns::new(
            addresses,
            policy.cache_ttl,
            policy.timeout,
            &policy.hosts,
        ));
        let client = reqwest::Client::builder()
            .user_agent(policy.user_agent.as_str())
            // Each hop is vetted before it is requested, so redirects are ours to follow.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would connect to the vetted name's address on its own terms.
            .no_proxy()
            .dns_resolver(Arc::new(PinnedResolver(dns.clone())))
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.timeout)
            .pool_max_idle_per_host(policy.per_host_concurrency)
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            // Bodies are never read, so asking for them compressed gains nothing.
            .no_gzip()
            .no_brotli()
            .no_deflate()
            .referer(false)
            .tls_certs_merge(roots)
            .build()
            .map_err(LinkError::Client)?;
        Ok(LinkChecker {
            inner: Arc::new(Inner {
                throttle: Throttle::new(
                    policy.global_concurrency,
                    policy.per_host_concurrency,
                    policy.per_host_interval,
                ),
                // Only answers that reached the resource are reused: a failing link is checked
                // again each cycle, so that "failed N cycles running" means N checks.
                results: Memo::keeping(keep_answers, |r: &LinkResult| !r.class.is_failure()),
                counters: Counters::default(),
                policy,
                client,
                dns,
            }),
        })
    }

    pub fn policy(&self) -> &LinkPolicy {
        &self.inner.policy
    }

    /// Checks every distinct URL once; the answer has one entry per distinct input URL.
    ///
    /// The URLs are interleaved by host, and at most a few times `global_concurrency`
    /// checks are alive at once: memory stays flat for any number of links, and a host
    /// with thousands of links does not hold up the others.
    pub async fn check_all(&self, urls: impl IntoIterator<Item = Url>) -> HashMap<Url, LinkResult> {
        self.check_all_within(urls, None).await
    }

    /// [`check_all`](Self::check_all), answering with what is done when `limit` runs out:
    /// a host that drags costs the checks left undone, never a stalled cycle.
    pub async fn check_all_within(
        &self,
        urls: impl IntoIterator<Item = Url>,
        limit: Option<Duration>,
    ) -> HashMap<Url, LinkResult> {
        let stop = async {
            match limit {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        self.inner.results.purge_expired();
        self.inner.dns.purge_expired();
        let window = self
            .inner
            .policy
            .global_concurrency
            .saturating_mul(4)
            .max(16);
        futures_util::stream::iter(interleave_by_host(urls))
            .map(|url| async move {
                let result = self.check(&url).await;
                (url, result)
            })
            .buffer_unordered(window)
            .take_until(stop)
            .collect()
            .await
    }

    /// Checks one URL, or answers from the cache.
    pub async fn check(&self, url: &Url) -> LinkResult {
        let mut key = url.clone();
        key.set_fragment(None);
        let inner = &self.inner;
        let (mut result, served) = inner.results.get_or_run(&key, || inner.run(&key)).await;
        match served {
            Served::Fresh => {}
            Served::Cached => {
                bump(&inner.counters.cache_hits);
                result.from_cache = true;
            }
            Served::Coalesced => {
                bump(&inner.counters.coalesced);
                result.from_cache = true;
            }
        }
        result
    }

    pub fn stats(&self) -> CheckerStats {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CheckerStats {
            checks: get(&c.checks),
            requests: get(&c.requests),
            cache_hits: get(&c.cache_hits),
            coalesced: get(&c.coalesced),
            retries: get(&c.retries),
            backoffs: get(&c.backoffs),
            blocked: get(&c.blocked),
        }
    }
}

/// The distinct URLs, one host after another in turn, in the order first seen.
fn interleave_by_host(urls: impl IntoIterator<Item = Url>) -> Vec<Url> {
    let mut seen = HashSet::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut queues: Vec<VecDeque<Url>> = Vec::new();
    for url in urls {
        if !seen.insert(url.clone()) {
            continue;
        }
        let host = url.host_str().unwrap_or_default().to_string();
        let i = *index.entry(host).or_insert_with(|| {
            queues.push(VecDeque::new());
            queues.len() - 1
        });
        queues[i].push_back(url);
    }
    let mut out = Vec::with_capacity(seen.len());
    while !queues.is_empty() {
        for q in &mut queues {
            if let Some(url) = q.pop_front() {
                out.push(url);
            }
        }
        queues.retain(|q| !q.is_empty());
    }
    out
}

/// An answer's headers, kept after the response (and its body) is dropped.
struct Reply {
    method: Method,
    status: StatusCode,
    content_type: Option<String>,
    location: Option<String>,
}

/// What one check has done so far.
#[derive(Default)]
struct Trip {
    latency: Duration,
    notes: Vec<String>,
    method: Option<Method>,
    status: Option<u16>,
    content_type: Option<String>,
    redirects: u32,
    final_url: Option<Url>,
}

impl Trip {
    fn finish(mut self, class: LinkClass, what: String) -> LinkResult {
        self.notes.push(what);
        LinkResult {
            class,
            status: self.status,
            final_url: self.final_url,
            content_type: self.content_type,
            method: self.method,
            redirects: self.redirects,
            latency_ms: u64::try_from(self.latency.as_millis()).unwrap_or(u64::MAX),
            detail: self.notes.join("; "),
            from_cache: false,
        }
    }
}

fn header_text(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The class of a final (non-redirect) answer.
fn class_of(status: StatusCode, method: Method, redirected: bool) -> LinkClass {
    let reached = if redirected {
        LinkClass::Redirect
    } else {
        LinkClass::Ok
    };
    if status.is_success() {
        reached
    } else if status == StatusCode::RANGE_NOT_SATISFIABLE && method == Method::RangedGet {
        // The first byte does not exist: the file is there and empty.
        reached
    } else if status.is_client_error() {
        LinkClass::ClientError
    } else {
        LinkClass::ServerError
    }
}

impl Inner {
    async fn run(&self, start: &Url) -> LinkResult {
        bump(&self.counters.checks);
        let result = self.follow(start).await;
        if result.class == LinkClass::Blocked {
            bump(&self.counters.blocked);
        }
        result
    }

    /// Checks `start`, following its redirects.
    async fn follow(&self, start: &Url) -> LinkResult {
        let mut trip = Trip::default();
        let mut url = start.clone();
        let mut visited = vec![url.clone()];
        loop {
            if let Err(f) = self.vet(&url).await {
                return trip.finish(f.class, f.full());
            }
            let reply = match self.probe(&url, &mut trip).await {
                Ok(reply) => reply,
                Err(f) => return trip.finish(f.class, f.full()),
            };
            let status = reply.status;
            if !status.is_redirection() {
                let class = class_of(status, reply.method, trip.redirects > 0);
                let what = format!("{} answered {status}", reply.method.verb());
                return trip.finish(class, what);
            }
            let Some(location) = reply.location else {
                return trip.finish(
                    LinkClass::ServerError,
                    format!("answered {status} without a Location to follow"),
                );
            };
            let mut next = match url.join(&location) {
                Ok(next) => next,
                Err(e) => {
                    return trip.finish(
                        LinkClass::ServerError,
                        format!("answered {status} with a Location that is not a URL (`{location}`: {e})"),
                    );
                }
            };
            next.set_fragment(None);
            if visited.contains(&next) {
                return trip.finish(
                    LinkClass::Blocked,
                    format!("redirect loop: {status} back to {next}, already visited"),
                );
            }
            if trip.redirects as usize >= self.policy.max_redirects {
                return trip.finish(
                    LinkClass::Blocked,
                    format!(
                        "more than {} redirects (the next was {status} to {next})",
                        self.policy.max_redirects
                    ),
                );
            }
            trip.redirects += 1;
            trip.content_type = None;
            trip.notes.push(format!("{status} to {next}"));
            trip.final_url = Some(next.clone());
            visited.push(next.clone());
            url = next;
        }
    }

    /// Whether a request may go to `url` at all: scheme, then address or name.
    async fn vet(&self, url: &Url) -> Result<(), Failure> {
        let blocked = |detail: String| Failure {
            class: LinkClass::Blocked,
            detail,
            causes: String::new(),
            transient: false,
            method_specific: false,
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(blocked(format!(
                "{url} is not checked: only http and https links are"
            )));
        }
        let policy = self.dns.policy();
        let literal = |ip: std::net::IpAddr| {
            policy
                .vet(ip)
                .map_err(|refusal| blocked(format!("{ip} is not a public address ({refusal})")))
        };
        match url.host() {
            None => Err(blocked(format!("{url} has no host"))),
            Some(Host::Ipv4(ip)) => literal(ip.into()),
            Some(Host::Ipv6(ip)) => literal(ip.into()),
            Some(Host::Domain(name)) => match self.dns.lookup(name).await {
                Ok(_) => Ok(()),
                Err(e) => Err(Failure {
                    class: e.class,
                    detail: e.detail,
                    causes: String::new(),
                    transient: false,
                    method_specific: false,
                }),
            },
        }
    }

    /// One hop: HEAD, and the ranged GET when HEAD cannot be taken at its word.
    async fn probe(&self, url: &Url, trip: &mut Trip) -> Result<Reply, Failure> {
        if self.policy.head_first {
            match self.request(Method::Head, url, trip).await {
                Ok(reply) => {
                    let s = reply.status;
                    // Overloaded even after the retries: a GET would only add load.
                    let overloaded =
                        s == StatusCode::TOO_MANY_REQUESTS || s == StatusCode::SERVICE_UNAVAILABLE;
                    if s.is_success() || s.is_redirection() || overloaded {
                        return Ok(reply);
                    }
                    trip.notes
                        .push(format!("HEAD answered {s}, so a ranged GET was sent"));
                }
                Err(f) if f.method_specific => trip.notes.push(format!(
                    "HEAD failed ({}), so a ranged GET was sent",
                    f.detail
                )),
                Err(f) => return Err(f),
            }
        }
        self.request(Method::RangedGet, url, trip).await
    }

    /// Sends one request (and its retries) within the limits; keeps only the headers.
    async fn request(&self, method: Method, url: &Url, trip: &mut Trip) -> Result<Reply, Failure> {
        let host = self.throttle.host(url.host_str().unwrap_or_default());
        let mut attempt = 0;
        loop {
            let permit = self.throttle.acquire(&host).await;
            let request = match method {
                Method::Head => self.client.head(url.clone()),
                Method::RangedGet => self.client.get(url.clone()).header(RANGE, "bytes=0-0"),
            };
            let started = Instant::now();
            let sent = request.send().await;
            trip.latency += started.elapsed();
            trip.method = Some(method);
            bump(&self.counters.requests);
            let retry_left = attempt < self.policy.retries;
            let wait = |retry_after: Option<Duration>| {
                retry_after.unwrap_or_else(|| {
                    retry_delay(
                        self.policy.retry_backoff,
                        attempt,
                        rand::random::<f64>(),
                        self.policy.max_retry_after,
                    )
                })
            };
            match sent {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers();
                    let reply = Reply {
                        method,
                        status,
                        content_type: header_text(headers, CONTENT_TYPE),
                        location: header_text(headers, LOCATION),
                    };
                    let retry_after = header_text(headers, RETRY_AFTER)
                        .and_then(|v| parse_retry_after(&v, SystemTime::now()))
                        .map(|d| d.min(self.policy.max_retry_after));
                    // The body is never read: dropping the response closes the stream
                    // (or the connection, when a body was on its way).
                    drop(response);
                    drop(permit);
                    trip.status = Some(status.as_u16());
                    trip.content_type = reply.content_type.clone();
                    let overloaded = status == StatusCode::TOO_MANY_REQUESTS
                        || status == StatusCode::SERVICE_UNAVAILABLE;
                    if overloaded {
                        host.back_off(self.policy.retry_backoff, retry_after);
                        bump(&self.counters.backoffs);
                    } else if status.is_success() || status.is_redirection() {
                        host.recover();
                    }
                    let transient = overloaded
                        || status == StatusCode::BAD_GATEWAY
                        || status == StatusCode::GATEWAY_TIMEOUT;
                    if !(transient && retry_left) {
                        return Ok(reply);
                    }
                    let pause = wait(retry_after);
                    trip.notes.push(format!(
                        "{} answered {status}; retried after {} ms",
                        method.verb(),
                        pause.as_millis()
                    ));
                    bump(&self.counters.retries);
                    tokio::time::sleep(pause).await;
                }
                Err(e) => {
                    drop(permit);
                    let failure = classify::classify(&e);
                    // A HEAD that fails in a way GET might not is not retried as HEAD:
                    // the ranged GET that follows it gets the retries.
                    let head_fallback =
                        method == Method::Head && self.policy.head_first && failure.method_specific;
                    if !(failure.transient && retry_left) || head_fallback {
                        return Err(failure);
                    }
                    let pause = wait(None);
                    trip.notes.push(format!(
                        "{} failed ({}); retried after {} ms",
                        method.verb(),
                        failure.detail,
                        pause.as_millis()
                    ));
                    bump(&self.counters.retries);
                    tokio::time::sleep(pause).await;
                }
            }
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn classes_have_stable_names_and_failures() {
        let names: Vec<_> = LinkClass::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "ok",
                "redirect",
                "client_error",
                "server_error",
                "timeout",
                "connect",
                "tls",
                "dns",
                "blocked"
            ]
        );
        for c in LinkClass::ALL {
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::json!(c.as_str())
            );
            assert_eq!(
                c.is_failure(),
                !matches!(c, LinkClass::Ok | LinkClass::Redirect)
            );
        }
        assert_eq!(
            serde_json::to_value(Method::RangedGet).unwrap(),
            serde_json::json!("ranged_get")
        );
    }

    #[test]
    fn statuses_are_classified() {
        let ok = StatusCode::OK;
        assert_eq!(class_of(ok, Method::Head, false), LinkClass::Ok);
        assert_eq!(class_of(ok, Method::Head, true), LinkClass::Redirect);
        assert_eq!(
            class_of(StatusCode::PARTIAL_CONTENT, Method::RangedGet, false),
            LinkClass::Ok
        );
        assert_eq!(
            class_of(StatusCode::RANGE_NOT_SATISFIABLE, Method::RangedGet, false),
            LinkClass::Ok
        );
        assert_eq!(
            class_of(StatusCode::RANGE_NOT_SATISFIABLE, Method::Head, false),
            LinkClass::ClientError
        );
        assert_eq!(
            class_of(StatusCode::GONE, Method::RangedGet, true),
            LinkClass::ClientError
        );
        assert_eq!(
            class_of(StatusCode::BAD_GATEWAY, Method::RangedGet, false),
            LinkClass::ServerError
        );
    }

    #[test]
    fn urls_are_deduplicated_and_interleaved_by_host() {
        let order = interleave_by_host([
            u("http://a.vn/1"),
            u("http://a.vn/2"),
            u("http://a.vn/1"),
            u("http://a.vn/3"),
            u("http://b.vn/1"),
            u("http://c.vn/1"),
            u("http://b.vn/2"),
        ]);
        let got: Vec<_> = order.iter().map(Url::as_str).collect();
        assert_eq!(
            got,
            [
                "http://a.vn/1",
                "http://b.vn/1",
                "http://c.vn/1",
                "http://a.vn/2",
                "http://b.vn/2",
                "http://a.vn/3"
            ]
        );
    }

    #[test]
    fn policy_reads_from_toml_with_defaults() {
        let p: LinkPolicy = toml::from_str(
            "allow_private = true\nper_host_interval_ms = 250\ncache_ttl_secs = 60\nallow_networks = [\"10.20.0.0/16\"]\n",
        )
        .unwrap();
        assert!(p.allow_private && !p.allow_loopback);
        assert_eq!(p.per_host_interval, Duration::from_millis(250));
        assert_eq!(p.cache_ttl, Duration::from_secs(60));
        assert_eq!(p.timeout, LinkPolicy::default().timeout);
        assert!(toml::from_str::<LinkPolicy>("timeout = 5").is_err());
        let back: LinkPolicy = toml::from_str(&toml::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn bad_policies_are_refused_with_the_reason() {
        let bad = |p: LinkPolicy| LinkChecker::new(p).unwrap_err().to_string();
        let e = bad(LinkPolicy {
            per_host_concurrency: 0,
            ..LinkPolicy::default()
        });
        assert!(e.contains("per_host_concurrency"), "{e}");
        let e = bad(LinkPolicy {
            allow_networks: vec!["10.0.0.0/40".into()],
            ..LinkPolicy::default()
        });
        assert!(e.contains("10.0.0.0/40") && e.contains("prefix"), "{e}");
        let e = bad(LinkPolicy {
            extra_roots_pem: vec!["not a certificate".into()],
            ..LinkPolicy::default()
        });
        assert!(e.contains("#0"), "{e}");
    }
}
