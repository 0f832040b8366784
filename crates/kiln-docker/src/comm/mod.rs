//! The `docker` communicator: commands run with the Engine API's exec, files move
//! through its archive endpoints (no `docker` CLI, no shared folder).
//!
//! As Packer's: a command runs as `/bin/sh -c "(<command>)"` (as `exec_user` when
//! set), uploads belong to the container's user (`fix_upload_owner`, see
//! [`owner`]), folders follow the file provisioner's trailing-slash rule, and modes
//! are kept both ways. Unlike Packer's, downloads of folders work, and uploads keep
//! the source's mtime.
//!
//! The stream-level operations of kiln's Communicator map one to one onto the Engine
//! API's: exec with attached streams, and single-entry archives streamed both ways.
//!
//! A cancelled command: the Engine API cannot stop an exec, so every command first
//! prints its process group on stderr (runc makes each exec a session leader); when
//! the command's future is dropped before it ended, a fresh exec sends the group
//! SIGTERM, then SIGKILL after 3 s. [`Communicator::stop_cancelled`] waits for that.

mod output;
pub(crate) mod owner;

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiln_core::communicator::{Reader, Tracked, Writer};
use kiln_core::{async_trait, Communicator, Error, ExecIo, Result, Ui, UploadMeta};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

use crate::{Engine, FileMeta};
use output::MarkerFilter;

/// How long a cancelled command's process group has between SIGTERM and SIGKILL.
const GRACE_SECS: u32 = 3;

/// What the docker communicator needs to know besides the container.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `exec_user`: run commands as this user (`user`, `uid`, `user:group`); the
    /// container's user when None.
    pub exec_user: Option<String>,
    /// `fix_upload_owner`: give uploads to the container's user.
    pub fix_upload_owner: bool,
    /// The container's configured user (`Config.User` of its inspect), empty for root.
    pub container_user: String,
}

/// Talks to one running container.
pub struct DockerComm {
    engine: Engine,
    container: String,
    options: Options,
    owner: OnceCell<(u64, u64)>,
    /// Marks the line through which each command reports its process group.
    nonce: String,
    /// Stopping cancelled commands, for [`Communicator::stop_cancelled`].
    stopping: Arc<Mutex<Vec<JoinHandle<Stopped>>>>,
}

/// How stopping a cancelled command went.
#[derive(Debug)]
enum Stopped {
    /// It had not reported its process group yet.
    NoGroup,
    /// The group was signalled.
    Signalled(i64),
    /// The signalling exec failed.
    Failed(i64, String),
}

impl DockerComm {
    pub fn new(engine: Engine, container: impl Into<String>, options: Options) -> DockerComm {
        let nonce = format!("{:x}{:x}", std::process::id(), nanos());
        DockerComm {
            engine,
            container: container.into(),
            options,
            owner: OnceCell::new(),
            nonce,
            stopping: Arc::default(),
        }
    }

    /// The container this communicator talks to.
    pub fn container(&self) -> &str {
        &self.container
    }

    fn marker(&self) -> String {
        format!("kiln-pgid-{}-", self.nonce)
    }

    /// The uid and gid uploads get.
    async fn owner(&self) -> Result<(u64, u64)> {
        let user = self.options.container_user.trim();
        if !self.options.fix_upload_owner || user.is_empty() || user == "root" || user == "0" {
            return Ok((0, 0));
        }
        self.owner
            .get_or_try_init(|| async {
                let passwd = self.read_text("/etc/passwd").await?;
                let group = if user.contains(':') { self.read_text("/etc/group").await? } else { String::new() };
                owner::resolve(user, &passwd, &group).map_err(Error::new)
            })
            .await
            .copied()
    }

    /// A small text file of the container; empty when it does not exist.
    async fn read_text(&self, path: &str) -> Result<String> {
        let mut buf = Vec::new();
        match self.engine.download_file(&self.container, path, &mut buf).await {
            Ok(_) => Ok(String::from_utf8_lossy(&buf).into_owned()),
            Err(e) if e.is_not_found() => Ok(String::new()),
            Err(e) => Err(Error::new(e.to_string())),
        }
    }

