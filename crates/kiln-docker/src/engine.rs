//! Connecting to the engine: `DOCKER_HOST` like the docker CLI, API version negotiation,
//! and the two request timeouts.

use std::time::Duration;

use bollard::{ClientVersion, Docker, API_DEFAULT_VERSION};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{Error, Result};

/// Where the docker CLI looks when `DOCKER_HOST` is unset.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The host [`Engine::connect`] uses instead of `DOCKER_HOST`, when set.
static HOST_OVERRIDE: std::sync::RwLock<Option<String>> = std::sync::RwLock::new(None);

/// Makes every later [`Engine::connect`] in this process (the docker builder's, the
/// post-processors') use `host` instead of `DOCKER_HOST`; None goes back to the
/// environment. For programs embedding kiln and for tests, which cannot safely
/// change the environment of a running multi-threaded process.
pub fn set_host_override(host: Option<String>) {
    if let Ok(mut h) = HOST_OVERRIDE.write() {
        *h = host;
    }
}

/// Timeout for quick requests (inspect, create, start, remove, tag).
const QUICK_TIMEOUT: Duration = Duration::from_secs(120);
/// Timeout for requests whose answer waits for bulk work: commit, export, import,
/// push, pull, save, uploads. bollard's timeout covers the request up to the response
/// headers, so an upload's whole body counts against it.
const LONG_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// A connection to a Docker Engine API: Docker Engine, or podman's compatible service.
///
/// Cheap to clone; every request opens its own connection.
#[derive(Clone)]
pub struct Engine {
    pub(crate) api: Docker,
    pub(crate) long: Docker,
    host: String,
    version: ClientVersion,
    /// podman's service (its `/_ping` names a libpod API version).
    podman: bool,
}

/// Where an engine listens, parsed from a `DOCKER_HOST` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `unix:///path/to.sock`
    Unix(String),
    /// `tcp://host:port` (or `http://host:port`), without TLS.
    Tcp(String),
}

impl Endpoint {
    /// Parses a `DOCKER_HOST` value the way the docker CLI reads it.
    pub fn parse(host: &str) -> Result<Endpoint> {
        let host = host.trim();
        if let Some(path) = host.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(Error::Host(
                    "DOCKER_HOST \"unix://\" has no socket path; use e.g. unix:///var/run/docker.sock".into(),
                ));
            }
            return Ok(Endpoint::Unix(path.to_string()));
        }
        if let Some(addr) = host.strip_prefix("tcp://").or_else(|| host.strip_prefix("http://")) {
            let addr = addr.trim_end_matches('/');
            if addr.is_empty() {
                return Err(Error::Host(format!("DOCKER_HOST {host:?} has no address")));
            }
            // The CLI's default port for plain tcp:// is 2375.
            let addr =
                if addr.rsplit_once(':').is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
                    addr.to_string()
                } else {
                    format!("{addr}:2375")
                };
            return Ok(Endpoint::Tcp(addr));
        }
        let scheme = host.split_once("://").map(|(s, _)| s).unwrap_or("");
        Err(Error::Host(match scheme {
            "https" => format!("DOCKER_HOST {host:?}: TLS connections to the engine are not supported yet; use a unix socket or tcp:// on a trusted network"),
            "ssh" => format!("DOCKER_HOST {host:?}: ssh:// is not supported yet; forward the remote socket (ssh -L /tmp/docker.sock:/var/run/docker.sock) and use unix:///tmp/docker.sock"),
            "" => format!("DOCKER_HOST {host:?} has no scheme; use unix:///path/to/docker.sock or tcp://host:port"),
            other => format!("DOCKER_HOST {host:?}: the scheme {other}:// is not supported; use unix:// or tcp://"),
        }))
    }

    /// The `DOCKER_HOST` form of this endpoint.
    pub fn to_host(&self) -> String {
        match self {
            Endpoint::Unix(path) => format!("unix://{path}"),
            Endpoint::Tcp(addr) => format!("tcp://{addr}"),
        }
    }
}

impl Engine {
    /// Connects like the docker CLI: `DOCKER_HOST`, else `/var/run/docker.sock`
    /// (see also [`set_host_override`]). `DOCKER_TLS_VERIFY` with a tcp host is
    /// refused rather than silently ignored.
    pub async fn connect() -> Result<Engine> {
        let forced = HOST_OVERRIDE.read().ok().and_then(|h| h.clone());
        if let Some(host) = forced {
            return Engine::connect_to(&host).await;
        }
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        if std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty()) && !host.starts_with("unix://") {
            return Err(Error::Host(format!(
                "DOCKER_TLS_VERIFY is set for {host}: TLS connections to the engine are not supported yet"
            )));
        }
        Engine::connect_to(&host).await
    }

    /// Connects to `host` (a `DOCKER_HOST` value) and negotiates the API version: the
    /// engine's own (from `/_ping`'s `API-Version` header) when it is older than the
    /// client's, as the docker CLI does. Fails when the engine does not answer.
    pub async fn connect_to(host: &str) -> Result<Engine> {
        let endpoint = Endpoint::parse(host)?;
        let (server, podman) = ping_endpoint_full(&endpoint, Duration::from_secs(30))
            .await
            .map_err(|e| Error::io(format!("connecting to the Docker engine at {host}"), e))?;
        let mut version = ClientVersion {
            major_version: API_DEFAULT_VERSION.major_version,
            minor_version: API_DEFAULT_VERSION.minor_version,
        };
        if let Some(server) = server {
            if server < version {
                version = server;
            }
        }
        let connect = |timeout: Duration| -> Result<Docker> {
            let secs = timeout.as_secs();
            match &endpoint {
                Endpoint::Unix(path) => Docker::connect_with_unix(path, secs, &version),
                Endpoint::Tcp(addr) => Docker::connect_with_http(addr, secs, &version),
            }
            .map_err(|e| Error::engine(format!("connecting to {host}"), e))
        };
        Ok(Engine {
            api: connect(QUICK_TIMEOUT)?,
            long: connect(LONG_TIMEOUT)?,
            host: endpoint.to_host(),
            version,
            podman,
        })
    }

    /// Sets the timeout for bulk operations (default 6 hours).
    pub fn with_long_timeout(mut self, timeout: Duration) -> Engine {
        self.long = self.long.with_timeout(timeout);
        self
    }

    /// The engine's address, in `DOCKER_HOST` form.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The API version the requests use, e.g. "1.41" against podman 4.
    pub fn api_version(&self) -> String {
        format!("{}.{}", self.version.major_version, self.version.minor_version)
    }

    /// Whether the engine is podman's service rather than Docker Engine (where they behave
    /// differently, e.g. podman goes on with a build whose client has gone).
    pub fn is_podman(&self) -> bool {
        self.podman
    }

    /// Checks that the engine answers.
    pub async fn ping(&self) -> Result<()> {
        self.api.ping().await.map(|_| ()).map_err(|e| Error::engine(format!("pinging {}", self.host), e))
    }
}

