//! The qemu builder end to end, through the `kiln` binary, under TCG, from the Debian base image
//! scripts/base-image makes: a build with a shell provisioner over SSH whose artifact is checked
//! with `qemu-img`; SIGINT during boot, provisioning and export, each leaving no QEMU or qemu-img
//! process, no listening forward port and no output directory; and `accelerator = "kvm"` on a
//! host whose KVM cannot run the guest, failing fast with the fix in the message.
//!
//! Needs qemu-system-x86_64, qemu-img and the base image (built by scripts/base-image when
//! running as root, cached after); without them the tests say so and pass, unless
//! KILN_REQUIRE_TOOLS=1. The guests run one at a time: two TCG guests on a 2-core machine would
//! each take twice as long.

mod qemu_common;

use std::time::{Duration, Instant};

use kiln_testing::TempDir;
use qemu_common::{base_image, no_leftovers, no_temporary_leftovers, qemu_img_info, serial, tools_or_skip, Build};

/// A qemu build of the base image; `extra` adds builder options, `inline` the shell
/// provisioner's commands.
fn template(base: &str, out: &str, extra: &str, inline: &[&str]) -> String {
    let inline: Vec<String> = inline.iter().map(|l| format!("{l:?}")).collect();
    format!(
        r#"{{"builders": [{{"type": "qemu", "disk_image": true, "iso_url": "{base}", "iso_checksum": "none",
  "skip_resize_disk": true, "accelerator": "tcg", "headless": true, "cpus": 2, "memory": 1024,
  "output_directory": "{out}", "vm_name": "disk.qcow2",
  "ssh_username": "kiln", "ssh_password": "kiln-base", "ssh_timeout": "10m",
  "shutdown_command": "sudo systemctl poweroff"{extra}}}],
 "provisioners": [{{"type": "shell", "inline": [{}]}}]}}"#,
        inline.join(", ")
    )
}

/// The number the guest printed after `label` (the first such line of the build's output).
fn field(log: &str, label: &str) -> u64 {
    let at = log.find(label).unwrap_or_else(|| panic!("no {label:?} in the output: {log}"));
    let digits: String = log[at + label.len()..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("no number after {label:?}: {log}"))
}

