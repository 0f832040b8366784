//! The HTTP server builders start for their guests (Packer's `http_*` options and
//! `StepHTTPServer`): serves `http_directory` or `http_content` (GET and HEAD only, nothing
//! outside the directory), on a free port of `http_port_min..http_port_max` (reserved against
//! other builds), until the step's cleanup. It sets the generated data `HTTPIP`, `HTTPPort`,
//! `PackerHTTPIP`, `PackerHTTPPort` and `PackerHTTPAddr` for boot commands and provisioners.
//!
//! kiln listens on 127.0.0.1 unless `http_bind_address` says otherwise (Packer: 0.0.0.0, every
//! interface): QEMU's user networking reaches it as 10.0.2.2, and nothing else on the network
//! can read what is served. A builder whose guests reach the host over a real network (a
//! bridge) passes its own default ([`StepHttpServer::default_bind`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::step::{Outcome, Step};
use kiln_core::{async_trait, Error, Result, RunContext};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::reserve::reserve_port_bound;
use crate::HasCommon;

/// The HTTP server options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// A directory served over HTTP to the machine (preseed and kickstart files). Its URL is
    /// `http://{{ .HTTPIP }}:{{ .HTTPPort }}/`.
    #[serde(default)]
    pub http_directory: String,
    /// Files served over HTTP, by path (`"/preseed.cfg" = "..."`), instead of `http_directory`.
    #[serde(default)]
    pub http_content: BTreeMap<String, String>,
    /// The lowest port the server may use (default 8000).
    #[serde(default)]
    pub http_port_min: Option<u16>,
    /// The highest port the server may use (default 9000).
    #[serde(default)]
    pub http_port_max: Option<u16>,
    /// The address the server listens on (kiln's default 127.0.0.1; Packer's 0.0.0.0).
    #[serde(default)]
    pub http_bind_address: String,
}

impl HttpConfig {
    /// Whether there is anything to serve (no server starts otherwise, as in Packer).
    pub fn is_enabled(&self) -> bool {
        !self.http_directory.is_empty() || !self.http_content.is_empty()
    }

    pub fn port_range(&self) -> (u16, u16) {
        (self.http_port_min.unwrap_or(8000), self.http_port_max.unwrap_or(9000))
    }

    /// Checks the options; `config` is the builder's whole configuration (for the lines).
    pub fn check(&self, config: &Node) -> Diagnostics {
        let at = |key: &str| config.span_of(key);
        let mut d = Diagnostics::new();
        if !self.http_directory.is_empty() && !self.http_content.is_empty() {
            d.push(
                Diagnostic::error("http_directory and http_content cannot both be set")
                    .at_opt(at("http_content"))
                    .with_help("serve the files of one of them"),
            );
        }
        let (min, max) = self.port_range();
        if min > max {
            d.push(
                Diagnostic::error(format!("http_port_min ({min}) must not be above http_port_max ({max})"))
                    .at_opt(at("http_port_min")),
            );
        }
        if !self.http_bind_address.is_empty() && self.http_bind_address.parse::<std::net::IpAddr>().is_err() {
            d.push(
                Diagnostic::error(format!("http_bind_address {:?} is not an IP address", self.http_bind_address))
                    .at_opt(at("http_bind_address")),
            );
        }
        d
    }
}

/// What the server serves.
#[derive(Debug, Clone)]
enum Content {
    Directory(PathBuf),
    Files(BTreeMap<String, String>),
}

/// A running server; dropping it stops it.
pub struct HttpServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    _reservation: crate::reserve::Reservation,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the HTTP server; sets [`crate::CommonState::http_addr`] and the HTTP generated data.
pub struct StepHttpServer {
    pub config: HttpConfig,
    /// The address to listen on when `http_bind_address` is not set (127.0.0.1).
    pub default_bind: String,
    /// The address the machine reaches this host at (QEMU's user network: `10.0.2.2`), for
    /// `HTTPIP`; the listening address when unset (127.0.0.1 for 0.0.0.0).
    pub guest_host: Option<String>,
}

impl StepHttpServer {
    pub fn new(config: &HttpConfig) -> StepHttpServer {
        StepHttpServer { config: config.clone(), default_bind: "127.0.0.1".into(), guest_host: None }
    }

    /// Starts a server for `config` (relative directories from `base`); `None` when there is
    /// nothing to serve.
    pub async fn start(&self, base: &Path) -> Result<Option<HttpServer>> {
        let c = &self.config;
        let content = if !c.http_directory.is_empty() {
            let dir = base.join(&c.http_directory);
            if !dir.is_dir() {
                return Err(Error::new(format!("http_directory {} is not a directory", dir.display())));
            }
            Content::Directory(dir)
        } else if !c.http_content.is_empty() {
            Content::Files(
                c.http_content.iter().map(|(k, v)| (format!("/{}", k.trim_start_matches('/')), v.clone())).collect(),
            )
        } else {
            return Ok(None);
        };
        let bind = if c.http_bind_address.is_empty() { &self.default_bind } else { &c.http_bind_address };
        let (min, max) = c.port_range();
        let (reservation, listener) = reserve_port_bound(bind, min, max, "HTTP server")?;
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let addr = listener.local_addr()?;
        let content = Arc::new(content);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let content = Arc::clone(&content);
                tokio::spawn(async move {
                    let _ = serve(stream, &content).await;
                });
            }
        });
        Ok(Some(HttpServer { addr, task, _reservation: reservation }))
    }
}

