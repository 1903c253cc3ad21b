//! The pages: the national rankings and attainment, and one page per agency, rendered on
//! the server from the same data as the JSON API (the `load_*` functions of
//! [`crate::http`]). No JavaScript: a page works on any phone, and the content security
//! policy forbids scripts, so markup in a catalog's text could never run even if it
//! escaped the templates' escaping.
//!
//! Vietnamese by default, English with `?lang=en`; every string is in [`i18n`].

pub mod chart;
pub mod i18n;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::catalog::national::web_url;
use crate::http::{self, ApiError, AppState, FindingOut, Params};
use crate::registry::AgencyKind;
use i18n::{Lang, Text};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(national_page))
        .route("/agencies/{code}", get(agency_page))
        .route("/agencies/{code}/findings.csv", get(findings_csv))
        .route("/datasets", get(datasets_page))
}

/// No scripts, no frames, nothing fetched from elsewhere: the pages are self-contained.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

#[derive(Debug, Deserialize, IntoParams)]
pub struct LangQuery {
    /// `vi` (the default) or `en`.
    lang: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct FindingsQuery {
    /// `vi` (the default) or `en`.
    lang: Option<String>,
    /// Only findings of this rule (exact id, e.g. `Q.alive.stale`).
    rule: Option<String>,
    /// Only findings of this severity: `high`, `medium`, `low`, `info`.
    severity: Option<String>,
    /// Only findings whose subject (a dataset, a URL) contains this text.
    dataset: Option<String>,
}

impl FindingsQuery {
    fn wanted(&self, f: &FindingOut) -> bool {
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().filter(|s| !s.trim().is_empty())
        }
        given(&self.rule).is_none_or(|r| f.rule == r.trim())
            && given(&self.severity).is_none_or(|s| f.severity == s.trim())
            && given(&self.dataset)
                .is_none_or(|d| f.subject.to_lowercase().contains(&d.trim().to_lowercase()))
    }

    /// The filters as a query string, for the CSV link.
    fn filters(&self) -> String {
        query_string(&[
            ("rule", &self.rule),
            ("severity", &self.severity),
            ("dataset", &self.dataset),
        ])
    }
}

/// The filters that are given, as a query string to carry into links.
fn query_string(filters: &[(&str, &Option<String>)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in filters {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            q.append_pair(k, v);
        }
    }
    q.finish()
}

/// A page's answer: HTML under the pages' security headers.
fn html(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    let (status, body) = match body {
        Ok(body) => (status, body),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>500</title><p>The page failed to render.</p>".into(),
            )
        }
    };
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    t: &'static Text,
    lang: Lang,
    switch: String,
    message: String,
}

/// An API error shown as a page in the reader's language.
fn error_page(lang: Lang, path: &str, e: ApiError) -> Response {
    let t = lang.text();
    let message = match e.status {
        StatusCode::NOT_FOUND => t.not_found.to_string(),
        StatusCode::SERVICE_UNAVAILABLE => t.unavailable.to_string(),
        _ => e.message,
    };
    let page = ErrorPage {
        t,
        lang,
        switch: switch_link(lang, path, ""),
        message,
    };
    html(e.status, page.render())
}

/// The link to the same page in the other language.
fn switch_link(lang: Lang, path: &str, filters: &str) -> String {
    let sep = if filters.is_empty() { "" } else { "&" };
    format!("{path}?lang={}{sep}{filters}", lang.other().code())
}

fn movement(t: &Text, m: Option<i32>) -> (String, &'static str) {
    match m {
        None => (t.movement_new.to_string(), "new"),
        Some(0) => ("=".into(), "same"),
        Some(n) if n > 0 => (format!("▲ {n}"), "up"),
        Some(n) => (format!("▼ {}", n.unsigned_abs()), "down"),
    }
}

