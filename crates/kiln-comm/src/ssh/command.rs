//! A command running over SSH, and stopping it when its `start` is cancelled.
//!
//! Cancelling a build drops the future of [`Communicator::start`](kiln_core::Communicator::start).
//! Closing the channel does not stop the remote command: sshd leaves a command without a pty
//! running, and the SSH "signal" request, where sshd honours it at all, is refused for root
//! sessions ("session signalling requires privilege separation"). So every command first
//! reports its process group: sshd runs each exec'd command in a new session, so the shell's
//! `$$` is the group of everything the command starts. When the future is dropped while the
//! command still runs, [`Running`]'s drop spawns a task that sends the signal request anyway
//! (harmless where refused) and then kills that group over a fresh channel. The provisioner
//! waits for that task and reports it with [`report`].

use std::sync::Arc;
use std::time::Duration;

use kiln_core::communicator::Writer;
use kiln_core::{Error, ExecIo, Result, Ui};
use russh::client::Msg;
use russh::{Channel, ChannelMsg, Sig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::Conn;

/// How long a stopped group has between SIGTERM and SIGKILL (as the local communicator).
const GRACE_SECS: u32 = 3;
/// How long to wait for the group of a command cancelled before it reported it (sshd may
/// still be starting it: that takes seconds on a busy machine).
const MARKER_WAIT: Duration = Duration::from_secs(30);
/// How long the kill over a new channel may take.
const KILL_WAIT: Duration = Duration::from_secs(4);
/// How long [`report`] waits for all of it (the engine gives a cancelled step 10 s).
const STOP_WAIT: Duration = Duration::from_secs(6);

/// Stop tasks of cancelled commands, for [`report`].
pub(super) type Pending = Arc<std::sync::Mutex<Vec<JoinHandle<Stopped>>>>;

/// The line a command prints first (on stderr; on the merged stream with a pty), which
/// [`Marker`] takes out of the output: `kiln-pgid-<nonce>-<pid>`.
pub(super) struct Marker {
    tag: String,
    pgid: Option<u32>,
}

impl Marker {
    /// `nonce` makes the line one that no command prints by chance.
    pub fn new(nonce: &str) -> Marker {
        Marker { tag: format!("kiln-pgid-{nonce}-"), pgid: None }
    }

    /// `command` reporting its process group first: the login shell prints the marker, then
    /// runs `command` itself through `eval`, so quoting, stdin, the environment, `$0`, startup
    /// files' functions and options, and the exit status stay what sshd would have given it.
    /// Only the shell's own syntax-error messages change a little (bash drops its `-c: line N:`
    /// prefix, dash adds `eval:`). Not a re-exec of the shell (`exec "$0" -c …`): bash would
    /// read `~/.bashrc` a second time, run by sshd as it still believes it is. Assumes an
    /// sh-like login shell, as Packer's own `execute_command` does.
    pub fn wrap(&self, command: &str) -> String {
        format!("echo {}$$ >&2; eval {}", self.tag, crate::shell_quote(command))
    }

    /// When `line` ends with the marker: records the group and returns what the line held
    /// before it (a startup file's output without a newline), else `None`.
    #[cfg(test)]
    pub fn take<'a>(&mut self, line: &'a str) -> Option<&'a str> {
        // The tag is ASCII, so where it starts is a character boundary.
        self.take_bytes(line.as_bytes()).map(|at| &line[..at])
    }

    /// [`Marker::take`] on a line's bytes (without its line end): where the marker starts.
    pub fn take_bytes(&mut self, line: &[u8]) -> Option<usize> {
        let tag = self.tag.as_bytes();
        let at = line.windows(tag.len()).rposition(|w| w == tag)?;
        let digits = &line[at + tag.len()..];
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.pgid = std::str::from_utf8(digits).ok().and_then(|d| d.parse().ok());
        self.pgid.map(|_| at)
    }

    /// The group, from raw output bytes that may hold the marker's line.
    fn find(&self, bytes: &[u8]) -> Option<u32> {
        let text = String::from_utf8_lossy(bytes);
        let at = text.find(&self.tag)?;
        let rest = &text[at + self.tag.len()..];
        let end = rest.find(['\r', '\n'])?;
        rest[..end].parse().ok()
    }
}

