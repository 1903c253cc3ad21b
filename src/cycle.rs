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
use crate::links::LinkChecker;
use crate::links::history::{self, Check};
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
    /// How long this daemon holds an agency's crawl before another may take it over.
    pub lease: Duration,
    /// Who holds the leases this daemon takes (unique per process).
    pub owner: String,
}

/// A name for this process's leases: host, process id and a random part, so that a
/// restarted daemon never mistakes a dead predecessor's leases (same host and pid) for its
/// own.
pub fn lease_owner() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Checking an agency's links once its catalog is read. One checker serves every agency,
/// so a URL two agencies list is requested once and the per-host limits hold across them.
#[derive(Clone)]
pub struct LinkStage {
    pub checker: LinkChecker,
    pub broken_after_cycles: u32,
    pub deadline: Duration,
    /// How long a link that answered is not asked again. The answers between cycles are
    /// the agency's `link_states`, read when its links are checked: a daemon's memory
    /// then holds the links in flight, not the federation's.
    pub fresh_for: Duration,
    /// How long a failure stands before it is asked again (see `links::history`).
    pub failure_recheck: Duration,
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
        let mut list = state.links();
        let now = chrono::Utc::now().naive_utc();
        let digest = history::list_digest(&list);
        let code = agency.to_string();
        // An unchanged list whose successes are fresh needs only its failing links read
        // and asked: the ledger carries the rest. Without a ledger, every link is read.
        let ledger = store
            .run(move |c| store::link_ledger(c, &code))
            .await
            .ok()
            .flatten()
            .filter(|l| l.carries(digest, now, self.fresh_for));
        let (code, carried) = (agency.to_string(), ledger.is_some());
        // Read once, here: a record that stands is not asked again, and the rest is what
        // the answers advance. Without the records every link is simply asked again.
        let before = store
            .run(move |c| store::link_records(c, &code, carried))
            .await
            .inspect_err(
                |e| tracing::warn!(error = %e, "cannot read the links' history; checking them all"),
            )
            .ok();
        let (before, ledger) = match (before, ledger) {
            (Some(before), ledger) => (before, ledger),
            // Carrying successes forward needs the failing links' records.
            (None, _) => (HashMap::new(), None),
        };
        if ledger.is_some() {
            list.retain(|l| before.contains_key(&l.url));
        }
        // A record stands for the link it was kept for, not for one the catalog now
        // declares another media type for.
        let standing: Vec<bool> = list
            .iter()
            .map(|l| {
                before.get(&l.url).is_some_and(|r| {
                    r.media_type == l.media_type
                        && r.stands(now, self.fresh_for, self.failure_recheck)
                })
            })
            .collect();
        let urls = list
            .iter()
            .zip(&standing)
            .filter(|(_, stands)| !**stands)
            .filter_map(|(l, _)| Url::parse(&l.url).ok());
        let results = self
            .checker
            .check_all_within(urls, Some(self.deadline))
            .await;
        let checked: Vec<(CatalogLink, Check)> = list
            .into_iter()
            .zip(standing)
            .map(|(l, stands)| {
                let check = if stands {
                    Check::Stands
                } else {
                    Url::parse(&l.url)
                        .ok()
                        .and_then(|u| results.get(&u).cloned())
                        .map_or(Check::NotReached, Check::Answered)
                };
                (l, check)
            })
            .collect();
        let count = |f: fn(&Check) -> bool| checked.iter().filter(|(_, c)| f(c)).count() as u64;
        let asked = count(|c| matches!(c, Check::Answered(r) if !r.from_cache));
        let not_reached = count(|c| matches!(c, Check::NotReached));
        let carried_forward = ledger.as_ref().map_or(0, |l| l.successes.checked);
        let answered_before = checked.len() as u64 - asked - not_reached + carried_forward;
        metrics
            .link_checks
            .with_label_values(&["cached"])
            .inc_by(answered_before);
        metrics
            .link_checks
            .with_label_values(&["checked"])
            .inc_by(asked);
        if not_reached > 0 {
            tracing::warn!(
                not_reached,
                links = checked.len(),
                "the link checks ran out of time; the rest keep their history"
            );
        }
        let (agency, broken_after) = (agency.to_string(), self.broken_after_cycles);
        // A dropped connection must not cost the agency its link checks: tried again. The
        // cycle's shutdown drops this future, so the token here never needs to fire.
        let checked = Arc::new((before, checked, ledger));
        let recorded = persist(
            "recording the link checks",
            &CancellationToken::new(),
            || {
                let (agency, checked) = (agency.clone(), checked.clone());
                store.write(move |c| {
                    let (before, links, ledger) = &*checked;
                    let scope = match ledger {
                        Some(ledger) => store::Scope::Failing(ledger),
                        None => store::Scope::Whole { list: digest },
                    };
                    store::record_links(
                        c,
                        &store::LinkChecks {
                            cycle_id,
                            agency: &agency,
                            before,
                            links,
                            scope,
                            broken_after,
                            now,
                        },
                    )
                })
            },
        )
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
    #[error("the cycle of this tick has already run (another daemon ran it)")]
    AlreadyRan,
    #[error("another daemon could not store the cycle and abandoned it")]
    Abandoned,
}

