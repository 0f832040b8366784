//! Real peers for the client's tests: moto's server (EC2, STS, SSM, Secrets Manager) and a tiny
//! HTTP server for the cases moto cannot play (503s, IMDS, container credentials).
//! (This moves to the dev-only kiln-testing crate later.)

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kiln_amazon::client::{AwsConfig, CallHook, CallReport, ConfigLoader, Credentials, Env, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
pub const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

const INSTALL: &str = "install moto with: python3 -m venv $HOME/.cache/kiln/moto-venv && \
                       $HOME/.cache/kiln/moto-venv/bin/pip install 'moto[server]' (or set KILN_MOTO_SERVER to a moto_server)";

fn require_tools() -> bool {
    std::env::var("KILN_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

fn find_moto_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KILN_MOTO_SERVER") {
        let p = PathBuf::from(p);
        if !p.is_file() {
            eprintln!("KILN_MOTO_SERVER={} is not a file", p.display());
            return None;
        }
        return Some(p);
    }
    if let Some(home) = std::env::var_os("HOME") {
        let p = Path::new(&home).join(".cache/kiln/moto-venv/bin/moto_server");
        if p.is_file() {
            return Some(p);
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("moto_server")).find(|p| {
        // A pyenv shim exists even when no Python version has moto: ask it.
        p.is_file()
            && Command::new(p)
                .arg("--help")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    })
}

/// Images moto serves instead of its bundled list (`MOTO_AMIS_PATH`): two Ubuntu focal builds
/// by Canonical, of different dates, and a newer impostor with the same name in another account.
pub const AMIS: &str = r#"[
 {"ami_id":"ami-0focal000000000a1","owner_id":"099720109477","name":"ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20221101","creation_date":"2022-11-01T10:00:00.000Z","state":"available","public":true,"root_device_type":"ebs","root_device_name":"/dev/sda1","architecture":"x86_64","virtualization_type":"hvm","hypervisor":"xen","image_type":"machine","platform":null,"description":"Canonical, Ubuntu, 20.04 LTS, older","image_location":"amazon/ubuntu-focal-a1","sriov":"simple"},
 {"ami_id":"ami-0focal000000000b2","owner_id":"099720109477","name":"ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20230209","creation_date":"2023-02-09T10:00:00.000Z","state":"available","public":true,"root_device_type":"ebs","root_device_name":"/dev/sda1","architecture":"x86_64","virtualization_type":"hvm","hypervisor":"xen","image_type":"machine","platform":null,"description":"Canonical, Ubuntu, 20.04 LTS, newer","image_location":"amazon/ubuntu-focal-b2","sriov":"simple"},
 {"ami_id":"ami-0focal00000000bad","owner_id":"666666666666","name":"ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20240101","creation_date":"2024-01-01T10:00:00.000Z","state":"available","public":true,"root_device_type":"ebs","root_device_name":"/dev/sda1","architecture":"x86_64","virtualization_type":"hvm","hypervisor":"xen","image_type":"machine","platform":null,"description":"impostor","image_location":"x/impostor","sriov":"simple"},
 {"ami_id":"ami-0focal0000000instore","owner_id":"099720109477","name":"ubuntu/images/hvm-instance/ubuntu-focal-20.04-amd64-server-20240301","creation_date":"2024-03-01T10:00:00.000Z","state":"available","public":true,"root_device_type":"instance-store","root_device_name":"/dev/sda1","architecture":"x86_64","virtualization_type":"hvm","hypervisor":"xen","image_type":"machine","platform":null,"description":"instance store","image_location":"amazon/ubuntu-focal-is","sriov":"simple"}
]"#;

/// A running `moto_server` on 127.0.0.1, killed by PID when dropped.
pub struct Moto {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Moto {
    /// Starts moto, or returns `None` (after saying why) when it is not installed and
    /// KILN_REQUIRE_TOOLS is not 1.
    pub fn start() -> Option<Moto> {
        let Some(server) = find_moto_server() else {
            if require_tools() {
                panic!("moto_server not found and KILN_REQUIRE_TOOLS=1: {INSTALL}");
            }
            eprintln!("SKIP: moto_server not found: {INSTALL}");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let amis = dir.path().join("amis.json");
        std::fs::write(&amis, AMIS).expect("write amis.json");
        let log_path = dir.path().join("moto.log");
        let log = std::fs::File::create(&log_path).expect("moto log");
        let port = free_port();
        let mut cmd = Command::new(&server);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_AMIS_PATH", &amis)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        die_with_parent(&mut cmd);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        let mut moto = Moto { child, url: format!("http://127.0.0.1:{port}"), _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!(
                    "moto_server exited ({status}) before answering:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() && get_ok(port, "/moto-api/") {
                return Some(moto);
            }
            assert!(Instant::now() < deadline, "moto_server did not answer within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A configuration whose every service is this moto, with the documented example keys.
    pub fn config(&self, region: &str, hook: Option<CallHook>) -> AwsConfig {
        let mut l = ConfigLoader::new()
            .env(Env::from_vars::<&str, &str>([]))
            .region(region)
            .credentials(Credentials::new(ACCESS_KEY, SECRET_KEY, None));
        for s in Service::ALL {
            l = l.endpoint(s, &self.url);
        }
        if let Some(h) = hook {
            l = l.hook(h);
        }
        l.load().expect("config")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// If the test process dies without unwinding, the kernel kills the server too.
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// A blocking `GET` that is true on a 200 answer.
fn get_ok(port: u16, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    s.read(&mut buf).is_ok_and(|n| buf[..n].starts_with(b"HTTP/1.0 200") || buf[..n].starts_with(b"HTTP/1.1 200"))
}

/// Collects every call the client reports.
#[derive(Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<CallReport>>>);

impl CallLog {
    pub fn hook(&self) -> CallHook {
        let log = self.0.clone();
        Arc::new(move |r: &CallReport| log.lock().expect("log").push(r.clone()))
    }

    pub fn calls(&self) -> Vec<CallReport> {
        self.0.lock().expect("log").clone()
    }

    pub fn actions(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.action).collect()
    }

    pub fn clear(&self) {
        self.0.lock().expect("log").clear();
    }
}

/// One request as the tiny server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

pub type Handler = Arc<dyn Fn(&Request, usize) -> (u16, String) + Send + Sync>;

/// A minimal HTTP/1.1 server on 127.0.0.1: `handler(request, index)` gives status and body;
/// every request is recorded. Stopped (its task aborted) when dropped.
pub struct HttpServer {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpServer {
    pub async fn start(handler: Handler) -> HttpServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (handler, seen) = (handler.clone(), seen.clone());
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut sock).await else { return };
                    let index = {
                        let mut s = seen.lock().expect("requests");
                        s.push(req.clone());
                        s.len() - 1
                    };
                    let (status, body) = handler(&req, index);
                    if status == 0 {
                        // Never answer: the client's timeout must fire.
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                    let head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nx-amzn-requestid: req-{index}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(body.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        HttpServer { url, requests, task }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("requests").clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Request { method, path, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

/// A future that never resolves: "not cancelled".
pub fn never() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(std::future::pending())
}
