//! External plugins through the `kiln` binary, with Packer 1.6.6's own components as the real
//! plugins (wrapper executables `packer-builder-null` … in a `PACKER_PLUGIN_PATH` folder) and a
//! private sshd on 127.0.0.1: kiln's provisioners over a plugin builder's communicator, plugin
//! provisioners and post-processors over kiln's builder, and the same artifacts as kiln's
//! built-in components give.

use std::path::Path;
use std::process::Command;

use kiln_testing::plugins::packer_wrapper;
use kiln_testing::sshd::{sshd_or_skip, Sshd};
use kiln_testing::TempDir;

/// Runs kiln in `dir` with `PACKER_PLUGIN_PATH=plugins` and `env`: (exit code, stdout, stderr).
fn kiln(dir: &TempDir, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    cmd.args(args).current_dir(&dir.0).env("PACKER_PLUGIN_PATH", dir.0.join("plugins")).env_remove("KILN_USE_PLUGINS");
    cmd.env("PACKER_CONFIG_DIR", dir.0.join("config"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    kiln_testing::cli::text(cmd.output().expect("running kiln"))
}

fn plugins(dir: &TempDir, components: &[&str]) {
    let p = dir.0.join("plugins");
    std::fs::create_dir_all(&p).unwrap();
    for c in components {
        packer_wrapper(&p, c);
    }
}

fn null_ssh(sshd: &Sshd) -> String {
    format!(
        r#""type":"null","ssh_host":"127.0.0.1","ssh_port":{},"ssh_username":"{}","ssh_private_key_file":"{}""#,
        sshd.port,
        sshd.user,
        sshd.key.display()
    )
}

/// A template whose builder, provisioners and post-processors each run built in or as a
/// plugin, as `KILN_USE_PLUGINS` says: commands, uploads, a download, a checksum and a manifest.
fn provisioning_template(d: &TempDir, sshd: &Sshd, out: &str) -> String {
    let dir = d.0.display();
    std::fs::create_dir_all(d.0.join(out).join("remote")).unwrap();
    std::fs::write(d.0.join("index.html"), "<h1>kiln</h1>\n").unwrap();
    format!(
        r#"{{"builders": [{{{b}}}],
  "provisioners": [
    {{"type":"shell","inline":["echo on the machine as $(id -un)", "echo to-stderr >&2", "printf made > {dir}/{out}/remote/made.txt"],"remote_folder":"{dir}/{out}/remote"}},
    {{"type":"file","source":"{dir}/index.html","destination":"{dir}/{out}/remote/index.html"}},
    {{"type":"file","direction":"download","source":"{dir}/{out}/remote/index.html","destination":"{dir}/{out}/downloaded.html"}},
    {{"type":"shell","inline":["echo data {{{{ build `ConnType` }}}} {{{{ build `Host` }}}}:{{{{ build `Port` }}}}"],"remote_folder":"{dir}/{out}/remote"}}
  ],
  "post-processors": [[
    {{"type":"artifice","files":["{dir}/{out}/downloaded.html","{dir}/{out}/remote/made.txt"]}},
    {{"type":"checksum","checksum_types":["sha256","md5"],"output":"{dir}/{out}/sum.{{{{.ChecksumType}}}}"}},
    {{"type":"manifest","output":"{dir}/{out}/manifest.json","strip_path":true}}
  ]]}}"#,
        b = null_ssh(sshd),
    )
}

/// The manifest without what differs between two runs (times, the run's id).
fn manifest(path: &Path) -> serde_json::Value {
    let mut m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for b in m["builds"].as_array_mut().unwrap() {
        b["build_time"] = 0.into();
        b["packer_run_uuid"] = "".into();
    }
    m["last_run_uuid"] = "".into();
    m
}

