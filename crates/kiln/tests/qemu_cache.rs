//! The step cache with the qemu builder, end to end under TCG from the base image: a build with
//! `-cache` snapshots the VM after each provisioner; a re-build with only the last provisioner
//! changed starts the VM from the snapshot after the one before it (no boot) and runs only the
//! last one, and its image holds the same files as a full build of the same template; one byte
//! changed in the first provisioner's uploaded file re-runs everything; `kiln cache prune`
//! deletes the snapshots' files.
//!
//! Needs qemu-system-x86_64, qemu-img, debugfs (to read the images' files without root) and the
//! base image; without them the tests say so and pass, unless KILN_REQUIRE_TOOLS=1.

mod qemu_common;

use std::path::Path;
use std::time::Duration;

use kiln_testing::TempDir;
use qemu_common::{base_image, files_in_image, no_leftovers, serial, tools_or_skip, Build};

fn template(base: &Path, out: &str, last: &str) -> String {
    format!(
        r#"{{"builders": [{{"type": "qemu", "disk_image": true, "iso_url": "{}", "iso_checksum": "none",
  "skip_resize_disk": true, "accelerator": "tcg", "headless": true, "cpus": 2, "memory": 1024,
  "output_directory": "{out}", "vm_name": "disk.qcow2",
  "ssh_username": "kiln", "ssh_password": "kiln-base", "ssh_timeout": "10m",
  "shutdown_command": "sudo systemctl poweroff"}}],
 "provisioners": [
  {{"type": "file", "source": "payload.txt", "destination": "/home/kiln/payload.txt"}},
  {{"type": "shell", "inline": ["echo FIRST-SHELL-RAN", "sudo cp /home/kiln/payload.txt /etc/kiln-payload",
     "echo made-by-shell | sudo tee /etc/kiln-one"]}},
  {{"type": "shell", "inline": ["echo LAST-RAN {last}", "echo {last} | sudo tee /etc/kiln-last"]}}
 ]}}"#,
        base.display()
    )
}

fn build(dir: &Path, template: &str, args: &[&str]) -> String {
    let b = Build::start(dir, template, args);
    let (code, log) = b.finish(Duration::from_secs(900));
    assert_eq!(code, 0, "{log}");
    log
}

/// What the tests compare between images: the provisioners' files and the folders they wrote in.
const PATHS: &[&str] =
    &["/etc/kiln-payload", "/etc/kiln-one", "/etc/kiln-last", "/home/kiln/payload.txt", "/home/kiln/", "/etc/nginx/"];

fn debugfs_or_skip() -> bool {
    let ok = std::process::Command::new(qemu_common::debugfs()).arg("-V").output().is_ok();
    if !ok {
        kiln_testing::skip("debugfs is not installed (apt-get install e2fsprogs)");
    }
    ok
}

