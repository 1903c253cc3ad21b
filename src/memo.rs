//! A map of answers that expire, where concurrent askers of the same key share one run.
//!
//! Used for link results (a URL listed by ten datasets is requested once), for name
//! resolutions (a host with a hundred thousand links is resolved once) and for the API's
//! answers (built once per finished cycle, `http::answers`).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

/// How an answer was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// This caller ran the work.
    Fresh,
    /// A finished answer younger than the TTL was reused.
    Cached,
    /// Another caller was already running the work; its answer was shared.
    Coalesced,
}

type Cell<V> = Arc<OnceCell<(Instant, V)>>;

pub struct Memo<K, V> {
    map: Mutex<HashMap<K, Cell<V>>>,
    /// The map's length as of its last change, so [`Memo::len`] (asked by the API on every
    /// request) does not take the lock the askers contend for.
    held: AtomicUsize,
    ttl: Duration,
    /// When the map was last purged: a purge walks every entry under the lock, so it runs
    /// at most once per half TTL however often it is asked for (once per agency).
    purged: Mutex<Option<Instant>>,
    /// Which finished answers are reused; the others are shared only with the askers
    /// that came while they were being computed.
    keep: fn(&V) -> bool,
}

impl<K, V> std::fmt::Debug for Memo<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo")
            .field("held", &self.held.load(Ordering::Relaxed))
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Memo<K, V> {
    /// A memo that reuses only the answers `keep` accepts: a failure must be seen again,
    /// cycle after cycle, before it counts as lasting.
    pub fn keeping(ttl: Duration, keep: fn(&V) -> bool) -> Self {
        Memo {
            map: Mutex::new(HashMap::new()),
            held: AtomicUsize::new(0),
            ttl,
            purged: Mutex::new(None),
            keep,
        }
    }

    fn fresh(&self, cell: &Cell<V>) -> bool {
        cell.get()
            .is_none_or(|(at, v)| at.elapsed() < self.ttl && (self.keep)(v))
    }

    /// The answer for `key`: a fresh cached one, the one being computed, or `run`'s.
    ///
    /// If the caller running the work is dropped half-way, the next waiter runs it again
    /// (that is how `OnceCell` behaves), so a cancelled check never leaves a key stuck.
    pub async fn get_or_run<F, Fut>(&self, key: &K, run: F) -> (V, Served)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let cell = {
            let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            match map.get(key) {
                Some(cell) if self.fresh(cell) => cell.clone(),
                _ => {
                    let cell: Cell<V> = Arc::new(OnceCell::new());
                    map.insert(key.clone(), cell.clone());
                    self.held.store(map.len(), Ordering::Relaxed);
                    cell
                }
            }
        };
        if let Some((_, v)) = cell.get() {
            return (v.clone(), Served::Cached);
        }
        let mut ran = false;
        let (_, v) = cell
            .get_or_init(|| {
                ran = true;
                let work = run();
                async move {
                    let v = work.await;
                    (Instant::now(), v)
                }
            })
            .await;
        let served = if ran {
            Served::Fresh
        } else {
            Served::Coalesced
        };
        (v.clone(), served)
    }

    /// Keys held, expired ones included until the next purge.
    pub fn len(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets answers older than the TTL, so the map does not grow without end; a no-op
    /// when the last purge was less than half a TTL ago.
    pub fn purge_expired(&self) {
        {
            let mut purged = self.purged.lock().unwrap_or_else(PoisonError::into_inner);
            if purged.is_some_and(|at| at.elapsed() < self.ttl / 2) {
                return;
            }
            *purged = Some(Instant::now());
        }
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, cell| self.fresh(cell));
        self.held.store(map.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn concurrent_askers_share_one_run_and_later_ones_hit_the_cache() {
        let memo: Memo<&str, u32> = Memo::keeping(Duration::from_secs(60), |_| true);
        let runs = AtomicU32::new(0);
        let work = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            7
        };
        let (a, b) = tokio::join!(memo.get_or_run(&"k", work), memo.get_or_run(&"k", work));
        assert_eq!((a.0, b.0), (7, 7));
        let mut how = [a.1, b.1];
        how.sort_by_key(|s| *s as u8);
        assert_eq!(how, [Served::Fresh, Served::Coalesced]);
        assert_eq!(memo.get_or_run(&"k", work).await, (7, Served::Cached));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn answers_not_kept_are_asked_again() {
        let memo: Memo<u8, Result<u8, u8>> = Memo::keeping(Duration::from_secs(60), Result::is_ok);
        assert_eq!(
            memo.get_or_run(&1, || async { Err(1) }).await,
            (Err(1), Served::Fresh)
        );
        assert_eq!(
            memo.get_or_run(&1, || async { Ok(2) }).await,
            (Ok(2), Served::Fresh)
        );
        assert_eq!(
            memo.get_or_run(&1, || async { Ok(3) }).await,
            (Ok(2), Served::Cached)
        );
    }

    #[tokio::test]
    async fn expired_answers_are_recomputed_and_purged() {
        let memo: Memo<u8, u8> = Memo::keeping(Duration::ZERO, |_| true);
        assert_eq!(
            memo.get_or_run(&1, || async { 1 }).await,
            (1, Served::Fresh)
        );
        assert_eq!(
            memo.get_or_run(&1, || async { 2 }).await,
            (2, Served::Fresh)
        );
        memo.purge_expired();
        assert!(memo.map.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_purge_soon_after_another_is_skipped() {
        let memo: Memo<u8, u8> = Memo::keeping(Duration::from_secs(3600), |_| true);
        memo.purge_expired();
        memo.get_or_run(&1, || async { 1 }).await;
        // Expire the entry by hand: only a purge that runs would drop it.
        memo.map.lock().unwrap().insert(
            2,
            Arc::new(OnceCell::new_with(Some((
                Instant::now() - Duration::from_secs(7200),
                2,
            )))),
        );
        memo.purge_expired();
        assert_eq!(
            memo.map.lock().unwrap().len(),
            2,
            "skipped: within half a TTL of the last"
        );
        *memo.purged.lock().unwrap() = Some(Instant::now() - Duration::from_secs(1801));
        memo.purge_expired();
        assert_eq!(
            memo.map.lock().unwrap().len(),
            1,
            "ran: the expired entry is gone"
        );
    }

    #[tokio::test]
    async fn the_count_follows_inserts_and_purges() {
        let memo: Memo<u8, u8> = Memo::keeping(Duration::ZERO, |_| true);
        assert!(memo.is_empty());
        memo.get_or_run(&1, || async { 1 }).await;
        memo.get_or_run(&2, || async { 2 }).await;
        // Expired, so built again: the key is replaced, not added.
        memo.get_or_run(&2, || async { 3 }).await;
        assert_eq!(memo.len(), 2);
        memo.purge_expired();
        assert_eq!(memo.len(), 0);
    }
}
