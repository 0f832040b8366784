//! SIGINT while the engine builds `build`'s Dockerfile: the build is cancelled at once and no
//! container is started. Docker Engine stops a build whose client has gone; podman's service
//! does not, and kiln says so. In a test binary of its own because it signals its own process.

mod support;

use std::time::{Duration, Instant};

use kiln_core::RunSettings;
use support::build::{containers, js, run, template};
use support::{Podman, BASE_IMAGE};

/// Processes on this machine whose command line has `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(needle) && !text.contains("cargo") {
            found.push(format!("{}: {text}", e.file_name().to_string_lossy()));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_while_the_dockerfile_builds_ends_the_build_at_once() {
    let Some(podman) = Podman::shared("sigint_while_the_dockerfile_builds_ends_the_build_at_once").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A sleep no other test runs, to find the build's RUN step among the machine's processes.
    let marker = format!("sleep 7.{}", std::process::id());
    // The step fails after its sleep, so an engine that goes on leaves no image behind.
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {BASE_IMAGE}\nRUN echo building && {marker} && exit 1\n"),
    )
    .unwrap();
    let json = format!(
        r#"{{"builders": [{{"type": "docker", "discard": true,
  "build": {{"path": {df}, "build_dir": {ctx}, "pull": false}}}}]}}"#,
        df = js(&dir.path().join("Dockerfile").to_string_lossy()),
        ctx = js(&dir.path().to_string_lossy()),
    );
    let host = podman.host();
    let me = std::process::id().to_string();
    let runner = tokio::task::spawn_blocking(move || run(Some(&host), &template(&json), &RunSettings::default()));
    let mut running = false;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if !processes_with(&marker).is_empty() {
            running = true;
            break;
        }
    }
    assert!(running, "the Dockerfile's RUN never started");
    let signalled = Instant::now();
    assert!(std::process::Command::new("kill").args(["-INT", &me]).status().unwrap().success());
    let (code, out) = runner.await.unwrap();
    eprintln!("{out}");
    assert_eq!(code, 1, "{out}");
    assert!(signalled.elapsed() < Duration::from_secs(15), "took {:?}\n{out}", signalled.elapsed());
    assert!(out.contains("Cancelling build after receiving interrupt"), "{out}");
    assert!(out.contains("Build 'docker' cancelled after "), "{out}");
    assert!(containers(&out).is_empty(), "{out}");
    assert!(podman.engine.is_podman());
    // podman goes on building, and kiln says so.
    assert!(out.contains("goes on with the build after kiln has left it"), "{out}");
    assert!(!processes_with(&marker).is_empty(), "podman stopped the build: the message is wrong now\n{out}");
    // The step ends by itself (failing), leaving nothing to clean.
    let t = Instant::now();
    while !processes_with(&marker).is_empty() && t.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(processes_with(&marker).is_empty(), "the RUN step still runs after {:?}", t.elapsed());
}
