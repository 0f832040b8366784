//! Communicators across the plugin boundary, both ways: a builder plugin's communicator as
//! kiln's [`Communicator`] (kiln's provisioners over a plugin builder), and kiln's communicator
//! as the one a provisioner plugin uses (plugin provisioners over kiln's builders).

use std::io::Cursor;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use kiln_core::component::{OutputFn, Stream};
use kiln_core::{Communicator, Result};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use crate::communicator::{FileMeta, PluginCommunicator};
use crate::host::{BoxRead, BoxWrite, HostCommunicator};
use crate::runtime::on_plugin_runtime;

fn err(e: crate::Error) -> kiln_core::Error {
    kiln_core::Error::new(e.to_string())
}

async fn run<T: Send + 'static>(
    fut: impl std::future::Future<Output = crate::Result<T>> + Send + 'static,
) -> Result<T> {
    on_plugin_runtime(fut).await.and_then(|r| r).map_err(err)
}

/// Bytes written to it arrive as chunks on a channel (a command's output, read a line at a time
/// by whoever holds the receiver).
struct ChannelWriter(mpsc::UnboundedSender<(Stream, Vec<u8>)>, Stream);

impl AsyncWrite for ChannelWriter {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        // A receiver that is gone (the command was given up) just drops the output.
        let _ = self.0.send((self.1, buf.to_vec()));
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Splits chunks into lines for an [`OutputFn`], per stream.
#[derive(Default)]
struct Lines {
    out: Vec<u8>,
    err: Vec<u8>,
}

impl Lines {
    fn push(&mut self, stream: Stream, chunk: &[u8], output: OutputFn<'_>) {
        let buf = match stream {
            Stream::Stdout => &mut self.out,
            Stream::Stderr => &mut self.err,
        };
        buf.extend_from_slice(chunk);
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            let text = String::from_utf8_lossy(&line);
            output(stream, text.trim_end_matches(['\n', '\r']));
        }
    }

    fn finish(&mut self, output: OutputFn<'_>) {
        for (stream, buf) in [(Stream::Stdout, &mut self.out), (Stream::Stderr, &mut self.err)] {
            if !buf.is_empty() {
                output(stream, String::from_utf8_lossy(buf).trim_end_matches('\r'));
                buf.clear();
            }
        }
    }
}

/// A builder plugin's communicator as kiln's: commands and transfers run inside the plugin.
pub struct PluginComm(pub PluginCommunicator);

#[async_trait]
impl Communicator for PluginComm {
    async fn start(&self, command: &str, output: OutputFn<'_>) -> Result<Option<i32>> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (out, errw) = (ChannelWriter(tx.clone(), Stream::Stdout), ChannelWriter(tx, Stream::Stderr));
        let comm = self.0.clone();
        let cmd = command.to_string();
        let exec = run(async move { comm.exec(&cmd, None, Some(Box::new(out)), Some(Box::new(errw))).await });
        tokio::pin!(exec);
        let mut lines = Lines::default();
        let status = loop {
            tokio::select! {
                chunk = rx.recv() => match chunk {
                    Some((stream, bytes)) => lines.push(stream, &bytes, output),
                    None => break exec.as_mut().await?,
                },
                status = exec.as_mut() => {
                    let status = status?;
                    while let Ok((stream, bytes)) = rx.try_recv() {
                        lines.push(stream, &bytes, output);
                    }
                    break status;
                }
            }
        };
        lines.finish(output);
        // Packer's communicators report -1 (or nothing) for a command that ended without an
        // exit status.
        Ok(i32::try_from(status).ok().filter(|s| *s >= 0))
    }

    async fn upload(&self, dst: &str, data: &[u8]) -> Result<()> {
        let (comm, dst, data) = (self.0.clone(), dst.to_string(), data.to_vec());
        run(async move { comm.upload(&dst, Box::new(Cursor::new(data)), None).await }).await
    }

    async fn upload_file(&self, dst: &str, src: &Path) -> Result<()> {
        let file =
            tokio::fs::File::open(src).await.map_err(|e| kiln_core::Error::new(format!("{}: {e}", src.display())))?;
        let meta = file.metadata().await?;
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777;
        let (comm, dst) = (self.0.clone(), dst.to_string());
        let info = FileMeta { size: meta.len(), mode };
        run(async move { comm.upload(&dst, Box::new(file), Some(info)).await }).await
    }

    async fn upload_dir(&self, dst: &str, src: &Path, exclude: &[String]) -> Result<()> {
        let (comm, dst, exclude) = (self.0.clone(), dst.to_string(), exclude.to_vec());
        let src =
            src.to_str().ok_or_else(|| kiln_core::Error::new(format!("{} is not UTF-8", src.display())))?.to_string();
        run(async move { comm.upload_dir(&dst, &src, &exclude).await }).await
    }

    async fn download(&self, src: &str, dst: &Path) -> Result<()> {
        let file =
            tokio::fs::File::create(dst).await.map_err(|e| kiln_core::Error::new(format!("{}: {e}", dst.display())))?;
        let (comm, src) = (self.0.clone(), src.to_string());
        run(async move { comm.download(&src, Box::new(file)).await }).await
    }