#[test]
fn a_rebuild_runs_only_the_changed_provisioner_and_makes_the_same_files() {
    if !tools_or_skip() || !debugfs_or_skip() {
        return;
    }
    let Some(base) = base_image() else { return };
    let _one = serial();
    let dir = TempDir::new("qemu-cache");
    std::fs::write(dir.join("payload.txt"), "payload version 1\n").unwrap();

    // 1. Full build, snapshots after each provisioner.
    let log = build(&dir, &template(&base, "out1", "v1"), &["-cache"]);
    assert!(log.contains("Step cache: provisioner 1/3 (file): running"), "{log}");
    assert!(log.contains("Step cache: provisioner 3/3 (shell): running"), "{log}");
    assert!(log.contains("Step cache: 0 of 3 provisioner(s) cached"), "{log}");
    let layers = dir.join(".kiln-cache/steps/qemu");
    let states = |d: &Path| {
        std::fs::read_dir(d)
            .map_or(0, |r| r.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "state")).count())
    };
    assert_eq!(states(&layers), 3, "one machine state per provisioner: {log}");

    // 2. Only the last provisioner changed: the VM starts from the snapshot after the second.
    let log = build(&dir, &template(&base, "out2", "v2"), &["-cache"]);
    assert!(log.contains("Step cache: provisioner 1/3 (file): cached"), "{log}");
    assert!(log.contains("Step cache: provisioner 2/3 (shell): cached"), "{log}");
    assert!(log.contains("Step cache: provisioner 3/3 (shell): running"), "{log}");
    assert!(log.contains("Starting VM from the step cache's snapshot"), "{log}");
    assert!(!log.contains("booting disk image"), "the VM booted instead of resuming: {log}");
    assert!(!log.contains("FIRST-SHELL-RAN"), "{log}");
    assert!(log.contains("LAST-RAN v2"), "{log}");
    assert!(log.contains("Step cache: 2 of 3 provisioner(s) cached"), "{log}");
    no_leftovers(&log, &dir.join("out2"), false);

    // 3. The same template without the cache: the same files in the image.
    let log = build(&dir, &template(&base, "out3", "v2"), &[]);
    assert!(!log.contains("Step cache"), "{log}");
    let cached = files_in_image(&dir.join("out2/disk.qcow2"), &dir, PATHS);
    let full = files_in_image(&dir.join("out3/disk.qcow2"), &dir, PATHS);
    assert_eq!(cached, full);
    assert_eq!(cached[0], "payload version 1\n");
    assert_eq!(cached[2], "v2\n");
    assert!(cached[4].contains("payload.txt"), "{cached:?}");
    let info = qemu_common::qemu_img_info(&dir.join("out2/disk.qcow2"));
    assert!(info.get("backing-filename").is_none(), "the cached build's artifact must stand alone: {info}");

    // 4. One byte of the first provisioner's file: everything runs again.
    std::fs::write(dir.join("payload.txt"), "payload version 2\n").unwrap();
    let log = build(&dir, &template(&base, "out4", "v2"), &["-cache"]);
    assert!(log.contains("Step cache: 0 of 3 provisioner(s) cached"), "{log}");
    assert!(log.contains("FIRST-SHELL-RAN"), "{log}");
    assert!(log.contains("booting disk image"), "{log}");
    let files = files_in_image(&dir.join("out4/disk.qcow2"), &dir, PATHS);
    assert_eq!(files[0], "payload version 2\n");

    // 5. `kiln cache prune -max-size` keeps the most recently used snapshots that fit (each
    // takes its machine state, about 150-250 MB here); `prune` deletes every layer and state.
    let prune = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(["cache", "prune"])
            .args(args)
            .env("PACKER_CACHE_DIR", dir.join(".kiln-cache"))
            .output()
            .unwrap();
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{said}");
        said
    };
    assert_eq!(states(&layers), 7, "3 + 1 + 3 snapshots");
    let said = prune(&["-max-size", "600M"]);
    let left = states(&layers);
    assert!((2..=3).contains(&left), "{left} states left: {said}");
    let said = prune(&[]);
    assert_eq!(states(&layers), 0, "{said}");
    let qcow2s = std::fs::read_dir(&layers)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "qcow2"))
        .count();
    assert_eq!(qcow2s, 0, "{said}");
}

/// Machine A builds with `-cache-shared=file://…` and shares each snapshot (the disk flattened,
/// the machine state); machine B (its own working folder and cache) changes only the last
/// provisioner, fetches the snapshot after the second from the store, starts the VM from it
/// without booting and runs only the last provisioner.
#[test]
fn a_second_machine_starts_from_a_shared_snapshot() {
    if !tools_or_skip() || !debugfs_or_skip() {
        return;
    }
    let Some(base) = base_image() else { return };
    let _one = serial();
    let shared = TempDir::new("qemu-cache-shared");
    let url = format!("-cache-shared=file://{}", shared.display());
    let (a, b) = (TempDir::new("qemu-cache-a"), TempDir::new("qemu-cache-b"));
    for d in [&a, &b] {
        std::fs::write(d.join("payload.txt"), "payload version 1\n").unwrap();
    }
    let log = build(&a, &template(&base, "out", "v1"), &[&url]);
    assert_eq!(log.matches(" shared in file://").count(), 3, "{log}");
    let log = build(&b, &template(&base, "out", "v2"), &[&url]);
    assert!(log.contains("fetching the snapshot after \"shell\""), "{log}");
    assert!(log.contains("Starting VM from the step cache's snapshot"), "{log}");
    assert!(!log.contains("FIRST-SHELL-RAN"), "{log}");
    assert!(log.contains("LAST-RAN v2"), "{log}");
    assert!(log.contains("Step cache: 2 of 3 provisioner(s) cached"), "{log}");
    let files = files_in_image(&b.join("out/disk.qcow2"), &b, PATHS);
    assert_eq!(files[0], "payload version 1\n");
    assert_eq!(files[2], "v2\n");
}
