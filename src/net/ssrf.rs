//! SSRF guard for every user-supplied outbound URL (webhooks, tool calls, crawls).
//! Checks the URL, resolves once, refuses internal addresses, and builds a reqwest client
//! whose resolver applies the same check, so the address checked is the address connected to.
#![forbid(unsafe_code)]

use std::error::Error as StdError;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use url::{Host, Url};

/// The one message shown for both a refused and an unresolvable destination, so that an
/// error never tells a caller whether an internal address exists.
pub const DESTINATION_REFUSED: &str = "destination refused: private, loopback, link-local and metadata addresses \
     (and hosts that do not resolve) are not reachable; an operator can allow development hosts with the \
     server setting security.url_allowlist";

/// Upper bound for the DNS lookup done by [`UrlGuard::resolve`].
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// One allow-list entry: an exact host name or an address range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowEntry {
    /// Lower-case host name without a trailing dot; matches the URL host exactly and admits
    /// whatever it resolves to.
    Host(String),
    /// Address range; admits addresses inside it even though they are otherwise blocked.
    Net(IpNet),
}

/// Why a URL was refused.
#[derive(Debug, thiserror::Error)]
pub enum SsrfError {
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    #[error("URL scheme not allowed: {0} (only http and https)")]
    Scheme(String),
    #[error("credentials in the URL are not allowed")]
    Userinfo,
    #[error("URL has no host")]
    MissingHost,
    /// The destination is internal. Displays the same text as `Unresolvable`.
    #[error("{}", DESTINATION_REFUSED)]
    Blocked,
    /// The host did not resolve. Displays the same text as `Blocked`.
    #[error("{}", DESTINATION_REFUSED)]
    Unresolvable,
    #[error("could not build the HTTP client: {0}")]
    Client(String),
    /// The request itself failed (connect, TLS, timeout, ...). The reqwest error is kept as
    /// the source for logs and for `is_timeout()`/`is_connect()` checks.
    #[error("request failed")]
    Request(#[source] reqwest::Error),
}

impl SsrfError {
    /// True for the two refusal variants (`Blocked`, `Unresolvable`).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Blocked | Self::Unresolvable)
    }

    fn refusal_copy(&self) -> Option<Self> {
        match self {
            Self::Blocked => Some(Self::Blocked),
            Self::Unresolvable => Some(Self::Unresolvable),
            _ => None,
        }
    }
}

/// Finds the guard's refusal inside a reqwest error (raised by the guarded resolver).
pub fn refusal_of(err: &reqwest::Error) -> Option<SsrfError> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(found) = e.downcast_ref::<SsrfError>().and_then(SsrfError::refusal_copy) {
            return Some(found);
        }
        cur = e.source();
    }
    None
}

type LookupFuture = Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>;
/// Name lookup used by the guard: the system resolver in production, a stub in tests.
type LookupFn = Arc<dyn Fn(String) -> LookupFuture + Send + Sync>;

fn system_lookup() -> LookupFn {
    Arc::new(|host: String| -> LookupFuture {
        Box::pin(async move {
            tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map(|addrs| addrs.collect())
        })
    })
}

/// SSRF guard with an optional allow-list (a development/test relaxation; empty by default).
///
/// Usage: build one client per guard with [`UrlGuard::client`] and send every request through
/// [`UrlGuard::request`] + [`UrlGuard::send`]. Host names are checked by the client's resolver at
/// connect time (DNS-rebinding safe); IP-literal URLs never reach a resolver, which is why
/// `request`/`send` run [`UrlGuard::check_url`] first. Redirects are never followed.
#[derive(Clone, Debug, Default)]
pub struct UrlGuard {
    entries: Vec<AllowEntry>,
}

