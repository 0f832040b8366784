//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use kiln_plugin::PluginCommand;

/// Whether `tool` is on PATH; when it is not, the test is skipped with a note, or fails under
/// KILN_REQUIRE_TOOLS=1.
pub fn have(tool: &str) -> bool {
    let found =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file())).unwrap_or(false);
    if !found {
        if std::env::var("KILN_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{tool} is required (KILN_REQUIRE_TOOLS=1) but not on PATH");
        }
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

/// Packer 1.6.6 serving one of its built-in components as a plugin.
pub fn packer(component: &str) -> PluginCommand {
    PluginCommand::new("packer").args(["plugin", component]).call_timeout(Duration::from_secs(60))
}

/// The fake SDK-style plugin (tests/fake-plugin, Go in GOPATH mode against Debian's
/// golang-github-* packages), built once per test binary; `None` (skip) when Go or those are
/// missing.
pub fn fake_plugin() -> Option<std::path::PathBuf> {
    kiln_testing::plugins::fake_plugin_or_skip(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
}

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kiln-plugin-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

use std::sync::Mutex;

use async_trait::async_trait;
use kiln_plugin::communicator::PluginCommunicator;
use kiln_plugin::{CancelSignal, HostHook, HostUi};

/// A Ui that keeps what the plugin said, as `kind: text` lines.
#[derive(Default)]
pub struct RecordingUi(pub Mutex<Vec<String>>);

impl RecordingUi {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn push(&self, kind: &str, text: &str) {
        self.0.lock().unwrap().push(format!("{kind}: {text}"));
    }
}

#[async_trait]
impl HostUi for RecordingUi {
    async fn say(&self, m: &str) {
        self.push("say", m)
    }
    async fn message(&self, m: &str) {
        self.push("message", m)
    }
    async fn error(&self, m: &str) {
        self.push("error", m)
    }
    async fn machine(&self, category: &str, args: &[String]) {
        self.push("machine", &format!("{category} {args:?}"))
    }
}

/// A hook that records its calls and succeeds.
#[derive(Default)]
pub struct RecordingHook(pub Mutex<Vec<(String, serde_json::Value)>>);

#[async_trait]
impl HostHook for RecordingHook {
    async fn run(
        &self,
        name: &str,
        _comm: PluginCommunicator,
        data: serde_json::Value,
        _cancel: CancelSignal,
    ) -> Result<(), String> {
        self.0.lock().unwrap().push((name.to_string(), data));
        Ok(())
    }
}

/// The `packer_*` values Packer passes next to a legacy template's builder config.
pub fn packer_values(build_name: &str, builder_type: &str) -> serde_json::Value {
    serde_json::json!({
        "packer_build_name": build_name,
        "packer_builder_type": builder_type,
        "packer_core_version": "1.6.6",
        "packer_debug": false,
        "packer_force": false,
        "packer_on_error": "cleanup",
        "packer_template_path": "/dev/null",
        "packer_user_variables": {},
    })
}

/// A private sshd on 127.0.0.1 (root, key only) with its own config, host key and client key,
/// stopped by PID on drop.
pub struct Sshd {
    pub port: u16,
    pub client_key: std::path::PathBuf,
    child: std::process::Child,
    _dir: TempDir,
}

impl Sshd {
    pub fn start() -> Option<Sshd> {
        if !have("ssh-keygen") || !std::path::Path::new("/usr/sbin/sshd").exists() && !have("sshd") {
            return None;
        }
        let dir = TempDir::new("sshd");
        let d = dir.path();
        std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        for key in ["host_ed25519", "client_key"] {
            let ok = std::process::Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(key))
                .status()
                .unwrap()
                .success();
            assert!(ok, "ssh-keygen failed");
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_ed25519\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nUseDNS no\nSubsystem sftp internal-sftp\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let _ = std::fs::create_dir_all("/run/sshd");
        let sshd = if std::path::Path::new("/usr/sbin/sshd").exists() { "/usr/sbin/sshd" } else { "sshd" };
        let child = std::process::Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
            .spawn()
            .unwrap();
        let sshd = Sshd { port, client_key: d.join("client_key"), child, _dir: dir };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(sshd);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("sshd did not listen on {port}");
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct KillGroup(i32);

impl Drop for KillGroup {
    fn drop(&mut self) {
        if self.0 > 0 {
            // SAFETY: signals the process group this test's command leads.
            unsafe {
                libc::killpg(self.0, libc::SIGKILL);
            }
        }
    }
}

/// A host-side communicator that runs commands on this machine (what kiln's `local`
/// communicator will do), for driving provisioner plugins.
pub struct LocalComm;

#[async_trait]
impl kiln_plugin::HostCommunicator for LocalComm {
    async fn exec(
        &self,
        command: &str,
        stdin: Option<kiln_plugin::BoxRead>,
        stdout: Option<kiln_plugin::BoxWrite>,
        stderr: Option<kiln_plugin::BoxWrite>,
    ) -> Result<i64, String> {
        use std::process::Stdio;
        let mut child = tokio::process::Command::new("/bin/sh")
            .args(["-c", command])
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| e.to_string())?;
        // Dropping exec (a cancelled provisioner) kills the command and whatever it started.
        let _group = KillGroup(child.id().map(|p| p as i32).unwrap_or(0));
        let (cin, mut cout, mut cerr) =
            (child.stdin.take(), child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let feed = async move {
            if let (Some(mut src), Some(mut cin)) = (stdin, cin) {
                let _ = tokio::io::copy(&mut src, &mut cin).await;
            }
        };
        let out = async move {
            match stdout {
                Some(mut w) => drop(tokio::io::copy(&mut cout, &mut w).await),
                None => drop(tokio::io::copy(&mut cout, &mut tokio::io::sink()).await),
            }
        };
        let err = async move {
            match stderr {
                Some(mut w) => drop(tokio::io::copy(&mut cerr, &mut w).await),
                None => drop(tokio::io::copy(&mut cerr, &mut tokio::io::sink()).await),
            }
        };
        tokio::join!(feed, out, err);
        let status = child.wait().await.map_err(|e| e.to_string())?;
        Ok(status.code().map(i64::from).unwrap_or(-1))
    }

    async fn upload(&self, dst: &str, mut src: kiln_plugin::BoxRead, mode: Option<u32>) -> Result<(), String> {
        let mut f = tokio::fs::File::create(dst).await.map_err(|e| format!("{dst}: {e}"))?;
        tokio::io::copy(&mut src, &mut f).await.map_err(|e| e.to_string())?;
        if let Some(mode) = mode {
            use std::os::unix::fs::PermissionsExt;
            tokio::fs::set_permissions(dst, std::fs::Permissions::from_mode(mode)).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn upload_dir(&self, dst: &str, src: &std::path::Path, _exclude: &[String]) -> Result<(), String> {
        let ok = std::process::Command::new("cp").arg("-R").arg(src).arg(dst).status().map_err(|e| e.to_string())?;
        if ok.success() {
            Ok(())
        } else {
            Err(format!("cp -R {} {dst} failed", src.display()))
        }
    }

    async fn download(&self, src: &str, mut dst: kiln_plugin::BoxWrite) -> Result<(), String> {
        let mut f = tokio::fs::File::open(src).await.map_err(|e| format!("{src}: {e}"))?;
        tokio::io::copy(&mut f, &mut dst).await.map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn download_dir(&self, src: &str, dst: &std::path::Path, _exclude: &[String]) -> Result<(), String> {
        let ok = std::process::Command::new("cp").arg("-R").arg(src).arg(dst).status().map_err(|e| e.to_string())?;
        if ok.success() {
            Ok(())
        } else {
            Err(format!("cp -R {src} {} failed", dst.display()))
        }
    }
}

/// An AsyncWrite into a buffer the test keeps.
#[derive(Clone, Default)]
pub struct SharedBuf(pub std::sync::Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

impl tokio::io::AsyncWrite for SharedBuf {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.lock().unwrap().extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// `n` bytes that are not all alike.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}
