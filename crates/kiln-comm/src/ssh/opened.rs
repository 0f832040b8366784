//! A connection to the SSH server that a builder opened before the communicator, for the first
//! attempt to continue on (QEMU's wait for the guest's sshd peeks at the first byte of its
//! banner, leaving it to be read). A second connection would cost a booting guest one more sshd
//! started for it: OpenSSH runs a new copy of itself for every connection, 0.3-0.4 s of an
//! emulated CPU.

use std::sync::{Arc, Mutex};

use tokio::net::TcpStream;

/// The handed-over connection, taken by the first attempt only (clones share it). Empty by
/// default: every attempt connects.
#[derive(Clone, Default)]
pub struct Opened(Arc<Mutex<Option<TcpStream>>>);

impl Opened {
    /// `stream`, nothing read from it yet.
    pub fn new(stream: TcpStream) -> Opened {
        Opened(Arc::new(Mutex::new(Some(stream))))
    }

    /// The connection, once.
    pub(crate) fn take(&self) -> Option<TcpStream> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.0.lock().map(|o| o.is_some()).unwrap_or(false);
        f.write_str(if held { "Opened(held)" } else { "Opened(none)" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn taken_only_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let opened = Opened::new(c);
        let clone = opened.clone();
        assert_eq!(format!("{opened:?}"), "Opened(held)");
        assert!(clone.take().is_some());
        assert!(opened.take().is_none(), "taken twice");
        assert_eq!(format!("{opened:?}"), "Opened(none)");
        assert!(Opened::default().take().is_none());
    }
}
