//! A disposable stand-in for a cloud instance: OpenSSH's sshd in a fresh podman container made
//! from the base image ([`crate::base_image`]), published on 127.0.0.1 only, removed (by its
//! container id) when dropped.
//!
//! The users the seed templates log in as (`ubuntu`, `ec2-user`, `centos`, `admin`, and root)
//! accept one key given at start, and may `sudo` without a password, as on a cloud image.
//!
//! A container cannot do everything a machine does: package managers would need the network
//! and a real init, `systemctl` needs systemd, `ufw` needs netfilter. So `apt`, `apt-get`,
//! `yum`, `systemctl`, `ufw` and `pm2` (also at `/usr/lib/node_modules/pm2/bin/pm2`, where the
//! seed templates call it) are **recorders**: they append their command line to
//! [`RECORD`] and succeed (installing `nginx` or `apache2` makes `/var/www/html`, as the
//! packages would). `sleep` is a recorder too, so a template's `sleep 30` does not slow the
//! tests; it still sleeps a tenth of a second. Tests read the record with [`StandIn::recorded`].
//!
//! What the recorders cannot fake is installed for real when the image is built, from Debian's
//! mirror: `python3` (the `ansible` provisioner's modules run with it on the target) and
//! `ansible-core` (the `ansible-local` provisioner runs `ansible-playbook` on the target). A
//! template's own `apt install ansible` line still goes to the recorder: the image stands for an
//! instance after that line ran.
//!
//! podman runs with a store of its own under [`crate::cache_dir`] (`podman-standin/`), runc and
//! explicit ulimits; the image is built once and kept there, named after a hash of its recipe.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::base_image::{tarball, which};
use crate::cache_dir;

/// Where the recorders write, one line per command.
pub const RECORD: &str = "/var/log/kiln-recorder.log";

/// The users that accept the key.
pub const USERS: &[&str] = &["root", "ubuntu", "ec2-user", "centos", "admin"];

const BASE: &str = "kiln-test/debian:bookworm";

