//! Go's net/rpc over a broker stream with ugorji's GoRpc msgpack codec: a request is the header
//! `{ServiceMethod, Seq}` then the argument, a response is `{ServiceMethod, Seq, Error}` then the
//! result. Calls run concurrently and answers are matched by `Seq`; the server side runs every
//! request in a task of its own, because a plugin calls back into the host while the host's own
//! call to it is still open.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::oneshot;

use crate::error::Error;
use crate::msgpack::Value;
use crate::yamux::Stream;

/// Reads msgpack values one after the other from a byte stream.
pub(crate) struct ValueReader<R> {
    reader: R,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> ValueReader<R> {
    pub(crate) fn new(reader: R) -> Self {
        ValueReader { reader, buf: Vec::new() }
    }

    /// The next value; `Ok(None)` at a clean end of stream.
    pub(crate) async fn next(&mut self) -> io::Result<Option<Value>> {
        loop {
            if !self.buf.is_empty() {
                match Value::decode(&self.buf) {
                    Ok(Some((v, n))) => {
                        self.buf.drain(..n);
                        return Ok(Some(v));
                    }
                    Ok(None) => {}
                    Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.reader.read(&mut chunk).await?;
            if n == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the stream ended inside a message"))
                };
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

type Reply = Result<Value, Error>;

struct ClientInner {
    writer: tokio::sync::Mutex<WriteHalf<Stream>>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    /// Why the connection ended, once it has.
    dead: Mutex<Option<String>>,
    seq: AtomicU64,
}

/// The calling side of one net/rpc connection. When the last clone is dropped the stream is
/// closed, so that the plugin's server for it ends too.
#[derive(Clone)]
pub(crate) struct RpcClient {
    inner: Arc<ClientInner>,
    _reader: Arc<AbortOnDrop>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl RpcClient {
    pub(crate) fn new(stream: Stream) -> RpcClient {
        let (reader, writer) = tokio::io::split(stream);
        let inner = Arc::new(ClientInner {
            writer: tokio::sync::Mutex::new(writer),
            pending: Mutex::new(HashMap::new()),
            dead: Mutex::new(None),
            seq: AtomicU64::new(0),
        });
        let reader = tokio::spawn(read_replies(ValueReader::new(reader), inner.clone()));
        RpcClient { inner, _reader: Arc::new(AbortOnDrop(reader)) }
    }

    /// Calls `method` (`"Builder.Prepare"`) with `arg`; resolves with the result or the error the
    /// plugin returned. Dropping the future abandons the call (its answer is discarded).
    pub(crate) async fn call(&self, method: &str, arg: Value) -> Reply {
        let seq = self.inner.seq.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            if let Some(reason) = self.inner.dead.lock().unwrap_or_else(|p| p.into_inner()).clone() {
                return Err(Error::exited(reason));
            }
            self.inner.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(seq, tx);
        }
        let _forget = Forget { inner: &self.inner, seq };
        let mut msg = Value::record([("ServiceMethod", Value::str(method)), ("Seq", Value::Uint(seq))]).to_bytes();
        arg.encode(&mut msg);
        {
            let mut w = self.inner.writer.lock().await;
            if let Err(e) = w.write_all(&msg).await {
                return Err(Error::exited(format!("calling {method}: {e}")));
            }
        }
        match rx.await {
            Ok(reply) => reply,
            Err(_) => Err(Error::exited(self.dead_reason())),
        }
    }

    fn dead_reason(&self) -> String {
        self.inner
            .dead
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| "the connection ended".into())
    }
}

/// Unregisters an abandoned call.
struct Forget<'a> {
    inner: &'a ClientInner,
    seq: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.inner.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.seq);
    }
}

async fn read_replies(mut reader: ValueReader<ReadHalf<Stream>>, inner: Arc<ClientInner>) {
    let reason = loop {
        let header = match reader.next().await {
            Ok(Some(h)) => h,
            Ok(None) => break "the plugin closed the connection".to_string(),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => break e.to_string(),
            Err(e) => break format!("reading the plugin's replies: {e}"),
        };
        let body = match reader.next().await {
            Ok(Some(b)) => b,
            Ok(None) => break "the plugin closed the connection inside a reply".to_string(),
            Err(e) => break format!("reading the plugin's replies: {e}"),
        };
        let Some(seq) = header.get("Seq").and_then(Value::as_u64) else {
            break format!("a reply header without a sequence number: {header:?}");
        };
        let error = header.get("Error").and_then(Value::as_str).unwrap_or("");
        let reply = if error.is_empty() { Ok(body) } else { Err(Error::remote(error)) };
        if let Some(tx) = inner.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(&seq) {
            let _ = tx.send(reply);
        }
    };
    *inner.dead.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.clone());
    let pending: Vec<_> = inner.pending.lock().unwrap_or_else(|p| p.into_inner()).drain().collect();
    for (_, tx) in pending {
        let _ = tx.send(Err(Error::exited(reason.clone())));
    }
}

/// One of the servers the host offers the plugin (`Ui`, `Hook`, `Communicator`, `Artifact`).
#[async_trait]
pub(crate) trait Service: Send + Sync + 'static {
    /// Handles `method` (the part after the dot); an `Err` goes back as the call's error text.
    async fn call(&self, method: &str, arg: Value) -> Result<Value, String>;

    /// The plugin hung up (or died): nobody will read the answers of calls still running.
    fn hangup(&self) {}
}

/// Serves `services` (by endpoint name) on `stream` until the plugin hangs up.
pub(crate) async fn serve(stream: Stream, services: Vec<(&'static str, Arc<dyn Service>)>) {
    let (reader, writer) = tokio::io::split(stream);
    let writer = Arc::new(tokio::sync::Mutex::new(writer));
    let mut reader = ValueReader::new(reader);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let (header, arg) = match (reader.next().await, reader.next().await) {
            (Ok(Some(h)), Ok(Some(a))) => (h, a),
            _ => break,
        };
        let method = header.get("ServiceMethod").and_then(Value::as_str).unwrap_or("").to_string();
        let seq = header.get("Seq").cloned().unwrap_or(Value::Uint(0));
        let service = method
            .split_once('.')
            .and_then(|(name, m)| services.iter().find(|(n, _)| *n == name).map(|(_, s)| (s.clone(), m.to_string())));
        let writer = writer.clone();
        tasks.spawn(async move {
            let result = match service {
                // In a task of its own, so that a panicking handler still gets an answer out.
                Some((service, m)) => match tokio::spawn(async move { service.call(&m, arg).await }).await {
                    Ok(r) => r,
                    Err(e) => Err(format!("kiln's handler of {method} failed: {e}")),
                },
                None => Err(format!("rpc: can't find service {method}")),
            };
            let (error, body) = match result {
                Ok(body) => (String::new(), body),
                // net/rpc sends an empty struct as the body of an error.
                Err(e) => (e, Value::Map(Vec::new())),
            };
            let mut msg =
                Value::record([("ServiceMethod", Value::str(method)), ("Seq", seq), ("Error", Value::str(error))])
                    .to_bytes();
            body.encode(&mut msg);
            let _ = writer.lock().await.write_all(&msg).await;
        });
        // Reap finished handlers so a long session does not pile them up.
        while tasks.try_join_next().is_some() {}
    }
    // The plugin hung up: running handlers finish on their own (their replies go nowhere),
    // once the services have stopped what the plugin no longer waits for.
    for (_, service) in &services {
        service.hangup();
    }
    tasks.detach_all();
}
