//! Which address kiln connects from, for the temporary security group's /32 rule: the local
//! address the kernel picks towards a private target, or kiln's public address (asked of a
//! "what is my IP" service, `https://checkip.amazonaws.com` as Packer) towards a public one.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

/// Where kiln's public address is looked up (Packer's `temporary_security_group_source_public_ip`).
pub const DEFAULT_CHECKIP_URL: &str = "https://checkip.amazonaws.com";

/// True for addresses that are not routed on the internet (RFC 1918, CGNAT, link-local,
/// loopback, IPv6 unique-local and link-local): a connection to one comes from a local address.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private() || v4.is_loopback() || v4.is_link_local() || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments()[0];
            v6.is_loopback() || (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
        }
    }
}

/// The local address the kernel would send from to reach `target` (no packet is sent).
pub fn outbound_address(target: SocketAddr) -> std::io::Result<IpAddr> {
    let bind: SocketAddr =
        if target.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
    let s = UdpSocket::bind(bind)?;
    s.connect(target)?;
    Ok(s.local_addr()?.ip())
}

/// kiln's public address as the service at `url` sees it (its answer is the address as text).
pub async fn public_address(http: &reqwest::Client, url: &str) -> Result<IpAddr, String> {
    let resp = http.get(url).timeout(Duration::from_secs(10)).send().await.map_err(|e| format!("GET {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("GET {url}: HTTP {}", resp.status()));
    }
    let body = resp.text().await.map_err(|e| format!("GET {url}: {e}"))?;
    body.trim().parse().map_err(|_| format!("GET {url}: the answer {:?} is not an IP address", body.trim()))
}

/// The CIDR of one address: `/32` or `/128`.
pub fn host_cidr(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}/32"),
        IpAddr::V6(v6) => format!("{v6}/128"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_public() {
        for p in [
            "10.1.2.3",
            "172.31.0.5",
            "192.168.1.1",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(is_private(p.parse().unwrap()), "{p}");
        }
        for p in ["54.214.1.2", "203.0.113.7", "172.32.0.1", "2600:1f18::1"] {
            assert!(!is_private(p.parse().unwrap()), "{p}");
        }
        assert_eq!(host_cidr("203.0.113.7".parse().unwrap()), "203.0.113.7/32");
        assert_eq!(outbound_address("127.0.0.1:22".parse().unwrap()).unwrap(), "127.0.0.1".parse::<IpAddr>().unwrap());
    }
}