#[test]
fn plugin_builder_and_post_processor_with_kilns_provisioners_make_the_same_artifacts() {
    if !kiln_testing::packer_or_skip() {
        return;
    }
    let Some(sshd) = sshd_or_skip() else { return };
    let d = TempDir::new("plugin-builder");
    plugins(&d, &["builder-null", "post-processor-checksum"]);
    std::fs::write(d.0.join("builtin.json"), provisioning_template(&d, &sshd, "builtin")).unwrap();
    std::fs::write(d.0.join("plugin.json"), provisioning_template(&d, &sshd, "plugin")).unwrap();

    let (code, out, err) = kiln(&d, &[], &["build", "builtin.json"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = kiln(&d, &[("KILN_USE_PLUGINS", "null,checksum")], &["build", "plugin.json"]);
    println!("{out}{err}");
    assert_eq!(code, 0, "{out}{err}");
    // Packer 1.6.6's null builder connects (its own words), kiln's shell runs over its
    // communicator, Packer's checksum post-processor runs on kiln's artifice artifact.
    for line in [
        "==> null: Using ssh communicator to connect: 127.0.0.1",
        &format!("    null: on the machine as {}", sshd.user),
        "==> null: to-stderr",
        &format!("    null: data ssh 127.0.0.1:{}", sshd.port),
        "Build 'null' finished",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    for f in ["downloaded.html", "remote/made.txt", "sum.sha256", "sum.md5"] {
        let (a, b) = (d.0.join("builtin").join(f), d.0.join("plugin").join(f));
        let (a, b) = (std::fs::read_to_string(&a).unwrap(), std::fs::read_to_string(&b).unwrap());
        // The checksum files name the same files, in their own folders.
        assert_eq!(a.replace("/builtin/", "/plugin/"), b, "{f} differs");
    }
    let (a, b) = (manifest(&d.0.join("builtin/manifest.json")), manifest(&d.0.join("plugin/manifest.json")));
    assert_eq!(serde_json::to_string(&a).unwrap().replace("builtin", "plugin"), serde_json::to_string(&b).unwrap());
}

#[test]
fn plugin_provisioners_over_kilns_builder() {
    if !kiln_testing::packer_or_skip() {
        return;
    }
    let Some(sshd) = sshd_or_skip() else { return };
    let d = TempDir::new("plugin-prov");
    plugins(&d, &["provisioner-shell", "provisioner-file", "post-processor-checksum"]);
    std::fs::write(d.0.join("builtin.json"), provisioning_template(&d, &sshd, "builtin")).unwrap();
    std::fs::write(d.0.join("plugin.json"), provisioning_template(&d, &sshd, "plugin")).unwrap();
    let (code, out, err) = kiln(&d, &[], &["build", "builtin.json"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = kiln(&d, &[("KILN_USE_PLUGINS", "shell,file")], &["build", "plugin.json"]);
    println!("{out}{err}");
    assert_eq!(code, 0, "{out}{err}");
    // Packer 1.6.6's shell provisioner says what it runs, then the command's output comes from
    // kiln's ssh communicator.
    for line in [
        "==> null: Provisioning with shell script: ",
        &format!("    null: on the machine as {}", sshd.user),
        &format!("    null: data ssh 127.0.0.1:{}", sshd.port),
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    for f in ["downloaded.html", "remote/made.txt", "sum.sha256"] {
        let (a, b) = (d.0.join("builtin").join(f), d.0.join("plugin").join(f));
        let (a, b) = (std::fs::read_to_string(&a).unwrap(), std::fs::read_to_string(&b).unwrap());
        assert_eq!(a.replace("/builtin/", "/plugin/"), b, "{f} differs");
    }
}

#[test]
fn validate_reports_a_plugins_own_errors_at_the_option() {
    if !kiln_testing::packer_or_skip() {
        return;
    }
    let d = TempDir::new("plugin-validate");
    plugins(&d, &["builder-null"]);
    let t = r#"{
  "builders": [{
    "type": "null",
    "communicator": "ssh",
    "ssh_port": 22,
    "ssh_bogus": 1
  }]
}
"#;
    std::fs::write(d.0.join("t.json"), t).unwrap();
    let (code, out, err) = kiln(&d, &[("KILN_USE_PLUGINS", "null")], &["validate", "t.json"]);
    println!("{out}{err}");
    assert_eq!(code, 1);
    // Packer's null builder rejects the unknown key: at its line.
    assert!(err.contains("t.json:6:5") && err.contains("ssh_bogus"), "{err}");
    assert!(err.contains("reported by the plugin"), "{err}");
    // Without it, the missing host: at the builder, which has no such option.
    std::fs::write(d.0.join("t.json"), t.replace(",\n    \"ssh_bogus\": 1", "")).unwrap();
    let (code, out, err) = kiln(&d, &[("KILN_USE_PLUGINS", "null")], &["validate", "t.json"]);
    println!("{out}{err}");
    assert_eq!(code, 1);
    let at_builder =
        err.split("\n\n").any(|d| d.contains("An ssh_username must be specified") && d.contains("t.json:2:16"));
    assert!(at_builder, "{err}");
}

#[test]
fn hcl2_bodies_are_decoded_against_the_plugins_spec() {
    if !kiln_testing::packer_or_skip() {
        return;
    }
    let d = TempDir::new("plugin-hcl2");
    plugins(&d, &["builder-null"]);
    let t = r#"source "null" "a" {
  communicator = "none"
  ssh_port     = "twenty-two"
  ssh_hots     = "x"
}

build {
  sources = ["source.null.a"]
}
"#;
    std::fs::write(d.0.join("t.pkr.hcl"), t).unwrap();
    let (code, out, err) = kiln(&d, &[("KILN_USE_PLUGINS", "null")], &["validate", "t.pkr.hcl"]);
    println!("{out}{err}");
    assert_eq!(code, 1);
    assert!(err.contains("t.pkr.hcl:3:18") && err.contains("expected number"), "{err}");
    assert!(err.contains("t.pkr.hcl:4:3") && err.contains("did you mean \"ssh_host\""), "{err}");

    let good = t.replace("  ssh_port     = \"twenty-two\"\n  ssh_hots     = \"x\"\n", "  ssh_port = \"2222\"\n");
    std::fs::write(d.0.join("t.pkr.hcl"), good).unwrap();
    let (code, out, err) = kiln(&d, &[("KILN_USE_PLUGINS", "null")], &["validate", "t.pkr.hcl"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = kiln(&d, &[("KILN_USE_PLUGINS", "null")], &["build", "t.pkr.hcl"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Build 'null.a' finished"), "{out}");
}

#[test]
fn a_broken_plugin_is_named_with_its_last_log_lines() {
    let d = TempDir::new("plugin-broken");
    let p = d.0.join("plugins");
    std::fs::create_dir_all(&p).unwrap();
    let script = "#!/bin/sh\necho 'loading the frobnicator' >&2\necho 'panic: frobnicator exploded' >&2\necho 'this is no handshake'\n";
    let bin = p.join("packer-builder-broken");
    std::fs::write(&bin, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(d.0.join("t.json"), r#"{"builders":[{"type":"broken"}]}"#).unwrap();
    let t = std::time::Instant::now();
    let (code, out, err) = kiln(&d, &[], &["validate", "t.json"]);
    println!("{out}{err}");
    assert_eq!(code, 1);
    assert!(t.elapsed() < std::time::Duration::from_secs(20));
    assert!(err.contains(&bin.display().to_string()), "{err}");
    assert!(err.contains("this is no handshake") || err.contains("handshake"), "{err}");

    // One that dies before its handshake: its log lines are quoted.
    let script = "#!/bin/sh\necho 'loading the frobnicator' >&2\necho 'panic: frobnicator exploded' >&2\nexit 3\n";
    std::fs::write(&bin, script).unwrap();
    let (code, out, err) = kiln(&d, &[], &["build", "t.json"]);
    println!("{out}{err}");
    assert_eq!(code, 1);
    assert!(err.contains("panic: frobnicator exploded") && err.contains("exit status 3"), "{err}");
}

#[test]
fn cloud_builders_validate_through_the_plugin_and_fail_cleanly_at_build() {
    if !kiln_testing::packer_or_skip() {
        return;
    }
    let d = TempDir::new("plugin-cloud");
    plugins(
        &d,
        &[
            "builder-azure-arm",
            "builder-googlecompute",
            "builder-openstack",
            "builder-vmware-iso",
            "builder-virtualbox-iso",
        ],
    );
    // Each builder's own Prepare finds what is missing.
    let incomplete = r#"{"builders": [
 {"type": "azure-arm", "name": "az", "os_type": "Linux"},
 {"type": "googlecompute", "name": "gce", "zone": "us-central1-a"},
 {"type": "openstack", "name": "os", "flavor": "m1.small"},
 {"type": "vmware-iso", "name": "vmw", "iso_checksum": "none"},
 {"type": "virtualbox-iso", "name": "vb", "iso_checksum": "none"}
]}
"#;
    std::fs::write(d.0.join("incomplete.json"), incomplete).unwrap();
    let (code, out, err) = kiln(&d, &[], &["validate", "incomplete.json"]);
    println!("{out}{err}");
    assert_eq!(code, 1);
    for (line, text) in [
        (2, "An image_publisher must be specified"),
        (3, "a project_id must be specified"),
        (4, "An image_name must be specified"),
        (5, "One of iso_url or iso_urls must be specified"),
        (6, "One of iso_url or iso_urls must be specified"),
    ] {
        let at = format!("incomplete.json:{line}:2");
        let found = err.split("\n\n").any(|d| d.contains(text) && d.contains(&at));
        assert!(found, "no {text:?} at {at} in\n{err}");
    }
    // Complete enough for Prepare; the builds fail for lack of a cloud or a hypervisor.
    std::fs::write(
        d.0.join("acct.json"),
        r#"{"type":"service_account","project_id":"p","private_key_id":"1","client_email":"a@p.iam.gserviceaccount.com","client_id":"1","token_uri":"http://127.0.0.1:9/token","private_key":"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"}"#,
    )
    .unwrap();
    let complete = r#"{"builders": [
 {"type": "googlecompute", "name": "gce", "zone": "us-central1-a", "project_id": "a-project", "source_image": "debian-11", "ssh_username": "root", "account_file": "acct.json"},
 {"type": "vmware-iso", "name": "vmw", "iso_url": "x.iso", "iso_checksum": "none", "ssh_username": "root", "shutdown_command": "poweroff"},
 {"type": "virtualbox-iso", "name": "vb", "iso_url": "x.iso", "iso_checksum": "none", "guest_os_type": "Debian_64", "ssh_username": "root", "shutdown_command": "poweroff"}
]}
"#;
    std::fs::write(d.0.join("complete.json"), complete).unwrap();
    let (code, out, err) = kiln(&d, &[], &["validate", "complete.json"]);
    assert_eq!(code, 0, "{out}{err}");
    let started = std::time::Instant::now();
    let (code, out, err) = kiln(&d, &[], &["build", "-color=false", "complete.json"]);
    println!("{out}{err}");
    assert_eq!(code, 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "{:?}", started.elapsed());
    for text in [
        "--> gce: Error getting source image for instance creation",
        "--> vmw: Failed creating VMware driver",
        "--> vb: Failed creating VirtualBox driver: exec: \"VBoxManage\": executable file not found",
    ] {
        assert!(out.contains(text), "missing {text:?} in\n{out}");
    }
    // openstack's Prepare already authenticates: the refused connection is a validate error.
    let os = r#"{"builders": [{"type": "openstack", "flavor": "m1.small", "identity_endpoint": "http://127.0.0.1:9/v3", "username": "a-user", "password": "an-openstack-password", "tenant_name": "t", "domain_name": "Default", "region": "r", "image_name": "i", "source_image": "s", "ssh_username": "root"}]}"#;
    std::fs::write(d.0.join("os.json"), os).unwrap();
    let (code, out, err) = kiln(&d, &[], &["validate", "os.json"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("connection refused") && err.contains("os.json:1:15"), "{err}");
}

/// A wrapper that records its process id in `pids/NAME` before it becomes Packer's plugin.
fn pid_wrapper(d: &TempDir, component: &str) {
    let p = d.0.join("plugins");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::create_dir_all(d.0.join("pids")).unwrap();
    let bin = p.join(format!("packer-{component}"));
    let pids = d.0.join("pids");
    let script = format!(
        "#!/bin/sh\necho $$ > {}/{component}.$$\nexec packer plugin packer-{component} \"$@\"\n",
        pids.display()
    );
    std::fs::write(&bin, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Whether `pid` runs (a killed process that nobody has reaped yet, a zombie, does not).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses.
        Ok(stat) => stat.rsplit(')').next().and_then(|r| r.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

#[test]
fn ctrl_c_reaches_the_plugin_which_cleans_up_and_no_plugin_outlives_kiln() {
    if !kiln_testing::packer_or_skip() {
        return;
    }
    let d = TempDir::new("plugin-cancel");
    pid_wrapper(&d, "builder-null");
    pid_wrapper(&d, "provisioner-shell-local");
    let started = d.0.join("started");
    let finished = d.0.join("finished");
    let t = format!(
        r#"{{"builders": [{{"type": "null", "communicator": "none"}}],
 "provisioners": [{{"type": "shell-local", "inline": ["touch {}", "sleep 8", "touch {}"]}}]}}"#,
        started.display(),
        finished.display()
    );
    std::fs::write(d.0.join("t.json"), t).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["build", "-color=false", "t.json"])
        .current_dir(&d.0)
        .env("PACKER_PLUGIN_PATH", d.0.join("plugins"))
        .env("PACKER_CONFIG_DIR", d.0.join("config"))
        .env("KILN_USE_PLUGINS", "all")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !started.exists() {
        assert!(t0.elapsed() < std::time::Duration::from_secs(30), "the provisioner never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SAFETY: signals the kiln process this test started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let signalled = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    let (code, out, err) = kiln_testing::cli::text(out);
    println!("{out}{err}");
    assert_eq!(code, 1);
    assert!(signalled.elapsed() < std::time::Duration::from_secs(6), "{:?}", signalled.elapsed());
    assert!(out.contains("Cancelling build after receiving interrupt"), "{out}");
    assert!(out.contains("Build 'null' cancelled") || out.contains("cancelled"), "{out}");
    // Both plugins were started, and none is left.
    let pids: Vec<i32> = std::fs::read_dir(d.0.join("pids"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap().trim().parse().unwrap())
        .collect();
    assert!(pids.len() >= 2, "{pids:?}");
    for pid in pids {
        let t = std::time::Instant::now();
        while alive(pid) && t.elapsed() < std::time::Duration::from_secs(2) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(!alive(pid), "plugin {pid} outlived kiln");
    }
    // Packer's shell-local provisioner killed its command on Cancel.
    std::thread::sleep(std::time::Duration::from_secs(9).saturating_sub(signalled.elapsed()));
    assert!(!finished.exists(), "the provisioner's command ran on after the cancel");
}
