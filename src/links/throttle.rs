//! Fairness: how many requests run at once, overall and per host; how far apart requests
//! to one host start; how a host that says it is overloaded is given room.
//!
//! The servers behind dataset links are agencies' own, often small: a catalog of
//! thousands of links on one host must not become a burst against it. Every request,
//! redirect hops and retries included, passes through [`Throttle::acquire`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The longest interval a host's backoff can reach.
pub const MAX_HOST_INTERVAL: Duration = Duration::from_secs(60);

/// When the next request to a host may start, and how far apart they are for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostSchedule {
    next: Instant,
    interval: Duration,
    base: Duration,
    /// When the interval was last doubled: the answers to requests already in flight
    /// say the same thing again and must not double it once each.
    doubled_at: Option<Instant>,
}

impl HostSchedule {
    pub fn new(base: Duration, now: Instant) -> Self {
        HostSchedule {
            next: now,
            interval: base,
            base,
            doubled_at: None,
        }
    }

    /// Takes the next start slot: the returned instant, and moves the following one on.
    pub fn reserve(&mut self, now: Instant) -> Instant {
        let at = self.next.max(now);
        self.next = at + self.interval;
        at
    }

    /// The host said it is overloaded (429 or 503): double the interval (from at least
    /// `floor`, so a host with no interval gets one) and start nothing before
    /// `retry_after` has passed.
    pub fn back_off(&mut self, now: Instant, floor: Duration, retry_after: Option<Duration>) {
        let recent = self
            .doubled_at
            .is_some_and(|at| now.saturating_duration_since(at) < self.interval);
        if !recent {
            self.interval = (self.interval * 2).max(floor).min(MAX_HOST_INTERVAL);
            self.doubled_at = Some(now);
        }
        let pause = retry_after.unwrap_or(self.interval);
        self.next = self.next.max(now + pause);
    }

    /// The host answered well: halve the interval back towards the configured one.
    pub fn recover(&mut self) {
        if self.interval > self.base {
            self.interval = (self.interval / 2).max(self.base);
            // Below a millisecond over the base, the difference is noise.
            if self.interval.saturating_sub(self.base) < Duration::from_millis(1) {
                self.interval = self.base;
            }
        }
    }

    #[cfg(test)]
    fn interval(&self) -> Duration {
        self.interval
    }
}

pub struct Host {
    permits: Arc<Semaphore>,
    schedule: Mutex<HostSchedule>,
}

impl Host {
    fn schedule(&self) -> std::sync::MutexGuard<'_, HostSchedule> {
        self.schedule.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn back_off(&self, floor: Duration, retry_after: Option<Duration>) {
        self.schedule().back_off(Instant::now(), floor, retry_after);
    }

    pub fn recover(&self) {
        self.schedule().recover();
    }
}

/// Held while one request is in flight; dropping it frees both slots.
pub struct Permit {
    _host: Option<OwnedSemaphorePermit>,
    _global: Option<OwnedSemaphorePermit>,
}

