//! The HTTP surface: health, Prometheus metrics, the JSON API (described by
//! `/api/openapi.json`, generated from the handlers below) and the server-rendered pages.
//!
//! Everything is read from the store's latest finished cycle, so any daemon sharing the
//! database answers the same, and a cycle in progress is never half-visible. The `load_*`
//! functions gather what an endpoint shows once, for the JSON and the pages alike, and
//! [`answers`] keeps what they built until the next finished cycle.

mod answers;

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, OpenApi, ToSchema};

pub use self::answers::Answers;
use crate::metrics::Metrics;
use crate::registry::AgencyKind;
use crate::store::{self, AgencyResultRow, CycleRow, Store, StoreError};

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Metrics,
    pub live: crate::config::Live,
    pub answers: std::sync::Arc<Answers>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/rankings", get(rankings))
        .route("/api/v1/national", get(national))
        .route("/api/v1/agencies/{code}", get(agency))
        .route("/api/v1/agencies/{code}/findings", get(findings))
        .route("/api/v1/agencies/{code}/history", get(history))
        .route("/api/v1/agencies/{code}/links", get(links))
        .route("/api/v1/datasets", get(datasets))
        .route("/api/v1/catalog.jsonld", get(catalog_jsonld))
        .merge(crate::pages::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            answers::serve,
        ))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// The OpenAPI document: every path is one of the handlers below, by its annotation.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "dtindex",
        description = "How well Vietnam's ministries and provinces publish and share their data: rankings, national attainment, each agency's scores and findings."
    ),
    paths(
        healthz,
        metrics,
        openapi,
        rankings,
        national,
        agency,
        findings,
        history,
        links,
        datasets,
        catalog_jsonld,
        crate::pages::national_page,
        crate::pages::agency_page,
        crate::pages::findings_csv,
        crate::pages::datasets_page,
    ),
    components(schemas(ErrorBody))
)]
pub struct ApiDoc;

/// Counts and times every request by its route pattern (`/api/v1/agencies/{code}`, never
/// the concrete path, so the label set stays bounded).
async fn track(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // The route is copied before the request is handed on: a `MatchedPath` clone would
    // share one reference count between the cores on every request.
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let metrics = &state.metrics;
    metrics.observe(
        &metrics.http_duration,
        &[route.as_str()],
        started.elapsed().as_secs_f64(),
    );
    metrics.inc(
        &metrics.http_requests,
        &[route.as_str(), method.as_str(), response.status().as_str()],
    );
    response
}

/// An API error: a status and a JSON body `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
}

impl ApiError {
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store query failed");
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "the database is not available; try again shortly".into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Query parameters, like axum's `Query`, but a query that does not parse is answered
/// like every other error: a 400 with a JSON body saying why.
pub struct Params<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Params<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Params(v))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /api/v1/rankings")
}

#[derive(Serialize, ToSchema)]
struct Health {
    status: String,
}

/// Liveness: answers while the process serves.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The daemon is up", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = tokio::task::spawn_blocking(move || state.metrics.render())
        .await
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "api",
    responses((status = 200, description = "The OpenAPI document of this daemon", body = Object)))]
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CycleInfo {
    pub id: i64,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub finished_at: Option<String>,
}

