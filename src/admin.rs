//! The admin endpoints, and the limits every API request is held to.
//!
//! The public API is read-only (GET only; anything else is 405 or 404). What changes the
//! daemon's state lives here, behind a bearer token:
//!
//! - `POST /api/v1/crawl` starts a cycle now (202), or says one is already running (409).
//!
//! With no token configured (`[server] admin_token`, or `DTINDEX_ADMIN_TOKEN`), none of
//! these routes exists: they answer 404 like any unknown path, so an unconfigured daemon
//! has no door to guess at. The token is compared in constant time (SHA-256 of both sides,
//! then `subtle`), so neither its bytes nor its length leak through timing, and it is never
//! logged: [`AdminToken`]'s `Debug` prints no part of it.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The largest request body the API accepts. No public route reads one, and the admin
/// routes take none either: a body is at most a few bytes of JSON.
pub const MAX_BODY_BYTES: u64 = 16 * 1024;
/// The most header bytes (names and values together) the API accepts in one request.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// The shortest token accepted: shorter ones can be guessed.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The admin bearer token. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(Arc<str>);

impl AdminToken {
    pub fn new(token: &str) -> Result<AdminToken, String> {
        let token = token.trim();
        if token.chars().count() < MIN_TOKEN_CHARS {
            return Err(format!(
                "the admin token must be at least {MIN_TOKEN_CHARS} characters (it has {})",
                token.chars().count()
            ));
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the admin token must not contain spaces or control characters".into());
        }
        Ok(AdminToken(token.into()))
    }

    /// Whether `presented` is the token, in time that depends on neither.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let a = Sha256::digest(self.0.as_bytes());
        let b = Sha256::digest(presented);
        a.ct_eq(&b).into()
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// Starts a cycle now unless one is running; says whether it started.
pub type Trigger = Arc<dyn Fn() -> bool + Send + Sync>;

#[derive(Clone)]
struct Admin {
    token: AdminToken,
    trigger: Trigger,
}

/// The admin routes, or none at all without a token.
pub fn router(token: Option<AdminToken>, trigger: Trigger) -> Router {
    match token {
        Some(token) => Router::new()
            .route("/api/v1/crawl", post(crawl))
            .with_state(Admin { token, trigger }),
        None => Router::new(),
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// Whether the request carries `Authorization: Bearer <token>`.
fn authorized(token: &AdminToken, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .is_some_and(|presented| token.matches(presented))
}

async fn crawl(State(admin): State<Admin>, headers: HeaderMap) -> Response {
    if !authorized(&admin.token, &headers) {
        tracing::warn!("admin request refused: missing or wrong bearer token");
        // The same answer for a missing and a wrong token: nothing to tell them apart by.
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"dtindex admin\"")],
            axum::Json(json!({ "error": "a valid admin bearer token is required" })),
        )
            .into_response();
    }
    if (admin.trigger)() {
        tracing::info!("admin: cycle started on request");
        (StatusCode::ACCEPTED, axum::Json(json!({ "started": true }))).into_response()
    } else {
        error(StatusCode::CONFLICT, "a cycle is already running")
    }
}

/// Holds every request to the limits: too many header bytes is 431, a declared body over
/// the limit is 413, and a body without a declared length is cut off at the limit.
pub async fn limits(request: Request, next: Next) -> Response {
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &format!("request headers are limited to {MAX_HEADER_BYTES} bytes"),
        );
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
        );
    }
    let request = request.map(|body| {
        axum::body::Body::new(http_body_util::Limited::new(body, MAX_BODY_BYTES as usize))
    });
    next.run(request).await
}

/// The daemon's whole HTTP surface: the public API, the admin routes (with a token), all
/// under the request limits.
pub fn app(public: Router, token: Option<AdminToken>, trigger: Trigger) -> Router {
    public
        .merge(router(token, trigger))
        .layer(axum::middleware::from_fn(limits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_matches_itself_only_and_never_shows() {
        let t = AdminToken::new("correct-horse-battery-staple").unwrap();
        assert!(t.matches(b"correct-horse-battery-staple"));
        assert!(!t.matches(b"correct-horse-battery-stapl"));
        assert!(!t.matches(b"correct-horse-battery-staple "));
        assert!(!t.matches(b""));
        assert!(!format!("{t:?}").contains("horse"));
        assert!(AdminToken::new("short").is_err());
        assert!(AdminToken::new("has a space in it, long enough").is_err());
    }
}
