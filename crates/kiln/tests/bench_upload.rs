//! Benchmark (ignored by default): upload a file with the file provisioner over SSH to a
//! private sshd, with Packer 1.6.6 (scp and sftp) and with kiln, and print the throughput.
//!   cargo test --release -p kiln --test bench_upload -- --ignored --nocapture
//! KILN_BENCH_MIB sets the size (default 1024).

mod common;

use std::process::Command;
use std::time::Instant;

use common::{plain, run, template, TempDir};
use kiln_comm::testing::Sshd;
use kiln_core::RunSettings;

fn template_text(sshd: &Sshd, src: &str, dst: &str, method: &str) -> String {
    format!(
        r#"{{"builders": [{{"type":"null","ssh_host":"127.0.0.1","ssh_port":{},"ssh_username":"{}","ssh_private_key_file":"{}",
  "ssh_file_transfer_method":"{method}"}}],
  "provisioners": [{{"type":"file","source":"{src}","destination":"{dst}"}}]}}"#,
        sshd.port,
        sshd.user,
        sshd.key.display()
    )
}

#[test]
#[ignore]
fn upload_throughput_against_packer() {
    let sshd = Sshd::start().expect("sshd");
    let mib: u64 = std::env::var("KILN_BENCH_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let d = TempDir::new("bench-up");
    let src = d.path("rand.bin");
    let st = Command::new("sh").arg("-c").arg(format!("head -c {} /dev/urandom > {src}", mib << 20)).status().unwrap();
    assert!(st.success());
    let mb = (mib << 20) as f64 / 1e6;
    for method in ["scp", "sftp"] {
        let text = template_text(&sshd, &src, &d.path(&format!("packer-{method}.bin")), method);
        std::fs::write(d.path("t.json"), &text).unwrap();
        let t0 = Instant::now();
        let o = Command::new("packer").args(["build", "-color=false", "t.json"]).current_dir(&d.0).output();
        let secs = t0.elapsed().as_secs_f64();
        match o {
            Ok(o) if o.status.success() => println!("packer {method}: {secs:.2} s, {:.0} MB/s", mb / secs),
            Ok(o) => println!("packer {method} failed: {}", String::from_utf8_lossy(&o.stdout)),
            Err(e) => println!("packer not available: {e}"),
        }
        let t = template(&template_text(&sshd, &src, &d.path(&format!("kiln-{method}.bin")), method));
        let t0 = Instant::now();
        let (code, out) = run(&t, &RunSettings::default(), plain());
        let secs = t0.elapsed().as_secs_f64();
        assert_eq!(code, 0, "{out}");
        println!("kiln {method}: {secs:.2} s, {:.0} MB/s", mb / secs);
    }
}
