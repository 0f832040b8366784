//! The marker line through which a command reports its process group, taken out of
//! its stderr.

use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

/// Takes the marker line (`<prefix><pid>`) that the command's wrapper prints first on
/// stderr out of the stream, records the pid, and passes everything else through.
pub(crate) struct MarkerFilter<W> {
    inner: W,
    prefix: String,
    pid: Arc<AtomicI64>,
    /// Still reading the first line.
    looking: bool,
    /// The first line so far.
    head: Vec<u8>,
    /// Bytes accepted but not yet written to `inner`.
    out: Vec<u8>,
}

impl<W: AsyncWrite + Unpin> MarkerFilter<W> {
    pub(crate) fn new(inner: W, prefix: String, pid: Arc<AtomicI64>) -> MarkerFilter<W> {
        MarkerFilter { inner, prefix, pid, looking: true, head: Vec::new(), out: Vec::new() }
    }

    #[cfg(test)]
    pub(crate) fn into_inner(self) -> W {
        self.inner
    }

    /// Decides about the first line once it is complete or cannot be the marker.
    fn settle(&mut self, at_end: bool) {
        if !self.looking {
            return;
        }
        let newline = self.head.iter().position(|&b| b == b'\n');
        let p = self.prefix.as_bytes();
        let n = self.head.len().min(p.len());
        let mismatch = self.head[..n] != p[..n] || self.head.len() > p.len() + 24;
        if newline.is_none() && !mismatch && !at_end {
            return;
        }
        self.looking = false;
        let head = std::mem::take(&mut self.head);
        if let Some(i) = newline {
            let line = String::from_utf8_lossy(&head[..i]);
            if let Some(pid) = line.trim_end().strip_prefix(&self.prefix).and_then(|n| n.parse::<i64>().ok()) {
                self.pid.store(pid, Ordering::SeqCst);
                self.out.extend_from_slice(&head[i + 1..]);
                return;
            }
        }
        self.out.extend_from_slice(&head);
    }

    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while !self.out.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.out) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.out.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for MarkerFilter<W> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        match this.drain(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other.map(|r| r.map(|()| 0)),
        }
        if this.looking {
            this.head.extend_from_slice(data);
            this.settle(false);
            // What settle released goes out now or on the next write or flush.
            if let Poll::Ready(Err(e)) = this.drain(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(data.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        this.settle(true);
        match this.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        this.settle(true);
        match this.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::communicator::LineWriter;
    use kiln_core::Stream;
    use std::sync::Mutex;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn lines_are_cut_and_the_marker_is_taken_out() {
        let got = Mutex::new(Vec::new());
        let out = |s: Stream, l: &str| got.lock().unwrap().push(format!("{s:?} {l}"));
        let pid = Arc::new(AtomicI64::new(0));
        let mut err = MarkerFilter::new(LineWriter::new(Stream::Stderr, &out), "kiln-pid-ab-".into(), Arc::clone(&pid));
        err.write_all(b"kiln-pid-ab-4").await.unwrap();
        err.write_all(b"2\nwarn").await.unwrap();
        err.write_all(b"ing\r\nkiln-pid-ab-7\nlast").await.unwrap();
        err.flush().await.unwrap();
        err.into_inner().finish();
        assert_eq!(pid.load(Ordering::SeqCst), 42);
        // Only the first line can be the marker.
        assert_eq!(*got.lock().unwrap(), ["Stderr warning", "Stderr kiln-pid-ab-7", "Stderr last"]);

        // A command whose first stderr line is its own keeps it; so does a short one.
        for input in [&b"oops\nmore\n"[..], b"kiln"] {
            got.lock().unwrap().clear();
            let pid = Arc::new(AtomicI64::new(0));
            let mut raw = Vec::new();
            let mut err = MarkerFilter::new(&mut raw, "kiln-pid-ab-".into(), Arc::clone(&pid));
            err.write_all(input).await.unwrap();
            err.flush().await.unwrap();
            assert_eq!(pid.load(Ordering::SeqCst), 0);
            assert_eq!(raw, input);
        }
    }
}
