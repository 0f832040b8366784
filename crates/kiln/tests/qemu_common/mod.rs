//! What the qemu builder's end-to-end tests share: the base image, a `kiln build` child whose
//! output is read as it comes, SIGINT, and the checks that nothing was left behind.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kiln_testing::skip;

/// One TCG guest at a time (per test binary).
pub fn serial() -> MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    ONE.lock().unwrap_or_else(|p| p.into_inner())
}

fn runs(program: &str, arg: &str) -> bool {
    Command::new(program).arg(arg).output().is_ok_and(|o| o.status.success())
}

/// Whether QEMU and qemu-img are here (else [`skip`]).
pub fn tools_or_skip() -> bool {
    for tool in ["qemu-system-x86_64", "qemu-img"] {
        if !runs(tool, "--version") {
            skip(&format!("{tool} is not installed"));
            return false;
        }
    }
    true
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The base image of scripts/base-image (built there when missing and running as root; cached
/// under ~/.cache/kiln after), or [`skip`] and `None`.
pub fn base_image() -> Option<PathBuf> {
    static IMAGE: Mutex<Option<Result<PathBuf, String>>> = Mutex::new(None);
    let mut cached = IMAGE.lock().unwrap_or_else(|p| p.into_inner());
    let r = cached.get_or_insert_with(|| {
        let out = Command::new(repo().join("scripts/base-image"))
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("running scripts/base-image: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let last = text.lines().last().unwrap_or("").trim().to_string();
        if out.status.success() && Path::new(&last).is_file() {
            Ok(PathBuf::from(last))
        } else {
            Err(format!("no base image (scripts/base-image needs root for its first build): {text}"))
        }
    });
    match r {
        Ok(p) => Some(p.clone()),
        Err(why) => {
            skip(why);
            None
        }
    }
}

/// A running `kiln build`, its output (stdout and stderr) read line by line as it comes.
pub struct Build {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Arc<Mutex<String>>,
}

impl Build {
    /// `kiln build -color=false [args] template.json` in `dir`, with `template` written there.
    pub fn start(dir: &Path, template: &str, args: &[&str]) -> Build {
        std::fs::write(dir.join("template.json"), template).unwrap();
        let mut all = args.to_vec();
        all.push("template.json");
        Build::start_dir(dir, &all)
    }

    /// [`Build::start`] with the step cache (and cleanup journal) in `cache` instead of the
    /// test's own folder.
    pub fn start_cached(dir: &Path, template: &str, args: &[&str], cache: &Path) -> Build {
        std::fs::write(dir.join("template.json"), template).unwrap();
        let mut all = args.to_vec();
        all.push("template.json");
        Build::spawn(dir, &all, cache)
    }

    /// `kiln build -color=false args…` in `dir`.
    pub fn start_dir(dir: &Path, args: &[&str]) -> Build {
        Build::spawn(dir, args, &dir.join(".kiln-cache"))
    }

    /// As [`Build::start`], with the build's temporary folder (`TMPDIR`) at `DIR/tmp`, so a test
    /// can see what it leaves there ([`no_temporary_leftovers`]).
    pub fn start_in_tmp(dir: &Path, template: &str, args: &[&str]) -> Build {
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        std::fs::write(dir.join("template.json"), template).unwrap();
        let mut all = args.to_vec();
        all.push("template.json");
        // The port locks stay where every other kiln process looks for them.
        let locks = std::env::temp_dir().join("kiln-locks");
        let env = [("TMPDIR", dir.join("tmp").into_os_string()), ("KILN_LOCK_DIR", locks.into_os_string())];
        let env: Vec<(&str, &std::ffi::OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        Build::spawn_env(dir, &all, &dir.join(".kiln-cache"), &env)
    }

    fn spawn(dir: &Path, args: &[&str], cache: &Path) -> Build {
        Build::spawn_env(dir, args, cache, &[])
    }

    fn spawn_env(dir: &Path, args: &[&str], cache: &Path, env: &[(&str, &std::ffi::OsStr)]) -> Build {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .envs(env.iter().copied())
            .arg("build")
            .arg("-color=false")
            .args(args)
            .current_dir(dir)
            .env("CHECKPOINT_DISABLE", "1")
            // The test's own cleanup journal and step cache, not the user's.
            .env("PACKER_CACHE_DIR", cache)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let log = Arc::new(Mutex::new(String::new()));
        let pipes: Vec<Box<dyn Read + Send>> =
            vec![Box::new(child.stdout.take().unwrap()), Box::new(child.stderr.take().unwrap())];
        for pipe in pipes {
            let (tx, log) = (tx.clone(), Arc::clone(&log));
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut l = log.lock().unwrap_or_else(|p| p.into_inner());
                    l.push_str(&line);
                    l.push('\n');
                    drop(l);
                    let _ = tx.send(line);
                }
            });
        }
        Build { child, lines, log }
    }

    /// Everything the build has printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits for a line containing `needle`; false after `timeout` or when the build ended.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }

    pub fn sigint(&self) {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill").args(["-INT", &pid]).status().is_ok_and(|s| s.success());
        assert!(ok, "could not signal kiln ({pid})");
    }

    /// Waits for the build to end (killing it after `timeout`); its exit code and output.
    pub fn finish(mut self, timeout: Duration) -> (i32, String) {
        let end = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        // The readers finish with the pipes.
        while self.lines.recv_timeout(Duration::from_secs(2)).is_ok() {}
        let log = self.log();
        match status {
            Some(s) => (s.code().unwrap_or(-1), log),
            None => panic!("kiln build did not end within {timeout:?}:\n{log}"),
        }
    }
}

/// Processes whose command line mentions `needle` (QEMU and qemu-img get the output directory's
/// paths in theirs).
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return found };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else { continue };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let zombie = std::fs::read_to_string(e.path().join("stat")).is_ok_and(|s| s.contains(") Z "));
        if cmd.contains(needle) && !zombie {
            found.push(format!("{name}: {cmd}"));
        }
    }
    found
}

