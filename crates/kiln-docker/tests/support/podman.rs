//! podman's Docker-compatible API service on a socket of its own.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use kiln_docker::{Endpoint, Engine};

use super::{base_image, cache_dir, skip, stop_child, which};

/// A running `podman system service`, stopped (by PID) when dropped.
///
/// Storage is private to kiln's tests (`<cache>/podman/{root,runroot}`), so tests
/// never see or touch the user's images, and is kept between runs, so the base image
/// is imported once.
pub struct Podman {
    child: Child,
    dir: tempfile::TempDir,
    endpoint: Endpoint,
    pub engine: Engine,
}

/// Held while the shared service starts, so that tests starting together get one service.
/// With one each, both would set the process-wide engine override (`build::run`), and a
/// test's later steps could reach the other's service after that test ended and stopped
/// it ("podman.sock: No such file or directory" in a post-processor).
static SHARED: tokio::sync::Mutex<Weak<Podman>> = tokio::sync::Mutex::const_new(Weak::new());

impl Podman {
    /// The service shared by the tests of this process that run at the same time, with
    /// the base image imported. None (after saying why) when podman cannot run here.
    pub async fn shared(test: &str) -> Option<Arc<Podman>> {
        let mut slot = SHARED.lock().await;
        if let Some(p) = slot.upgrade() {
            return Some(p);
        }
        let podman = Arc::new(Podman::start(test, &[]).await?);
        *slot = Arc::downgrade(&podman);
        Some(podman)
    }

    /// A service of its own; `insecure_registries` (host:port) may be pushed to and
    /// pulled from over plain HTTP. None (after saying why) when podman cannot run.
    pub async fn start(test: &str, insecure_registries: &[String]) -> Option<Podman> {
        Podman::start_listening(test, insecure_registries, false).await
    }

    /// A service of its own listening on `tcp://127.0.0.1:<free port>` instead of a
    /// socket (the engine's plain-TCP `DOCKER_HOST`). None (after saying why) when podman
    /// cannot run.
    pub async fn start_tcp(test: &str) -> Option<Podman> {
        Podman::start_listening(test, &[], true).await
    }

    async fn start_listening(test: &str, insecure_registries: &[String], tcp: bool) -> Option<Podman> {
        for tool in ["podman", "runc"] {
            if which(tool).is_none() {
                skip(test, &format!("{tool} is not installed (apt-get install podman runc)"));
                return None;
            }
        }
        match Podman::try_start(insecure_registries, tcp).await {
            Ok(p) => match base_image::ensure(&p.engine).await {
                Ok(()) => Some(p),
                Err(e) => {
                    skip(test, &format!("no base image: {e}"));
                    None
                }
            },
            Err(e) => {
                skip(test, &format!("podman's API service did not start: {e}"));
                None
            }
        }
    }

    async fn try_start(insecure_registries: &[String], tcp: bool) -> Result<Podman, String> {
        let dir = tempfile::Builder::new().prefix("kiln-podman-").tempdir().map_err(|e| e.to_string())?;
        let store = cache_dir().join("podman");
        std::fs::create_dir_all(&store).map_err(|e| format!("creating {}: {e}", store.display()))?;
        // crun fails on this host's cgroups; runc works. Explicit ulimits, because
        // podman's defaults copy the host's, which runc may refuse. podman keeps each
        // exec's conmon alive for exit_command_delay (300 s) so its exit code can be
        // read later; kiln reads it at once, so 10 s keeps tests from piling them up.
        let conf = dir.path().join("containers.conf");
        std::fs::write(
            &conf,
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\n[engine]\nruntime = \"runc\"\nexit_command_delay = 10\n",
        )
        .map_err(|e| e.to_string())?;
        let registries = dir.path().join("registries.conf");
        let mut reg = String::from("unqualified-search-registries = []\n");
        for r in insecure_registries {
            reg.push_str(&format!("\n[[registry]]\nlocation = \"{r}\"\ninsecure = true\n"));
        }
        std::fs::write(&registries, reg).map_err(|e| e.to_string())?;
        let socket = dir.path().join("podman.sock");
        let endpoint = if tcp {
            Endpoint::Tcp(format!("127.0.0.1:{}", super::free_port().map_err(|e| e.to_string())?))
        } else {
            Endpoint::Unix(socket.display().to_string())
        };
        let log = std::fs::File::create(dir.path().join("service.log")).map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut child = Command::new("podman")
            .arg("--root")
            .arg(store.join("root"))
            .arg("--runroot")
            .arg(store.join("runroot"))
            .args(["system", "service", "--time=0"])
            .arg(endpoint.to_host())
            .env("CONTAINERS_CONF", &conf)
            .env("CONTAINERS_REGISTRIES_CONF", &registries)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("running podman: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("podman exited ({status}): {}", read_log(dir.path())));
            }
            if (tcp || socket.exists()) && kiln_docker::ping_endpoint(&endpoint, Duration::from_secs(2)).await.is_ok() {
                break;
            }
            if Instant::now() > deadline {
                stop_child(&mut child, Duration::from_secs(2));
                return Err(format!("no answer on {} after 30 s: {}", endpoint.to_host(), read_log(dir.path())));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let engine = match Engine::connect_to(&endpoint.to_host()).await {
            Ok(e) => e,
            Err(e) => {
                stop_child(&mut child, Duration::from_secs(2));
                return Err(e.to_string());
            }
        };
        Ok(Podman { child, dir, endpoint, engine })
    }

    /// `DOCKER_HOST` for this service.
    pub fn host(&self) -> String {
        self.endpoint.to_host()
    }

    /// The service's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A scratch directory that lives as long as the service.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }
}

fn read_log(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("service.log")).unwrap_or_default();
    text.lines().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
}

impl Drop for Podman {
    fn drop(&mut self) {
        stop_child(&mut self.child, Duration::from_secs(5));
    }
}
