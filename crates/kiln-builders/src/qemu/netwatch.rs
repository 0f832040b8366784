//! Connecting the moment the guest's sshd answers, without loading the booting guest.
//!
//! QEMU's user-mode network accepts a host connection on the forwarded port at once and sends
//! the guest a SYN. A guest whose network is not up yet never answers it, and QEMU repeats the
//! SYN with a growing back-off: seconds after the guest's sshd listens. A connection given up
//! on the host side stays in QEMU in `SYN_SENT` (seen with `info usernet`), still repeating its
//! SYN, and is accepted later by the guest's sshd: one more sshd process started for nothing
//! while the guest boots (enough of them and sshd's `MaxStartups` drops the real one).
//!
//! So kiln sends nothing before the guest has an address: QEMU's `filter-dump` (added over QMP
//! once the VM runs) writes the network's frames to a pcap file. A guest's first frames (IPv6
//! multicast reports, its DHCP request) come before it has an IPv4 address, and a SYN sent then
//! is lost (QEMU resends it only seconds later), so the sign is QEMU's DHCP acknowledgement
//! (plus [`LEASE_GRACE`] for the guest to set the address) or a frame the guest sends from an
//! IPv4 address (a static configuration); a guest that spoke but shows neither within
//! [`NO_ADDRESS_WAIT`] is probed anyway. Then it probes: a connection the guest refuses ends at
//! once (retried after [`RETRY`]); one that stays silent for [`SILENCE`] while QEMU shows no
//! established connection lost its SYN and is replaced; the first byte of a banner ends the
//! wait, and the communicator connects.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::TcpStream;

use super::qmp::Qmp;

/// The id of kiln's `filter-dump` object.
pub const FILTER_ID: &str = "kiln-netwatch";

/// How often the dump is read.
const POLL: Duration = Duration::from_millis(100);
/// From QEMU's DHCP acknowledgement to the first probe: the guest's DHCP client sets the
/// address in the meantime (measured under TCG: sshd listened 0.5-0.6 s after the
/// acknowledgement, so this costs nothing).
const LEASE_GRACE: Duration = Duration::from_millis(150);
/// How long after its first frame a guest that shows no address is waited for.
const NO_ADDRESS_WAIT: Duration = Duration::from_millis(1500);
/// The pause after a refused connection (the guest's kernel refuses it: no process started).
const RETRY: Duration = Duration::from_millis(100);
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
            // Enough for the addresses and for DHCP's options (from byte 282 of the frame).
            "maxlen": 576,
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

/// What the dump shows so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The guest sent a frame (QEMU's user-mode network sends from `52:55:…`).
    pub spoke: bool,
    /// QEMU acknowledged a DHCP request: the guest is about to set its address.
    pub leased: bool,
    /// The guest sent from an IPv4 address (an IP packet or an ARP message): it has one.
    pub addressed: bool,
}

/// Reads the pcap bytes of the dump. Incomplete trailing records are ignored.
pub fn scan(pcap: &[u8]) -> Seen {
    let mut seen = Seen::default();
    let Some(magic) = pcap.get(..4) else { return seen };
    let le = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return seen,
    };
    let u32_at = |at: usize| -> Option<usize> {
        let b: [u8; 4] = pcap.get(at..at + 4)?.try_into().ok()?;
        usize::try_from(if le { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) }).ok()
    };
    let mut at = 24;
    while let Some(len) = u32_at(at + 8) {
        let frame_at = at + 16;
        let Some(frame) = pcap.get(frame_at..frame_at + len) else { break };
        at = frame_at + len;
        let Some(src) = frame.get(6..12) else { continue };
        if src[..2] == [0x52, 0x55] {
            seen.leased |= is_dhcp_ack(frame);
        } else {
            seen.spoke = true;
            seen.addressed |= sent_from_ipv4(frame);
        }
    }
    seen
}

/// Whether an Ethernet frame comes from a non-zero IPv4 address: an IPv4 packet's source or an
/// ARP message's sender (a DHCP client's packets and ARP probes use 0.0.0.0).
fn sent_from_ipv4(frame: &[u8]) -> bool {
    let from = match frame.get(12..14) {
        Some([0x08, 0x00]) => frame.get(26..30),
        Some([0x08, 0x06]) => frame.get(28..32),
        _ => None,
    };
    from.is_some_and(|ip| ip != [0, 0, 0, 0])
}

