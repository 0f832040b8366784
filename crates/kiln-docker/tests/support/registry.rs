//! A distribution registry (Debian's `docker-registry`) on 127.0.0.1.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, skip, stop_child, which};

/// The test registry's user and password. Not a secret: the registry lives for one
/// test, on 127.0.0.1.
pub const USER: &str = "kiln";
pub const PASSWORD: &str = "kiln-test-password";
/// bcrypt (cost 4, the minimum, to keep each request fast) of PASSWORD.
const PASSWORD_BCRYPT: &str = "$2b$04$bcYf9x39etRSKSr4t2jdAOjejYXrooPHcfQJTJs6NrE9MoTjX24xm";

/// A running registry, stopped by PID when dropped.
pub struct Registry {
    child: Child,
    _dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`
    pub addr: String,
}

impl Registry {
    /// Starts a registry that requires USER/PASSWORD. None (after saying why) when
    /// `docker-registry` is missing or does not start.
    pub fn start(test: &str) -> Option<Registry> {
        let Some(bin) = which("docker-registry") else {
            skip(test, "docker-registry is not installed (apt-get install docker-registry)");
            return None;
        };
        match Registry::try_start(&bin) {
            Ok(r) => Some(r),
            Err(e) => {
                skip(test, &format!("the registry did not start: {e}"));
                None
            }
        }
    }

    fn try_start(bin: &std::path::Path) -> Result<Registry, String> {
        let dir = tempfile::Builder::new().prefix("kiln-registry-").tempdir().map_err(|e| e.to_string())?;
        let port = free_port().map_err(|e| e.to_string())?;
        let addr = format!("127.0.0.1:{port}");
        let htpasswd = dir.path().join("htpasswd");
        std::fs::write(&htpasswd, format!("{USER}:{PASSWORD_BCRYPT}\n")).map_err(|e| e.to_string())?;
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n  secret: kiln-test\nauth:\n  htpasswd:\n    realm: kiln-test\n    path: {}\n",
                dir.path().join("data").display(),
                htpasswd.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.path().join("registry.log")).map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("running {}: {e}", bin.display()))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default();
                return Err(format!("exited ({status}): {log}"));
            }
            if probe(&addr) {
                break;
            }
            if Instant::now() > deadline {
                stop_child(&mut child, Duration::from_secs(2));
                return Err(format!("no answer on {addr}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Registry { child, _dir: dir, addr })
    }
}

/// `GET /v2/` answers 401 (auth required) once the registry is up.
fn probe(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(format!("GET /v2/ HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..n]);
    head.starts_with("HTTP/1.") && (head.contains(" 401 ") || head.contains(" 200 "))
}

impl Drop for Registry {
    fn drop(&mut self) {
        stop_child(&mut self.child, Duration::from_secs(5));
    }
}