/// The forwarded SSH port the build announced.
pub fn announced_port(log: &str) -> Option<u16> {
    let l = log.lines().find_map(|l| l.split("Found port for communicator (SSH, WinRM, etc): ").nth(1))?;
    l.trim_end_matches('.').trim().parse().ok()
}

/// Nothing of the build runs or listens any more; with `failed`, its output directory is gone.
pub fn no_leftovers(log: &str, out: &Path, failed: bool) {
    let needle = out.display().to_string();
    let procs = processes_mentioning(&needle);
    assert!(procs.is_empty(), "processes survived the build: {procs:?}\n{log}");
    if let Some(port) = announced_port(log) {
        let open = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_ok();
        assert!(!open, "the forwarded port {port} still accepts connections\n{log}");
    }
    if failed {
        assert!(!out.exists(), "the output directory survived: {:?}\n{log}", std::fs::read_dir(out).map(|r| r.count()));
    }
}

/// A build started with [`Build::start_in_tmp`] left nothing in its temporary folder (kiln's
/// private folder for the VM: QEMU's sockets, the console, swtpm's state) and no process that
/// names it (QEMU, swtpm).
pub fn no_temporary_leftovers(dir: &Path, log: &str) {
    let tmp = dir.join("tmp");
    let procs = processes_mentioning(&tmp.display().to_string());
    assert!(procs.is_empty(), "processes survived the build: {procs:?}\n{log}");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "the build left {left:?} in its temporary folder\n{log}");
}

/// `qemu-img info --output=json` of `path`.
pub fn qemu_img_info(path: &Path) -> serde_json::Value {
    let out = Command::new("qemu-img").args(["info", "--force-share", "--output=json"]).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The contents of `paths` (files, or `ls -p` of folders) in the ext4 file system of the base
/// image's first partition inside `disk`, read with debugfs (no root, no mount); a missing
/// path reads as `<missing>`.
pub fn files_in_image(disk: &Path, scratch: &Path, paths: &[&str]) -> Vec<String> {
    // The partition starts 1 MiB in (scripts/base-image's layout).
    let part = scratch.join("part.raw");
    let spec = format!(
        r#"json:{{"driver":"raw","offset":1048576,"file":{{"driver":"qcow2","file":{{"driver":"file","filename":"{}"}}}}}}"#,
        disk.display()
    );
    let out = Command::new("qemu-img").args(["convert", "-U", "-O", "raw", &spec]).arg(&part).output().unwrap();
    assert!(out.status.success(), "qemu-img convert: {}", String::from_utf8_lossy(&out.stderr));
    let read = paths
        .iter()
        .map(|p| {
            let is_dir = p.ends_with('/');
            let req = if is_dir { format!("ls -p {p}") } else { format!("cat {p}") };
            let out = Command::new(debugfs()).args(["-R", &req]).arg(&part).output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            if err.contains("File not found") {
                "<missing>".to_string()
            } else if is_dir {
                // `/inode/mode/uid/gid/name/size/`: names and sizes (inodes differ between builds).
                let mut names: Vec<String> = text
                    .lines()
                    .filter_map(|l| {
                        let f: Vec<&str> = l.split('/').collect();
                        (f.len() >= 7).then(|| format!("{} {} {}", f[5], f[2], f[6]))
                    })
                    .collect();
                names.sort();
                names.join("\n")
            } else {
                text
            }
        })
        .collect();
    let _ = std::fs::remove_file(&part);
    read
}

/// debugfs (e2fsprogs), which lives in /usr/sbin, outside some users' PATH.
pub fn debugfs() -> PathBuf {
    ["/usr/sbin/debugfs", "/sbin/debugfs"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("debugfs"))
}
