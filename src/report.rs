//! Periodic reports for the national department: a month, a quarter or a year, as
//! Markdown, CSV or HTML (with charts), Vietnamese by default.
//!
//! A period is judged by its last finished cycle, against the last cycle before it (the
//! baseline; the period's first cycle when there is none before): attainment of every
//! target, the ranking with each agency's change, the top improvers and decliners, the
//! agencies at risk, and each agency's costliest findings.

use std::fmt::Write as _;
use std::str::FromStr;

use askama::Template;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::QueryResult;

use crate::http::{CycleInfo, attainment_of, round2};
use crate::pages::i18n::{Lang, Text};
use crate::registry::Registry;
use crate::score::{Band, Method};
use crate::store::{self, Conn};

/// How many agencies the improvers and decliners list each.
pub const TOP: usize = 5;
/// Findings shown per agency.
pub const FINDINGS_PER_AGENCY: usize = 3;
/// An agency whose index fell by this much over the period is at risk, whatever its band.
pub const RISK_DROP: f64 = 50.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Month { year: i32, month: u32 },
    Quarter { year: i32, quarter: u32 },
    Year { year: i32 },
}

impl FromStr for Period {
    type Err = String;

    /// `2026-11`, `2026-Q3` or `2026`.
    fn from_str(s: &str) -> Result<Period, String> {
        let bad = || {
            format!(
                "`{s}` is not a period; use 2026-11 (a month), 2026-Q3 (a quarter) or 2026 (a year)"
            )
        };
        let (year, rest) = match s.split_once('-') {
            Some((y, rest)) => (y, Some(rest)),
            None => (s, None),
        };
        let year: i32 = year.parse().map_err(|_| bad())?;
        if !(2000..=2200).contains(&year) {
            return Err(bad());
        }
        match rest {
            None => Ok(Period::Year { year }),
            Some(q) if q.starts_with(['Q', 'q']) => match q[1..].parse() {
                Ok(quarter @ 1..=4) => Ok(Period::Quarter { year, quarter }),
                _ => Err(bad()),
            },
            Some(m) => match m.parse() {
                Ok(month @ 1..=12) => Ok(Period::Month { year, month }),
                _ => Err(bad()),
            },
        }
    }
}

impl Period {
    /// The first day of the period, and the first day after it.
    pub fn bounds(self) -> (NaiveDate, NaiveDate) {
        let day = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default();
        let next = |y: i32, m: u32| {
            if m > 12 {
                day(y + 1, m - 12)
            } else {
                day(y, m)
            }
        };
        match self {
            Period::Month { year, month } => (day(year, month), next(year, month + 1)),
            Period::Quarter { year, quarter } => {
                let m = 3 * (quarter - 1) + 1;
                (day(year, m), next(year, m + 3))
            }
            Period::Year { year } => (day(year, 1), day(year + 1, 1)),
        }
    }

