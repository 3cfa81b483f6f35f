//! Outbound HTTP requests, guarded against server-side request forgery (docs/security.md,
//! "Registration and outbound requests"). A URL a stranger gave us (a client ID metadata
//! document's) is fetched only when:
//!
//! 1. it is https, without credentials in it ([`target::Target::parse`]);
//! 2. its host, resolved once through a [`resolve::Resolver`], has only addresses that are
//!    globally routable unicast ([`address::special_use`]): one refused address refuses
//!    the name, so a record set mixing a public and a private address gets nowhere;
//! 3. the connection goes to those checked addresses and nowhere else: the HTTP client is
//!    told them (`resolve_to_addrs`), and its own resolver refuses every name, so no
//!    second lookup can answer differently (DNS rebinding); the peer it reached is
//!    checked against them once more; no proxy is used (one would resolve the name
//!    itself);
//! 4. no redirect is followed (a 3xx is an error), and only `200` is a document;
//! 5. the body is at most `Policy::max_bytes`, and the whole exchange (lookup,
//!    connection, TLS, headers, body) ends within `Policy::timeout`;
//! 6. at most `Policy::max_concurrent` fetches run at once; more are refused at once
//!    rather than queued, so a flood of URLs cannot tie up the server.
//!
//! The development setting (`Policy::allow_private`, from
//! `registration.metadata_documents_allow_private`) allows http and addresses of one
//! host (loopback, private, link-local...), never unspecified, multicast or broadcast.
//! It lets the server fetch from the machine it runs on and its network, so it is for a
//! developer's laptop only.
//!
//! TLS is rustls over aws-lc-rs (the crypto backend of everything else but passkeys),
//! trusting the Mozilla root store (`webpki-roots`), not the system's.

pub mod address;
pub mod freshness;
pub mod mail;
pub mod resolve;
pub mod target;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AGE, CACHE_CONTROL};
use tokio::sync::Semaphore;

pub use address::SpecialUse;
pub use resolve::{Resolver, StaticResolver, SystemResolver};
pub use target::{Host, Target, TargetError};

/// The most a fetched document may be: 5 KiB, what draft-ietf-oauth-client-id-metadata-
/// document recommends. A metadata document within the registration policy (a name, a
/// few redirect URIs, two URLs) is well under 1 KiB; the bound keeps what one fetch can
/// make us hold, times `MAX_CONCURRENT`, at 160 KiB.
pub const MAX_BYTES: usize = 5 * 1024;
/// The whole exchange: lookup, connection, TLS, headers and body. A user is waiting on the
/// authorization page meanwhile.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Fetches in flight at once, across the server.
pub const MAX_CONCURRENT: usize = 32;
const USER_AGENT: &str = concat!("Portcullis/", env!("CARGO_PKG_VERSION"));

/// What the guard allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Development only: http, and addresses of one host (loopback, private...).
    pub allow_private: bool,
    pub max_bytes: usize,
    pub timeout: Duration,
    pub max_concurrent: usize,
}

impl Policy {
    /// The production bounds, with or without the development setting.
    pub fn new(allow_private: bool) -> Self {
        Self {
            allow_private,
            max_bytes: MAX_BYTES,
            timeout: TIMEOUT,
            max_concurrent: MAX_CONCURRENT,
        }
    }
}

/// A fetched document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub body: Vec<u8>,
    /// Seconds the response says it may be reused (`freshness::fresh_for`); `None` when it
    /// says nothing.
    pub fresh_for: Option<u64>,
    /// The address the connection went to (one of those checked).
    pub peer: Option<SocketAddr>,
}

