//! `ansible` and `ansible-local` against a qemu guest (TCG, the base image of scripts/base-image),
//! in one boot: a shell provisioner installs ansible-core in the guest from Debian's mirror (the
//! guest reaches it through QEMU's user networking; the base image has no Python), `ansible`
//! runs the seed playbook app_playbook.yml from here through kiln's SSH proxy (the guest logs in
//! with a password, so Ansible cannot use the machine's own SSH connection without one) as the
//! guest's user (by default Ansible logs in as the user running kiln, as with Packer, and its
//! `become` then looks for that user's home on the guest),
//! `ansible-local` runs a playbook staged in the guest, and a last shell provisioner prints what
//! the playbooks left, which the test checks.
//!
//! Needs qemu-system-x86_64, qemu-img, ansible-playbook, the base image and `KILN_SHARED` (the
//! seed templates); without them the test says so and passes, unless KILN_REQUIRE_TOOLS=1.

mod qemu_common;

use std::time::{Duration, Instant};

use kiln_testing::TempDir;
use qemu_common::{base_image, no_leftovers, serial, tools_or_skip, Build};

fn ansible_or_skip() -> bool {
    let ok = std::process::Command::new("ansible-playbook").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        kiln_testing::skip("ansible-playbook is not installed (apt-get install ansible-core)");
    }
    ok
}

/// The seconds a provisioner's timing line (`<what> took <n>s`) reports.
fn took(log: &str, what: &str) -> Option<u64> {
    let needle = format!("{what} took ");
    let l = log.lines().find_map(|l| l.split(&needle).nth(1))?;
    l.trim_end_matches('s').trim().parse().ok()
}

#[test]
fn ansible_and_ansible_local_provision_a_qemu_guest() {
    if !tools_or_skip() || !ansible_or_skip() {
        return;
    }
    let Some(shared) = kiln_testing::shared_or_skip() else { return };
    let seed = shared.join("seed-templates/app_playbook.yml");
    assert!(seed.is_file(), "{} is missing", seed.display());
    let Some(base) = base_image() else { return };
    let _one = serial();
    let dir = TempDir::new("qemu-ansible");
    let out = dir.join("out");
    std::fs::write(
        dir.join("local.yml"),
        "- hosts: all\n  gather_facts: false\n  become: true\n  tasks:\n\
         \x20   - copy:\n        dest: /etc/kiln-ansible-local\n\
         \x20       content: \"local {{ packer_build_name }} on {{ inventory_hostname }}\\n\"\n",
    )
    .unwrap();
    let t = serde_json::json!({
        "builders": [{"type": "qemu", "disk_image": true, "iso_url": base, "iso_checksum": "none",
            "skip_resize_disk": true, "accelerator": "tcg", "headless": true, "cpus": 2, "memory": 1024,
            "output_directory": out, "vm_name": "disk.qcow2",
            "ssh_username": "kiln", "ssh_password": "kiln-base", "ssh_timeout": "10m",
            "shutdown_command": "sudo systemctl poweroff"}],
        "provisioners": [
            {"type": "shell", "inline": [
                "start=$(date +%s)",
                "sudo apt-get update -qq",
                "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ansible-core >/dev/null",
                "echo ansible install took $(( $(date +%s) - start ))s"]},
            // A value that changes on every run: this provisioner and the ones after it are
            // never cached, so they run every time.
            {"type": "ansible", "playbook_file": seed, "use_proxy": true, "user": "kiln",
             "extra_arguments": ["-e", "kiln_test_run={{timestamp}}"]},
            {"type": "ansible-local", "playbook_file": "local.yml"},
            {"type": "shell", "inline": [
                "echo seed: $(cat /etc/app-provisioned) $(stat -c %U /etc/app-provisioned)",
                "echo local: $(cat /etc/kiln-ansible-local)"]}
        ]
    });
    let t0 = Instant::now();
    // Installing ansible-core in the guest takes minutes under TCG (mostly byte-compiling
    // Python): the step cache keeps the VM after it in the user's cache folder, so only the
    // first run on a machine pays for it.
    let cache_home = std::env::var_os("XDG_CACHE_HOME").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into())).join(".cache")
    });
    let cache = cache_home.join("kiln/test-step-cache");
    let b = Build::start_cached(&dir, &t.to_string(), &["-cache"], &cache);
    let (code, log) = b.finish(Duration::from_secs(1200));
    eprintln!(
        "build took {:.1}s; installing ansible-core in the guest took {:?}s",
        t0.elapsed().as_secs_f64(),
        took(&log, "ansible install")
    );
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("Serving an SSH endpoint for Ansible on 127.0.0.1:"), "{log}");
    assert!(log.contains("provisioner 2/4 (ansible) cannot be cached"), "{log}");
    assert!(log.contains("seed: provisioned root"), "{log}");
    assert!(log.contains("local: local qemu on 127.0.0.1"), "{log}");
    no_leftovers(&log, &out, false);
}
