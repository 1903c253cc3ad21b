//! The schedule: a cycle at start, then one per cron tick, never two at once.
//!
//! tokio-cron-scheduler spawns each tick's callback without waiting for the previous one,
//! so on its own a slow cycle would overlap the next. [`SingleFlight`] sits between the
//! two: a tick that finds a cycle running is skipped (and counted), never queued.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

/// Checks a cron expression the way the scheduler will read it (six fields, UTC).
pub fn validate_cron(expr: &str) -> Result<(), String> {
    Job::new_async(expr, |_, _| Box::pin(async {}))
        .map(|_| ())
        .map_err(|e| match e {
            JobSchedulerError::ParseSchedule => "it does not parse".to_string(),
            other => other.to_string(),
        })
}

/// Runs at most one task at a time; a start while one runs is refused.
#[derive(Clone, Default)]
pub struct SingleFlight {
    running: Arc<Mutex<()>>,
}

impl SingleFlight {
    /// Spawns `task` unless one is running; returns whether it was spawned.
    pub fn try_spawn<F>(&self, task: F) -> bool
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match self.running.clone().try_lock_owned() {
            Ok(guard) => {
                tokio::spawn(async move {
                    let _guard = guard;
                    task.await;
                });
                true
            }
            Err(_) => false,
        }
    }

    /// Waits until no task runs.
    pub async fn idle(&self) {
        let _guard = self.running.lock().await;
    }
}

/// Starts the cron scheduler, calling `tick` on every firing (in UTC) with the firing's
/// slot: the second it was due, in Unix seconds. Daemons sharing a database agree on a
/// cycle by its slot; the scheduler fires a little after the second it is due (it checks
/// twice a second), so the second it fires in is the one it was due in.
pub async fn start<F>(cron: &str, tick: F) -> Result<JobScheduler, JobSchedulerError>
where
    F: Fn(i64) + Send + Sync + 'static,
{
    let tick = Arc::new(tick);
    let scheduler = JobScheduler::new().await?;
    let job = Job::new_async(cron, move |_, _| {
        let tick = tick.clone();
        Box::pin(async move { tick(chrono::Utc::now().timestamp()) })
    })?;
    scheduler.add(job).await?;
    scheduler.start().await?;
    Ok(scheduler)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::oneshot;

    #[test]
    fn cron_needs_six_fields() {
        assert!(validate_cron("0 */5 * * * *").is_ok());
        assert!(validate_cron("*/5 * * * *").is_err());
        assert!(validate_cron("every day").is_err());
    }

    #[tokio::test]
    async fn a_start_while_running_is_refused_then_allowed_again() {
        let flight = SingleFlight::default();
        let (release, wait) = oneshot::channel::<()>();
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        assert!(flight.try_spawn(async move {
            let _ = wait.await;
            r.fetch_add(1, Ordering::SeqCst);
        }));
        let r = runs.clone();
        assert!(!flight.try_spawn(async move {
            r.fetch_add(100, Ordering::SeqCst);
        }));
        release.send(()).unwrap();
        flight.idle().await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let r = runs.clone();
        assert!(flight.try_spawn(async move {
            r.fetch_add(1, Ordering::SeqCst);
        }));
        // The lock is taken before try_spawn returns, so idle() waits for this run too.
        flight.idle().await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_scheduler_fires_in_utc() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut scheduler = start("* * * * * *", move |slot| {
            let _ = tx.send((chrono::Utc::now(), slot));
        })
        .await
        .unwrap();
        let fired = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await;
        scheduler.shutdown().await.unwrap();
        let Ok(Some((at, slot))) = fired else {
            panic!("the every-second job never fired");
        };
        // The slot is the second it fired in (not one it is late into).
        assert!(
            slot <= at.timestamp() && at.timestamp() - slot <= 1,
            "{slot} {at}"
        );
    }
}
