//! The communicator a builder plugin connected to its machine, as the host's hook reaches it:
//! commands and transfers run inside the plugin, their bytes flow over broker streams the host
//! serves.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

use crate::client::Conn;
use crate::error::{Error, ErrorKind, Result};
use crate::gob;
use crate::host::{BoxRead, BoxWrite};
use crate::msgpack::Value;
use crate::rpc::RpcClient;
use crate::yamux::Stream;

/// A communicator served by the plugin.
#[derive(Clone)]
pub struct PluginCommunicator {
    conn: Arc<Conn>,
    rpc: RpcClient,
}

/// Aborts the helper tasks of a call that did not finish.
struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

impl PluginCommunicator {
    pub(crate) fn new(conn: Arc<Conn>, rpc: RpcClient) -> Self {
        PluginCommunicator { conn, rpc }
    }

    /// Accepts the plugin's connection to our server `id`, then runs `f` on it.
    fn serve_stream<F, Fut>(&self, id: u32, f: F) -> JoinHandle<()>
    where
        F: FnOnce(Stream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let broker = self.conn.broker.clone();
        tokio::spawn(async move {
            if let Ok(stream) = broker.accept(id).await {
                f(stream).await;
            }
        })
    }

    /// Runs `command` on the machine; returns its exit status once it ends and its output has
    /// been copied. Bounded by nothing but the plugin's life: drop the future to give up.
    pub async fn exec(
        &self,
        command: &str,
        stdin: Option<BoxRead>,
        stdout: Option<BoxWrite>,
        stderr: Option<BoxWrite>,
    ) -> Result<i64> {
        let broker = &self.conn.broker;
        let mut tasks = Tasks(Vec::new());
        let mut copies = Vec::new();
        let mut ids = [0u32; 3];
        if let Some(mut input) = stdin {
            ids[0] = broker.next_id();
            tasks.0.push(self.serve_stream(ids[0], |mut s| async move {
                let _ = tokio::io::copy(&mut input, &mut s).await;
                let _ = s.shutdown().await;
            }));
        }
        for (slot, out) in [(1, stdout), (2, stderr)] {
            if let Some(mut out) = out {
                ids[slot] = broker.next_id();
                let (tx, rx) = tokio::sync::oneshot::channel();
                tasks.0.push(self.serve_stream(ids[slot], |mut s| async move {
                    let _ = tokio::io::copy(&mut s, &mut out).await;
                    let _ = out.flush().await;
                    let _ = tx.send(());
                }));
                copies.push(rx);
            }
        }
        let response_id = broker.next_id();
        let (tx, response) = tokio::sync::oneshot::channel();
        tasks.0.push(self.serve_stream(response_id, |mut s| async move {
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf).await;
            let _ = tx.send(buf);
        }));
        let arg = Value::record([
            ("Command", Value::str(command)),
            ("StdinStreamId", Value::Uint(ids[0].into())),
            ("StdoutStreamId", Value::Uint(ids[1].into())),
            ("StderrStreamId", Value::Uint(ids[2].into())),
            ("ResponseStreamId", Value::Uint(response_id.into())),
        ]);
        self.conn.call_on(&self.rpc, "Communicator.Start", arg, false).await?;
        // Output first, as Packer does: the status is only final once the output is copied.
        for rx in copies {
            let _ = rx.await;
        }
        let bytes = match response.await {
            Ok(b) => b,
            Err(_) => {
                return Err(self
                    .conn
                    .process
                    .error(Error::exited(format!("running {command:?}: no exit status")))
                    .await)
            }
        };
        if bytes.is_empty() {
            return Err(self
                .conn
                .process
                .error(Error::new(ErrorKind::Exited, format!("running {command:?}: the plugin sent no exit status")))
                .await);
        }
        gob::decode_command_finished(&bytes).map_err(|e| self.conn.protocol_error(format!("running {command:?}: {e}")))
    }

    /// Writes `src` to the file `dst` on the machine. With `meta`, the file gets its mode (and
    /// scp is told its size up front: it must be exact); without, the plugin's communicator
    /// picks the mode (0644 over scp and sftp).
    pub async fn upload(&self, dst: &str, src: BoxRead, meta: Option<FileMeta>) -> Result<()> {
        let id = self.conn.broker.next_id();
        let mut src = src;
        let _tasks = Tasks(vec![self.serve_stream(id, |mut s| async move {
            let _ = tokio::io::copy(&mut src, &mut s).await;
            let _ = s.shutdown().await;
        })]);
        let info = match meta {
            None => Value::Nil,
            Some(m) => {
                let name = dst.rsplit('/').next().unwrap_or(dst);
                Value::record([
                    ("N", Value::str(name)),
                    ("S", Value::Uint(m.size)),
                    ("M", Value::Uint(unix_to_go_mode(m.mode))),
                    ("T", msgpack_time(std::time::SystemTime::now())),
                ])
            }
        };
        let arg =
            Value::record([("Path", Value::str(dst)), ("ReaderStreamId", Value::Uint(id.into())), ("FileInfo", info)]);
        self.conn.call_on(&self.rpc, "Communicator.Upload", arg, true).await.map(drop)
    }

    /// Copies the file `src` on the machine into `dst`.
    pub async fn download(&self, src: &str, dst: BoxWrite) -> Result<()> {
        let id = self.conn.broker.next_id();
        let (tx, done) = tokio::sync::oneshot::channel();
        let mut dst = dst;
        let _tasks = Tasks(vec![self.serve_stream(id, |mut s| async move {
            let r = tokio::io::copy(&mut s, &mut dst).await.map(drop);
            let r = match r {
                Ok(()) => dst.flush().await,
                Err(e) => Err(e),
            };
            let _ = tx.send(r);
        })]);
        let arg = Value::record([("Path", Value::str(src)), ("WriterStreamId", Value::Uint(id.into()))]);
        self.conn.call_on(&self.rpc, "Communicator.Download", arg, true).await?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::new(ErrorKind::Exited, format!("downloading {src}: {e}"))),
            Err(_) => {
                Err(self.conn.process.error(Error::exited(format!("downloading {src}: the data never came"))).await)
            }
        }
    }

    /// Copies the local directory `src` to `dst` on the machine (the plugin reads `src`).
    pub async fn upload_dir(&self, dst: &str, src: &str, exclude: &[String]) -> Result<()> {
        self.dir_call("Communicator.UploadDir", dst, src, exclude).await
    }

    /// Copies the directory `src` on the machine to the local `dst` (the plugin writes `dst`).
    pub async fn download_dir(&self, src: &str, dst: &str, exclude: &[String]) -> Result<()> {
        self.dir_call("Communicator.DownloadDir", dst, src, exclude).await
    }

    async fn dir_call(&self, method: &str, dst: &str, src: &str, exclude: &[String]) -> Result<()> {
        let arg = Value::record([
            ("Dst", Value::str(dst)),
            ("Src", Value::str(src)),
            ("Exclude", Value::Array(exclude.iter().map(|e| Value::str(e.as_str())).collect())),
        ]);
        let reply = self.conn.call_on(&self.rpc, method, arg, true).await?;
        // The reply is an `error`: nil or a BasicError.
        match reply.get("Message").and_then(Value::as_str) {
            Some(m) => Err(Error::remote(m).with_plugin(self.conn.process.name())),
            None => Ok(()),
        }
    }
}

