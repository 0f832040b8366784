//! Real peers for the client's tests: moto's server (EC2, STS, SSM, Secrets Manager) and a tiny
//! HTTP server for the cases moto cannot play (503s, IMDS, container credentials).
//! (This moves to the dev-only kiln-testing crate later.)

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiln_amazon::client::{AwsConfig, CallHook, CallReport, ConfigLoader, Credentials, Env, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use kiln_testing::moto::{ACCESS_KEY, SECRET_KEY};

/// Images moto serves instead of its bundled list (`MOTO_AMIS_PATH`): two Ubuntu focal builds
/// by Canonical, of different dates, and a newer impostor with the same name in another account.
pub const AMIS: &str = r#"[
 {"ami_id":"ami-0focal000000000a1","owner_id":"099720109477","name":"ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20221101","creation_date":"2022-11-01T10:00:00.000Z","state":"available","public":true,"root_device_type":"ebs","root_device_name":"/dev/sda1","architecture":"x86_64","virtualization_type":"hvm","hypervisor":"xen","image_type":"machine","platform":null,"description":"Canonical, Ubuntu, 20.04 LTS, older","image_location":"amazon/ubuntu-focal-a1","sriov":"simple"},
 {"ami_id":"ami-0focal000000000b2","owner_id":"099720109477","name":"ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20230209","creation_date":"2023-02-09T10:00:00.000Z","state":"available","public":true,"root_device_type":"ebs","root_device_name":"/dev/sda1","architecture":"x86_64","virtualization_type":"hvm","hypervisor":"xen","image_type":"machine","platform":null,"description":"Canonical, Ubuntu, 20.04 LTS, newer","image_location":"amazon/ubuntu-focal-b2","sriov":"simple"},
 {"ami_id":"ami-0focal00000000bad","owner_id":"666666666666","name":"ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20240101","creation_date":"2024-01-01T10:00:00.000Z","state":"available","public":true,"root_device_type":"ebs","root_device_name":"/dev/sda1","architecture":"x86_64","virtualization_type":"hvm","hypervisor":"xen","image_type":"machine","platform":null,"description":"impostor","image_location":"x/impostor","sriov":"simple"},
 {"ami_id":"ami-0focal0000000instore","owner_id":"099720109477","name":"ubuntu/images/hvm-instance/ubuntu-focal-20.04-amd64-server-20240301","creation_date":"2024-03-01T10:00:00.000Z","state":"available","public":true,"root_device_type":"instance-store","root_device_name":"/dev/sda1","architecture":"x86_64","virtualization_type":"hvm","hypervisor":"xen","image_type":"machine","platform":null,"description":"instance store","image_location":"amazon/ubuntu-focal-is","sriov":"simple"}
]"#;

/// moto's server with [`AMIS`] (kiln_testing's, killed by PID when dropped).
pub struct Moto {
    server: kiln_testing::moto::Moto,
    pub url: String,
}

impl Moto {
    /// Starts moto, or returns `None` (after saying why) when it is not installed and
    /// KILN_REQUIRE_TOOLS is not 1.
    pub fn start() -> Option<Moto> {
        let server = kiln_testing::moto::Moto::start(AMIS)?;
        Some(Moto { url: server.url.clone(), server })
    }

    /// The server's PID.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.server.pid()
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