/// Whether an Ethernet frame is a DHCP server's acknowledgement (UDP 67 → 68, BOOTP with
/// option 53, the message type, equal to 5).
fn is_dhcp_ack(frame: &[u8]) -> bool {
    if frame.get(12..14) != Some(&[0x08, 0x00]) || frame.get(23) != Some(&17) {
        return false;
    }
    let Some(&vihl) = frame.get(14) else { return false };
    let udp = 14 + usize::from(vihl & 0x0f) * 4;
    if frame.get(udp..udp + 4) != Some(&[0, 67, 0, 68]) {
        return false;
    }
    let bootp = udp + 8;
    // The fixed part is 236 bytes, then the magic cookie, then the options.
    if frame.get(bootp + 236..bootp + 240) != Some(&[99, 130, 83, 99]) {
        return false;
    }
    let mut at = bootp + 240;
    while let Some(&code) = frame.get(at) {
        match code {
            0 => at += 1,
            255 => return false,
            _ => {
                let Some(&len) = frame.get(at + 1) else { return false };
                if code == 53 {
                    return len == 1 && frame.get(at + 2) == Some(&5);
                }
                at += 2 + usize::from(len);
            }
        }
    }
    false
}

/// Waits until the dump in `file` shows that the guest has (or is about to have) an address,
/// or [`NO_ADDRESS_WAIT`] after it first spoke without one. Returns what it saw last.
pub async fn wait_guest_address(file: &Path) -> Seen {
    let mut spoke_at: Option<Instant> = None;
    loop {
        let seen = tokio::fs::read(file).await.map(|b| scan(&b)).unwrap_or_default();
        if seen.addressed {
            return seen;
        }
        if seen.leased {
            tokio::time::sleep(LEASE_GRACE).await;
            return seen;
        }
        if seen.spoke && spoke_at.get_or_insert_with(Instant::now).elapsed() >= NO_ADDRESS_WAIT {
            return seen;
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
/// `limit` has passed. Returns the connection that answered, the byte only peeked at, for the
/// communicator to go on with (see `kiln_comm::ssh::Opened`).
pub async fn wait_banner(qmp: &Qmp, port: u16, limit: Duration) -> Option<TcpStream> {
    let start = Instant::now();
    while start.elapsed() < limit {
        let Ok(s) = TcpStream::connect(("127.0.0.1", port)).await else {
            tokio::time::sleep(RETRY).await;
            continue;
        };
        let mut byte = [0u8; 1];
        loop {
            match tokio::time::timeout(SILENCE, s.peek(&mut byte)).await {
                Ok(Ok(1..)) => return Some(s),
                // Refused (reset) or closed: nothing listens in the guest yet.
                Ok(_) => {
                    tokio::time::sleep(RETRY).await;
                    break;
                }
                Err(_) if start.elapsed() >= limit => return None,
                // Accepted by the guest but slow to answer: keep it.
                Err(_) if guest_accepted(qmp).await => continue,
                Err(_) => break,
            }
        }
    }
    None
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

    fn dump(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut h = vec![0xd4, 0xc3, 0xb2, 0xa1];
        h.resize(24, 0);
        for f in frames {
            h.extend(record(f));
        }
        h
    }

    const QEMU: [u8; 6] = [0x52, 0x55, 10, 0, 2, 2];
    const GUEST: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];

    fn ether(src: [u8; 6], ethertype: [u8; 2], payload: &[u8]) -> Vec<u8> {
        [[0xffu8; 6].as_slice(), &src, &ethertype, payload].concat()
    }

    /// An IPv4 packet (20-byte header) from `src` carrying UDP `sport` → `dport` and `data`.
    fn udp(src: [u8; 4], sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0];
        ip.extend(src);
        ip.extend([255, 255, 255, 255]);
        ip.extend(sport.to_be_bytes());
        ip.extend(dport.to_be_bytes());
        ip.extend([0, 0, 0, 0]);
        ip.extend(data);
        ip
    }

    /// A BOOTP message whose options are `options` (then the end option).
    fn bootp(op: u8, options: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 236];
        b[0] = op;
        b.extend([99, 130, 83, 99]);
        b.extend(options);
        b.push(255);
        b
    }

    fn arp(sender_mac: [u8; 6], sender_ip: [u8; 4]) -> Vec<u8> {
        let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
        a.extend(sender_mac);
        a.extend(sender_ip);
        a.extend([0; 6]);
        a.extend([10, 0, 2, 2]);
        a
    }

    #[test]
    fn a_frame_from_the_guest_is_seen_and_qemus_own_are_not() {
        let qemu = ether(QEMU, [8, 6], &arp(QEMU, [10, 0, 2, 2]));
        let ipv6 = ether(GUEST, [0x86, 0xdd], &[0x60; 40]);
        assert_eq!(scan(&dump(&[])), Seen::default());
        assert_eq!(scan(&dump(std::slice::from_ref(&qemu))), Seen::default());
        let both = dump(&[qemu, ipv6]);
        assert_eq!(scan(&both), Seen { spoke: true, ..Seen::default() });
        // A record QEMU is still writing does not count.
        assert_eq!(scan(&both[..both.len() - 3]), Seen::default());
        assert_eq!(scan(b"not a pcap file at all"), Seen::default());
    }

    /// The guest's first frames come before its address: only QEMU's acknowledgement, or a
    /// frame from the guest's own IPv4 address, says it has one.
    #[test]
    fn the_address_is_seen_from_the_dhcp_ack_or_the_guests_ipv4_frames() {
        let discover = ether(GUEST, [8, 0], &udp([0; 4], 68, 67, &bootp(1, &[53, 1, 1, 55, 3, 1, 3, 6])));
        let probe = ether(GUEST, [8, 6], &arp(GUEST, [0; 4]));
        let offer = ether(QEMU, [8, 0], &udp([10, 0, 2, 2], 67, 68, &bootp(2, &[53, 1, 2, 1, 4, 255, 255, 255, 0])));
        // Padding and another option before the message type.
        let ack =
            ether(QEMU, [8, 0], &udp([10, 0, 2, 2], 67, 68, &bootp(2, &[0, 0, 1, 4, 255, 255, 255, 0, 53, 1, 5])));
        let before = scan(&dump(&[discover.clone(), probe.clone(), offer.clone()]));
        assert_eq!(before, Seen { spoke: true, ..Seen::default() });
        let after = scan(&dump(&[discover.clone(), offer, probe, ack.clone()]));
        assert_eq!(after, Seen { spoke: true, leased: true, addressed: false });
        // Cut inside the options: the type is not there yet.
        let cut = ack[..ack.len() - 3].to_vec();
        assert!(!scan(&dump(&[discover, cut])).leased);
        // A guest configured by hand: its ARP or IP packets carry its address.
        let gateway = ether(GUEST, [8, 6], &arp(GUEST, [10, 0, 2, 15]));
        assert_eq!(scan(&dump(&[gateway])), Seen { spoke: true, leased: false, addressed: true });
        let dns = ether(GUEST, [8, 0], &udp([10, 0, 2, 15], 40000, 53, b"query"));
        assert!(scan(&dump(&[dns])).addressed);
        // The same acknowledgement from the guest (a DHCP server in the guest) is no lease for it.
        let from_guest = ether(GUEST, [8, 0], &udp([10, 0, 2, 15], 67, 68, &bootp(2, &[53, 1, 5])));
        assert!(!scan(&dump(&[from_guest])).leased);
    }

    #[tokio::test]
    async fn the_wait_ends_at_the_lease_or_after_the_guest_spoke_without_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("dump.pcap");
        let ipv6 = ether(GUEST, [0x86, 0xdd], &[0x60; 40]);
        std::fs::write(&file, dump(std::slice::from_ref(&ipv6))).expect("write dump");
        let start = Instant::now();
        let seen = wait_guest_address(&file).await;
        assert!(seen.spoke && !seen.leased, "{seen:?}");
        assert!(start.elapsed() >= NO_ADDRESS_WAIT, "{:?}", start.elapsed());
        let ack = ether(QEMU, [8, 0], &udp([10, 0, 2, 2], 67, 68, &bootp(2, &[53, 1, 5])));
        std::fs::write(&file, dump(&[ipv6, ack])).expect("write dump");
        let start = Instant::now();
        assert!(wait_guest_address(&file).await.leased);
        assert!(start.elapsed() >= LEASE_GRACE && start.elapsed() < NO_ADDRESS_WAIT, "{:?}", start.elapsed());
    }
}