#[derive(Debug, Clone)]
pub struct CycleReport {
    pub cycle_id: i64,
    pub agencies: usize,
    pub duration: Duration,
    /// The ranking, when this daemon scored the cycle; empty when another daemon did.
    pub ranked: Vec<Ranked>,
    /// How many agencies this daemon crawled.
    pub crawled: usize,
}

/// The agencies this daemon's workers are crawling, whose leases it renews.
type Held = Arc<std::sync::Mutex<std::collections::HashSet<String>>>;

/// Tries a store step again after a failure (a dropped connection, a server restarting,
/// a statement timeout), backing off, until it succeeds, the cycle is cancelled, or it has
/// failed for about a minute and a half.
async fn persist<T, F, Fut>(
    what: &str,
    cancel: &CancellationToken,
    mut step: F,
) -> Result<T, CycleError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut wait = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        match step().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt >= STORE_ATTEMPTS => return Err(e.into()),
            Err(e) => {
                tracing::warn!(error = %e, attempt, "{what} failed; trying again");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = cancel.cancelled() => return Err(CycleError::Cancelled),
                }
                wait = (wait * 2).min(Duration::from_secs(5));
                attempt += 1;
            }
        }
    }
}

const STORE_ATTEMPTS: u32 = 20;

/// Sets the per-agency and national gauges and the time of the last success from the
/// latest finished cycle in the store.
pub async fn publish_latest(
    store: &Store,
    metrics: &Metrics,
    method: &score::Method,
) -> Result<(), StoreError> {
    let latest = store.run(store::latest_snapshots).await?;
    metrics.publish(&latest, method);
    if let Some(cycle) = store.run(store::latest_finished_cycle).await?
        && let Some(finished) = cycle.finished_at
    {
        metrics
            .last_success
            .set(finished.and_utc().timestamp() as f64);
    }
    Ok(())
}

impl Crawler {
    /// Runs one full cycle (or joins the one running). Agency failures are findings; only
    /// the store or a shutdown can fail the cycle, and then the previous cycle stays served.
    pub async fn run_cycle(&self, cancel: &CancellationToken) -> Result<CycleReport, CycleError> {
        self.run_cycle_at(None, cancel).await
    }

    /// [`Crawler::run_cycle`] for the schedule's tick `slot` (Unix seconds): daemons that
    /// tick together share one cycle, and a tick whose cycle already ran does nothing.
    pub async fn run_cycle_at(
        &self,
        slot: Option<i64>,
        cancel: &CancellationToken,
    ) -> Result<CycleReport, CycleError> {
        let started = Instant::now();
        let codes: Vec<String> = self
            .live
            .current()
            .registry
            .agencies
            .iter()
            .map(|a| a.code.clone())
            .collect();
        let joined = persist("starting the cycle", cancel, || {
            let codes = codes.clone();
            self.store
                .write(move |c| store::work::join_or_begin(c, slot, &codes))
        })
        .await
        .inspect_err(|_| {
            self.metrics.cycles.with_label_values(&["failed"]).inc();
        })?;
        let Some((cycle_id, created)) = joined else {
            return Err(CycleError::AlreadyRan);
        };
        self.complete(cycle_id, created, started, cancel)
            .instrument(tracing::info_span!("cycle", cycle_id))
            .await
    }

