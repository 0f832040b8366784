//! Progress of long transfers, copies and compressions: counted here, shown by the renderer
//! (a bar on a terminal, `progress` events in JSON lines, nothing in machine-readable output).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, ReadBuf};

use crate::event::Ui;

/// Counts bytes and reports at most a few times a second.
pub struct Progress {
    ui: Ui,
    label: String,
    total: Option<u64>,
    done: AtomicU64,
    last: Mutex<Instant>,
}

impl Progress {
    pub fn new(ui: &Ui, label: impl Into<String>, total: Option<u64>) -> Arc<Progress> {
        let p = Arc::new(Progress {
            ui: ui.clone(),
            label: label.into(),
            total,
            done: AtomicU64::new(0),
            last: Mutex::new(Instant::now()),
        });
        p.ui.progress(&p.label, 0, total);
        p
    }

    pub fn add(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        let due = self.last.lock().map(|mut l| {
            let due = l.elapsed() >= Duration::from_millis(250);
            if due {
                *l = Instant::now();
            }
            due
        });
        if due.unwrap_or(false) {
            self.ui.progress(&self.label, done, self.total);
        }
    }

    /// The final report (done == total for a complete transfer).
    pub fn finish(&self) {
        let done = self.done.load(Ordering::Relaxed);
        self.ui.progress(&self.label, done, Some(self.total.unwrap_or(done)));
    }

    /// The total given to [`Progress::new`], if any.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}

/// Wraps a reader and counts what passes through it.
pub struct ProgressReader<R> {
    inner: R,
    progress: Arc<Progress>,
}

impl<R> ProgressReader<R> {
    pub fn new(inner: R, progress: Arc<Progress>) -> ProgressReader<R> {
        ProgressReader { inner, progress }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for ProgressReader<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.progress.add(n as u64);
        }
        r
    }
}

/// Copies the local file `src` to `dst` reporting progress (blocking; run it off the runtime).
pub fn copy_file_with_progress(
    src: &std::path::Path,
    dst: &std::path::Path,
    progress: &Progress,
) -> std::io::Result<u64> {
    copy_with_progress(src, &mut std::fs::File::create(dst)?, progress)
}

/// Copies the local file `src` into `dst` reporting progress (blocking; run it off the runtime).
pub fn copy_with_progress(src: &std::path::Path, dst: &mut std::fs::File, progress: &Progress) -> std::io::Result<u64> {
    use std::io::{Read, Write};
    let mut r = std::fs::File::open(src)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, dst);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        w.write_all(&buf[..n])?;
        progress.add(n as u64);
        total += n as u64;
    }
    w.flush()?;
    progress.finish();
    Ok(total)
}

/// `1.5 GiB`, `300 MiB`, `12 KiB`, `512 B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, MemoryRenderer};
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn counts_and_finishes() {
        let r = MemoryRenderer::default();
        let ui = Ui::new(Box::new(r.clone())).for_build("b");
        let p = Progress::new(&ui, "uploading x", Some(10));
        let mut rd = ProgressReader::new(&b"0123456789"[..], Arc::clone(&p));
        let mut out = Vec::new();
        rd.read_to_end(&mut out).await.unwrap();
        p.finish();
        assert_eq!(p.done(), 10);
        let last = r.events().pop().unwrap();
        assert_eq!(
            last,
            Event::Progress { build: Some("b".into()), label: "uploading x".into(), done: 10, total: Some(10) }
        );
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