/// `GET /_ping` by hand: it is the cheapest request every engine answers, and its
/// `API-Version` header spares the `/version` call (which takes ~0.4 s on podman,
/// because it asks conmon and the OCI runtime for their versions).
///
/// Returns the engine's API version when it sends one.
pub async fn ping_endpoint(endpoint: &Endpoint, timeout: Duration) -> std::io::Result<Option<ClientVersion>> {
    ping_endpoint_full(endpoint, timeout).await.map(|(v, _)| v)
}

/// [`ping_endpoint`], and whether the engine is podman's service.
async fn ping_endpoint_full(endpoint: &Endpoint, timeout: Duration) -> std::io::Result<(Option<ClientVersion>, bool)> {
    let answer = tokio::time::timeout(timeout, async {
        match endpoint {
            Endpoint::Unix(path) => {
                #[cfg(unix)]
                {
                    let stream = tokio::net::UnixStream::connect(path).await?;
                    ping_over(stream).await
                }
                #[cfg(not(unix))]
                {
                    let _ = path;
                    Err(std::io::Error::other("unix sockets need a unix host"))
                }
            }
            Endpoint::Tcp(addr) => ping_over(tokio::net::TcpStream::connect(addr).await?).await,
        }
    })
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer to /_ping"))??;
    parse_ping(&answer)
}

async fn ping_over<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) -> std::io::Result<Vec<u8>> {
    stream.write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n").await?;
    let mut answer = Vec::new();
    // The answer is a few hundred bytes; stop after the headers if the engine keeps
    // the connection open anyway.
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.windows(4).any(|w| w == b"\r\n\r\n") || answer.len() > 64 * 1024 {
            break;
        }
    }
    Ok(answer)
}

/// The API version `/_ping`'s answer gives, if any, and whether it came from podman.
fn parse_ping(answer: &[u8]) -> std::io::Result<(Option<ClientVersion>, bool)> {
    let text = String::from_utf8_lossy(answer);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or("");
    let code = status.split_whitespace().nth(1).unwrap_or("");
    if !status.starts_with("HTTP/") || code != "200" {
        return Err(std::io::Error::other(format!("not a Docker engine: /_ping answered {:?}", status)));
    }
    let (mut version, mut podman) = (None, false);
    for line in lines.take_while(|l| !l.is_empty()) {
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim();
            if name.eq_ignore_ascii_case("api-version") {
                version = parse_version(value.trim());
            } else if name.eq_ignore_ascii_case("libpod-api-version") {
                podman = true;
            }
        }
    }
    Ok((version, podman))
}

fn parse_version(v: &str) -> Option<ClientVersion> {
    let (major, minor) = v.split_once('.')?;
    Some(ClientVersion { major_version: major.parse().ok()?, minor_version: minor.parse().ok()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_forms() {
        assert_eq!(
            Endpoint::parse("unix:///run/podman/podman.sock").unwrap(),
            Endpoint::Unix("/run/podman/podman.sock".into())
        );
        assert_eq!(Endpoint::parse("tcp://127.0.0.1:2376").unwrap(), Endpoint::Tcp("127.0.0.1:2376".into()));
        assert_eq!(Endpoint::parse("tcp://docker.internal").unwrap(), Endpoint::Tcp("docker.internal:2375".into()));
        for bad in ["unix://", "https://h:2376", "ssh://me@h", "/var/run/docker.sock", "npipe:////./pipe/x"] {
            let err = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(err.contains("DOCKER_HOST"), "{bad}: {err}");
        }
    }

    #[test]
    fn ping_answer_gives_the_api_version() {
        let podman =
            b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nLibpod-Api-Version: 4.3.1\r\nContent-Length: 2\r\n\r\nOK";
        let (v, is_podman) = parse_ping(podman).unwrap();
        let v = v.unwrap();
        assert_eq!((v.major_version, v.minor_version, is_podman), (1, 41, true));
        let docker = b"HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\nDocker-Experimental: false\r\n\r\nOK";
        assert!(!parse_ping(docker).unwrap().1);
        assert!(parse_ping(b"HTTP/1.1 200 OK\r\n\r\nOK").unwrap().0.is_none());
        assert!(parse_ping(b"HTTP/1.1 404 Not Found\r\n\r\n").is_err());
        assert!(parse_ping(b"SSH-2.0-OpenSSH_9.2\r\n").is_err());
    }
}
