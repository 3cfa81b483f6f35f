//! Which addresses an outbound request may connect to: one pure function,
//! [`special_use`], from an address to the reason it is refused (or `None` for a
//! globally routable unicast address). The lists are IANA's special-purpose address
//! registries (RFC 6890 and its updates), plus the IPv6 forms that carry an IPv4 address
//! inside them, which are judged by the address they carry.
//!
//! IPv6 is an allow-list: only global unicast (`2000::/3`, minus its special blocks) and
//! the two prefixes that embed a public IPv4 address (IPv4-mapped, and the NAT64
//! well-known prefix that DNS64 networks hand out) pass; everything else is refused, so
//! a block IANA reserves tomorrow is refused today. IPv4 is a deny-list, because all of
//! it outside the special blocks is allocated unicast.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not one an outbound request may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialUse {
    /// `0.0.0.0`, `::`: connecting there reaches this host.
    Unspecified,
    /// `0.0.0.0/8` (RFC 791 "this network").
    ThisNetwork,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918: `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// `100.64.0.0/10` (RFC 6598, carrier-grade NAT).
    SharedAddressSpace,
    /// `169.254.0.0/16`, `fe80::/10`: cloud metadata services live here.
    LinkLocal,
    /// `fc00::/7` (RFC 4193).
    UniqueLocal,
    /// `fec0::/10`, deprecated (RFC 3879) but still routed inside some networks.
    SiteLocal,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15` (RFC 2544).
    Benchmarking,
    /// `192.0.0.0/24` and `2001::/23` (IETF protocol assignments), `192.88.99.0/24`
    /// (the withdrawn 6to4 relay anycast, RFC 7526).
    ProtocolAssignment,
    /// `2001::/32` (RFC 4380): the client address inside is the attacker's to choose.
    Teredo,
    /// `64:ff9b:1::/48` (RFC 8215), translation inside one network.
    LocalTranslation,
    /// `100::/64` (RFC 6666).
    DiscardOnly,
    /// `::/96` (IPv4-compatible, deprecated by RFC 4291) and `::ffff:0:0:0/96` (SIIT).
    Ipv4Embedding,
    /// `240.0.0.0/4`, and IPv6 outside global unicast (`2000::/3`).
    Reserved,
}

impl SpecialUse {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::ThisNetwork => "this-network",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::SharedAddressSpace => "shared (carrier-grade NAT)",
            Self::LinkLocal => "link-local",
            Self::UniqueLocal => "unique local",
            Self::SiteLocal => "site-local",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::ProtocolAssignment => "IETF protocol assignment",
            Self::Teredo => "Teredo",
            Self::LocalTranslation => "local-use translation",
            Self::DiscardOnly => "discard-only",
            Self::Ipv4Embedding => "deprecated IPv4 embedding",
            Self::Reserved => "reserved",
        }
    }

    /// What the development setting (`registration.metadata_documents_allow_private`)
    /// still refuses: addresses that are never one server.
    pub fn refused_even_in_development(self) -> bool {
        match self {
            Self::Unspecified | Self::Multicast | Self::Broadcast => true,
            Self::ThisNetwork
            | Self::Loopback
            | Self::Private
            | Self::SharedAddressSpace
            | Self::LinkLocal
            | Self::UniqueLocal
            | Self::SiteLocal
            | Self::Documentation
            | Self::Benchmarking
            | Self::ProtocolAssignment
            | Self::Teredo
            | Self::LocalTranslation
            | Self::DiscardOnly
            | Self::Ipv4Embedding
            | Self::Reserved => false,
        }
    }
}

impl fmt::Display for SpecialUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why `ip` may not be connected to, or `None` when it is a globally routable unicast
/// address.
pub fn special_use(ip: IpAddr) -> Option<SpecialUse> {
    match ip {
        IpAddr::V4(v4) => special_use_v4(v4),
        IpAddr::V6(v6) => special_use_v6(v6),
    }
}