#[async_trait]
impl<S: HasCommon> Step<S> for StepHttpServer {
    fn name(&self) -> &'static str {
        "StepHTTPServer"
    }

    async fn run(&self, state: &mut S, ctx: &RunContext) -> Result<()> {
        let Some(server) = self.start(&ctx.info.template_dir).await? else {
            return Ok(());
        };
        let addr = server.addr;
        ctx.ui.say(format!("Starting HTTP server on port {}", addr.port()));
        let ip = match &self.guest_host {
            Some(h) => h.clone(),
            None if addr.ip().is_unspecified() => "127.0.0.1".into(),
            None => addr.ip().to_string(),
        };
        let c = state.common_mut();
        c.http_server = Some(server);
        c.http_addr = Some(addr);
        let port = addr.port().to_string();
        for (k, v) in [
            ("HTTPIP", ip.clone()),
            ("HTTPPort", port.clone()),
            ("PackerHTTPIP", ip.clone()),
            ("PackerHTTPPort", port.clone()),
            ("PackerHTTPAddr", format!("{ip}:{port}")),
        ] {
            c.set_data(k, v);
        }
        Ok(())
    }

    fn cleans(&self, state: &S) -> Option<String> {
        state.common().http_addr.map(|a| format!("stopping the HTTP server on {a}"))
    }

    async fn cleanup(&self, state: &mut S, _ctx: &RunContext, _outcome: Outcome) {
        let c = state.common_mut();
        c.http_server = None;
        c.http_addr = None;
    }
}

/// The request's path, percent-decoded, without query; `None` when it cannot be read.
fn request_path(target: &str) -> Option<String> {
    let raw = target.split(['?', '#']).next()?;
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The file under `dir` for `path`, or `None` when the path tries to leave it.
fn file_in(dir: &Path, path: &str) -> Option<PathBuf> {
    let mut out = dir.to_path_buf();
    for c in Path::new(path.trim_start_matches('/')).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

async fn respond(stream: &mut TcpStream, status: &str, len: u64, head_only: bool, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {len}\r\nContent-Type: {}\r\nConnection: close\r\n\r\n",
        if status.starts_with("200") { "application/octet-stream" } else { "text/plain; charset=utf-8" }
    );
    stream.write_all(head.as_bytes()).await?;
    if !head_only {
        stream.write_all(body).await?;
    }
    Ok(())
}

/// Answers one request (then closes the connection).
async fn serve(mut stream: TcpStream, content: &Content) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(30), stream.read(&mut chunk))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        if n == 0 || buf.len() > 16 * 1024 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        let msg = b"only GET and HEAD are served\n";
        return respond(&mut stream, "405 Method Not Allowed", msg.len() as u64, false, msg).await;
    }
    let not_found = |s: &'static str| (s, b"404 page not found\n".as_slice());
    let Some(path) = request_path(target) else {
        let (s, b) = not_found("400 Bad Request");
        return respond(&mut stream, s, b.len() as u64, head_only, b).await;
    };
    match content {
        Content::Files(files) => match files.get(&path) {
            Some(body) => respond(&mut stream, "200 OK", body.len() as u64, head_only, body.as_bytes()).await,
            None => {
                let (s, b) = not_found("404 Not Found");
                respond(&mut stream, s, b.len() as u64, head_only, b).await
            }
        },
        Content::Directory(dir) => {
            let file = file_in(dir, &path).map(|f| if f.is_dir() { f.join("index.html") } else { f });
            let opened = match &file {
                Some(f) => tokio::fs::File::open(f).await.ok(),
                None => None,
            };
            let meta = match &opened {
                Some(f) => f.metadata().await.ok().filter(|m| m.is_file()),
                None => None,
            };
            let (Some(mut f), Some(meta)) = (opened, meta) else {
                let (s, b) = if file.is_none() {
                    ("403 Forbidden", b"403 forbidden\n".as_slice())
                } else {
                    not_found("404 Not Found")
                };
                return respond(&mut stream, s, b.len() as u64, head_only, b).await;
            };
            respond(&mut stream, "200 OK", meta.len(), true, &[]).await?;
            if !head_only {
                tokio::io::copy(&mut f, &mut stream).await?;
            }
            stream.shutdown().await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside() {
        assert_eq!(request_path("/a%20b/c.cfg?x=1").as_deref(), Some("/a b/c.cfg"));
        assert_eq!(request_path("/%2e%2e/etc").as_deref(), Some("/../etc"));
        assert_eq!(request_path("/bad%zz"), None);
        assert_eq!(request_path("/end%2"), None);
        let d = Path::new("/srv");
        assert_eq!(file_in(d, "/ks/a.cfg"), Some(PathBuf::from("/srv/ks/a.cfg")));
        assert_eq!(file_in(d, "/../etc/passwd"), None);
        assert_eq!(file_in(d, "/a/../../etc"), None);
    }

    #[test]
    fn checks() {
        let n = kiln_template::testing::json_node(
            "t.json",
            "{\"http_directory\": \"h\", \"http_content\": {\"/a\": \"b\"},\n \"http_port_min\": 9000, \"http_port_max\": 8000, \"http_bind_address\": \"x\"}",
        )
        .unwrap();
        let c: HttpConfig = kiln_config::decode::decode(&n).unwrap();
        let d = c.check(&n);
        assert_eq!(d.0.len(), 3, "{d:?}");
        assert_eq!(d.0[0].summary, "http_directory and http_content cannot both be set");
    }
}
