//! A QMP client (QEMU's JSON machine protocol) over a unix socket: capabilities negotiation,
//! commands matched to their replies by `id`, asynchronous events, and a timeout on every call.
//!
//! One reader task owns the socket's read half: replies go to the waiting caller, events to every
//! subscriber and to a short log (so a watcher that subscribes late still sees a `SHUTDOWN` that
//! came first). When QEMU exits the connection closes and every waiting call fails with
//! [`QmpError::Closed`].

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixStream;
use tokio::sync::{broadcast, oneshot, watch};

/// How long a command may take unless the caller says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many events the log keeps (the oldest go first).
const EVENT_LOG: usize = 256;

#[derive(Debug, Clone, PartialEq)]
pub enum QmpError {
    /// Connecting, reading or writing the socket failed.
    Io(String),
    /// No reply within the time allowed.
    Timeout { command: String, after: Duration },
    /// QEMU answered with an error (`class` is QMP's: `GenericError`, `CommandNotFound` …).
    Command { command: String, class: String, desc: String },
    /// The connection closed (QEMU exited).
    Closed,
    /// Something that is not QMP came over the socket.
    Protocol(String),
}

impl fmt::Display for QmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QmpError::Io(e) => write!(f, "QMP: {e}"),
            QmpError::Timeout { command, after } => {
                write!(
                    f,
                    "QMP command {command} got no answer within {}",
                    kiln_config::golang::format_go_duration(*after)
                )
            }
            QmpError::Command { command, class, desc } => write!(f, "QMP command {command} failed: {desc} ({class})"),
            QmpError::Closed => f.write_str("the QMP connection closed (QEMU exited)"),
            QmpError::Protocol(e) => write!(f, "QMP protocol error: {e}"),
        }
    }
}

impl std::error::Error for QmpError {}

impl From<QmpError> for kiln_core::Error {
    fn from(e: QmpError) -> kiln_core::Error {
        kiln_core::Error::new(e.to_string())
    }
}

/// An asynchronous QMP event (`SHUTDOWN`, `STOP`, `RESET`, `GUEST_PANICKED` …).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: String,
    pub data: Value,
    /// QEMU's timestamp, in microseconds since the epoch.
    pub micros: u64,
}

/// The VM's run state, from `query-status` (QEMU's `RunState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    Running,
    Paused,
    Shutdown,
    InternalError,
    GuestPanicked,
    IoError,
    Prelaunch,
    Suspended,
    Watchdog,
    Other(String),
}

impl RunState {
    pub fn parse(s: &str) -> RunState {
        match s {
            "running" => RunState::Running,
            "paused" => RunState::Paused,
            "shutdown" => RunState::Shutdown,
            "internal-error" => RunState::InternalError,
            "guest-panicked" => RunState::GuestPanicked,
            "io-error" => RunState::IoError,
            "prelaunch" => RunState::Prelaunch,
            "suspended" => RunState::Suspended,
            "watchdog" => RunState::Watchdog,
            other => RunState::Other(other.to_string()),
        }
    }

    /// States the guest cannot leave by itself: the build cannot go on.
    pub fn is_fatal(&self) -> bool {
        matches!(self, RunState::InternalError | RunState::GuestPanicked | RunState::IoError)
    }
}

/// `query-status`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub running: bool,
    pub state: RunState,
    /// The raw `status` string.
    pub status: String,
}

/// One key event of `input-send-event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyEvent {
    /// QEMU's `QKeyCode` name (`a`, `shift`, `ret`, `f12` …).
    pub qcode: &'static str,
    pub down: bool,
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, QmpError>>>>>;

struct Shared {
    pending: Pending,
    events: broadcast::Sender<Event>,
    log: Mutex<Vec<Event>>,
    closed: watch::Sender<bool>,
}

/// A negotiated QMP connection. Dropping it closes the connection.
pub struct Qmp {
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    shared: Arc<Shared>,
    next_id: AtomicU64,
    reader: tokio::task::JoinHandle<()>,
    /// QEMU's version, from the greeting (`7.2.22`).
    pub version: String,
}

