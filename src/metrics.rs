//! Prometheus metrics (documented in docs/metrics.md).
//!
//! Labels are bounded sets: agency code (51 today), kind, target, dimension, band, outcome
//! or failure class, route pattern. Never a URL, never free text.
//!
//! Per-agency gauges describe the latest finished cycle and are set from a snapshot of it
//! (after a cycle, or from the store at start), so a restarted daemon serves the same
//! values before its first cycle ends.

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::observation::AgencyObservation;
use crate::score::{Band, Method};

/// What the gauges show of one agency, as the store holds it after a finished cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct AgencySnapshot {
    pub code: String,
    pub kind: String,
    pub index: f64,
    pub datasets: i64,
    pub components: Vec<ComponentSnapshot>,
    /// Findings counted by severity.
    pub findings: Vec<(String, i64)>,
    /// Cycles in a row, up to the latest, in which the catalog could not be read.
    pub catalog_failures_in_a_row: i64,
    /// Sharing services that did not answer in the latest cycle.
    pub services_down: i64,
    /// The earliest expiry of the agency's services' TLS certificates (Unix seconds).
    pub tls_expires_at: Option<i64>,
    /// The agency's links by class, as last checked.
    pub links: Vec<(crate::links::LinkClass, i64)>,
    /// Links broken (failed in enough consecutive cycles); `None` when not checked.
    pub links_broken: Option<i64>,
    /// Share of probes of the agency's services that found them up, per window.
    pub uptime: crate::store::Uptime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComponentSnapshot {
    pub id: String,
    /// `met`, `partly`, `not_met` for targets; `None` for quality dimensions.
    pub verdict: Option<String>,
    pub points: f64,
    pub max_points: f64,
}

/// The quality dimension a component measures, for the `dimension` label.
fn dimension_of(component: &str) -> Option<&'static str> {
    crate::score::Dimension::ALL
        .into_iter()
        .find(|d| component == crate::score::dimension_id(*d))
        .map(|d| d.as_str())
}

fn verdict_value(verdict: &str) -> f64 {
    match verdict {
        "met" => 1.0,
        "partly" => 0.5,
        _ => 0.0,
    }
}

/// Every metric dtindex exports, behind one `Arc`: a clone is one reference count. The
/// HTTP layer clones its state for every request and every middleware; cloning the thirty
/// metric handles one by one was half the API's CPU under load (BENCHMARKS.md).
#[derive(Clone)]
pub struct Metrics(std::sync::Arc<Exported>);

impl std::ops::Deref for Metrics {
    type Target = Exported;

    fn deref(&self) -> &Exported {
        &self.0
    }
}