/// When a cycle finished, to the minute: `2026-07-06 01:20 UTC`.
pub(crate) fn when(cycle: &http::CycleInfo) -> String {
    let at = cycle.finished_at.as_deref().unwrap_or(&cycle.started_at);
    match at.get(..16) {
        Some(minute) => format!("{} UTC", minute.replacen('T', " ", 1)),
        None => at.to_string(),
    }
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

struct RankRow {
    rank: i32,
    code: String,
    name: String,
    index: String,
    band: &'static str,
    band_class: &'static str,
    movement: String,
    movement_class: &'static str,
    datasets: i64,
    /// (verdict text, verdict class) per target, in the method's order.
    verdicts: Vec<(&'static str, String)>,
}

struct KindTable {
    title: &'static str,
    rows: Vec<RankRow>,
}

struct AttainmentRow {
    id: String,
    name: String,
    is_part: bool,
    goal: String,
    /// Share and goal verdict for all, ministries, provinces.
    shares: Vec<(String, bool)>,
    forecast: String,
}

#[derive(Template)]
#[template(path = "national.html")]
struct NationalPage {
    t: &'static Text,
    lang: Lang,
    switch: String,
    cycle: Option<String>,
    target_ids: Vec<String>,
    attainment: Vec<AttainmentRow>,
    tables: Vec<KindTable>,
}

/// The national page: attainment of every target against its goal, and the rankings of
/// ministries and provinces.
#[utoipa::path(get, path = "/", tag = "pages", params(LangQuery),
    responses(
        (status = 200, description = "The national page", body = String, content_type = "text/html"),
        (status = 400, description = "A query that does not parse", body = crate::http::ErrorBody),
        (status = 503, description = "The database is not available", body = String, content_type = "text/html"),
    ))]
pub async fn national_page(
    State(state): State<AppState>,
    Params(q): Params<LangQuery>,
) -> Response {
    let lang = Lang::from_param(q.lang.as_deref());
    match national_view(&state, lang).await {
        Ok(page) => html(StatusCode::OK, page.render()),
        Err(e) => error_page(lang, "/", e),
    }
}

async fn national_view(state: &AppState, lang: Lang) -> Result<NationalPage, ApiError> {
    let t = lang.text();
    let method = state.live.current().method.clone();
    let national = http::load_national(state).await?;
    let mut tables = Vec::new();
    let mut cycle = None;
    for kind in [AgencyKind::Ministry, AgencyKind::Province] {
        let ranking = http::load_rankings(state, Some(kind)).await?;
        cycle = cycle.or(ranking.cycle.as_ref().map(when));
        let rows = ranking
            .entries
            .into_iter()
            .map(|e| {
                let (movement, movement_class) = movement(t, e.movement);
                RankRow {
                    rank: e.rank_in_kind,
                    index: format!("{:.1}", e.index),
                    band: t.band(e.band),
                    band_class: e.band,
                    movement,
                    movement_class,
                    datasets: e.datasets,
                    verdicts: method
                        .targets
                        .iter()
                        .map(|target| {
                            let v = e.targets.get(&target.id).cloned().flatten();
                            (t.verdict(v.as_deref()), v.unwrap_or_default())
                        })
                        .collect(),
                    code: e.code,
                    name: e.name,
                }
            })
            .collect();
        tables.push(KindTable {
            title: t.kind_plural(kind.as_str()),
            rows,
        });
    }
    let mut attainment = Vec::new();
    for target in &method.targets {
        let ids = std::iter::once((target.id.clone(), target_name(lang, target), false)).chain(
            target
                .parts
                .iter()
                .map(|p| (p.id().to_string(), p.name.clone(), true)),
        );
        for (id, name, is_part) in ids {
            let of = |kind: &str| {
                national
                    .attainment
                    .iter()
                    .find(|a| a.id == id && a.kind == kind)
            };
            let Some(all) = of("all") else { continue };
            let goal = format!(
                "{} {}",
                if all.goal_is_over { t.over } else { t.at_least },
                percent(all.goal)
            );
            let shares = ["all", "ministry", "province"]
                .iter()
                .map(|k| {
                    of(k).map_or(("–".to_string(), false), |a| {
                        (
                            format!("{} ({}/{})", percent(a.share), a.met, a.agencies),
                            a.goal_met,
                        )
                    })
                })
                .collect();
            attainment.push(AttainmentRow {
                id,
                name,
                is_part,
                goal,
                shares,
                forecast: forecast_text(t, all.forecast.as_ref()),
            });
        }
    }
    Ok(NationalPage {
        t,
        lang,
        switch: switch_link(lang, "/", ""),
        cycle,
        target_ids: method.targets.iter().map(|t| t.id.clone()).collect(),
        attainment,
        tables,
    })
}