const CONTAINERFILE: &str = r#"FROM kiln-test/debian:bookworm
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server sudo python3 ansible-core \
 && rm -rf /var/lib/apt/lists/* && mkdir -p /run/sshd && ssh-keygen -A
RUN for u in ubuntu ec2-user centos admin; do useradd -m -s /bin/bash "$u" \
 && echo "$u ALL=(ALL) NOPASSWD:ALL" > "/etc/sudoers.d/$u"; done
COPY recorder /usr/local/bin/kiln-recorder
COPY start /usr/local/sbin/kiln-standin-start
RUN chmod 755 /usr/local/bin/kiln-recorder /usr/local/sbin/kiln-standin-start \
 && for c in apt apt-get yum systemctl ufw sleep pm2; do ln -s kiln-recorder "/usr/local/bin/$c"; done \
 && mkdir -p /usr/lib/node_modules/pm2/bin && ln -s /usr/local/bin/kiln-recorder /usr/lib/node_modules/pm2/bin/pm2 \
 && touch /var/log/kiln-recorder.log && chmod 666 /var/log/kiln-recorder.log
CMD ["/usr/local/sbin/kiln-standin-start"]
"#;

const RECORDER: &str = r#"#!/bin/sh
# A recorder: the stand-in cannot run this command as a machine would (see kiln-testing's
# standin.rs), so it writes down what was asked and succeeds.
name=$(basename "$0")
printf '%s %s\n' "$name" "$*" >> /var/log/kiln-recorder.log
case "$name $*" in
  *install*nginx*|*install*apache2*) mkdir -p /var/www/html 2>/dev/null ;;
  sleep*) /bin/sleep 0.1 ;;
esac
exit 0
"#;

const START: &str = r#"#!/bin/sh
set -e
for u in root ubuntu ec2-user centos admin; do
  home=$(getent passwd "$u" | cut -d: -f6)
  mkdir -p "$home/.ssh"
  printf '%s\n' "$KILN_AUTHORIZED_KEY" > "$home/.ssh/authorized_keys"
  chmod 700 "$home/.ssh"; chmod 600 "$home/.ssh/authorized_keys"; chown -R "$u:" "$home/.ssh"
done
exec /usr/sbin/sshd -D -e
"#;

/// A running stand-in.
pub struct StandIn {
    id: String,
    /// Where its sshd answers on 127.0.0.1.
    pub port: u16,
}

/// [`StandIn::start`], or `None` after a notice when podman cannot run here (a failure under
/// `KILN_REQUIRE_TOOLS=1`).
pub fn standin_or_skip(authorized_key: &str) -> Option<StandIn> {
    match StandIn::start(authorized_key) {
        Ok(s) => Some(s),
        Err(e) => {
            crate::skip(&format!("no stand-in instance: {e}"));
            None
        }
    }
}

fn store() -> PathBuf {
    cache_dir().join("podman-standin")
}

/// `podman` on the stand-ins' own store.
fn podman() -> Command {
    let store = store();
    let mut c = Command::new("podman");
    c.arg("--root").arg(store.join("root")).arg("--runroot").arg(store.join("runroot"));
    c.env("CONTAINERS_CONF", store.join("containers.conf"));
    c.stdin(Stdio::null());
    c
}

fn run(c: &mut Command) -> Result<Output, String> {
    let out = c.output().map_err(|e| format!("{c:?}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(6).collect();
        Err(format!("{c:?} failed: {}", tail.into_iter().rev().collect::<Vec<_>>().join(" | ")))
    }
}

fn image_exists(name: &str) -> bool {
    podman().args(["image", "exists", name]).status().is_ok_and(|s| s.success())
}

/// The image's name: the recipe's hash, so a changed recipe makes a new image.
fn image_name() -> String {
    // FNV-1a: stable across Rust versions, unlike DefaultHasher.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in [CONTAINERFILE, RECORDER, START].concat().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    format!("kiln-test/standin:{h:016x}")
}

/// Holds an exclusive lock on a file of the store while building, so tests in several
/// processes do not build the image at once.
struct BuildLock(#[allow(dead_code)] std::fs::File);

impl BuildLock {
    fn take(path: &Path) -> Result<BuildLock, String> {
        use std::os::unix::io::AsRawFd;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        // SAFETY: flock on a file descriptor this struct owns.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(format!("locking {}", path.display()));
        }
        Ok(BuildLock(f))
    }
}

/// Makes sure the stand-in image exists; its name.
fn ensure_image() -> Result<String, String> {
    if which("podman").is_none() || which("runc").is_none() {
        return Err("podman and runc are needed (apt-get install podman runc)".into());
    }
    let store = store();
    std::fs::create_dir_all(&store).map_err(|e| format!("creating {}: {e}", store.display()))?;
    std::fs::write(
        store.join("containers.conf"),
        "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\n[engine]\nruntime = \"runc\"\nexit_command_delay = 10\n",
    )
    .map_err(|e| e.to_string())?;
    let name = image_name();
    if image_exists(&name) {
        return Ok(name);
    }
    let _lock = BuildLock::take(&store.join("build.lock"))?;
    if image_exists(&name) {
        return Ok(name);
    }
    if !image_exists(BASE) {
        let tar = tarball()?;
        run(podman().args(["import", "--change", "CMD [\"/bin/bash\"]"]).arg(&tar).arg(BASE))?;
    }
    let ctx = crate::TempDir::new("standin-image");
    ctx.file("Containerfile", CONTAINERFILE.as_bytes());
    ctx.file("recorder", RECORDER.as_bytes());
    ctx.file("start", START.as_bytes());
    eprintln!("building the stand-in image {name} (once; kept in {})", store.display());
    run(podman().args(["build", "-q", "-t", &name, "-f"]).arg(ctx.0.join("Containerfile")).arg(&ctx.0))?;
    Ok(name)
}

impl StandIn {
    /// Starts a stand-in whose users accept `authorized_key` (an OpenSSH public key line) and
    /// waits until its sshd greets.
    pub fn start(authorized_key: &str) -> Result<StandIn, String> {
        let image = ensure_image()?;
        let out = run(podman()
            .args(["run", "-d", "--rm", "-p", "127.0.0.1::22", "-e"])
            .arg(format!("KILN_AUTHORIZED_KEY={}", authorized_key.trim()))
            .arg(&image))?;
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        // From here on, Drop removes the container.
        let mut s = StandIn { id, port: 0 };
        let port = run(podman().args(["port", &s.id, "22"]))?;
        let port = String::from_utf8_lossy(&port.stdout);
        s.port = port
            .lines()
            .find_map(|l| l.trim().rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
            .ok_or_else(|| format!("podman port said {port:?}"))?;
        s.wait_for_sshd()?;
        Ok(s)
    }

    fn wait_for_sshd(&self) -> Result<(), String> {
        use std::io::Read;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // The port forwarder may accept before sshd listens: wait for the greeting.
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 8];
                if s.read_exact(&mut buf).is_ok() && buf.starts_with(b"SSH-") {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                let logs = podman().args(["logs", &self.id]).output().map(|o| o.stderr).unwrap_or_default();
                return Err(format!("sshd in {} did not answer in 30 s: {}", self.id, String::from_utf8_lossy(&logs)));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs `script` with `sh -c` as root in the stand-in; its stdout, or an error with stderr.
    pub fn exec(&self, script: &str) -> Result<String, String> {
        let out = run(podman().args(["exec", &self.id, "sh", "-c", script]))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// What the recorders were asked to do, one command a line (`apt-get -y upgrade`).
    pub fn recorded(&self) -> Vec<String> {
        self.exec(&format!("cat {RECORD}")).unwrap_or_default().lines().map(String::from).collect()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = podman().args(["rm", "-f", "-t", "0", &self.id]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}
