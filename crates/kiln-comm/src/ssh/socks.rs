//! A SOCKS5 client (RFC 1928, with RFC 1929's user name and password) for `ssh_proxy_host`:
//! the SSH connection (to the machine, or to the bastion when there is one) goes through the
//! proxy's `CONNECT`. The proxy resolves the host name.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn protocol(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// What a SOCKS5 reply code means (RFC 1928, section 6).
fn reply_text(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown error",
    }
}

/// Connects to `host:port` through the SOCKS5 proxy at `proxy:proxy_port`, logging in with
/// `auth` (user, password) when given.
pub async fn connect(
    proxy: &str,
    proxy_port: u16,
    auth: Option<(&str, &str)>,
    host: &str,
    port: u16,
) -> io::Result<TcpStream> {
    let mut s = TcpStream::connect((proxy, proxy_port)).await?;
    s.set_nodelay(true)?;
    // Methods offered: none, and user/password when there are credentials.
    let methods: &[u8] = if auth.is_some() { &[0x00, 0x02] } else { &[0x00] };
    let mut hello = vec![5, methods.len() as u8];
    hello.extend_from_slice(methods);
    s.write_all(&hello).await?;
    let mut chosen = [0u8; 2];
    s.read_exact(&mut chosen).await?;
    if chosen[0] != 5 {
        return Err(protocol(format!("{proxy}:{proxy_port} is not a SOCKS5 proxy")));
    }
    match (chosen[1], auth) {
        (0x00, _) => {}
        (0x02, Some((user, password))) => {
            if user.len() > 255 || password.len() > 255 {
                return Err(protocol("the SOCKS5 user name and password are limited to 255 bytes each"));
            }
            let mut req = vec![1, user.len() as u8];
            req.extend_from_slice(user.as_bytes());
            req.push(password.len() as u8);
            req.extend_from_slice(password.as_bytes());
            s.write_all(&req).await?;
            let mut status = [0u8; 2];
            s.read_exact(&mut status).await?;
            if status[1] != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "the SOCKS5 proxy refused ssh_proxy_username and ssh_proxy_password",
                ));
            }
        }
        (0xff, _) => {
            let why = if auth.is_some() { "" } else { " (set ssh_proxy_username and ssh_proxy_password)" };
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("the SOCKS5 proxy accepts none of the login methods offered{why}"),
            ));
        }
        (m, _) => return Err(protocol(format!("the SOCKS5 proxy chose a method that was not offered ({m})"))),
    }
    if host.len() > 255 {
        return Err(protocol("a host name longer than 255 bytes cannot go through SOCKS5"));
    }
    let mut req = vec![5, 1, 0];
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            req.push(1);
            req.extend_from_slice(&ip.octets());
        }
        Ok(std::net::IpAddr::V6(ip)) => {
            req.push(4);
            req.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            req.push(3);
            req.push(host.len() as u8);
            req.extend_from_slice(host.as_bytes());
        }
    }
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).await?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await?;
    if head[1] != 0 {
        return Err(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("the SOCKS5 proxy could not reach {host}:{port}: {}", reply_text(head[1])),
        ));
    }
    // The address the proxy bound, then its port: read and dropped.
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => {
            let mut len = [0u8; 1];
            s.read_exact(&mut len).await?;
            usize::from(len[0]) + 2
        }
        t => return Err(protocol(format!("the SOCKS5 proxy answered with address type {t}"))),
    };
    let mut skip = vec![0u8; rest];
    s.read_exact(&mut skip).await?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A scripted proxy: checks the user/password login and the CONNECT request, then answers
    /// with `reply` and, on success, echoes one line.
    async fn proxy(reply: u8) -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut hello = [0u8; 4];
            s.read_exact(&mut hello).await.unwrap();
            assert_eq!(hello, [5, 2, 0, 2]);
            s.write_all(&[5, 2]).await.unwrap();
            let mut login = [0u8; 1 + 1 + 4 + 1 + 6];
            s.read_exact(&mut login).await.unwrap();
            assert_eq!(&login, b"\x01\x04kiln\x06s3cret");
            s.write_all(&[1, 0]).await.unwrap();
            let mut req = vec![0u8; 4 + 1 + 12 + 2];
            s.read_exact(&mut req).await.unwrap();
            s.write_all(&[5, reply, 0, 1, 127, 0, 0, 1, 0x12, 0x34]).await.unwrap();
            if reply == 0 {
                let mut buf = [0u8; 5];
                s.read_exact(&mut buf).await.unwrap();
                s.write_all(&buf).await.unwrap();
            }
            req
        });
        (port, task)
    }

    #[tokio::test]
    async fn logs_in_connects_by_name_and_relays() {
        let (port, task) = proxy(0).await;
        let mut s = connect("127.0.0.1", port, Some(("kiln", "s3cret")), "example.test", 22).await.unwrap();
        s.write_all(b"hello").await.unwrap();
        let mut back = [0u8; 5];
        s.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"hello");
        let req = task.await.unwrap();
        assert_eq!(req, b"\x05\x01\x00\x03\x0cexample.test\x00\x16".to_vec());
    }

    #[tokio::test]
    async fn a_refusal_says_why() {
        let (port, task) = proxy(5).await;
        let e = connect("127.0.0.1", port, Some(("kiln", "s3cret")), "example.test", 22).await.unwrap_err();
        assert_eq!(e.to_string(), "the SOCKS5 proxy could not reach example.test:22: connection refused");
        task.await.unwrap();
    }
}
