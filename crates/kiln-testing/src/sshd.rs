//! A private OpenSSH sshd on 127.0.0.1 (own config, own host key, a free high
//! port, key login for the current user), stopped and removed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Sshd {
    pub port: u16,
    pub dir: PathBuf,
    /// Private key that logs in as `user`.
    pub key: PathBuf,
    pub user: String,
    sshd: PathBuf,
    child: Child,
}

/// `None` with a notice when sshd cannot run here (not installed); a failure instead when
/// `KILN_REQUIRE_TOOLS=1`.
pub fn sshd_or_skip() -> Option<Sshd> {
    match Sshd::start() {
        Ok(s) => Some(s),
        Err(e) => {
            assert!(!crate::require_tools(), "sshd is required: {e}");
            eprintln!("notice: skipping the sshd test: {e}");
            None
        }
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let o = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&o.stderr)))
    }
}

/// Starts `sshd` in the foreground on the config in `dir`, its log in `dir`/sshd.log.
fn spawn(sshd: &Path, dir: &Path) -> Result<Child, String> {
    let log = std::fs::File::create(dir.join("sshd.log")).map_err(|e| e.to_string())?;
    Command::new(sshd)
        .args(["-D", "-e", "-f"])
        .arg(dir.join("sshd_config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("starting sshd: {e}"))
}

impl Sshd {
    pub fn start() -> Result<Sshd, String> {
        let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"].iter().map(PathBuf::from).find(|p| p.exists());
        let sshd = sshd.ok_or("OpenSSH's sshd is not installed (apt-get install openssh-server)")?;
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("kiln-sshd-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        for k in ["host_key", "client_key"] {
            run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(dir.join(k)))?;
        }
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).map_err(|e| e.to_string())?;
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let d = dir.display();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             Subsystem sftp internal-sftp\nMaxSessions 100\nMaxStartups 100\nLogLevel ERROR\n"
        );
        std::fs::write(dir.join("sshd_config"), config).map_err(|e| e.to_string())?;
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = spawn(&sshd, &dir)?;
        let user = String::from_utf8_lossy(&Command::new("id").arg("-un").output().map_err(|e| e.to_string())?.stdout)
            .trim()
            .to_string();
        let mut s = Sshd { port, key: dir.join("client_key"), dir, user, sshd, child };
        if !s.wait_for_port() {
            let log = std::fs::read_to_string(s.dir.join("sshd.log")).unwrap_or_default();
            return Err(format!("sshd did not start: {log}"));
        }
        Ok(s)
    }

    /// Waits up to 10 s for the server to accept connections; false when it did not, or its
    /// process ended first.
    fn wait_for_port(&mut self) -> bool {
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if start.elapsed() > Duration::from_secs(10) || self.child.try_wait().ok().flatten().is_some() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }

    /// Adds `lines` to the server's configuration and restarts it (to restrict its ciphers,
    /// say).
    pub fn reconfigure(&mut self, lines: &str) -> Result<(), String> {
        let path = self.dir.join("sshd_config");
        let mut config = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        config.push_str(lines);
        config.push('\n');
        std::fs::write(&path, config).map_err(|e| e.to_string())?;
        self.restart()
    }

    /// Stops the server and starts it again on the same port (a machine rebooting).
    pub fn restart(&mut self) -> Result<(), String> {
        // Its per-connection processes first (their ids from /proc), so open sessions drop.
        let parent = self.child.id().to_string();
        for entry in std::fs::read_dir("/proc").map_err(|e| e.to_string())?.flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            let Some((_, rest)) = stat.rsplit_once(") ") else { continue };
            if rest.split_whitespace().nth(1) == Some(parent.as_str()) {
                if let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() {
                    // SAFETY: sends a signal to a child of the sshd this harness started.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(&self.sshd, &self.dir)?;
        if !self.wait_for_port() {
            return Err("sshd did not come back".into());
        }
        Ok(())
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An `ssh-agent` on a socket in a folder of the test's, stopped (by its PID) on drop.
pub struct Agent {
    pub sock: PathBuf,
    child: Child,
}

impl Agent {
    /// Starts the agent on `dir`/agent.sock and waits up to 2.5 s for the socket; an error when
    /// ssh-agent cannot run here.
    pub fn start(dir: &Path) -> Result<Agent, String> {
        let sock = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting ssh-agent: {e}"))?;
        let agent = Agent { sock, child };
        for _ in 0..50 {
            if agent.sock.exists() {
                return Ok(agent);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("ssh-agent made no socket within 2.5 s".into())
    }

    /// `ssh-add KEY` (which also loads KEY-cert.pub from beside it); then what `ssh-add -l`
    /// lists.
    pub fn add(&self, key: &Path) -> Result<String, String> {
        run(Command::new("ssh-add").arg(key).env("SSH_AUTH_SOCK", &self.sock))?;
        let o =
            Command::new("ssh-add").arg("-l").env("SSH_AUTH_SOCK", &self.sock).output().map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
