//! Which network addresses a call made on behalf of a workspace (a flow's webhook step) may reach.
//!
//! Workspace users choose webhook URLs, so without a guard they could make the server call its own loopback
//! services, the cloud metadata endpoint (169.254.169.254) or the private network it runs in (SSRF). The
//! guarded [`crate::HttpClient`] resolves a host name itself, refuses it when ANY of its addresses is internal
//! (loopback, private, link-local, CGNAT, unspecified, broadcast, multicast, reserved, and the IPv6 forms that
//! embed such an IPv4 address) and connects to exactly the addresses it checked, so a second lookup cannot
//! answer differently (DNS rebinding). Redirects are never followed. An operator who needs an internal
//! address lists it, or its network, in `[network] outbound_allow`.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;

use crate::ConfigError;

/// What a refusal tells the workspace user.
const HINT: &str = ": webhooks may only call public addresses unless the server's [network] outbound_allow lists it";

/// A refused destination; the message names the address and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// A network (address and prefix length) of the allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `10.0.0.0/8`, `127.0.0.1` (one address), `fd00::/8`, `::1` or `[::1]`.
    fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { net: canonical(net), prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the IPv4 address it maps.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn v4_internal(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_private() => "a private address",
        _ if ip.is_link_local() => "a link-local address",
        (0, _, _) => "an unspecified address",
        (100, 64..=127, _) => "a shared (CGNAT) address",
        (192, 0, 0) => "an IETF protocol address",
        (198, 18..=19, _) => "a benchmarking address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        _ if ip.is_broadcast() => "the broadcast address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved address",
        _ => return None,
    })
}

/// Why `ip` is internal (not a public Internet address), or `None`.
pub fn internal_reason(ip: IpAddr) -> Option<&'static str> {
    let v6 = match canonical(ip) {
        IpAddr::V4(v4) => return v4_internal(v4),
        IpAddr::V6(v6) => v6,
    };
    let segments = v6.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    Some(match segments {
        _ if v6.is_loopback() => "a loopback address",
        _ if v6.is_unspecified() => "an unspecified address",
        [s, ..] if s & 0xfe00 == 0xfc00 => "a private (unique local) address",
        [s, ..] if s & 0xffc0 == 0xfe80 => "a link-local address",
        [s, ..] if s & 0xffc0 == 0xfec0 => "a site-local address",
        [s, ..] if s & 0xff00 == 0xff00 => "a multicast address",
        [0x2001, 0x0db8, ..] => "a documentation address",
        // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::) reach an IPv4 host.
        [0, 0, 0, 0, 0, 0, hi, lo] | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => {
            return v4_internal(embedded_v4(hi, lo));
        }
        [0x2002, hi, lo, ..] => return v4_internal(embedded_v4(hi, lo)),
        _ => return None,
    })
}

/// Where workspace-defined calls may go: public addresses, plus what the operator allows.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    allow: Vec<Cidr>,
    /// Operator-configured calls (the SMS provider, Telegram): not checked.
    unrestricted: bool,
}

impl OutboundPolicy {
    /// Public addresses plus the listed addresses and networks (`127.0.0.1`, `10.0.0.0/8`, `fd00::/8`).
    pub fn new<S: AsRef<str>>(allow: &[S]) -> Result<OutboundPolicy, ConfigError> {
        let allow = allow
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Cidr::parse(s.as_ref()).ok_or_else(|| {
                    ConfigError::new(
                        "outbound_allow",
                        format!("entry {i} ({:?}) is not an IP address or network like 10.0.0.0/8", s.as_ref()),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(OutboundPolicy { allow, unrestricted: false })
    }

    /// Everything allowed: for destinations the operator configured.
    pub fn unrestricted() -> OutboundPolicy {
        OutboundPolicy { allow: Vec::new(), unrestricted: true }
    }

    pub fn is_unrestricted(&self) -> bool {
        self.unrestricted
    }

    /// Why a call may not connect to `ip` (`a loopback address`), or `None` when it may.
    fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        if self.unrestricted || self.allow.iter().any(|c| c.contains(ip)) {
            return None;
        }
        internal_reason(ip)
    }

    /// Whether a call may connect to `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        match self.refusal(ip) {
            Some(why) => Err(Refused(format!("{ip} is {why}{HINT}"))),
            None => Ok(()),
        }
    }