impl From<&CycleRow> for CycleInfo {
    fn from(c: &CycleRow) -> Self {
        let fmt = |t: chrono::NaiveDateTime| {
            t.and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        CycleInfo {
            id: c.id,
            started_at: fmt(c.started_at),
            finished_at: c.finished_at.map(fmt),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RankingEntry {
    pub rank: i32,
    pub rank_in_kind: i32,
    pub code: String,
    pub name: String,
    pub kind: String,
    /// 0–1000, like the official DTI.
    pub index: f64,
    /// The same index on 0–1.
    pub index_ratio: f64,
    pub completeness: f64,
    pub datasets: i64,
    pub band: &'static str,
    /// Places gained (positive) or lost since the previous finished cycle; `None` for an
    /// agency not ranked then.
    pub movement: Option<i32>,
    /// Each target's verdict (`met`, `partly`, `not_met`) by target id.
    pub targets: BTreeMap<String, Option<String>>,
}

impl From<AgencyResultRow> for RankingEntry {
    fn from(r: AgencyResultRow) -> Self {
        RankingEntry {
            rank: r.rank_overall,
            rank_in_kind: r.rank_in_kind,
            index: round2(r.index_points),
            index_ratio: round4(r.index_points / crate::score::INDEX_SCALE),
            completeness: round4(r.completeness),
            code: r.agency_code,
            name: r.name,
            kind: r.kind,
            datasets: r.datasets,
            band: crate::score::Band::Poor.as_str(),
            movement: None,
            targets: BTreeMap::new(),
        }
    }
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RankingQuery {
    /// `ministry` or `province`; all agencies when absent.
    kind: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Rankings {
    /// `null` before the first finished cycle.
    pub cycle: Option<CycleInfo>,
    pub entries: Vec<RankingEntry>,
}

/// The latest finished cycle's ranking, of one kind or all, with movement against the
/// previous cycle and each target's verdict.
pub async fn load_rankings(
    state: &AppState,
    kind: Option<AgencyKind>,
) -> Result<Rankings, ApiError> {
    let found = state
        .store
        .run(|c| {
            let Some(cycle) = store::latest_finished_cycle(c)? else {
                return Ok(None);
            };
            let rows = store::rankings(c, cycle.id)?;
            let verdicts = store::cycle_verdicts(c, cycle.id)?;
            let before = match store::previous_finished_cycle(c, cycle.id)? {
                Some(p) => store::rankings(c, p.id)?,
                None => Vec::new(),
            };
            Ok(Some((cycle, rows, verdicts, before)))
        })
        .await?;
    let Some((cycle, rows, verdicts, before)) = found else {
        return Ok(Rankings {
            cycle: None,
            entries: Vec::new(),
        });
    };
    let method = state.live.current().method.clone();
    let entries: Vec<RankingEntry> = rows
        .into_iter()
        .filter(|r| kind.is_none_or(|k| r.kind == k.as_str()))
        .map(|r| {
            // Within a kind, movement is by the rank within it.
            let rank_of = |r: &AgencyResultRow| {
                if kind.is_some() {
                    r.rank_in_kind
                } else {
                    r.rank_overall
                }
            };
            let movement = before
                .iter()
                .find(|b| b.agency_code == r.agency_code)
                .map(|b| rank_of(b) - rank_of(&r));
            let band = crate::score::Band::of(r.index_points, &method.bands).as_str();
            let targets = method
                .targets
                .iter()
                .map(|t| {
                    let verdict = verdicts
                        .iter()
                        .find(|(_, v)| v.agency_code == r.agency_code && v.component == t.id)
                        .and_then(|(_, v)| v.verdict.clone());
                    (t.id.clone(), verdict)
                })
                .collect();
            RankingEntry {
                band,
                movement,
                targets,
                ..RankingEntry::from(r)
            }
        })
        .collect();
    Ok(Rankings {
        cycle: Some(CycleInfo::from(&cycle)),
        entries,
    })
}

pub fn parse_kind(kind: Option<&str>) -> Result<Option<AgencyKind>, ApiError> {
    match kind {
        None | Some("") => Ok(None),
        Some(k) => k
            .parse::<AgencyKind>()
            .map(Some)
            .map_err(|e| ApiError::bad_request(format!("{e}; use kind=ministry or kind=province"))),
    }
}

/// The agencies ranked by index in the latest finished cycle.
#[utoipa::path(get, path = "/api/v1/rankings", tag = "api", params(RankingQuery),
    responses(
        (status = 200, description = "The ranking (empty before the first cycle)", body = Rankings),
        (status = 400, description = "An unknown kind", body = ErrorBody),
        (status = 503, description = "The database is not available", body = ErrorBody),
    ))]
async fn rankings(
    State(state): State<AppState>,
    Params(q): Params<RankingQuery>,
) -> ApiResult<Rankings> {
    let kind = parse_kind(q.kind.as_deref())?;
    Ok(Json(load_rankings(&state, kind).await?))
}

/// Resolves `{code}` against the registry: an unknown agency is a 404.
pub fn known(state: &AppState, code: &str) -> Result<crate::registry::Agency, ApiError> {
    state
        .live
        .current()
        .registry
        .get(code)
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no agency with code `{code}`; see /api/v1/rankings"
            ))
        })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PartOut {
    pub id: String,
    pub name: String,
    pub verdict: Option<String>,
    pub points: f64,
    pub max_points: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TargetOut {
    pub id: String,
    pub name: String,
    pub name_vi: String,
    pub source: String,
    pub verdict: Option<String>,
    pub points: f64,
    pub max_points: f64,
    pub parts: Vec<PartOut>,
    /// The findings that explain what the target lost.
    pub reasons: Vec<FindingOut>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DimensionOut {
    /// 0–100.
    pub score: f64,
    /// The dimension's Vietnamese name (đủ, đúng, sạch, sống).
    pub vi: &'static str,
    pub points: f64,
    pub max_points: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PointsOut {
    pub points: f64,
    pub max_points: f64,
}

/// What the latest finished cycle said about an agency: absent, field by field, before
/// the agency's first cycle (hence no field is required).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(default)]
pub struct AgencyScored {
    pub index: f64,
    pub index_ratio: f64,
    pub band: &'static str,
    /// By dimension: sufficient, correct, clean, alive.
    pub dimensions: BTreeMap<String, DimensionOut>,
    pub rank: i32,
    pub rank_in_kind: i32,
    /// Places gained (positive) or lost overall since the previous finished cycle.
    pub movement: Option<i32>,
    pub completeness: f64,
    pub datasets: i64,
    pub targets: Vec<TargetOut>,
    /// Every scored component by id.
    pub scores: BTreeMap<String, PointsOut>,
    /// The catalog fetch: URL, outcome, status, size, links checked.
    #[schema(value_type = Option<Object>)]
    pub catalog: Option<store::CatalogFetchRow>,
    /// Each sharing service's probe.
    #[schema(value_type = Vec<Object>)]
    pub services: Vec<store::ProbeRow>,
    /// Share of probes up over the last day, week and month, for the agency and by service.
    #[schema(value_type = Object)]
    pub uptime: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgencyOut {
    pub code: String,
    pub name: String,
    pub name_ascii: String,
    #[schema(value_type = String)]
    pub kind: AgencyKind,
    pub predecessors: Vec<String>,
    /// The catalog, services and declaration the registry lists for it.
    #[schema(value_type = Object)]
    pub endpoints: serde_json::Value,
    /// `null` before the agency's first finished cycle.
    pub latest_cycle: Option<CycleInfo>,
    #[serde(flatten)]
    pub scored: Option<AgencyScored>,
}

/// An agency as the registry lists it, and as the latest finished cycle scored it.
pub async fn load_agency(state: &AppState, code: &str) -> Result<AgencyOut, ApiError> {
    let agency = known(state, code)?;
    let code = code.to_string();
    let found = state
        .store
        .run(move |c| {
            let Some(cycle) = store::latest_finished_cycle(c)? else {
                return Ok(None);
            };
            let detail = store::agency_detail(c, cycle.id, &code)?;
            let findings = store::agency_findings(c, cycle.id, &code)?;
            let before = match store::previous_finished_cycle(c, cycle.id)? {
                Some(p) => store::rankings(c, p.id)?
                    .into_iter()
                    .find(|r| r.agency_code == code),
                None => None,
            };
            Ok(Some((cycle, detail, findings, before)))
        })
        .await?;
    let method = state.live.current().method.clone();
    let endpoints = json!({
        "catalog": agency.catalog,
        "services": agency.services,
        "declaration_url": agency.declaration_url,
    });
    let mut out = AgencyOut {
        code: agency.code.clone(),
        name: agency.name,
        name_ascii: agency.name_ascii,
        kind: agency.kind,
        predecessors: agency.predecessors,
        endpoints,
        latest_cycle: None,
        scored: None,
    };
    let Some((cycle, Some(detail), findings, before)) = found else {
        return Ok(out);
    };
    let component = |id: &str| detail.components.iter().find(|c| c.component == id);
    // Each target with its parts, and the findings that explain what it lost.
    let targets: Vec<TargetOut> = method
        .targets
        .iter()
        .filter_map(|t| {
            let c = component(&t.id)?;
            let parts = t
                .parts
                .iter()
                .filter_map(|p| {
                    let pc = component(p.id())?;
                    Some(PartOut {
                        id: p.id().to_string(),
                        name: p.name.clone(),
                        verdict: pc.verdict.clone(),
                        points: round2(pc.points),
                        max_points: pc.max_points,
                    })
                })
                .collect();
            let prefix = format!("{}.", t.id);
            let reasons = findings
                .iter()
                .filter(|f| f.rule.starts_with(&prefix))
                .map(FindingOut::from)
                .collect();
            Some(TargetOut {
                id: t.id.clone(),
                name: t.name.clone(),
                name_vi: t.name_vi.clone(),
                source: t.source.clone(),
                verdict: c.verdict.clone(),
                points: round2(c.points),
                max_points: c.max_points,
                parts,
                reasons,
            })
        })
        .collect();
    let dimensions = crate::score::Dimension::ALL
        .iter()
        .filter_map(|d| {
            let c = component(&crate::score::dimension_id(*d))?;
            let score = if c.max_points > 0.0 {
                100.0 * c.points / c.max_points
            } else {
                100.0
            };
            Some((
                d.as_str().to_string(),
                DimensionOut {
                    score: round2(score),
                    vi: d.vietnamese(),
                    points: round2(c.points),
                    max_points: c.max_points,
                },
            ))
        })
        .collect();
    let scores = detail
        .components
        .iter()
        .map(|c| {
            (
                c.component.clone(),
                PointsOut {
                    points: round2(c.points),
                    max_points: c.max_points,
                },
            )
        })
        .collect();
    let r = &detail.result;
    out.latest_cycle = Some(CycleInfo::from(&cycle));
    out.scored = Some(AgencyScored {
        index: round2(r.index_points),
        index_ratio: round4(r.index_points / crate::score::INDEX_SCALE),
        band: crate::score::Band::of(r.index_points, &method.bands).as_str(),
        dimensions,
        rank: r.rank_overall,
        rank_in_kind: r.rank_in_kind,
        movement: before.map(|b| b.rank_overall - r.rank_overall),
        completeness: round4(r.completeness),
        datasets: r.datasets,
        targets,
        scores,
        catalog: detail.catalog.clone(),
        services: detail.probes.clone(),
        uptime: json!({
            "agency": detail.uptime.agencies.get(&agency.code),
            "services": detail.uptime.services,
        }),
    });
    Ok(out)
}

/// One agency: endpoints, index, band, rank, dimensions, each target with its parts and
/// reasons, the catalog fetch and service probes of the latest finished cycle.
#[utoipa::path(get, path = "/api/v1/agencies/{code}", tag = "api",
    params(("code" = String, Path, description = "The agency's code, as in the registry")),
    responses(
        (status = 200, description = "The agency", body = AgencyOut),
        (status = 404, description = "No agency with that code", body = ErrorBody),
        (status = 503, description = "The database is not available", body = ErrorBody),
    ))]
async fn agency(State(state): State<AppState>, Path(code): Path<String>) -> ApiResult<AgencyOut> {
    Ok(Json(load_agency(&state, &code).await?))
}

/// How many finished cycles the national trend and forecast look back over.
const TREND_CYCLES: i64 = 90;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttainmentOut {
    /// A target (`T3`) or one of its parts (`T3.plan`).
    pub id: String,
    /// `ministry`, `province` or `all`.
    pub kind: &'static str,
    pub met: usize,
    pub agencies: usize,
    pub share: f64,
    pub goal: f64,
    pub goal_is_over: bool,
    pub goal_met: bool,
    /// For `all` only: when the goal is reached at the recent pace.
    #[schema(value_type = Option<Object>)]
    pub forecast: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NationalOut {
    pub latest_cycle: Option<CycleInfo>,
    /// The scoring method's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub attainment: Vec<AttainmentOut>,
}

/// National attainment in one cycle, from its stored verdicts (see [`store::cycle_verdicts`]).
pub fn attainment_of(
    method: &crate::score::Method,
    rows: &[(String, store::ComponentRow)],
) -> Vec<crate::score::national::Attainment> {
    let mut agencies: BTreeMap<&str, (AgencyKind, Vec<crate::score::Component>)> =
        Default::default();
    for (kind, c) in rows {
        let kind = kind.parse().unwrap_or(AgencyKind::Province);
        agencies
            .entry(c.agency_code.as_str())
            .or_insert_with(|| (kind, Vec::new()))
            .1
            .push(crate::score::Component {
                id: c.component.clone(),
                verdict: c.verdict.as_deref().and_then(crate::score::Verdict::parse),
                points: c.points,
                max_points: c.max_points,
            });
    }
    let list: Vec<_> = agencies.into_values().collect();
    crate::score::national::attainment(method, &list)
}

/// National attainment per target and part, per kind and overall, against each goal; and
/// when each goal is reached at the pace of the recent cycles.
pub async fn load_national(state: &AppState) -> Result<NationalOut, ApiError> {
    use crate::score::national::{self, Forecast};
    let method = state.live.current().method.clone();
    let history = state
        .store
        .run(|c| store::verdict_history(c, TREND_CYCLES))
        .await?;
    let attainment_of = |rows: &[(String, store::ComponentRow)]| attainment_of(&method, rows);
    let Some((latest, rows)) = history.last() else {
        return Ok(NationalOut {
            latest_cycle: None,
            method: None,
            attainment: Vec::new(),
        });
    };
    // Each cycle's overall shares, by the day it finished.
    let trend: Vec<(i32, Vec<national::Attainment>)> = history
        .iter()
        .filter_map(|(cycle, rows)| {
            let day = crate::score::day_of(cycle.finished_at?.and_utc().timestamp());
            Some((day, attainment_of(rows)))
        })
        .collect();
    let attainment = attainment_of(rows)
        .into_iter()
        .map(|a| {
            let forecast = a.kind.is_none().then(|| {
                let points: Vec<(i32, f64)> = trend
                    .iter()
                    .filter_map(|(day, all)| {
                        all.iter()
                            .find(|x| x.id == a.id && x.kind.is_none())
                            .map(|x| (*day, x.share))
                    })
                    .collect();
                match national::forecast(&points, a.goal, a.above) {
                    Forecast::Reached { day } => {
                        let date = chrono::DateTime::from_timestamp(i64::from(day) * 86_400, 0)
                            .map(|t| t.date_naive().to_string());
                        json!({ "status": "reached", "date": date })
                    }
                    other => json!(other),
                }
            });
            AttainmentOut {
                id: a.id,
                kind: a.kind.map_or("all", AgencyKind::as_str),
                met: a.met,
                agencies: a.agencies,
                share: round4(a.share),
                goal: a.goal,
                goal_is_over: a.above,
                goal_met: a.goal_met,
                forecast,
            }
        })
        .collect();
    Ok(NationalOut {
        latest_cycle: Some(CycleInfo::from(latest)),
        method: Some(method.version.clone()),
        attainment,
    })
}

/// National attainment of every target and part against its goal, with a forecast.
#[utoipa::path(get, path = "/api/v1/national", tag = "api",
    responses(
        (status = 200, description = "Attainment per target, part and kind", body = NationalOut),
        (status = 503, description = "The database is not available", body = ErrorBody),
    ))]
async fn national(State(state): State<AppState>) -> ApiResult<NationalOut> {
    Ok(Json(load_national(&state).await?))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FindingOut {
    pub rule: String,
    /// `info`, `low`, `medium` or `high`.
    pub severity: String,
    /// What the finding is about: the agency, a catalog URL, a service URL, a dataset.
    pub subject: String,
    pub message: String,
    pub fix: String,
    /// Points of the index it costs.
    pub points: f64,
}

impl From<&store::FindingRow> for FindingOut {
    fn from(f: &store::FindingRow) -> Self {
        FindingOut {
            rule: f.rule.clone(),
            severity: f.severity.clone(),
            subject: f.subject.clone(),
            message: f.message.clone(),
            fix: f.fix.clone(),
            points: round2(f.points),
        }
    }
}

/// The agency's findings in the latest finished cycle, costliest first.
pub async fn load_findings(state: &AppState, code: &str) -> Result<Vec<FindingOut>, ApiError> {
    known(state, code)?;
    let code = code.to_string();
    let rows = state
        .store
        .run(move |c| match store::latest_finished_cycle(c)? {
            Some(cycle) => store::agency_findings(c, cycle.id, &code),
            None => Ok(Vec::new()),
        })
        .await?;
    Ok(rows.iter().map(FindingOut::from).collect())
}

/// The agency's findings: every point it lost, and how to get it back.
#[utoipa::path(get, path = "/api/v1/agencies/{code}/findings", tag = "api",
    params(("code" = String, Path, description = "The agency's code")),
    responses(
        (status = 200, description = "Findings, costliest first", body = Vec<FindingOut>),
        (status = 404, description = "No agency with that code", body = ErrorBody),
        (status = 503, description = "The database is not available", body = ErrorBody),
    ))]
async fn findings(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<Vec<FindingOut>> {
    Ok(Json(load_findings(&state, &code).await?))
}

/// The agency's catalog links as last checked, broken and longest failing first: the
/// list behind the link findings.
#[utoipa::path(get, path = "/api/v1/agencies/{code}/links", tag = "api",
    params(("code" = String, Path, description = "The agency's code")),
    responses(
        (status = 200, description = "Links, broken first", body = Vec<Object>),
        (status = 404, description = "No agency with that code", body = ErrorBody),
        (status = 503, description = "The database is not available", body = ErrorBody),
    ))]