    /// Writes `size` bytes from `src` to the file `dst` in the container.
    async fn upload_sized(&self, dst: &str, src: Reader<'_>, size: u64, meta: &UploadMeta) -> Result<()> {
        let (uid, gid) = self.owner().await?;
        let meta = FileMeta { mode: meta.mode.unwrap_or(0o644), uid, gid, mtime: meta.mtime.unwrap_or_else(now) };
        self.engine.upload_file(&self.container, dst, src, size, meta).await.map_err(|e| Error::new(e.to_string()))
    }
}

/// A file in the temporary folder, removed when dropped: where an upload of unknown size
/// waits until its size is known (the archive endpoint needs it up front).
struct Spool {
    path: std::path::PathBuf,
}

impl Spool {
    /// Copies `src` into a new spool file; the file, open at its start, and its size.
    async fn fill(src: &mut Tracked<'_>) -> Result<(Spool, tokio::fs::File, u64)> {
        static COUNT: AtomicI64 = AtomicI64::new(0);
        let n = COUNT.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("kiln-docker-upload-{}-{n}", std::process::id()));
        let spool = Spool { path };
        let e = |e: std::io::Error| Error::new(format!("spooling an upload in {}: {e}", spool.path.display()));
        let mut f =
            tokio::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&spool.path).await.map_err(e)?;
        let size = tokio::io::copy(src, &mut f).await.map_err(e)?;
        f.flush().await.map_err(e)?;
        f.seek(std::io::SeekFrom::Start(0)).await.map_err(e)?;
        Ok((spool, f, size))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

fn now() -> u64 {
    (nanos() / 1_000_000_000) as u64
}

/// A command in flight; dropped before it ended, it has the command stopped.
struct Running {
    engine: Engine,
    container: String,
    pid: Arc<AtomicI64>,
    stopping: Arc<Mutex<Vec<JoinHandle<Stopped>>>>,
    done: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let (engine, container, pid) = (self.engine.clone(), self.container.clone(), Arc::clone(&self.pid));
        let task = rt.spawn(async move {
            // The marker comes first; give a command cancelled at once a moment to send it.
            for _ in 0..20 {
                if pid.load(Ordering::SeqCst) != 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            let pgid = pid.load(Ordering::SeqCst);
            if pgid <= 0 {
                return Stopped::NoGroup;
            }
            match stop_group(&engine, &container, pgid).await {
                Ok(()) => Stopped::Signalled(pgid),
                Err(e) => Stopped::Failed(pgid, e),
            }
        });
        if let Ok(mut list) = self.stopping.lock() {
            list.push(task);
        }
    }
}