pub struct Throttle {
    global: Arc<Semaphore>,
    per_host: usize,
    interval: Duration,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

impl Throttle {
    pub fn new(global: usize, per_host: usize, interval: Duration) -> Self {
        // A semaphore panics beyond MAX_PERMITS; no configuration needs that many.
        let cap = |n: usize| n.min(Semaphore::MAX_PERMITS);
        Throttle {
            global: Arc::new(Semaphore::new(cap(global))),
            per_host: cap(per_host),
            interval,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// The state of a host, keyed by its name as written in the URL (lowercased by the
    /// URL parser), so `http://` and `https://` on one server share one budget.
    pub fn host(&self, name: &str) -> Arc<Host> {
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        hosts
            .entry(name.to_string())
            .or_insert_with(|| {
                Arc::new(Host {
                    permits: Arc::new(Semaphore::new(self.per_host)),
                    schedule: Mutex::new(HostSchedule::new(self.interval, Instant::now())),
                })
            })
            .clone()
    }

    /// Waits for a slot at `host`, then for one overall.
    ///
    /// The host's slot comes first so that a request waiting for a slow or backed-off
    /// host holds no global permit: the other hosts' links go on meanwhile.
    pub async fn acquire(&self, host: &Host) -> Permit {
        // The semaphores are never closed, so acquiring cannot fail; were it to, the
        // request would go ahead unthrottled rather than not at all.
        let host_permit = host.permits.clone().acquire_owned().await.ok();
        let at = host.schedule().reserve(Instant::now());
        if at > Instant::now() {
            tokio::time::sleep_until(at).await;
        }
        let global = self.global.clone().acquire_owned().await.ok();
        Permit {
            _host: host_permit,
            _global: global,
        }
    }
}

/// A `Retry-After` value (delay seconds or an HTTP date) as a wait from `now`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // A number too large for u64 is still "a very long time": the caller's cap applies.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait before retry number `attempt` (0 for the first): `base` doubled per attempt,
/// scaled by `jitter` in [0, 1] to between half and all of it so that checkers started
/// together do not retry in step, and never more than `cap`.
pub fn retry_delay(base: Duration, attempt: u32, jitter: f64, cap: Duration) -> Duration {
    let full = base.saturating_mul(2u32.saturating_pow(attempt.min(16)));
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0)).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn slots_are_spaced_by_the_interval() {
        let t0 = Instant::now();
        let mut s = HostSchedule::new(100 * MS, t0);
        assert_eq!(s.reserve(t0), t0);
        assert_eq!(s.reserve(t0), t0 + 100 * MS);
        assert_eq!(s.reserve(t0 + 50 * MS), t0 + 200 * MS);
        // After a quiet spell, the next request goes at once.
        assert_eq!(s.reserve(t0 + 1000 * MS), t0 + 1000 * MS);
    }

    #[test]
    fn backoff_doubles_honours_retry_after_and_decays() {
        let t0 = Instant::now();
        let mut s = HostSchedule::new(Duration::ZERO, t0);
        s.back_off(t0, 250 * MS, Some(Duration::from_secs(2)));
        assert_eq!(s.interval(), 250 * MS);
        assert_eq!(s.reserve(t0), t0 + Duration::from_secs(2));
        // The answers of requests that were already in flight do not double it again.
        s.back_off(t0 + 10 * MS, 250 * MS, None);
        assert_eq!(s.interval(), 250 * MS);
        s.back_off(t0 + 300 * MS, 250 * MS, None);
        assert_eq!(s.interval(), 500 * MS);
        let mut t = t0 + 300 * MS;
        for _ in 0..20 {
            t += MAX_HOST_INTERVAL;
            s.back_off(t, 250 * MS, None);
        }
        assert_eq!(s.interval(), MAX_HOST_INTERVAL);
        for _ in 0..40 {
            s.recover();
        }
        assert_eq!(s.interval(), Duration::ZERO);

        let mut s = HostSchedule::new(100 * MS, t0);
        s.back_off(t0, 10 * MS, None);
        assert_eq!(s.reserve(t0), t0 + 200 * MS);
        assert_eq!(s.interval(), 200 * MS);
        s.recover();
        s.recover();
        assert_eq!(s.interval(), 100 * MS);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
    }

    #[test]
    fn retry_delays_grow_exponentially_within_the_cap() {
        let base = 100 * MS;
        let cap = Duration::from_secs(60);
        assert_eq!(retry_delay(base, 0, 1.0, cap), 100 * MS);
        assert_eq!(retry_delay(base, 1, 1.0, cap), 200 * MS);
        assert_eq!(retry_delay(base, 3, 1.0, cap), 800 * MS);
        assert_eq!(retry_delay(base, 3, 0.0, cap), 400 * MS);
        assert_eq!(retry_delay(base, 30, 1.0, cap), cap);
        assert_eq!(retry_delay(base, 2, 7.0, cap), 400 * MS);
    }

    #[tokio::test]
    async fn a_host_never_has_more_than_its_permits_in_flight() {
        let throttle = Throttle::new(10, 2, Duration::ZERO);
        let host = throttle.host("example.gov.vn");
        let a = throttle.acquire(&host).await;
        let _b = throttle.acquire(&host).await;
        let third = tokio::time::timeout(20 * MS, throttle.acquire(&host)).await;
        assert!(
            third.is_err(),
            "a third request started while two were in flight"
        );
        drop(a);
        let third = tokio::time::timeout(Duration::from_secs(1), throttle.acquire(&host)).await;
        assert!(third.is_ok());
        // Another host is not held up by this one.
        let other = throttle.host("other.gov.vn");
        assert!(
            tokio::time::timeout(Duration::from_secs(1), throttle.acquire(&other))
                .await
                .is_ok()
        );
    }
}
