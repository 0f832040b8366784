//! The communicator seam: how a build reaches its machine. Every communicator implements five
//! stream-level operations ([`Communicator::exec`], [`Communicator::upload`],
//! [`Communicator::upload_dir`], [`Communicator::download`], [`Communicator::download_dir`]);
//! everything components usually call (the line-based [`Communicator::start`], uploads of bytes
//! and local files with progress, downloads to a local file) is provided on top of them, so a
//! new communicator (ssh, local, docker, a plugin's) gets them for free and callers that need
//! raw streams (ansible's SSH proxy, a plugin's `Communicator.Start`) get them too.

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::event::Ui;
use crate::progress::Progress;
use crate::{Error, Result};

/// Which output stream a line of a remote command came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Receives a remote command's output, a line at a time, as it comes.
pub type OutputFn<'a> = &'a (dyn Fn(Stream, &str) + Send + Sync);

/// A readable stream a communicator takes from.
pub type Reader<'a> = &'a mut (dyn AsyncRead + Send + Unpin);
/// A writable stream a communicator writes to.
pub type Writer<'a> = &'a mut (dyn AsyncWrite + Send + Unpin);

/// The streams of one remote command: its stdin (none: it reads end-of-file at once, where the
/// communicator can say so) and where its stdout and stderr go, byte for byte.
pub struct ExecIo<'a> {
    pub stdin: Option<Reader<'a>>,
    pub stdout: Writer<'a>,
    pub stderr: Writer<'a>,
}

impl<'a> ExecIo<'a> {
    /// Output to `stdout` and `stderr`, no input.
    pub fn new(stdout: Writer<'a>, stderr: Writer<'a>) -> ExecIo<'a> {
        ExecIo { stdin: None, stdout, stderr }
    }

    /// The same, with `stdin` fed to the command (end-of-file after its last byte).
    pub fn with_stdin(mut self, stdin: Reader<'a>) -> ExecIo<'a> {
        self.stdin = Some(stdin);
        self
    }
}

/// What an upload knows about its data besides the bytes.
#[derive(Clone, Default)]
pub struct UploadMeta {
    /// The number of bytes the reader holds, when known (the docker communicator needs it
    /// up front and spools the data when it is not given).
    pub size: Option<u64>,
    /// Unix permission bits of the file written (`0o755`); the communicator's default (0644
    /// or the remote umask) when unset.
    pub mode: Option<u32>,
    /// Modification time to give the file, in seconds since the epoch, where the communicator
    /// can (docker's archives can; ssh and local leave the time of writing).
    pub mtime: Option<u64>,
    /// Counts the bytes as they are read from the source; communicators read through
    /// [`UploadMeta::track`]. The caller calls [`Progress::finish`].
    pub progress: Option<Arc<Progress>>,
}

impl UploadMeta {
    /// `src`, counted on [`UploadMeta::progress`] when there is one.
    pub fn track<'a>(&self, src: Reader<'a>) -> Tracked<'a> {
        Tracked { inner: src, progress: self.progress.clone() }
    }
}

impl std::fmt::Debug for UploadMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadMeta")
            .field("size", &self.size)
            .field("mode", &self.mode.map(|m| format!("{m:o}")))
            .field("mtime", &self.mtime)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// A reader that counts what passes through it (see [`UploadMeta::track`]).
pub struct Tracked<'a> {
    inner: Reader<'a>,
    progress: Option<Arc<Progress>>,
}

impl AsyncRead for Tracked<'_> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut *self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if let (Some(p), true) = (&self.progress, n > 0) {
            p.add(n as u64);
        }
        r
    }
}

/// `s` as one word for a POSIX shell: single-quoted, each `'` written as `'"'"'`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", escape_single_quoted(s))
}

/// `s` made safe to put between single quotes in a POSIX shell (as in `env_var_format`'s `'%s'`).
pub fn escape_single_quoted(s: &str) -> String {
    s.replace('\'', "'\"'\"'")
}

