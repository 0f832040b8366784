//! `null` builds over SSH to a private sshd on 127.0.0.1, with the provisioners and
//! post-processors kiln implements; the seed template nginx-file.json's provisioner sequence.

mod common;

use common::{plain, run, template, TempDir};
use kiln_core::RunSettings;
use kiln_testing::sshd::{sshd_or_skip, Sshd};

fn builder(sshd: &Sshd, name: &str) -> String {
    format!(
        r#"{{"type":"null","name":"{name}","ssh_host":"127.0.0.1","ssh_port":{},"ssh_username":"{}","ssh_private_key_file":"{}"}}"#,
        sshd.port,
        sshd.user,
        sshd.key.display()
    )
}

#[test]
fn null_over_ssh_with_every_provisioner_and_post_processor() {
    let Some(sshd) = sshd_or_skip() else { return };
    let d = TempDir::new("ssh-all");
    std::fs::write(d.path("index.html"), "<h1>kiln</h1>").unwrap();
    std::fs::create_dir_all(d.path("remote")).unwrap();
    let t = template(&format!(
        r#"{{"builders": [{b}],
  "provisioners": [
    {{"type":"shell","inline":["echo on $(hostname) as $(id -un)", "echo to-stderr >&2"],"remote_folder":"{dir}/remote"}},
    {{"type":"file","source":"{dir}/index.html","destination":"{dir}/remote/"}},
    {{"type":"shell","inline":["cat {dir}/remote/index.html"],"remote_folder":"{dir}/remote"}},
    {{"type":"file","direction":"download","source":"{dir}/remote/index.html","destination":"{dir}/downloaded.html"}},
    {{"type":"shell-local","inline":["echo local side"]}},
    {{"type":"shell","inline":["echo data {{{{ .ConnType }}}} {{{{ .Host }}}}:{{{{ .Port }}}} {{{{ build `User` }}}}"],"remote_folder":"{dir}/remote"}},
    {{"type":"breakpoint","disable":true,"note":"skip me"}}
  ],
  "post-processors": [[
    {{"type":"artifice","files":["{dir}/downloaded.html"]}},
    {{"type":"checksum","checksum_types":["sha256"],"output":"{dir}/sum.{{{{.ChecksumType}}}}"}},
    {{"type":"shell-local","inline":["echo post $PACKER_BUILD_NAME"]}},
    {{"type":"manifest","output":"{dir}/manifest.json","strip_path":true}}
  ]]}}"#,
        b = builder(&sshd, "remote"),
        dir = d.0.display()
    ));
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 0, "{out}");
    for line in [
        "==> remote: Using ssh communicator to connect: 127.0.0.1",
        &format!("==> remote: Waiting for SSH to become available on 127.0.0.1:{} (timeout 5m0s)...", sshd.port),
        "==> remote: Connected to SSH!",
        &format!("    remote: on {} as {}", hostname(), sshd.user),
        "==> remote: to-stderr",
        "    remote: <h1>kiln</h1>",
        "    remote: local side",
        &format!("    remote: data ssh 127.0.0.1:{} {}", sshd.port, sshd.user),
        "==> remote: Breakpoint provisioner with note \"skip me\" disabled; continuing...",
        // Post-processors speak with their type, as in Packer.
        "    remote (shell-local): post remote",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    assert_eq!(std::fs::read_to_string(d.path("downloaded.html")).unwrap(), "<h1>kiln</h1>");
    assert!(std::fs::read_to_string(d.path("sum.sha256")).unwrap().ends_with("\tdownloaded.html\n"));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["builds"][0]["builder_type"], "null");
    assert_eq!(m["builds"][0]["files"][0]["name"], "downloaded.html");
}

fn hostname() -> String {
    String::from_utf8_lossy(&std::process::Command::new("hostname").output().unwrap().stdout).trim().to_string()
}

#[test]
fn parallel_builds_only_except_and_a_failing_provisioner_over_ssh() {
    let Some(sshd) = sshd_or_skip() else { return };
    let d = TempDir::new("ssh-par");
    let t = template(&format!(
        r#"{{"builders": [{}, {}, {}],
  "provisioners": [
    {{"type":"shell","inline":["touch {dir}/started-{{{{build_name}}}}; i=0; until [ -e {dir}/started-a ] && [ -e {dir}/started-b ]; do i=$((i+1)); [ $i -gt 300 ] && exit 9; sleep 0.1; done; echo done"],"remote_folder":"{dir}"}},
    {{"type":"shell","only":["b"],"inline":["echo try >> {dir}/tries; exit 3"],"max_retries":1,"remote_folder":"{dir}"}}
  ]}}"#,
        builder(&sshd, "a"),
        builder(&sshd, "b"),
        builder(&sshd, "c"),
        dir = d.0.display()
    ));
    let s = RunSettings { except: vec!["c".into()], ..RunSettings::default() };
    // Each build's first provisioner waits (up to 30 s) until both builds have started it:
    // run one after the other, both would fail with exit status 9.
    let (code, out) = run(&t, &s, plain());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("    a: done") && out.contains("    b: done"), "{out}");
    assert!(!out.contains("==> c:") && !out.contains("--> c:"), "{out}");
    assert_eq!(std::fs::read_to_string(d.path("tries")).unwrap().lines().count(), 2);
    assert!(out.contains("--> b: Script exited with non-zero exit status: 3. Allowed exit codes are: [0]"), "{out}");
    assert!(out.contains("--> a: Did not export anything."), "{out}");
}

