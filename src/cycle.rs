//! One crawl cycle: observe every agency, score, store, publish.
//!
//! Agencies are observed concurrently (bounded by `crawl.concurrency`), each in its own task
//! under its own deadline: a server that stalls, or a bug that panics on one agency's input,
//! costs that agency a finding and nothing more. The cycle's results are written in one
//! transaction at the end, so readers see either the previous cycle or this one whole.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use url::Url;

use crate::config::Live;
use crate::fetch::Fetcher;
use crate::harvest::{CatalogLink, HarvestState};
use crate::links::{LinkChecker, LinkResult};
use crate::metrics::Metrics;
use crate::observation::{
    AgencyObservation, CatalogObservation, CatalogOutcome, DeclarationObservation, Failure,
    FailureClass, LinkSummary, ProbeObservation,
};
use crate::registry::{Agency, Registry, ServiceEndpoint};
use crate::score::{self, Ranked};
use crate::store::{self, Store, StoreError};
use crate::{harvest, probe};

/// What a cycle needs; shared by the scheduler, the CLI's `crawl` and the tests.
pub struct Crawler {
    /// The registry and the scoring method; reloaded on SIGHUP.
    pub live: Live,
    pub fetcher: Fetcher,
    pub store: Store,
    pub metrics: Metrics,
    pub concurrency: usize,
    pub agency_deadline: Duration,
    /// Checks the catalogs' links; `None` when link checking is off.
    pub links: Option<LinkStage>,
}

/// Checking an agency's links once its catalog is read. One checker serves every agency,
/// so a URL two agencies list is requested once and the per-host limits hold across them.
#[derive(Clone)]
pub struct LinkStage {
    pub checker: LinkChecker,
    pub broken_after_cycles: u32,
    pub deadline: Duration,
}