/// Why nothing was fetched. The words are safe to show: they name the rule, and at most
/// an address the URL's own host resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    Target(TargetError),
    /// The name did not resolve (or to nothing).
    Resolve,
    /// The host is, or resolved to, an address a fetch may not reach.
    Refused {
        address: IpAddr,
        why: SpecialUse,
    },
    /// No connection, TLS failed, or the response was not HTTP.
    Connect,
    /// A 3xx: redirects are never followed.
    Redirect(u16),
    /// Any other status than 200.
    Status(u16),
    /// Longer than this many bytes.
    TooLarge(usize),
    /// Not done within this long.
    Timeout(Duration),
    /// Too many fetches in flight.
    Busy,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Target(why) => write!(f, "the URL cannot be fetched: {why}"),
            Self::Resolve => f.write_str("its host name does not resolve"),
            Self::Refused { address, why } => {
                write!(
                    f,
                    "its host is a {why} address ({address}), which is never fetched"
                )
            }
            Self::Connect => f.write_str("no connection could be made to its host, or TLS failed"),
            Self::Redirect(status) => write!(
                f,
                "it answered with a redirect ({status}); redirects are not followed"
            ),
            Self::Status(status) => write!(f, "it answered {status}, not 200"),
            Self::TooLarge(limit) => write!(f, "it is larger than {limit} bytes"),
            Self::Timeout(limit) => write!(f, "it did not answer within {} ms", limit.as_millis()),
            Self::Busy => f.write_str("too many documents are being fetched; try again"),
        }
    }
}

impl std::error::Error for FetchError {}

/// The addresses a fetch of `target` may connect to: its IP literal, or every address
/// its name resolves to, each checked. Pure but for the one lookup.
pub async fn checked_addresses(
    target: &Target,
    resolver: &dyn Resolver,
    allow_private: bool,
) -> Result<Vec<IpAddr>, FetchError> {
    let addresses = match &target.host {
        Host::Ip(ip) => vec![*ip],
        Host::Domain(name) => resolver
            .resolve(name, target.port)
            .await
            .map_err(|_| FetchError::Resolve)?,
    };
    if addresses.is_empty() {
        return Err(FetchError::Resolve);
    }
    for &address in &addresses {
        address::check(address, allow_private)
            .map_err(|why| FetchError::Refused { address, why })?;
    }
    Ok(addresses)
}

/// Makes aws-lc-rs the process's default rustls provider. The fetcher names its provider
/// itself; this is for other rustls users in the process (reqwest clients built without
/// one, as the tests and the example resource server build them), which would otherwise
/// find none. Idempotent.
pub fn install_tls_provider() {
    // An error means a provider is already installed, which is all this wants.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The guarded fetcher. Cheap to share (`Arc`).
pub struct Fetcher {
    policy: Policy,
    resolver: Arc<dyn Resolver>,
    tls: rustls::ClientConfig,
    permits: Semaphore,
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetcher")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// A name lookup reqwest asks for. The fetcher gives reqwest the checked addresses of the
/// one name it fetches; any other lookup (none should happen) fails.
struct NoLookup;

impl reqwest::dns::Resolve for NoLookup {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async {
            Err::<reqwest::dns::Addrs, _>(
                "outbound requests resolve names only through the guard".into(),
            )
        })
    }
}

