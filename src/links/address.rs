//! Which addresses a link may be checked at: the SSRF rules, as pure functions.
//!
//! Dataset links come from third-party catalogs, so a catalog can name any address at
//! all, including the daemon's own host, its private network or a cloud metadata service.
//! Every address a request could go to, whether written in the URL, resolved from a name
//! or reached by a redirect, is vetted here first.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused: a small fixed set, named in the result's detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    Loopback,
    /// RFC 1918, RFC 6598 shared space (carrier-grade NAT) and IPv6 unique local.
    Private,
    /// 169.254/16 and fe80::/10, where cloud metadata services answer.
    LinkLocal,
    Multicast,
    Unspecified,
    Broadcast,
    /// Documentation, benchmarking, "this network" and reserved ranges: never a real
    /// public server.
    Reserved,
    /// A name that is a cloud metadata service whatever it resolves to.
    MetadataName,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Loopback => "loopback",
            Refusal::Private => "private",
            Refusal::LinkLocal => "link-local",
            Refusal::Multicast => "multicast",
            Refusal::Unspecified => "unspecified",
            Refusal::Broadcast => "broadcast",
            Refusal::Reserved => "reserved",
            Refusal::MetadataName => "cloud metadata",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An IP network in CIDR form (`10.20.0.0/16`, `fd00::/8`, or a bare address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(text: &str) -> Result<Network, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|e| format!("`{addr}` is not an IP address: {e}"))?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`/{p}` is not a prefix length from 0 to {max}"))?,
        };
        Ok(Network { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(
                u128::from(net.to_bits()) << 96,
                u128::from(ip.to_bits()) << 96,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(net.to_bits(), ip.to_bits(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: u128, b: u128, prefix: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    a & mask == b & mask
}

/// What the policy lets through besides public addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    pub allow_loopback: bool,
    pub allow_private: bool,
    /// Networks allowed whatever their kind, e.g. a government WAN where a ministry's
    /// portal sits on a private address. Checked first.
    pub allow_networks: Vec<Network>,
}

impl AddressPolicy {
    /// `Ok` when a request may go to `ip`.
    pub fn vet(&self, ip: IpAddr) -> Result<(), Refusal> {
        // An IPv4-mapped IPv6 address (::ffff:127.0.0.1) reaches the IPv4 host, so it is
        // judged as that host.
        let ip = ip.to_canonical();
        if self.allow_networks.iter().any(|n| n.contains(ip)) {
            return Ok(());
        }
        match kind(ip) {
            None => Ok(()),
            Some(Refusal::Loopback) if self.allow_loopback => Ok(()),
            Some(Refusal::Private) if self.allow_private => Ok(()),
            Some(refusal) => Err(refusal),
        }
    }
}

/// Says whether the operator vouches for a host (a URL's host as `Url::host_str` writes
/// it, lowercase): its requests go wherever it resolves.
pub type TrustedHosts = std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The crawler's address rules. The hosts the operator wrote in the registry are trusted
/// (an LGSP on a private government network is normal); a host that only a third party
/// named, as a redirect's target or a service in an agency's declaration, must resolve to
/// an address `policy` allows.
#[derive(Clone)]
pub struct AddressGuard {
    pub policy: AddressPolicy,
    /// Names resolved to a fixed address instead of through DNS (lowercase).
    pub hosts: std::collections::BTreeMap<String, IpAddr>,
    pub trusted: TrustedHosts,
}

impl AddressGuard {
    /// Every host trusted: for a URL the operator typed (`dtindex inspect`).
    pub fn open() -> AddressGuard {
        AddressGuard {
            policy: AddressPolicy::default(),
            hosts: Default::default(),
            trusted: std::sync::Arc::new(|_| true),
        }
    }

    pub fn trusts(&self, url: &url::Url) -> bool {
        url.host_str()
            .is_some_and(|h| (self.trusted)(h.trim_end_matches('.')))
    }

    /// Why `url` must not be requested, as far as the URL itself tells (an address
    /// written in it, a metadata name); names are vetted again once resolved.
    pub fn refusal(&self, url: &url::Url) -> Option<Refusal> {
        if self.trusts(url) {
            None
        } else {
            vet_url(&self.policy, url).err()
        }
    }
}

impl fmt::Debug for AddressGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddressGuard")
            .field("policy", &self.policy)
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

/// The kind of a non-public address; `None` for a public one.
pub fn kind(ip: IpAddr) -> Option<Refusal> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => kind_v4(v4),
        IpAddr::V6(v6) => kind_v6(v6),
    }
}

fn kind_v4(ip: Ipv4Addr) -> Option<Refusal> {
    let [a, b, c, _] = ip.octets();
    if ip.is_unspecified() {
        // Connecting to 0.0.0.0 reaches the local host on Linux.
        Some(Refusal::Unspecified)
    } else if ip.is_loopback() {
        Some(Refusal::Loopback)
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some(Refusal::Private)
    } else if ip.is_link_local() {
        Some(Refusal::LinkLocal)
    } else if ip.is_multicast() {
        Some(Refusal::Multicast)
    } else if ip.is_broadcast() {
        Some(Refusal::Broadcast)
    } else if a == 0
        || a >= 240
        || (a == 192 && b == 0 && c == 0)
        || ip.is_documentation()
        || (a == 198 && (b == 18 || b == 19))
    {
        Some(Refusal::Reserved)
    } else {
        None
    }
}

fn kind_v6(ip: Ipv6Addr) -> Option<Refusal> {
    let seg = ip.segments();
    if ip.is_unspecified() {
        Some(Refusal::Unspecified)
    } else if ip.is_loopback() {
        Some(Refusal::Loopback)
    } else if seg[0] & 0xfe00 == 0xfc00 || seg[0] & 0xffc0 == 0xfec0 {
        // Unique local, and the deprecated site-local that some stacks still route.
        Some(Refusal::Private)
    } else if seg[0] & 0xffc0 == 0xfe80 {
        Some(Refusal::LinkLocal)
    } else if ip.is_multicast() {
        Some(Refusal::Multicast)
    } else if let Some(v4) = embedded_v4(ip) {
        // NAT64, 6to4 and IPv4-compatible addresses lead to an IPv4 host: judge that one.
        kind_v4(v4)
    } else if seg[0] == 0x2001 && seg[1] == 0x0db8 {
        Some(Refusal::Reserved)
    } else {
        None
    }
}

/// The IPv4 address inside an IPv6 address that translates to one.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let seg = ip.segments();
    let o = ip.octets();
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || seg[..6] == [0; 6] {
        // 64:ff9b::/96 (NAT64) and ::/96 (IPv4-compatible, deprecated).
        Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]))
    } else if seg[0] == 0x2002 {
        // 6to4: 2002:AABB:CCDD::/48.
        Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]))
    } else {
        None
    }
}

