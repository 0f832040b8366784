//! yamux, the stream multiplexer of hashicorp/yamux, as Packer plugins speak it: 12-byte frame
//! headers (version, type, flags, stream id, length, big-endian), per-stream receive windows of
//! 256 KiB topped up with window updates, pings answered, go-away honoured. kiln is always the
//! client (odd stream ids); the plugin is the server.
//!
//! One task reads frames and one writes them; stream handles share the state under a mutex that
//! is never held across an await.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter, ReadBuf};
use tokio::sync::{mpsc, watch};

const VERSION: u8 = 0;
const TYPE_DATA: u8 = 0;
const TYPE_WINDOW_UPDATE: u8 = 1;
const TYPE_PING: u8 = 2;
const TYPE_GO_AWAY: u8 = 3;
const FLAG_SYN: u16 = 1;
const FLAG_ACK: u16 = 2;
const FLAG_FIN: u16 = 4;
const FLAG_RST: u16 = 8;
/// The window every stream starts with (the spec's fixed initial value).
const INITIAL_WINDOW: u32 = 256 * 1024;
/// The largest data frame we write.
const MAX_FRAME: usize = 64 * 1024;

enum Out {
    Frame(Vec<u8>),
    Close,
}

fn frame(ty: u8, flags: u16, id: u32, length: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(12 + payload.len());
    f.push(VERSION);
    f.push(ty);
    f.extend_from_slice(&flags.to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(&length.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

#[derive(Default)]
struct StreamState {
    recv: VecDeque<u8>,
    /// What the peer may still send before our next window update.
    recv_window: u32,
    /// Bytes taken out of `recv` since the last window update we sent.
    consumed: u32,
    send_window: u32,
    local_closed: bool,
    remote_closed: bool,
    reset: bool,
    /// The handle is gone: data that still arrives is dropped.
    dropped: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

impl StreamState {
    fn new(send_window: u32) -> Self {
        StreamState { recv_window: INITIAL_WINDOW, send_window, ..Default::default() }
    }

    fn wake(&mut self) {
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
        if let Some(w) = self.write_waker.take() {
            w.wake();
        }
    }
}

struct State {
    streams: HashMap<u32, StreamState>,
    next_id: u32,
    /// Why the session ended, once it has.
    closed: Option<String>,
    remote_go_away: bool,
    incoming: Option<mpsc::UnboundedSender<Stream>>,
}

struct Shared {
    state: Mutex<State>,
    out: mpsc::UnboundedSender<Out>,
    closed_tx: watch::Sender<bool>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn send(&self, f: Vec<u8>) {
        let _ = self.out.send(Out::Frame(f));
    }

    /// Ends the session: every stream's pending and future operations fail with `reason`.
    fn fail(&self, reason: String) {
        let mut st = self.lock();
        if st.closed.is_none() {
            st.closed = Some(reason);
        }
        st.incoming = None;
        for s in st.streams.values_mut() {
            s.wake();
        }
        drop(st);
        let _ = self.out.send(Out::Close);
        // send_replace: a plain send is lost while nobody is subscribed.
        self.closed_tx.send_replace(true);
    }
}

/// One end of a yamux session (kiln is the client end; the server end exists for tests).
pub struct Session {
    shared: Arc<Shared>,
}

/// Streams the plugin opens towards us.
pub struct Incoming(mpsc::UnboundedReceiver<Stream>);

impl Incoming {
    pub async fn next(&mut self) -> Option<Stream> {
        self.0.recv().await
    }
}

impl Session {
    /// Starts the client end over `io`; spawns its reader and writer tasks.
    pub fn client<T>(io: T) -> (Session, Incoming)
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        Session::start(io, 1)
    }

    /// The server end (even stream ids), as a plugin runs it.
    pub fn server<T>(io: T) -> (Session, Incoming)
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        Session::start(io, 2)
    }

    fn start<T>(io: T, first_id: u32) -> (Session, Incoming)
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (reader, writer) = tokio::io::split(io);
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let (closed_tx, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                streams: HashMap::new(),
                next_id: first_id,
                closed: None,
                remote_go_away: false,
                incoming: Some(in_tx),
            }),
            out: out_tx,
            closed_tx,
        });
        tokio::spawn(write_loop(writer, out_rx, shared.clone()));
        tokio::spawn(read_loop(reader, shared.clone()));
        (Session { shared }, Incoming(in_rx))
    }

    /// Opens a stream to the plugin.
    pub fn open(&self) -> io::Result<Stream> {
        let mut st = self.shared.lock();
        if let Some(reason) = &st.closed {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, reason.clone()));
        }
        if st.remote_go_away {
            return Err(io::Error::new(io::ErrorKind::ConnectionRefused, "the plugin is shutting its session down"));
        }
        let id = st.next_id;
        st.next_id = st.next_id.wrapping_add(2);
        st.streams.insert(id, StreamState::new(INITIAL_WINDOW));
        drop(st);
        self.shared.send(frame(TYPE_WINDOW_UPDATE, FLAG_SYN, id, 0, &[]));
        Ok(Stream { id, shared: self.shared.clone() })
    }

    /// Says go-away and closes the connection.
    pub fn close(&self) {
        self.shared.send(frame(TYPE_GO_AWAY, 0, 0, 0, &[]));
        self.shared.fail("the session was closed".into());
    }

    /// Why the session ended, if it has.
    pub fn closed_reason(&self) -> Option<String> {
        self.shared.lock().closed.clone()
    }

    /// Resolves when the session ends.
    pub async fn closed(&self) {
        let mut rx = self.shared.closed_tx.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Streams currently tracked (for tests: closed streams must go away).
    pub fn stream_count(&self) -> usize {
        self.shared.lock().streams.len()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(writer: W, mut rx: mpsc::UnboundedReceiver<Out>, shared: Arc<Shared>) {
    let mut w = BufWriter::with_capacity(MAX_FRAME + 12, writer);
    let mut closing = false;
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(out) = next.take() {
            match out {
                Out::Frame(f) => {
                    if let Err(e) = w.write_all(&f).await {
                        shared.fail(format!("writing to the plugin's connection: {e}"));
                        return;
                    }
                }
                Out::Close => closing = true,
            }
            next = rx.try_recv().ok();
        }
        if let Err(e) = w.flush().await {
            shared.fail(format!("writing to the plugin's connection: {e}"));
            return;
        }
        if closing {
            let _ = w.shutdown().await;
            return;
        }
    }
}

async fn read_loop<R: AsyncRead + Unpin>(mut reader: R, shared: Arc<Shared>) {
    let reason = loop {
        let mut hdr = [0u8; 12];
        if let Err(e) = reader.read_exact(&mut hdr).await {
            break if e.kind() == io::ErrorKind::UnexpectedEof {
                "the plugin closed its connection".to_string()
            } else {
                format!("reading the plugin's connection: {e}")
            };
        }
        let (ty, flags) = (hdr[1], u16::from_be_bytes([hdr[2], hdr[3]]));
        let id = u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
        let length = u32::from_be_bytes([hdr[8], hdr[9], hdr[10], hdr[11]]);
        if hdr[0] != VERSION {
            break format!("yamux: unknown protocol version {}", hdr[0]);
        }
        let result = match ty {
            TYPE_DATA => {
                let mut payload = vec![0u8; length as usize];
                match reader.read_exact(&mut payload).await {
                    Ok(_) => on_stream_frame(&shared, flags, id, 0, payload),
                    Err(e) => Err(format!("reading the plugin's connection: {e}")),
                }
            }
            TYPE_WINDOW_UPDATE => on_stream_frame(&shared, flags, id, length, Vec::new()),
            TYPE_PING => {
                if flags & FLAG_SYN != 0 {
                    shared.send(frame(TYPE_PING, FLAG_ACK, 0, length, &[]));
                }
                Ok(())
            }
            TYPE_GO_AWAY => {
                shared.lock().remote_go_away = true;
                Ok(())
            }
            other => Err(format!("yamux: unknown frame type {other}")),
        };
        if let Err(reason) = result {
            // A protocol error: tell the plugin (go-away, protocol error) before hanging up.
            shared.send(frame(TYPE_GO_AWAY, 0, 0, 1, &[]));
            break reason;
        }
    };
    shared.fail(reason);
}

/// A data frame (`payload`) or a window update (`delta`) for stream `id`.
fn on_stream_frame(shared: &Arc<Shared>, flags: u16, id: u32, delta: u32, payload: Vec<u8>) -> Result<(), String> {
    let mut st = shared.lock();
    if flags & FLAG_SYN != 0 {
        // The peer opens the ids of the parity we do not use.
        if st.streams.contains_key(&id) || id % 2 == st.next_id % 2 {
            return Err(format!("yamux: the plugin opened stream {id}, which is not its to open"));
        }
        let Some(incoming) = st.incoming.clone() else { return Ok(()) };
        st.streams.insert(id, StreamState::new(INITIAL_WINDOW));
        shared.send(frame(TYPE_WINDOW_UPDATE, FLAG_ACK, id, 0, &[]));
        let _ = incoming.send(Stream { id, shared: shared.clone() });
    }
    let mut window_credit = 0;
    let remove = {
        let Some(s) = st.streams.get_mut(&id) else {
            // A stream we already forgot (reset or closed): its data goes nowhere.
            return Ok(());
        };
        s.send_window = s.send_window.saturating_add(delta);
        if !payload.is_empty() {
            let n = payload.len() as u32;
            if n > s.recv_window {
                return Err(format!("yamux: the plugin sent {n} bytes on stream {id}, over its window"));
            }
            s.recv_window -= n;
            if s.dropped {
                // Nobody reads it; give the window straight back.
                s.consumed += n;
                if s.consumed >= INITIAL_WINDOW / 2 {
                    window_credit = std::mem::take(&mut s.consumed);
                    s.recv_window += window_credit;
                }
            } else {
                s.recv.extend(payload);
            }
        }
        if flags & FLAG_FIN != 0 {
            s.remote_closed = true;
        }
        if flags & FLAG_RST != 0 {
            s.reset = true;
        }
        s.wake();
        s.dropped && (s.remote_closed || s.reset)
    };
    if remove {
        st.streams.remove(&id);
    }
    drop(st);
    if window_credit > 0 {
        shared.send(frame(TYPE_WINDOW_UPDATE, 0, id, window_credit, &[]));
    }
    Ok(())
}

/// One yamux stream: a byte pipe in each direction, closed per direction with `shutdown`.
pub struct Stream {
    id: u32,
    shared: Arc<Shared>,
}

impl Stream {
    pub fn id(&self) -> u32 {
        self.id
    }

    fn gone(st: &State) -> io::Error {
        let reason = st.closed.clone().unwrap_or_else(|| "the stream is gone".into());
        io::Error::new(io::ErrorKind::BrokenPipe, reason)
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let mut st = self.shared.lock();
        let closed = st.closed.is_some();
        let Some(s) = st.streams.get_mut(&self.id) else { return Poll::Ready(Err(Self::gone(&st))) };
        if s.recv.is_empty() {
            if s.remote_closed {
                return Poll::Ready(Ok(()));
            }
            if s.reset {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionReset, "the plugin reset the stream")));
            }
            if closed {
                return Poll::Ready(Err(Self::gone(&st)));
            }
            s.read_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.remaining().min(s.recv.len());
        let (a, b) = s.recv.as_slices();
        if n <= a.len() {
            buf.put_slice(&a[..n]);
        } else {
            buf.put_slice(a);
            buf.put_slice(&b[..n - a.len()]);
        }
        s.recv.drain(..n);
        s.consumed += n as u32;
        let mut credit = 0;
        if s.consumed >= INITIAL_WINDOW / 2 && !s.remote_closed {
            credit = std::mem::take(&mut s.consumed);
            s.recv_window += credit;
        }
        drop(st);
        if credit > 0 {
            self.shared.send(frame(TYPE_WINDOW_UPDATE, 0, self.id, credit, &[]));
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let mut st = self.shared.lock();
        if st.closed.is_some() {
            return Poll::Ready(Err(Self::gone(&st)));
        }
        let Some(s) = st.streams.get_mut(&self.id) else { return Poll::Ready(Err(Self::gone(&st))) };
        if s.reset {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionReset, "the plugin reset the stream")));
        }
        if s.local_closed {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "write after shutdown")));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if s.send_window == 0 {
            s.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(s.send_window as usize).min(MAX_FRAME);
        s.send_window -= n as u32;
        // Sent under the lock so that frames of one stream keep their order.
        self.shared.send(frame(TYPE_DATA, 0, self.id, n as u32, &buf[..n]));
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.shared.lock();
        if let Some(s) = st.streams.get_mut(&self.id) {
            if !s.local_closed && !s.reset {
                s.local_closed = true;
                self.shared.send(frame(TYPE_WINDOW_UPDATE, FLAG_FIN, self.id, 0, &[]));
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        let session_closed = st.closed.is_some();
        let Some(s) = st.streams.get_mut(&self.id) else { return };
        if !s.local_closed && !s.reset && !session_closed {
            s.local_closed = true;
            self.shared.send(frame(TYPE_WINDOW_UPDATE, FLAG_FIN, self.id, 0, &[]));
        }
        s.dropped = true;
        s.recv.clear();
        if s.remote_closed || s.reset || session_closed {
            st.streams.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn pair() -> ((Session, Incoming), (Session, Incoming)) {
        let (a, b) = tokio::io::duplex(64 * 1024);
        (Session::client(a), Session::server(b))
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }

    #[tokio::test]
    async fn flow_control_over_many_windows_both_ways_with_half_close() {
        let ((client, _), (_server, mut incoming)) = pair();
        let sent = data(5 * 1024 * 1024 + 3);
        let mut s = client.open().unwrap();
        let echo = tokio::spawn(async move {
            let mut s = incoming.next().await.unwrap();
            let mut got = Vec::new();
            // Reads to the end: the client's shutdown is its FIN.
            s.read_to_end(&mut got).await.unwrap();
            s.write_all(&got).await.unwrap();
            s.shutdown().await.unwrap();
            got.len()
        });
        let t = std::time::Instant::now();
        let writer = {
            let sent = sent.clone();
            async move {
                s.write_all(&sent).await.unwrap();
                // Half-close: we can still read the echo.
                s.shutdown().await.unwrap();
                let mut back = Vec::new();
                s.read_to_end(&mut back).await.unwrap();
                (s, back)
            }
        };
        let (s, back) = writer.await;
        assert_eq!(echo.await.unwrap(), sent.len());
        assert_eq!(back, sent);
        eprintln!("{} bytes each way in {:?}", sent.len(), t.elapsed());
        drop(s);
        // Both sides closed and the handle dropped: the stream is forgotten.
        assert_eq!(client.stream_count(), 0);
    }

    #[tokio::test]
    async fn a_dropped_stream_ends_with_eof_and_its_unread_data_does_not_block_others() {
        let ((client, mut client_in), (server, mut incoming)) = pair();
        let mut a = client.open().unwrap();
        a.write_all(b"x").await.unwrap();
        let mut peer_a = incoming.next().await.unwrap();
        // The server floods a stream the client drops without reading.
        let flood = tokio::spawn(async move {
            let _ = peer_a.write_all(&data(2 * 1024 * 1024)).await;
            peer_a.shutdown().await.unwrap();
            let mut rest = Vec::new();
            peer_a.read_to_end(&mut rest).await.unwrap();
            rest
        });
        drop(a);
        // The flood finishes (its window is given back) and sees our FIN as EOF.
        let rest = tokio::time::timeout(std::time::Duration::from_secs(10), flood).await.unwrap().unwrap();
        assert_eq!(rest, b"x");
        // Its FIN reaches us a moment later; then the stream is forgotten.
        for _ in 0..100 {
            if client.stream_count() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(client.stream_count(), 0);
        // Streams the other way still work.
        let mut b = server.open().unwrap();
        b.write_all(b"hello").await.unwrap();
        b.shutdown().await.unwrap();
        let mut got = Vec::new();
        client_in.next().await.unwrap().read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello");
    }

    #[tokio::test]
    async fn go_away_and_a_closed_connection() {
        let ((client, _), (server, mut incoming)) = pair();
        let mut s = client.open().unwrap();
        s.write_all(b"ping").await.unwrap();
        let mut peer = incoming.next().await.unwrap();
        let mut buf = [0u8; 4];
        peer.read_exact(&mut buf).await.unwrap();
        // The server says go-away: no new streams from us, the open one still works.
        server.shared.send(frame(TYPE_GO_AWAY, 0, 0, 0, &[]));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(client.open().err().unwrap().kind(), io::ErrorKind::ConnectionRefused);
        peer.write_all(b"pong").await.unwrap();
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
        // The connection goes away: reads fail at once, saying why.
        drop(server);
        drop(peer);
        let err = s.read(&mut buf).await;
        assert!(matches!(err, Ok(0)) || err.is_err());
        client.closed().await;
        assert!(client.closed_reason().is_some());
        assert!(s.write_all(b"more").await.is_err());
    }

    #[tokio::test]
    async fn pings_are_answered() {
        let (a, mut peer) = tokio::io::duplex(1024);
        let (_client, _) = Session::client(a);
        peer.write_all(&frame(TYPE_PING, FLAG_SYN, 0, 77, &[])).await.unwrap();
        let mut answer = [0u8; 12];
        peer.read_exact(&mut answer).await.unwrap();
        assert_eq!(answer, frame(TYPE_PING, FLAG_ACK, 0, 77, &[])[..]);
    }
}