    /// Checks what can be checked without a DNS lookup: an IP literal host, or `localhost` (which always
    /// means loopback, RFC 6761). Other names are checked when they are resolved, at each call.
    pub fn check_url(&self, url: &str) -> Result<(), Refused> {
        let Ok(uri) = url.parse::<hyper::Uri>() else { return Ok(()) };
        let Some(host) = uri.host() else { return Ok(()) };
        let host = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.check(ip);
        }
        let loopback = [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)];
        if (host == "localhost" || host.ends_with(".localhost"))
            && loopback.iter().any(|ip| self.refusal(*ip).is_some())
        {
            return Err(Refused(format!("{host} is a loopback name{HINT}")));
        }
        Ok(())
    }
}

/// Resolves host names for [`crate::HttpClient`] and refuses a name when any of its addresses is refused by
/// the policy; the connector then connects to exactly the addresses answered here.
#[derive(Clone, Debug)]
pub(crate) struct GuardedResolver {
    pub(crate) policy: Arc<OutboundPolicy>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            for a in &addrs {
                if let Some(why) = policy.refusal(a.ip()) {
                    return Err(Refused(format!("{} resolves to {}, {why}{HINT}", name.as_str(), a.ip())).into());
                }
            }
            Ok(addrs.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_refused_by_default() {
        let p = OutboundPolicy::default();
        for bad in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
        ] {
            assert!(p.check(ip(bad)).is_err(), "{bad}");
        }
        for good in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(p.check(ip(good)).is_ok(), "{good}");
        }
    }

    #[test]
    fn the_allow_list_takes_addresses_and_networks() {
        let p = OutboundPolicy::new(&["127.0.0.1", "10.0.0.0/8", "[::1]", "fd00::/8"]).unwrap();
        for ok in ["127.0.0.1", "::ffff:127.0.0.1", "10.200.3.4", "::1", "fd00::5"] {
            assert!(p.check(ip(ok)).is_ok(), "{ok}");
        }
        for bad in ["127.0.0.2", "169.254.169.254", "fc00::1"] {
            assert!(p.check(ip(bad)).is_err(), "{bad}");
        }
        for bad in ["10.0.0.0/33", "localhost", "10.0.0/8", ""] {
            let err = OutboundPolicy::new(&[bad]).unwrap_err();
            assert_eq!(err.field, "outbound_allow", "{bad}");
        }
        assert!(OutboundPolicy::unrestricted().check(ip("127.0.0.1")).is_ok());
    }

    #[test]
    fn urls_with_literal_internal_hosts_are_refused_without_dns() {
        let p = OutboundPolicy::default();
        for bad in [
            "http://127.0.0.1:8080/x",
            "http://[::1]/x",
            "http://169.254.169.254/latest/meta-data/",
            "https://LOCALHOST/a",
            "http://localhost./a",
            "http://api.localhost/a",
            "http://[::ffff:10.0.0.1]/",
        ] {
            assert!(p.check_url(bad).is_err(), "{bad}");
        }
        for ok in ["https://hooks.example.com/a", "http://93.184.216.34/", "not a url"] {
            assert!(p.check_url(ok).is_ok(), "{ok}");
        }
        let allowed = OutboundPolicy::new(&["127.0.0.1", "::1"]).unwrap();
        assert!(allowed.check_url("http://localhost:9/x").is_ok());
        assert!(allowed.check_url("http://127.0.0.1:9/x").is_ok());
    }
}