async fn links(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<Vec<crate::links::history::LinkRecord>> {
    known(&state, &code)?;
    let mut records = state
        .store
        .run(move |c| store::agency_links(c, &code))
        .await?;
    records.sort_by_key(|r| std::cmp::Reverse(r.broken));
    Ok(Json(records))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryPoint {
    pub cycle: CycleInfo,
    pub index: f64,
    /// Before the merge: the mean of the predecessors' indices.
    pub rolled_up_from_predecessors: bool,
    pub rank: Option<i32>,
    pub rank_in_kind: Option<i32>,
    pub completeness: Option<f64>,
    pub datasets: Option<i64>,
}

/// The agency's index in every finished cycle, oldest first, rolled up from its
/// predecessors before a merge.
pub async fn load_history(state: &AppState, code: &str) -> Result<Vec<HistoryPoint>, ApiError> {
    let agency = known(state, code)?;
    let predecessors = agency.predecessors.clone();
    let code = code.to_string();
    let (rows, before) = state
        .store
        .run(move |c| {
            let rows = store::agency_history(c, &code)?;
            let mut before = Vec::new();
            for p in &predecessors {
                before.extend(store::agency_history(c, p)?);
            }
            Ok((rows, before))
        })
        .await?;
    let own: Vec<(i64, f64)> = rows.iter().map(|(c, r)| (c.id, r.index_points)).collect();
    let pre: Vec<(i64, f64)> = before.iter().map(|(c, r)| (c.id, r.index_points)).collect();
    let cycles: BTreeMap<i64, &CycleRow> = rows
        .iter()
        .chain(before.iter())
        .map(|(c, _)| (c.id, c))
        .collect();
    Ok(crate::score::national::merged_history(&own, &pre)
        .into_iter()
        .filter_map(|(id, index, rolled_up)| {
            let cycle = cycles.get(&id)?;
            let r = rows.iter().find(|(c, _)| c.id == id).map(|(_, r)| r);
            Some(HistoryPoint {
                cycle: CycleInfo::from(*cycle),
                index: round2(index),
                rolled_up_from_predecessors: rolled_up,
                rank: r.map(|r| r.rank_overall),
                rank_in_kind: r.map(|r| r.rank_in_kind),
                completeness: r.map(|r| round4(r.completeness)),
                datasets: r.map(|r| r.datasets),
            })
        })
        .collect())
}

/// The agency's index, rank and size in every finished cycle, oldest first.
#[utoipa::path(get, path = "/api/v1/agencies/{code}/history", tag = "api",
    params(("code" = String, Path, description = "The agency's code")),
    responses(
        (status = 200, description = "One point per finished cycle", body = Vec<HistoryPoint>),
        (status = 404, description = "No agency with that code", body = ErrorBody),
        (status = 503, description = "The database is not available", body = ErrorBody),
    ))]
