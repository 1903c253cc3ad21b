//! The public GET answers, built once per finished cycle and served from memory.
//!
//! Every public answer (the rankings, an agency, its findings, the pages) is a function of
//! the request and of three things that change rarely: the latest finished cycle, the
//! registry and the scoring method. Rebuilding it from the database on every request cost
//! the rankings several queries and a sort, on a pool of connections shared with the
//! running cycle's writes: 361 requests a second with a p99 of 383 ms under load
//! (BENCHMARKS.md). So the first request after a change builds the answer, the requests
//! that arrive meanwhile wait for that one build instead of starting their own, and the
//! rest are served the stored bytes until the next change.
//!
//! A change is noticed three ways:
//! - this daemon finished, or took part in, a cycle: the daemon calls
//!   [`Answers::invalidate`] at once;
//! - the configuration was reloaded: its version is part of the key;
//! - another daemon sharing the database finished a cycle: the latest finished cycle's id
//!   is read at most once a second, by whichever request comes first.
//!
//! Answers also expire after [`TTL`], since a few of them move with the clock (uptime over
//! the last day). Only `200` answers are kept; an error is shared with the requests that
//! waited for it, then built again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::memo::{Memo, Served};
use crate::store;

/// How long an answer is served at most, even with no change seen.
pub const TTL: Duration = Duration::from_secs(60);
/// How often the database is asked for the latest finished cycle.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// Distinct requests kept: the dataset search takes free text, so the keys are not
/// bounded by the routes. Past this many, answers are built but not kept.
const MAX_KEPT: usize = 4096;

/// Routes whose answers are about the moment, not the cycle.
const LIVE_ROUTES: [&str; 2] = ["/healthz", "/metrics"];

pub struct Answers {
    memo: Memo<Key, Option<Arc<Stored>>>,
    /// Bumped at every change; part of every key, so answers from before it are not found.
    epoch: AtomicU64,
    /// When the database is next asked for the latest finished cycle, in nanoseconds
    /// since `started`: an atomic, since every request reads it and one a second acts.
    next_check: AtomicU64,
    started: Instant,
    /// The latest finished cycle the database told of; locked only by the request that
    /// asks, once a second.
    seen: Mutex<Option<i64>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    epoch: u64,
    config: u64,
    /// What the answer depends on in the request: its path and query, and the host and
    /// scheme it came by (the DCAT export writes absolute IRIs from them).
    request: String,
}

/// A whole answer: status, headers and body.
struct Stored {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Stored {
    fn response(&self) -> Response {
        let mut response = Response::new(Body::from(self.body.clone()));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.clone();
        response
    }
}

impl Default for Answers {
    fn default() -> Self {
        Answers {
            memo: Memo::keeping(TTL, Option::is_some),
            epoch: AtomicU64::new(0),
            next_check: AtomicU64::new(0),
            started: Instant::now(),
            seen: Mutex::new(None),
        }
    }
}

impl Answers {
    /// Drops every answer: the daemon has just finished a cycle.
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// The current epoch, after asking the database for the latest finished cycle if
    /// nobody has in the last second. A database that does not answer changes nothing:
    /// the answers already built stay served.
    async fn epoch(&self, state: &AppState) -> u64 {
        if self.check_due() {
            // Purging walks the map under its lock; the memo runs it at most once per half
            // TTL, and asking only here keeps even that check off most requests.
            self.memo.purge_expired();
            if let Ok(latest) = state.store.run(store::latest_finished_cycle).await {
                let latest = latest.map(|c| c.id);
                let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
                if *seen != latest {
                    *seen = latest;
                    self.invalidate();
                }
            }
        }
        self.epoch.load(Ordering::SeqCst)
    }

    /// Whether this request is the one to ask the database: the first one past the
    /// deadline moves it on, the others see it moved.
    fn check_due(&self) -> bool {
        let now = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let due = self.next_check.load(Ordering::Relaxed);
        if now < due {
            return false;
        }
        let next = now.saturating_add(CHECK_EVERY.as_nanos() as u64);
        self.next_check
            .compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// The middleware: serves a cacheable GET from the store of answers, building it with the
/// handler when it is not there.
pub async fn serve(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let cached = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|p| !LIVE_ROUTES.contains(&p.as_str()));
    if !cached || request.method() != Method::GET {
        return next.run(request).await;
    }
    let answers = &state.answers;
    let key = Key {
        epoch: answers.epoch(&state).await,
        config: state.live.current().version,
        request: request_key(&request),
    };
    let count = |route: Option<&MatchedPath>, how: &str| {
        let route = route.map_or("", |p| p.as_str());
        state
            .metrics
            .inc(&state.metrics.http_answers, &[route, how]);
    };
    if answers.memo.len() >= MAX_KEPT {
        count(request.extensions().get(), "built");
        return next.run(request).await;
    }

    // The request goes into the build only if this request is the one to build; when
    // another request's build failed, this one still has its own to run. The route is
    // read from the request kept, or, when it went into the build, from a copy taken
    // then: a copy on every request would share one reference count between the cores.
    let mut own = Some((request, next));
    let mut uncached = None;
    let mut built_route = None;
    let (stored, served) = answers
        .memo
        .get_or_run(&key, || {
            let taken = own.take();
            let uncached = &mut uncached;
            let built_route = &mut built_route;
            async move {
                let (request, next) = taken?;
                *built_route = request.extensions().get::<MatchedPath>().cloned();
                match keep(next.run(request).await).await {
                    Ok(stored) => Some(Arc::new(stored)),
                    Err(response) => {
                        *uncached = Some(response);
                        None
                    }
                }
            }
        })
        .await;
    let route = match &own {
        Some((request, _)) => request.extensions().get::<MatchedPath>(),
        None => built_route.as_ref(),
    };
    let Some(stored) = stored else {
        count(route, "built");
        return match (uncached, own) {
            (Some(response), _) => response,
            (None, Some((request, next))) => next.run(request).await,
            // Unreachable: either this request built the answer or it still holds its
            // request; an empty answer is the honest reply if that ever changes.
            (None, None) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        };
    };
    count(
        route,
        match served {
            Served::Fresh => "built",
            Served::Cached => "cached",
            Served::Coalesced => "shared",
        },
    );
    stored.response()
}

fn request_key(request: &Request) -> String {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let (host, proto) = (header(header::HOST.as_str()), header("x-forwarded-proto"));
    let uri = request.uri();
    if uri.scheme().is_some() || uri.authority().is_some() {
        // An absolute-form target, which proxies send: rare enough for `format!`.
        return format!("{host}\n{proto}\n{uri}");
    }
    // The common case, joined by hand: `format!` on every request showed in the profile.
    let (path, query) = (uri.path(), uri.query());
    let mut key = String::with_capacity(
        host.len() + proto.len() + path.len() + query.map_or(0, |q| q.len() + 1) + 2,
    );
    for part in [host, "\n", proto, "\n", path] {
        key.push_str(part);
    }
    if let Some(query) = query {
        key.push('?');
        key.push_str(query);
    }
    key
}

/// A `200` answer read whole, to be kept; any other is handed back as it is.
async fn keep(response: Response) -> Result<Stored, Response> {
    if response.status() != StatusCode::OK {
        return Err(response);
    }
    let (parts, body) = response.into_parts();
    // The answers are this daemon's own, built from bounded pages, so the body is read
    // whole; a body that fails to read was never a good answer.
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => Ok(Stored {
            status: parts.status,
            headers: parts.headers,
            body,
        }),
        Err(e) => Err(super::ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("the answer could not be built: {e}"),
        }
        .into_response()),
    }
}
