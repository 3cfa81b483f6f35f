//! The client's address for rate limits and throttling, from the direct peer and the one
//! forwarding header the operator's proxy writes. Pure over header values and the peer
//! address, so it can be fuzzed and tested without a server.
//!
//! The rules (docs/security.md, "Client addresses"):
//! - A forwarding header is believed only when the direct peer is a trusted proxy; anyone
//!   else could write any address into it.
//! - Trusted proxies are addresses or CIDR ranges (`proxy.trusted_proxies`,
//!   `config::ProxyRange`): a cloud load balancer or an ingress controller has an address
//!   from a range, not a fixed one.
//! - Only the configured header is read (`proxy.header`). A proxy that writes
//!   `X-Forwarded-For` passes a client's own `Forwarded` through untouched (and the other
//!   way round), so reading both, or letting one win over the other, would let the client
//!   choose its address.
//! - All lines of the header form one list, in order. It is walked from the right past
//!   trusted proxies: each trusted hop vouches for the entry to its left. The first entry
//!   that is not a trusted proxy is the client; if every entry is trusted, the leftmost.
//! - An entry that names no address (`unknown`, an obfuscated `_id`, garbage) ends the
//!   walk at the last trusted hop reached: nobody trusted vouched for anything further
//!   left, and a client must never be able to pick an address by writing junk.
//! - Rate limits count the network, not the address: IPv4-mapped IPv6 is IPv4, and IPv6
//!   is cut to a prefix (/64 by default), since one subscriber is handed a whole /64.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use crate::config::{ProxyHeader, ProxyRange};

/// One hop of a forwarding list: an address, or something that names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hop {
    Addr(IpAddr),
    Opaque,
}