/// nginx-file.json's provisioners (shell, file to /tmp, shell) against the local sshd. `sleep`
/// and `sudo` are stand-ins on the PATH that record what they were asked, so the test installs
/// nothing on this machine.
#[test]
fn seed_nginx_file_provisioner_sequence() {
    let Some(sshd) = sshd_or_skip() else { return };
    let shared = match std::env::var("KILN_SHARED") {
        Ok(s) => std::path::PathBuf::from(s),
        Err(_) => {
            assert!(std::env::var("KILN_REQUIRE_TOOLS").as_deref() != Ok("1"), "KILN_SHARED is required");
            eprintln!("notice: KILN_SHARED not set; skipping the seed template test");
            return;
        }
    };
    let seed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shared.join("seed-templates/nginx-file.json")).unwrap()).unwrap();
    let d = TempDir::new("seed");
    let fake = d.0.join("bin");
    std::fs::create_dir_all(&fake).unwrap();
    let log = d.path("calls.log");
    for tool in ["sudo", "sleep"] {
        let p = fake.join(tool);
        std::fs::write(&p, format!("#!/bin/sh\necho \"{tool} $*\" >> {log}\n")).unwrap();
        std::process::Command::new("chmod").arg("+x").arg(&p).status().unwrap();
    }
    let mut t = seed.clone();
    t["builders"] = serde_json::json!([serde_json::from_str::<serde_json::Value>(&builder(&sshd, "null")).unwrap()]);
    let unique_tmp = format!("/tmp/kiln-seed-{}-index.html", std::process::id());
    for p in t["provisioners"].as_array_mut().unwrap() {
        if p["type"] == "shell" {
            p["environment_vars"] = serde_json::json!([format!("PATH={}:/usr/bin:/bin", fake.display())]);
            p["remote_folder"] = serde_json::json!(d.0.to_string_lossy());
            // The seed copies from /tmp/index.html: point it at this test's own file.
            let inline: Vec<String> = p["inline"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap().replace("/tmp/index.html", &unique_tmp))
                .collect();
            p["inline"] = serde_json::json!(inline);
        } else if p["type"] == "file" {
            p["source"] = serde_json::json!(shared.join("seed-templates").join(p["source"].as_str().unwrap()));
            p["destination"] = serde_json::json!(unique_tmp);
        }
    }
    t["post-processors"][0]["output"] = serde_json::json!(d.path("manifest.json"));
    let (code, out) = run(&template(&t.to_string()), &RunSettings::default(), plain());
    let _ = std::fs::remove_file(&unique_tmp);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!(
            "sleep 30\nsudo apt update\nsudo apt install nginx -y\nsudo cp {unique_tmp} /var/www/html/index.html\n"
        )
    );
    assert!(
        out.contains(&format!("==> null: Uploading {}", shared.join("seed-templates/index.html").display())),
        "{out}"
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["builds"][0]["name"], "null");
}

#[test]
fn uploads_report_progress() {
    let Some(sshd) = sshd_or_skip() else { return };
    let d = TempDir::new("ssh-progress");
    let size = 3 * 1024 * 1024;
    std::fs::write(d.path("big.bin"), vec![7u8; size]).unwrap();
    let t = template(&format!(
        r#"{{"builders": [{}],
  "provisioners": [{{"type":"file","source":"{dir}/big.bin","destination":"{dir}/copy.bin"}}]}}"#,
        builder(&sshd, "p"),
        dir = d.0.display()
    ));
    let (code, out) = run(&t, &RunSettings::default(), kiln_core::render::Format::Json);
    assert_eq!(code, 0, "{out}");
    assert_eq!(std::fs::metadata(d.path("copy.bin")).unwrap().len(), size as u64);
    let last = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .rfind(|v| v["type"] == "progress")
        .expect("progress events");
    assert_eq!(last["done"], size);
    assert_eq!(last["total"], size);
}

#[test]
fn expect_disconnect_then_the_next_provisioner_reconnects() {
    let Some(sshd) = sshd_or_skip() else { return };
    let d = TempDir::new("ssh-reboot");
    // The script kills the sshd process serving its connection, as a reboot would.
    let t = template(&format!(
        r#"{{"builders": [{}],
  "provisioners": [
    {{"type":"shell","inline":["p=$PPID; while [ \"$(ps -o comm= -p $p)\" != sshd ]; do p=$(ps -o ppid= -p $p | tr -d ' '); done; kill -9 $p; sleep 5"],
      "expect_disconnect":true,"remote_folder":"{dir}"}},
    {{"type":"shell","inline":["echo back again"],"remote_folder":"{dir}"}}
  ]}}"#,
        builder(&sshd, "r"),
        dir = d.0.display()
    ));
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("==> r: The script ended the connection, as expect_disconnect allows."), "{out}");
    assert!(out.contains("    r: back again"), "{out}");
}
