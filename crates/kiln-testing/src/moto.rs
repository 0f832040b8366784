//! moto's server (EC2, STS, SSM, Secrets Manager …) on 127.0.0.1, killed by PID when dropped,
//! and also when the test process dies without unwinding (`PR_SET_PDEATHSIG`).
//!
//! moto is found through `KILN_MOTO_SERVER`, then `$HOME/.cache/kiln/moto-venv/bin/moto_server`
//! (where `scripts/test` installs it), then `PATH`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;

/// AWS's documented example keys, which moto accepts.
pub const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
pub const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

const INSTALL: &str = "install moto with: python3 -m venv $HOME/.cache/kiln/moto-venv && \
                       $HOME/.cache/kiln/moto-venv/bin/pip install 'moto[server]' (or set KILN_MOTO_SERVER to a moto_server)";

/// The `moto_server` to run, if one is installed.
pub fn find_moto_server() -> Option<PathBuf> {
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

/// A running `moto_server` on 127.0.0.1.
pub struct Moto {
    child: Child,
    pub url: String,
    pub port: u16,
    dir: TempDir,
}

impl Moto {
    /// Starts moto serving `amis` (the JSON list `MOTO_AMIS_PATH` names) instead of its bundled
    /// images; `None` (after a notice) when moto is not installed, a failure under
    /// `KILN_REQUIRE_TOOLS=1`.
    pub fn start(amis: &str) -> Option<Moto> {
        let Some(server) = find_moto_server() else {
            crate::skip(&format!("moto_server not found: {INSTALL}"));
            return None;
        };
        let dir = TempDir::new("moto");
        let amis_path = dir.file("amis.json", amis.as_bytes());
        let log_path = dir.0.join("moto.log");
        let log = std::fs::File::create(&log_path).unwrap_or_else(|e| panic!("creating {}: {e}", log_path.display()));
        let port = free_port();
        let mut cmd = Command::new(&server);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_AMIS_PATH", &amis_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap_or_else(|e| panic!("moto log: {e}")))
            .stderr(log);
        die_with_parent(&mut cmd);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        let mut moto = Moto { child, url: format!("http://127.0.0.1:{port}"), port, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited ({status}) before answering:\n{}", moto.log());
            }
            if get_ok(port, "/moto-api/") {
                return Some(moto);
            }
            assert!(Instant::now() < deadline, "moto_server did not answer within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the server wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("moto.log")).unwrap_or_default()
    }

    /// The server's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// If the test process dies without unwinding, the kernel kills the child too.
pub fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// A free TCP port on 127.0.0.1 (free when asked; the caller binds it at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
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