/// One output stream of a command on its way out: line by line until the marker was seen
/// (on either stream), which is taken out; byte for byte after that.
#[derive(Default)]
pub(super) struct Cut {
    /// An unfinished line, held while the marker may still come.
    buf: Vec<u8>,
}

impl Cut {
    /// What of `data` goes on now.
    pub fn feed(&mut self, marker: &mut Marker, data: &[u8]) -> Vec<u8> {
        if marker.pgid.is_some() && self.buf.is_empty() {
            return data.to_vec();
        }
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        while marker.pgid.is_none() {
            let Some(i) = self.buf.iter().position(|b| *b == b'\n') else { break };
            let line: Vec<u8> = self.buf.drain(..=i).collect();
            let mut body = &line[..line.len() - 1];
            if body.last() == Some(&b'\r') {
                body = &body[..body.len() - 1];
            }
            match marker.take_bytes(body) {
                // A startup file's output before the marker stays a line of its own.
                Some(at) if at > 0 => {
                    out.extend_from_slice(&body[..at]);
                    out.push(b'\n');
                }
                Some(_) => {}
                None => out.extend_from_slice(&line),
            }
        }
        if marker.pgid.is_some() {
            out.append(&mut self.buf);
        }
        out
    }

    /// What is left when the stream ended.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

/// The channel of a running command. Dropped before [`Running::ended`], it has the command
/// stopped on the machine.
pub(super) struct Running {
    ch: Option<Channel<Msg>>,
    marker: Marker,
    out: Cut,
    errs: Cut,
    conn: Arc<Mutex<Conn>>,
    pending: Pending,
    ended: bool,
}

impl Running {
    pub fn new(ch: Channel<Msg>, marker: Marker, conn: Arc<Mutex<Conn>>, pending: Pending) -> Running {
        Running { ch: Some(ch), marker, out: Cut::default(), errs: Cut::default(), conn, pending, ended: false }
    }

    /// A subsystem (sftp) already started on `ch`: no shell, so no marker in its output and no
    /// process group to stop; closing its channel ends it (its server exits on end-of-file).
    pub fn subsystem(ch: Channel<Msg>, conn: Arc<Mutex<Conn>>, pending: Pending) -> Running {
        let marker = Marker { tag: String::new(), pgid: Some(0) };
        Running { ch: Some(ch), marker, out: Cut::default(), errs: Cut::default(), conn, pending, ended: true }
    }

    /// Starts the command (wrapped by the marker). Dropped from here on, even before sshd
    /// confirmed the start, the command is stopped.
    pub async fn exec(&mut self, command: &str) -> Result<(), russh::Error> {
        let Some(ch) = self.ch.as_ref() else { return Ok(()) };
        let r = ch.exec(true, self.marker.wrap(command)).await;
        if r.is_err() {
            self.ended();
        }
        r
    }

    async fn wait(&mut self) -> Option<ChannelMsg> {
        self.ch.as_mut()?.wait().await
    }

    /// The command ended (its exit status came, or its channel closed): nothing to stop any
    /// more, even if the rest of its output is still being read.
    fn ended(&mut self) {
        self.ended = true;
    }

    /// Feeds the command `io`'s stdin (end-of-file at once when there is none, except on a
    /// pty, where sshd would take it for the terminal's end) and copies its output to `io`'s
    /// writers, without the marker, until its channel closes; its exit status.
    pub async fn pipe(&mut self, io: ExecIo<'_>, pty: bool) -> Result<Option<i32>> {
        let ExecIo { stdin, stdout, stderr } = io;
        let Some(ch) = self.ch.as_ref() else { return Ok(None) };
        let mut w = ch.make_writer();
        let feed = async move {
            match stdin {
                Some(r) => {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = r
                            .read(&mut buf)
                            .await
                            .map_err(|e| Error::new(format!("reading the command's input: {e}")))?;
                        // A write error: the command stopped reading; its exit status tells.
                        if n == 0 || w.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = w.shutdown().await;
                }
                None if !pty => {
                    let _ = w.shutdown().await;
                }
                None => {}
            }
            Ok::<(), Error>(())
        };
        tokio::pin!(feed);
        let output = self.output(stdout, stderr);
        tokio::pin!(output);
        tokio::select! {
            code = &mut output => return code,
            fed = &mut feed => fed?,
        }
        output.await
    }