    async fn download_dir(&self, src: &str, dst: &Path, exclude: &[String]) -> Result<()> {
        let (comm, src, exclude) = (self.0.clone(), src.to_string(), exclude.to_vec());
        let dst =
            dst.to_str().ok_or_else(|| kiln_core::Error::new(format!("{} is not UTF-8", dst.display())))?.to_string();
        run(async move { comm.download_dir(&src, &dst, &exclude).await }).await
    }
}

/// kiln's communicator as the one a provisioner plugin drives; every call runs on kiln's runtime
/// (where the communicator's connection lives).
pub struct KilnComm {
    pub comm: Arc<dyn Communicator>,
    pub kiln: Handle,
}

/// A temporary file kiln stages a transfer in, removed on drop.
struct Staged(std::path::PathBuf);

impl Staged {
    fn new() -> Staged {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!("kiln-plugin-transfer-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        Staged(std::env::temp_dir().join(name))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl KilnComm {
    async fn on_kiln<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T, String> {
        match self.kiln.spawn(f).await {
            Ok(r) => r.map_err(|e| e.message),
            Err(e) => Err(format!("the transfer failed: {e}")),
        }
    }
}

#[async_trait]
impl HostCommunicator for KilnComm {
    async fn exec(
        &self,
        command: &str,
        stdin: Option<BoxRead>,
        stdout: Option<BoxWrite>,
        stderr: Option<BoxWrite>,
    ) -> Result<i64, String> {
        // kiln's communicators take no stdin yet: the command reads EOF. Packer's provisioners
        // upload their scripts rather than pipe them.
        drop(stdin);
        let (tx, mut rx) = mpsc::unbounded_channel::<(Stream, String)>();
        let comm = self.comm.clone();
        let cmd = command.to_string();
        let task = self.on_kiln(async move {
            let sink = move |s: Stream, line: &str| {
                let _ = tx.send((s, format!("{line}\n")));
            };
            comm.start(&cmd, &sink).await
        });
        tokio::pin!(task);
        let (mut stdout, mut stderr) = (stdout, stderr);
        let status = loop {
            tokio::select! {
                line = rx.recv() => match line {
                    Some((s, l)) => write_line(&mut stdout, &mut stderr, s, l).await,
                    None => break task.as_mut().await?,
                },
                status = task.as_mut() => {
                    let status = status?;
                    while let Ok((s, l)) = rx.try_recv() {
                        write_line(&mut stdout, &mut stderr, s, l).await;
                    }
                    break status;
                }
            }
        };
        for w in [stdout.as_mut(), stderr.as_mut()].into_iter().flatten() {
            let _ = w.shutdown().await;
        }
        Ok(status.map(i64::from).unwrap_or(-1))
    }

    async fn upload(&self, dst: &str, src: BoxRead, _mode: Option<u32>) -> Result<(), String> {
        // Staged in a file: kiln's communicators upload from memory or from a path.
        let staged = Staged::new();
        let mut src = src;
        let mut file = tokio::fs::File::create(&staged.0).await.map_err(|e| format!("staging the upload: {e}"))?;
        tokio::io::copy(&mut src, &mut file).await.map_err(|e| format!("reading the upload: {e}"))?;
        file.flush().await.map_err(|e| e.to_string())?;
        drop(file);
        let (comm, dst, path) = (self.comm.clone(), dst.to_string(), staged.0.clone());
        self.on_kiln(async move { comm.upload_file(&dst, &path).await }).await
    }

    async fn upload_dir(&self, dst: &str, src: &Path, exclude: &[String]) -> Result<(), String> {
        let (comm, dst, src, exclude) = (self.comm.clone(), dst.to_string(), src.to_path_buf(), exclude.to_vec());
        self.on_kiln(async move { comm.upload_dir(&dst, &src, &exclude).await }).await
    }

    async fn download(&self, src: &str, dst: BoxWrite) -> Result<(), String> {
        let staged = Staged::new();
        let (comm, remote, path) = (self.comm.clone(), src.to_string(), staged.0.clone());
        self.on_kiln(async move { comm.download(&remote, &path).await }).await?;
        let mut file = tokio::fs::File::open(&staged.0).await.map_err(|e| format!("reading the download: {e}"))?;
        let mut dst = dst;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buf).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            dst.write_all(&buf[..n]).await.map_err(|e| format!("sending the download: {e}"))?;
        }
        dst.shutdown().await.map_err(|e| e.to_string())
    }

    async fn download_dir(&self, src: &str, dst: &Path, exclude: &[String]) -> Result<(), String> {
        let (comm, src, dst, exclude) = (self.comm.clone(), src.to_string(), dst.to_path_buf(), exclude.to_vec());
        self.on_kiln(async move { comm.download_dir(&src, &dst, &exclude).await }).await
    }
}

async fn write_line(stdout: &mut Option<BoxWrite>, stderr: &mut Option<BoxWrite>, s: Stream, line: String) {
    let w = match s {
        Stream::Stdout => stdout.as_mut(),
        Stream::Stderr => stderr.as_mut(),
    };
    if let Some(w) = w {
        let _ = w.write_all(line.as_bytes()).await;
    }
}