impl Drop for Qmp {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Qmp {
    /// Connects to the socket at `path` and negotiates capabilities, all within `timeout`.
    pub async fn connect(path: &Path, timeout: Duration) -> Result<Qmp, QmpError> {
        let what = format!("connecting to QMP at {}", path.display());
        match tokio::time::timeout(timeout, Self::connect_inner(path)).await {
            Ok(r) => r,
            Err(_) => Err(QmpError::Timeout { command: what, after: timeout }),
        }
    }

    async fn connect_inner(path: &Path) -> Result<Qmp, QmpError> {
        let stream = UnixStream::connect(path).await.map_err(|e| QmpError::Io(format!("{}: {e}", path.display())))?;
        let (read, write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        // QEMU 7.2 under load was seen to send an event (RESUME) before the greeting: such
        // events are kept, and the greeting is the first message that is not one.
        let mut early = Vec::new();
        let version = loop {
            let msg = next_message(&mut lines).await?;
            if let Some(ev) = as_event(&msg) {
                early.push(ev);
                continue;
            }
            break msg
                .pointer("/QMP/version/qemu")
                .map(|v| format!("{}.{}.{}", v["major"], v["minor"], v["micro"]))
                .ok_or_else(|| QmpError::Protocol(format!("expected the QMP greeting, got {msg}")))?;
        };
        let (events, _) = broadcast::channel(EVENT_LOG);
        let (closed, _) = watch::channel(false);
        let shared = Arc::new(Shared { pending: Pending::default(), events, log: Mutex::new(early), closed });
        let reader = tokio::spawn(read_loop(lines, shared.clone()));
        let qmp = Qmp { writer: tokio::sync::Mutex::new(write), shared, next_id: AtomicU64::new(1), reader, version };
        qmp.execute("qmp_capabilities", None).await?;
        Ok(qmp)
    }

    /// Connects as soon as the socket accepts, retrying until `timeout` (QEMU creates the
    /// socket a moment after it starts).
    pub async fn connect_retry(path: &Path, timeout: Duration) -> Result<Qmp, QmpError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match Self::connect(path, left.max(Duration::from_millis(1))).await {
                Ok(q) => return Ok(q),
                Err(QmpError::Io(_)) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs `command` with `arguments`, waiting at most [`DEFAULT_TIMEOUT`].
    pub async fn execute(&self, command: &str, arguments: Option<Value>) -> Result<Value, QmpError> {
        self.execute_timeout(command, arguments, DEFAULT_TIMEOUT).await
    }

    /// Runs `command`; its `return` value, or the error QEMU answered with.
    pub async fn execute_timeout(
        &self,
        command: &str,
        arguments: Option<Value>,
        timeout: Duration,
    ) -> Result<Value, QmpError> {
        if *self.shared.closed.borrow() {
            return Err(QmpError::Closed);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({ "execute": command, "id": id });
        if let Some(a) = arguments {
            msg["arguments"] = a;
        }
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.pending).insert(id, tx);
        // Removes the entry however this call ends (timeout, drop).
        struct Forget<'a>(&'a Pending, u64);
        impl Drop for Forget<'_> {
            fn drop(&mut self) {
                lock(self.0).remove(&self.1);
            }
        }
        let _forget = Forget(&self.shared.pending, id);
        // The reader may have closed (and failed the pending calls) before this one was added.
        if *self.shared.closed.borrow() {
            return Err(QmpError::Closed);
        }
        let work = async {
            let mut line = msg.to_string();
            line.push('\n');
            self.writer.lock().await.write_all(line.as_bytes()).await.map_err(|e| {
                if *self.shared.closed.borrow() {
                    QmpError::Closed
                } else {
                    QmpError::Io(e.to_string())
                }
            })?;
            match rx.await {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(QmpError::Command { class, desc, .. })) => {
                    Err(QmpError::Command { command: command.to_string(), class, desc })
                }
                Ok(Err(e)) => Err(e),
                Err(_) => Err(QmpError::Closed),
            }
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(QmpError::Timeout { command: command.to_string(), after: timeout }),
        }
    }

    /// A stream of the events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// The events received so far (the last [`EVENT_LOG`]).
    pub fn events_so_far(&self) -> Vec<Event> {
        lock(&self.shared.log).clone()
    }

