//! Communicators across the plugin boundary, both ways: a builder plugin's communicator as
//! kiln's [`Communicator`] (kiln's provisioners over a plugin builder), and kiln's communicator
//! as the one a provisioner plugin uses (plugin provisioners over kiln's builders).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use kiln_core::communicator::{Reader, Writer};
use kiln_core::{Communicator, ExecIo, Result, UploadMeta};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::runtime::Handle;

use crate::communicator::{FileMeta, PluginCommunicator};
use crate::core_comm::CoreCommunicator;
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

/// A builder plugin's communicator as kiln's: commands and transfers run inside the plugin.
pub struct PluginComm(pub PluginCommunicator);

/// How much a transfer between kiln's runtime and the plugin's buffers in memory.
const PIPE: usize = 64 * 1024;

/// Copies `src` into `dst` and closes `dst`; what a bridge between kiln's streams and the
/// plugin's does on kiln's side.
async fn pump(
    src: &mut (dyn AsyncRead + Send + Unpin),
    dst: &mut (dyn AsyncWrite + Send + Unpin),
) -> std::io::Result<()> {
    tokio::io::copy(src, dst).await?;
    dst.shutdown().await
}

#[async_trait]
impl Communicator for PluginComm {
    async fn exec(&self, command: &str, io: ExecIo<'_>) -> Result<Option<i32>> {
        // The plugin's side runs on the plugin runtime and needs streams it owns: in-memory
        // pipes (runtime-agnostic) carry the bytes between them and `io`'s streams.
        let (out_w, mut out_r) = tokio::io::duplex(PIPE);
        let (err_w, mut err_r) = tokio::io::duplex(PIPE);
        let (stdin_w, stdin_r) = match io.stdin.is_some() {
            true => {
                let (w, r) = tokio::io::duplex(PIPE);
                (Some(w), Some(Box::new(r) as BoxRead))
            }
            false => (None, None),
        };
        let (comm, cmd) = (self.0.clone(), command.to_string());
        let exec = run(async move { comm.exec(&cmd, stdin_r, Some(Box::new(out_w)), Some(Box::new(err_w))).await });
        let ExecIo { stdin, stdout, stderr } = io;
        let feed = async move {
            if let (Some(src), Some(mut w)) = (stdin, stdin_w) {
                // A command that stops reading early closes the pipe: not an error.
                let _ = pump(src, &mut w).await;
            }
        };
        let (status, _, out, err) =
            tokio::join!(exec, feed, tokio::io::copy(&mut out_r, stdout), tokio::io::copy(&mut err_r, stderr));
        let status = status?;
        out?;
        err?;
        // Packer's communicators report -1 (or nothing) for a command that ended without an
        // exit status.
        Ok(i32::try_from(status).ok().filter(|s| *s >= 0))
    }

    async fn upload(&self, dst: &str, src: Reader<'_>, meta: UploadMeta) -> Result<()> {
        let (mut w, r) = tokio::io::duplex(PIPE);
        // Packer's Upload takes the file's size and mode together, or neither.
        let info = meta.size.map(|size| FileMeta { size, mode: meta.mode.unwrap_or(0o644) });
        let (comm, remote) = (self.0.clone(), dst.to_string());
        let upload = run(async move { comm.upload(&remote, Box::new(r), info).await });
        let mut src = meta.track(src);
        let (sent, done) = tokio::join!(pump(&mut src, &mut w), upload);
        done?;
        sent.map_err(|e| kiln_core::Error::new(format!("reading the upload for {dst}: {e}")))
    }

    async fn upload_dir(&self, dst: &str, src: &Path, exclude: &[String]) -> Result<()> {
        let (comm, dst, exclude) = (self.0.clone(), dst.to_string(), exclude.to_vec());
        let src =
            src.to_str().ok_or_else(|| kiln_core::Error::new(format!("{} is not UTF-8", src.display())))?.to_string();
        run(async move { comm.upload_dir(&dst, &src, &exclude).await }).await
    }

    async fn download(&self, src: &str, dst: Writer<'_>) -> Result<()> {
        let (w, mut r) = tokio::io::duplex(PIPE);
        let (comm, remote) = (self.0.clone(), src.to_string());
        let download = run(async move { comm.download(&remote, Box::new(w)).await });
        let (done, got) = tokio::join!(download, pump(&mut r, dst));
        done?;
        got.map_err(|e| kiln_core::Error::new(format!("writing the download of {src}: {e}")))
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

impl KilnComm {
    /// Runs `f` with kiln's communicator seen as a plugin's on kiln's runtime, where its
    /// connection lives (the plugin's streams are runtime-agnostic).
    async fn on_kiln<T: Send + 'static, F>(&self, f: impl FnOnce(CoreCommunicator) -> F) -> Result<T, String>
    where
        F: std::future::Future<Output = Result<T, String>> + Send + 'static,
    {
        match self.kiln.spawn(f(CoreCommunicator(self.comm.clone()))).await {
            Ok(r) => r,
            Err(e) => Err(format!("the communicator's task failed: {e}")),
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
        let cmd = command.to_string();
        self.on_kiln(|c| async move { c.exec(&cmd, stdin, stdout, stderr).await }).await
    }

    async fn upload(&self, dst: &str, src: BoxRead, mode: Option<u32>) -> Result<(), String> {
        let dst = dst.to_string();
        self.on_kiln(|c| async move { c.upload(&dst, src, mode).await }).await
    }

    async fn upload_dir(&self, dst: &str, src: &Path, exclude: &[String]) -> Result<(), String> {
        let (dst, src, exclude) = (dst.to_string(), src.to_path_buf(), exclude.to_vec());
        self.on_kiln(|c| async move { c.upload_dir(&dst, &src, &exclude).await }).await
    }

    async fn download(&self, src: &str, dst: BoxWrite) -> Result<(), String> {
        let src = src.to_string();
        self.on_kiln(|c| async move { c.download(&src, dst).await }).await
    }

    async fn download_dir(&self, src: &str, dst: &Path, exclude: &[String]) -> Result<(), String> {
        let (src, dst, exclude) = (src.to_string(), dst.to_path_buf(), exclude.to_vec());
        self.on_kiln(|c| async move { c.download_dir(&src, &dst, &exclude).await }).await
    }
}