impl LinkStage {
    /// Checks the links the harvest left in `state` and records them; what they count
    /// for, or `None` when they could not be recorded (then they cost the agency nothing).
    async fn check(
        &self,
        store: &Store,
        metrics: &Metrics,
        cycle_id: i64,
        agency: &str,
        state: &HarvestState,
    ) -> Option<LinkSummary> {
        let list = state.links();
        let urls = list.iter().filter_map(|l| Url::parse(&l.url).ok());
        let results = self
            .checker
            .check_all_within(urls, Some(self.deadline))
            .await;
        let cached = results.values().filter(|r| r.from_cache).count() as u64;
        metrics
            .link_checks
            .with_label_values(&["cached"])
            .inc_by(cached);
        metrics
            .link_checks
            .with_label_values(&["checked"])
            .inc_by(results.len() as u64 - cached);
        if results.len() < list.len() {
            tracing::warn!(
                checked = results.len(),
                links = list.len(),
                "the link checks ran out of time; the rest keep their history"
            );
        }
        let checked: Vec<(CatalogLink, Option<LinkResult>)> = list
            .into_iter()
            .map(|l| {
                let r = Url::parse(&l.url)
                    .ok()
                    .and_then(|u| results.get(&u).cloned());
                (l, r)
            })
            .collect();
        let (agency, broken_after) = (agency.to_string(), self.broken_after_cycles);
        let now = chrono::Utc::now().naive_utc();
        let recorded = store
            .run(move |c| store::record_links(c, cycle_id, &agency, &checked, broken_after, now))
            .await;
        recorded
            .inspect_err(|e| tracing::warn!(error = %e, "cannot record the link checks"))
            .ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error("the cycle could not be stored: {0}")]
    Store(#[from] StoreError),
    #[error("the cycle was cancelled by shutdown")]
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct CycleReport {
    pub cycle_id: i64,
    pub agencies: usize,
    pub duration: Duration,
    pub ranked: Vec<Ranked>,
}

impl Crawler {
    /// Runs one full cycle. Agency failures are findings; only the store or a shutdown can
    /// fail the cycle, and then it is marked abandoned and the previous cycle stays served.
    pub async fn run_cycle(&self, cancel: &CancellationToken) -> Result<CycleReport, CycleError> {
        let started = Instant::now();
        let cycle_id = self.store.run(store::begin_cycle).await.inspect_err(|_| {
            self.metrics.cycles.with_label_values(&["failed"]).inc();
        })?;
        self.complete(cycle_id, started, cancel)
            .instrument(tracing::info_span!("cycle", cycle_id))
            .await
    }

    async fn complete(
        &self,
        cycle_id: i64,
        started: Instant,
        cancel: &CancellationToken,
    ) -> Result<CycleReport, CycleError> {
        let live = self.live.current();
        tracing::info!(agencies = live.registry.agencies.len(), "cycle started");

        let previous = self.store.run(store::load_harvest_states).await?;
        let (observations, states) = tokio::select! {
            obs = self.observe_all(&live.registry, &previous, cycle_id) => obs,
            _ = cancel.cancelled() => {
                self.abandon(cycle_id).await;
                return Err(CycleError::Cancelled);
            }
        };
        let scores = observations
            .iter()
            .map(|o| score::assess(o, &live.method, score::today()))
            .collect();
        let ranked = score::rank(scores);

        let (r, o) = (ranked.clone(), observations.clone());
        let stored = self
            .store
            .run(move |c| {
                let results = store::CycleResults {
                    ranked: &r,
                    observations: &o,
                    states: &states,
                };
                store::finish_cycle(c, cycle_id, &results)
            })
            .await;
        if let Err(e) = stored {
            tracing::error!(error = %e, "cannot store the cycle");
            self.metrics.cycles.with_label_values(&["failed"]).inc();
            self.abandon(cycle_id).await;
            return Err(e.into());
        }

        let duration = started.elapsed();
        // The gauges come from the store, as at start: one source for both, and the
        // streaks that span cycles are only there.
        match self.store.run(store::latest_snapshots).await {
            Ok(snapshots) => self.metrics.publish(&snapshots, &live.method),
            Err(e) => tracing::warn!(error = %e, "cannot read the cycle back for the metrics"),
        }
        self.metrics.count_observations(&observations);
        self.metrics.cycle_duration.observe(duration.as_secs_f64());
        self.metrics.cycles.with_label_values(&["finished"]).inc();
        self.metrics
            .last_success
            .set(chrono::Utc::now().timestamp() as f64);
        tracing::info!(duration_ms = duration.as_millis() as u64, "cycle finished");
        Ok(CycleReport {
            cycle_id,
            agencies: ranked.len(),
            duration,
            ranked,
        })
    }

    async fn abandon(&self, cycle_id: i64) {
        self.metrics.cycles.with_label_values(&["abandoned"]).inc();
        if let Err(e) = self
            .store
            .run(move |c| store::abandon_cycle(c, cycle_id))
            .await
        {
            // The next start marks it abandoned anyway.
            tracing::warn!(error = %e, cycle_id, "cannot mark the cycle abandoned");
        }
    }

    /// Observes every agency, in registry order, and returns the harvest state to keep for
    /// each agency whose catalog was read. Link checks are recorded as `cycle_id`'s.
    /// Dropping the future aborts the tasks.
    pub async fn observe_all(
        &self,
        registry: &Registry,
        previous: &HashMap<String, HarvestState>,
        cycle_id: i64,
    ) -> (Vec<AgencyObservation>, Vec<(String, HarvestState)>) {
        let permits = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        for (i, agency) in registry.agencies.iter().enumerate() {
            let agency = agency.clone();
            let fetcher = self.fetcher.clone();
            let permits = permits.clone();
            let deadline = self.agency_deadline;
            let before = previous.get(&agency.code).cloned();
            let (links, store, metrics) =
                (self.links.clone(), self.store.clone(), self.metrics.clone());
            let span = tracing::info_span!("agency", agency = %agency.code);
            tasks.spawn(
                async move {
                    let permit = permits.acquire_owned().await;
                    let observed =
                        tokio::time::timeout(deadline, observe(&fetcher, &agency, before.as_ref()))
                            .await;
                    // Link checks have their own limits: the next agency's harvest can start.
                    drop(permit);
                    let mut obs = observed.unwrap_or_else(|_| {
                        let why = format!(
                            "the agency's catalog and services took longer than the {}s limit",
                            deadline.as_secs()
                        );
                        (cut_off(&agency, why), None)
                    });
                    if let (Some(stage), (o, Some(state))) = (&links, &mut obs) {
                        o.links = stage
                            .check(&store, &metrics, cycle_id, &o.code, state)
                            .await;
                    }
                    let (o, _) = &obs;
                    tracing::info!(
                        catalog = o.catalog.outcome.as_str(),
                        unchanged = o.catalog.unchanged,
                        datasets = o.catalog.datasets,
                        services_up = o.services.iter().filter(|p| p.is_up()).count(),
                        services_down = o.services.iter().filter(|p| !p.is_up()).count(),
                        "agency observed"
                    );
                    (i, obs)
                }
                .instrument(span),
            );
        }
        let mut slots: Vec<Option<(AgencyObservation, Option<HarvestState>)>> =
            vec![None; registry.agencies.len()];
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((i, obs)) => slots[i] = Some(obs),
                Err(e) => tracing::error!(error = %e, "an agency's crawl task failed"),
            }
        }
        // A task that panicked left its slot empty: the agency still gets a result.
        let mut observations = Vec::with_capacity(slots.len());
        let mut states = Vec::new();
        for (slot, agency) in slots.into_iter().zip(registry.agencies.iter()) {
            let failed = || {
                (
                    cut_off(
                        agency,
                        "the crawl of this agency failed inside dtindex".to_string(),
                    ),
                    None,
                )
            };
            let (obs, state) = slot.unwrap_or_else(failed);
            if let Some(state) = state {
                states.push((agency.code.clone(), state));
            }
            observations.push(obs);
        }
        (observations, states)
    }
}