    /// Resolves when the connection closes (QEMU exited or closed the monitor).
    pub async fn closed(&self) {
        let mut rx = self.shared.closed.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    pub fn is_closed(&self) -> bool {
        *self.shared.closed.borrow()
    }

    pub async fn query_status(&self) -> Result<Status, QmpError> {
        let v = self.execute("query-status", None).await?;
        let status = v["status"].as_str().ok_or_else(|| QmpError::Protocol(format!("query-status returned {v}")))?;
        Ok(Status {
            running: v["running"].as_bool().unwrap_or(false),
            state: RunState::parse(status),
            status: status.into(),
        })
    }

    /// Presses the ACPI power button.
    pub async fn system_powerdown(&self) -> Result<(), QmpError> {
        self.execute("system_powerdown", None).await.map(drop)
    }

    /// Asks QEMU to exit now. The connection closes while the reply is on its way, so a closed
    /// connection counts as success.
    pub async fn quit(&self) -> Result<(), QmpError> {
        match self.execute("quit", None).await {
            Ok(_) | Err(QmpError::Closed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Presses `qcodes` together and releases them after `hold` (QEMU's default: 100 ms).
    pub async fn send_key(&self, qcodes: &[&str], hold: Option<Duration>) -> Result<(), QmpError> {
        let keys: Vec<Value> = qcodes.iter().map(|k| json!({ "type": "qcode", "data": k })).collect();
        let mut args = json!({ "keys": keys });
        if let Some(h) = hold {
            args["hold-time"] = json!(h.as_millis() as u64);
        }
        self.execute("send-key", Some(args)).await.map(drop)
    }

    /// Sends key down/up events in order, as one `input-send-event`.
    pub async fn input_send_event(&self, events: &[KeyEvent]) -> Result<(), QmpError> {
        let events: Vec<Value> = events
            .iter()
            .map(|e| json!({ "type": "key", "data": { "down": e.down, "key": { "type": "qcode", "data": e.qcode } } }))
            .collect();
        self.execute("input-send-event", Some(json!({ "events": events }))).await.map(drop)
    }

    /// Sets the VNC server's password (QEMU started with `-vnc ...,password=on`).
    pub async fn set_vnc_password(&self, password: &str) -> Result<(), QmpError> {
        self.execute("set_password", Some(json!({ "protocol": "vnc", "password": password }))).await.map(drop)
    }

    /// Runs a human monitor (HMP) command (`info registers`); its text output.
    pub async fn human_monitor_command(&self, command: &str) -> Result<String, QmpError> {
        let v = self.execute("human-monitor-command", Some(json!({ "command-line": command }))).await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these short locks cannot leave them inconsistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

type Lines = tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>;

async fn next_message(lines: &mut Lines) -> Result<Value, QmpError> {
    loop {
        match lines.next_line().await {
            Ok(Some(l)) if l.trim().is_empty() => continue,
            Ok(Some(l)) => {
                return serde_json::from_str(&l).map_err(|e| QmpError::Protocol(format!("{e} in {l:?}")));
            }
            Ok(None) => return Err(QmpError::Closed),
            Err(e) => return Err(QmpError::Io(e.to_string())),
        }
    }
}

/// `msg` as an [`Event`], when it is one.
fn as_event(msg: &Value) -> Option<Event> {
    let name = msg.get("event").and_then(Value::as_str)?;
    let ts = &msg["timestamp"];
    let micros = ts["seconds"].as_u64().unwrap_or(0) * 1_000_000 + ts["microseconds"].as_u64().unwrap_or(0);
    Some(Event { name: name.to_string(), data: msg.get("data").cloned().unwrap_or(Value::Null), micros })
}

async fn read_loop(mut lines: Lines, shared: Arc<Shared>) {
    loop {
        let msg = match next_message(&mut lines).await {
            Ok(m) => m,
            // A line that is not JSON is skipped; anything else ends the connection.
            Err(QmpError::Protocol(_)) => continue,
            Err(_) => break,
        };
        if let Some(ev) = as_event(&msg) {
            {
                let mut log = lock(&shared.log);
                if log.len() == EVENT_LOG {
                    log.remove(0);
                }
                log.push(ev.clone());
            }
            let _ = shared.events.send(ev);
            continue;
        }
        let Some(id) = msg.get("id").and_then(Value::as_u64) else {
            continue;
        };
        let Some(tx) = lock(&shared.pending).remove(&id) else {
            continue;
        };
        let r = match (msg.get("return"), msg.get("error")) {
            (Some(v), _) => Ok(v.clone()),
            (None, Some(e)) => Err(QmpError::Command {
                command: String::new(),
                class: e["class"].as_str().unwrap_or("").to_string(),
                desc: e["desc"].as_str().unwrap_or("").to_string(),
            }),
            (None, None) => Err(QmpError::Protocol(format!("a reply without return or error: {msg}"))),
        };
        let _ = tx.send(r);
    }
    shared.closed.send_replace(true);
    // Waiting callers learn at once that no answer will come.
    for (_, tx) in lock(&shared.pending).drain() {
        let _ = tx.send(Err(QmpError::Closed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_states() {
        assert_eq!(RunState::parse("internal-error"), RunState::InternalError);
        assert!(RunState::parse("guest-panicked").is_fatal());
        assert!(!RunState::parse("running").is_fatal());
        assert_eq!(RunState::parse("colo"), RunState::Other("colo".into()));
    }

    /// A scripted QMP peer on a socketpair: an event, the greeting, capabilities, one command
    /// answered out of order with an event in between, then an error reply, then the
    /// connection closes.
    #[tokio::test]
    async fn replies_are_matched_by_id_and_events_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qmp.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (r, mut w) = s.into_split();
            let mut lines = BufReader::new(r).lines();
            // An event before the greeting, as QEMU 7.2 sent once under load.
            w.write_all(b"{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 0}}\r\n")
                .await
                .unwrap();
            w.write_all(b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 1, \"minor\": 2, \"major\": 7}}, \"capabilities\": []}}\r\n")
                .await
                .unwrap();
            let caps: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
            assert_eq!(caps["execute"], "qmp_capabilities");
            w.write_all(format!("{{\"return\": {{}}, \"id\": {}}}\r\n", caps["id"]).as_bytes()).await.unwrap();
            let a: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
            let b: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
            w.write_all(b"{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 2, \"microseconds\": 5}}\r\n")
                .await
                .unwrap();
            // b first, then a.
            w.write_all(format!("{{\"return\": \"B\", \"id\": {}}}\r\n", b["id"]).as_bytes()).await.unwrap();
            w.write_all(format!("{{\"return\": \"A\", \"id\": {}}}\r\n", a["id"]).as_bytes()).await.unwrap();
            let c: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
            w.write_all(
                format!("{{\"error\": {{\"class\": \"CommandNotFound\", \"desc\": \"no\"}}, \"id\": {}}}\r\n", c["id"])
                    .as_bytes(),
            )
            .await
            .unwrap();
            // Read the next command but never answer it: the connection closes instead.
            let _ = lines.next_line().await;
        });
        let qmp = Qmp::connect(&path, Duration::from_secs(5)).await.unwrap();
        assert_eq!(qmp.version, "7.2.1");
        let (a, b) = tokio::join!(qmp.execute("a", None), qmp.execute("b", None));
        assert_eq!((a.unwrap(), b.unwrap()), (json!("A"), json!("B")));
        let evs = qmp.events_so_far();
        let got: Vec<(&str, u64)> = evs.iter().map(|e| (e.name.as_str(), e.micros)).collect();
        assert_eq!(got, [("RESUME", 1_000_000), ("STOP", 2_000_005)]);
        let e = qmp.execute("c", None).await.unwrap_err();
        assert_eq!(e, QmpError::Command { command: "c".into(), class: "CommandNotFound".into(), desc: "no".into() });
        let e = qmp.execute("d", None).await.unwrap_err();
        assert_eq!(e, QmpError::Closed);
        server.await.unwrap();
        qmp.closed().await;
        assert_eq!(qmp.execute("e", None).await.unwrap_err(), QmpError::Closed);
    }

    #[tokio::test]
    async fn a_silent_peer_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qmp.sock");
        let _listener = tokio::net::UnixListener::bind(&path).unwrap();
        // The listener never accepts nor greets.
        let e = Qmp::connect(&path, Duration::from_millis(200)).await.err().unwrap();
        assert!(matches!(e, QmpError::Timeout { .. }), "{e:?}");
        let e = Qmp::connect_retry(&dir.path().join("absent.sock"), Duration::from_millis(200)).await.err().unwrap();
        assert!(matches!(e, QmpError::Io(_) | QmpError::Timeout { .. }), "{e:?}");
    }
}
