//! The front door (`[proxy]`): which peers are reverse proxies whose forwarding header is
//! believed, as addresses or CIDR ranges, and which header they write.
//!
//! Parsed strictly, so that a setting that would trust more (or less) than the operator
//! meant stops the start instead: a range with host bits set (`10.0.0.1/8`: did they
//! mean the one proxy or the network?), a prefix longer than the address, `/0` (every
//! client would then choose its own address), anything that is not an address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::raw::ProxyHeader;

/// An address or a CIDR range of addresses; one address is a range of one. IPv4-mapped
/// IPv6 ranges (`::ffff:10.0.0.0/104`) are kept as the IPv4 range they name, since the
/// peer's address is compared in its IPv4 form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProxyRange {
    network: IpAddr,
    prefix: u8,
}

impl ProxyRange {
    /// The range of one address.
    pub fn single(ip: IpAddr) -> Self {
        let ip = canonical(ip);
        Self {
            network: ip,
            prefix: max_prefix(ip),
        }
    }

    /// Whether `ip` (IPv4-mapped IPv6 taken as IPv4) is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(ip) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(ip) & mask == u128::from(net)
            }
            (IpAddr::V4(_), IpAddr::V6(_)) | (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn max_prefix(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

impl From<IpAddr> for ProxyRange {
    fn from(ip: IpAddr) -> Self {
        Self::single(ip)
    }
}

impl FromStr for ProxyRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        const FORM: &str = "an address (`10.0.0.7`, `2001:db8::7`) or a CIDR range \
                            (`10.0.0.0/8`, `2001:db8::/32`)";
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let ip: IpAddr = addr.parse().map_err(|_| format!("`{s}` is not {FORM}"))?;
        let max = max_prefix(ip);
        let prefix = match prefix {
            None => max,
            Some(p) => {
                // Digits only: `u8::from_str` would take `+8`.
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("`{s}`: the prefix length must be a number 1-{max}"));
                }
                let n: u8 = p
                    .parse()
                    .map_err(|_| format!("`{s}`: the prefix length must be a number 1-{max}"))?;
                if n > max {
                    return Err(format!(
                        "`{s}`: an {} prefix is at most /{max}",
                        if max == 32 { "IPv4" } else { "IPv6" }
                    ));
                }
                n
            }
        };
        if prefix == 0 {
            return Err(format!(
                "`{s}` trusts every address, so every client could write the address it is \
                 counted and audited under; list your proxies' addresses or their network"
            ));
        }
        // The network part must be the whole address part: `10.0.0.1/8` is either the one
        // proxy or the whole /8, and guessing wrong trusts the wrong peers.
        let network = masked(ip, prefix);
        if network != ip {
            return Err(format!(
                "`{s}` has host bits set: write `{network}/{prefix}` for the network, or \
                 `{ip}` for the one address"
            ));
        }
        // `::ffff:a.b.c.d/n` with n >= 96 is an IPv4 range written as IPv6.
        if let IpAddr::V6(v6) = ip
            && prefix >= 96
            && let Some(v4) = v6.to_ipv4_mapped()
        {
            return Self {
                network: IpAddr::V4(v4),
                prefix: prefix - 96,
            }
            .nonzero(s);
        }
        Ok(Self {
            network: ip,
            prefix,
        })
    }
}

impl ProxyRange {
    /// `::ffff:0.0.0.0/96` maps to IPv4 `/0`: refused like `0.0.0.0/0`.
    fn nonzero(self, s: &str) -> Result<Self, String> {
        if self.prefix == 0 {
            return Err(format!(
                "`{s}` trusts every IPv4 address; list your proxies' addresses or their network"
            ));
        }
        Ok(self)
    }
}

fn masked(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

impl fmt::Display for ProxyRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix == max_prefix(self.network) {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

impl serde::Serialize for ProxyRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `proxy.*`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// The peers whose forwarding header is believed; empty: none, the TCP peer is the
    /// client.
    pub trusted_proxies: Vec<ProxyRange>,
    /// The one forwarding header they write; the other is never read.
    pub header: ProxyHeader,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            header: ProxyHeader::XForwardedFor,
        }
    }
}