#[test]
fn builds_provisions_and_exports_a_qcow2() {
    if !tools_or_skip() {
        return;
    }
    let Some(base) = base_image() else { return };
    let _one = serial();
    let dir = TempDir::new("qemu-e2e");
    let out = dir.join("out");
    // A file above the drive channel's threshold, not whole sectors, with a mode to keep: it
    // goes through a hot-plugged disk (the guest's kernel names it vdb) and arrives exact.
    let upload = dir.join("up.bin");
    let mut data = vec![0u8; 9 * 1024 * 1024 + 3];
    for (i, b) in data.iter_mut().enumerate() {
        *b = (i as u64).wrapping_mul(2654435761).to_le_bytes()[3];
    }
    std::fs::write(&upload, &data).unwrap();
    std::fs::set_permissions(&upload, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    let sha256 = |path: &std::path::Path| {
        let out = std::process::Command::new("sha256sum").arg(path).output().unwrap();
        String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_string()
    };
    let sum = sha256(&upload);
    // Right after it, a file of whole sectors (the copy is not cut to size): its own disk,
    // while the first one may still be unplugging.
    let whole: Vec<u8> = data.iter().rev().take(8 * 1024 * 1024).copied().collect();
    std::fs::write(dir.join("whole.bin"), &whole).unwrap();
    std::fs::write(dir.join("on-cd.txt"), "from the host\n").unwrap();
    let whole_sum = sha256(&dir.join("whole.bin"));
    let t = template(
        &base.display().to_string(),
        &out.display().to_string(),
        r#", "cd_files": ["on-cd.txt"], "cd_label": "kiln-cd", "cores": 2, "vtpm": true"#,
        &[
            "echo provisioned on $(uname -r) as $(id -un)",
            "echo built-by-kiln | sudo tee /etc/kiln-e2e",
            // Written with direct I/O: no dirty pages left (a buffered copy would leave its 9 MiB
            // dirty for half a minute).
            "echo dirty-kib $(grep '^Dirty:' /proc/meminfo | tr -s ' ' | cut -d' ' -f2)",
            // Then read once by the guest, so it is in its page cache before anything reads it.
            "i=0; while [ $i -lt 100 ] && [ $(fincore -nb -o RES /tmp/up.bin) -lt 9437187 ]; do sleep 0.1; i=$((i+1)); done",
            "echo cached $(fincore --noheadings --bytes --output RES /tmp/up.bin)",
            "echo uploaded $(sha256sum /tmp/up.bin) mode $(stat -c %a /tmp/up.bin) owner $(stat -c %U /tmp/up.bin)",
            "sudo dmesg | grep -o '\\[vdb\\].*' | head -1",
            "echo whole $(sha256sum /tmp/whole.bin) size $(stat -c %s /tmp/whole.bin)",
            "echo upload disks $(sudo dmesg | grep -cE '\\[vd[b-z]\\] [0-9]+ 512-byte logical blocks')",
            // The build's CD is the guest's only CD-ROM drive (QEMU's empty default one is left out).
            "echo cd drives $(ls /sys/class/block | grep -c '^sr')",
            "sudo mount -o ro /dev/sr0 /mnt && echo cd says $(cat /mnt/on-cd.txt) && sudo umount /mnt",
            // Later Packers' options: the CPU topology and a TPM 2.0 (swtpm).
            "echo cpus $(nproc) on socket 0 $(lscpu -p=core,socket | grep -c '^[0-9]*,0$')",
            "echo tpm $(cat /sys/class/tpm/tpm0/tpm_version_major)",
        ],
    )
    .replace(
        r#""provisioners": ["#,
        r#""provisioners": [{"type": "file", "source": "up.bin", "destination": "/tmp/up.bin"},
        {"type": "file", "source": "whole.bin", "destination": "/tmp/whole.bin"}, "#,
    );
    let t0 = Instant::now();
    let b = Build::start_in_tmp(&dir, &t, &[]);
    let (code, log) = b.finish(Duration::from_secs(900));
    eprintln!("build took {:.1}s", t0.elapsed().as_secs_f64());
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("provisioned on 6."), "{log}");
    assert!(log.contains("as kiln"), "{log}");
    assert!(log.contains(&format!("uploaded {sum} /tmp/up.bin mode 640 owner kiln")), "{log}");
    assert!(log.contains("[vdb]"), "the upload did not go through a virtual disk: {log}");
    let dirty: u64 = field(&log, "dirty-kib ");
    assert!(dirty < 4096, "the guest's copy left {dirty} KiB dirty in its page cache: {log}");
    // 9 MiB + 3 bytes: 2305 pages of 4 KiB.
    assert_eq!(field(&log, "cached "), 2305 * 4096, "the uploaded file is not in the guest's page cache: {log}");
    assert!(log.contains(&format!("whole {whole_sum} /tmp/whole.bin size 8388608")), "{log}");
    assert!(log.contains("upload disks 2\n"), "each upload has its own disk: {log}");
    assert!(log.contains("cd drives 1\n"), "one CD-ROM drive, the build's: {log}");
    assert!(log.contains("cd says from the host\n"), "{log}");
    assert!(log.contains("cpus 2 on socket 0 2\n"), "{log}");
    assert!(log.contains("tpm 2\n"), "{log}");
    // The file was plugged in as it is, and is still there, unchanged.
    assert_eq!(std::fs::read(&upload).unwrap(), data, "the source file changed");
    assert!(log.contains("Connected to SSH!"), "{log}");
    assert!(log.contains("Converting hard drive..."), "{log}");
    assert!(log.contains("VM files in directory: "), "{log}");
    // Only the disk: no overlay, no half-written conversion, no socket.
    let mut files: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["disk.qcow2"], "{log}");
    let disk = out.join("disk.qcow2");
    let info = qemu_img_info(&disk);
    assert_eq!(info["format"], "qcow2", "{info}");
    assert!(info.get("backing-filename").is_none(), "the artifact must stand alone: {info}");
    assert_eq!(info["virtual-size"], qemu_img_info(&base)["virtual-size"], "{info}");
    // The provisioner's write is in the image: it differs from the base image.
    let cmp = std::process::Command::new("qemu-img").arg("compare").arg(&base).arg(&disk).output().unwrap();
    assert_eq!(cmp.status.code(), Some(1), "{}", String::from_utf8_lossy(&cmp.stdout));
    no_leftovers(&log, &out, false);
    no_temporary_leftovers(&dir, &log);
}

/// Starts a build, waits for `marker` in its output, waits `then`, sends SIGINT: the build ends
/// within `limit` with Packer's exit code and leaves nothing behind.
fn interrupt_at(name: &str, extra: &str, inline: &[&str], marker: &str, then: Duration, limit: Duration) {
    if !tools_or_skip() {
        return;
    }
    let Some(base) = base_image() else { return };
    let _one = serial();
    let dir = TempDir::new(&format!("qemu-int-{name}"));
    let out = dir.join(format!("out-{name}"));
    let t = template(&base.display().to_string(), &out.display().to_string(), extra, inline);
    let mut b = Build::start_in_tmp(&dir, &t, &[]);
    assert!(b.wait_for(marker, Duration::from_secs(600)), "{marker:?} never came:\n{}", b.log());
    std::thread::sleep(then);
    let signalled = Instant::now();
    b.sigint();
    let (code, log) = b.finish(limit);
    let took = signalled.elapsed();
    eprintln!("{name}: the build ended {:.1}s after SIGINT", took.as_secs_f64());
    assert_eq!(code, 1, "{log}");
    assert!(took < limit, "{took:?}\n{log}");
    assert!(log.contains("Cancelling build after receiving interrupt"), "{log}");
    no_leftovers(&log, &out, true);
    no_temporary_leftovers(&dir, &log);
}