async fn history(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<Vec<HistoryPoint>> {
    Ok(Json(load_history(&state, &code).await?))
}

/// Most datasets one answer of `/api/v1/datasets` holds.
pub const MAX_PER_PAGE: i64 = 500;
/// Datasets per page of the DCAT export.
pub const EXPORT_PAGE: i64 = 1_000;

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct DatasetsQuery {
    /// Words that must all appear in the title, keywords, publisher or identifier;
    /// diacritics and case are ignored (`ngan sach` finds `Ngân sách`).
    pub q: Option<String>,
    /// Only this agency's datasets (its code).
    pub agency: Option<String>,
    /// Only `ministry` or `province` datasets.
    pub kind: Option<String>,
    /// Only datasets with a distribution in this format (`csv`, any case).
    pub format: Option<String>,
    /// Only datasets under this license, exactly as the catalog gives it.
    pub license: Option<String>,
    /// From 1.
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// 1 to 500; 50 when absent.
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetsOut {
    /// How many datasets match, over all pages.
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub datasets: Vec<crate::catalog::national::FederationDataset>,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Searches the national catalog: every agency's datasets from its last good harvest.
pub async fn load_datasets(state: &AppState, q: &DatasetsQuery) -> Result<DatasetsOut, ApiError> {
    let page = q.page.unwrap_or(1);
    let per_page = q.per_page.unwrap_or(50);
    if page < 1 || !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::bad_request(format!(
            "page starts at 1 and per_page is 1 to {MAX_PER_PAGE}"
        )));
    }
    let registry = state.live.current().registry.clone();
    let kind = parse_kind(q.kind.as_deref())?;
    let agency = given(&q.agency);
    if let Some(code) = &agency {
        known(state, code)?;
    }
    let agencies = match (agency, kind) {
        (Some(code), _) => Some(vec![code]),
        (None, Some(k)) => Some(
            registry
                .agencies
                .iter()
                .filter(|a| a.kind == k)
                .map(|a| a.code.clone())
                .collect(),
        ),
        (None, None) => None,
    };
    let query = store::DatasetQuery {
        text: given(&q.q),
        agencies,
        format: given(&q.format),
        license: given(&q.license),
        offset: (page - 1).saturating_mul(per_page),
        limit: per_page,
    };
    let (total, rows) = state
        .store
        .run(move |c| store::search_datasets(c, &query))
        .await?;
    Ok(DatasetsOut {
        total,
        page,
        per_page,
        datasets: rows
            .into_iter()
            .map(|(code, record)| federation_dataset(&registry, code, record))
            .collect(),
    })
}

fn federation_dataset(
    registry: &crate::registry::Registry,
    code: String,
    record: crate::catalog::national::DatasetRecord,
) -> crate::catalog::national::FederationDataset {
    let agency = registry.get(&code);
    crate::catalog::national::FederationDataset {
        agency_name: agency.map_or_else(|| code.clone(), |a| a.name.clone()),
        kind: agency.map_or("", |a| a.kind.as_str()).to_string(),
        agency: code,
        record,
    }
}

/// The national catalog: search and filter every harvested dataset.
#[utoipa::path(get, path = "/api/v1/datasets", tag = "api", params(DatasetsQuery),
    responses(
        (status = 200, description = "One page of the matching datasets", body = DatasetsOut),
        (status = 400, description = "A bad page, size or kind", body = ErrorBody),
        (status = 404, description = "No agency with that code", body = ErrorBody),
        (status = 503, description = "The database is not available", body = ErrorBody),
    ))]
