//! The HTTP surface: health, Prometheus metrics and the JSON API.
//!
//! Everything is read from the store's latest finished cycle, so any daemon sharing the
//! database answers the same, and a cycle in progress is never half-visible.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::metrics::Metrics;
use crate::registry::AgencyKind;
use crate::store::{self, AgencyResultRow, CycleRow, Store, StoreError};

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Metrics,
    pub live: crate::config::Live,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/rankings", get(rankings))
        .route("/api/v1/national", get(national))
        .route("/api/v1/agencies/{code}", get(agency))
        .route("/api/v1/agencies/{code}/findings", get(findings))
        .route("/api/v1/agencies/{code}/history", get(history))
        .route("/api/v1/agencies/{code}/links", get(links))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// Counts and times every request by its route pattern (`/api/v1/agencies/{code}`, never
/// the concrete path, so the label set stays bounded).
async fn track(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = request.method().as_str().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .http_duration
        .with_label_values(&[route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    state
        .metrics
        .http_requests
        .with_label_values(&[route.as_str(), method.as_str(), response.status().as_str()])
        .inc();
    response
}

/// An API error: a status and a JSON body `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
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
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /api/v1/rankings")
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

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

#[derive(Debug, Serialize)]
pub struct CycleInfo {
    pub id: i64,
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

#[derive(Debug, Serialize)]
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
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[derive(Debug, Deserialize)]
struct RankingQuery {
    kind: Option<String>,
}

async fn rankings(
    State(state): State<AppState>,
    Query(q): Query<RankingQuery>,
) -> ApiResult<serde_json::Value> {
    let kind = match q.kind.as_deref() {
        None | Some("") => None,
        Some(k) => Some(k.parse::<AgencyKind>().map_err(|e| ApiError {
            status: StatusCode::BAD_REQUEST,
            message: format!("{e}; use kind=ministry or kind=province"),
        })?),
    };
    let found = state
        .store
        .run(|c| {
            let Some(cycle) = store::latest_finished_cycle(c)? else {
                return Ok(None);
            };
            let rows = store::rankings(c, cycle.id)?;
            let before = match store::previous_finished_cycle(c, cycle.id)? {
                Some(p) => store::rankings(c, p.id)?,
                None => Vec::new(),
            };
            Ok(Some((cycle, rows, before)))
        })
        .await?;
    let Some((cycle, rows, before)) = found else {
        return Ok(Json(json!({ "cycle": null, "entries": [] })));
    };
    let bands = state.live.current().method.bands;
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
            let band = crate::score::Band::of(r.index_points, &bands).as_str();
            RankingEntry {
                band,
                movement,
                ..RankingEntry::from(r)
            }
        })
        .collect();
    Ok(Json(
        json!({ "cycle": CycleInfo::from(&cycle), "entries": entries }),
    ))
}

/// Resolves `{code}` against the registry: an unknown agency is a 404.
fn known(state: &AppState, code: &str) -> Result<crate::registry::Agency, ApiError> {
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

async fn agency(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<serde_json::Value> {
    let agency = known(&state, &code)?;
    let found = state
        .store
        .run(move |c| {
            let Some(cycle) = store::latest_finished_cycle(c)? else {
                return Ok(None);
            };
            let detail = store::agency_detail(c, cycle.id, &code)?;
            let findings = store::agency_findings(c, cycle.id, &code)?;
            Ok(Some((cycle, detail, findings)))
        })
        .await?;
    let method = state.live.current().method.clone();
    let endpoints = json!({
        "catalog": agency.catalog,
        "services": agency.services,
        "declaration_url": agency.declaration_url,
    });
    let mut body = json!({
        "code": agency.code,
        "name": agency.name,
        "name_ascii": agency.name_ascii,
        "kind": agency.kind,
        "predecessors": agency.predecessors,
        "endpoints": endpoints,
        "latest_cycle": null,
    });
    if let Some((cycle, Some(detail), findings)) = found {
        let component = |id: &str| detail.components.iter().find(|c| c.component == id);
        // Each target with its parts, and the findings that explain what it lost.
        let targets: Vec<_> = method
            .targets
            .iter()
            .filter_map(|t| {
                let c = component(&t.id)?;
                let parts: Vec<_> = t
                    .parts
                    .iter()
                    .filter_map(|p| {
                        let pc = component(p.id())?;
                        Some(json!({ "id": p.id(), "name": p.name, "verdict": pc.verdict, "points": round2(pc.points), "max_points": pc.max_points }))
                    })
                    .collect();
                let prefix = format!("{}.", t.id);
                let reasons: Vec<_> = findings
                    .iter()
                    .filter(|f| f.rule.starts_with(&prefix))
                    .map(|f| json!({ "rule": f.rule, "subject": f.subject, "message": f.message, "fix": f.fix, "points": round2(f.points) }))
                    .collect();
                Some(json!({ "id": t.id, "name": t.name, "name_vi": t.name_vi, "source": t.source, "verdict": c.verdict, "points": round2(c.points), "max_points": c.max_points, "parts": parts, "reasons": reasons }))
            })
            .collect();
        let dimensions: serde_json::Map<String, serde_json::Value> = crate::score::Dimension::ALL
            .iter()
            .filter_map(|d| {
                let c = component(&crate::score::dimension_id(*d))?;
                let score = if c.max_points > 0.0 { 100.0 * c.points / c.max_points } else { 100.0 };
                Some((d.as_str().to_string(), json!({ "score": round2(score), "vi": d.vietnamese(), "points": round2(c.points), "max_points": c.max_points })))
            })
            .collect();
        let band = crate::score::Band::of(detail.result.index_points, &method.bands);
        let scores: serde_json::Map<String, serde_json::Value> = detail
            .components
            .iter()
            .map(|c| {
                (
                    c.component.clone(),
                    json!({ "points": round2(c.points), "max_points": c.max_points }),
                )
            })
            .collect();
        let extra = json!({
            "latest_cycle": CycleInfo::from(&cycle),
            "index": round2(detail.result.index_points),
            "index_ratio": round4(detail.result.index_points / crate::score::INDEX_SCALE),
            "band": band.as_str(),
            "dimensions": dimensions,
            "rank": detail.result.rank_overall,
            "rank_in_kind": detail.result.rank_in_kind,
            "completeness": round4(detail.result.completeness),
            "datasets": detail.result.datasets,
            "targets": targets,
            "scores": scores,
            "catalog": detail.catalog,
            "services": detail.probes,
            "uptime": {
                "agency": detail.uptime.agencies.get(&agency.code),
                "services": detail.uptime.services,
            },
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
    }
    Ok(Json(body))
}

/// How many finished cycles the national trend and forecast look back over.
const TREND_CYCLES: i64 = 90;

/// National attainment per target and part, per kind and overall, against each goal; and
/// when each goal is reached at the pace of the recent cycles.
async fn national(State(state): State<AppState>) -> ApiResult<serde_json::Value> {
    use crate::score::national::{self, Forecast};
    let method = state.live.current().method.clone();
    let history = state
        .store
        .run(|c| store::verdict_history(c, TREND_CYCLES))
        .await?;
    let attainment_of = |rows: &[(String, store::ComponentRow)]| {
        let mut agencies: std::collections::BTreeMap<
            &str,
            (AgencyKind, Vec<crate::score::Component>),
        > = Default::default();
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
        national::attainment(&method, &list)
    };
    let Some((latest, rows)) = history.last() else {
        return Ok(Json(json!({ "latest_cycle": null, "attainment": [] })));
    };
    // Each cycle's overall shares, by the day it finished.
    let trend: Vec<(i32, Vec<national::Attainment>)> = history
        .iter()
        .filter_map(|(cycle, rows)| {
            let day = crate::score::day_of(cycle.finished_at?.and_utc().timestamp());
            Some((day, attainment_of(rows)))
        })
        .collect();
    let attainment: Vec<_> = attainment_of(rows)
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
            json!({
                "id": a.id,
                "kind": a.kind.map_or("all", AgencyKind::as_str),
                "met": a.met,
                "agencies": a.agencies,
                "share": round4(a.share),
                "goal": a.goal,
                "goal_is_over": a.above,
                "goal_met": a.goal_met,
                "forecast": forecast,
            })
        })
        .collect();
    Ok(Json(json!({
        "latest_cycle": CycleInfo::from(latest),
        "method": method.version,
        "attainment": attainment,
    })))
}

#[derive(Debug, Serialize)]
struct FindingOut {
    rule: String,
    severity: String,
    subject: String,
    message: String,
    fix: String,
    points: f64,
}

async fn findings(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<Vec<FindingOut>> {
    known(&state, &code)?;
    let rows = state
        .store
        .run(move |c| match store::latest_finished_cycle(c)? {
            Some(cycle) => store::agency_findings(c, cycle.id, &code),
            None => Ok(Vec::new()),
        })
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|f| FindingOut {
                rule: f.rule,
                severity: f.severity,
                subject: f.subject,
                message: f.message,
                fix: f.fix,
                points: round2(f.points),
            })
            .collect(),
    ))
}

/// The agency's catalog links as last checked, broken and longest failing first: the
/// list behind the link findings.
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

async fn history(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<Vec<serde_json::Value>> {
    let agency = known(&state, &code)?;
    let predecessors = agency.predecessors.clone();
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
    let cycles: std::collections::BTreeMap<i64, &CycleRow> = rows
        .iter()
        .chain(before.iter())
        .map(|(c, _)| (c.id, c))
        .collect();
    Ok(Json(
        crate::score::national::merged_history(&own, &pre)
            .into_iter()
            .filter_map(|(id, index, rolled_up)| {
                let cycle = cycles.get(&id)?;
                let r = rows.iter().find(|(c, _)| c.id == id).map(|(_, r)| r);
                Some(json!({
                    "cycle": CycleInfo::from(*cycle),
                    "index": round2(index),
                    // Before the merge: the mean of the predecessors' indices.
                    "rolled_up_from_predecessors": rolled_up,
                    "rank": r.map(|r| r.rank_overall),
                    "rank_in_kind": r.map(|r| r.rank_in_kind),
                    "completeness": r.map(|r| round4(r.completeness)),
                    "datasets": r.map(|r| r.datasets),
                }))
            })
            .collect(),
    ))
}