    async fn complete(
        &self,
        cycle_id: i64,
        created: bool,
        started: Instant,
        cancel: &CancellationToken,
    ) -> Result<CycleReport, CycleError> {
        let live = self.live.current();
        tracing::info!(
            agencies = live.registry.agencies.len(),
            joined = !created,
            "cycle started"
        );

        let crawled = tokio::select! {
            mine = self.crawl_shared(&live.registry, cycle_id) => mine,
            _ = cancel.cancelled() => {
                self.stop_working(cycle_id).await;
                return Err(CycleError::Cancelled);
            }
        };

        let registry = live.registry.clone();
        let method = live.method.clone();
        let scored = persist("scoring the cycle", cancel, || {
            let (registry, method) = (registry.clone(), method.clone());
            self.store.write(move |c| {
                store::work::score_once(c, cycle_id, |crawls| {
                    score_crawls(&registry, &method, crawls)
                })
            })
        })
        .await;
        let scored = match scored {
            Ok(scored) => scored,
            Err(e) => {
                tracing::error!(error = %e, "cannot store the cycle");
                self.metrics.cycles.with_label_values(&["failed"]).inc();
                // Every agency is crawled, but the results do not store: abandoned (the
                // previous cycle stays served), so that the next tick starts afresh rather
                // than joining this one again. If the database cannot be reached to say
                // so, the next tick joins it and tries the scoring again.
                if matches!(e, CycleError::Cancelled) {
                    self.stop_working(cycle_id).await;
                } else {
                    self.abandon(cycle_id).await;
                }
                return Err(e);
            }
        };
        let (ranked, agencies) = match scored {
            Some((ranked, _)) => {
                let n = ranked.len();
                (ranked, n)
            }
            None => {
                // Another daemon got there first: it finished the cycle, or gave up on it.
                let row = persist("reading the cycle back", cancel, || {
                    self.store.run(move |c| store::work::cycle(c, cycle_id))
                })
                .await?;
                match row {
                    Some(row) if row.status == "finished" => {
                        (Vec::new(), usize::try_from(row.agencies).unwrap_or(0))
                    }
                    _ => {
                        self.metrics.cycles.with_label_values(&["abandoned"]).inc();
                        return Err(CycleError::Abandoned);
                    }
                }
            }
        };

        let duration = started.elapsed();
        self.publish_from_store().await;
        self.metrics.cycle_duration.observe(duration.as_secs_f64());
        self.metrics.cycles.with_label_values(&["finished"]).inc();
        tracing::info!(
            duration_ms = duration.as_millis() as u64,
            crawled,
            scored_here = !ranked.is_empty(),
            "cycle finished"
        );
        Ok(CycleReport {
            cycle_id,
            agencies,
            duration,
            ranked,
            crawled,
        })
    }

    /// Sets the per-agency gauges from the latest finished cycle in the store, whoever
    /// scored it: one source for every daemon sharing the database (so each exports the
    /// same values), and the streaks that span cycles are only there.
    pub async fn publish_from_store(&self) {
        let method = self.live.current().method.clone();
        if let Err(e) = publish_latest(&self.store, &self.metrics, &method).await {
            tracing::warn!(error = %e, "cannot read the cycle back for the metrics");
        }
    }

    /// Renews the leases of the agencies in `held` at a third of their length, for as
    /// long as the returned set lives. A renewal that fails (the connection dropped) is
    /// tried again at the next turn, well before the lease runs out. Only what a worker is
    /// crawling is renewed: a claim whose answer was lost with its connection is left to
    /// expire and be claimed again, not held forever.
    fn renew_leases(&self, cycle_id: i64, held: Held) -> JoinSet<()> {
        let (store, owner, lease) = (self.store.clone(), self.owner.clone(), self.lease);
        let mut renewal = JoinSet::new();
        renewal.spawn(async move {
            let mut ticks = tokio::time::interval(lease / 3);
            loop {
                ticks.tick().await;
                let codes: Vec<String> = held
                    .lock()
                    .map(|h| h.iter().cloned().collect())
                    .unwrap_or_default();
                if codes.is_empty() {
                    continue;
                }
                let owner = owner.clone();
                if let Err(e) = store
                    .write(move |c| store::work::renew(c, cycle_id, &owner, &codes, lease))
                    .await
                {
                    tracing::warn!(error = %e, "cannot renew the crawl leases");
                }
            }
        });
        renewal
    }