/// SIGTERM to the group, SIGKILL after the grace period if any of it still runs
/// (zombies, which the container's PID 1 shell may never reap, do not count).
async fn stop_group(engine: &Engine, container: &str, pgid: i64) -> Result<(), String> {
    let script = format!(
        "kill -TERM -{pgid} 2>/dev/null || exit 0
alive() {{ for s in /proc/[0-9]*/stat; do read -r p c st pp g rest < \"$s\" 2>/dev/null && [ \"$g\" = {pgid} ] && [ \"$st\" != Z ] && return 0; done; return 1; }}
i=0
while alive; do i=$((i+1)); [ $i -gt {ticks} ] && break; sleep 0.1; done
kill -KILL -{pgid} 2>/dev/null; exit 0",
        ticks = GRACE_SECS * 10
    );
    let argv = ["/bin/sh".to_string(), "-c".to_string(), script];
    let (mut out, mut err) = (Vec::new(), Vec::new());
    // As root: the command may run as another user.
    match engine.exec(container, &argv, Some("0"), None::<tokio::io::Empty>, &mut out, &mut err).await {
        Ok(0) => Ok(()),
        Ok(code) => Err(format!("exit status {code}: {}", String::from_utf8_lossy(&err).trim())),
        Err(e) => Err(e.to_string()),
    }
}

#[async_trait]
impl Communicator for DockerComm {
    /// Runs `command` through `/bin/sh -c` in the container. Dropping the future stops the
    /// command (see the module's doc).
    async fn exec(&self, command: &str, io: ExecIo<'_>) -> Result<Option<i32>> {
        // `$$` is the exec's own process, a session (so group) leader under runc.
        let wrapped = format!("echo {}$$ >&2; ({command})", self.marker());
        let argv = ["/bin/sh".to_string(), "-c".to_string(), wrapped];
        let pid = Arc::new(AtomicI64::new(0));
        let mut running = Running {
            engine: self.engine.clone(),
            container: self.container.clone(),
            pid: Arc::clone(&pid),
            stopping: Arc::clone(&self.stopping),
            done: false,
        };
        let ExecIo { stdin, mut stdout, stderr } = io;
        let mut err = MarkerFilter::new(stderr, self.marker(), pid);
        let code = self
            .engine
            .exec(&self.container, &argv, self.options.exec_user.as_deref(), stdin, &mut stdout, &mut err)
            .await;
        running.done = true;
        let code = code.map_err(|e| Error::new(e.to_string()))?;
        err.flush().await.map_err(|e| Error::new(format!("passing on the command's output: {e}")))?;
        Ok(Some(i32::try_from(code).unwrap_or(-1)))
    }

    /// Uploads of unknown size are spooled to a temporary file first (the archive endpoint
    /// needs the size before the data).
    async fn upload(&self, dst: &str, src: Reader<'_>, meta: UploadMeta) -> Result<()> {
        let mut src = meta.track(src);
        match meta.size {
            Some(size) => self.upload_sized(dst, &mut src, size, &meta).await,
            None => {
                let (_spool, mut file, size) = Spool::fill(&mut src).await?;
                self.upload_sized(dst, &mut file, size, &meta).await
            }
        }
    }

    async fn upload_dir(&self, dst: &str, src: &Path, exclude: &[String]) -> Result<()> {
        let owner = self.owner().await?;
        self.engine
            .upload_dir(&self.container, src, dst, Some(owner), exclude)
            .await
            .map_err(|e| Error::new(e.to_string()))
    }

    async fn download(&self, src: &str, dst: Writer<'_>) -> Result<()> {
        let mut dst = dst;
        self.engine.download_file(&self.container, src, &mut dst).await.map_err(|e| Error::new(e.to_string()))?;
        Ok(())
    }

    async fn download_dir(&self, src: &str, dst: &Path, exclude: &[String]) -> Result<()> {
        self.engine.download_dir(&self.container, src, dst, exclude).await.map_err(|e| Error::new(e.to_string()))
    }

    async fn stop_cancelled(&self, ui: &Ui) {
        let tasks: Vec<_> = match self.stopping.lock() {
            Ok(mut list) => list.drain(..).collect(),
            Err(_) => return,
        };
        for task in tasks {
            let limit = Duration::from_secs(u64::from(GRACE_SECS) + 10);
            match tokio::time::timeout(limit, task).await {
                Ok(Ok(Stopped::Signalled(pgid))) => {
                    ui.say(format!("Cleaning up: stopping the remote command (process group {pgid} in the container)"))
                }
                Ok(Ok(Stopped::Failed(pgid, why))) => {
                    ui.say(format!("Cleaning up: stopping the remote command (process group {pgid} in the container)"));
                    ui.log(format!(
                        "could not stop process group {pgid} ({why}); best effort: the container's removal ends it"
                    ));
                }
                Ok(Ok(Stopped::NoGroup)) => {
                    ui.log("the cancelled command never reported its process group; the container's removal ends it")
                }
                Ok(Err(e)) => ui.log(format!("stopping the cancelled command failed: {e}")),
                Err(_) => ui.log("stopping the cancelled command is taking long; going on (best effort)"),
            }
        }
    }
}
