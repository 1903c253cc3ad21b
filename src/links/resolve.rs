//! Name resolution that only ever hands out vetted addresses, pinned for the cache's TTL.
//!
//! The checker resolves a link's host itself, before any request, to tell "does not
//! resolve" from "resolves to a private address". The HTTP client is then given this same
//! resolver ([`PinnedResolver`], through `ClientBuilder::dns_resolver`), so the addresses
//! it connects to are exactly the ones that were vetted and cached: a DNS server that
//! answers a public address to the check and a private one to the connection (DNS
//! rebinding) is never asked twice. It is the same mechanism as `ClientBuilder::resolve`
//! (an override consulted at connect time) but for every host, on demand, with one
//! client and one connection pool. Only the address is chosen here: the URL keeps its
//! name, so the Host header and the TLS server name (SNI, certificate check) use it.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use super::LinkClass;
use super::address::{AddressPolicy, vet_name};
use super::classify::ResolveError;
use crate::memo::Memo;

pub type Resolved = Result<Arc<[IpAddr]>, ResolveError>;

pub struct Dns {
    policy: AddressPolicy,
    memo: Memo<String, Resolved>,
    timeout: Duration,
    /// Names answered from the configuration instead of the system resolver (lowercase).
    hosts: BTreeMap<String, IpAddr>,
}

impl Dns {
    pub fn new(
        policy: AddressPolicy,
        ttl: Duration,
        timeout: Duration,
        hosts: &BTreeMap<String, IpAddr>,
    ) -> Self {
        Dns {
            policy,
            // A failed lookup is asked again: it may be the minute the link fails in.
            memo: Memo::keeping(ttl, Result::is_ok),
            timeout,
            hosts: hosts
                .iter()
                .map(|(name, ip)| (name.to_ascii_lowercase(), *ip))
                .collect(),
        }
    }

    pub fn policy(&self) -> &AddressPolicy {
        &self.policy
    }

    /// The vetted addresses of `name` (a domain, not an IP literal).
    pub async fn lookup(&self, name: &str) -> Resolved {
        let key = name.to_ascii_lowercase();
        self.memo.get_or_run(&key, || self.resolve(name)).await.0
    }

    pub fn purge_expired(&self) {
        self.memo.purge_expired();
    }

    async fn resolve(&self, name: &str) -> Resolved {
        if let Err(refusal) = vet_name(name) {
            return Err(ResolveError {
                class: LinkClass::Blocked,
                detail: format!("{name} is refused by name ({refusal})"),
            });
        }
        let addrs = self.addresses_of(name).await?;
        // A name with both public and refused addresses is pinned to its public ones
        // only: the request can never go to the others.
        let mut refused = Vec::new();
        let mut allowed = Vec::new();
        for ip in addrs {
            match self.policy.vet(ip) {
                Ok(()) => {
                    if !allowed.contains(&ip) {
                        allowed.push(ip);
                    }
                }
                Err(refusal) => refused.push(format!("{ip} ({refusal})")),
            }
        }
        if allowed.is_empty() {
            refused.dedup();
            return Err(ResolveError {
                class: LinkClass::Blocked,
                detail: format!(
                    "{name} resolves only to addresses the policy refuses: {}",
                    refused.join(", ")
                ),
            });
        }
        Ok(allowed.into())
    }

    /// Every address of `name`, unvetted: from the configuration, else the system
    /// resolver (getaddrinfo, on the blocking pool), which follows /etc/hosts and nsswitch
    /// like every other program on the host.
    async fn addresses_of(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let dns_error = |detail: String| ResolveError {
            class: LinkClass::Dns,
            detail,
        };
        let found = match self.hosts.get(&name.to_ascii_lowercase()) {
            Some(ip) => Ok(Ok(vec![SocketAddr::new(*ip, 0)].into_iter())),
            None => tokio::time::timeout(self.timeout, tokio::net::lookup_host((name, 0)))
                .await
                .map(|r| r.map(|a| a.collect::<Vec<_>>().into_iter())),
        };
        let addrs: Vec<IpAddr> = match found {
            Err(_) => return Err(dns_error(format!("{name} did not resolve in time"))),
            Ok(Err(e)) => return Err(dns_error(format!("{name} does not resolve: {e}"))),
            Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
        };
        if addrs.is_empty() {
            return Err(dns_error(format!("{name} has no address")));
        }
        Ok(addrs)
    }
}

fn to_addrs(ips: &[IpAddr]) -> reqwest::dns::Addrs {
    // Port 0: the client puts in the URL's port (or the scheme's).
    let addrs: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect();
    Box::new(addrs.into_iter())
}

/// The HTTP client's resolver: the checker's vetted, cached answers.
pub struct PinnedResolver(pub Arc<Dns>);

impl reqwest::dns::Resolve for PinnedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let dns = self.0.clone();
        let name = name.as_str().to_string();
        Box::pin(async move {
            let ips = dns.lookup(&name).await?;
            Ok(to_addrs(&ips))
        })
    }
}

/// The crawler's resolver (catalogs, services, declarations). A name the operator wrote
/// in the registry resolves as the system says, since a ministry's LGSP may well sit on
/// a private government network. Any other name, one that a redirect or an agency's own
/// document led to, resolves only to the addresses the policy allows, pinned like the
/// link checker's, so that a catalog cannot send the crawler to a metadata service or an
/// intranet by naming it.
pub struct GuardedResolver {
    pub dns: Arc<Dns>,
    pub trusted: super::address::TrustedHosts,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let dns = self.dns.clone();
        let trusted = (self.trusted)(name.as_str());
        let name = name.as_str().to_string();
        Box::pin(async move {
            let ips = if trusted {
                dns.addresses_of(&name).await?
            } else {
                dns.lookup(&name).await?.to_vec()
            };
            Ok(to_addrs(&ips))
        })
    }
}
