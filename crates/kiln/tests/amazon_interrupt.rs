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

use amazon_support::{HoldingProxy, World};

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
