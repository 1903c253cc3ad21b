//! Prometheus metrics. Labels are bounded sets (agency code, kind, failure class), never URLs.

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry,
    TextEncoder,
};

use crate::observation::AgencyObservation;
use crate::score::Ranked;
use crate::store::AgencyResultRow;

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub agency_index: GaugeVec,
    pub cycle_duration: Histogram,
    pub cycles: IntCounterVec,
    pub fetch_errors: IntCounterVec,
    pub probe_failures: IntCounterVec,
    pub skipped_ticks: IntCounter,
    pub last_success: Gauge,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let agency_index = GaugeVec::new(
            Opts::new(
                "dtindex_agency_index",
                "Index of the agency in the latest finished cycle, 0 to 1000.",
            ),
            &["agency", "kind"],
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
        let cycles = IntCounterVec::new(
            Opts::new(
                "dtindex_cycles_total",
                "Crawl cycles ended, by outcome (finished, failed, abandoned).",
            ),
            &["outcome"],
        )?;
        let fetch_errors = IntCounterVec::new(
            Opts::new(
                "dtindex_fetch_errors_total",
                "Catalog fetches that failed, by agency and failure class.",
            ),
            &["agency", "class"],
        )?;
        let probe_failures = IntCounterVec::new(
            Opts::new(
                "dtindex_probe_failures_total",
                "Sharing-service probes that failed, by agency and failure class.",
            ),
            &["agency", "class"],
        )?;
        let skipped_ticks = IntCounter::new(
            "dtindex_schedule_skipped_ticks_total",
            "Scheduled ticks skipped because the previous cycle was still running.",
        )?;
        let last_success = Gauge::new(
            "dtindex_last_successful_cycle_timestamp_seconds",
            "Unix time at which the latest cycle finished successfully.",
        )?;
        registry.register(Box::new(agency_index.clone()))?;
        registry.register(Box::new(cycle_duration.clone()))?;
        registry.register(Box::new(cycles.clone()))?;
        registry.register(Box::new(fetch_errors.clone()))?;
        registry.register(Box::new(probe_failures.clone()))?;
        registry.register(Box::new(skipped_ticks.clone()))?;
        registry.register(Box::new(last_success.clone()))?;
        // Show every outcome from the start, so rates work before the first failure.
        for outcome in ["finished", "failed", "abandoned"] {
            cycles.with_label_values(&[outcome]);
        }
        Ok(Metrics {
            registry,
            agency_index,
            cycle_duration,
            cycles,
            fetch_errors,
            probe_failures,
            skipped_ticks,
            last_success,
        })
    }

    /// Publishes the scores of a finished cycle; agencies no longer ranked disappear.
    pub fn publish_scores(&self, ranked: &[Ranked]) {
        self.agency_index.reset();
        for r in ranked {
            self.agency_index
                .with_label_values(&[r.score.code.as_str(), r.score.kind.as_str()])
                .set(r.score.index);
        }
    }

    /// Restores the gauges from the store at start, before the first cycle of this process.
    pub fn restore_scores(&self, rows: &[AgencyResultRow]) {
        self.agency_index.reset();
        for r in rows {
            self.agency_index
                .with_label_values(&[r.agency_code.as_str(), r.kind.as_str()])
                .set(r.index_points);
        }
    }

    pub fn count_failures(&self, observations: &[AgencyObservation]) {
        for o in observations {
            if let crate::observation::CatalogOutcome::FetchFailed(f) = &o.catalog.outcome {
                self.fetch_errors
                    .with_label_values(&[o.code.as_str(), f.class.as_str()])
                    .inc();
            }
            for p in &o.services {
                if let Some(f) = &p.failure {
                    self.probe_failures
                        .with_label_values(&[o.code.as_str(), f.class.as_str()])
                        .inc();
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

    #[test]
    fn renders_the_required_series() {
        let m = Metrics::new().unwrap();
        m.agency_index
            .with_label_values(&["01", "province"])
            .set(512.5);
        m.cycle_duration.observe(3.0);
        m.cycles.with_label_values(&["finished"]).inc();
        m.fetch_errors.with_label_values(&["01", "timeout"]).inc();
        let text = m.render();
        assert!(
            text.contains("dtindex_agency_index{agency=\"01\",kind=\"province\"} 512.5"),
            "{text}"
        );
        assert!(text.contains("dtindex_cycle_duration_seconds_count 1"));
        assert!(text.contains("dtindex_cycles_total{outcome=\"finished\"} 1"));
        assert!(text.contains("dtindex_cycles_total{outcome=\"failed\"} 0"));
        assert!(text.contains("dtindex_fetch_errors_total{agency=\"01\",class=\"timeout\"} 1"));
        assert!(text.contains("# HELP dtindex_schedule_skipped_ticks_total"));
    }
}
