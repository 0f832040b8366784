//! kiln's own communicators as the [`HostCommunicator`] a provisioner plugin reaches: every
//! `kiln_core::Communicator` (ssh, local, docker, …) serves a plugin's `Communicator.Start`,
//! `Upload` and `Download` through its stream-level operations, unchanged.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use kiln_core::{Communicator, ExecIo, UploadMeta};

use crate::host::{BoxRead, BoxWrite, HostCommunicator};

/// A kiln communicator seen by a plugin.
pub struct CoreCommunicator(pub Arc<dyn Communicator>);

#[async_trait]
impl HostCommunicator for CoreCommunicator {
    async fn exec(
        &self,
        command: &str,
        stdin: Option<BoxRead>,
        stdout: Option<BoxWrite>,
        stderr: Option<BoxWrite>,
    ) -> Result<i64, String> {
        let mut stdin = stdin;
        let mut stdout: BoxWrite = stdout.unwrap_or_else(|| Box::new(tokio::io::sink()));
        let mut stderr: BoxWrite = stderr.unwrap_or_else(|| Box::new(tokio::io::sink()));
        let mut io = ExecIo::new(&mut *stdout, &mut *stderr);
        if let Some(r) = stdin.as_mut() {
            io = io.with_stdin(&mut **r);
        }
        // A command that ended without a status (killed, connection lost) is -1, as in Packer.
        match self.0.exec(command, io).await {
            Ok(code) => Ok(code.map_or(-1, i64::from)),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn upload(&self, dst: &str, mut src: BoxRead, mode: Option<u32>) -> Result<(), String> {
        let meta = UploadMeta { mode, ..UploadMeta::default() };
        self.0.upload(dst, &mut *src, meta).await.map_err(|e| e.to_string())
    }

    async fn upload_dir(&self, dst: &str, src: &Path, exclude: &[String]) -> Result<(), String> {
        self.0.upload_dir(dst, src, exclude).await.map_err(|e| e.to_string())
    }

    async fn download(&self, src: &str, mut dst: BoxWrite) -> Result<(), String> {
        self.0.download(src, &mut *dst).await.map_err(|e| e.to_string())
    }

    async fn download_dir(&self, src: &str, dst: &Path, exclude: &[String]) -> Result<(), String> {
        self.0.download_dir(src, dst, exclude).await.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Mutex;
    use std::task::{Context, Poll};
    use tokio::io::AsyncWrite;

    /// A writer whose bytes the test reads afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl AsyncWrite for Shared {
        fn poll_write(self: std::pin::Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<std::io::Result<usize>> {
            self.0.lock().unwrap().extend_from_slice(b);
            Poll::Ready(Ok(b.len()))
        }
        fn poll_flush(self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_kiln_communicator_serves_a_plugin() {
        let comm = CoreCommunicator(Arc::new(kiln_comm::Local::default()));
        let (out, err) = (Shared::default(), Shared::default());
        let stdin: BoxRead = Box::new(std::io::Cursor::new(b"to cat".to_vec()));
        let code = comm
            .exec("cat; echo warn >&2; exit 5", Some(stdin), Some(Box::new(out.clone())), Some(Box::new(err.clone())))
            .await
            .unwrap();
        assert_eq!(code, 5);
        assert_eq!(*out.0.lock().unwrap(), b"to cat");
        assert_eq!(*err.0.lock().unwrap(), b"warn\n");
        assert_eq!(comm.exec("kill -9 $$", None, None, None).await.unwrap(), -1);

        let dir = std::env::temp_dir().join(format!("kiln-plugin-core-comm-{}", std::process::id()));
        let dst = dir.join("f.sh");
        let src: BoxRead = Box::new(std::io::Cursor::new(b"#!/bin/sh\n".to_vec()));
        comm.upload(&dst.to_string_lossy(), src, Some(0o755)).await.unwrap();
        assert_eq!(std::fs::metadata(&dst).unwrap().permissions().mode() & 0o777, 0o755);
        let back = Shared::default();
        comm.download(&dst.to_string_lossy(), Box::new(back.clone())).await.unwrap();
        assert_eq!(*back.0.lock().unwrap(), b"#!/bin/sh\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
