//! Starting a plugin binary: environment, its own process group, the handshake line on stdout,
//! its log (stderr) kept as a ring of the last lines, and SIGKILL for the whole group on drop
//! (Packer plugins ignore SIGINT and SIGTERM once connected, so nothing gentler works).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

use crate::error::{Error, ErrorKind, Result};
use crate::handshake::Handshake;

/// The variable a Packer plugin checks before it serves anything.
pub const MAGIC_COOKIE_KEY: &str = "PACKER_PLUGIN_MAGIC_COOKIE";
/// Its value, the same in Packer 1.6.6 and in packer-plugin-sdk.
pub const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// The port range a plugin may listen in when it cannot use a unix socket (Packer's defaults).
const MIN_PORT: u16 = 10000;
const MAX_PORT: u16 = 25000;
/// How many log lines an error quotes, and how long one line may be.
const LOG_LINES: usize = 20;
const LOG_LINE_MAX: usize = 2000;

/// The last lines a plugin logged (stderr, and anything it printed on stdout after the handshake).
pub struct LogTail {
    lines: Mutex<VecDeque<String>>,
    cap: usize,
    sink: Option<LogSink>,
    secrets: Vec<String>,
}

/// Called with each line a plugin logs, for the host's own log.
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

impl LogTail {
    fn new(cap: usize, sink: Option<LogSink>, secrets: Vec<String>) -> Self {
        LogTail { lines: Mutex::new(VecDeque::with_capacity(cap)), cap, sink, secrets }
    }

