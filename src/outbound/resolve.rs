//! Name resolution for outbound requests, behind a trait so that tests can say what a name
//! resolves to (a stub) and the guard can be shown to connect only to what it checked.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;

/// What resolving a name yields: every address of it.
pub type Resolving<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// Resolves a host name to its addresses. The guard calls it once per fetch, checks every
/// address it returns, and connects only to those: nothing else resolves the name again.
pub trait Resolver: Send + Sync + 'static {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Resolving<'a>;
}

/// The system's resolver (`getaddrinfo`, on tokio's blocking threads).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Resolving<'a> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, port)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// A fixed table of names and their addresses; a name not in it does not resolve. For
/// tests, and for anyone who wants the guard to fetch from a known set of hosts only.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    pub entries: Vec<(String, Vec<IpAddr>)>,
}

impl StaticResolver {
    pub fn new(entries: &[(&str, &[IpAddr])]) -> Self {
        Self {
            entries: entries
                .iter()
                .map(|(name, addrs)| ((*name).to_owned(), addrs.to_vec()))
                .collect(),
        }
    }
}

impl Resolver for StaticResolver {
    fn resolve<'a>(&'a self, host: &'a str, _port: u16) -> Resolving<'a> {
        let found = self
            .entries
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(host))
            .map(|(_, addrs)| addrs.clone());
        Box::pin(async move {
            found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "name does not resolve"))
        })
    }
}
