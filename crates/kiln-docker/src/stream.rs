//! Byte plumbing between files, async streams and the blocking tar code.

use std::io;
use std::path::Path;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// Size of the chunks read from files and readers.
pub(crate) const CHUNK: usize = 256 * 1024;

/// A file as a request body stream.
pub(crate) async fn file_stream(path: &Path) -> io::Result<impl Stream<Item = io::Result<Bytes>> + Send + 'static> {
    let file = tokio::fs::File::open(path).await?;
    Ok(reader_stream(file))
}

/// Any reader as a stream of chunks.
pub(crate) fn reader_stream<R: AsyncRead + Send + Unpin + 'static>(
    reader: R,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures_util::stream::unfold(Some(reader), |state| async move {
        let mut reader = state?;
        let mut buf = vec![0u8; CHUNK];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(reader)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// Writes an engine's byte stream to `dest`, removing the partial file on failure.
/// Returns the number of bytes written.
pub(crate) async fn stream_to_file<S>(stream: S, dest: &Path, action: &str) -> Result<u64>
where
    S: Stream<Item = Result<Bytes, bollard::errors::Error>>,
{
    let result = async {
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(|e| Error::io(format!("{action}: creating {}", dest.display()), e))?;
        let mut total = 0u64;
        futures_util::pin_mut!(stream);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Error::engine(action, e))?;
            file.write_all(&chunk).await.map_err(|e| Error::io(format!("{action}: writing {}", dest.display()), e))?;
            total += chunk.len() as u64;
        }
        file.flush().await.map_err(|e| Error::io(format!("{action}: writing {}", dest.display()), e))?;
        Ok(total)
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(dest).await;
    }
    result
}

/// A blocking `Write` that hands its bytes to an async consumer in chunks.
pub(crate) struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    pub(crate) fn new(tx: mpsc::Sender<io::Result<Bytes>>) -> Self {
        ChannelWriter { tx, buf: Vec::with_capacity(CHUNK) }
    }

    fn send_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the engine stopped reading"))
    }
}

impl io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > CHUNK {
            self.send_buf()?;
        }
        if data.len() >= CHUNK {
            self.tx
                .blocking_send(Ok(Bytes::copy_from_slice(data)))
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the engine stopped reading"))?;
        } else {
            self.buf.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buf()
    }
}

/// The receiving end of a [`ChannelWriter`] as a stream.
pub(crate) fn channel_stream(
    rx: mpsc::Receiver<io::Result<Bytes>>,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

/// A blocking `Read` over chunks an async producer sends.
pub(crate) struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl ChannelReader {
    pub(crate) fn new(rx: mpsc::Receiver<io::Result<Bytes>>) -> Self {
        ChannelReader { rx, cur: Bytes::new() }
    }
}

impl io::Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.cur = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len());
        out[..n].copy_from_slice(&self.cur.split_to(n));
        Ok(n)
    }
}