    /// Copies the command's output until its channel closes; its exit status.
    async fn output(&mut self, stdout: Writer<'_>, stderr: Writer<'_>) -> Result<Option<i32>> {
        let werr = |e: std::io::Error| Error::new(format!("passing on the command's output: {e}"));
        let mut code = None;
        while let Some(msg) = self.wait().await {
            let (is_err, data) = match msg {
                ChannelMsg::Data { data } => (false, data),
                ChannelMsg::ExtendedData { data, ext: 1 } => (true, data),
                ChannelMsg::ExitStatus { exit_status } => {
                    code = Some(exit_status as i32);
                    self.ended();
                    continue;
                }
                ChannelMsg::ExitSignal { .. } => {
                    self.ended();
                    continue;
                }
                _ => continue,
            };
            let cut = if is_err { &mut self.errs } else { &mut self.out };
            let bytes = cut.feed(&mut self.marker, &data);
            if !bytes.is_empty() {
                let written = if is_err { stderr.write_all(&bytes).await } else { stdout.write_all(&bytes).await };
                written.map_err(werr)?;
            }
            // The marker seen on one stream releases what the other held back: a protocol on
            // stdout (an SFTP server's first reply) may send nothing more until it is read.
            if self.marker.pgid.is_some() {
                let other = if is_err { &mut self.out } else { &mut self.errs };
                let held = other.feed(&mut self.marker, &[]);
                if !held.is_empty() {
                    let written = if is_err { stdout.write_all(&held).await } else { stderr.write_all(&held).await };
                    written.map_err(werr)?;
                }
            }
        }
        self.ended();
        stdout.write_all(&self.out.finish()).await.map_err(werr)?;
        stderr.write_all(&self.errs.finish()).await.map_err(werr)?;
        stdout.flush().await.map_err(werr)?;
        stderr.flush().await.map_err(werr)?;
        Ok(code)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let Some(ch) = self.ch.take().filter(|_| !self.ended) else { return };
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let marker = Marker { tag: self.marker.tag.clone(), pgid: self.marker.pgid };
        // Unfinished lines may hold the start of the marker.
        let seen = [std::mem::take(&mut self.errs.buf), std::mem::take(&mut self.out.buf)].concat();
        let task = rt.spawn(stop(ch, marker, seen, Arc::clone(&self.conn)));
        if let Ok(mut p) = self.pending.lock() {
            p.retain(|t| !t.is_finished());
            p.push(task);
        }
    }
}

/// What became of a cancelled command.
#[derive(Debug)]
pub(super) enum Stopped {
    /// It ended by itself before it was stopped.
    Ended,
    /// SIGTERM went to its group (`running`: the group still had processes).
    Signalled { pgid: u32, running: bool },
    /// Its group is known but the machine could not be told.
    Unreachable { pgid: u32, why: String },
    /// It never reported its group (not an sh-like login shell?).
    NoGroup,
    /// Not a command: a cancelled upload, whose partial file on the machine was removed (or
    /// could not be).
    PartialUpload { path: String, removed: std::result::Result<(), String> },
}

async fn stop(mut ch: Channel<Msg>, marker: Marker, mut seen: Vec<u8>, conn: Arc<Mutex<Conn>>) -> Stopped {
    // Stops the command where sshd honours it; refused for root sessions, and harmless then.
    let _ = ch.signal(Sig::TERM).await;
    let pgid = match marker.pgid.or_else(|| marker.find(&seen)) {
        Some(p) => p,
        None => {
            let found = tokio::time::timeout(MARKER_WAIT, async {
                while let Some(msg) = ch.wait().await {
                    match msg {
                        ChannelMsg::Data { data } | ChannelMsg::ExtendedData { data, .. } => {
                            seen.extend_from_slice(&data);
                            if let Some(p) = marker.find(&seen) {
                                return Some(p);
                            }
                        }
                        // Ended, or never started (sshd refused it).
                        ChannelMsg::ExitStatus { .. } | ChannelMsg::ExitSignal { .. } | ChannelMsg::Failure => {
                            return None
                        }
                        _ => {}
                    }
                }
                None
            })
            .await;
            match found {
                Ok(Some(p)) => p,
                Ok(None) => return Stopped::Ended,
                Err(_) => return Stopped::NoGroup,
            }
        }
    };
    let stopped = match tokio::time::timeout(KILL_WAIT, kill(&conn, pgid)).await {
        Ok(Ok(running)) => Stopped::Signalled { pgid, running },
        Ok(Err(why)) => Stopped::Unreachable { pgid, why },
        Err(_) => Stopped::Unreachable { pgid, why: "the machine did not answer in time".into() },
    };
    let _ = ch.close().await;
    stopped
}

/// SIGTERM to group `pgid` over a new channel, SIGKILL after the grace (left running on the
/// machine, so it happens even if kiln exits first). Whether the group had processes.
async fn kill(conn: &Mutex<Conn>, pgid: u32) -> Result<bool, String> {
    let mut ch = {
        let c = conn.lock().await;
        // Never reconnect here: a machine that went away (a reboot) has nothing left to stop.
        if c.0.is_closed() {
            return Err("the connection is gone".into());
        }
        c.0.channel_open_session().await.map_err(|e| e.to_string())?
    };
    let script = format!(
        "if kill -TERM -{pgid} 2>/dev/null; then (sleep {GRACE_SECS}; kill -KILL -{pgid}) </dev/null >/dev/null 2>&1 & echo running; fi"
    );
    ch.exec(true, script).await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(msg) = ch.wait().await {
        if let ChannelMsg::Data { data } = msg {
            out.extend_from_slice(&data);
        }
    }
    Ok(String::from_utf8_lossy(&out).contains("running"))
}

/// Waits for the stop tasks of cancelled commands and says what they did: one "Cleaning up:"
/// line for each command that was still running, the details in the debug log.
pub(super) async fn report(pending: &Pending, ui: &Ui) {
    let tasks: Vec<_> = pending.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default();
    for task in tasks {
        let stopped = match tokio::time::timeout(STOP_WAIT, task).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                ui.log(format!("stopping the cancelled remote command failed (best effort): {e}"));
                continue;
            }
            Err(_) => {
                // Its task goes on while kiln runs: sshd may not have started the command yet.
                ui.say("Cleaning up: stopping the remote command");
                ui.log("the cancelled remote command has not reported its process group yet; going on (best effort)");
                continue;
            }
        };
        match stopped {
            Stopped::Ended => ui.log("the cancelled remote command had already ended"),
            Stopped::Signalled { pgid, running } => {
                ui.say(format!("Cleaning up: stopping the remote command (process group {pgid})"));
                if running {
                    ui.log(format!(
                        "sent SIGTERM to process group {pgid} on the machine; SIGKILL follows in {GRACE_SECS}s"
                    ));
                } else {
                    ui.log(format!("process group {pgid} had already ended on the machine"));
                }
            }
            Stopped::Unreachable { pgid, why } => {
                ui.say(format!("Cleaning up: stopping the remote command (process group {pgid})"));
                ui.log(format!(
                    "could not stop process group {pgid} on the machine ({why}); this is best effort, the \
                     build goes on, the command may still be running"
                ));
            }
            Stopped::PartialUpload { path, removed } => {
                ui.say(format!("Cleaning up: removing the partial upload {path} on the machine"));
                if let Err(e) = removed {
                    ui.log(format!("could not remove the partial upload {path} ({e}); it is still on the machine"));
                }
            }
            Stopped::NoGroup => {
                ui.say("Cleaning up: stopping the remote command");
                ui.log(
                    "the cancelled remote command never reported its process group (is the login shell \
                     sh-compatible?); only an SSH signal request was sent, which OpenSSH refuses for root \
                     sessions: the command may still be running",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_is_taken_out_of_lines_and_raw_output() {
        let mut m = Marker::new("ab12");
        assert_eq!(m.take("kiln-pgid-ab12-"), None);
        assert_eq!(m.take("kiln-pgid-ab12-12x"), None);
        assert_eq!(m.take("kiln-pgid-other-12"), None);
        assert_eq!(m.pgid, None);
        assert_eq!(m.take("from .bashrc: kiln-pgid-ab12-4242"), Some("from .bashrc: "));
        assert_eq!(m.pgid, Some(4242));
        assert_eq!(m.take("kiln-pgid-ab12-77"), Some(""));
        assert_eq!(m.find(b"noise\nkiln-pgid-ab12-99\r\nmore"), Some(99));
        assert_eq!(m.find(b"kiln-pgid-ab12-99"), None, "an unfinished line is not the marker yet");
    }

    /// (stdout, stderr without the marker line, exit status) of `command` wrapped, run by
    /// `shell` as sshd runs a login shell.
    fn wrapped(shell: &str, command: &str) -> (String, String, Option<i32>) {
        let mut m = Marker::new("ab12");
        let o = std::process::Command::new(shell).arg("-c").arg(m.wrap(command)).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let (first, rest) = err.split_once('\n').unwrap();
        assert!(m.take(first).is_some_and(|before| before.is_empty()), "{err}");
        (String::from_utf8_lossy(&o.stdout).into_owned(), rest.to_string(), o.status.code())
    }

    #[test]
    fn wrapped_commands_run_unchanged_in_the_login_shell() {
        let command = "echo \"it's $0\" '$$'; echo oops >&2; exit 3";
        for shell in ["/bin/sh", "/bin/bash"] {
            let plain = std::process::Command::new(shell).args(["-c", command]).output().unwrap();
            let plain = (
                String::from_utf8_lossy(&plain.stdout).into_owned(),
                String::from_utf8_lossy(&plain.stderr).into_owned(),
                plain.status.code(),
            );
            assert_eq!(plain.0, format!("it's {shell} $$\n"));
            assert_eq!(wrapped(shell, command), plain);
        }
    }

    /// bash reads ~/.bashrc when it believes sshd started it; the wrapper must not make that
    /// happen twice (it did when the wrapper re-executed the shell).
    #[test]
    fn startup_files_run_once() {
        let home = std::env::temp_dir().join(format!("kiln-wrap-home-{}", std::process::id()));
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(home.join(".bashrc"), "echo bashrc >&2\n").unwrap();
        let mut m = Marker::new("ab12");
        let o = std::process::Command::new("/bin/bash")
            .arg("-c")
            .arg(m.wrap("echo hi"))
            .env_clear()
            .env("HOME", &home)
            .env("PATH", "/usr/bin:/bin")
            .env("SHELL", "/bin/bash")
            .env("SSH_CLIENT", "127.0.0.1 40000 22")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&home);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(String::from_utf8_lossy(&o.stdout), "hi\n");
        assert!(err.matches("bashrc").count() <= 1, "{err}");
        assert!(err.lines().any(|l| m.take(l).is_some()), "{err}");
    }

    #[test]
    fn cut_takes_the_marker_out_then_passes_bytes_through() {
        let mut m = Marker::new("ab12");
        let (mut out, mut err) = (Cut::default(), Cut::default());
        assert_eq!(out.feed(&mut m, b"partial"), b"");
        assert_eq!(err.feed(&mut m, b"from rc\nrc: kiln-pgid-ab"), b"from rc\n");
        assert_eq!(err.feed(&mut m, b"12-77\r\nwarn"), b"rc: \nwarn");
        assert_eq!(m.pgid, Some(77));
        assert_eq!(out.feed(&mut m, b" line\nkiln-pgid-ab12-5\n"), b"partial line\nkiln-pgid-ab12-5\n");
        assert_eq!(out.finish(), b"");
        assert_eq!(err.feed(&mut m, b"raw\r"), b"raw\r");
    }
}
