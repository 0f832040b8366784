//! The one way kiln starts a long-lived child process (a shell-local script, a command of the
//! local communicator, `qemu-system-*`): in a process group of its own, so a signal reaches
//! everything it started, and stopped with its whole group when its handle is dropped before
//! it was reaped: SIGTERM first, SIGKILL after [`GRACE`] if anything of the group is left. A
//! cancelled or failed build so leaves no script, VM or half-written image running.
//!
//! The SIGKILL comes from a helper thread; [`settle`] waits for those threads, so a process
//! about to exit (kiln after a cancelled build) can make sure the kills happened.

use std::collections::BTreeSet;
use std::io;
use std::process::ExitStatus;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a dropped child's group has between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(3);

/// Threads finishing the stop of dropped children's groups, for [`settle`].
static STOPPING: Mutex<Vec<std::thread::JoinHandle<()>>> = Mutex::new(Vec::new());

/// Groups of children not reaped yet, for [`kill_all`].
static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn live() -> std::sync::MutexGuard<'static, BTreeSet<i32>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running child leading its own process group; the group is stopped when this is dropped
/// before the child was reaped.
#[derive(Debug)]
pub struct Child {
    inner: tokio::process::Child,
    pgid: Option<i32>,
    reaped: bool,
}

/// Spawns `cmd` as the leader of a new process group (stdin, stdout and stderr as `cmd` says).
pub fn spawn(cmd: &mut tokio::process::Command) -> io::Result<Child> {
    // Not tokio's kill_on_drop: it would SIGKILL the leader at once, with no grace for its
    // scripts' traps; the drop below stops the whole group instead, and tokio reaps the leader.
    cmd.process_group(0).kill_on_drop(false);
    let inner = cmd.spawn()?;
    // The child leads its group, so its pid is the group id.
    let pgid = inner.id().and_then(|id| i32::try_from(id).ok());
    live().extend(pgid);
    Ok(Child { inner, pgid, reaped: false })
}

impl Child {
    /// The child's pid (its process group id too); `None` once reaped.
    pub fn id(&self) -> Option<u32> {
        if self.reaped {
            None
        } else {
            self.inner.id()
        }
    }

    pub fn stdin(&mut self) -> Option<tokio::process::ChildStdin> {
        self.inner.stdin.take()
    }

    pub fn stdout(&mut self) -> Option<tokio::process::ChildStdout> {
        self.inner.stdout.take()
    }

    pub fn stderr(&mut self) -> Option<tokio::process::ChildStderr> {
        self.inner.stderr.take()
    }

    /// Waits for the child to exit and reaps it. What it left running in its group is its
    /// own business from then on (as with any shell).
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.inner.wait().await?;
        self.reaped();
        Ok(status)
    }

    /// Whether the child has exited (reaping it if so).
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let r = self.inner.try_wait()?;
        if r.is_some() {
            self.reaped();
        }
        Ok(r)
    }

    fn reaped(&mut self) {
        self.reaped = true;
        if let Some(g) = self.pgid {
            live().remove(&g);
        }
    }

    /// Sends `signal` to the child's process group (nothing once the child was reaped: its pid
    /// may belong to someone else by then).
    pub fn signal_group(&self, signal: i32) {
        if let (false, Some(pgid)) = (self.reaped, self.pgid) {
            // SAFETY: killpg only sends a signal, to the group this child leads.
            unsafe {
                libc::killpg(pgid, signal);
            }
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        let Some(pgid) = self.pgid else { return };
        // The leader, even exited, is not reaped yet, so its group id is still ours.
        self.signal_group(libc::SIGTERM);
        live().remove(&pgid);
        let stopper = std::thread::spawn(move || {
            let start = Instant::now();
            // SAFETY (both calls): signal 0 only checks that the group has members; SIGKILL
            // goes to the group this handle's child led (kept ours by the group's members).
            while start.elapsed() < GRACE {
                if unsafe { libc::killpg(pgid, 0) } != 0 {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        });
        let mut list = STOPPING.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|t| !t.is_finished());
        list.push(stopper);
    }
}

/// Waits until every dropped child's group was stopped (at most about [`GRACE`]).
pub fn settle() {
    let threads: Vec<_> = STOPPING.lock().map(|mut l| std::mem::take(&mut *l)).unwrap_or_default();
    for t in threads {
        let _ = t.join();
    }
}

/// SIGKILL to the group of every child not reaped yet: what kiln does when it exits without
/// finishing its cleanups (a second Ctrl-C), so no script or VM outlives it.
pub fn kill_all() {
    for g in std::mem::take(&mut *live()) {
        // SAFETY: killpg only sends a signal, to a group a live handle's child leads.
        unsafe {
            libc::killpg(g, libc::SIGKILL);
        }
    }
}

/// Whether any process of group `pgid` is still running (zombies do not count). For tests and
/// for messages; Linux only (reads /proc), false elsewhere.
pub fn group_alive(pgid: i32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else { return false };
    dir.filter_map(|e| e.ok()).any(|e| {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { return false };
        // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return false };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|g| g.parse::<i32>().ok());
        pgrp == Some(pgid) && state != Some("Z")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dropping_the_handle_stops_the_whole_group() {
        let mut cmd = tokio::process::Command::new("/bin/sh");
        // The second sleep ignores SIGTERM: only the SIGKILL after the grace ends it.
        cmd.args(["-c", "sleep 100 & (trap '' TERM; sleep 100) & sleep 100"]);
        let child = spawn(&mut cmd).unwrap();
        let pgid = child.id().unwrap() as i32;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(group_alive(pgid));
        let dropped = Instant::now();
        drop(child);
        let settled = tokio::task::spawn_blocking(settle);
        settled.await.unwrap();
        let waited = dropped.elapsed();
        for _ in 0..40 {
            if !group_alive(pgid) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!group_alive(pgid), "a process of the group survived");
        assert!(waited >= GRACE - Duration::from_millis(100), "SIGKILL came only after the grace: {waited:?}");
    }

    #[tokio::test]
    async fn a_reaped_child_is_left_alone() {
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.args(["-c", "exit 3"]);
        let mut child = spawn(&mut cmd).unwrap();
        assert_eq!(child.wait().await.unwrap().code(), Some(3));
        assert_eq!(child.id(), None);
    }
}