impl UrlGuard {
    /// Builds a guard from entries such as `"127.0.0.1/32"`, `"::1/128"`, `"10.0.0.0/8"`,
    /// `"localhost"`, `"sink.test"`. A bare IP means /32 or /128. `Err` names the bad entry.
    pub fn new(allowlist: &[String]) -> Result<Self, String> {
        let entries = allowlist
            .iter()
            .map(|raw| parse_entry(raw).ok_or_else(|| format!("invalid allow-list entry: {raw:?}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { entries })
    }

    /// The parsed allow-list.
    pub fn entries(&self) -> &[AllowEntry] {
        &self.entries
    }

    /// True if `ip` is not blocked, or is inside an allow-listed range.
    pub fn is_allowed_ip(&self, ip: IpAddr) -> bool {
        if !is_blocked_ip(ip) {
            return true;
        }
        let canonical = ip.to_canonical();
        self.entries.iter().any(|e| match e {
            AllowEntry::Net(net) => net.contains(&ip) || net.contains(&canonical),
            AllowEntry::Host(_) => false,
        })
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = normalise_name(host);
        self.entries
            .iter()
            .any(|e| matches!(e, AllowEntry::Host(h) if *h == host))
    }

    /// Syntax, literal-IP and host-name check without DNS (used when a URL is saved).
    pub fn check_url(&self, raw: &str) -> Result<Url, SsrfError> {
        let url = Url::parse(raw.trim()).map_err(|e| SsrfError::InvalidUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SsrfError::Scheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(SsrfError::Userinfo);
        }
        match url.host() {
            None => return Err(SsrfError::MissingHost),
            Some(Host::Ipv4(v4)) => self.check_ip(IpAddr::V4(v4))?,
            Some(Host::Ipv6(v6)) => self.check_ip(IpAddr::V6(v6))?,
            Some(Host::Domain(name)) => {
                if name.is_empty() {
                    return Err(SsrfError::MissingHost);
                }
                if !self.host_allowed(name) && is_local_name(name) {
                    return Err(SsrfError::Blocked);
                }
            }
        }
        Ok(url)
    }

    fn check_ip(&self, ip: IpAddr) -> Result<(), SsrfError> {
        if self.is_allowed_ip(ip) {
            Ok(())
        } else {
            Err(SsrfError::Blocked)
        }
    }

    /// [`check_url`](Self::check_url), then one DNS lookup; refuses if ANY address is blocked
    /// (unless allow-listed). Returns the URL and the addresses with the URL's port.
    pub async fn resolve(&self, raw: &str) -> Result<(Url, Vec<SocketAddr>), SsrfError> {
        self.resolve_with(raw, &system_lookup()).await
    }

    async fn resolve_with(&self, raw: &str, lookup: &LookupFn) -> Result<(Url, Vec<SocketAddr>), SsrfError> {
        let url = self.check_url(raw)?;
        let port = url.port_or_known_default().ok_or(SsrfError::MissingHost)?;
        let addrs = match url.host() {
            Some(Host::Ipv4(v4)) => vec![SocketAddr::new(IpAddr::V4(v4), port)],
            Some(Host::Ipv6(v6)) => vec![SocketAddr::new(IpAddr::V6(v6), port)],
            Some(Host::Domain(name)) => {
                let lookup = tokio::time::timeout(LOOKUP_TIMEOUT, self.lookup_checked(name, lookup));
                let mut addrs = lookup.await.map_err(|_| SsrfError::Unresolvable)??;
                for a in &mut addrs {
                    a.set_port(port);
                }
                addrs
            }
            None => return Err(SsrfError::MissingHost),
        };
        Ok((url, addrs))
    }

    /// Resolves `host` and applies the guard: a refused name, an empty answer or any blocked
    /// address is an error. Shared by `resolve` and the client's resolver.
    async fn lookup_checked(&self, host: &str, lookup: &LookupFn) -> Result<Vec<SocketAddr>, SsrfError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            self.check_ip(ip)?;
            return Ok(vec![SocketAddr::new(ip, 0)]);
        }
        let host_allowed = self.host_allowed(host);
        if !host_allowed && is_local_name(host) {
            return Err(SsrfError::Blocked);
        }
        let addrs = lookup(host.to_owned()).await.map_err(|_| SsrfError::Unresolvable)?;
        if addrs.is_empty() {
            return Err(SsrfError::Unresolvable);
        }
        if !host_allowed && addrs.iter().any(|a| !self.is_allowed_ip(a.ip())) {
            return Err(SsrfError::Blocked);
        }
        Ok(addrs)
    }

    /// A client that can only connect to checked addresses: guarded DNS resolver, no
    /// redirects, no proxy. Set per-request timeouts with `RequestBuilder::timeout`. Share one
    /// client per guard; send through [`request`](Self::request)/[`send`](Self::send).
    pub fn client(&self, connect_timeout: Duration) -> Result<reqwest::Client, SsrfError> {
        self.client_with(connect_timeout, system_lookup())
    }

    fn client_with(&self, connect_timeout: Duration, lookup: LookupFn) -> Result<reqwest::Client, SsrfError> {
        let resolver = GuardedResolver {
            guard: self.clone(),
            lookup,
        };
        reqwest::Client::builder()
            .dns_resolver(resolver)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(connect_timeout)
            .build()
            .map_err(|e| SsrfError::Client(e.to_string()))
    }

    /// Runs [`check_url`](Self::check_url) and starts a request on `client` (which should come
    /// from [`client`](Self::client)).
    pub fn request(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        raw: &str,
    ) -> Result<reqwest::RequestBuilder, SsrfError> {
        let url = self.check_url(raw)?;
        Ok(client.request(method, url))
    }

    /// Builds the request, re-checks its final URL, and sends it. Refusals raised by the
    /// guarded resolver come back as `Blocked`/`Unresolvable`; other failures as `Request`.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, SsrfError> {
        let (client, req) = req.build_split();
        let req = req.map_err(|e| SsrfError::InvalidUrl(e.to_string()))?;
        self.check_url(req.url().as_str())?;
        client
            .execute(req)
            .await
            .map_err(|e| refusal_of(&e).unwrap_or(SsrfError::Request(e)))
    }
}

