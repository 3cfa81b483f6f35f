//! `portcullis healthcheck`: a tiny HTTP/1.1 GET so container health checks need no curl.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// Readiness: the database answers and is migrated.
pub const READY: &str = "/health/ready";
/// Liveness: the process serves requests, whatever the database does.
pub const LIVE: &str = "/health/live";

/// Returns the status code of GET `path` on the admin listener.
pub fn probe(admin: SocketAddr, path: &str) -> Result<u16, String> {
    // A wildcard bind address is not something to connect to; use loopback instead.
    let target = if admin.ip().is_unspecified() {
        let ip = match admin.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        SocketAddr::new(ip, admin.port())
    } else {
        admin
    };
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&target, timeout)
        .map_err(|e| format!("cannot connect to {target}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).map_err(|e| e.to_string())?;
    let read: Vec<u8> = head.iter().take(n).copied().collect();
    let text = String::from_utf8_lossy(&read);
    // "HTTP/1.1 200 OK"
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| "not an HTTP response".to_owned())
}
