//! Noticing the moment the guest's SSH server answers through QEMU's user-mode network.
//!
//! QEMU's port forward accepts a host connection at once, whether or not anything listens in
//! the guest, and then holds it while it retries its own SYN to the guest with a growing back-off.
//! Measured here: while the guest boots, one connection stays silent for as long as the client
//! waits, and the connection that finally gets the banner gets it up to 20 s after sshd started
//! (the retry interval it had reached). A single client that waits on one connection at a time
//! (as any SSH library does) so loses seconds to tens of seconds. [`wait_for_banner`] keeps a few
//! staggered probes in flight, so one of them always has a fresh retry, and returns when the
//! first reads `SSH-`; the real login that follows then succeeds at its first attempt.
//!
//! A probe must not give up too early: on a loaded host, an emulated guest's sshd took longer
//! than 6 s to send its banner to a connection it had accepted (it re-executes itself for each
//! one), and probes cut at 6 s were replaced by new ones that met the same fate for minutes.

use std::time::Duration;

use kiln_core::{Error, Result};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// A new probe this often (while fewer than [`IN_FLIGHT`] are open).
const EVERY: Duration = Duration::from_millis(500);
/// How long one probe waits for the banner.
const PROBE_LIMIT: Duration = Duration::from_secs(30);
/// Probes in flight at most (sshd's default `MaxStartups` starts refusing at 10, and each
/// accepted connection costs the guest an sshd process).
const IN_FLIGHT: usize = 6;

/// One probe: true when the port answered with an SSH banner.
async fn probe(port: u16) -> bool {
    let attempt = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.ok()?;
        Some(&buf == b"SSH-")
    };
    tokio::time::timeout(PROBE_LIMIT, attempt).await.ok().flatten().unwrap_or(false)
}

/// Waits until `127.0.0.1:port` answers with an SSH banner, at most `timeout`.
pub async fn wait_for_banner(port: u16, timeout: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut probes = JoinSet::new();
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(Error::new(format!(
                        "Timeout waiting for SSH: nothing answered on 127.0.0.1:{port} (the guest's port 22) within {}",
                        kiln_config::golang::format_go_duration(timeout)
                    )));
                }
                if probes.len() < IN_FLIGHT {
                    probes.spawn(probe(port));
                }
            }
            Some(done) = probes.join_next(), if !probes.is_empty() => {
                if done.unwrap_or(false) {
                    // The other probes are aborted when the set is dropped.
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn returns_when_a_banner_comes_and_times_out_on_silence() {
        // A listener that holds connections silently at first, as QEMU's forward does.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let start = tokio::time::Instant::now();
        let server = tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                if start.elapsed() > Duration::from_millis(1500) {
                    let _ = s.write_all(b"SSH-2.0-test\r\n").await;
                }
                held.push(s);
            }
        });
        wait_for_banner(port, Duration::from_secs(20)).await.unwrap();
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(1500) && took < Duration::from_secs(4), "{took:?}");
        server.abort();

        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let e = wait_for_banner(port, Duration::from_secs(1)).await.unwrap_err();
        assert!(e.message.contains("Timeout waiting for SSH"), "{e}");
    }
}
