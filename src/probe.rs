//! Probing: does each data-sharing service answer, how fast, and until when its TLS
//! certificate is valid.
//!
//! A probe is a GET that waits for the headers and then drops the connection: a sharing
//! service's body can be large, and its status and latency are what is measured.

use crate::fetch::Fetcher;
use crate::observation::ProbeObservation;
use crate::registry::ServiceEndpoint;

pub async fn probe(fetcher: &Fetcher, service: &ServiceEndpoint) -> ProbeObservation {
    let started = std::time::Instant::now();
    let (http_status, failure, latency, tls_expires_at) = match fetcher.head_of(&service.url).await
    {
        Ok((response, latency)) => {
            let expiry = response
                .extensions()
                .get::<reqwest::tls::TlsInfo>()
                .and_then(|info| info.peer_certificate())
                .and_then(certificate_expiry);
            (Some(response.status().as_u16()), None, latency, expiry)
        }
        Err((failure, status)) => (status, Some(failure), started.elapsed(), None),
    };
    ProbeObservation {
        url: service.url.to_string(),
        platform: service.platform.clone(),
        http_status,
        latency_ms: latency.as_millis() as u64,
        failure,
        tls_expires_at,
    }
}

/// The `notAfter` of a DER certificate, as Unix seconds.
pub fn certificate_expiry(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_read_from_the_certificate() {
        let tls = crate::simulate::tls::generate(30).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(tls.cert_pem.as_bytes()).unwrap();
        assert_eq!(certificate_expiry(&pem.contents), Some(tls.not_after));
        let in_30_days = chrono::Utc::now().timestamp() + 30 * 86400;
        assert!((tls.not_after - in_30_days).abs() < 86400 * 2);
        assert_eq!(certificate_expiry(b"not a certificate"), None);
    }
}
