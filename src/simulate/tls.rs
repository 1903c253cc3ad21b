//! TLS for the simulated federation: a throwaway certificate authority and a loopback
//! server certificate signed by it, made fresh at each start.
//!
//! Some simulated sharing services answer over HTTPS so that the daemon's certificate
//! checks (trust, expiry) run against a real TLS handshake. The daemon is told to trust
//! the simulator's CA (`[crawl] extra_ca_file`); nothing else does.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use super::{Federation, router};

/// The simulator's CA and server certificate, PEM-encoded.
#[derive(Debug, Clone)]
pub struct SimTls {
    /// The CA to trust (for `[crawl] extra_ca_file`).
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    /// When the server certificate expires, as Unix seconds.
    pub not_after: i64,
}

/// Makes a CA and a certificate for `localhost` and 127.0.0.1 valid for `days` days.
pub fn generate(days: i64) -> Result<SimTls, rcgen::Error> {
    generate_for(days, &["localhost", "127.0.0.1"])
}

/// A CA and a certificate for `names`, expiring in `days` days (in the past when
/// negative): the hostile agencies' expired and misnamed certificates.
pub fn generate_for(days: i64, names: &[&str]) -> Result<SimTls, rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "dtindex simulated federation CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate()?;
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "dtindex simulated agency");
    let expires = chrono::Utc::now() + chrono::Duration::days(days);
    let date = expires.date_naive();
    use chrono::Datelike as _;
    params.not_after = rcgen::date_time_ymd(date.year(), date.month() as u8, date.day() as u8);
    let cert = params.signed_by(&key, &issuer)?;
    let not_after = date
        .and_hms_opt(0, 0, 0)
        .map_or(expires.timestamp(), |t| t.and_utc().timestamp());
    Ok(SimTls {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        not_after,
    })
}

/// Serves the federation over HTTPS on `listener` until it closes.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    federation: Arc<Federation>,
    tls: &SimTls,
) -> std::io::Result<()> {
    let config = axum_server::tls_rustls::RustlsConfig::from_pem(
        tls.cert_pem.clone().into_bytes(),
        tls.key_pem.clone().into_bytes(),
    )
    .await?;
    listener.set_nonblocking(true)?;
    axum_server::from_tcp_rustls(listener, config)?
        .serve(router(federation).into_make_service())
        .await
}
