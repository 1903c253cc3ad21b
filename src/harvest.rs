//! Harvesting: fetch an agency's catalog and read it into datasets.
//!
//! The fetch is I/O; the reading is [`crate::catalog`]'s pure parser run on a blocking
//! thread (a large catalog is CPU work that must not stall the async workers). The result
//! is always a [`CatalogObservation`], whatever the server sent: failures are outcomes
//! for scoring, not errors for the caller.

use std::time::Instant;

use crate::catalog::{self, CatalogError};
use crate::fetch::Fetcher;
use crate::observation::{CatalogObservation, CatalogOutcome, Failure, FailureClass};
use crate::registry::{CatalogEndpoint, CatalogFormat};
use crate::score::CompletenessTally;

/// Fetches and reads one catalog.
pub async fn harvest(fetcher: &Fetcher, endpoint: &CatalogEndpoint) -> CatalogObservation {
    let started = Instant::now();
    let mut obs = CatalogObservation {
        url: Some(endpoint.url.to_string()),
        ..CatalogObservation::default()
    };
    match fetcher.get(&endpoint.url).await {
        Err((failure, status)) => {
            obs.http_status = status;
            obs.outcome = CatalogOutcome::FetchFailed(failure);
        }
        Ok(fetched) => {
            obs.http_status = Some(fetched.status.as_u16());
            obs.bytes = fetched.body.len() as u64;
            let format = endpoint.format;
            let content_type = fetched.content_type;
            let body = fetched.body;
            let read = tokio::task::spawn_blocking(move || {
                read_catalog(format, content_type.as_deref(), &body)
            })
            .await;
            match read {
                Ok(read) => {
                    obs.datasets = read.datasets;
                    obs.tally = read.tally;
                    obs.outcome = match read.error {
                        None => CatalogOutcome::Parsed,
                        Some(message) => CatalogOutcome::ParseFailed(message),
                    };
                }
                Err(join) => {
                    obs.outcome = CatalogOutcome::FetchFailed(Failure {
                        class: FailureClass::Deadline,
                        message: format!("reading the catalog failed inside dtindex: {join}"),
                    });
                }
            }
        }
    }
    obs.duration_ms = started.elapsed().as_millis() as u64;
    obs
}

/// What reading a body gave: the datasets seen (even if the document broke off later) and
/// the reason it could not be read to the end, if any.
#[derive(Debug, Default)]
pub struct Read {
    pub datasets: usize,
    pub tally: CompletenessTally,
    pub error: Option<String>,
}

/// Reads a catalog body in the given format. Pure: bytes in, tally out.
pub fn read_catalog(format: CatalogFormat, content_type: Option<&str>, body: &[u8]) -> Read {
    let mut read = Read::default();
    if let Some(problem) = sniff_non_json(format, content_type, body) {
        read.error = Some(problem);
        return read;
    }
    let mut tally = CompletenessTally::default();
    let mut datasets = 0;
    let result = catalog::parse_datajson(body, |d| {
        datasets += 1;
        tally.add(&d);
    });
    read.datasets = datasets;
    read.tally = tally;
    read.error = match result {
        Ok(_) => None,
        Err(e @ CatalogError::Truncated { .. }) | Err(e @ CatalogError::Syntax { .. })
            if datasets > 0 =>
        {
            Some(format!("{e} (after {datasets} readable datasets)"))
        }
        Err(e) => Some(e.to_string()),
    };
    read
}

/// Names the common case of a server answering a catalog URL with an HTML page.
fn sniff_non_json(
    format: CatalogFormat,
    content_type: Option<&str>,
    body: &[u8],
) -> Option<String> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    match (format, first) {
        (_, None) => Some("the body is empty".to_string()),
        (_, Some(b'<')) => Some(format!(
            "the server sent markup (Content-Type {}) where a JSON catalog was expected; an HTML page is not a catalog",
            content_type.unwrap_or("not given")
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_with_200_is_named_as_such() {
        let r = read_catalog(
            CatalogFormat::Auto,
            Some("text/html"),
            b"\n<html><body>Portal</body></html>",
        );
        assert!(r.error.unwrap().contains("text/html"));
        assert_eq!(r.datasets, 0);
    }

    #[test]
    fn datasets_before_a_break_are_kept_and_the_break_reported() {
        let r = read_catalog(
            CatalogFormat::DataJson,
            None,
            br#"{"dataset":[{"title":"a"},{"title":"b"},{"tit"#,
        );
        assert_eq!(r.datasets, 2);
        assert_eq!(r.tally.datasets, 2);
        assert!(r.error.unwrap().contains("after 2 readable datasets"));
    }

    #[test]
    fn an_empty_body_is_not_a_catalog() {
        assert_eq!(
            read_catalog(CatalogFormat::Auto, None, b"  ")
                .error
                .as_deref(),
            Some("the body is empty")
        );
    }
}