/// `ip` is within `net/len`.
fn in_v4(ip: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn special_use_v4(ip: Ipv4Addr) -> Option<SpecialUse> {
    use SpecialUse::*;
    // Most specific first: 0.0.0.0 within 0/8, 255.255.255.255 within 240/4.
    let table: [([u8; 4], u32, SpecialUse); 17] = [
        ([0, 0, 0, 0], 32, Unspecified),
        ([255, 255, 255, 255], 32, Broadcast),
        ([0, 0, 0, 0], 8, ThisNetwork),
        ([10, 0, 0, 0], 8, Private),
        ([100, 64, 0, 0], 10, SharedAddressSpace),
        ([127, 0, 0, 0], 8, Loopback),
        ([169, 254, 0, 0], 16, LinkLocal),
        ([172, 16, 0, 0], 12, Private),
        ([192, 0, 0, 0], 24, ProtocolAssignment),
        ([192, 0, 2, 0], 24, Documentation),
        ([192, 88, 99, 0], 24, ProtocolAssignment),
        ([192, 168, 0, 0], 16, Private),
        ([198, 18, 0, 0], 15, Benchmarking),
        ([198, 51, 100, 0], 24, Documentation),
        ([203, 0, 113, 0], 24, Documentation),
        ([224, 0, 0, 0], 4, Multicast),
        ([240, 0, 0, 0], 4, Reserved),
    ];
    table
        .iter()
        .find(|(net, len, _)| in_v4(ip, *net, *len))
        .map(|(_, _, why)| *why)
}

/// `ip` is within `net/len` (prefix of up to 128 bits).
fn in_v6(ip: Ipv6Addr, net: [u16; 8], len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

/// The IPv4 address in the low 32 bits.
fn low_v4(ip: Ipv6Addr) -> Ipv4Addr {
    Ipv4Addr::from((u128::from(ip) & 0xffff_ffff) as u32)
}

fn special_use_v6(ip: Ipv6Addr) -> Option<SpecialUse> {
    use SpecialUse::*;
    if ip.is_unspecified() {
        return Some(Unspecified);
    }
    if ip.is_loopback() {
        return Some(Loopback);
    }
    // IPv4-mapped (::ffff:a.b.c.d): a dual-stack socket connects to a.b.c.d itself.
    if in_v6(ip, [0, 0, 0, 0, 0, 0xffff, 0, 0], 96) {
        return special_use_v4(low_v4(ip));
    }
    // NAT64's well-known prefix (RFC 6052): DNS64 networks answer every IPv4-only name
    // this way, so the address inside decides.
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return special_use_v4(low_v4(ip));
    }
    // 6to4 (RFC 3056): 2002:AABB:CCDD::/48 is routed to the IPv4 address AA.BB.CC.DD.
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        let bits = u128::from(ip);
        let inner = Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32);
        return special_use_v4(inner);
    }
    let table: [([u16; 8], u32, SpecialUse); 13] = [
        ([0, 0, 0, 0, 0xffff, 0, 0, 0], 96, Ipv4Embedding),
        ([0, 0, 0, 0, 0, 0, 0, 0], 96, Ipv4Embedding),
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, LocalTranslation),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, DiscardOnly),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, Teredo),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, ProtocolAssignment),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, Documentation),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Documentation),
        ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, Reserved),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, UniqueLocal),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, LinkLocal),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, SiteLocal),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Multicast),
    ];
    if let Some((_, _, why)) = table.iter().find(|(net, len, _)| in_v6(ip, *net, *len)) {
        return Some(*why);
    }
    if in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        None
    } else {
        Some(Reserved)
    }
}

