//! SIGINT while a shell provisioner runs over SSH: the build is cancelled, the uploaded script
//! is removed from the machine, the exit code is Packer's. (Own test binary: it signals its
//! own process.)

mod common;

use common::{plain, run, template, TempDir};
use kiln_comm::testing::sshd_or_skip;
use kiln_core::RunSettings;

#[test]
fn sigint_mid_ssh_provisioner() {
    let Some(sshd) = sshd_or_skip() else { return };
    let d = TempDir::new("int-ssh");
    let remote = d.0.join("remote");
    std::fs::create_dir_all(&remote).unwrap();
    let marker = d.path("started");
    let t = template(&format!(
        r#"{{"builders": [{{"type":"null","ssh_host":"127.0.0.1","ssh_port":{},"ssh_username":"{}","ssh_private_key_file":"{}"}}],
  "provisioners": [{{"type":"shell","inline":["touch {marker}", "sleep 30"],"remote_folder":"{}"}}]}}"#,
        sshd.port,
        sshd.user,
        sshd.key.display(),
        remote.display()
    ));
    let me = std::process::id().to_string();
    let m = marker.clone();
    std::thread::spawn(move || {
        for _ in 0..200 {
            if std::path::Path::new(&m).exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = std::process::Command::new("kill").args(["-INT", &me]).status();
    });
    let start = std::time::Instant::now();
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 1, "{out}");
    assert!(start.elapsed() < std::time::Duration::from_secs(20), "{:?}", start.elapsed());
    assert!(out.contains("Cancelling build after receiving interrupt"), "{out}");
    assert!(out.contains(&format!("==> null: Cleaning up: removing {}/script_", remote.display())), "{out}");
    assert!(out.contains("Cleanly cancelled builds after being interrupted."), "{out}");
    let left: Vec<_> = std::fs::read_dir(&remote).unwrap().collect();
    assert!(left.is_empty(), "the uploaded script survived: {left:?}");
}