fn target_name(lang: Lang, target: &crate::score::Target) -> String {
    match lang {
        Lang::Vi => target.name_vi.clone(),
        Lang::En => target.name.clone(),
    }
}

fn forecast_text(t: &Text, forecast: Option<&serde_json::Value>) -> String {
    let Some(f) = forecast else {
        return String::new();
    };
    match f["status"].as_str() {
        Some("met") => t.forecast_met.into(),
        Some("reached") => format!(
            "{} {}",
            t.forecast_reached,
            f["date"].as_str().unwrap_or("?")
        ),
        Some("not_at_this_pace") => t.forecast_not_at_pace.into(),
        _ => t.forecast_no_history.into(),
    }
}

struct TargetView {
    id: String,
    name: String,
    verdict: &'static str,
    verdict_class: String,
    points: String,
    parts: Vec<(String, String, &'static str, String)>,
    reasons: Vec<FindingOut>,
}

struct DimensionView {
    name: &'static str,
    vi: &'static str,
    score: String,
    /// 0–100, for the bar's width.
    width: f64,
}

struct FindingView {
    rule: String,
    severity: &'static str,
    severity_class: String,
    subject: String,
    message: String,
    fix: String,
    points: String,
}

struct Scored {
    index: String,
    band: &'static str,
    band_class: &'static str,
    rank: i32,
    rank_in_kind: i32,
    movement: String,
    movement_class: &'static str,
    datasets: i64,
    targets: Vec<TargetView>,
    dimensions: Vec<DimensionView>,
}

#[derive(Template)]
#[template(path = "agency.html")]
struct AgencyPage {
    t: &'static Text,
    lang: Lang,
    switch: String,
    code: String,
    name: String,
    kind: &'static str,
    cycle: Option<String>,
    scored: Option<Scored>,
    chart: chart::Chart,
    findings: Vec<FindingView>,
    total_findings: usize,
    rules: Vec<String>,
    severities: Vec<(&'static str, &'static str)>,
    rule: String,
    severity: String,
    dataset: String,
    csv_link: String,
}

/// One agency: index, band, rank and movement; each target with its reasons; the four
/// dimensions; its history; its findings, filtered.
#[utoipa::path(get, path = "/agencies/{code}", tag = "pages",
    params(("code" = String, Path, description = "The agency's code"), FindingsQuery),
    responses(
        (status = 200, description = "The agency's page", body = String, content_type = "text/html"),
        (status = 400, description = "A query that does not parse", body = crate::http::ErrorBody),
        (status = 404, description = "No agency with that code", body = String, content_type = "text/html"),
        (status = 503, description = "The database is not available", body = String, content_type = "text/html"),
    ))]
pub async fn agency_page(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Params(q): Params<FindingsQuery>,
) -> Response {
    let lang = Lang::from_param(q.lang.as_deref());
    let path = format!("/agencies/{}", urlencode_segment(&code));
    match agency_view(&state, &code, &path, lang, &q).await {
        Ok(page) => html(StatusCode::OK, page.render()),
        Err(e) => error_page(lang, &path, e),
    }
}