impl ProxyConfig {
    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|r| r.contains(ip))
    }

    /// Each entry parsed; errors name the entry's position and what to write instead.
    pub fn parse_list(entries: &[String]) -> Result<Vec<ProxyRange>, String> {
        let mut ranges: Vec<ProxyRange> = Vec::with_capacity(entries.len());
        for (n, entry) in entries.iter().enumerate() {
            let range: ProxyRange = entry
                .parse()
                .map_err(|why: String| format!("entry #{}: {why}", n + 1))?;
            if ranges.contains(&range) {
                return Err(format!("entry #{}: `{entry}` is listed twice", n + 1));
            }
            ranges.push(range);
        }
        Ok(ranges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn range(s: &str) -> ProxyRange {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_and_ranges_parse_and_match() {
        let r = range("10.0.0.0/8");
        assert!(r.contains(ip("10.255.1.2")));
        assert!(r.contains(ip("::ffff:10.1.2.3")), "mapped peer");
        assert!(!r.contains(ip("11.0.0.1")));
        assert!(!r.contains(ip("::1")));
        assert_eq!(r.to_string(), "10.0.0.0/8");

        let one = range("192.0.2.7");
        assert!(one.contains(ip("192.0.2.7")));
        assert!(!one.contains(ip("192.0.2.8")));
        assert_eq!(one.to_string(), "192.0.2.7");
        assert_eq!(range("192.0.2.7/32"), one);

        let v6 = range("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert_eq!(range("fd00::/8").to_string(), "fd00::/8");
        assert!(range("::1").contains(ip("::1")));

        // Mapped ranges are the IPv4 range they name.
        assert_eq!(range("::ffff:10.0.0.0/104"), range("10.0.0.0/8"));
        assert_eq!(range("::ffff:10.0.0.7"), range("10.0.0.7"));
        assert!(range("172.16.0.0/12").contains(ip("172.31.255.255")));
        assert!(!range("172.16.0.0/12").contains(ip("172.32.0.0")));
    }

    #[test]
    fn anything_loose_is_refused_with_the_fix() {
        let err = |s: &str| s.parse::<ProxyRange>().unwrap_err();
        assert!(
            err("10.0.0.1/8").contains("write `10.0.0.0/8`"),
            "{}",
            err("10.0.0.1/8")
        );
        assert!(err("10.0.0.1/8").contains("or `10.0.0.1`"));
        assert!(err("2001:db8::1/32").contains("`2001:db8::/32`"));
        assert!(err("0.0.0.0/0").contains("trusts every address"));
        assert!(err("::/0").contains("trusts every address"));
        assert!(err("::ffff:0.0.0.0/96").contains("trusts every IPv4 address"));
        for bad in ["10.0.0.0/33", "2001:db8::/129"] {
            assert!(
                err(bad).contains("prefix is at most"),
                "{bad}: {}",
                err(bad)
            );
        }
        for bad in [
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/08x",
            "10.0.0.0/8/8",
            "10.0.0.0/1000",
        ] {
            assert!(err(bad).contains("prefix length"), "{bad}: {}", err(bad));
        }
        for bad in [
            "",
            "proxy.internal",
            "10.0.0",
            "010.0.0.1",
            " 10.0.0.1",
            "10.0.0.1 ",
            "10.0.0.1:80",
            "[::1]",
            "fe80::1%eth0",
            "*",
        ] {
            assert!(
                err(bad).contains("is not an address"),
                "{bad:?}: {}",
                err(bad)
            );
        }
    }

    #[test]
    fn a_list_names_the_bad_entry_and_refuses_repeats() {
        let list = |v: &[&str]| {
            ProxyConfig::parse_list(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
        };
        assert_eq!(list(&["10.0.0.0/8", "::1"]).unwrap().len(), 2);
        assert!(
            list(&["10.0.0.0/8", "nope"])
                .unwrap_err()
                .starts_with("entry #2: ")
        );
        assert!(
            list(&["10.0.0.7", "10.0.0.7/32"])
                .unwrap_err()
                .contains("listed twice")
        );
    }
}