/// Whether a fetch may connect to `ip`: a globally routable unicast address, or, with
/// `allow_private` (development only), any address that is one host.
pub fn check(ip: IpAddr, allow_private: bool) -> Result<(), SpecialUse> {
    match special_use(ip) {
        None => Ok(()),
        Some(why) if allow_private && !why.refused_even_in_development() => Ok(()),
        Some(why) => Err(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Every refused block, with an address inside it and the reason.
    #[test]
    fn hostile_addresses_are_refused_with_their_reason() {
        use SpecialUse::*;
        let table = [
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", ThisNetwork),
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("100.64.0.1", SharedAddressSpace),
            ("100.127.255.254", SharedAddressSpace),
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("169.254.169.254", LinkLocal),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.0.0.8", ProtocolAssignment),
            ("192.0.0.170", ProtocolAssignment),
            ("192.0.2.10", Documentation),
            ("192.88.99.1", ProtocolAssignment),
            ("192.168.1.1", Private),
            ("198.18.0.1", Benchmarking),
            ("198.19.255.255", Benchmarking),
            ("198.51.100.7", Documentation),
            ("203.0.113.200", Documentation),
            ("224.0.0.251", Multicast),
            ("239.255.255.250", Multicast),
            ("240.0.0.1", Reserved),
            ("255.255.255.254", Reserved),
            ("255.255.255.255", Broadcast),
            ("::", Unspecified),
            ("::1", Loopback),
            // IPv4-mapped forms of refused addresses.
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:7f00:1", Loopback),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:0.0.0.0", Unspecified),
            // IPv4-compatible (deprecated), whatever they carry.
            ("::127.0.0.1", Ipv4Embedding),
            ("::8.8.8.8", Ipv4Embedding),
            ("::2", Ipv4Embedding),
            // SIIT's IPv4-translated form.
            ("::ffff:0:8.8.8.8", Ipv4Embedding),
            // NAT64 carrying refused addresses.
            ("64:ff9b::127.0.0.1", Loopback),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
            ("64:ff9b::192.168.0.1", Private),
            ("64:ff9b:1::8.8.8.8", LocalTranslation),
            // 6to4 carrying refused addresses: 2002:7f00:0001:: is 127.0.0.1.
            ("2002:7f00:1::1", Loopback),
            ("2002:a9fe:a9fe::", LinkLocal),
            ("2002:0a00:0001:ffff::1", Private),
            ("2002:c000:0201::", Documentation),
            // Teredo, carrying loopback as its server and as its (obfuscated) client,
            // and carrying public addresses: all refused.
            ("2001:0:7f00:1::", Teredo),
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", Teredo),
            ("2001:0:808:808::f7f7:f7f7", Teredo),
            ("2001:2::1", ProtocolAssignment),
            ("2001:10::1", ProtocolAssignment),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("100::1", DiscardOnly),
            ("5f00::1", Reserved),
            ("fc00::1", UniqueLocal),
            ("fd12:3456:789a::1", UniqueLocal),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fec0::1", SiteLocal),
            ("ff02::1", Multicast),
            ("ff0e::fb", Multicast),
            // Outside global unicast.
            ("4000::1", Reserved),
            ("1::1", Reserved),
            ("e000::1", Reserved),
        ];
        for (addr, why) in table {
            assert_eq!(special_use(v(addr)), Some(why), "{addr}");
            assert_eq!(check(v(addr), false), Err(why), "{addr}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for addr in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.0.3.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2001:200::1",
            "2002:0808:0808::1",
            "64:ff9b::8.8.8.8",
            "::ffff:8.8.8.8",
            "3ffe::1",
        ] {
            assert_eq!(special_use(v(addr)), None, "{addr}");
            assert_eq!(check(v(addr), false), Ok(()), "{addr}");
        }
    }

    #[test]
    fn the_development_setting_allows_one_host_never_many() {
        for ok in ["127.0.0.1", "::1", "10.0.0.1", "169.254.169.254", "fd00::1"] {
            assert_eq!(check(v(ok), true), Ok(()), "{ok}");
            assert!(check(v(ok), false).is_err(), "{ok}");
        }
        for never in ["0.0.0.0", "::", "255.255.255.255", "224.0.0.1", "ff02::1"] {
            assert!(check(v(never), true).is_err(), "{never}");
        }
    }

    /// Properties over every address: a refused IPv4 address is refused in each IPv6 form
    /// that routes to it, and an allowed one is allowed in the forms that keep it.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn embeddings_are_judged_by_what_they_carry(bits in any::<u32>()) {
                let v4 = Ipv4Addr::from(bits);
                let direct = special_use(IpAddr::V4(v4));
                let mapped = v4.to_ipv6_mapped();
                prop_assert_eq!(special_use(IpAddr::V6(mapped)), direct);
                let nat64 = Ipv6Addr::from((0x0064_ff9b_u128 << 96) | u128::from(bits));
                prop_assert_eq!(special_use(IpAddr::V6(nat64)), direct);
                let six_to_four = Ipv6Addr::from((0x2002_u128 << 112) | (u128::from(bits) << 80) | 1);
                prop_assert_eq!(special_use(IpAddr::V6(six_to_four)), direct);
                // IPv4-compatible is refused whatever it carries.
                prop_assert!(special_use(IpAddr::V6(v4.to_ipv6_compatible())).is_some());
            }

            #[test]
            fn only_global_unicast_ipv6_passes(bits in any::<u128>()) {
                let ip = Ipv6Addr::from(bits);
                if special_use(IpAddr::V6(ip)).is_none() {
                    let global = in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3)
                        || in_v6(ip, [0, 0, 0, 0, 0, 0xffff, 0, 0], 96)
                        || in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
                    prop_assert!(global, "{}", ip);
                    prop_assert!(!ip.is_loopback() && !ip.is_multicast() && !ip.is_unspecified());
                }
            }

            #[test]
            fn allowed_ipv4_is_never_what_std_calls_special(bits in any::<u32>()) {
                let ip = Ipv4Addr::from(bits);
                if special_use(IpAddr::V4(ip)).is_none() {
                    prop_assert!(!ip.is_private() && !ip.is_loopback() && !ip.is_link_local());
                    prop_assert!(!ip.is_multicast() && !ip.is_broadcast() && !ip.is_unspecified());
                    prop_assert!(!ip.is_documentation());
                }
            }
        }
    }
}