#[test]
fn sigint_during_boot_leaves_nothing() {
    interrupt_at(
        "boot",
        "",
        &["echo never"],
        "Starting VM, booting disk image",
        Duration::from_secs(3),
        Duration::from_secs(30),
    );
}

#[test]
fn sigint_during_provisioning_leaves_nothing() {
    // With a TPM: its swtpm goes too.
    interrupt_at(
        "provision",
        r#", "vtpm": true"#,
        &["echo kiln-provisioning-started", "sleep 300"],
        "kiln-provisioning-started",
        Duration::from_secs(1),
        Duration::from_secs(30),
    );
}

#[test]
fn sigint_during_export_leaves_nothing() {
    // zlib compression makes the export long enough to be interrupted (15 s here).
    interrupt_at(
        "export",
        r#", "disk_compression": true"#,
        &["echo ok"],
        "Converting hard drive...",
        Duration::from_millis(1500),
        Duration::from_secs(30),
    );
}

/// `/dev/kvm` here is PVM's, which stops an ordinary guest with an internal error in its boot
/// loader: the build must say so, with the fix, long before any SSH timeout. Runs only where
/// KVM is of that kind.
#[test]
fn kvm_that_cannot_run_the_guest_fails_fast_with_the_fix() {
    if !tools_or_skip() {
        return;
    }
    let facts = kiln_builders::qemu::accel::HostFacts::probe();
    if !(facts.kvm_usable && facts.kvm_pvm) {
        eprintln!("notice: skipping: /dev/kvm here is not a PVM backend that fails ordinary guests");
        return;
    }
    let Some(base) = base_image() else { return };
    let _one = serial();
    let dir = TempDir::new("qemu-kvm");
    let out = dir.join("out-kvm");
    let t = template(&base.display().to_string(), &out.display().to_string(), "", &["echo never"])
        .replace(r#""accelerator": "tcg""#, r#""accelerator": "kvm""#);
    let t0 = Instant::now();
    let (code, log) = Build::start(&dir, &t, &[]).finish(Duration::from_secs(120));
    let took = t0.elapsed();
    eprintln!("kvm: failed after {:.1}s", took.as_secs_f64());
    assert_eq!(code, 1, "{log}");
    assert!(took < Duration::from_secs(60), "{took:?}\n{log}");
    assert!(log.contains("internal error of the kvm accelerator"), "{log}");
    assert!(log.contains(r#"accelerator = "tcg""#), "{log}");
    assert!(!log.contains("Timeout waiting for SSH"), "{log}");
    no_leftovers(&log, &out, true);
}

/// A guest whose SSH server cannot be reached (`qemuargs` replaces the network without the
/// port forward): the build times out with the end of the guest's serial console in the error,
/// which shows how far the guest got (here: to its login prompt), and leaves nothing behind.
#[test]
fn an_unreachable_ssh_server_times_out_showing_the_guests_console() {
    if !tools_or_skip() {
        return;
    }
    let Some(base) = base_image() else { return };
    let _one = serial();
    let dir = TempDir::new("qemu-console");
    let out = dir.join("out-console");
    let t = template(
        &base.display().to_string(),
        &out.display().to_string(),
        r#", "qemuargs": [["-netdev", "user,id=user.0"]]"#,
        &["echo never"],
    )
    .replace(r#""ssh_timeout": "10m""#, r#""ssh_timeout": "60s""#);
    let (code, log) = Build::start(&dir, &t, &[]).finish(Duration::from_secs(300));
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("the guest's SSH server never answered; the guest's console ended with:"), "{log}");
    assert!(log.contains("kiln-guest login:"), "the console's end is not in the error: {log}");
    no_leftovers(&log, &out, true);
}

/// `skip_nat_mapping`: kiln forwards no port of its own; the template's `qemuargs` network
/// forwards one, and kiln connects to 127.0.0.1 on `ssh_port`, as Packer does.
#[test]
fn skip_nat_mapping_connects_through_the_templates_own_forward() {
    if !tools_or_skip() {
        return;
    }
    let Some(base) = base_image() else { return };
    let _one = serial();
    let dir = TempDir::new("qemu-nat");
    let out = dir.join("out-nat");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let t = template(
        &base.display().to_string(),
        &out.display().to_string(),
        &format!(
            r#", "skip_nat_mapping": true, "ssh_port": {port},
  "qemuargs": [["-netdev", "user,id=user.0,hostfwd=tcp:127.0.0.1:{port}-:22"]]"#
        ),
        &["echo reached through port $(echo $SSH_CONNECTION | cut -d' ' -f4)"],
    );
    let (code, log) = Build::start_in_tmp(&dir, &t, &[]).finish(Duration::from_secs(600));
    assert_eq!(code, 0, "{log}");
    assert!(log.contains(&format!("Skipping the port forward (skip_nat_mapping): connecting to port {port}")), "{log}");
    assert!(!log.contains("Looking for available communicator"), "{log}");
    // The guest's sshd saw the connection on its own port 22, through the template's forward.
    assert!(log.contains("reached through port 22\n"), "{log}");
    no_leftovers(&log, &out, false);
    no_temporary_leftovers(&dir, &log);
}
