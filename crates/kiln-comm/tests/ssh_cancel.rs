//! The ssh communicator's commands report their process group so that a cancelled command can
//! be stopped: that report never shows in what commands print or return, and dropping a
//! running `start` stops the command's whole process group on the machine (against a real
//! OpenSSH sshd on 127.0.0.1, which logs in as root in CI, where sshd refuses signal requests).

mod support;

use std::os::unix::process::CommandExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kiln_core::event::{Event, MemoryRenderer};
use kiln_core::{Communicator, Stream, Ui};
use kiln_testing::sshd::{sshd_or_skip, Sshd};
use support::ssh_config;

fn quiet(_: &str) {}

/// (stdout lines, stderr lines, exit status) of `command` over SSH.
async fn over_ssh(comm: &dyn Communicator, command: &str) -> (Vec<String>, Vec<String>, Option<i32>) {
    let got = Mutex::new((Vec::new(), Vec::new()));
    let out = |s: Stream, l: &str| {
        let mut g = got.lock().unwrap();
        match s {
            Stream::Stdout => g.0.push(l.to_string()),
            Stream::Stderr => g.1.push(l.to_string()),
        }
    };
    let code = comm.start(command, &out).await.unwrap();
    let (o, e) = got.into_inner().unwrap();
    (o, e, code)
}

/// The same, run here by the user's login shell as sshd runs it (`<shell> -c <command>`).
fn login_shell(sshd: &Sshd, command: &str) -> (Vec<String>, Vec<String>, Option<i32>) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let shell = passwd
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{}:", sshd.user)).and_then(|r| r.rsplit(':').next()))
        .unwrap_or("/bin/sh")
        .to_string();
    // sshd passes the shell's file name as its argv[0], which shows in its error messages.
    let name = shell.rsplit('/').next().unwrap_or("sh").to_string();
    let o = std::process::Command::new(shell)
        .arg0(name)
        .args(["-c", command])
        .current_dir(std::env::var("HOME").unwrap_or_else(|_| "/".into()))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let lines = |b: &[u8]| String::from_utf8_lossy(b).lines().map(String::from).collect::<Vec<_>>();
    (lines(&o.stdout), lines(&o.stderr), o.status.code())
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_print_and_exit_exactly_as_without_kiln() {
    let Some(sshd) = sshd_or_skip() else { return };
    let comm = kiln_comm::ssh::connect(&ssh_config(&sshd), &quiet).await.unwrap();
    let script = sshd.dir.join("script.sh");
    std::fs::write(&script, "#!/bin/sh -e\necho \"in script: $FOO\"\necho 'to stderr' >&2\nexit 3\n").unwrap();
    let s = script.display();
    let commands = [
        "echo out; echo err >&2; printf 'no newline'; exit 7".to_string(),
        "printf 'tab\\there\\n  lead and trail  \\n\\n'; printf 'e1\\ne2\\n' >&2".to_string(),
        r#"echo '$$ "double" $HOME' "it's" \\ `echo sub`"#.to_string(),
        "set -e; false; echo not reached".to_string(),
        "echo first\nexit 4\necho never".to_string(),
        "nosuchcommand-kiln".to_string(),
        // Packer's default execute_command and the usual sudo form.
        format!("chmod +x {s}; FOO='it'\"'\"'s' {s}"),
        format!("sh -c 'FOO=\"a b\" {s}'"),
        "echo pw | sh -c 'read p; echo \"got $p\"'".to_string(),
        "exit 255".to_string(),
        "echo \"$0\"; echo $# \"$*\"".to_string(),
        "sleep 0.1 & wait $!; echo bg $?".to_string(),
    ];
    for c in &commands {
        assert_eq!(over_ssh(&comm, c).await, login_shell(&sshd, c), "{c}");
    }
    // A syntax error: the same output and status; the shell words its message a little
    // differently for a command it runs through `eval` (see Marker::wrap).
    let c = "echo before\necho (";
    let (ssh, local) = (over_ssh(&comm, c).await, login_shell(&sshd, c));
    assert_eq!((&ssh.0, ssh.2), (&local.0, local.2), "{ssh:?} {local:?}");
    assert!(ssh.1.iter().any(|l| l.to_lowercase().contains("syntax error")), "{ssh:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_pty_the_merged_output_is_unchanged_too() {
    let Some(sshd) = sshd_or_skip() else { return };
    let mut c = ssh_config(&sshd);
    c.ssh_pty = Some(true);
    let comm = kiln_comm::ssh::connect(&c, &quiet).await.unwrap();
    let (out, err, code) = over_ssh(&comm, "echo out; echo err >&2; exit 4").await;
    assert_eq!((out, err, code), (vec!["out".to_string(), "err".to_string()], vec![], Some(4)));
}

/// Processes (not zombies) in process group `pgid`.
fn members(pgid: u32) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        let Some((head, rest)) = stat.rsplit_once(") ") else { continue };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.first() != Some(&"Z") && f.get(2) == Some(&pgid.to_string().as_str()) {
            found.push(head.to_string());
        }
    }
    found
}

