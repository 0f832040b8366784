//! SIGINT while a shell provisioner runs over SSH: the build is cancelled, the remote command is
//! stopped (its whole process group, not only the session's shell), the uploaded script is
//! removed from the machine, the exit code is Packer's. (Own test binary: it signals its own
//! process.)

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{plain, run, template, TempDir};
use kiln_core::RunSettings;
use kiln_testing::sshd::sshd_or_skip;

#[test]
fn sigint_mid_ssh_provisioner_stops_the_remote_command() {
    let Some(sshd) = sshd_or_skip() else { return };
    let d = TempDir::new("int-ssh");
    let remote = d.0.join("remote");
    std::fs::create_dir_all(&remote).unwrap();
    let started = d.path("started");
    let finished = d.path("finished");
    let t = template(&format!(
        r#"{{"builders": [{{"type":"null","ssh_host":"127.0.0.1","ssh_port":{},"ssh_username":"{}","ssh_private_key_file":"{}"}}],
  "provisioners": [{{"type":"shell","inline":["touch {started}", "sleep 4", "touch {finished}"],"remote_folder":"{}"}}]}}"#,
        sshd.port,
        sshd.user,
        sshd.key.display(),
        remote.display()
    ));
    let me = std::process::id().to_string();
    let s = started.clone();
    let signalled = std::sync::Arc::new(std::sync::Mutex::new(None));
    let at = std::sync::Arc::clone(&signalled);
    std::thread::spawn(move || {
        for _ in 0..200 {
            if Path::new(&s).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        *at.lock().unwrap() = Some(Instant::now());
        let _ = std::process::Command::new("kill").args(["-INT", &me]).status();
    });
    let start = Instant::now();
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 1, "{out}");
    assert!(start.elapsed() < Duration::from_secs(20), "{:?}", start.elapsed());
    assert!(out.contains("Cancelling build after receiving interrupt"), "{out}");
    let stopping = out.find("==> null: Cleaning up: stopping the remote command (process group ");
    let removing = out.find(&format!("==> null: Cleaning up: removing {}/script_", remote.display()));
    assert!(stopping.is_some() && removing.is_some() && stopping < removing, "{out}");
    assert!(out.contains("Cleanly cancelled builds after being interrupted."), "{out}");
    let left: Vec<_> = std::fs::read_dir(&remote).unwrap().collect();
    assert!(left.is_empty(), "the uploaded script survived: {left:?}");
    // The script would have touched `finished` 4 s after `started`: wait past that.
    let signalled = signalled.lock().unwrap().expect("the build never started the script");
    while signalled.elapsed() < Duration::from_secs(6) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(Path::new(&started).exists());
    assert!(!Path::new(&finished).exists(), "the remote command kept running after the cancel:\n{out}");
}