pub struct Exported {
    registry: Registry,
    pub agency_index: GaugeVec,
    pub agency_band: GaugeVec,
    pub agency_target: GaugeVec,
    pub agency_dimension: GaugeVec,
    pub agency_datasets: GaugeVec,
    pub agency_findings: IntGaugeVec,
    pub catalog_failure_streak: GaugeVec,
    pub services_down: GaugeVec,
    pub certificate_expiry: GaugeVec,
    pub agency_links: GaugeVec,
    pub agency_links_broken: GaugeVec,
    pub service_uptime: GaugeVec,
    pub link_checks: IntCounterVec,
    pub attainment: GaugeVec,
    pub target_goal: GaugeVec,
    pub cycle_duration: Histogram,
    pub cycles: IntCounterVec,
    pub fetches: IntCounterVec,
    pub fetch_errors: IntCounterVec,
    pub fetch_duration: HistogramVec,
    pub probes: IntCounterVec,
    pub probe_failures: IntCounterVec,
    pub probe_latency: HistogramVec,
    pub probe_phase: HistogramVec,
    pub skipped_ticks: IntCounter,
    pub last_success: Gauge,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub http_answers: IntCounterVec,
    /// Tells this set of metrics from another in the same process (tests run several
    /// daemons), for the per-thread cache of label children.
    id: u64,
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The children of the HTTP metrics this thread has used, by family and label values.
///
/// `with_label_values` hashes the labels and takes the family's lock, and the child it
/// hands back is an `Arc` cloned and dropped: on the API's path, three times a request,
/// all of it on cache lines that both cores write. A thread finds its own child here
/// instead. The label sets are bounded (route patterns, methods, statuses), and the cache
/// is emptied if it ever grows past [`CHILDREN_KEPT`] or another set of metrics is used.
#[derive(Default)]
struct Children {
    owner: u64,
    counters: Vec<Kept<IntCounterVec, IntCounter>>,
    histograms: Vec<Kept<HistogramVec, Histogram>>,
}

/// A family (by address: the families live as long as their set, told by `owner`), the
/// label values and the child they name.
type Kept<F, C> = (*const F, Box<[Box<str>]>, C);

const CHILDREN_KEPT: usize = 512;

thread_local! {
    static CHILDREN: std::cell::RefCell<Children> = std::cell::RefCell::default();
}

fn same_labels(kept: &[Box<str>], labels: &[&str]) -> bool {
    kept.len() == labels.len() && kept.iter().zip(labels).all(|(k, l)| **k == **l)
}

/// The child of `family` for `labels`, from `kept` or resolved and kept.
fn child<'a, F, C: Clone>(
    kept: &'a mut Vec<Kept<F, C>>,
    family: &F,
    labels: &[&str],
    resolve: impl FnOnce() -> C,
) -> &'a C {
    let family = family as *const F;
    let at = match kept
        .iter()
        .position(|(f, l, _)| *f == family && same_labels(l, labels))
    {
        Some(at) => at,
        None => {
            if kept.len() >= CHILDREN_KEPT {
                kept.clear();
            }
            kept.push((
                family,
                labels.iter().map(|l| Box::from(*l)).collect(),
                resolve(),
            ));
            kept.len() - 1
        }
    };
    &kept[at].2
}

impl Exported {
    fn with_children<R>(&self, f: impl FnOnce(&mut Children) -> R) -> R {
        CHILDREN.with(|c| {
            let mut children = c.borrow_mut();
            if children.owner != self.id {
                *children = Children {
                    owner: self.id,
                    ..Children::default()
                };
            }
            f(&mut children)
        })
    }

    /// `family.with_label_values(labels).inc()`, without the lookup after a thread's first.
    /// `family` must be one of this set's.
    pub fn inc(&self, family: &IntCounterVec, labels: &[&str]) {
        self.with_children(|c| {
            child(&mut c.counters, family, labels, || {
                family.with_label_values(labels)
            })
            .inc();
        });
    }

    /// `family.with_label_values(labels).observe(value)`, as [`Exported::inc`].
    pub fn observe(&self, family: &HistogramVec, labels: &[&str], value: f64) {
        self.with_children(|c| {
            child(&mut c.histograms, family, labels, || {
                family.with_label_values(labels)
            })
            .observe(value);
        });
    }
}