fn memory_ui() -> (Ui, MemoryRenderer, Arc<Mutex<Vec<u8>>>) {
    #[derive(Clone)]
    struct Log(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Log {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let r = MemoryRenderer::default();
    let log = Arc::new(Mutex::new(Vec::new()));
    let ui =
        Ui::with(Box::new(r.clone()), Some(Box::new(Log(Arc::clone(&log)))), Box::new(kiln_core::event::StdinAsker));
    (ui, r, log)
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_a_running_command_stops_its_process_group() {
    let Some(sshd) = sshd_or_skip() else { return };
    for pty in [false, true] {
        let mut c = ssh_config(&sshd);
        c.ssh_pty = Some(pty);
        let comm = kiln_comm::ssh::connect(&c, &quiet).await.unwrap();
        let pidfile = sshd.dir.join(format!("pid-{pty}"));
        let finished = sshd.dir.join(format!("finished-{pty}"));
        // A child of a child, as a script started by execute_command is.
        let command = format!(
            "echo $$ > {}; sh -c 'sleep 30; touch {}'; echo not reached",
            pidfile.display(),
            finished.display()
        );
        let out = |_: Stream, _: &str| {};
        let run = comm.start(&command, &out);
        let wait_for_pid = async {
            loop {
                if let Some(p) = std::fs::read_to_string(&pidfile).ok().and_then(|s| s.trim().parse::<u32>().ok()) {
                    return p;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        // The build's cancel: the command's future is dropped.
        let pgid = tokio::select! {
            r = run => panic!("the command ended by itself: {r:?}"),
            p = wait_for_pid => p,
        };
        assert!(members(pgid).len() >= 2, "pty {pty}: {:?}", members(pgid));
        let (ui, r, log) = memory_ui();
        let start = Instant::now();
        comm.stop_cancelled(&ui).await;
        assert!(start.elapsed() < Duration::from_secs(6), "{:?}", start.elapsed());
        let says: Vec<Event> = r.events();
        assert_eq!(
            says,
            [Event::Say {
                build: None,
                text: format!("Cleaning up: stopping the remote command (process group {pgid})")
            }],
            "pty {pty}"
        );
        let log = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
        assert!(log.contains(&format!("sent SIGTERM to process group {pgid} on the machine")), "{log}");
        let gone = Instant::now();
        while !members(pgid).is_empty() && gone.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(members(pgid), Vec::<String>::new(), "pty {pty}: the command survived its cancel");
        assert!(!finished.exists());
        // The connection goes on serving commands, and a second report has nothing to say.
        assert_eq!(over_ssh(&comm, "echo still here").await, (vec!["still here".into()], vec![], Some(0)));
        let (ui, r, _) = memory_ui();
        comm.stop_cancelled(&ui).await;
        assert!(r.events().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_that_ended_is_not_stopped() {
    let Some(sshd) = sshd_or_skip() else { return };
    let comm = kiln_comm::ssh::connect(&ssh_config(&sshd), &quiet).await.unwrap();
    assert_eq!(over_ssh(&comm, "exit 0").await.2, Some(0));
    let (ui, r, _) = memory_ui();
    comm.stop_cancelled(&ui).await;
    assert!(r.events().is_empty());
}

/// Live (not zombie) processes whose command line is `args`.
fn running(args: &[&str]) -> usize {
    let want = args.join("\0") + "\0";
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == want.as_bytes()))
        .filter(|e| std::fs::read_to_string(e.path().join("stat")).is_ok_and(|s| !s.contains(") Z ")))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_cancelled_at_any_moment_does_not_survive() {
    let Some(sshd) = sshd_or_skip() else { return };
    let comm = kiln_comm::ssh::connect(&ssh_config(&sshd), &quiet).await.unwrap();
    // Cancelled while the channel opens, while sshd starts it, before and after it reported
    // its group.
    let mut started = 0;
    for delay in [0u64, 2, 5, 10, 30, 100, 300] {
        let secs = format!("{}", 600 + delay);
        let pidfile = sshd.dir.join(format!("pid-{delay}"));
        let out = |_: Stream, _: &str| {};
        let command = format!("echo $$ > {}; sleep {secs}; echo not reached", pidfile.display());
        let r = tokio::time::timeout(Duration::from_millis(delay), comm.start(&command, &out)).await;
        assert!(r.is_err(), "the command ended by itself");
        let (ui, r, log) = memory_ui();
        let start = Instant::now();
        comm.stop_cancelled(&ui).await;
        assert!(start.elapsed() < Duration::from_secs(6), "{:?}", start.elapsed());
        let said = format!("{:?} {}", r.events(), String::from_utf8_lossy(&log.lock().unwrap()));
        // sshd may still be starting a command it had been asked for: give it time to show up
        // (it takes a few hundred ms on a busy machine), then it must be gone.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let gone = Instant::now();
        while running(&["sleep", &secs]) > 0 && gone.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(running(&["sleep", &secs]), 0, "cancelled after {delay} ms, the command survived: {said}");
        if let Some(pgid) = std::fs::read_to_string(&pidfile).ok().and_then(|p| p.trim().parse::<u32>().ok()) {
            started += 1;
            assert_eq!(members(pgid), Vec::<String>::new(), "cancelled after {delay} ms");
        }
    }
    eprintln!("{started} of the cancelled commands had started");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_connection_makes_the_stop_a_logged_best_effort() {
    let Some(mut sshd) = sshd_or_skip() else { return };
    let comm = kiln_comm::ssh::connect(&ssh_config(&sshd), &quiet).await.unwrap();
    let pidfile = sshd.dir.join("pid-lost");
    let command = format!("echo $$ > {}; sleep 30", pidfile.display());
    let out = |_: Stream, _: &str| {};
    let mut run = Box::pin(comm.start(&command, &out));
    let pgid = loop {
        tokio::select! {
            r = &mut run => panic!("the command ended by itself: {r:?}"),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        if let Some(p) = std::fs::read_to_string(&pidfile).ok().and_then(|s| s.trim().parse::<u32>().ok()) {
            break p;
        }
    };
    // The machine goes away (its sshd restarts) while the command's future is not polled.
    sshd.restart().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(run);
    let (ui, r, log) = memory_ui();
    let start = Instant::now();
    comm.stop_cancelled(&ui).await;
    assert!(start.elapsed() < Duration::from_secs(6), "{:?}", start.elapsed());
    let log = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    assert_eq!(
        r.events(),
        [Event::Say { build: None, text: format!("Cleaning up: stopping the remote command (process group {pgid})") }]
    );
    assert!(
        log.contains(&format!(
            "could not stop process group {pgid} on the machine (the connection is gone); this is best effort"
        )),
        "{log}"
    );
    // The harness's sshd does not take its sessions' commands down with it: end this one here.
    let _ = std::process::Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).status();
    // The communicator reconnects for the next command.
    assert_eq!(over_ssh(&comm, "echo back").await, (vec!["back".into()], vec![], Some(0)));
}

/// A reader that gives `first` bytes, then never anything more (an upload stuck mid-way).
struct Stalls(usize);

impl tokio::io::AsyncRead for Stalls {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.0 == 0 {
            return std::task::Poll::Pending;
        }
        let n = self.0.min(buf.remaining());
        buf.put_slice(&vec![b'x'; n]);
        self.0 -= n;
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_upload_leaves_no_partial_file() {
    let Some(sshd) = sshd_or_skip() else { return };
    for method in ["sftp", "scp"] {
        let mut c = ssh_config(&sshd);
        c.ssh_file_transfer_method = Some(method.into());
        let comm = kiln_comm::ssh::connect(&c, &quiet).await.unwrap();
        let target = sshd.dir.join(format!("partial-{method}.bin"));
        let dst = target.to_string_lossy().into_owned();
        let mut src = Stalls(1 << 20);
        let upload = comm.upload(&dst, &mut src, kiln_core::UploadMeta::default());
        // Cancelled once part of the file is on the machine. Whether it arrived is noted
        // before the upload's future is dropped: the removal that the drop starts may be done
        // before this test looks again.
        let cancel = async {
            let start = Instant::now();
            let size = || std::fs::metadata(&target).map_or(0, |m| m.len());
            // Generous: the other tests of this file load the machine at the same time.
            while size() == 0 && start.elapsed() < Duration::from_secs(30) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            size() > 0
        };
        let arrived = tokio::select! {
            r = upload => panic!("{method}: the stalled upload ended: {r:?}"),
            arrived = cancel => arrived,
        };
        assert!(arrived, "{method}: nothing arrived before the cancel");
        let (ui, r, _) = memory_ui();
        comm.stop_cancelled(&ui).await;
        assert!(!target.exists(), "{method}: the partial file stayed");
        let said: Vec<String> = r
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Say { text, .. } => Some(text),
                _ => None,
            })
            .collect();
        assert!(said.contains(&format!("Cleaning up: removing the partial upload {dst} on the machine")), "{said:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_upload_says_its_partial_file_was_removed() {
    let Some(sshd) = sshd_or_skip() else { return };
    let comm = kiln_comm::ssh::connect(&ssh_config(&sshd), &quiet).await.unwrap();
    /// Gives some bytes, then fails (a local read error mid-upload).
    struct Fails(bool);
    impl tokio::io::AsyncRead for Fails {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if std::mem::replace(&mut self.0, true) {
                return std::task::Poll::Ready(Err(std::io::Error::other("disk gone")));
            }
            buf.put_slice(b"half");
            std::task::Poll::Ready(Ok(()))
        }
    }
    let target = sshd.dir.join("failed.bin");
    let dst = target.to_string_lossy().into_owned();
    let e = comm.upload(&dst, &mut Fails(false), kiln_core::UploadMeta::default()).await.unwrap_err();
    assert!(e.message.contains("disk gone"), "{e}");
    assert!(e.message.ends_with(&format!("the partial file {dst} was removed from the machine")), "{e}");
    assert!(!target.exists());
}

/// A reader of `n` bytes, given slowly enough that the upload is still running when the test
/// kills the session.
struct Slow(usize);

impl tokio::io::AsyncRead for Slow {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = self.0.min(buf.remaining()).min(64 * 1024);
        buf.put_slice(&vec![b'y'; n]);
        self.0 -= n;
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_that_dies_during_an_upload_fails_it_in_time() {
    let Some(mut sshd) = sshd_or_skip() else { return };
    for method in ["scp", "sftp"] {
        let mut c = ssh_config(&sshd);
        c.ssh_file_transfer_method = Some(method.into());
        c.ssh_timeout = Some(kiln_config::decode::Duration(Duration::from_secs(3)));
        let comm = kiln_comm::ssh::connect(&c, &quiet).await.unwrap();
        let target = sshd.dir.join(format!("dies-{method}.bin"));
        let dst = target.to_string_lossy().into_owned();
        let mut src = Slow(8 << 30);
        let upload = comm.upload(&dst, &mut src, kiln_core::UploadMeta::default());
        tokio::pin!(upload);
        let start = Instant::now();
        // Once bytes arrive, the machine's side of the session is killed (sshd restarts).
        loop {
            tokio::select! {
                r = &mut upload => panic!("{method}: ended before the kill: {r:?}"),
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            if std::fs::metadata(&target).map_or(0, |m| m.len()) > 0 || start.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
        sshd.restart().unwrap();
        let killed = Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(60), &mut upload).await;
        let r = r.unwrap_or_else(|_| panic!("{method}: the upload still waits 60 s after its session died"));
        assert!(r.is_err(), "{method}: {r:?}");
        assert!(killed.elapsed() < Duration::from_secs(30), "{method}: took {:?}", killed.elapsed());
    }
}
