//! SIGINT to `kiln build` of an amazon-ebs template at each stage of the build, against moto
//! with a stand-in instance (see amazon_support): before the instance runs, while it runs,
//! during provisioning, while the AMI is made, during the copy. Each time the build says it
//! cancelled cleanly, exits 1, and moto holds nothing it made, in either region.
//!
//! A proxy in front of moto holds back the answer of the call the signal should interrupt
//! (the call itself reaches moto, so its resource exists and the cleanup must find it).

mod amazon_support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use amazon_support::{all_output, HoldingProxy, World};

const REGIONS: [&str; 2] = ["us-east-1", "us-west-2"];

/// When to send the signal.
enum At {
    /// While the answer to this EC2 action is held.
    Call(&'static str),
    /// Once the build printed this line.
    Line(&'static str),
}

/// The template; `provision` is the shell provisioner's inline command list (JSON).
fn template(w: &World, endpoint: &str, provision: &str) -> String {
    let src = r#"{
  "builders": [{
    "type": "amazon-ebs",
    "region": "us-east-1",
    "source_ami_filter": {
      "filters": {"name": "ubuntu/images/*ubuntu-focal-20.04-amd64-server-*", "root-device-type": "ebs", "virtualization-type": "hvm"},
      "owners": ["099720109477"], "most_recent": true
    },
    "instance_type": "t2.micro",
    "ssh_username": "ubuntu",
    "ami_name": "kiln-interrupt-{{timestamp}}",
    "ami_regions": ["us-west-2"],
    "tags": {"Purpose": "interrupt test"}
  }],
  "provisioners": [{"type": "shell", "inline": PROVISION}]
}"#
    .replace("PROVISION", provision);
    let mut t: serde_json::Value = serde_json::from_str(&w.json_copy(&src)).expect("template");
    t["builders"][0]["custom_endpoint_ec2"] = endpoint.into();
    serde_json::to_string_pretty(&t).expect("json")
}

fn interrupt(at: At) {
    let Some(w) = World::start("ebs-int", &REGIONS) else { return };
    let (action, provision) = match at {
        At::Call(a) => (a, r#"["echo provisioning"]"#),
        // Nothing to hold (a name no request has); the provisioner runs until the signal.
        At::Line(_) => ("Nothing", r#"["echo provisioning", "/bin/sleep 60"]"#),
    };
    let proxy = HoldingProxy::start(w.moto.port, action);
    std::fs::write(w.dir.0.join("t.json"), template(&w, &proxy.url, provision)).expect("template");
    let before = w.inventory(&REGIONS);

    let mut child = w.kiln(&["build", "t.json"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("kiln");
    let out = Arc::new(Mutex::new(String::new()));
    let (line_tx, line_rx) = std::sync::mpsc::channel::<String>();
    let mut readers = Vec::new();
    for pipe in [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        let (out, tx) = (out.clone(), line_tx.clone());
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                out.lock().expect("out").push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        }));
    }
    drop(line_tx);

    let limit = Duration::from_secs(90);
    let reached = match at {
        At::Call(_) => proxy.wait_held(limit),
        At::Line(l) => {
            let deadline = Instant::now() + limit;
            let mut found = false;
            while let Ok(line) = line_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                if line.contains(l) {
                    found = true;
                    break;
                }
            }
            found
        }
    };
    let text = || out.lock().expect("out").clone();
    if !reached {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the build never got there:\n{}", text());
    }
    let start = Instant::now();
    let _ = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    std::thread::sleep(Duration::from_millis(500));
    proxy.release();

    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("kiln did not stop within 120 s of SIGINT:\n{}", text());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for r in readers {
        let _ = r.join();
    }
    let text = text();
    eprintln!("stopped {:?} after SIGINT", start.elapsed());
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(text.contains("Cancelling build after receiving interrupt"), "{text}");
    assert!(text.contains("Cleanly cancelled builds after being interrupted."), "{text}");
    let left = w.inventory(&REGIONS).added_since(&before);
    assert!(left.is_empty(), "left in moto after SIGINT: {left:?}\n{text}");
    assert_eq!(w.journal_entries(), Vec::<String>::new(), "everything deleted is crossed out of the journal");
}

#[test]
fn sigint_before_the_instance_runs() {
    interrupt(At::Call("RunInstances"));
}

#[test]
fn sigint_while_the_instance_runs() {
    interrupt(At::Call("StopInstances"));
}

#[test]
fn sigint_during_provisioning() {
    interrupt(At::Line("amazon-ebs: provisioning"));
}

#[test]
fn sigint_while_the_ami_is_made() {
    interrupt(At::Call("CreateImage"));
}

#[test]
fn sigint_during_the_copy() {
    interrupt(At::Call("CopyImage"));
}

/// `kill -9` while the answer to `action` is held: the build's cleanups never run, so what it
/// made stays in moto; the next `kiln build` warns about it, and `kiln cleanup` deletes all of
/// it through the journal (reaching moto at the endpoint the build used, with credentials from
/// the environment).
fn sigkill_then_cleanup(action: &str) {
    let Some(w) = World::start("ebs-kill", &REGIONS) else { return };
    let proxy = HoldingProxy::start(w.moto.port, action);
    std::fs::write(w.dir.0.join("t.json"), template(&w, &proxy.url, r#"["echo provisioning"]"#)).expect("template");
    let before = w.inventory(&REGIONS);

    let mut child = w.kiln(&["build", "t.json"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("kiln");
    if !proxy.wait_held(Duration::from_secs(90)) {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the build never called {action}");
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    proxy.release();

    let left = w.inventory(&REGIONS).added_since(&before);
    assert_eq!(
        (left.instances.len(), left.groups.len()),
        (1, 1),
        "the killed build left its instance and group: {left:?}"
    );
    if action == "CreateImage" {
        assert_eq!(left.images.len(), 1, "and the AMI being made: {left:?}");
    }

    // The next build, of any template, says what was left and how to delete it.
    std::fs::write(w.dir.0.join("null.json"), r#"{"builders":[{"type":"null","communicator":"none"}]}"#)
        .expect("template");
    let o = w.kiln(&["build", "null.json"]).output().expect("kiln");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("resource(s) left behind by kiln processes that did not finish their cleanup"), "{err}");
    assert!(err.contains("amazon-instance i-") && err.contains("amazon-security-group sg-"), "{err}");
    assert!(err.contains("Run `kiln cleanup` to delete them"), "{err}");

    let o = w.kiln(&["cleanup", "-dry-run"]).output().expect("kiln");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("Would delete amazon-instance i-"), "{out}");
    assert_eq!(w.inventory(&REGIONS).added_since(&before), left, "-dry-run deletes nothing");

    // No AWS_ENDPOINT_URL: the journal says where the build's EC2 was.
    let o = w.kiln(&["cleanup"]).env_remove("AWS_ENDPOINT_URL").output().expect("kiln");
    let out = all_output(&o);
    eprintln!("{out}");
    assert!(o.status.success(), "{out}");
    assert!(out.contains("Deleted amazon-instance i-") && out.contains("Deleted amazon-security-group sg-"), "{out}");
    let left = w.inventory(&REGIONS).added_since(&before);
    assert!(left.is_empty(), "left in moto after kiln cleanup: {left:?}\n{out}");
    let o = w.kiln(&["cleanup"]).output().expect("kiln");
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("Nothing to clean up"), "the journal is empty");
}

#[test]
fn sigkill_while_the_instance_runs_then_cleanup() {
    sigkill_then_cleanup("StopInstances");
}

#[test]
fn sigkill_while_the_ami_is_made_then_cleanup() {
    sigkill_then_cleanup("CreateImage");
}