/// reqwest resolver that applies the guard to every name it resolves.
struct GuardedResolver {
    guard: UrlGuard,
    lookup: LookupFn,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.guard.clone();
        let lookup = self.lookup.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = guard
                .lookup_checked(&host, &lookup)
                .await
                .map_err(|e| -> Box<dyn StdError + Send + Sync> { Box::new(e) })?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

fn parse_entry(raw: &str) -> Option<AllowEntry> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if s.contains('/') {
        return s.parse::<IpNet>().ok().map(|net| AllowEntry::Net(net.trunc()));
    }
    let bare = s.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(AllowEntry::Net(IpNet::from(ip)));
    }
    let name = normalise_name(s);
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        // A name that looks like a number would be read as an IPv4 address by URL parsers.
        && !name.split('.').next_back().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    valid.then_some(AllowEntry::Host(name))
}

fn normalise_name(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// `localhost` and `*.localhost` (RFC 6761), refused by name before any lookup.
fn is_local_name(host: &str) -> bool {
    let host = normalise_name(host);
    host == "localhost" || host.ends_with(".localhost")
}

fn in_v4(ip: u32, net: u32, prefix: u32) -> bool {
    prefix == 0 || (ip ^ net) >> (32 - prefix) == 0
}

fn in_v6(ip: u128, net: u128, prefix: u32) -> bool {
    prefix == 0 || (ip ^ net) >> (128 - prefix) == 0
}

/// IPv4 ranges that are never a legitimate outbound destination.
const BLOCKED_V4: &[(u32, u32)] = &[
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network", unspecified
    (0x0A00_0000, 8),  // 10.0.0.0/8 RFC 1918
    (0x6440_0000, 10), // 100.64.0.0/10 CGNAT
    (0x7F00_0000, 8),  // 127.0.0.0/8 loopback
    (0xA9FE_0000, 16), // 169.254.0.0/16 link-local, cloud metadata
    (0xAC10_0000, 12), // 172.16.0.0/12 RFC 1918
    (0xC000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
    (0xC000_0200, 24), // 192.0.2.0/24 TEST-NET-1
    (0xC058_6300, 24), // 192.88.99.0/24 6to4 relay anycast (deprecated)
    (0xC0A8_0000, 16), // 192.168.0.0/16 RFC 1918
    (0xC612_0000, 15), // 198.18.0.0/15 benchmarking
    (0xC633_6400, 24), // 198.51.100.0/24 TEST-NET-2
    (0xCB00_7100, 24), // 203.0.113.0/24 TEST-NET-3
    (0xE000_0000, 4),  // 224.0.0.0/4 multicast
    (0xF000_0000, 4),  // 240.0.0.0/4 reserved, incl. 255.255.255.255 broadcast
];

/// Ranges inside 2000::/3 (global unicast) that are still blocked.
const BLOCKED_V6_GLOBAL: &[(u128, u32)] = &[
    (0x2001_0000_0000_0000_0000_0000_0000_0000, 32), // Teredo (embeds obfuscated IPv4)
    (0x2001_0002_0000_0000_0000_0000_0000_0000, 48), // benchmarking
    (0x2001_0010_0000_0000_0000_0000_0000_0000, 28), // ORCHID (deprecated)
    (0x2001_0020_0000_0000_0000_0000_0000_0000, 28), // ORCHIDv2
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32), // documentation
    (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20), // documentation (RFC 9637)
];

fn is_blocked_v4(ip: Ipv4Addr) -> bool {
    let bits = u32::from(ip);
    BLOCKED_V4.iter().any(|&(net, prefix)| in_v4(bits, net, prefix))
}

fn is_blocked_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from((bits & 0xFFFF_FFFF) as u32);
    // ::/96 (unspecified, loopback, IPv4-compatible) and ::ffff:0:0/96 (IPv4-mapped):
    // judged by the embedded IPv4 address (:: -> 0.0.0.0 and ::1 -> 0.0.0.1 are blocked).
    if bits >> 32 == 0 || bits >> 32 == 0xFFFF {
        return is_blocked_v4(low32);
    }
    // NAT64 well-known prefix 64:ff9b::/96: judged by the embedded IPv4 address.
    if in_v6(bits, 0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96) {
        return is_blocked_v4(low32);
    }
    // Only global unicast 2000::/3 is reachable; this excludes fe80::/10, fc00::/7, ff00::/8,
    // fec0::/10, 100::/64, 64:ff9b:1::/48 and every other special or unassigned range.
    if !in_v6(bits, 0x2000_0000_0000_0000_0000_0000_0000_0000, 3) {
        return true;
    }
    // 6to4 2002::/16: the IPv4 address sits in bits 16..48.
    if in_v6(bits, 0x2002_0000_0000_0000_0000_0000_0000_0000, 16) {
        return is_blocked_v4(Ipv4Addr::from(((bits >> 80) & 0xFFFF_FFFF) as u32));
    }
    BLOCKED_V6_GLOBAL.iter().any(|&(net, prefix)| in_v6(bits, net, prefix))
}

