//! The long-running daemon: store, schedule, cycles and the HTTP server, wired together.
//!
//! Shutdown follows one token. When it fires (SIGTERM, Ctrl-C, or a test), the HTTP server
//! stops accepting and finishes the requests it has, the scheduler stops, and a cycle in
//! flight is cancelled and marked abandoned, so the database always holds whole cycles and
//! the next start serves the last finished one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{Live, Settings};
use crate::cycle::{Crawler, CycleError, LinkStage};
use crate::fetch::Fetcher;
use crate::http::{self, AppState};
use crate::links::LinkChecker;
use crate::links::address::AddressGuard;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::schedule::{self, SingleFlight};
use crate::store::{self, Store};

/// How long shutdown waits for a cancelled cycle to record itself as abandoned.
const CYCLE_STOP_GRACE: Duration = Duration::from_secs(10);

/// Opens the store (creating and migrating it) and the metrics restored from it.
pub async fn open_store(
    settings: &Settings,
    method: &crate::score::Method,
) -> anyhow::Result<(Store, Metrics)> {
    let url = settings.database_url.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&url))
        .await?
        .with_context(|| format!("opening the database {}", settings.database_url))?;
    // Alone on its database, a daemon that starts knows no cycle is running; on a shared
    // one, a running cycle is other daemons' work (or, if they died, left to be joined).
    let abandoned = if store.is_shared() {
        0
    } else {
        store.run(store::abandon_unfinished).await?
    };
    if abandoned > 0 {
        tracing::warn!(
            abandoned,
            "cycles left unfinished by a previous run were marked abandoned"
        );
    }
    let metrics = Metrics::new().context("creating the metrics registry")?;
    crate::cycle::publish_latest(&store, &metrics, method).await?;
    Ok((store, metrics))
}

pub fn crawler(
    settings: &Settings,
    live: Live,
    store: Store,
    metrics: Metrics,
) -> anyhow::Result<Crawler> {
    let fetcher = Fetcher::guarded(&settings.crawl, address_guard(settings, &live)?)
        .context("building the HTTP client")?;
    Ok(Crawler {
        live,
        fetcher,
        store,
        metrics,
        concurrency: settings.crawl.concurrency,
        agency_deadline: settings.crawl.agency_deadline,
        links: link_stage(settings)?,
        lease: settings.work_lease,
        owner: crate::cycle::lease_owner(),
    })
}

/// The crawler trusts the hosts of the registry it is running now, reloads included;
/// every other host a catalog or declaration leads it to is held to the link policy.
fn address_guard(settings: &Settings, live: &Live) -> anyhow::Result<AddressGuard> {
    let live = live.clone();
    Ok(AddressGuard {
        policy: settings
            .links
            .policy
            .addresses()
            .context("reading the address policy")?,
        hosts: settings.links.policy.hosts.clone(),
        trusted: std::sync::Arc::new(move |host| live.current().registry.names_host(host)),
    })
}

fn link_stage(settings: &Settings) -> anyhow::Result<Option<LinkStage>> {
    let l = &settings.links;
    if !l.enabled {
        return Ok(None);
    }
    let mut policy = l.policy.clone();
    // The CAs the crawler trusts, the link checker trusts too.
    policy
        .extra_roots_pem
        .extend(settings.crawl.extra_roots_pem.iter().cloned());
    Ok(Some(LinkStage {
        fresh_for: policy.cache_ttl,
        failure_recheck: l.failure_recheck,
        checker: LinkChecker::for_cycles(policy).context("building the link checker")?,
        broken_after_cycles: l.broken_after_cycles,
        deadline: l.deadline,
    }))
}

