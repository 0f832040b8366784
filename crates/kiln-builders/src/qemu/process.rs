//! How the qemu builder runs its children (`qemu-system-*`, `qemu-img`): through
//! [`kiln_core::process`] (own process group, stopped with its group when the handle is
//! dropped: a cancelled or failed build leaves no VM and no half-written image), stdin closed.

use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};

use kiln_core::{Error, Result};
use tokio::io::{AsyncRead, AsyncReadExt};

pub use kiln_core::process::Child;

/// Spawns `cmd` in a new process group with stdin closed ([`kiln_core::process::spawn`]).
pub fn spawn(cmd: &mut tokio::process::Command) -> io::Result<Child> {
    cmd.stdin(Stdio::null());
    kiln_core::process::spawn(cmd)
}

/// What [`run`] collected from a finished child.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program args…` to completion, collecting its output. A non-zero exit is an error that
/// quotes the command and the last lines of its stderr. Dropping the future kills the child.
pub async fn run(program: &Path, args: &[String]) -> Result<Output> {
    run_with(program, args, |_| {}).await
}

/// [`run`], handing each chunk of stdout to `on_stdout` as it arrives (qemu-img's `-p`
/// progress).
pub async fn run_with(program: &Path, args: &[String], mut on_stdout: impl FnMut(&str)) -> Result<Output> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    let shown = display_command(program, args);
    let mut child = spawn(&mut cmd).map_err(|e| Error::new(format!("cannot run {}: {e}", program.display())))?;
    let (out, err) = (child.stdout(), child.stderr());
    let read_out = async {
        let mut all = String::new();
        if let Some(mut o) = out {
            let mut buf = [0u8; 4096];
            while let Ok(n) = o.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let chunk = String::from_utf8_lossy(&buf[..n]);
                on_stdout(&chunk);
                all.push_str(&chunk);
            }
        }
        all
    };
    let (stdout, stderr, status) = tokio::join!(read_out, read_all(err), child.wait());
    let status = status.map_err(|e| Error::new(format!("waiting for {shown}: {e}")))?;
    if !status.success() {
        return Err(Error::new(format!("{shown} failed ({}): {}", describe_status(status), tail(&stderr, 800))));
    }
    Ok(Output { status, stdout, stderr })
}

async fn read_all(r: Option<impl AsyncRead + Unpin>) -> String {
    let mut s = Vec::new();
    if let Some(mut r) = r {
        let _ = r.read_to_end(&mut s).await;
    }
    String::from_utf8_lossy(&s).into_owned()
}

/// `exit status 1`, `killed by signal 9`.
pub fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "unknown exit".into(),
    }
}

/// The command as a user would type it (for messages; arguments with spaces are quoted).
pub fn display_command(program: &Path, args: &[String]) -> String {
    let mut s = program.display().to_string();
    for a in args {
        s.push(' ');
        if a.is_empty() || a.contains([' ', '"', '\'']) {
            s.push_str(&format!("{a:?}"));
        } else {
            s.push_str(a);
        }
    }
    s
}

/// The last `max` bytes of `s`, trimmed, cut at a character boundary.
pub fn tail(s: &str, max: usize) -> &str {
    let s = s.trim();
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_command_reports_its_stderr() {
        let e = run(Path::new("/bin/sh"), &["-c".into(), "echo out; echo 'went wrong' >&2; exit 3".into()])
            .await
            .unwrap_err();
        assert!(e.message.contains("exit status 3"), "{e}");
        assert!(e.message.ends_with("went wrong"), "{e}");
        let ok = run(Path::new("/bin/sh"), &["-c".into(), "echo hi".into()]).await.unwrap();
        assert_eq!(ok.stdout, "hi\n");
    }

    #[tokio::test]
    async fn dropping_a_child_kills_its_group() {
        // The shell starts a grandchild; both must die with the handle.
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.args(["-c", "sleep 30 & echo $!; wait"]).stdout(Stdio::piped());
        let mut child = spawn(&mut cmd).unwrap();
        let mut out = child.stdout().unwrap();
        let mut buf = [0u8; 32];
        let n = out.read(&mut buf).await.unwrap();
        let grandchild: i32 = std::str::from_utf8(&buf[..n]).unwrap().trim().parse().unwrap();
        let pid = child.id().unwrap() as i32;
        drop(child);
        for _ in 0..100 {
            // SAFETY: signal 0 only checks for existence.
            let alive = |p: i32| unsafe { libc::kill(p, 0) } == 0 && !is_zombie(p);
            if !alive(pid) && !alive(grandchild) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the process group survived its handle");
    }

    fn is_zombie(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z')))
            .unwrap_or(true)
    }

    #[test]
    fn tail_cuts_at_a_char_boundary() {
        assert_eq!(tail("  ééé  ", 3), "é");
        assert_eq!(tail("abc", 10), "abc");
    }
}