/// True if `ip` must never be connected to (ignoring any allow-list).
pub fn is_blocked_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_blocked_v4(v4),
        IpAddr::V6(v6) => is_blocked_v6(v6),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::net::{TcpListener, TcpStream};

    fn guard(entries: &[&str]) -> UrlGuard {
        let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        UrlGuard::new(&entries).unwrap()
    }

    const REFUSAL_CORPUS: &[&str] = &[
        "http://127.0.0.1",
        "http://127.0.0.1:5432/",
        "http://127.1/",
        "http://localhost",
        "http://LOCALHOST./x",
        "http://api.localhost/",
        "http://[::1]",
        "http://0.0.0.0",
        "http://2130706433",
        "http://0177.0.0.1",
        "http://0x7f000001",
        "http://[::ffff:127.0.0.1]",
        "http://[::ffff:7f00:1]",
        "http://[::127.0.0.1]",
        "http://[::]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1",
        "http://172.16.5.4",
        "http://172.31.255.255",
        "http://192.168.1.1",
        "http://100.64.0.1",
        "http://[fe80::1]",
        "http://[fc00::1]",
        "http://[fd12:3456::1]",
        "http://[ff02::1]",
        "http://224.0.0.1",
        "http://255.255.255.255",
        "http://240.0.0.1",
        "http://198.18.0.1",
        "http://192.0.2.1",
        "http://[64:ff9b::7f00:1]",
        "http://[64:ff9b::a9fe:a9fe]",
        "http://[2002:7f00:1::]",
        "http://[2002:a00:1::1]",
        "http://[2001:db8::1]",
        "file:///etc/passwd",
        "gopher://x",
        "gopher://127.0.0.1:25/_HELO",
        "ftp://",
        "ftp://example.com/file",
        "http://user:pw@host",
        "http://user:pw@example.com/",
        "https://user@example.com/",
        "javascript:alert(1)",
        "not a url",
        "http://",
    ];

    #[test]
    fn refusal_corpus_is_refused() {
        let g = UrlGuard::default();
        for raw in REFUSAL_CORPUS {
            assert!(g.check_url(raw).is_err(), "accepted {raw}");
        }
    }

    #[test]
    fn numeric_spellings_normalise_to_loopback() {
        for raw in [
            "http://2130706433",
            "http://0177.0.0.1",
            "http://0x7f000001",
            "http://127.1",
        ] {
            let url = Url::parse(raw).unwrap();
            assert_eq!(url.host(), Some(Host::Ipv4(Ipv4Addr::LOCALHOST)), "{raw}");
            assert!(matches!(UrlGuard::default().check_url(raw), Err(SsrfError::Blocked)));
        }
        let url = Url::parse("http://[::ffff:127.0.0.1]").unwrap();
        assert_eq!(url.host(), Some(Host::Ipv6(Ipv4Addr::LOCALHOST.to_ipv6_mapped())));
    }

    #[test]
    fn refusal_kinds() {
        let g = UrlGuard::default();
        assert!(matches!(
            g.check_url("file:///etc/passwd"),
            Err(SsrfError::Scheme(s)) if s == "file"
        ));
        assert!(matches!(g.check_url("http://user:pw@host"), Err(SsrfError::Userinfo)));
        assert!(matches!(g.check_url("http://localhost/"), Err(SsrfError::Blocked)));
        assert!(matches!(g.check_url("nope"), Err(SsrfError::InvalidUrl(_))));
        // Same text for blocked and unresolvable.
        assert_eq!(SsrfError::Blocked.to_string(), SsrfError::Unresolvable.to_string());
        assert!(SsrfError::Blocked.is_refusal() && SsrfError::Unresolvable.is_refusal());
    }

    #[test]
    fn public_addresses_accepted() {
        let g = UrlGuard::default();
        for raw in [
            "http://8.8.8.8",
            "https://1.1.1.1:8443/hook",
            "http://[2606:4700::1111]",
            "https://[2a00:1450:4001:80b::200e]/x",
            "http://[::ffff:8.8.8.8]",
            "http://[64:ff9b::808:808]",
            "http://[2002:808:808::1]",
            "https://example.com/webhook?x=1",
            "https://hooks.example.co.uk:444/",
            "http://172.32.0.1",
            "http://100.128.0.1",
        ] {
            let url = g.check_url(raw);
            assert!(url.is_ok(), "refused {raw}: {url:?}");
        }
    }

    #[test]
    fn blocked_ip_table() {
        let blocked = [
            "127.0.0.1",
            "127.255.255.254",
            "0.0.0.0",
            "10.1.2.3",
            "100.127.255.255",
            "169.254.169.254",
            "172.16.0.0",
            "192.168.255.255",
            "198.19.255.255",
            "203.0.113.7",
            "239.255.255.250",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fdff::1",
            "ff05::2",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:c0a8:101::1",
            "2001::1",
            "2001:db8::1",
            "100::1",
        ];
        for s in blocked {
            assert!(is_blocked_ip(s.parse().unwrap()), "not blocked: {s}");
        }
        let open = [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::101:101",
            "2002:101:101::1",
        ];
        for s in open {
            assert!(!is_blocked_ip(s.parse().unwrap()), "blocked: {s}");
        }
    }

    #[test]
    fn allow_list_admits_entries() {
        let g = guard(&["127.0.0.1/32", "::1/128", "sink.test", "10.0.0.0/8"]);
        assert!(g.check_url("http://127.0.0.1:8080/").is_ok());
        assert!(g.check_url("http://[::1]:8080/").is_ok());
        assert!(g.check_url("http://10.9.8.7/").is_ok());
        assert!(g.check_url("http://SINK.test/").is_ok());
        assert!(g.is_allowed_ip("127.0.0.1".parse().unwrap()));
        assert!(g.is_allowed_ip("::ffff:127.0.0.1".parse().unwrap()));
        // Only what is listed.
        assert!(g.check_url("http://127.0.0.2/").is_err());
        assert!(g.check_url("http://169.254.169.254/").is_err());
        assert!(g.check_url("http://localhost/").is_err());
        // Scheme and userinfo rules still apply.
        assert!(g.check_url("ftp://127.0.0.1/").is_err());
        assert!(g.check_url("http://u:p@127.0.0.1/").is_err());

        let g = guard(&["localhost", " 127.0.0.1 ", "[::1]", "10.1.2.3/8"]);
        assert!(g.check_url("http://localhost:1234/").is_ok());
        assert!(g.check_url("http://a.localhost/").is_err());
        assert_eq!(
            g.entries(),
            &[
                AllowEntry::Host("localhost".into()),
                AllowEntry::Net("127.0.0.1/32".parse().unwrap()),
                AllowEntry::Net("::1/128".parse().unwrap()),
                AllowEntry::Net("10.0.0.0/8".parse().unwrap()),
            ]
        );
    }

    #[test]
    fn bad_allow_list_entries_rejected() {
        for bad in [
            "",
            "  ",
            "10.0.0.0/33",
            "::1/129",
            "not a host",
            "http://x",
            "*.example.com",
            "a..b",
            "-x.test",
            "1.2.3",
            "host/24",
        ] {
            let err = UrlGuard::new(&["127.0.0.1/32".to_string(), bad.to_string()]).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{bad:?}: {err}");
        }
    }

    fn stub_lookup(answers: Vec<Vec<IpAddr>>) -> LookupFn {
        let calls = Arc::new(AtomicUsize::new(0));
        Arc::new(move |_host: String| -> LookupFuture {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            let ips = answers.get(n).or(answers.last()).cloned().unwrap_or_default();
            Box::pin(async move { Ok(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect()) })
        })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn resolve_checks_every_address() {
        let g = UrlGuard::default();
        let (url, addrs) = g
            .resolve_with("https://hooks.test/x", &stub_lookup(vec![vec![ip("8.8.8.8")]]))
            .await
            .unwrap();
        assert_eq!(url.as_str(), "https://hooks.test/x");
        assert_eq!(addrs, vec!["8.8.8.8:443".parse::<SocketAddr>().unwrap()]);

        let mixed = stub_lookup(vec![vec![ip("8.8.8.8"), ip("127.0.0.1")]]);
        assert!(matches!(
            g.resolve_with("http://mixed.test/", &mixed).await,
            Err(SsrfError::Blocked)
        ));
        let empty = stub_lookup(vec![vec![]]);
        assert!(matches!(
            g.resolve_with("http://nothing.test/", &empty).await,
            Err(SsrfError::Unresolvable)
        ));
        let failing: LookupFn =
            Arc::new(|_h: String| -> LookupFuture { Box::pin(async { Err(std::io::Error::other("nxdomain")) }) });
        assert!(matches!(
            g.resolve_with("http://nx.test/", &failing).await,
            Err(SsrfError::Unresolvable)
        ));
        // Literal IPs need no lookup.
        let (_, addrs) = g.resolve("http://8.8.8.8:81/").await.unwrap();
        assert_eq!(addrs, vec!["8.8.8.8:81".parse::<SocketAddr>().unwrap()]);
        assert!(matches!(
            g.resolve("http://169.254.169.254/").await,
            Err(SsrfError::Blocked)
        ));
        // Real system resolver: localhost refused by name; admitted when allow-listed by name.
        assert!(matches!(g.resolve("http://localhost/").await, Err(SsrfError::Blocked)));
        let (_, addrs) = guard(&["localhost"]).resolve("http://localhost:8080/").await.unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.port() == 8080 && a.ip().is_loopback()));
    }

    /// Minimal HTTP server: counts accepted connections and answers every request with `response`.
    async fn spawn_server(response: String) -> (u16, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let response = response.clone();
                tokio::spawn(answer(stream, response));
            }
        });
        (port, count, task)
    }

    async fn answer(stream: TcpStream, response: String) {
        let mut buf = [0u8; 4096];
        let mut seen = Vec::new();
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            if stream.readable().await.is_err() {
                return;
            }
            match stream.try_read(&mut buf) {
                Ok(0) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            }
        }
        let mut out = response.as_bytes();
        while !out.is_empty() {
            if stream.writable().await.is_err() {
                return;
            }
            match stream.try_write(out) {
                Ok(n) => out = &out[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            }
        }
    }

    fn ok_response() -> String {
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok".to_string()
    }

    const TIMEOUT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn end_to_end_blocked_allowed_and_no_redirect() {
        let (target_port, target_count, target_task) = spawn_server(ok_response()).await;
        let redirect = format!(
            "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{target_port}/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        let (port, count, task) = spawn_server(redirect).await;
        let url = format!("http://127.0.0.1:{port}/hook");

        // (a) Empty allow-list: refused before any packet is sent.
        let g = UrlGuard::default();
        let client = g.client(TIMEOUT).unwrap();
        assert!(matches!(
            g.request(&client, reqwest::Method::POST, &url),
            Err(SsrfError::Blocked)
        ));
        let builder = client.post(&url).body("x");
        assert!(matches!(g.send(builder).await, Err(SsrfError::Blocked)));
        assert_eq!(count.load(Ordering::SeqCst), 0);

        // (b) 127.0.0.1/32 allowed: goes through, 302 returned as-is, redirect not followed.
        let g = guard(&["127.0.0.1/32"]);
        let client = g.client(TIMEOUT).unwrap();
        let req = g
            .request(&client, reqwest::Method::POST, &url)
            .unwrap()
            .body("{}")
            .timeout(TIMEOUT);
        let resp = g.send(req).await.unwrap();
        assert_eq!(resp.status(), reqwest::StatusCode::FOUND);
        let location = resp.headers().get("location").unwrap().to_str().unwrap();
        assert_eq!(location, format!("http://127.0.0.1:{target_port}/"));
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert_eq!(target_count.load(Ordering::SeqCst), 0);

        // (c) Bypassing check_url, the client's own resolver refuses "localhost".
        let g = UrlGuard::default();
        let client = g.client(TIMEOUT).unwrap();
        let err = client
            .get(format!("http://localhost:{port}/"))
            .send()
            .await
            .unwrap_err();
        assert!(matches!(refusal_of(&err), Some(SsrfError::Blocked)), "{err:?}");
        assert!(matches!(
            g.send(client.get(format!("http://localhost:{port}/"))).await,
            Err(SsrfError::Blocked)
        ));
        assert_eq!(count.load(Ordering::SeqCst), 1);

        // A host name allow-listed by name connects to whatever it resolves to.
        let g = guard(&["localhost"]);
        let client = g.client(TIMEOUT).unwrap();
        let resp = g
            .send(client.get(format!("http://localhost:{target_port}/")))
            .await
            .unwrap();
        assert_eq!(resp.status(), reqwest::StatusCode::OK);
        assert_eq!(target_count.load(Ordering::SeqCst), 1);

        task.abort();
        target_task.abort();
    }

    #[tokio::test]
    async fn resolver_refuses_names_resolving_to_internal_addresses() {
        let (port, count, task) = spawn_server(ok_response()).await;
        let g = UrlGuard::default();

        // A public-looking name that resolves to 127.0.0.1, sent without check_url.
        let client = g
            .client_with(TIMEOUT, stub_lookup(vec![vec![ip("127.0.0.1")]]))
            .unwrap();
        let err = client
            .get(format!("http://sink.example:{port}/"))
            .send()
            .await
            .unwrap_err();
        assert!(matches!(refusal_of(&err), Some(SsrfError::Blocked)), "{err:?}");

        // DNS rebinding: public answer at save time, 127.0.0.1 at connect time.
        let rebinding = stub_lookup(vec![vec![ip("93.184.215.14")], vec![ip("127.0.0.1")]]);
        let url = format!("http://rebind.example:{port}/");
        assert!(g.resolve_with(&url, &rebinding).await.is_ok());
        let client = g.client_with(TIMEOUT, rebinding).unwrap();
        assert!(matches!(g.send(client.get(&url)).await, Err(SsrfError::Blocked)));

        // Mixed public + internal answer: refused as a whole.
        let client = g
            .client_with(TIMEOUT, stub_lookup(vec![vec![ip("8.8.8.8"), ip("10.0.0.1")]]))
            .unwrap();
        assert!(matches!(
            g.send(client.get(format!("http://mixed.example:{port}/"))).await,
            Err(SsrfError::Blocked)
        ));
        assert_eq!(count.load(Ordering::SeqCst), 0);

        // Unresolvable name: same message as blocked.
        let client = g.client_with(TIMEOUT, stub_lookup(vec![vec![]])).unwrap();
        let err = g
            .send(client.get(format!("http://nx.example:{port}/")))
            .await
            .unwrap_err();
        assert!(matches!(err, SsrfError::Unresolvable));
        assert_eq!(err.to_string(), SsrfError::Blocked.to_string());

        // With 127.0.0.1/32 allowed, the resolved (checked) address is the one connected to.
        let g = guard(&["127.0.0.1/32"]);
        let client = g
            .client_with(TIMEOUT, stub_lookup(vec![vec![ip("127.0.0.1")]]))
            .unwrap();
        let resp = g
            .send(client.get(format!("http://sink.example:{port}/")))
            .await
            .unwrap();
        assert_eq!(resp.status(), reqwest::StatusCode::OK);
        assert_eq!(count.load(Ordering::SeqCst), 1);
        task.abort();
    }
}