/// Harvests an agency's catalog, reads its declaration and probes its services (the
/// registry's and the declared ones, each once), all at once.
pub async fn observe(
    fetcher: &Fetcher,
    agency: &Agency,
    previous: Option<&HarvestState>,
) -> (AgencyObservation, Option<HarvestState>) {
    let catalog = async {
        match &agency.catalog {
            Some(endpoint) => harvest::harvest(fetcher, endpoint, previous).await,
            None => (CatalogObservation::default(), None),
        }
    };
    let services = async {
        let (declaration, declared) =
            probe::declaration(fetcher, agency.declaration_url.as_ref()).await;
        let mut all: Vec<(ServiceEndpoint, Option<String>)> =
            agency.services.iter().map(|s| (s.clone(), None)).collect();
        for s in declared {
            if !all.iter().any(|(r, _)| r.url == s.url) {
                // The agency names these itself: vetted like its dataset links.
                let refusal = fetcher.refusal(&s.url);
                all.push((s, refusal));
            }
        }
        let probes = futures_util::future::join_all(all.iter().map(|(s, refusal)| async move {
            match refusal {
                Some(why) => probe::refused(s, why.clone()),
                None => probe::probe(fetcher, s).await,
            }
        }));
        (declaration, probes.await)
    };
    let ((catalog, state), (declaration, services)) = tokio::join!(catalog, services);
    let obs = AgencyObservation {
        code: agency.code.clone(),
        kind: agency.kind,
        name: agency.name.clone(),
        catalog,
        services,
        declaration,
        links: None,
    };
    (obs, state)
}

/// The observation of an agency whose crawl did not complete: everything it publishes
/// counts as failed, with the reason.
fn cut_off(agency: &Agency, message: String) -> AgencyObservation {
    let failure = Failure {
        class: FailureClass::Deadline,
        message,
    };
    AgencyObservation {
        code: agency.code.clone(),
        kind: agency.kind,
        name: agency.name.clone(),
        catalog: match &agency.catalog {
            Some(c) => CatalogObservation {
                url: Some(c.url.to_string()),
                outcome: CatalogOutcome::FetchFailed(failure.clone()),
                ..CatalogObservation::default()
            },
            None => CatalogObservation::default(),
        },
        services: agency
            .services
            .iter()
            .map(|s| ProbeObservation {
                url: s.url.to_string(),
                platform: s.platform.clone(),
                http_status: None,
                latency_ms: 0,
                failure: Some(failure.clone()),
                tls_expires_at: None,
                api_description: None,
                http_version: None,
                phases: None,
            })
            .collect(),
        declaration: DeclarationObservation {
            url: agency.declaration_url.as_ref().map(Url::to_string),
            outcome: if agency.declaration_url.is_some() {
                CatalogOutcome::FetchFailed(failure.clone())
            } else {
                CatalogOutcome::NotPublished
            },
            ..DeclarationObservation::default()
        },
        links: None,
    }
}