fn urlencode_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn agency_view(
    state: &AppState,
    code: &str,
    path: &str,
    lang: Lang,
    q: &FindingsQuery,
) -> Result<AgencyPage, ApiError> {
    let t = lang.text();
    let agency = http::load_agency(state, code).await?;
    let all_findings = http::load_findings(state, code).await?;
    let history = http::load_history(state, code).await?;
    let scored = agency.scored.as_ref().map(|s| {
        let (movement, movement_class) = movement(t, s.movement);
        Scored {
            index: format!("{:.1}", s.index),
            band: t.band(s.band),
            band_class: s.band,
            rank: s.rank,
            rank_in_kind: s.rank_in_kind,
            movement,
            movement_class,
            datasets: s.datasets,
            targets: s
                .targets
                .iter()
                .map(|target| TargetView {
                    id: target.id.clone(),
                    name: match lang {
                        Lang::Vi => target.name_vi.clone(),
                        Lang::En => target.name.clone(),
                    },
                    verdict: t.verdict(target.verdict.as_deref()),
                    verdict_class: target.verdict.clone().unwrap_or_default(),
                    points: format!("{:.1} / {:.0}", target.points, target.max_points),
                    parts: target
                        .parts
                        .iter()
                        .map(|p| {
                            (
                                p.id.clone(),
                                p.name.clone(),
                                t.verdict(p.verdict.as_deref()),
                                format!("{:.1} / {:.0}", p.points, p.max_points),
                            )
                        })
                        .collect(),
                    reasons: target.reasons.clone(),
                })
                .collect(),
            dimensions: crate::score::Dimension::ALL
                .iter()
                .filter_map(|d| {
                    let out = s.dimensions.get(d.as_str())?;
                    Some(DimensionView {
                        name: t.dimension(d.as_str()),
                        vi: out.vi,
                        score: format!("{:.0}", out.score),
                        width: out.score.clamp(0.0, 100.0),
                    })
                })
                .collect(),
        }
    });
    let mut rules: Vec<String> = all_findings.iter().map(|f| f.rule.clone()).collect();
    rules.sort();
    rules.dedup();
    let findings: Vec<FindingView> = all_findings
        .iter()
        .filter(|f| q.wanted(f))
        .map(|f| FindingView {
            rule: f.rule.clone(),
            severity: t.severity(&f.severity),
            severity_class: f.severity.clone(),
            subject: f.subject.clone(),
            message: f.message.clone(),
            fix: f.fix.clone(),
            points: format!("{:.2}", f.points),
        })
        .collect();
    let filters = q.filters();
    let csv_link = if filters.is_empty() {
        format!("{path}/findings.csv")
    } else {
        format!("{path}/findings.csv?{filters}")
    };
    Ok(AgencyPage {
        t,
        lang,
        switch: switch_link(lang, path, &filters),
        code: agency.code,
        name: agency.name,
        kind: t.kind(agency.kind.as_str()),
        cycle: agency.latest_cycle.as_ref().map(when),
        scored,
        chart: chart::Chart::of(&history, t),
        total_findings: all_findings.len(),
        findings,
        rules,
        severities: ["high", "medium", "low", "info"]
            .into_iter()
            .map(|s| (s, t.severity(s)))
            .collect(),
        rule: q.rule.clone().unwrap_or_default(),
        severity: q.severity.clone().unwrap_or_default(),
        dataset: q.dataset.clone().unwrap_or_default(),
        csv_link,
    })
}

/// The agency's findings as CSV, with the page's filters: for the spreadsheet a locality
/// works through. Every cell is neutralised against formulas (see [`crate::sheet`]).
#[utoipa::path(get, path = "/agencies/{code}/findings.csv", tag = "pages",
    params(("code" = String, Path, description = "The agency's code"), FindingsQuery),
    responses(
        (status = 200, description = "The findings, one per row", body = String, content_type = "text/csv"),
        (status = 400, description = "A query that does not parse", body = crate::http::ErrorBody),
        (status = 404, description = "No agency with that code", body = crate::http::ErrorBody),
        (status = 503, description = "The database is not available", body = crate::http::ErrorBody),
    ))]