    pub fn label(self, lang: Lang) -> String {
        const ROMAN: [&str; 4] = ["I", "II", "III", "IV"];
        const MONTHS: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        match (self, lang) {
            (Period::Month { year, month }, Lang::Vi) => format!("tháng {month}/{year}"),
            (Period::Month { year, month }, Lang::En) => {
                format!("{} {year}", MONTHS[(month as usize - 1) % 12])
            }
            (Period::Quarter { year, quarter }, Lang::Vi) => {
                format!("quý {}/{year}", ROMAN[(quarter as usize - 1) % 4])
            }
            (Period::Quarter { year, quarter }, Lang::En) => format!("Q{quarter} {year}"),
            (Period::Year { year }, Lang::Vi) => format!("năm {year}"),
            (Period::Year { year }, Lang::En) => format!("{year}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Md,
    Csv,
    Html,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "md" | "markdown" => Ok(Format::Md),
            "csv" => Ok(Format::Csv),
            "html" => Ok(Format::Html),
            _ => Err(format!("`{s}` is not a report format; use md, csv or html")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AttainmentLine {
    pub id: String,
    pub name: String,
    pub name_vi: String,
    pub is_part: bool,
    pub goal: f64,
    pub goal_is_over: bool,
    /// Share of all agencies, ministries, provinces; and whether each meets the goal.
    pub shares: [(f64, bool); 3],
    /// The share of all agencies at the baseline.
    pub before: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct AgencyLine {
    pub rank: i32,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub index: f64,
    pub band: Band,
    /// Index points gained since the baseline; `None` for an agency not ranked then.
    pub change: Option<f64>,
    /// Places gained since the baseline.
    pub movement: Option<i32>,
    /// Each target's verdict, in the method's order.
    pub verdicts: Vec<Option<String>>,
    pub findings: Vec<crate::http::FindingOut>,
}

impl AgencyLine {
    pub fn at_risk(&self) -> bool {
        self.band == Band::Poor || self.change.is_some_and(|c| c <= -RISK_DROP)
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    pub period: Period,
    pub from: NaiveDate,
    /// The last day of the period.
    pub to: NaiveDate,
    pub cycles: usize,
    pub baseline: CycleInfo,
    pub end: CycleInfo,
    pub target_ids: Vec<String>,
    pub attainment: Vec<AttainmentLine>,
    /// Best first.
    pub agencies: Vec<AgencyLine>,
    /// The mean index of all agencies in each cycle of the period: (day, mean).
    pub trend: Vec<(String, f64)>,
}

impl Report {
    pub fn improvers(&self) -> Vec<&AgencyLine> {
        self.by_change(1.0)
    }

    pub fn decliners(&self) -> Vec<&AgencyLine> {
        self.by_change(-1.0)
    }

    /// The [`TOP`] agencies whose index moved most in the direction of `sign`.
    fn by_change(&self, sign: f64) -> Vec<&AgencyLine> {
        let moved = |a: &AgencyLine| a.change.map_or(0.0, |c| c * sign);
        let mut list: Vec<&AgencyLine> = self.agencies.iter().filter(|a| moved(a) > 0.0).collect();
        list.sort_by(|a, b| moved(b).total_cmp(&moved(a)).then(a.code.cmp(&b.code)));
        list.truncate(TOP);
        list
    }

    pub fn at_risk(&self) -> Vec<&AgencyLine> {
        self.agencies.iter().filter(|a| a.at_risk()).collect()
    }
}

fn midnight(d: NaiveDate) -> NaiveDateTime {
    d.and_hms_opt(0, 0, 0).unwrap_or_default()
}

/// The report of `period` from the store; `None` when no cycle finished in it.
pub fn build(
    conn: &mut Conn,
    method: &Method,
    registry: &Registry,
    period: Period,
) -> QueryResult<Option<Report>> {
    let (from, until) = period.bounds();
    let cycles = store::cycles_between(conn, midnight(from), midnight(until))?;
    let (Some(first), Some(last)) = (cycles.first(), cycles.last()) else {
        return Ok(None);
    };
    let baseline = store::last_cycle_before(conn, midnight(from))?.unwrap_or_else(|| first.clone());
    let now = store::rankings(conn, last.id)?;
    let before = store::rankings(conn, baseline.id)?;
    let verdicts = store::cycle_verdicts(conn, last.id)?;
    let attainment_now = attainment_of(method, &verdicts);
    let attainment_before = attainment_of(method, &store::cycle_verdicts(conn, baseline.id)?);

    let mut attainment = Vec::new();
    for target in &method.targets {
        let ids = std::iter::once((
            target.id.clone(),
            target.name.clone(),
            target.name_vi.clone(),
            false,
        ))
        .chain(
            target
                .parts
                .iter()
                .map(|p| (p.id().to_string(), p.name.clone(), p.name.clone(), true)),
        );
        for (id, name, name_vi, is_part) in ids {
            let of = |list: &[crate::score::national::Attainment],
                      kind: Option<crate::registry::AgencyKind>| {
                list.iter()
                    .find(|a| a.id == id && a.kind == kind)
                    .map(|a| (a.share, a.goal_met, a.goal, a.above))
            };
            let Some((share, met, goal, above)) = of(&attainment_now, None) else {
                continue;
            };
            let kind_share =
                |k| of(&attainment_now, Some(k)).map_or((0.0, false), |(s, m, _, _)| (s, m));
            attainment.push(AttainmentLine {
                id: id.clone(),
                name,
                name_vi,
                is_part,
                goal,
                goal_is_over: above,
                shares: [
                    (share, met),
                    kind_share(crate::registry::AgencyKind::Ministry),
                    kind_share(crate::registry::AgencyKind::Province),
                ],
                before: (baseline.id != last.id)
                    .then(|| of(&attainment_before, None).map(|x| x.0))
                    .flatten(),
            });
        }
    }

    let mut agencies = Vec::with_capacity(now.len());
    for r in &now {
        let b = before.iter().find(|b| b.agency_code == r.agency_code);
        let compared = baseline.id != last.id;
        let findings = store::agency_findings(conn, last.id, &r.agency_code)?
            .iter()
            .filter(|f| f.points > 0.0)
            .take(FINDINGS_PER_AGENCY)
            .map(crate::http::FindingOut::from)
            .collect();
        agencies.push(AgencyLine {
            rank: r.rank_overall,
            code: r.agency_code.clone(),
            name: registry
                .get(&r.agency_code)
                .map_or_else(|| r.name.clone(), |a| a.name.clone()),
            kind: r.kind.clone(),
            index: round2(r.index_points),
            band: Band::of(r.index_points, &method.bands),
            change: b
                .filter(|_| compared)
                .map(|b| round2(r.index_points - b.index_points)),
            movement: b
                .filter(|_| compared)
                .map(|b| b.rank_overall - r.rank_overall),
            verdicts: method
                .targets
                .iter()
                .map(|t| {
                    verdicts
                        .iter()
                        .find(|(_, v)| v.agency_code == r.agency_code && v.component == t.id)
                        .and_then(|(_, v)| v.verdict.clone())
                })
                .collect(),
            findings,
        });
    }

    let mut trend = Vec::new();
    for c in &cycles {
        let rows = store::rankings(conn, c.id)?;
        if rows.is_empty() {
            continue;
        }
        let mean = rows.iter().map(|r| r.index_points).sum::<f64>() / rows.len() as f64;
        let day = c.finished_at.unwrap_or(c.started_at).date().to_string();
        trend.push((day, round2(mean)));
    }

    Ok(Some(Report {
        period,
        from,
        to: until.pred_opt().unwrap_or(until),
        cycles: cycles.len(),
        baseline: CycleInfo::from(&baseline),
        end: CycleInfo::from(last),
        target_ids: method.targets.iter().map(|t| t.id.clone()).collect(),
        attainment,
        agencies,
        trend,
    }))
}

fn name_in(line: &AttainmentLine, lang: Lang) -> &str {
    match lang {
        Lang::Vi => &line.name_vi,
        Lang::En => &line.name,
    }
}

fn pct(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

fn signed(x: Option<f64>) -> String {
    match x {
        Some(x) if x > 0.0 => format!("+{x:.1}"),
        Some(x) => format!("{x:.1}"),
        None => "–".into(),
    }
}

fn moved(m: Option<i32>, t: &Text) -> String {
    match m {
        None => t.movement_new.into(),
        Some(0) => "=".into(),
        Some(n) if n > 0 => format!("▲{n}"),
        Some(n) => format!("▼{}", n.unsigned_abs()),
    }
}

fn goal_text(line: &AttainmentLine, t: &Text) -> String {
    format!(
        "{} {}",
        if line.goal_is_over {
            t.over
        } else {
            t.at_least
        },
        pct(line.goal)
    )
}

/// Text from a catalog or a finding inside Markdown: no markup, no table breaks.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

pub fn render(report: &Report, format: Format, lang: Lang) -> Result<Vec<u8>, String> {
    match format {
        Format::Md => Ok(markdown(report, lang).into_bytes()),
        Format::Csv => csv(report).map_err(|e| format!("writing the CSV failed: {e}")),
        Format::Html => html(report, lang)
            .map(String::into_bytes)
            .map_err(|e| format!("rendering the HTML failed: {e}")),
    }
}

fn markdown(r: &Report, lang: Lang) -> String {
    let t = lang.text();
    let mut out = String::new();
    let _ = writeln!(out, "# {} — {}\n", t.report_title, r.period.label(lang));
    let _ = writeln!(
        out,
        "{}: {} – {}. {}: {}. {}: {}. {}: {}.\n",
        t.report_period,
        r.from,
        r.to,
        t.report_cycles,
        r.cycles,
        t.report_baseline,
        crate::pages::when(&r.baseline),
        t.report_end,
        crate::pages::when(&r.end),
    );
    let _ = writeln!(out, "## {}\n", t.attainment);
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} |",
        t.target, t.goal, t.all_agencies, t.ministries, t.provinces, t.change
    );
    out.push_str("|---|---|---:|---:|---:|---:|\n");
    for a in &r.attainment {
        let indent = if a.is_part { "↳ " } else { "" };
        let cells: Vec<String> = a
            .shares
            .iter()
            .map(|(s, met)| format!("{}{}", pct(*s), if *met { " ✓" } else { "" }))
            .collect();
        let change = a.before.map(|b| signed(Some(100.0 * (a.shares[0].0 - b))));
        let _ = writeln!(
            out,
            "| {indent}**{}** {} | {} | {} | {} | {} | {} |",
            a.id,
            md(name_in(a, lang)),
            goal_text(a, t),
            cells[0],
            cells[1],
            cells[2],
            change.map_or("–".into(), |c| format!("{c} pt")),
        );
    }
    let _ = writeln!(out, "\n## {}\n", t.rankings);
    let _ = write!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} |",
        t.rank, t.agency, t.kind_label, t.index, t.band, t.change, t.movement
    );
    for id in &r.target_ids {
        let _ = write!(out, " {id} |");
    }
    out.push_str("\n|---:|---|---|---:|---|---:|---:|");
    out.push_str(&"---|".repeat(r.target_ids.len()));
    out.push('\n');
    for a in &r.agencies {
        let _ = write!(
            out,
            "| {} | {} ({}) | {} | {:.1} | {} | {} | {} |",
            a.rank,
            md(&a.name),
            md(&a.code),
            t.kind(&a.kind),
            a.index,
            t.band(a.band.as_str()),
            signed(a.change),
            moved(a.movement, t),
        );
        for v in &a.verdicts {
            let _ = write!(out, " {} |", t.verdict(v.as_deref()));
        }
        out.push('\n');
    }
    for (title, list) in [(t.improvers, r.improvers()), (t.decliners, r.decliners())] {
        let _ = writeln!(out, "\n## {title}\n");
        if list.is_empty() {
            let _ = writeln!(out, "{}", t.none);
        }
        for a in list {
            let _ = writeln!(
                out,
                "- {} ({}): {} → {:.1} ({})",
                md(&a.name),
                md(&a.code),
                signed(a.change),
                a.index,
                moved(a.movement, t)
            );
        }
    }
    let _ = writeln!(out, "\n## {}\n\n{}\n", t.at_risk, t.at_risk_rule);
    let risky = r.at_risk();
    if risky.is_empty() {
        let _ = writeln!(out, "{}", t.none);
    }
    for a in risky {
        let _ = writeln!(
            out,
            "- {} ({}): {:.1}, {}, {}",
            md(&a.name),
            md(&a.code),
            a.index,
            t.band(a.band.as_str()),
            signed(a.change)
        );
    }
    let _ = writeln!(out, "\n## {}\n", t.top_findings);
    for a in &r.agencies {
        if a.findings.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {} ({})\n", md(&a.name), md(&a.code));
        for f in &a.findings {
            let _ = writeln!(
                out,
                "- `{}` −{:.2}: {} — {}",
                f.rule.replace('`', "'"),
                f.points,
                md(&f.message),
                md(&f.fix)
            );
        }
        out.push('\n');
    }
    out
}

fn csv(r: &Report) -> Result<Vec<u8>, csv::Error> {
    let header = [
        "section", "code", "name", "kind", "rank", "index", "band", "change", "movement", "share",
        "goal", "goal_met", "rule", "severity", "subject", "message", "points",
    ];
    let mut rows: Vec<[String; 17]> = Vec::new();
    let blank = || std::array::from_fn::<String, 17, _>(|_| String::new());
    for a in &r.attainment {
        for ((share, met), kind) in a.shares.iter().zip(["all", "ministry", "province"]) {
            let mut row = blank();
            row[0] = "attainment".into();
            row[1] = a.id.clone();
            row[2] = name_in(a, Lang::En).to_string();
            row[3] = kind.into();
            if kind == "all" {
                row[7] = a
                    .before
                    .map(|b| format!("{:.4}", share - b))
                    .unwrap_or_default();
            }
            row[9] = format!("{share:.4}");
            row[10] = format!("{:.4}", a.goal);
            row[11] = met.to_string();
            rows.push(row);
        }
    }
    let agency_row = |section: &str, a: &AgencyLine| {
        let mut row = blank();
        row[0] = section.into();
        row[1] = a.code.clone();
        row[2] = a.name.clone();
        row[3] = a.kind.clone();
        row[4] = a.rank.to_string();
        row[5] = format!("{:.2}", a.index);
        row[6] = a.band.as_str().into();
        row[7] = a.change.map(|c| format!("{c:.2}")).unwrap_or_default();
        row[8] = a.movement.map(|m| m.to_string()).unwrap_or_default();
        row
    };
    for a in &r.agencies {
        rows.push(agency_row("ranking", a));
    }
    for a in r.improvers() {
        rows.push(agency_row("improver", a));
    }
    for a in r.decliners() {
        rows.push(agency_row("decliner", a));
    }
    for a in r.at_risk() {
        rows.push(agency_row("at_risk", a));
    }
    for a in &r.agencies {
        for f in &a.findings {
            let mut row = agency_row("finding", a);
            row[12] = f.rule.clone();
            row[13] = f.severity.clone();
            row[14] = f.subject.clone();
            row[15] = f.message.clone();
            row[16] = format!("{:.2}", f.points);
            rows.push(row);
        }
    }
    crate::sheet::csv(&header, rows)
}

struct BarView {
    label: String,
    y: f64,
    width: f64,
    goal_x: f64,
    text: String,
    met: bool,
}

#[derive(Template)]
#[template(path = "report.html")]
struct HtmlReport<'a> {
    t: &'static Text,
    lang: Lang,
    r: &'a Report,
    period: String,
    rows: Vec<(&'a AttainmentLine, String, Vec<String>, String)>,
    bars: Vec<BarView>,
    bars_height: f64,
    chart: crate::pages::chart::Chart,
    /// The improvers and the decliners, each under its title.
    moves: Vec<(&'static str, Vec<&'a AgencyLine>)>,
    at_risk: Vec<&'a AgencyLine>,
}

fn html(r: &Report, lang: Lang) -> Result<String, askama::Error> {
    let t = lang.text();
    let targets: Vec<&AttainmentLine> = r.attainment.iter().filter(|a| !a.is_part).collect();
    let bars = targets
        .iter()
        .enumerate()
        .map(|(i, a)| BarView {
            label: a.id.clone(),
            y: 10.0 + 34.0 * i as f64,
            width: 400.0 * a.shares[0].0.clamp(0.0, 1.0),
            goal_x: 60.0 + 400.0 * a.goal.clamp(0.0, 1.0),
            text: pct(a.shares[0].0),
            met: a.shares[0].1,
        })
        .collect();
    let points: Vec<crate::http::HistoryPoint> = r
        .trend
        .iter()
        .enumerate()
        .map(|(i, (day, mean))| crate::http::HistoryPoint {
            cycle: CycleInfo {
                id: i as i64,
                started_at: day.clone(),
                finished_at: Some(day.clone()),
            },
            index: *mean,
            rolled_up_from_predecessors: false,
            rank: None,
            rank_in_kind: None,
            completeness: None,
            datasets: None,
        })
        .collect();
    let mut chart = crate::pages::chart::Chart::of(&points, t);
    chart.label = t.report_trend;
    let rows = r
        .attainment
        .iter()
        .map(|a| {
            (
                a,
                name_in(a, lang).to_string(),
                a.shares.iter().map(|(s, _)| pct(*s)).collect(),
                goal_text(a, t),
            )
        })
        .collect();
    HtmlReport {
        t,
        lang,
        r,
        period: r.period.label(lang),
        rows,
        bars_height: 20.0 + 34.0 * targets.len() as f64,
        bars,
        chart,
        moves: vec![(t.improvers, r.improvers()), (t.decliners, r.decliners())],
        at_risk: r.at_risk(),
    }
    .render()
}

/// Signed, for the templates.
pub fn signed_change(x: &Option<f64>) -> String {
    signed(*x)
}

/// Movement, for the templates.
pub fn movement_text(m: &Option<i32>, t: &Text) -> String {
    moved(*m, t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    #[test]
    fn periods_parse_and_bound() {
        let p: Period = "2026-11".parse().unwrap();
        assert_eq!(
            p.bounds(),
            (
                NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
                NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
            )
        );
        let p: Period = "2026-12".parse().unwrap();
        assert_eq!(p.bounds().1, NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
        let p: Period = "2026-Q4".parse().unwrap();
        assert_eq!(
            p.bounds(),
            (
                NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
                NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
            )
        );
        assert_eq!(p.label(Lang::Vi), "quý IV/2026");
        let p: Period = "2026".parse().unwrap();
        assert_eq!(p.bounds().0.year(), 2026);
        for bad in ["2026-13", "2026-Q5", "26", "x", "2026-Q", "2026-00", ""] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }

    #[test]
    fn markdown_text_cannot_make_markup() {
        assert_eq!(md("<b>a|b</b>\n[x](y)"), "\\<b\\>a\\|b\\</b\\> \\[x\\](y)");
    }
}
