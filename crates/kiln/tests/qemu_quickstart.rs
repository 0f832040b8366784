//! The README's quickstart, as CI runs it: examples/quickstart built end to end with the qemu
//! builder under TCG (nginx installed from Debian's mirror inside the guest, a page baked in,
//! checksum and manifest written), then the image booted once to check that nginx serves the
//! page. Needs QEMU, the base image (scripts/base-image) and Debian's mirror; skips without
//! them unless KILN_REQUIRE_TOOLS=1.

mod qemu_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiln_testing::TempDir;
use qemu_common::{base_image, no_leftovers, qemu_img_info, repo, serial, tools_or_skip, Build};

/// Kills the booted VM however the test ends.
struct Vm(Child);

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One plain HTTP/1.0 GET; the response, or `None` while nothing answers.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).ok()?;
    let mut r = String::new();
    s.read_to_string(&mut r).ok()?;
    (!r.is_empty()).then_some(r)
}

#[test]
fn quickstart_builds_an_image_that_serves_the_page() {
    if !tools_or_skip() {
        return;
    }
    let Some(base) = base_image() else { return };
    let _one = serial();
    let dir = TempDir::new("qemu-quickstart");
    let example = repo().join("examples/quickstart");
    for f in ["quickstart.pkr.hcl", "index.html"] {
        std::fs::copy(example.join(f), dir.join(f)).unwrap();
    }
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();

    let t0 = Instant::now();
    let var = format!("base_image={}", base.display());
    let (code, log) =
        Build::start_dir(&dir, &["-var", &var, "-var", "accelerator=tcg", "."]).finish(Duration::from_secs(1200));
    eprintln!("quickstart build took {:.1}s", t0.elapsed().as_secs_f64());
    assert_eq!(code, 0, "{log}");
    let out = dir.join("output");
    no_leftovers(&log, &out, false);

    let disk = out.join("debian-nginx.qcow2");
    let info = qemu_img_info(&disk);
    assert_eq!(info["format"], "qcow2", "{info}");
    assert!(info.get("backing-filename").is_none(), "{info}");
    let names: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    let sums = names.iter().find(|n| n.ends_with(".sha256")).unwrap_or_else(|| panic!("no checksum file: {names:?}"));
    let sums = std::fs::read_to_string(out.join(sums)).unwrap();
    let sha = Command::new("sha256sum").arg(&disk).output().unwrap();
    let sha = String::from_utf8_lossy(&sha.stdout).split_whitespace().next().unwrap_or("").to_string();
    assert!(sums.contains(&sha) && sums.contains("debian-nginx.qcow2"), "{sums} vs {sha}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let build = &manifest["builds"][0];
    assert_eq!(build["builder_type"], "qemu", "{manifest}");
    assert_eq!(build["artifact_id"], "VM", "{manifest}");
    assert!(build["files"].as_array().unwrap().iter().any(|f| f["name"] == "debian-nginx.qcow2"), "{manifest}");

    // Boot the result as the README says (-snapshot: the image stays as built).
    let t1 = Instant::now();
    let port = free_port();
    let vm = Vm(Command::new("qemu-system-x86_64")
        .args(["-machine", "accel=tcg", "-m", "1024", "-smp", "2", "-snapshot", "-display", "none", "-drive"])
        .arg(format!("file={},if=virtio", disk.display()))
        .args(["-nic", &format!("user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{port}-:80")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap());
    let mut answer = None;
    while t1.elapsed() < Duration::from_secs(300) {
        if let Some(r) = get(port, "/") {
            if r.starts_with("HTTP/1.1 200") || r.starts_with("HTTP/1.0 200") {
                answer = Some(r);
                break;
            }
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    eprintln!("nginx answered {:.1}s after the boot started", t1.elapsed().as_secs_f64());
    drop(vm);
    let answer = answer.expect("nginx in the built image never served the page");
    assert!(answer.contains("Server: nginx"), "{answer}");
    assert!(answer.ends_with(&page), "{answer}");
}