async fn datasets(
    State(state): State<AppState>,
    Params(q): Params<DatasetsQuery>,
) -> ApiResult<DatasetsOut> {
    Ok(Json(load_datasets(&state, &q).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportQuery {
    /// From 1; each page names the next as `hydra:next`.
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Datasets per page, 1 to 1000; 1000 when absent.
    #[param(minimum = 1, maximum = 1000)]
    pub per_page: Option<i64>,
}

/// The whole federation's datasets as a DCAT catalog in JSON-LD, a page at a time: what
/// another dtindex registers as this federation's catalog (format `dcat`).
#[utoipa::path(get, path = "/api/v1/catalog.jsonld", tag = "api", params(ExportQuery),
    responses(
        (status = 200, description = "A page of the DCAT catalog", body = Object, content_type = "application/ld+json"),
        (status = 400, description = "A bad page", body = ErrorBody),
        (status = 503, description = "The database is not available", body = ErrorBody),
    ))]
async fn catalog_jsonld(
    State(state): State<AppState>,
    Params(q): Params<ExportQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let page = q.page.unwrap_or(1);
    let per_page = q.per_page.unwrap_or(EXPORT_PAGE);
    if page < 1 || !(1..=EXPORT_PAGE).contains(&per_page) {
        return Err(ApiError::bad_request(format!(
            "page starts at 1 and per_page is 1 to {EXPORT_PAGE}"
        )));
    }
    let query = store::DatasetQuery {
        offset: (page - 1).saturating_mul(per_page),
        limit: per_page,
        ..store::DatasetQuery::default()
    };
    let (total, rows) = state
        .store
        .run(move |c| store::search_datasets(c, &query))
        .await?;
    let registry = state.live.current().registry.clone();
    let datasets: Vec<_> = rows
        .into_iter()
        .map(|(code, record)| federation_dataset(&registry, code, record))
        .collect();
    // Absolute IRIs, from the address the client used: a harvester behind a proxy
    // that says https (X-Forwarded-Proto) gets https.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    let url_of =
        |p: i64| format!("{scheme}://{host}/api/v1/catalog.jsonld?page={p}&per_page={per_page}");
    let next = (page.saturating_mul(per_page) < total).then(|| url_of(page + 1));
    let body = crate::catalog::national::jsonld_page(
        "dtindex federation catalog",
        &url_of(page),
        next.as_deref(),
        &datasets,
    );
    Ok((
        [(header::CONTENT_TYPE, "application/ld+json")],
        body.to_string(),
    )
        .into_response())
}
