//! A connection to the SSH server that a builder opened before the communicator, for the first
//! attempt to continue on (QEMU's wait for the guest's sshd reads the first byte of its banner).
//! A second connection would cost a booting guest one more sshd started for it: OpenSSH runs a
//! new copy of itself for every connection, 0.3-0.4 s of an emulated CPU.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The handed-over connection, taken by the first attempt only (clones share it). Empty by
/// default: every attempt connects.
#[derive(Clone, Default)]
pub struct Opened(Arc<Mutex<Option<Replay>>>);

impl Opened {
    /// `stream`, from which `read` was already read.
    pub fn new(stream: TcpStream, read: Vec<u8>) -> Opened {
        Opened(Arc::new(Mutex::new(Some(Replay { read, at: 0, stream }))))
    }

    /// The connection, once.
    pub(crate) fn take(&self) -> Option<Replay> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.0.lock().map(|o| o.is_some()).unwrap_or(false);
        f.write_str(if held { "Opened(held)" } else { "Opened(none)" })
    }
}

/// The stream with the bytes already read from it given back first.
pub(crate) struct Replay {
    read: Vec<u8>,
    at: usize,
    stream: TcpStream,
}

impl AsyncRead for Replay {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.at < this.read.len() {
            let n = buf.remaining().min(this.read.len() - this.at);
            buf.put_slice(&this.read[this.at..this.at + n]);
            this.at += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Replay {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn the_bytes_read_come_first_then_the_stream_and_only_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"SSH-2.0-test\r\n").await.unwrap();
            let mut got = [0u8; 4];
            s.read_exact(&mut got).await.unwrap();
            got
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        let mut first = [0u8; 3];
        c.read_exact(&mut first).await.unwrap();
        let opened = Opened::new(c, first.to_vec());
        let clone = opened.clone();
        assert_eq!(format!("{opened:?}"), "Opened(held)");
        let mut r = clone.take().unwrap();
        assert!(opened.take().is_none(), "taken twice");
        assert_eq!(format!("{opened:?}"), "Opened(none)");
        // A small buffer: the replayed bytes come in pieces too.
        let mut two = [0u8; 2];
        r.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"SS");
        let mut rest = Vec::new();
        let mut line = [0u8; 12];
        r.read_exact(&mut line).await.unwrap();
        rest.extend_from_slice(&line);
        assert_eq!(rest, b"H-2.0-test\r\n");
        r.write_all(b"ping").await.unwrap();
        assert_eq!(&server.await.unwrap(), b"ping");
        assert!(Opened::default().take().is_none());
    }
}
