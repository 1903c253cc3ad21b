//! Probing: does each data-sharing service answer, and how fast.
//!
//! A probe is a GET that waits for the headers and then drops the connection: a sharing
//! service's body can be large, and its status and latency are what is measured.

use crate::fetch::Fetcher;
use crate::observation::ProbeObservation;
use crate::registry::ServiceEndpoint;

pub async fn probe(fetcher: &Fetcher, service: &ServiceEndpoint) -> ProbeObservation {
    let started = std::time::Instant::now();
    let (http_status, failure, latency) = match fetcher.head_of(&service.url).await {
        Ok((response, latency)) => (Some(response.status().as_u16()), None, latency),
        Err((failure, status)) => (status, Some(failure), started.elapsed()),
    };
    ProbeObservation {
        url: service.url.to_string(),
        platform: service.platform.clone(),
        http_status,
        latency_ms: latency.as_millis() as u64,
        failure,
    }
}