impl Fetcher {
    pub fn new(policy: Policy, resolver: Arc<dyn Resolver>) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            policy,
            resolver,
            tls,
            permits: Semaphore::new(policy.max_concurrent),
        })
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// GET `url` under the guard (see the module's documentation).
    pub async fn fetch(&self, url: &str) -> Result<Fetched, FetchError> {
        let _permit = self.permits.try_acquire().map_err(|_| FetchError::Busy)?;
        let target = Target::parse(url, self.policy.allow_private).map_err(FetchError::Target)?;
        match tokio::time::timeout(self.policy.timeout, self.fetch_target(&target)).await {
            Ok(done) => done,
            Err(_) => Err(FetchError::Timeout(self.policy.timeout)),
        }
    }

    async fn fetch_target(&self, target: &Target) -> Result<Fetched, FetchError> {
        let addresses =
            checked_addresses(target, self.resolver.as_ref(), self.policy.allow_private).await?;
        let sockets: Vec<SocketAddr> = addresses
            .iter()
            .map(|ip| SocketAddr::new(*ip, target.port))
            .collect();
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(self.tls.clone())
            .dns_resolver(Arc::new(NoLookup))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .pool_max_idle_per_host(0)
            .timeout(self.policy.timeout)
            .user_agent(USER_AGENT);
        if let Host::Domain(name) = &target.host {
            builder = builder.resolve_to_addrs(name, &sockets);
        }
        let client = builder.build().map_err(|e| {
            tracing::error!(error = %e, "outbound HTTP client could not be built");
            FetchError::Connect
        })?;
        let response = client
            .get(target.url.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| self.transport_error(target, &e))?;
        // The connection reached one of the checked addresses, or nothing is read.
        let peer = response.remote_addr();
        if let Some(peer) = peer
            && !addresses.contains(&peer.ip())
        {
            tracing::error!(%peer, host = ?target.host, "outbound request reached an unchecked address");
            return Err(FetchError::Connect);
        }
        let status = response.status();
        if status.is_redirection() {
            return Err(FetchError::Redirect(status.as_u16()));
        }
        if status != StatusCode::OK {
            return Err(FetchError::Status(status.as_u16()));
        }
        let max = self.policy.max_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > max as u64)
        {
            return Err(FetchError::TooLarge(max));
        }
        let cache_control: Vec<&str> = response
            .headers()
            .get_all(CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let cache_control = cache_control.join(",");
        let age = response
            .headers()
            .get(AGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let fresh_for = freshness::fresh_for(&cache_control, age);
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(target, &e))?
        {
            if body.len().saturating_add(chunk.len()) > max {
                return Err(FetchError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            body,
            fresh_for,
            peer,
        })
    }

    fn transport_error(&self, target: &Target, err: &reqwest::Error) -> FetchError {
        if err.is_timeout() {
            return FetchError::Timeout(self.policy.timeout);
        }
        tracing::info!(host = ?target.host, error = %err, "outbound request failed");
        FetchError::Connect
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A stub resolver that counts its lookups.
    struct Counting(StaticResolver, AtomicUsize);

    impl Resolver for Counting {
        fn resolve<'a>(&'a self, host: &'a str, port: u16) -> resolve::Resolving<'a> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.resolve(host, port)
        }
    }

    fn stub() -> Counting {
        let public = [ip("93.184.215.14")];
        let both = [ip("93.184.215.14"), ip("127.0.0.1")];
        let v6_public = [ip("2606:2800:21f:cb07:6820:80da:af6b:8b2c")];
        Counting(
            StaticResolver::new(&[
                ("app.example", &public),
                ("v6.example", &v6_public),
                ("localhost", &[ip("127.0.0.1"), ip("::1")]),
                ("rebind.example", &both),
                ("metadata.example", &[ip("169.254.169.254")]),
                ("mapped.example", &[ip("::ffff:10.0.0.1")]),
                ("nat64.example", &[ip("64:ff9b::7f00:1")]),
                ("sixtofour.example", &[ip("2002:c0a8:0101::1")]),
                (
                    "teredo.example",
                    &[ip("2001:0:4136:e378:8000:63bf:3fff:fdd2")],
                ),
                ("ula.example", &[ip("fd00:ec2::254")]),
                ("cgnat.example", &[ip("100.100.100.200")]),
                ("zero.example", &[ip("0.0.0.0")]),
                ("empty.example", &[]),
            ]),
            AtomicUsize::new(0),
        )
    }

    async fn check(
        url: &str,
        allow_private: bool,
        resolver: &Counting,
    ) -> Result<Vec<IpAddr>, FetchError> {
        let target = Target::parse(url, allow_private).map_err(FetchError::Target)?;
        checked_addresses(&target, resolver, allow_private).await
    }

    /// Hostile URLs and what their hosts resolve to (a stub): each refused, for its reason.
    #[tokio::test]
    async fn hostile_urls_and_addresses_are_refused() {
        use SpecialUse::*;
        let refused = |address: &str, why| FetchError::Refused {
            address: ip(address),
            why,
        };
        let table: Vec<(&str, FetchError)> = vec![
            (
                "http://app.example/c.json",
                FetchError::Target(TargetError::Scheme),
            ),
            (
                "https://u:p@app.example/c.json",
                FetchError::Target(TargetError::Credentials),
            ),
            (
                "file:///etc/passwd",
                FetchError::Target(TargetError::Scheme),
            ),
            ("https://localhost/c.json", refused("127.0.0.1", Loopback)),
            ("https://LOCALHOST./c.json", FetchError::Resolve),
            ("https://127.0.0.1/c.json", refused("127.0.0.1", Loopback)),
            ("https://127.1/c.json", refused("127.0.0.1", Loopback)),
            ("https://0x7f000001/c.json", refused("127.0.0.1", Loopback)),
            (
                "https://017700000001/c.json",
                refused("127.0.0.1", Loopback),
            ),
            ("https://[::1]/c.json", refused("::1", Loopback)),
            (
                "https://[::ffff:127.0.0.1]/c.json",
                refused("::ffff:127.0.0.1", Loopback),
            ),
            (
                "https://[::ffff:a9fe:a9fe]/c.json",
                refused("::ffff:169.254.169.254", LinkLocal),
            ),
            (
                "https://169.254.169.254/latest/meta-data/",
                refused("169.254.169.254", LinkLocal),
            ),
            (
                "https://[fd00:ec2::254]/c.json",
                refused("fd00:ec2::254", UniqueLocal),
            ),
            ("https://10.0.0.8:8443/c.json", refused("10.0.0.8", Private)),
            (
                "https://192.168.0.1/c.json",
                refused("192.168.0.1", Private),
            ),
            ("https://0.0.0.0/c.json", refused("0.0.0.0", Unspecified)),
            ("https://[::]/c.json", refused("::", Unspecified)),
            ("https://224.0.0.1/c.json", refused("224.0.0.1", Multicast)),
            (
                "https://255.255.255.255/c.json",
                refused("255.255.255.255", Broadcast),
            ),
            // Names that resolve to special addresses, alone or among public ones.
            (
                "https://rebind.example/c.json",
                refused("127.0.0.1", Loopback),
            ),
            (
                "https://metadata.example/c.json",
                refused("169.254.169.254", LinkLocal),
            ),
            (
                "https://mapped.example/c.json",
                refused("::ffff:10.0.0.1", Private),
            ),
            (
                "https://nat64.example/c.json",
                refused("64:ff9b::7f00:1", Loopback),
            ),
            (
                "https://sixtofour.example/c.json",
                refused("2002:c0a8:101::1", Private),
            ),
            (
                "https://teredo.example/c.json",
                refused("2001:0:4136:e378:8000:63bf:3fff:fdd2", Teredo),
            ),
            (
                "https://ula.example/c.json",
                refused("fd00:ec2::254", UniqueLocal),
            ),
            (
                "https://cgnat.example/c.json",
                refused("100.100.100.200", SharedAddressSpace),
            ),
            (
                "https://zero.example/c.json",
                refused("0.0.0.0", Unspecified),
            ),
            ("https://empty.example/c.json", FetchError::Resolve),
            ("https://unknown.example/c.json", FetchError::Resolve),
        ];
        for (url, expected) in table {
            let resolver = stub();
            assert_eq!(check(url, false, &resolver).await, Err(expected), "{url}");
        }
        // What passes: names with only public addresses, over https.
        let resolver = stub();
        assert_eq!(
            check("https://app.example/c.json", false, &resolver).await,
            Ok(vec![ip("93.184.215.14")])
        );
        assert!(
            check("https://v6.example:8443/c.json", false, &resolver)
                .await
                .is_ok()
        );
        assert!(
            check("https://1.1.1.1/c.json", false, &resolver)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn one_lookup_per_check_and_none_for_literals() {
        let resolver = stub();
        check("https://app.example/c.json", false, &resolver)
            .await
            .unwrap();
        assert_eq!(resolver.1.load(Ordering::SeqCst), 1);
        let _ = check("https://127.0.0.1/c.json", false, &resolver).await;
        let _ = check("https://8.8.8.8/c.json", false, &resolver).await;
        let _ = check("http://app.example/c.json", false, &resolver).await;
        assert_eq!(resolver.1.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_development_setting_allows_http_and_one_host() {
        let resolver = stub();
        assert_eq!(
            check("http://localhost:8080/c.json", true, &resolver).await,
            Ok(vec![ip("127.0.0.1"), ip("::1")])
        );
        assert!(
            check("https://metadata.example/c.json", true, &resolver)
                .await
                .is_ok()
        );
        assert_eq!(
            check("http://zero.example/c.json", true, &resolver).await,
            Err(FetchError::Refused {
                address: ip("0.0.0.0"),
                why: SpecialUse::Unspecified
            })
        );
    }

    #[test]
    fn errors_read_as_sentences() {
        let refused = FetchError::Refused {
            address: ip("127.0.0.1"),
            why: SpecialUse::Loopback,
        };
        assert_eq!(
            refused.to_string(),
            "its host is a loopback address (127.0.0.1), which is never fetched"
        );
        assert_eq!(
            FetchError::Redirect(302).to_string(),
            "it answered with a redirect (302); redirects are not followed"
        );
        assert_eq!(
            FetchError::TooLarge(5120).to_string(),
            "it is larger than 5120 bytes"
        );
    }
}
