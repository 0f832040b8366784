//! A small HTTP/1.1 server on 127.0.0.1 (a free port) for tests of HTTP clients (the `http`
//! data source): each request gets the response its handler makes, and the server records what
//! it received. One connection at a time, `Connection: close`. Stopped on drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A request as the server read it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// The path and query.
    pub target: String,
    /// Header names as sent, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What the handler answers.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, reason: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response { status, reason, headers: Vec::new(), body: body.into() }
    }

    pub fn header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

pub type Handler = fn(&Request) -> Response;

pub struct HttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<Request>>>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Listens on 127.0.0.1 and answers every request with `handler`.
    pub fn start(handler: Handler) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("the listener's address");
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (stop2, requests2) = (Arc::clone(&stop), Arc::clone(&requests));
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                serve(conn, handler, &requests2);
            }
        });
        HttpServer { addr, stop, requests, thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request from `conn`, records it, answers it, closes the
/// connection. The request is recorded before the answer is sent: a client
/// that has its answer finds its request in [`HttpServer::requests`].
fn serve(conn: TcpStream, handler: Handler, requests: &Mutex<Vec<Request>>) -> Option<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let mut req =
        Request { method: parts.next()?.to_string(), target: parts.next()?.to_string(), ..Request::default() };
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            req.headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    let len = req.header("content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    req.body = vec![0; len];
    reader.read_exact(&mut req.body).ok()?;
    let resp = handler(&req);
    requests.lock().unwrap_or_else(|e| e.into_inner()).push(req);
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        resp.status,
        resp.reason,
        resp.body.len()
    );
    for (n, v) in &resp.headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut conn = conn;
    conn.write_all(out.as_bytes()).ok()?;
    conn.write_all(&resp.body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(_: &Request) -> Response {
        Response::new(200, "OK", "hi")
    }

    /// A client that has read its answer finds its request recorded: tests count requests right
    /// after the process that made them exits.
    #[test]
    fn a_request_is_recorded_before_its_answer_arrives() {
        let server = HttpServer::start(ok);
        for n in 1..=200 {
            let mut conn = TcpStream::connect(server.addr).unwrap();
            conn.write_all(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
            let mut answer = String::new();
            conn.read_to_string(&mut answer).unwrap();
            assert!(answer.ends_with("hi"), "{answer}");
            assert_eq!(server.requests().len(), n);
        }
    }
}
