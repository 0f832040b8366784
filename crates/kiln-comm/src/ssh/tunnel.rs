//! Packer's SSH port forwarding: `ssh_local_tunnels` (`ssh -L`: a port on this machine's
//! loopback reaches a host and port as seen from the machine being built) and
//! `ssh_remote_tunnels` (`ssh -R`: a port on the machine's loopback reaches a host and port as
//! seen from here). Each entry is `PORT:HOST:HOSTPORT`; both ends of the listening side are on
//! the loopback address, as in Packer.

use std::sync::Arc;

use russh::client::{Handle, Msg};
use russh::Channel;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use kiln_core::{Error, Result};

/// One `PORT:HOST:HOSTPORT` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The port that listens (here for a local tunnel, on the machine for a remote one).
    pub listen: u16,
    /// Where connections to it go.
    pub host: String,
    pub port: u16,
}

impl Spec {
    /// Parses `PORT:HOST:HOSTPORT` (a bracketed IPv6 host is allowed: `8080:[::1]:80`).
    pub fn parse(text: &str) -> std::result::Result<Spec, String> {
        let bad = |why: &str| format!("{text:?} {why}: write it as PORT:HOST:HOSTPORT, e.g. \"8080:localhost:80\"");
        let (listen, rest) = text.split_once(':').ok_or_else(|| bad("has no ':'"))?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("has no host port"))?;
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        if host.is_empty() || host.contains(':') && !rest.starts_with('[') {
            // A fourth field is OpenSSH's bind address, which Packer does not take either.
            return Err(bad("is not three fields (a bind address is not supported)"));
        }
        let number = |s: &str, what: &str| match s.parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(bad(&format!("has an invalid {what} {s:?} (1-65535)"))),
        };
        Ok(Spec { listen: number(listen, "port")?, host: host.to_string(), port: number(port, "host port")? })
    }
}

/// Copies both ways between a forwarded channel and a TCP connection until either side ends.
async fn splice(channel: Channel<Msg>, tcp: TcpStream) {
    let mut ch = channel.into_stream();
    let mut tcp = tcp;
    let _ = tokio::io::copy_bidirectional(&mut ch, &mut tcp).await;
}

/// A connection the machine's sshd forwards from a remote tunnel's port: connects it to the
/// tunnel's target here. Unknown ports are refused.
pub(super) fn forwarded(remote: &[Spec], connected_port: u32, channel: Channel<Msg>) -> bool {
    let Some(spec) = remote.iter().find(|s| u32::from(s.listen) == connected_port).cloned() else { return false };
    tokio::spawn(async move {
        match TcpStream::connect((spec.host.as_str(), spec.port)).await {
            Ok(tcp) => splice(channel, tcp).await,
            Err(_) => {
                let _ = channel.close().await;
            }
        }
    });
    true
}

/// Asks the machine's sshd to listen on each remote tunnel's port (again after a reconnect).
pub(super) async fn request_remote(h: &Handle<super::Client>, remote: &[Spec]) -> Result<()> {
    for s in remote {
        h.tcpip_forward("127.0.0.1", u32::from(s.listen)).await.map_err(|e| {
            Error::new(format!(
                "ssh_remote_tunnels: the machine refused to listen on 127.0.0.1:{} ({e}); \
                 is the port in use there, or AllowTcpForwarding off in its sshd_config?",
                s.listen
            ))
        })?;
    }
    Ok(())
}

/// The listeners of the local tunnels; they stop when this is dropped (with the communicator).
#[derive(Default)]
pub(super) struct Listeners(Vec<JoinHandle<()>>);

impl Drop for Listeners {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// Listens on 127.0.0.1 at each local tunnel's port; each connection opens a `direct-tcpip`
/// channel on the current connection (`conn`, which a reconnect replaces).
pub(super) async fn listen_local(conn: &Arc<Mutex<super::Conn>>, local: &[Spec]) -> Result<Listeners> {
    let mut out = Listeners::default();
    for s in local {
        let listener = TcpListener::bind(("127.0.0.1", s.listen)).await.map_err(|e| {
            Error::new(format!("ssh_local_tunnels: cannot listen on 127.0.0.1:{} ({e}); choose a free port", s.listen))
        })?;
        let (conn, spec) = (Arc::clone(conn), s.clone());
        out.0.push(tokio::spawn(async move {
            while let Ok((tcp, peer)) = listener.accept().await {
                let conn = Arc::clone(&conn);
                let spec = spec.clone();
                tokio::spawn(async move {
                    let opened = {
                        let c = conn.lock().await;
                        c.0.channel_open_direct_tcpip(
                            spec.host.clone(),
                            u32::from(spec.port),
                            "127.0.0.1",
                            u32::from(peer.port()),
                        )
                        .await
                    };
                    // A refused channel (nothing listens there) closes the local connection.
                    if let Ok(ch) = opened {
                        splice(ch, tcp).await;
                    }
                });
            }
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let s = Spec::parse("10022:localhost:22").unwrap();
        assert_eq!(s, Spec { listen: 10022, host: "localhost".into(), port: 22 });
        assert_eq!(Spec::parse("8080:[::1]:80").unwrap().host, "::1");
        for bad in ["10022", "a:b:c", "1:host", "0:h:1", "1:h:70000", "127.0.0.1:1:h:2", "1::2"] {
            let e = Spec::parse(bad).unwrap_err();
            assert!(e.contains("PORT:HOST:HOSTPORT"), "{bad}: {e}");
        }
    }
}