/// The client's address: `lines` are the values of every `header` line of the request, in
/// the order received. None only without a peer address.
pub fn client_ip(
    peer: Option<IpAddr>,
    header: ProxyHeader,
    lines: &[&str],
    trusted: &[ProxyRange],
) -> Option<IpAddr> {
    let peer = canonical(peer?);
    if !is_trusted(peer, trusted) {
        return Some(peer);
    }
    let hops: Vec<Hop> = match header {
        ProxyHeader::XForwardedFor => lines
            .iter()
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| parse_node(e).map_or(Hop::Opaque, Hop::Addr))
            .collect(),
        ProxyHeader::Forwarded => lines
            .iter()
            .flat_map(|line| split_outside_quotes(line, ','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(forwarded_for)
            .collect(),
    };
    let mut reached = peer;
    for hop in hops.iter().rev() {
        match *hop {
            Hop::Addr(ip) => {
                let ip = canonical(ip);
                if !is_trusted(ip, trusted) {
                    return Some(ip);
                }
                reached = ip;
            }
            Hop::Opaque => return Some(reached),
        }
    }
    Some(reached)
}

/// Whether a request from `peer` carries forwarding headers that are ignored because the
/// peer is not a trusted proxy: what `serve` warns about once.
pub fn ignored_forwarding(peer: Option<IpAddr>, has_headers: bool, trusted: &[ProxyRange]) -> bool {
    has_headers && peer.is_some_and(|p| !is_trusted(canonical(p), trusted))
}

/// The key rate limits and throttles count under: IPv4 as is, IPv6 cut to `v6_prefix_len`
/// bits (validated 32..=128 in config).
pub fn counting_key(ip: IpAddr, v6_prefix_len: u8) -> IpAddr {
    match canonical(ip) {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let bits = u32::from(v6_prefix_len.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`, what a dual-stack socket reports) is IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn is_trusted(ip: IpAddr, trusted: &[ProxyRange]) -> bool {
    trusted.iter().any(|t| t.contains(ip))
}

/// An address with an optional port: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:443`. Anything else (`unknown`, `_hidden`, junk) is None.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let ip = inside.parse::<Ipv6Addr>().ok()?;
        return (after.is_empty() || after.strip_prefix(':').is_some_and(is_port))
            .then_some(IpAddr::V6(ip));
    }
    let (host, port) = node.split_once(':')?;
    let ip = host.parse::<Ipv4Addr>().ok()?;
    is_port(port).then_some(IpAddr::V4(ip))
}

/// RFC 7239 `node-port`: a number or an obfuscated `_token`; either way only the address
/// before it matters.
fn is_port(port: &str) -> bool {
    match port.strip_prefix('_') {
        Some(obfuscated) => {
            !obfuscated.is_empty()
                && obfuscated
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        }
        None => (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// The `for=` of one `Forwarded` element (`for=192.0.2.60;proto=http;by=203.0.113.43`).
/// An element without exactly one `for`, or with broken quoting, names no address.
fn forwarded_for(element: &str) -> Hop {
    let mut found = None;
    for pair in split_outside_quotes(element, ';') {
        let Some((name, value)) = pair.split_once('=') else {
            if pair.trim().is_empty() {
                continue;
            }
            return Hop::Opaque;
        };
        if !name.trim().eq_ignore_ascii_case("for") {
            continue;
        }
        if found.is_some() {
            return Hop::Opaque;
        }
        found = Some(unquote(value.trim()));
    }
    match found {
        Some(Some(node)) => parse_node(&node).map_or(Hop::Opaque, Hop::Addr),
        Some(None) | None => Hop::Opaque,
    }
}

/// A token as is, or a quoted-string without its quotes and escapes; None when the quoting
/// is broken.
fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        return (!value.contains('"')).then(|| value.to_owned());
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return chars.as_str().is_empty().then_some(out),
            other => out.push(other),
        }
    }
    None
}

/// Splits on `sep` where it is not inside a quoted-string. An unterminated quote keeps the
/// rest in one piece, which then fails to parse as a node.
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(s.get(start..i).unwrap_or(""));
            start = i + c.len_utf8();
        }
    }
    parts.push(s.get(start..).unwrap_or(""));
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProxyHeader::{Forwarded, XForwardedFor};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const PROXY: &str = "10.0.0.1";

    fn trusted() -> Vec<ProxyRange> {
        ["10.0.0.1", "10.0.0.2", "2001:db8:ffff::1"]
            .map(|r| r.parse().unwrap())
            .to_vec()
    }

    #[test]
    fn the_table() {
        // (peer, header, lines, expected client)
        let cases: &[(&str, ProxyHeader, &[&str], &str)] = &[
            // An untrusted peer's headers are ignored, whatever they say.
            ("203.0.113.9", XForwardedFor, &["1.2.3.4"], "203.0.113.9"),
            ("203.0.113.9", Forwarded, &["for=1.2.3.4"], "203.0.113.9"),
            // A trusted peer without a header is the client.
            (PROXY, XForwardedFor, &[], PROXY),
            // Spoofed entries on the left are passed over: the right-most untrusted wins.
            (
                PROXY,
                XForwardedFor,
                &["6.6.6.6, 198.51.100.7, 10.0.0.2"],
                "198.51.100.7",
            ),
            // Several lines are one list, in order: the last line's entry is right-most.
            (
                PROXY,
                XForwardedFor,
                &["6.6.6.6", "198.51.100.7", "10.0.0.2"],
                "198.51.100.7",
            ),
            (
                PROXY,
                XForwardedFor,
                &["198.51.100.7, 6.6.6.6", ""],
                "6.6.6.6",
            ),
            // All trusted: the leftmost.
            (PROXY, XForwardedFor, &["10.0.0.2, 10.0.0.1"], "10.0.0.2"),
            // Ports and IPv6 forms.
            (PROXY, XForwardedFor, &["198.51.100.7:5555"], "198.51.100.7"),
            (PROXY, XForwardedFor, &["2001:db8::7"], "2001:db8::7"),
            (PROXY, XForwardedFor, &["[2001:db8::7]:443"], "2001:db8::7"),
            (PROXY, XForwardedFor, &["[2001:db8::7]"], "2001:db8::7"),
            (
                PROXY,
                XForwardedFor,
                &["::ffff:198.51.100.7"],
                "198.51.100.7",
            ),
            // A trusted proxy written as IPv4-mapped IPv6 is still trusted.
            (
                PROXY,
                XForwardedFor,
                &["1.1.1.1, ::ffff:10.0.0.2"],
                "1.1.1.1",
            ),
            // Garbage ends the walk at the last trusted hop: never an address of the
            // client's choosing, never a panic.
            (PROXY, XForwardedFor, &["not-an-ip"], PROXY),
            (
                PROXY,
                XForwardedFor,
                &["1.2.3.4, garbage, 10.0.0.2"],
                "10.0.0.2",
            ),
            (PROXY, XForwardedFor, &["[2001:db8::7"], PROXY),
            (PROXY, XForwardedFor, &["[2001:db8::7]x"], PROXY),
            (PROXY, XForwardedFor, &["1.2.3.4:port"], PROXY),
            (PROXY, XForwardedFor, &["1.2.3.4:123456"], PROXY),
            (PROXY, XForwardedFor, &["é,\u{0},[]:,:"], PROXY),
            (PROXY, XForwardedFor, &[",,, ,"], PROXY),
            // Forwarded: quoted strings, brackets, ports, case-insensitive names.
            (PROXY, Forwarded, &["for=198.51.100.7"], "198.51.100.7"),
            (
                PROXY,
                Forwarded,
                &["For=\"[2001:db8:cafe::17]:4711\""],
                "2001:db8:cafe::17",
            ),
            (
                PROXY,
                Forwarded,
                &["for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com"],
                "198.51.100.17",
            ),
            // A comma or semicolon inside quotes does not split.
            (
                PROXY,
                Forwarded,
                &["for=6.6.6.6, for=\"198.51.100.7\";host=\"a,b;c\""],
                "198.51.100.7",
            ),
            (
                PROXY,
                Forwarded,
                &["for=6.6.6.6", "for=198.51.100.7"],
                "198.51.100.7",
            ),
            (
                PROXY,
                Forwarded,
                &["for=6.6.6.6, for=198.51.100.7, for=10.0.0.2"],
                "198.51.100.7",
            ),
            (
                PROXY,
                Forwarded,
                &["for=\"198.51.100.7:_abc\""],
                "198.51.100.7",
            ),
            (
                PROXY,
                Forwarded,
                &["for=\"\\1\\98.51.100.7\""],
                "198.51.100.7",
            ),
            // unknown, obfuscated, missing or doubled `for`, broken quoting: no address.
            (PROXY, Forwarded, &["for=6.6.6.6, for=unknown"], PROXY),
            (PROXY, Forwarded, &["for=6.6.6.6, for=_hidden"], PROXY),
            (PROXY, Forwarded, &["for=6.6.6.6, proto=https"], PROXY),
            (PROXY, Forwarded, &["for=6.6.6.6;for=7.7.7.7"], PROXY),
            (PROXY, Forwarded, &["for=\"6.6.6.6"], PROXY),
            (PROXY, Forwarded, &["for=\"6.6.6.6\"x"], PROXY),
            (PROXY, Forwarded, &["for=6.6\"6.6"], PROXY),
            (PROXY, Forwarded, &["for=6.6.6.6, garbage"], PROXY),
            (PROXY, Forwarded, &["\"\\"], PROXY),
            (
                PROXY,
                Forwarded,
                &["for=6.6.6.6, for=unknown, for=10.0.0.2"],
                "10.0.0.2",
            ),
            // Each header is only read when it is the configured one.
            (PROXY, Forwarded, &["6.6.6.6"], PROXY),
            (PROXY, XForwardedFor, &["for=6.6.6.6"], PROXY),
        ];
        for (peer, header, lines, want) in cases {
            assert_eq!(
                client_ip(Some(ip(peer)), *header, lines, &trusted()),
                Some(ip(want)),
                "{peer} {header:?} {lines:?}"
            );
        }
        assert_eq!(
            client_ip(None, XForwardedFor, &["1.2.3.4"], &trusted()),
            None
        );
    }

    #[test]
    fn ranges_vouch_for_every_address_in_them() {
        let trusted: Vec<ProxyRange> = ["10.0.0.0/8", "fd00::/8"]
            .map(|r| r.parse().unwrap())
            .to_vec();
        let walk = |peer: &str, xff: &str| {
            client_ip(Some(ip(peer)), XForwardedFor, &[xff], &trusted).unwrap()
        };
        // Any peer in the range is a proxy; hops in the range are passed over.
        assert_eq!(walk("10.9.8.7", "198.51.100.7"), ip("198.51.100.7"));
        assert_eq!(
            walk("10.9.8.7", "6.6.6.6, 198.51.100.7, 10.1.1.1, fd00::5"),
            ip("198.51.100.7")
        );
        assert_eq!(walk("fd12::1", "198.51.100.7"), ip("198.51.100.7"));
        // A peer just outside is a client, whatever it writes.
        assert_eq!(walk("11.0.0.1", "198.51.100.7"), ip("11.0.0.1"));
        assert!(ignored_forwarding(Some(ip("11.0.0.1")), true, &trusted));
        assert!(!ignored_forwarding(Some(ip("10.0.0.1")), true, &trusted));
    }

    #[test]
    fn a_mapped_peer_is_matched_against_ipv4_proxies() {
        assert_eq!(
            client_ip(
                Some(ip("::ffff:10.0.0.1")),
                XForwardedFor,
                &["198.51.100.7"],
                &trusted()
            ),
            Some(ip("198.51.100.7"))
        );
    }

    #[test]
    fn ignored_forwarding_is_only_from_untrusted_peers_that_send_headers() {
        let t = trusted();
        assert!(ignored_forwarding(Some(ip("203.0.113.9")), true, &t));
        assert!(!ignored_forwarding(Some(ip("203.0.113.9")), false, &t));
        assert!(!ignored_forwarding(Some(ip("10.0.0.1")), true, &t));
        assert!(!ignored_forwarding(None, true, &t));
    }

    #[test]
    fn counting_keys_are_networks() {
        assert_eq!(counting_key(ip("198.51.100.7"), 64), ip("198.51.100.7"));
        assert_eq!(
            counting_key(ip("::ffff:198.51.100.7"), 64),
            ip("198.51.100.7")
        );
        assert_eq!(
            counting_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), 64),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            counting_key(ip("2001:db8:1:2:aaaa::1"), 48),
            ip("2001:db8:1::")
        );
        assert_eq!(counting_key(ip("2001:db8::1"), 128), ip("2001:db8::1"));
        assert_eq!(counting_key(ip("2001:db8::1"), 0), ip("::"));
    }
}