/// Size and permission bits of a file being uploaded.
#[derive(Debug, Clone, Copy)]
pub struct FileMeta {
    pub size: u64,
    pub mode: u32,
}

/// A Go time.Time as ugorji writes it: msgpack's timestamp extension (-1), 64-bit form.
fn msgpack_time(t: std::time::SystemTime) -> Value {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() & ((1 << 34) - 1);
    let packed = (u64::from(d.subsec_nanos()) << 34) | secs;
    Value::Ext(-1, packed.to_be_bytes().to_vec())
}

// Go's os.FileMode keeps the permission bits low but setuid, setgid and sticky high.
const GO_SETUID: u64 = 1 << 23;
const GO_SETGID: u64 = 1 << 22;
const GO_STICKY: u64 = 1 << 20;

/// Unix permission bits (with setuid 0o4000, setgid 0o2000, sticky 0o1000) as a Go FileMode.
pub(crate) fn unix_to_go_mode(mode: u32) -> u64 {
    let mut m = u64::from(mode & 0o777);
    for (unix, go) in [(0o4000, GO_SETUID), (0o2000, GO_SETGID), (0o1000, GO_STICKY)] {
        if mode & unix != 0 {
            m |= go;
        }
    }
    m
}

/// A Go FileMode's permission bits in Unix form.
pub(crate) fn go_to_unix_mode(m: u64) -> u32 {
    let mut mode = (m & 0o777) as u32;
    for (unix, go) in [(0o4000, GO_SETUID), (0o2000, GO_SETGID), (0o1000, GO_STICKY)] {
        if m & go != 0 {
            mode |= unix;
        }
    }
    mode
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_modes_between_unix_and_go() {
        // os.FileMode(0750) and os.ModeSetuid|0755 as Go prints them in numbers.
        assert_eq!(unix_to_go_mode(0o750), 0o750);
        assert_eq!(unix_to_go_mode(0o4755), (1 << 23) | 0o755);
        assert_eq!(go_to_unix_mode((1 << 23) | (1 << 20) | 0o755), 0o5755);
        // A directory bit (1 << 31) is not a permission.
        assert_eq!(go_to_unix_mode((1 << 31) | 0o700), 0o700);
    }
}
