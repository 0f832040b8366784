//! Connecting the moment the guest's sshd answers, without loading the booting guest.
//!
//! QEMU's user-mode network accepts a host connection on the forwarded port at once and sends
//! the guest a SYN. A guest whose network is not up yet never answers it, and QEMU repeats the
//! SYN with a growing back-off: seconds after the guest's sshd listens. A connection given up
//! on the host side stays in QEMU in `SYN_SENT` (seen with `info usernet`), still repeating its
//! SYN, and is accepted later by the guest's sshd: one more sshd process started for nothing
//! while the guest boots (enough of them and sshd's `MaxStartups` drops the real one).
//!
//! So kiln sends nothing before the guest has spoken on its network: QEMU's `filter-dump`
//! (added over QMP once the VM runs) writes the network's frames to a pcap file, and the first
//! frame with a source address other than QEMU's own is the sign. Then it probes: a
//! connection the guest refuses ends at once (retried after [`RETRY`]); one that stays silent for
//! [`SILENCE`] while QEMU shows no established connection lost its SYN and is replaced; the first
//! byte of a banner ends the wait, and the communicator connects.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::qmp::Qmp;

/// The id of kiln's `filter-dump` object.
pub const FILTER_ID: &str = "kiln-netwatch";

/// How often the dump is read.
const POLL: Duration = Duration::from_millis(100);
/// The pause after a refused connection.
const RETRY: Duration = Duration::from_millis(250);
/// How long a probe may stay silent before its SYN is taken for lost.
const SILENCE: Duration = Duration::from_millis(1500);

/// Starts the dump of the user-mode network `netdev` into `file`. An error means no watch:
/// the caller connects the usual way.
pub async fn start(qmp: &Qmp, netdev: &str, file: &Path) -> Result<(), String> {
    qmp.execute(
        "object-add",
        Some(json!({
            "qom-type": "filter-dump",
            "id": FILTER_ID,
            "netdev": netdev,
            "file": file.display().to_string(),
            // Headers are enough: the addresses are in the first 42 bytes.
            "maxlen": 64,
        })),
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// Stops the dump (the file is left to the caller).
pub async fn stop(qmp: &Qmp) {
    let _ = qmp.execute("object-del", Some(json!({ "id": FILTER_ID }))).await;
}

/// Whether the pcap bytes hold a frame the guest sent: a source MAC that is not QEMU's (QEMU's
/// user-mode network sends from `52:55:…`). Incomplete trailing records are ignored.
pub fn guest_spoke(pcap: &[u8]) -> bool {
    let Some(magic) = pcap.get(..4) else { return false };
    let le = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return false,
    };
    let u32_at = |at: usize| -> Option<usize> {
        let b: [u8; 4] = pcap.get(at..at + 4)?.try_into().ok()?;
        usize::try_from(if le { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) }).ok()
    };
    let mut at = 24;
    while let Some(len) = u32_at(at + 8) {
        let frame_at = at + 16;
        let Some(frame) = pcap.get(frame_at..frame_at + len) else { return false };
        if let Some(src) = frame.get(6..12) {
            if src[..2] != [0x52, 0x55] {
                return true;
            }
        }
        at = frame_at + len;
    }
    false
}

/// Waits until the dump in `file` shows a guest frame.
pub async fn wait_guest_spoke(file: &Path) {
    loop {
        if let Ok(bytes) = tokio::fs::read(file).await {
            if guest_spoke(&bytes) {
                return;
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Whether QEMU's user-mode network holds a connection the guest accepted.
async fn guest_accepted(qmp: &Qmp) -> bool {
    match qmp.human_monitor_command("info usernet").await {
        Ok(text) => text.lines().any(|l| l.trim_start().starts_with("TCP[ESTABLISHED]")),
        // Unknown: keep the probe rather than leave a connection behind.
        Err(_) => true,
    }
}

/// Probes 127.0.0.1:`port` until the guest's server sends its first byte (an SSH banner), or
/// `limit` has passed. Returns whether it answered.
pub async fn wait_banner(qmp: &Qmp, port: u16, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await else {
            tokio::time::sleep(RETRY).await;
            continue;
        };
        let mut byte = [0u8; 1];
        loop {
            match tokio::time::timeout(SILENCE, s.read(&mut byte)).await {
                Ok(Ok(1..)) => return true,
                // Refused (reset) or closed: nothing listens in the guest yet.
                Ok(_) => {
                    tokio::time::sleep(RETRY).await;
                    break;
                }
                Err(_) if start.elapsed() >= limit => return false,
                // Accepted by the guest but slow to answer: keep it.
                Err(_) if guest_accepted(qmp).await => continue,
                Err(_) => break,
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(frame: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; 8];
        r.extend((frame.len() as u32).to_le_bytes());
        r.extend((frame.len() as u32).to_le_bytes());
        r.extend(frame);
        r
    }

    fn header() -> Vec<u8> {
        let mut h = vec![0xd4, 0xc3, 0xb2, 0xa1];
        h.resize(24, 0);
        h
    }

    #[test]
    fn a_frame_from_the_guest_is_seen_and_qemus_own_are_not() {
        let qemu = [[0xffu8; 6].as_slice(), &[0x52, 0x55, 10, 0, 2, 2], &[8, 0]].concat();
        let guest = [[0xffu8; 6].as_slice(), &[0x52, 0x54, 0, 0x12, 0x34, 0x56], &[8, 0]].concat();
        let mut dump = header();
        assert!(!guest_spoke(&dump));
        dump.extend(record(&qemu));
        assert!(!guest_spoke(&dump));
        let mut with_guest = dump.clone();
        with_guest.extend(record(&guest));
        assert!(guest_spoke(&with_guest));
        // A record QEMU is still writing does not count.
        let cut = with_guest.len() - 3;
        assert!(!guest_spoke(&with_guest[..cut]));
        assert!(!guest_spoke(b"not a pcap file at all"));
    }
}