/// `rm -f path` run on the machine: [`Communicator::remove_file`]'s default.
pub async fn remove_with_rm<C: Communicator + ?Sized>(comm: &C, path: &str) -> Result<()> {
    let noop = |_: Stream, _: &str| {};
    match comm.start(&format!("rm -f {}", shell_quote(path)), &noop).await? {
        Some(0) => Ok(()),
        Some(code) => Err(Error::new(format!("rm -f {path} exited with status {code}"))),
        None => Err(Error::new(format!("rm -f {path} ended without an exit status"))),
    }
}

/// What became of a [`Communicator::subsystem`] request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subsystem {
    /// The communicator or the machine has no such subsystem; `io` was not touched.
    Unavailable,
    /// It ran and ended, with this exit status (`None`: without one).
    Ended(Option<i32>),
}

/// How to reach a machine: run commands, move files. Paths on the machine are strings.
#[async_trait]
pub trait Communicator: Send + Sync {
    /// Runs `command` through the machine's shell with `io`'s streams; returns its exit status
    /// (`None` when it ended without one: killed by a signal, connection lost). Dropping the
    /// future stops the command on the machine (see [`Communicator::stop_cancelled`]).
    async fn exec(&self, command: &str, io: ExecIo<'_>) -> Result<Option<i32>>;
    /// Writes what `src` holds to the file `dst` on the machine, streamed (never held whole in
    /// memory), with `meta`'s mode; `meta.progress` counts the bytes read.
    async fn upload(&self, dst: &str, src: Reader<'_>, meta: UploadMeta) -> Result<()>;
    /// Copies the local folder `src` to `dst` with Packer's rule: `src/` copies the folder's
    /// contents, `src` copies the folder itself into `dst`.
    async fn upload_dir(&self, dst: &str, src: &Path, exclude: &[String]) -> Result<()>;
    /// Streams the file `src` on the machine into `dst` (flushed at the end).
    async fn download(&self, src: &str, dst: Writer<'_>) -> Result<()>;
    /// Copies the folder `src` on the machine to the local folder `dst`, with the same
    /// trailing-slash rule as [`Communicator::upload_dir`].
    async fn download_dir(&self, src: &str, dst: &Path, exclude: &[String]) -> Result<()>;
    /// After an [`Communicator::exec`] was cancelled (its future dropped): waits, briefly, until
    /// what the communicator does to stop the command on the machine is done, and says it on
    /// `ui` ("Cleaning up: stopping the remote command …"). Best effort, never an error. The
    /// default does nothing, for communicators whose commands end with their future.
    async fn stop_cancelled(&self, _ui: &Ui) {}
    /// Removes the file `path` on the machine as `rm -f` does (a missing file is no error).
    /// The default runs `rm -f`; ssh uses its SFTP session when it has one, which starts no
    /// command on the machine (a login shell per file costs 0.1-0.3 s on an emulated CPU).
    async fn remove_file(&self, path: &str) -> Result<()> {
        remove_with_rm(self, path).await
    }
    /// Runs the machine's own `name` subsystem (SSH's subsystem request, such as `sftp`) with
    /// `io`'s streams: no login shell starts, so it answers as fast as the machine's server
    /// can. [`Subsystem::Unavailable`] (the default, and when the machine refuses it) means
    /// nothing was read from `io`: the caller may run a command instead.
    async fn subsystem(&self, _name: &str, _io: ExecIo<'_>) -> Result<Subsystem> {
        Ok(Subsystem::Unavailable)
    }

    /// Runs `command` with no input and hands its output to `output` a line at a time (line
    /// ends taken off, a last line without one passed on at the end).
    async fn start(&self, command: &str, output: OutputFn<'_>) -> Result<Option<i32>> {
        let mut out = LineWriter::new(Stream::Stdout, output);
        let mut err = LineWriter::new(Stream::Stderr, output);
        let code = self.exec(command, ExecIo::new(&mut out, &mut err)).await;
        out.finish();
        err.finish();
        code
    }

    /// Writes `data` to the file `dst` on the machine.
    async fn upload_bytes(&self, dst: &str, data: &[u8]) -> Result<()> {
        let mut r = data;
        self.upload(dst, &mut r, UploadMeta { size: Some(data.len() as u64), ..UploadMeta::default() }).await
    }

    /// Copies the local file `src` to `dst` on the machine, with its permission bits.
    async fn upload_file(&self, dst: &str, src: &Path) -> Result<()> {
        let (mut file, meta) = open_for_upload(src).await?;
        self.upload(dst, &mut file, meta).await
    }

    /// [`Communicator::upload_file`] reporting its progress.
    async fn upload_file_progress(&self, dst: &str, src: &Path, progress: Arc<Progress>) -> Result<()> {
        let (mut file, meta) = open_for_upload(src).await?;
        let meta = UploadMeta { progress: Some(Arc::clone(&progress)), ..meta };
        self.upload(dst, &mut file, meta).await?;
        progress.finish();
        Ok(())
    }

    /// Copies the file `src` on the machine to the local path `dst` (its folders created); a
    /// failed download leaves no partial file behind.
    async fn download_file(&self, src: &str, dst: &Path) -> Result<()> {
        if let Some(parent) = dst.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| Error::new(format!("creating {}: {e}", parent.display())))?;
        }
        let mut file =
            tokio::fs::File::create(dst).await.map_err(|e| Error::new(format!("creating {}: {e}", dst.display())))?;
        let mut r = self.download(src, &mut file).await;
        if r.is_ok() {
            // tokio writes files in the background: flush before reporting success.
            r = file.flush().await.map_err(|e| Error::new(format!("writing {}: {e}", dst.display())));
        }
        if r.is_err() {
            drop(file);
            let _ = tokio::fs::remove_file(dst).await;
        }
        r
    }
}

/// A local file opened for an upload, with its size and mode.
pub async fn open_for_upload(src: &Path) -> Result<(tokio::fs::File, UploadMeta)> {
    let read_err = |e: std::io::Error| Error::new(format!("reading {}: {e}", src.display()));
    let file = tokio::fs::File::open(src).await.map_err(read_err)?;
    let md = file.metadata().await.map_err(read_err)?;
    if md.is_dir() {
        return Err(Error::new(format!("{} is a folder: upload it as one", src.display())));
    }
    let mtime = md.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_secs());
    Ok((file, UploadMeta { size: Some(md.len()), mode: Some(file_mode(&md)), mtime, progress: None }))
}

