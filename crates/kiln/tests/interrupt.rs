//! SIGINT in the middle of a long shell-local command: the build is cancelled, its cleanups
//! run and say what they clean, nothing it created survives, and the exit code is Packer's (1).
//! In a test binary of its own because it signals its own process.

mod common;

use common::{plain, run, template, TempDir};
use kiln_core::RunSettings;

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn sigint_cancels_cleans_up_and_exits_1() {
    let d = TempDir::new("int");
    let target = d.path("artifact.txt");
    let pidfile = d.path("pid");
    let t = template(&format!(
        r#"{{"builders": [{{"type":"file","content":"x","target":"{target}"}}, {{"type":"null","communicator":"none"}}],
  "provisioners": [{{"type":"shell-local","inline":["echo started", "sleep 30 & echo $! >> {pidfile}; wait"]}}]}}"#
    ));
    let me = std::process::id().to_string();
    let pf = pidfile.clone();
    std::thread::spawn(move || {
        // Wait until both builds are inside their command.
        for _ in 0..100 {
            if std::fs::read_to_string(&pf).map(|s| s.lines().count()).unwrap_or(0) >= 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = std::process::Command::new("kill").args(["-INT", &me]).status();
    });
    let start = std::time::Instant::now();
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 1, "{out}");
    assert!(start.elapsed() < std::time::Duration::from_secs(15), "took {:?}", start.elapsed());
    assert!(out.contains("    file: started"), "{out}");
    assert!(out.contains("Cancelling build after receiving interrupt"), "{out}");
    assert!(out.contains(&format!("==> file: Cleaning up: deleting target file {target}")), "{out}");
    assert!(out.contains("Build 'file' cancelled after "), "{out}");
    assert!(out.contains("Cleanly cancelled builds after being interrupted."), "{out}");
    assert!(!common::exists(&target), "the target survived");
    let script = out
        .lines()
        .find_map(|l| l.strip_prefix("==> null: Running local shell script: "))
        .expect("script line")
        .to_string();
    assert!(!common::exists(&script), "the temporary script survived");
    std::thread::sleep(std::time::Duration::from_millis(300));
    for pid in std::fs::read_to_string(&pidfile).unwrap().lines() {
        let pid: i32 = pid.trim().parse().unwrap();
        assert!(!alive(pid), "the background command {pid} survived");
    }
}
