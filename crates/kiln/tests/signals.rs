//! Signals sent to the real `kiln build` process: SIGINT, SIGTERM and SIGHUP while a step
//! waits (for SSH) cancel the build at once, with its cleanups and Packer's exit code; a second
//! SIGINT while a cleanup hangs lists what is left behind and exits 1 without leaving any
//! child process running.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kiln_testing::TempDir;

const KILN: &str = env!("CARGO_BIN_EXE_kiln");

/// `kiln build` of `template` (in its own folder), output read line by line on a thread.
fn start(dir: &Path, template: &str) -> (Child, mpsc::Receiver<String>) {
    let file = dir.join("t.json");
    std::fs::write(&file, template).unwrap();
    let mut child = Command::new(KILN)
        .args(["build", "-color=false"])
        .arg(&file)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let (out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        for line in s.lines() {
            let _ = tx2.send(format!("stderr: {line}"));
        }
    });
    (child, rx)
}

/// Collects lines until one contains `what` (panics after `limit`).
fn wait_for(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>, what: &str, limit: Duration) {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            let hit = l.contains(what);
            seen.push(l);
            if hit {
                return;
            }
        }
    }
    panic!("no line with {what:?} in time:\n{}", seen.join("\n"));
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill").args([format!("-{sig}"), child.id().to_string()]).status().unwrap();
    assert!(ok.success());
}

/// Waits for the exit; (code, how long it took), code -1 when a signal ended it.
fn finish(child: &mut Child, rx: &mpsc::Receiver<String>, seen: &mut Vec<String>) -> (i32, Duration) {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            // The reader threads end with the pipes.
            std::thread::sleep(Duration::from_millis(100));
            seen.extend(rx.try_iter());
            return (st.code().unwrap_or(-1), start.elapsed());
        }
        assert!(start.elapsed() < Duration::from_secs(30), "kiln did not exit:\n{}", seen.join("\n"));
        seen.extend(rx.try_iter());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_signal_while_waiting_for_ssh_cancels_at_once() {
    // A port nothing listens on: the connect step waits (ssh_timeout 5m).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    for sig in ["INT", "TERM", "HUP"] {
        let d = TempDir::new(&format!("sig-{sig}"));
        let t = format!(
            r#"{{"builders": [{{"type":"null","ssh_host":"127.0.0.1","ssh_port":{port},"ssh_username":"u","ssh_password":"unused-password-1","ssh_timeout":"5m"}}]}}"#
        );
        let (mut child, rx) = start(&d.0, &t);
        let mut seen = Vec::new();
        wait_for(&rx, &mut seen, "Waiting for SSH to become available", Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(300));
        signal(&child, sig);
        let (code, took) = finish(&mut child, &rx, &mut seen);
        let out = seen.join("\n");
        assert_eq!(code, 1, "SIG{sig}: {out}");
        assert!(took < Duration::from_secs(3), "SIG{sig}: took {took:?} (the cancel grace is 10 s)\n{out}");
        assert!(out.contains("Cancelling build after receiving interrupt"), "SIG{sig}: {out}");
        assert!(out.contains("Build 'null' cancelled"), "SIG{sig}: {out}");
    }
}

#[test]
fn a_second_interrupt_lists_what_is_left_and_exits() {
    let d = TempDir::new("sig-twice");
    let target = d.0.join("artifact.txt");
    let pidfile = d.0.join("cleanup.pid");
    let t = format!(
        r#"{{"builders": [{{"type":"file","content":"x","target":"{}"}}],
  "provisioners": [{{"type":"shell-local","inline":["exit 1"]}}],
  "error-cleanup-provisioner": {{"type":"shell-local","inline":["echo $$ > {}", "echo cleanup-hangs", "sleep 60"]}}}}"#,
        target.display(),
        pidfile.display()
    );
    let (mut child, rx) = start(&d.0, &t);
    let mut seen = Vec::new();
    wait_for(&rx, &mut seen, "cleanup-hangs", Duration::from_secs(30));
    signal(&child, "INT");
    wait_for(&rx, &mut seen, "Cancelling build after receiving interrupt", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, "INT");
    let (code, took) = finish(&mut child, &rx, &mut seen);
    let out = seen.join("\n");
    assert_eq!(code, 1, "{out}");
    assert!(took < Duration::from_secs(5), "took {took:?}\n{out}");
    assert!(out.contains("Interrupted again: exiting at once without finishing the cleanup. Left behind:"), "{out}");
    assert!(out.contains(&format!("  - file: deleting target file {}", target.display())), "{out}");
    // The hanging cleanup's shell and its sleep did not outlive kiln.
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
    assert!(!alive, "the cleanup provisioner's shell {pid} survived");
}
