//! The `local` communicator: commands run through `/bin/sh -c` on this machine and "uploads"
//! are local copies. shell-local uses it.
//!
//! Each command runs in its own process group ([`kiln_core::process`]); if the command's future
//! is dropped (the build was cancelled, a provisioner timed out) the whole group is stopped, so
//! no script or its children outlive the build.

use std::path::Path;
use std::process::Stdio;

use kiln_core::communicator::{LineWriter, OutputFn, Reader, Writer};
use kiln_core::{async_trait, Communicator, Error, ExecIo, Result, Stream, UploadMeta};
use tokio::io::AsyncWriteExt;

/// Runs on this machine. `shell` is the command prefix (`["/bin/sh", "-c"]`).
pub struct Local {
    pub shell: Vec<String>,
}

impl Default for Local {
    fn default() -> Local {
        Local { shell: vec!["/bin/sh".into(), "-c".into()] }
    }
}

/// Runs `argv` locally, streaming output a line at a time; the exit status, `None` when killed
/// by a signal.
pub async fn run_argv(argv: &[String], env: &[(String, String)], output: OutputFn<'_>) -> Result<Option<i32>> {
    let mut out = LineWriter::new(Stream::Stdout, output);
    let mut err = LineWriter::new(Stream::Stderr, output);
    let code = run_argv_io(argv, env, ExecIo::new(&mut out, &mut err)).await;
    out.finish();
    err.finish();
    code
}

/// Runs `argv` locally in its own process group with `io`'s streams; the exit status, `None`
/// when killed by a signal. Dropping the future stops the whole group.
pub async fn run_argv_io(argv: &[String], env: &[(String, String)], io: ExecIo<'_>) -> Result<Option<i32>> {
    let Some((program, args)) = argv.split_first() else {
        return Err(Error::new("empty command"));
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(if io.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child =
        kiln_core::process::spawn(&mut cmd).map_err(|e| Error::new(format!("cannot run {program}: {e}")))?;
    let (out, err, input) = (child.stdout(), child.stderr(), child.stdin());
    let ExecIo { stdin, stdout, stderr } = io;
    let feed = async {
        if let (Some(mut w), Some(r)) = (input, stdin) {
            // The command may stop reading early (a broken pipe): that is its business.
            let _ = tokio::io::copy(r, &mut w).await;
            let _ = w.shutdown().await;
        }
    };
    let copy_out = async {
        match out {
            Some(mut o) => tokio::io::copy(&mut o, stdout).await.map(|_| ()),
            None => Ok(()),
        }
    };
    let copy_err = async {
        match err {
            Some(mut e) => tokio::io::copy(&mut e, stderr).await.map(|_| ()),
            None => Ok(()),
        }
    };
    let (_, o, e, status) = tokio::join!(feed, copy_out, copy_err, child.wait());
    o.map_err(|e| Error::new(format!("passing on the output of {program}: {e}")))?;
    e.map_err(|e| Error::new(format!("passing on the output of {program}: {e}")))?;
    Ok(status?.code())
}

#[async_trait]
impl Communicator for Local {
    async fn exec(&self, command: &str, io: ExecIo<'_>) -> Result<Option<i32>> {
        let mut argv = self.shell.clone();
        argv.push(command.to_string());
        run_argv_io(&argv, &[], io).await
    }

    async fn upload(&self, dst: &str, src: Reader<'_>, meta: UploadMeta) -> Result<()> {
        let path = Path::new(dst);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| Error::new(format!("creating {}: {e}", parent.display())))?;
        }
        let werr = |e: std::io::Error| Error::new(format!("writing {dst}: {e}"));
        let mut f = tokio::fs::File::create(path).await.map_err(werr)?;
        tokio::io::copy(&mut meta.track(src), &mut f).await.map_err(werr)?;
        f.flush().await.map_err(werr)?;
        if let Some(mode) = meta.mode {
            use std::os::unix::fs::PermissionsExt;
            tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).await.map_err(werr)?;
        }
        Ok(())
    }

    async fn upload_dir(&self, dst: &str, src: &Path, exclude: &[String]) -> Result<()> {
        let (src, dst, exclude) = (src.to_path_buf(), Path::new(dst).to_path_buf(), exclude.to_vec());
        tokio::task::spawn_blocking(move || crate::transfer::copy_dir_packer(&src, &dst, &exclude))
            .await
            .map_err(|e| Error::new(e.to_string()))?
    }

    async fn download(&self, src: &str, dst: Writer<'_>) -> Result<()> {
        let mut f = tokio::fs::File::open(src).await.map_err(|e| Error::new(format!("reading {src}: {e}")))?;
        tokio::io::copy(&mut f, dst).await.map_err(|e| Error::new(format!("copying {src}: {e}")))?;
        dst.flush().await?;
        Ok(())
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

    #[tokio::test]
    async fn exec_pipes_stdin_and_uploads_keep_their_mode() {
        let comm = Local::default();
        let input: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut src = &input[..];
        let io = ExecIo::new(&mut out, &mut err).with_stdin(&mut src);
        assert_eq!(comm.exec("cat; printf oops >&2; exit 4", io).await.unwrap(), Some(4));
        assert!(out == input);
        assert_eq!(err, b"oops");

        let dir = std::env::temp_dir().join(format!("kiln-local-up-{}", std::process::id()));
        let dst = dir.join("sub/run.sh");
        let mut data = &b"#!/bin/sh\n"[..];
        let meta = UploadMeta { mode: Some(0o700), ..UploadMeta::default() };
        comm.upload(&dst.to_string_lossy(), &mut data, meta).await.unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&dst).unwrap().permissions().mode() & 0o777, 0o700);
        let mut back = Vec::new();
        comm.download(&dst.to_string_lossy(), &mut back).await.unwrap();
        assert_eq!(back, b"#!/bin/sh\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn is_zombie(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| s.contains(") Z ")).unwrap_or(true)
    }
}