const LATENCY_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let gauge =
            |name: &str, help: &str, labels: &[&str]| -> Result<GaugeVec, prometheus::Error> {
                let g = GaugeVec::new(Opts::new(name, help), labels)?;
                registry.register(Box::new(g.clone()))?;
                Ok(g)
            };
        let counter =
            |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, prometheus::Error> {
                let c = IntCounterVec::new(Opts::new(name, help), labels)?;
                registry.register(Box::new(c.clone()))?;
                Ok(c)
            };
        let histogram =
            |name: &str, help: &str, labels: &[&str]| -> Result<HistogramVec, prometheus::Error> {
                let h = HistogramVec::new(
                    HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
                    labels,
                )?;
                registry.register(Box::new(h.clone()))?;
                Ok(h)
            };
        let agency = &["agency", "kind"];
        let agency_index = gauge(
            "dtindex_agency_index",
            "Index of the agency in the latest finished cycle, 0 to 1000.",
            agency,
        )?;
        let agency_band = gauge(
            "dtindex_agency_band",
            "1 for the agency's band in the latest finished cycle (excellent, good, sufficient, poor), 0 for the others.",
            &["agency", "kind", "band"],
        )?;
        let agency_target = gauge(
            "dtindex_agency_target_verdict",
            "The agency's verdict on a national target: 1 met, 0.5 partly met, 0 not met.",
            &["agency", "kind", "target"],
        )?;
        let agency_dimension = gauge(
            "dtindex_agency_dimension_score",
            "The agency's score on a data-quality dimension, 0 to 100.",
            &["agency", "kind", "dimension"],
        )?;
        let agency_datasets = gauge(
            "dtindex_agency_datasets",
            "Datasets read from the agency's catalog in the latest finished cycle.",
            agency,
        )?;
        let agency_findings = IntGaugeVec::new(
            Opts::new(
                "dtindex_agency_findings",
                "Findings of the agency in the latest finished cycle, by severity.",
            ),
            &["agency", "kind", "severity"],
        )?;
        registry.register(Box::new(agency_findings.clone()))?;
        let catalog_failure_streak = gauge(
            "dtindex_agency_catalog_failed_cycles",
            "Finished cycles in a row, up to the latest, in which the agency's published catalog could not be read.",
            agency,
        )?;
        let services_down = gauge(
            "dtindex_agency_services_down",
            "The agency's sharing services that did not answer in the latest finished cycle.",
            agency,
        )?;
        let certificate_expiry = gauge(
            "dtindex_agency_certificate_expiry_timestamp_seconds",
            "When the first of the agency's HTTPS sharing services' certificates expires (Unix time).",
            agency,
        )?;
        let agency_links = gauge(
            "dtindex_agency_links",
            "The agency's catalog links by class as last checked (ok, redirect, client_error, server_error, timeout, connect, tls, dns, blocked).",
            &["agency", "kind", "class"],
        )?;
        let agency_links_broken = gauge(
            "dtindex_agency_links_broken",
            "The agency's catalog links that failed in enough consecutive cycles to count as broken.",
            agency,
        )?;
        let service_uptime = gauge(
            "dtindex_agency_service_uptime_ratio",
            "Share of the probes of the agency's sharing services that found them up, over the last day, week or month.",
            &["agency", "kind", "window"],
        )?;
        let link_checks = counter(
            "dtindex_link_checks_total",
            "Link checks, by how they were answered: checked (requests sent) or cached (a recent success reused, or a check of the same URL already running).",
            &["answer"],
        )?;
        for answer in ["checked", "cached"] {
            link_checks.with_label_values(&[answer]);
        }
        let attainment = gauge(
            "dtindex_target_attainment_ratio",
            "Share of agencies meeting a national target, by kind (ministry, province, all).",
            &["target", "kind"],
        )?;
        let target_goal = gauge(
            "dtindex_target_goal_ratio",
            "The share of agencies the national plan expects to meet the target.",
            &["target"],
        )?;
        let cycle_duration = Histogram::with_opts(
            HistogramOpts::new(
                "dtindex_cycle_duration_seconds",
                "Wall time of a crawl cycle.",
            )
            .buckets(vec![
                1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
            ]),
        )?;
        registry.register(Box::new(cycle_duration.clone()))?;
        let cycles = counter(
            "dtindex_cycles_total",
            "Crawl cycles ended, by outcome (finished, failed, abandoned).",
            &["outcome"],
        )?;
        let fetches = counter(
            "dtindex_catalog_fetches_total",
            "Catalog harvests, by agency and outcome (parsed, unchanged, parse_failed, fetch_failed).",
            &["agency", "outcome"],
        )?;
        let fetch_errors = counter(
            "dtindex_fetch_errors_total",
            "Catalog fetches that failed, by agency and failure class.",
            &["agency", "class"],
        )?;
        let fetch_duration = histogram(
            "dtindex_catalog_fetch_duration_seconds",
            "Time to harvest an agency's catalog, all pages.",
            &["agency"],
        )?;
        let probes = counter(
            "dtindex_probes_total",
            "Sharing-service probes, by agency and outcome (up, down).",
            &["agency", "outcome"],
        )?;
        let probe_failures = counter(
            "dtindex_probe_failures_total",
            "Sharing-service probes that failed, by agency and failure class.",
            &["agency", "class"],
        )?;
        let probe_latency = histogram(
            "dtindex_probe_latency_seconds",
            "Time until a sharing service's response headers arrived.",
            &["agency"],
        )?;
        let probe_phase = histogram(
            "dtindex_probe_phase_seconds",
            "Time a sharing-service probe spent in each phase (dns, connect, tls, first_byte), on a connection of its own.",
            &["agency", "phase"],
        )?;
        let skipped_ticks = IntCounter::new(
            "dtindex_schedule_skipped_ticks_total",
            "Scheduled ticks skipped because the previous cycle was still running.",
        )?;
        registry.register(Box::new(skipped_ticks.clone()))?;
        let last_success = Gauge::new(
            "dtindex_last_successful_cycle_timestamp_seconds",
            "Unix time at which the latest cycle finished successfully.",
        )?;
        registry.register(Box::new(last_success.clone()))?;
        let http_requests = counter(
            "dtindex_http_requests_total",
            "HTTP requests served, by route pattern, method and status code.",
            &["route", "method", "status"],
        )?;
        let http_duration = histogram(
            "dtindex_http_request_duration_seconds",
            "Time to serve an HTTP request, by route pattern.",
            &["route"],
        )?;
        let http_answers = counter(
            "dtindex_http_answers_total",
            "Cacheable GET answers by how they were served: built from the database, cached \
             since the latest finished cycle, or shared with a request that was building it.",
            &["route", "how"],
        )?;
        let build = gauge(
            "dtindex_build_info",
            "Always 1; the labels tell the version of dtindex running.",
            &["version"],
        )?;
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1.0);
        // Show every outcome and goal from the start, so rates and comparisons work before
        // the first failure or the first cycle.
        for outcome in ["finished", "failed", "abandoned"] {
            cycles.with_label_values(&[outcome]);
        }
        Ok(Metrics(std::sync::Arc::new(Exported {
            registry,
            agency_index,
            agency_band,
            agency_target,
            agency_dimension,
            agency_datasets,
            agency_findings,
            catalog_failure_streak,
            services_down,
            certificate_expiry,
            agency_links,
            agency_links_broken,
            service_uptime,
            link_checks,
            attainment,
            target_goal,
            cycle_duration,
            cycles,
            fetches,
            fetch_errors,
            fetch_duration,
            probes,
            probe_failures,
            probe_latency,
            probe_phase,
            skipped_ticks,
            last_success,
            http_requests,
            http_duration,
            http_answers,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })))
    }

    /// Sets every per-agency gauge and the national attainment from a cycle's results;
    /// agencies no longer present disappear.
    pub fn publish(&self, agencies: &[AgencySnapshot], method: &Method) {
        for g in [
            &self.agency_index,
            &self.agency_band,
            &self.agency_target,
            &self.agency_dimension,
            &self.agency_datasets,
            &self.catalog_failure_streak,
            &self.services_down,
            &self.certificate_expiry,
            &self.agency_links,
            &self.agency_links_broken,
            &self.service_uptime,
            &self.attainment,
            &self.target_goal,
        ] {
            g.reset();
        }
        let goals: Vec<(String, f64)> = method
            .targets
            .iter()
            .flat_map(|t| {
                let least = t.parts.iter().map(|p| p.goal).fold(f64::INFINITY, f64::min);
                std::iter::once((t.id.clone(), least))
                    .chain(t.parts.iter().map(|p| (p.id().to_string(), p.goal)))
            })
            .collect();
        for (id, goal) in &goals {
            self.target_goal.with_label_values(&[id]).set(*goal);
        }
        self.agency_findings.reset();
        for a in agencies {
            let (code, kind) = (a.code.as_str(), a.kind.as_str());
            self.agency_index
                .with_label_values(&[code, kind])
                .set(a.index);
            self.agency_datasets
                .with_label_values(&[code, kind])
                .set(a.datasets as f64);
            self.catalog_failure_streak
                .with_label_values(&[code, kind])
                .set(a.catalog_failures_in_a_row as f64);
            self.services_down
                .with_label_values(&[code, kind])
                .set(a.services_down as f64);
            if let Some(t) = a.tls_expires_at {
                self.certificate_expiry
                    .with_label_values(&[code, kind])
                    .set(t as f64);
            }
            for (window, share) in a.uptime.windows() {
                if let Some(share) = share {
                    self.service_uptime
                        .with_label_values(&[code, kind, window])
                        .set(share);
                }
            }
            if let Some(n) = a.links_broken {
                self.agency_links_broken
                    .with_label_values(&[code, kind])
                    .set(n as f64);
            }
            if !a.links.is_empty() {
                for class in crate::links::LinkClass::ALL {
                    let n = a
                        .links
                        .iter()
                        .find(|(c, _)| *c == class)
                        .map_or(0, |(_, n)| *n);
                    self.agency_links
                        .with_label_values(&[code, kind, class.as_str()])
                        .set(n as f64);
                }
            }
            let band = Band::of(a.index, &method.bands);
            for b in Band::ALL {
                let on = if b == band { 1.0 } else { 0.0 };
                self.agency_band
                    .with_label_values(&[code, kind, b.as_str()])
                    .set(on);
            }
            for c in &a.components {
                match (&c.verdict, dimension_of(&c.id)) {
                    (Some(v), _) => self
                        .agency_target
                        .with_label_values(&[code, kind, c.id.as_str()])
                        .set(verdict_value(v)),
                    (None, Some(dimension)) if c.max_points > 0.0 => self
                        .agency_dimension
                        .with_label_values(&[code, kind, dimension])
                        .set(100.0 * c.points / c.max_points),
                    _ => {}
                }
            }
            for severity in ["critical", "high", "medium", "low", "info"] {
                let n = a
                    .findings
                    .iter()
                    .find(|(s, _)| s == severity)
                    .map_or(0, |(_, n)| *n);
                self.agency_findings
                    .with_label_values(&[code, kind, severity])
                    .set(n);
            }
        }
        for (target, _) in &goals {
            for kind in ["ministry", "province", "all"] {
                let of_kind: Vec<&AgencySnapshot> = agencies
                    .iter()
                    .filter(|a| kind == "all" || a.kind == kind)
                    .collect();
                if of_kind.is_empty() {
                    continue;
                }
                let met = of_kind
                    .iter()
                    .filter(|a| {
                        a.components
                            .iter()
                            .any(|c| c.id == **target && c.verdict.as_deref() == Some("met"))
                    })
                    .count();
                self.attainment
                    .with_label_values(&[target.as_str(), kind])
                    .set(met as f64 / of_kind.len() as f64);
            }
        }
    }

    /// Counts what each agency's harvest and probes gave.
    pub fn count_observations(&self, observations: &[AgencyObservation]) {
        use crate::observation::CatalogOutcome;
        for o in observations {
            let code = o.code.as_str();
            if o.catalog.url.is_some() {
                let outcome = match &o.catalog.outcome {
                    CatalogOutcome::Parsed if o.catalog.unchanged => "unchanged",
                    other => other.as_str(),
                };
                self.fetches.with_label_values(&[code, outcome]).inc();
                self.fetch_duration
                    .with_label_values(&[code])
                    .observe(o.catalog.duration_ms as f64 / 1000.0);
            }
            if let CatalogOutcome::FetchFailed(f) = &o.catalog.outcome {
                self.fetch_errors
                    .with_label_values(&[code, f.class.as_str()])
                    .inc();
            }
            for p in &o.services {
                let outcome = if p.is_up() { "up" } else { "down" };
                self.probes.with_label_values(&[code, outcome]).inc();
                if let Some(f) = &p.failure {
                    self.probe_failures
                        .with_label_values(&[code, f.class.as_str()])
                        .inc();
                } else {
                    self.probe_latency
                        .with_label_values(&[code])
                        .observe(p.latency_ms as f64 / 1000.0);
                }
                for (phase, ms) in p.phases.iter().flat_map(|f| f.named()) {
                    self.probe_phase
                        .with_label_values(&[code, phase])
                        .observe(ms as f64 / 1000.0);
                }
            }
        }
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(e) = encoder.encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(code: &str, kind: &str, index: f64, t1: &str) -> AgencySnapshot {
        AgencySnapshot {
            code: code.into(),
            kind: kind.into(),
            index,
            datasets: 3,
            components: vec![
                ComponentSnapshot {
                    id: "T1".into(),
                    verdict: Some(t1.into()),
                    points: 400.0,
                    max_points: 400.0,
                },
                ComponentSnapshot {
                    id: "Q.sufficient".into(),
                    verdict: None,
                    points: 150.0,
                    max_points: 300.0,
                },
            ],
            findings: vec![("high".into(), 2)],
            catalog_failures_in_a_row: 0,
            services_down: 1,
            tls_expires_at: Some(1_900_000_000),
            links: vec![(crate::links::LinkClass::ClientError, 2)],
            links_broken: Some(1),
            uptime: crate::store::Uptime {
                day: Some(1.0),
                week: Some(0.5),
                month: None,
            },
        }
    }

    #[test]
    fn renders_the_required_series() {
        let m = Metrics::new().unwrap();
        m.publish(
            &[
                snapshot("01", "province", 912.5, "met"),
                snapshot("79", "province", 100.0, "partly"),
                snapshot("BTC", "ministry", 0.0, "not_met"),
            ],
            &crate::score::Method::builtin(),
        );
        m.cycle_duration.observe(3.0);
        m.cycles.with_label_values(&["finished"]).inc();
        m.fetch_errors.with_label_values(&["01", "timeout"]).inc();
        let text = m.render();
        for line in [
            "dtindex_agency_index{agency=\"01\",kind=\"province\"} 912.5",
            "dtindex_agency_band{agency=\"01\",band=\"excellent\",kind=\"province\"} 1",
            "dtindex_agency_band{agency=\"01\",band=\"poor\",kind=\"province\"} 0",
            "dtindex_agency_target_verdict{agency=\"79\",kind=\"province\",target=\"T1\"} 0.5",
            "dtindex_agency_dimension_score{agency=\"01\",dimension=\"sufficient\",kind=\"province\"} 50",
            "dtindex_agency_services_down{agency=\"01\",kind=\"province\"} 1",
            "dtindex_agency_certificate_expiry_timestamp_seconds{agency=\"01\",kind=\"province\"} 1900000000",
            "dtindex_agency_catalog_failed_cycles{agency=\"01\",kind=\"province\"} 0",
            "dtindex_agency_findings{agency=\"BTC\",kind=\"ministry\",severity=\"high\"} 2",
            "dtindex_target_attainment_ratio{kind=\"province\",target=\"T1\"} 0.5",
            "dtindex_target_attainment_ratio{kind=\"ministry\",target=\"T1\"} 0",
            "dtindex_target_goal_ratio{target=\"T1\"} 1",
            "dtindex_cycle_duration_seconds_count 1",
            "dtindex_cycles_total{outcome=\"finished\"} 1",
            "dtindex_cycles_total{outcome=\"failed\"} 0",
            "dtindex_fetch_errors_total{agency=\"01\",class=\"timeout\"} 1",
            "dtindex_build_info{version=\"",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        // Attainment over all agencies: 1 of 3 meets T1.
        assert!(text.contains("dtindex_target_attainment_ratio{kind=\"all\",target=\"T1\"} 0.333"));
    }

    #[test]
    fn agencies_that_left_disappear() {
        let m = Metrics::new().unwrap();
        let method = crate::score::Method::builtin();
        m.publish(&[snapshot("01", "province", 1.0, "met")], &method);
        m.publish(&[snapshot("79", "province", 1.0, "met")], &method);
        let text = m.render();
        assert!(!text.contains("agency=\"01\""));
        assert!(text.contains("agency=\"79\""));
    }
}