    fn push(&self, mut line: String) {
        for secret in &self.secrets {
            if line.contains(secret.as_str()) {
                line = line.replace(secret.as_str(), "<sensitive>");
            }
        }
        if let Some(sink) = &self.sink {
            sink(&line);
        }
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() == self.cap {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// A copy of the lines kept, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }
}

/// What to run and how.
#[derive(Clone)]
pub struct PluginCommand {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) start_timeout: Duration,
    pub(crate) call_timeout: Duration,
    pub(crate) log_sink: Option<LogSink>,
    pub(crate) secrets: Vec<String>,
}

impl PluginCommand {
    pub fn new(program: impl Into<PathBuf>) -> Self {
        PluginCommand {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            start_timeout: Duration::from_secs(60),
            call_timeout: Duration::from_secs(300),
            log_sink: None,
            secrets: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// How long the plugin may take to print its handshake (Packer waits a minute).
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// The deadline of every short call (ConfigSpec, Prepare, an artifact's methods …); the long
    /// ones (Run, Provision, PostProcess, Execute) end when the plugin dies or the caller cancels.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Receives every line the plugin logs.
    pub fn log_sink(mut self, sink: LogSink) -> Self {
        self.log_sink = Some(sink);
        self
    }

    /// Values masked as `<sensitive>` in the plugin's log lines, before they reach the sink or
    /// an error message (the plugin masks them itself too when its config's
    /// `packer_sensitive_variables` lists them).
    pub fn secrets<I: IntoIterator<Item = S>, S: Into<String>>(mut self, secrets: I) -> Self {
        self.secrets.extend(secrets.into_iter().map(Into::into).filter(|s| !s.is_empty()));
        self
    }

    /// The binary and its arguments, as errors name the plugin.
    pub fn display_name(&self) -> String {
        let mut name = self.program.display().to_string();
        for arg in &self.args {
            name.push(' ');
            name.push_str(&arg.to_string_lossy());
        }
        name
    }
}

/// The process groups of the plugins running now, killed by an `atexit` handler: a plugin must
/// not outlive kiln, even when kiln exits while a task still holds its handle (a second Ctrl-C
/// exits at once).
static LIVE: Mutex<Vec<i32>> = Mutex::new(Vec::new());

extern "C" fn kill_live_plugins() {
    // At exit another thread may hold the lock; never wait for it there.
    if let Ok(live) = LIVE.try_lock() {
        for pgid in live.iter() {
            // SAFETY: signals a process group kiln started.
            unsafe {
                libc::killpg(*pgid, libc::SIGKILL);
            }
        }
        for pgid in live.iter() {
            wait_dead(*pgid);
        }
    }
}

/// Waits (at most half a second) until the killed process `pid` has exited: SIGKILL is
/// delivered at once but the process ends a moment later, and until then its binary is busy
/// and it still counts as running; kiln's command must not return before it is gone.
fn wait_dead(pid: i32) {
    let stat = format!("/proc/{pid}/stat");
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(500) {
        match std::fs::read_to_string(&stat) {
            // Gone, or a zombie (exited; only its parent's reaping is left).
            Err(_) => return,
            Ok(s) if s.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')) => {
                return
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

fn track(pgid: i32) {
    static AT_EXIT: std::sync::Once = std::sync::Once::new();
    AT_EXIT.call_once(|| {
        // SAFETY: registers a function that only sends signals.
        unsafe {
            libc::atexit(kill_live_plugins);
        }
    });
    LIVE.lock().unwrap_or_else(|p| p.into_inner()).push(pgid);
}

fn untrack(pgid: i32) {
    LIVE.lock().unwrap_or_else(|p| p.into_inner()).retain(|p| *p != pgid);
}

/// A running plugin process. Dropping it kills the process group.
pub(crate) struct PluginProcess {
    name: String,
    pgid: i32,
    log: Arc<LogTail>,
    exit: watch::Receiver<Option<ExitStatus>>,
    socket_path: Mutex<Option<PathBuf>>,
}

impl PluginProcess {
    /// Starts the binary and reads its handshake line.
    pub(crate) async fn start(cmd: &PluginCommand) -> Result<(Arc<PluginProcess>, Handshake, std::time::Instant)> {
        let name = cmd.display_name();
        let started = std::time::Instant::now();
        let mut command = Command::new(&cmd.program);
        command
            .args(&cmd.args)
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
            .env("PACKER_PLUGIN_MIN_PORT", MIN_PORT.to_string())
            .env("PACKER_PLUGIN_MAX_PORT", MAX_PORT.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group, so that one SIGKILL also reaches whatever the plugin started.
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| Error::new(ErrorKind::Start, format!("cannot start it: {e}")).with_plugin(&name))?;
        let pgid = child.id().map(|id| id as i32).unwrap_or(0);
        if pgid > 0 {
            track(pgid);
        }
        let log = Arc::new(LogTail::new(LOG_LINES, cmd.log_sink.clone(), cmd.secrets.clone()));
        let (stdout, stderr) = match (child.stdout.take(), child.stderr.take()) {
            (Some(out), Some(err)) => (out, err),
            _ => return Err(Error::new(ErrorKind::Start, "its stdout/stderr were not piped").with_plugin(&name)),
        };
        let stderr_done = tokio::spawn(pump_lines(stderr, log.clone(), ""));
        let (exit_tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            let status = child.wait().await.ok();
            exit_tx.send_replace(status);
        });
        let process = Arc::new(PluginProcess { name, pgid, log, exit, socket_path: Mutex::new(None) });

        let mut stdout = BufReader::new(stdout);
        let mut line = Vec::new();
        let read = tokio::time::timeout(cmd.start_timeout, stdout.read_until(b'\n', &mut line)).await;
        let line = match read {
            Err(_) => {
                return Err(process
                    .error(Error::new(
                        ErrorKind::Timeout,
                        format!("printed no handshake within {:?} (is it a Packer plugin?)", cmd.start_timeout),
                    ))
                    .await)
            }
            Ok(Err(e)) => {
                return Err(process.error(Error::new(ErrorKind::Handshake, format!("reading its stdout: {e}"))).await)
            }
            Ok(Ok(0)) => {
                // Let the last log lines arrive before quoting them.
                let _ = tokio::time::timeout(Duration::from_millis(500), stderr_done).await;
                return Err(process.error(Error::exited("exited before its handshake")).await);
            }
            Ok(Ok(_)) => String::from_utf8_lossy(&line).trim().to_string(),
        };
        let handshake =
            Handshake::parse(&line).map_err(|e| Error::new(ErrorKind::Handshake, e).with_plugin(&process.name))?;
        if handshake.network == crate::handshake::Network::Unix {
            *process.socket_path.lock().unwrap_or_else(|p| p.into_inner()) = Some(PathBuf::from(&handshake.address));
        }
        tokio::spawn(pump_lines(stdout, process.log.clone(), "stdout: "));
        Ok((process, handshake, started))
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pgid as u32
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn log_tail(&self) -> Vec<String> {
        self.log.lines()
    }

    /// The exit status, once the process has exited.
    pub(crate) fn exit_status(&self) -> Option<ExitStatus> {
        *self.exit.borrow()
    }

    /// Watches for the exit status (without keeping the process alive).
    pub(crate) fn exit_watch(&self) -> watch::Receiver<Option<ExitStatus>> {
        self.exit.clone()
    }

    /// Resolves when the process exits.
    pub(crate) async fn exited(&self) {
        let mut exit = self.exit.clone();
        let _ = exit.wait_for(|s| s.is_some()).await;
    }

    /// Completes `err` with this plugin's name, its exit status if it is gone (waiting a moment
    /// for it when the connection broke) and its last log lines.
    pub(crate) async fn error(&self, err: Error) -> Error {
        let mut err = err;
        if matches!(err.kind(), ErrorKind::Exited | ErrorKind::Protocol | ErrorKind::Timeout | ErrorKind::Handshake) {
            if err.kind() == ErrorKind::Exited {
                let _ = tokio::time::timeout(Duration::from_millis(500), self.exited()).await;
                if let Some(status) = self.exit_status() {
                    let message = format!("{} ({})", err.message(), describe_status(status));
                    err = Error::new(err.kind(), message);
                }
                // Its stderr reaches us a little after it exits.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            err = err.with_log_tail(self.log_tail());
        }
        err.with_plugin(&self.name)
    }

    /// SIGKILL to the whole group (idempotent).
    pub(crate) fn kill(&self) {
        if self.pgid > 0 && self.exit_status().is_none() {
            // SAFETY: killpg only sends a signal to the group this process leads.
            unsafe {
                libc::killpg(self.pgid, libc::SIGKILL);
            }
            wait_dead(self.pgid);
        }
        if self.pgid > 0 {
            untrack(self.pgid);
        }
        // A killed plugin leaves its socket file behind.
        if let Some(path) = self.socket_path.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for PluginProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => status.to_string(),
    }
}

async fn pump_lines<R: AsyncRead + Unpin>(reader: R, log: Arc<LogTail>, prefix: &'static str) {
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buf);
                let mut line = format!("{prefix}{}", text.trim_end_matches(['\n', '\r']));
                if line.len() > LOG_LINE_MAX {
                    let mut cut = LOG_LINE_MAX;
                    while !line.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    line.truncate(cut);
                    line.push('…');
                }
                log.push(line);
            }
        }
    }
}
