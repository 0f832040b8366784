//! The `local` communicator: commands run through `/bin/sh -c` on this machine and "uploads"
//! are local copies. shell-local uses it.
//!
//! Each command runs in its own process group; if the command's future is dropped (the build
//! was cancelled, a provisioner timed out) the whole group is terminated, so no script or its
//! children outlive the build.

use std::path::Path;
use std::process::Stdio;

use kiln_core::component::OutputFn;
use kiln_core::{async_trait, Communicator, Error, Result, Stream};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Runs on this machine. `shell` is the command prefix (`["/bin/sh", "-c"]`).
pub struct Local {
    pub shell: Vec<String>,
}

impl Default for Local {
    fn default() -> Local {
        Local { shell: vec!["/bin/sh".into(), "-c".into()] }
    }
}

/// Terminates a process group when dropped before [`GroupGuard::disarm`].
struct GroupGuard {
    pgid: Option<i32>,
}

impl GroupGuard {
    fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let Some(pgid) = self.pgid else { return };
        // SAFETY: killpg only sends a signal; pgid is the group this guard's child leads.
        unsafe {
            libc::killpg(pgid, libc::SIGTERM);
        }
        // Give the scripts a moment to clean up after themselves, then make sure.
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(3));
            // SAFETY: as above.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        });
    }
}

async fn pump(r: impl AsyncRead + Unpin, stream: Stream, output: OutputFn<'_>) {
    let mut r = BufReader::new(r);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                output(stream, line.trim_end_matches(['\n', '\r']));
            }
        }
    }
}

/// Runs `argv` locally, streaming output; the exit status, `None` when killed by a signal.
pub async fn run_argv(argv: &[String], env: &[(String, String)], output: OutputFn<'_>) -> Result<Option<i32>> {
    let Some((program, args)) = argv.split_first() else {
        return Err(Error::new("empty command"));
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| Error::new(format!("cannot run {program}: {e}")))?;
    let mut guard = GroupGuard { pgid: child.id().and_then(|id| i32::try_from(id).ok()) };
    let out = child.stdout.take();
    let err = child.stderr.take();
    let pumps = async {
        tokio::join!(
            async {
                if let Some(o) = out {
                    pump(o, Stream::Stdout, output).await
                }
            },
            async {
                if let Some(e) = err {
                    pump(e, Stream::Stderr, output).await
                }
            }
        )
    };
    let (_, status) = tokio::join!(pumps, child.wait());
    guard.disarm();
    let status = status?;
    Ok(status.code())
}

#[async_trait]
impl Communicator for Local {
    async fn start(&self, command: &str, output: OutputFn<'_>) -> Result<Option<i32>> {
        let mut argv = self.shell.clone();
        argv.push(command.to_string());
        run_argv(&argv, &[], output).await
    }

    async fn upload(&self, dst: &str, data: &[u8]) -> Result<()> {
        tokio::fs::write(dst, data).await.map_err(|e| Error::new(format!("writing {dst}: {e}")))
    }

    async fn upload_file(&self, dst: &str, src: &Path) -> Result<()> {
        let src = src.to_path_buf();
        let dst = Path::new(dst).to_path_buf();
        tokio::task::spawn_blocking(move || crate::transfer::copy_file(&src, &dst))
            .await
            .map_err(|e| Error::new(e.to_string()))?
    }

    async fn upload_file_progress(
        &self,
        dst: &str,
        src: &Path,
        progress: std::sync::Arc<kiln_core::progress::Progress>,
    ) -> Result<()> {
        let shown = dst.to_string();
        let (src, dst) = (src.to_path_buf(), Path::new(dst).to_path_buf());
        tokio::task::spawn_blocking(move || {
            if let Some(parent) = dst.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            kiln_core::progress::copy_file_with_progress(&src, &dst, &progress)
        })
        .await
        .map_err(|e| Error::new(e.to_string()))?
        .map(|_| ())
        .map_err(|e| Error::new(format!("copying to {shown}: {e}")))
    }

    async fn upload_dir(&self, dst: &str, src: &Path, exclude: &[String]) -> Result<()> {
        let (src, dst, exclude) = (src.to_path_buf(), Path::new(dst).to_path_buf(), exclude.to_vec());
        tokio::task::spawn_blocking(move || crate::transfer::copy_dir_packer(&src, &dst, &exclude))
            .await
            .map_err(|e| Error::new(e.to_string()))?
    }

    async fn download(&self, src: &str, dst: &Path) -> Result<()> {
        self.upload_file(&dst.to_string_lossy(), Path::new(src)).await
    }

    async fn download_dir(&self, src: &str, dst: &Path, exclude: &[String]) -> Result<()> {
        self.upload_dir(&dst.to_string_lossy(), Path::new(src), exclude).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn streams_output_and_returns_status() {
        let lines = Mutex::new(Vec::new());
        let out = |s: Stream, l: &str| lines.lock().unwrap().push(format!("{s:?} {l}"));
        let code = Local::default().start("echo a; echo b >&2; exit 3", &out).await.unwrap();
        assert_eq!(code, Some(3));
        let mut got = lines.into_inner().unwrap();
        got.sort();
        assert_eq!(got, ["Stderr b", "Stdout a"]);
    }

    #[tokio::test]
    async fn dropping_a_command_kills_its_children() {
        let dir = std::env::temp_dir().join(format!("kiln-local-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("pid");
        let cmd = format!("sleep 60 & echo $! > {}; wait", pidfile.display());
        let out = |_: Stream, _: &str| {};
        let comm = Local::default();
        let r = tokio::time::timeout(std::time::Duration::from_millis(500), comm.start(&cmd, &out)).await;
        assert!(r.is_err(), "should have timed out");
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        let mut alive = true;
        for _ in 0..50 {
            // SAFETY: signal 0 only checks that the process exists.
            alive = unsafe { libc::kill(pid, 0) } == 0 && !is_zombie(pid);
            if !alive {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(!alive, "the background sleep survived");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn is_zombie(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| s.contains(") Z ")).unwrap_or(true)
    }
}
