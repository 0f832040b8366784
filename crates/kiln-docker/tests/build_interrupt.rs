//! SIGINT in the middle of a provisioner's command in the container: the build is
//! cancelled, the command is stopped in the container, the container removed, no
//! partial export left, and the exit code is Packer's (1). In a test binary of its own
//! because it signals its own process.

mod support;

use std::time::{Duration, Instant};

use kiln_core::RunSettings;
use support::build::{containers, js, run, template};
use support::{Podman, BASE_IMAGE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_mid_provisioner_removes_the_container() {
    let Some(podman) = Podman::shared("sigint_mid_provisioner_removes_the_container").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let tarball = dir.path().join("never.tar");
    let json = format!(
        r#"{{
  "builders": [{{"type": "docker", "image": {image}, "pull": false, "export_path": {tar}}}],
  "provisioners": [{{"type": "shell", "inline": ["echo started", "sleep 300 & wait", "echo never"]}}]
}}"#,
        image = js(BASE_IMAGE),
        tar = js(&tarball.to_string_lossy()),
    );
    let host = podman.host();
    let me = std::process::id().to_string();
    let started = Instant::now();
    let runner = tokio::task::spawn_blocking(move || run(Some(&host), &template(&json), &RunSettings::default()));
    // Wait until the command runs in the container (its sleep is visible), then Ctrl-C.
    let engine = podman.engine.clone();
    let mut container = None;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The build's output is only returned at the end: find the container by its
        // running sleep through the engine instead.
        if let Some(id) = find_build_container(&engine).await {
            container = Some(id);
            break;
        }
    }
    let container = container.expect("the build never reached its sleep");
    let status = std::process::Command::new("kill").args(["-INT", &me]).status().unwrap();
    assert!(status.success());
    let (code, out) = runner.await.unwrap();
    eprintln!("{out}");
    assert_eq!(code, 1, "{out}");
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}\n{out}", started.elapsed());
    assert!(out.contains("    docker: started"), "{out}");
    assert!(!out.contains("    docker: never"), "{out}");
    assert!(out.contains("Cancelling build after receiving interrupt"), "{out}");
    assert!(out.contains("Cleaning up: stopping the remote command (process group"), "{out}");
    assert!(out.contains(&format!("==> docker: Cleaning up: removing container {container}")), "{out}");
    assert!(out.contains("Build 'docker' cancelled after "), "{out}");
    assert_eq!(containers(&out), std::slice::from_ref(&container));
    assert!(!engine.container_exists(&container).await.unwrap(), "container {container} survived\n{out}");
    assert!(!tarball.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// The running container whose processes include `sleep 300` (this binary's only build).
async fn find_build_container(engine: &kiln_docker::Engine) -> Option<String> {
    let ids = engine.running_containers().await.ok()?;
    for id in ids {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let cmd = [
            "/bin/sh".to_string(),
            "-c".to_string(),
            "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '".to_string(),
        ];
        if engine.exec(&id, &cmd, None, None::<tokio::io::Empty>, &mut out, &mut err).await.is_ok()
            && String::from_utf8_lossy(&out).contains("sleep 300")
        {
            return Some(id);
        }
    }
    None
}