/// A local file's permission bits as an upload gives them to the machine.
#[cfg(unix)]
pub fn file_mode(md: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    md.permissions().mode() & 0o7777
}

/// A local file's permission bits as an upload gives them to the machine.
#[cfg(not(unix))]
pub fn file_mode(md: &std::fs::Metadata) -> u32 {
    if md.permissions().readonly() {
        0o444
    } else {
        0o644
    }
}

/// Cuts the bytes written to it into lines for an [`OutputFn`] (`\n` or `\r\n` taken off);
/// [`LineWriter::finish`] passes on a last line without a newline.
pub struct LineWriter<'a> {
    stream: Stream,
    output: OutputFn<'a>,
    buf: Vec<u8>,
}

impl<'a> LineWriter<'a> {
    pub fn new(stream: Stream, output: OutputFn<'a>) -> LineWriter<'a> {
        LineWriter { stream, output, buf: Vec::new() }
    }

    fn take_lines(&mut self) {
        while let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
            let rest = self.buf.split_off(i + 1);
            let line = std::mem::replace(&mut self.buf, rest);
            (self.output)(self.stream, String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']));
        }
    }

    /// Passes on what is left after the command ended.
    pub fn finish(&mut self) {
        self.take_lines();
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            (self.output)(self.stream, String::from_utf8_lossy(&rest).trim_end_matches('\r'));
        }
    }
}