    /// A cycle this daemon stops working on: alone on SQLite it is abandoned (the previous
    /// cycle stays served); on a shared database its leases are given back for the other
    /// daemons to finish it.
    async fn stop_working(&self, cycle_id: i64) {
        if !self.store.is_shared() {
            self.abandon(cycle_id).await;
            return;
        }
        let owner = self.owner.clone();
        if let Err(e) = self
            .store
            .write(move |c| store::work::release(c, cycle_id, &owner))
            .await
        {
            // They expire anyway.
            tracing::warn!(error = %e, cycle_id, "cannot release the crawl leases");
        }
    }

    async fn abandon(&self, cycle_id: i64) {
        self.metrics.cycles.with_label_values(&["abandoned"]).inc();
        if let Err(e) = self
            .store
            .write(move |c| store::abandon_cycle(c, cycle_id))
            .await
        {
            // The next start marks it abandoned anyway.
            tracing::warn!(error = %e, cycle_id, "cannot mark the cycle abandoned");
        }
    }

    /// Crawls agencies of the cycle as long as there are some to claim, `concurrency` at a
    /// time, and records each; waits for those other daemons hold, taking over any whose
    /// lease expires. Returns how many agencies this daemon crawled.
    ///
    /// Memory stays bounded by the agencies in flight, not by the federation: each
    /// agency's last harvest state is read when its crawl starts, and its observation
    /// (with the datasets it read) goes to the database as soon as it ends.
    async fn crawl_shared(&self, registry: &Registry, cycle_id: i64) -> usize {
        let agencies: Arc<HashMap<String, Agency>> = Arc::new(
            registry
                .agencies
                .iter()
                .map(|a| (a.code.clone(), a.clone()))
                .collect(),
        );
        // Agencies of the cycle this daemon's registry does not know (it was reloaded
        // differently from the others'): left for a daemon that knows them.
        let unknown = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let poll = (self.lease / 6).clamp(Duration::from_millis(100), Duration::from_secs(2));
        // Wakes the workers that found nothing left to claim when one of this daemon's
        // crawls ends: otherwise the cycle's last agency kept the others asleep for up to
        // `poll` (two seconds by default) after it was done.
        let progress = Arc::new(tokio::sync::Notify::new());
        let held = Held::default();
        let _renewal = self.renew_leases(cycle_id, held.clone());
        let mut workers = JoinSet::new();
        for _ in 0..self.concurrency.max(1) {
            let (agencies, unknown, progress) =
                (agencies.clone(), unknown.clone(), progress.clone());
            let held = held.clone();
            let (store, owner, lease) = (self.store.clone(), self.owner.clone(), self.lease);
            let (stage, metrics) = (self.agency_stage(), self.metrics.clone());
            workers.spawn(async move {
                let mut mine = 0;
                loop {
                    let skip = unknown.lock().map(|u| u.clone()).unwrap_or_default();
                    let o = owner.clone();
                    let claimed = store
                        .write(move |c| store::work::claim(c, cycle_id, &o, lease, &skip))
                        .await;
                    let code = match claimed {
                        Ok(Some(code)) => {
                            if let Ok(mut h) = held.lock() {
                                h.insert(code.clone());
                            }
                            code
                        }
                        Ok(None) => {
                            // Registered before the count, so that a crawl finishing in
                            // between still wakes this worker.
                            let finished = progress.notified();
                            tokio::pin!(finished);
                            finished.as_mut().enable();
                            match store.run(move |c| store::work::remaining(c, cycle_id)).await {
                                Ok(0) => return mine,
                                // Held elsewhere: wait for one of this daemon's crawls to
                                // end, or poll for another daemon's (and expired leases).
                                Ok(_) | Err(_) => {
                                    tokio::select! {
                                        _ = tokio::time::sleep(poll) => {}
                                        _ = finished => {}
                                    }
                                    continue;
                                }
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot claim an agency; trying again");
                            tokio::time::sleep(poll).await;
                            continue;
                        }
                    };
                    let Some(agency) = agencies.get(&code).cloned() else {
                        tracing::error!(agency = %code, "the cycle lists an agency this daemon's registry does not; leaving it to another daemon");
                        if let Ok(mut h) = held.lock() {
                            h.remove(&code);
                        }
                        if let Ok(mut u) = unknown.lock() {
                            u.push(code);
                        }
                        let o = owner.clone();
                        let _ = store.write(move |c| store::work::release(c, cycle_id, &o)).await;
                        continue;
                    };
                    let c = code.clone();
                    // A state that cannot be read now costs a full fetch, nothing more.
                    let before = store
                        .run(move |conn| store::load_harvest_state(conn, &c))
                        .await
                        .inspect_err(|e| tracing::warn!(error = %e, agency = %code, "cannot read the last harvest state; fetching in full"))
                        .ok()
                        .flatten();
                    let kept_before = before.clone();
                    let (mut obs, state) = stage.observe_isolated(agency, before, cycle_id).await;
                    let datasets = std::mem::take(&mut obs.catalog.records);
                    let datasets = (!datasets.is_keep())
                        .then(|| serde_json::to_string(&datasets).ok())
                        .flatten();
                    let observation = match serde_json::to_string(&obs) {
                        Ok(json) => json,
                        Err(e) => {
                            tracing::error!(error = %e, agency = %code, "cannot serialise the observation");
                            continue;
                        }
                    };
                    // A state as it was is not written again: an unchanged catalog's
                    // (its links, its digests) runs to a megabyte.
                    let state = state
                        .filter(|s| kept_before.as_ref() != Some(s))
                        .and_then(|s| serde_json::to_string(&s).ok());
                    // Shared by the attempts, not copied: the datasets run to megabytes.
                    let crawl = Arc::new((observation, state, datasets));
                    let kept = loop {
                        let (o, agency, crawl) = (owner.clone(), code.clone(), crawl.clone());
                        match store
                            .write(move |c| {
                                let (observation, state, datasets) = &*crawl;
                                store::work::complete(c, cycle_id, &agency, &o, observation, state.as_deref(), datasets.as_deref())
                            })
                            .await
                        {
                            Ok(kept) => break kept,
                            Err(e) => {
                                tracing::warn!(error = %e, agency = %code, "cannot record the crawl; trying again");
                                tokio::time::sleep(poll).await;
                            }
                        }
                    };
                    if let Ok(mut h) = held.lock() {
                        h.remove(&code);
                    }
                    progress.notify_waiters();
                    if kept {
                        metrics.count_observations(std::slice::from_ref(&obs));
                        mine += 1;
                    } else {
                        tracing::warn!(agency = %code, "the lease ran out and another daemon took the agency over; this crawl is dropped");
                    }
                }
            });
        }
        let mut mine = 0;
        while let Some(joined) = workers.join_next().await {
            match joined {
                Ok(observed) => mine += observed,
                Err(e) => tracing::error!(error = %e, "a crawl worker failed"),
            }
        }
        mine
    }

    fn agency_stage(&self) -> AgencyStage {
        AgencyStage {
            fetcher: self.fetcher.clone(),
            deadline: self.agency_deadline,
            links: self.links.clone(),
            store: self.store.clone(),
            metrics: self.metrics.clone(),
            permits: None,
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
        let stage = AgencyStage {
            permits: Some(Arc::new(Semaphore::new(self.concurrency.max(1)))),
            ..self.agency_stage()
        };
        let mut tasks = JoinSet::new();
        for (i, agency) in registry.agencies.iter().enumerate() {
            let (stage, agency) = (stage.clone(), agency.clone());
            let before = previous.get(&agency.code).cloned();
            let span = tracing::info_span!("agency", agency = %agency.code);
            tasks.spawn(
                async move { (i, stage.observe(&agency, before, cycle_id).await) }.instrument(span),
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
            let (obs, state) = slot.unwrap_or_else(|| (crashed(agency), None));
            if let Some(state) = state {
                states.push((agency.code.clone(), state));
            }
            observations.push(obs);
        }
        (observations, states)
    }
}

/// What observing one agency needs; cloned into each agency's task.
#[derive(Clone)]
struct AgencyStage {
    fetcher: Fetcher,
    deadline: Duration,
    links: Option<LinkStage>,
    store: Store,
    metrics: Metrics,
    /// Bounds how many agencies are harvested at once, when they are all started together.
    permits: Option<Arc<Semaphore>>,
}

impl AgencyStage {
    /// Observes one agency under its deadline, then checks its links (recorded as
    /// `cycle_id`'s).
    async fn observe(
        &self,
        agency: &Agency,
        before: Option<HarvestState>,
        cycle_id: i64,
    ) -> (AgencyObservation, Option<HarvestState>) {
        let permit = match &self.permits {
            Some(p) => p.clone().acquire_owned().await.ok(),
            None => None,
        };
        let observed = tokio::time::timeout(
            self.deadline,
            observe(&self.fetcher, agency, before.as_ref()),
        )
        .await;
        // Link checks have their own limits: the next agency's harvest can start.
        drop(permit);
        let mut obs = observed.unwrap_or_else(|_| {
            let why = format!(
                "the agency's catalog and services took longer than the {}s limit",
                self.deadline.as_secs()
            );
            (cut_off(agency, why), None)
        });
        if let (Some(stage), (o, Some(state))) = (&self.links, &mut obs) {
            o.links = stage
                .check(&self.store, &self.metrics, cycle_id, &o.code, state)
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
        obs
    }

    /// [`AgencyStage::observe`] in a task of its own, so that a bug that panics on one
    /// agency's input costs that agency a finding, and the worker goes on.
    async fn observe_isolated(
        &self,
        agency: Agency,
        before: Option<HarvestState>,
        cycle_id: i64,
    ) -> (AgencyObservation, Option<HarvestState>) {
        let (stage, a) = (self.clone(), agency.clone());
        let span = tracing::info_span!("agency", agency = %agency.code);
        // In a set of its own, so that it is aborted if the cycle is (dropping the set).
        let mut task = JoinSet::new();
        task.spawn(async move { stage.observe(&a, before, cycle_id).await }.instrument(span));
        match task.join_next().await {
            Some(Ok(observed)) => observed,
            None => (crashed(&agency), None),
            Some(Err(e)) => {
                tracing::error!(error = %e, agency = %agency.code, "an agency's crawl task failed");
                (crashed(&agency), None)
            }
        }
    }
}

/// Scores a cycle's stored crawls: every agency of `registry` gets a result, in registry
/// order (one whose crawl is missing or does not read back counts as failed, with the
/// reason), then any crawled agency the registry no longer lists.
fn score_crawls(
    registry: &Registry,
    method: &score::Method,
    crawls: Vec<store::work::StoredCrawl>,
) -> store::work::Scored {
    let mut by_code: HashMap<String, store::work::StoredCrawl> =
        crawls.into_iter().map(|c| (c.agency.clone(), c)).collect();
    let mut observations = Vec::with_capacity(registry.agencies.len());
    let mut take = |crawl: store::work::StoredCrawl, agency: Option<&Agency>| {
        let obs = match (crawl.observation, agency) {
            (Ok(obs), _) => obs,
            (Err(why), Some(agency)) => cut_off(agency, why),
            (Err(why), None) => {
                tracing::warn!(agency = %crawl.agency, "{why}");
                return;
            }
        };
        observations.push(obs);
    };
    for agency in &registry.agencies {
        match by_code.remove(&agency.code) {
            Some(crawl) => take(crawl, Some(agency)),
            None => take(
                store::work::StoredCrawl {
                    agency: agency.code.clone(),
                    observation: Err("the agency was not crawled in this cycle".to_string()),
                },
                Some(agency),
            ),
        }
    }
    let mut rest: Vec<_> = by_code.into_values().collect();
    rest.sort_by(|a, b| a.agency.cmp(&b.agency));
    for crawl in rest {
        take(crawl, None);
    }
    let today = score::today();
    let scores = observations
        .iter()
        .map(|o| score::assess(o, method, today))
        .collect();
    (score::rank(scores), observations)
}

/// The observation of an agency whose crawl task failed inside dtindex.
fn crashed(agency: &Agency) -> AgencyObservation {
    cut_off(
        agency,
        "the crawl of this agency failed inside dtindex".to_string(),
    )
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