/// Names refused before any lookup: cloud metadata services, which some resolvers answer
/// for with a link-local address and others with whatever a split-horizon DNS says.
const METADATA_NAMES: &[&str] = &[
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
];

/// What can be told of `url` without resolving it: an address written in it, a metadata
/// name, `localhost`. A name that resolves to a refused address passes here; the link
/// checker, which resolves names itself, catches those too.
pub fn vet_url(policy: &AddressPolicy, url: &url::Url) -> Result<(), Refusal> {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => policy.vet(ip.into()),
        Some(url::Host::Ipv6(ip)) => policy.vet(ip.into()),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if (name == "localhost" || name.ends_with(".localhost")) && !policy.allow_loopback {
                return Err(Refusal::Loopback);
            }
            vet_name(&name)
        }
        None => Ok(()),
    }
}

pub fn vet_name(name: &str) -> Result<(), Refusal> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if METADATA_NAMES.contains(&name.as_str()) {
        Err(Refusal::MetadataName)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn public_addresses_pass() {
        let strict = AddressPolicy::default();
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "203.162.4.191",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.169.0.1",
            "2001:4860:4860::8888",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(strict.vet(ip(a)), Ok(()), "{a}");
        }
    }

    #[test]
    fn every_non_public_kind_is_refused() {
        let strict = AddressPolicy::default();
        let cases = [
            ("127.0.0.1", Refusal::Loopback),
            ("127.255.255.254", Refusal::Loopback),
            ("::1", Refusal::Loopback),
            ("::ffff:127.0.0.1", Refusal::Loopback),
            ("::ffff:7f00:1", Refusal::Loopback),
            ("10.0.0.1", Refusal::Private),
            ("172.16.0.1", Refusal::Private),
            ("172.31.255.255", Refusal::Private),
            ("192.168.1.1", Refusal::Private),
            ("100.64.0.1", Refusal::Private),
            ("100.127.255.255", Refusal::Private),
            ("fc00::1", Refusal::Private),
            ("fd12:3456::1", Refusal::Private),
            ("fec0::1", Refusal::Private),
            ("::ffff:10.1.2.3", Refusal::Private),
            ("169.254.169.254", Refusal::LinkLocal),
            ("::ffff:169.254.169.254", Refusal::LinkLocal),
            ("fe80::1", Refusal::LinkLocal),
            ("febf::1", Refusal::LinkLocal),
            ("224.0.0.1", Refusal::Multicast),
            ("239.255.255.250", Refusal::Multicast),
            ("ff02::1", Refusal::Multicast),
            ("0.0.0.0", Refusal::Unspecified),
            ("::", Refusal::Unspecified),
            ("::ffff:0.0.0.0", Refusal::Unspecified),
            ("255.255.255.255", Refusal::Broadcast),
            ("0.1.2.3", Refusal::Reserved),
            ("240.0.0.1", Refusal::Reserved),
            ("192.0.0.8", Refusal::Reserved),
            ("192.0.2.1", Refusal::Reserved),
            ("198.18.0.1", Refusal::Reserved),
            ("203.0.113.9", Refusal::Reserved),
            ("2001:db8::1", Refusal::Reserved),
            ("64:ff9b::7f00:1", Refusal::Loopback),
            ("64:ff9b::a9fe:a9fe", Refusal::LinkLocal),
            ("2002:7f00:1::", Refusal::Loopback),
            ("2002:a00:1::1", Refusal::Private),
            ("::7f00:1", Refusal::Loopback),
        ];
        for (a, want) in cases {
            assert_eq!(strict.vet(ip(a)), Err(want), "{a}");
            assert_eq!(kind(ip(a)), Some(want), "{a}");
        }
    }

    #[test]
    fn flags_open_only_their_own_kind() {
        let loopback = AddressPolicy {
            allow_loopback: true,
            ..AddressPolicy::default()
        };
        assert_eq!(loopback.vet(ip("127.0.0.1")), Ok(()));
        assert_eq!(loopback.vet(ip("::1")), Ok(()));
        assert_eq!(loopback.vet(ip("::ffff:127.0.0.1")), Ok(()));
        assert_eq!(loopback.vet(ip("10.0.0.1")), Err(Refusal::Private));
        assert_eq!(loopback.vet(ip("169.254.169.254")), Err(Refusal::LinkLocal));
        assert_eq!(loopback.vet(ip("0.0.0.0")), Err(Refusal::Unspecified));

        let private = AddressPolicy {
            allow_private: true,
            ..AddressPolicy::default()
        };
        assert_eq!(private.vet(ip("10.0.0.1")), Ok(()));
        assert_eq!(private.vet(ip("100.64.0.1")), Ok(()));
        assert_eq!(private.vet(ip("fd00::1")), Ok(()));
        assert_eq!(private.vet(ip("127.0.0.1")), Err(Refusal::Loopback));
        // The metadata service stays refused even on a private network.
        assert_eq!(private.vet(ip("169.254.169.254")), Err(Refusal::LinkLocal));
    }

    #[test]
    fn allowed_networks_open_exactly_their_range() {
        let policy = AddressPolicy {
            allow_networks: vec![
                Network::parse("127.0.0.1/32").unwrap(),
                Network::parse("10.20.0.0/16").unwrap(),
                Network::parse("fd00:1::/32").unwrap(),
            ],
            ..AddressPolicy::default()
        };
        assert_eq!(policy.vet(ip("127.0.0.1")), Ok(()));
        assert_eq!(policy.vet(ip("::ffff:127.0.0.1")), Ok(()));
        assert_eq!(policy.vet(ip("127.0.0.2")), Err(Refusal::Loopback));
        assert_eq!(policy.vet(ip("10.20.255.1")), Ok(()));
        assert_eq!(policy.vet(ip("10.21.0.1")), Err(Refusal::Private));
        assert_eq!(policy.vet(ip("fd00:1:ffff::1")), Ok(()));
        assert_eq!(policy.vet(ip("fd00:2::1")), Err(Refusal::Private));
        assert_eq!(policy.vet(ip("8.8.8.8")), Ok(()));
    }

    #[test]
    fn networks_parse_or_say_why_not() {
        assert!(Network::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(!Network::parse("0.0.0.0/0").unwrap().contains(ip("::1")));
        assert!(Network::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        assert!(
            Network::parse("192.168.0.0/24")
                .unwrap()
                .contains(ip("192.168.0.77"))
        );
        assert!(
            Network::parse("10.0.0.0/33")
                .unwrap_err()
                .contains("prefix")
        );
        assert!(
            Network::parse("10.0.0/8")
                .unwrap_err()
                .contains("not an IP")
        );
        assert!(Network::parse("fd00::/129").is_err());
        assert!(Network::parse("10.0.0.0/x").is_err());
    }

    #[test]
    fn metadata_names_are_refused_in_any_spelling() {
        for n in [
            "metadata.google.internal",
            "METADATA.google.internal.",
            "metadata",
            "instance-data.ec2.internal",
        ] {
            assert_eq!(vet_name(n), Err(Refusal::MetadataName), "{n}");
        }
        assert_eq!(vet_name("data.gov.vn"), Ok(()));
        assert_eq!(vet_name("metadata.gov.vn"), Ok(()));
    }
}