pub async fn findings_csv(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Params(q): Params<FindingsQuery>,
) -> Result<Response, ApiError> {
    let agency = http::known(&state, &code)?;
    let rows = http::load_findings(&state, &code).await?;
    let body = crate::sheet::csv(
        &["rule", "severity", "subject", "message", "fix", "points"],
        rows.iter().filter(|f| q.wanted(f)).map(|f| {
            [
                f.rule.clone(),
                f.severity.clone(),
                f.subject.clone(),
                f.message.clone(),
                f.fix.clone(),
                format!("{:.2}", f.points),
            ]
        }),
    )
    .map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("writing the CSV failed: {e}"),
    })?;
    // The code is the registry's, not the caller's: safe in a header.
    let disposition = format!("attachment; filename=\"findings-{}.csv\"", agency.code);
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

struct DatasetView {
    title: String,
    agency: String,
    agency_name: String,
    publisher: String,
    modified: String,
    license: String,
    formats: String,
    /// Only http(s) URLs become links: a catalog's `javascript:` URL stays text.
    downloads: Vec<(Option<String>, String)>,
}

#[derive(Template)]
#[template(path = "datasets.html")]
struct DatasetsPage {
    t: &'static Text,
    lang: Lang,
    switch: String,
    q: String,
    kind: String,
    format: String,
    total: i64,
    datasets: Vec<DatasetView>,
    previous: Option<String>,
    next: Option<String>,
}

/// The national catalog: every harvested dataset, searched and filtered.
#[utoipa::path(get, path = "/datasets", tag = "pages", params(LangQuery, http::DatasetsQuery),
    responses(
        (status = 200, description = "The national catalog page", body = String, content_type = "text/html"),
        (status = 400, description = "A bad page, size or kind", body = crate::http::ErrorBody),
        (status = 404, description = "No agency with that code", body = String, content_type = "text/html"),
        (status = 503, description = "The database is not available", body = String, content_type = "text/html"),
    ))]
pub async fn datasets_page(
    State(state): State<AppState>,
    Params(q): Params<LangQuery>,
    Params(search): Params<http::DatasetsQuery>,
) -> Response {
    let lang = Lang::from_param(q.lang.as_deref());
    let t = lang.text();
    let s = &search;
    let found = match http::load_datasets(&state, s).await {
        Ok(found) => found,
        Err(e) => return error_page(lang, "/datasets", e),
    };
    let filters = query_string(&[
        ("q", &s.q),
        ("agency", &s.agency),
        ("kind", &s.kind),
        ("format", &s.format),
        ("license", &s.license),
    ]);
    let page_link = |page: i64| {
        let sep = if filters.is_empty() { "" } else { "&" };
        format!(
            "/datasets?lang={}{sep}{filters}&page={page}&per_page={}",
            lang.code(),
            found.per_page
        )
    };
    let page = found.page;
    let previous = (page > 1).then(|| page_link(page - 1));
    let next = (page.saturating_mul(found.per_page) < found.total).then(|| page_link(page + 1));
    let datasets = found
        .datasets
        .iter()
        .map(|d| {
            let r = &d.record;
            DatasetView {
                title: r.title.clone().unwrap_or_else(|| r.key.clone()),
                agency: d.agency.clone(),
                agency_name: d.agency_name.clone(),
                publisher: r.publisher.clone().unwrap_or_default(),
                modified: r.modified.clone().unwrap_or_default(),
                license: r.license.clone().unwrap_or_default(),
                formats: r.formats.join(", "),
                downloads: r
                    .download_urls
                    .iter()
                    .map(|u| (web_url(u).map(String::from), u.clone()))
                    .collect(),
            }
        })
        .collect();
    let page = DatasetsPage {
        t,
        lang,
        switch: switch_link(lang, "/datasets", &filters),
        q: s.q.clone().unwrap_or_default(),
        kind: s.kind.clone().unwrap_or_default(),
        format: s.format.clone().unwrap_or_default(),
        total: found.total,
        datasets,
        previous,
        next,
    };
    html(StatusCode::OK, page.render())
}