impl AsyncWrite for LineWriter<'_> {
    fn poll_write(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        self.buf.extend_from_slice(data);
        self.take_lines();
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn line_writer_cuts_lines_across_writes() {
        let got = Mutex::new(Vec::new());
        let out = |s: Stream, l: &str| got.lock().unwrap().push(format!("{s:?} {l}"));
        let mut w = LineWriter::new(Stream::Stderr, &out);
        w.write_all(b"a\r\nb").await.unwrap();
        w.write_all(b"c\n\nd").await.unwrap();
        w.finish();
        assert_eq!(*got.lock().unwrap(), ["Stderr a", "Stderr bc", "Stderr ", "Stderr d"]);
    }

    /// A communicator over a folder of this machine, only to check the provided methods.
    struct Folder(std::path::PathBuf);

    #[async_trait]
    impl Communicator for Folder {
        async fn exec(&self, command: &str, io: ExecIo<'_>) -> Result<Option<i32>> {
            let mut input = Vec::new();
            if let Some(r) = io.stdin {
                tokio::io::AsyncReadExt::read_to_end(r, &mut input).await?;
            }
            io.stdout.write_all(format!("ran {command}\nin: {}", input.len()).as_bytes()).await?;
            io.stderr.write_all(b"warn\n").await?;
            Ok(Some(3))
        }
        async fn upload(&self, dst: &str, src: Reader<'_>, meta: UploadMeta) -> Result<()> {
            let mut data = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut meta.track(src), &mut data).await?;
            assert_eq!(meta.size, Some(data.len() as u64));
            std::fs::write(self.0.join(dst), data)?;
            std::fs::write(self.0.join(format!("{dst}.mode")), format!("{:o}", meta.mode.unwrap_or(0)))?;
            Ok(())
        }
        async fn upload_dir(&self, _: &str, _: &Path, _: &[String]) -> Result<()> {
            Err(Error::new("not here"))
        }
        async fn download(&self, src: &str, dst: Writer<'_>) -> Result<()> {
            let data = std::fs::read(self.0.join(src)).map_err(|e| Error::new(format!("{src}: {e}")))?;
            dst.write_all(&data).await?;
            Ok(())
        }
        async fn download_dir(&self, _: &str, _: &Path, _: &[String]) -> Result<()> {
            Err(Error::new("not here"))
        }
    }

    #[tokio::test]
    async fn provided_methods_sit_on_the_stream_operations() {
        let dir = std::env::temp_dir().join(format!("kiln-comm-provided-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let comm = Folder(dir.clone());
        let got = Mutex::new(Vec::new());
        let out = |s: Stream, l: &str| got.lock().unwrap().push(format!("{s:?} {l}"));
        assert_eq!(comm.start("x", &out).await.unwrap(), Some(3));
        assert_eq!(*got.lock().unwrap(), ["Stdout ran x", "Stderr warn", "Stdout in: 0"]);

        comm.upload_bytes("b", b"bytes").await.unwrap();
        assert_eq!(std::fs::read(dir.join("b")).unwrap(), b"bytes");
        let src = dir.join("script.sh");
        std::fs::write(&src, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&src, std::os::unix::fs::PermissionsExt::from_mode(0o750)).unwrap();
        let ui = Ui::new(Box::new(crate::event::MemoryRenderer::default()));
        let progress = Progress::new(&ui, "up", Some(10));
        comm.upload_file_progress("s", &src, Arc::clone(&progress)).await.unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("s.mode")).unwrap(), "750");
        assert_eq!(progress.done(), 10);

        comm.download_file("s", &dir.join("sub/back")).await.unwrap();
        assert_eq!(std::fs::read(dir.join("sub/back")).unwrap(), b"#!/bin/sh\n");
        assert!(comm.download_file("missing", &dir.join("sub/none")).await.is_err());
        assert!(!dir.join("sub/none").exists(), "a failed download leaves no file");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