/// Runs the daemon on `listener` until `shutdown` fires.
pub async fn run(
    settings: Settings,
    registry: Registry,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let method = settings.load_method()?;
    let (store, metrics) = open_store(&settings, &method).await?;
    let live = Live::new(registry, method);
    let crawler = Arc::new(crawler(
        &settings,
        live.clone(),
        store.clone(),
        metrics.clone(),
    )?);
    reload_on_sighup(settings.source.clone(), live.clone(), shutdown.clone());

    let flight = SingleFlight::default();
    let cycles_cancel = shutdown.child_token();
    let answers = Arc::new(http::Answers::default());
    let tick = {
        let (flight, crawler, metrics, cancel, answers) = (
            flight.clone(),
            crawler.clone(),
            metrics.clone(),
            cycles_cancel.clone(),
            answers.clone(),
        );
        move |slot: Option<i64>| -> bool {
            let (crawler, cancel, answers) = (crawler.clone(), cancel.clone(), answers.clone());
            let started = flight.try_spawn(async move {
                match crawler.run_cycle_at(slot, &cancel).await {
                    Ok(report) => tracing::info!(
                        cycle_id = report.cycle_id,
                        agencies = report.agencies,
                        "cycle stored"
                    ),
                    Err(CycleError::Cancelled) => tracing::info!("cycle cancelled by shutdown"),
                    Err(CycleError::AlreadyRan) => {
                        tracing::info!("this tick's cycle was run by another daemon");
                        crawler.publish_from_store().await;
                    }
                    Err(e) => tracing::error!(error = %e, "cycle failed"),
                }
                // Whatever happened, the answers built before may be out of date now.
                answers.invalidate();
            });
            if !started {
                metrics.skipped_ticks.inc();
                tracing::warn!("tick skipped: the previous cycle is still running");
            }
            started
        }
    };
    if settings.schedule.run_at_start {
        tick(None);
    }
    // An operator's "crawl now" is a cycle of no schedule slot, like the one at start.
    let trigger: crate::admin::Trigger = {
        let tick = tick.clone();
        Arc::new(move || tick(None))
    };
    let mut scheduler = schedule::start(&settings.schedule.cron, move |slot| {
        tick(Some(slot));
    })
    .await
    .with_context(|| format!("starting the schedule `{}`", settings.schedule.cron))?;

    let state_probe = store.clone();
    let public = http::router(AppState {
        store,
        metrics,
        live,
        answers,
    });
    let app = crate::admin::app(public, settings.admin_token.clone(), trigger);
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, cron = %settings.schedule.cron, "dtindex serving");
    notify_systemd(&[sd_notify::NotifyState::Ready]);
    let watchdog = tokio::spawn(pet_watchdog(state_probe.clone()));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .context("serving HTTP")?;

    tracing::info!("shutting down");
    notify_systemd(&[sd_notify::NotifyState::Stopping]);
    watchdog.abort();
    if let Err(e) = scheduler.shutdown().await {
        tracing::warn!(error = %e, "scheduler did not stop cleanly");
    }
    cycles_cancel.cancel();
    if tokio::time::timeout(CYCLE_STOP_GRACE, flight.idle())
        .await
        .is_err()
    {
        tracing::warn!("a cycle did not stop in time; the next start marks it abandoned");
    }
    Ok(())
}

/// Tells systemd (under `Type=notify`) how the daemon is doing; a no-op elsewhere.
fn notify_systemd(state: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// Pets systemd's watchdog at half its interval, but only while the database answers: a
/// daemon whose store is wedged stops petting and gets restarted.
async fn pet_watchdog(store: Store) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let mut ticks = tokio::time::interval(interval / 2);
    loop {
        ticks.tick().await;
        match store.run(store::latest_finished_cycle).await {
            Ok(_) => notify_systemd(&[sd_notify::NotifyState::Watchdog]),
            Err(e) => {
                tracing::error!(error = %e, "database check failed; not petting the watchdog")
            }
        }
    }
}

/// Rereads the settings file and its registry on SIGHUP, and swaps them in for the next
/// cycle and the API. A file with errors is reported and the running configuration kept.
fn reload_on_sighup(source: Option<PathBuf>, live: Live, shutdown: CancellationToken) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGHUP; reloading is off");
                return;
            }
        };
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                got = hup.recv() => if got.is_none() { return },
            }
            let Some(path) = &source else {
                tracing::warn!("SIGHUP: running on built-in settings, nothing to reload");
                continue;
            };
            match Settings::load(path).and_then(|s| Ok((s.load_registry()?, s.load_method()?))) {
                Ok((registry, method)) => {
                    tracing::info!(
                        agencies = registry.agencies.len(),
                        "SIGHUP: registry and scoring method reloaded"
                    );
                    live.replace(registry, method);
                }
                Err(e) => tracing::error!(
                    "SIGHUP: configuration not reloaded, the running one is kept:\n{e}"
                ),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (source, live, shutdown);
}

/// Fires `token` on SIGTERM or Ctrl-C.
pub fn cancel_on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot listen for SIGTERM");
                        let _ = ctrl_c.await;
                        token.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("signal received");
        token.cancel();
    });
}
