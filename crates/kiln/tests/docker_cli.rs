//! `kiln build` (the binary) of docker templates against podman's API service, found
//! through `DOCKER_HOST` as the docker CLI finds its daemon: a unix socket and plain
//! tcp://127.0.0.1; the anchors' docker template (shell, file upload, shell, commit with
//! a LABEL change) built with no shim; SIGINT to the binary in the middle of a
//! provisioner leaves no container and no partial export.
//!
//! Needs podman + runc (and the cached base image); the anchors' test needs KILN_SHARED.
//! Without them the tests say so and pass, unless KILN_REQUIRE_TOOLS=1.

#[path = "../../kiln-docker/tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::build::{containers, image_id, js};
use support::{ImageGuard, Podman, BASE_IMAGE};

const KILN: &str = env!("CARGO_BIN_EXE_kiln");

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

/// `kiln build -color=false <args>` in `dir` with `DOCKER_HOST=host`: (exit code, stdout + stderr).
fn kiln_build(dir: &Path, host: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(KILN)
        .arg("build")
        .arg("-color=false")
        .args(args)
        .current_dir(dir)
        .env("DOCKER_HOST", host)
        .env_remove("DOCKER_TLS_VERIFY")
        .output()
        .unwrap_or_else(|e| panic!("running {KILN}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// Asserts that none of the containers a build's output names still exists.
fn assert_no_containers(rt: &tokio::runtime::Runtime, podman: &Podman, out: &str) {
    let ids = containers(out);
    assert!(!ids.is_empty(), "the build started no container?\n{out}");
    for id in ids {
        let exists = rt.block_on(podman.engine.container_exists(&id)).expect("container inspect");
        assert!(!exists, "container {id} survived the build\n{out}");
    }
}

#[test]
fn anchors_template_builds_over_a_unix_docker_host() {
    let test = "anchors_template_builds_over_a_unix_docker_host";
    let Some(shared) = kiln_testing::shared_or_skip() else { return };
    let template = shared.join("anchors/templates/docker-podman.json");
    assert!(template.is_file(), "{} is missing", template.display());
    let rt = runtime();
    let Some(podman) = rt.block_on(Podman::start(test, &[])) else { return };
    assert!(podman.host().starts_with("unix://"));
    let dir = tempfile::tempdir().expect("tempdir");
    let upload = dir.path().join("upload.bin");
    std::fs::write(&upload, vec![7u8; 1 << 20]).expect("upload file");
    let (code, out) = kiln_build(
        dir.path(),
        &podman.host(),
        &[
            "-var",
            &format!("image={BASE_IMAGE}"),
            "-var",
            &format!("upload_file={}", upload.display()),
            &template.to_string_lossy(),
        ],
    );
    let image = image_id(&out);
    let _guard = image.as_ref().map(|i| ImageGuard::new(&podman.engine, i));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("    docker: MARK shell-start"), "{out}");
    assert!(out.contains("    docker: MARK shell-end"), "{out}");
    assert!(out.contains("/tmp/upload.bin"), "the second shell provisioner did not list the upload\n{out}");
    assert!(out.contains("==> docker: Committing the container"), "{out}");
    assert_no_containers(&rt, &podman, &out);
    let image = image.unwrap_or_else(|| panic!("no image ID\n{out}"));
    let info = rt.block_on(podman.engine.inspect_image(&image)).expect("image inspect");
    let labels = info.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(labels.get("built-by").map(String::as_str), Some("packer-anchor"), "{labels:?}");
}

#[test]
fn tcp_docker_host_selects_the_engine() {
    let test = "tcp_docker_host_selects_the_engine";
    let rt = runtime();
    let Some(podman) = rt.block_on(Podman::start_tcp(test)) else { return };
    let host = podman.host();
    assert!(host.starts_with("tcp://127.0.0.1:"), "{host}");
    let dir = tempfile::tempdir().expect("tempdir");
    let json = format!(
        r#"{{
  "builders": [{{"type": "docker", "image": {image}, "pull": false, "commit": true,
                "changes": ["ENV SELECTED_BY=docker_host"]}}],
  "provisioners": [{{"type": "shell", "inline": ["echo over tcp > /etc/kiln-tcp"]}}],
  "post-processors": [{{"type": "manifest", "output": "m.json",
                        "custom_data": {{"sha": "{{{{ build `ImageSha256` }}}}"}}}}]
}}"#,
        image = js(BASE_IMAGE),
    );
    std::fs::write(dir.path().join("t.json"), json).expect("template");
    let (code, out) = kiln_build(dir.path(), &host, &["t.json"]);
    let image = image_id(&out);
    let _guard = image.as_ref().map(|i| ImageGuard::new(&podman.engine, i));
    assert_eq!(code, 0, "{out}");
    assert_no_containers(&rt, &podman, &out);
    let image = image.unwrap_or_else(|| panic!("no image ID\n{out}"));
    let info = rt.block_on(podman.engine.inspect_image(&image)).expect("image inspect");
    let env = info.config.and_then(|c| c.env).unwrap_or_default();
    assert!(env.contains(&"SELECTED_BY=docker_host".to_string()), "{env:?}");
    // The generated data reaches the post-processors: ImageSha256 is the committed image.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("m.json")).expect("m.json")).expect("manifest JSON");
    assert_eq!(manifest["builds"][0]["custom_data"]["sha"], serde_json::json!(image), "{manifest}");

    // Nothing listens there: the build fails before any container, naming the host.
    let nowhere = format!("tcp://127.0.0.1:{}", support::free_port().expect("a free port"));
    let (code, out) = kiln_build(dir.path(), &nowhere, &["t.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&nowhere), "the error does not name DOCKER_HOST\n{out}");
    assert!(containers(&out).is_empty(), "{out}");
    // A scheme the engine layer cannot speak is refused with the reason.
    let (code, out) = kiln_build(dir.path(), "ssh://builder@example.invalid", &["t.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("ssh:// is not supported yet"), "{out}");
}

#[test]
fn sigint_to_kiln_mid_provisioner_leaves_no_container() {
    let test = "sigint_to_kiln_mid_provisioner_leaves_no_container";
    let rt = runtime();
    let Some(podman) = rt.block_on(Podman::start(test, &[])) else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let tarball = dir.path().join("never.tar");
    let json = format!(
        r#"{{
  "builders": [{{"type": "docker", "image": {image}, "pull": false, "export_path": {tar}}}],
  "provisioners": [{{"type": "shell", "inline": ["echo started", "sleep 300 & wait", "echo never"]}}]
}}"#,
        image = js(BASE_IMAGE),
        tar = js(&tarball.to_string_lossy()),
    );
    std::fs::write(dir.path().join("t.json"), json).expect("template");
    let started = Instant::now();
    let mut child = Command::new(KILN)
        .args(["build", "-color=false", "t.json"])
        .current_dir(dir.path())
        .env("DOCKER_HOST", podman.host())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {KILN}: {e}"));
    let mut stderr = child.stderr.take().expect("stderr");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    // Read stdout until the provisioner runs, then Ctrl-C the binary, and read the rest.
    let mut out = String::new();
    let mut signalled = false;
    for line in BufReader::new(child.stdout.take().expect("stdout")).lines().map_while(Result::ok) {
        out.push_str(&line);
        out.push('\n');
        if !signalled && line.contains("    docker: started") {
            // The shell's `sleep` starts right after its echo; give it a moment.
            std::thread::sleep(Duration::from_millis(500));
            let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
            assert!(status.success());
            signalled = true;
        }
    }
    let status = child.wait().expect("wait for kiln");
    out.push_str(&err_reader.join().unwrap_or_default());
    assert!(signalled, "the provisioner never started\n{out}");
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(started.elapsed() < Duration::from_secs(90), "took {:?}\n{out}", started.elapsed());
    assert!(!out.contains("    docker: never"), "{out}");
    assert!(out.contains("Cleaning up: stopping the remote command (process group"), "{out}");
    assert!(out.contains("==> docker: Cleaning up: removing container "), "{out}");
    assert!(out.contains("Build 'docker' cancelled after "), "{out}");
    assert_no_containers(&rt, &podman, &out);
    assert!(!tarball.exists());
    let left: Vec<_> =
        std::fs::read_dir(dir.path()).expect("dir").filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert_eq!(left, [std::ffi::OsString::from("t.json")], "files left beside the template");
}

/// Machine A builds with `-cache-shared=url` and shares each snapshot; machine B (its own cache
/// folder, an engine without A's snapshots) changes only the last provisioner, fetches the first
/// one's snapshot from the store and runs only the last.
fn two_machines_share_the_cache(rt: &tokio::runtime::Runtime, podman: &Podman, url: &str, env: &[(&str, &str)]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let template = |last: &str, tar: &str| {
        format!(
            r#"{{
  "builders": [{{"type": "docker", "image": {image}, "pull": false, "export_path": {tar}}}],
  "provisioners": [
    {{"type": "shell", "inline": ["echo first > /opt/first"]}},
    {{"type": "shell", "inline": ["echo {last} > /opt/last"]}}
  ]
}}"#,
            image = js(BASE_IMAGE),
            tar = js(tar)
        )
    };
    let location = url.split('?').next().unwrap_or(url);
    let machine = |name: &str, last: &str| {
        std::fs::write(dir.path().join("t.json"), template(last, &format!("{name}.tar"))).expect("template");
        let out = Command::new(KILN)
            .args(["build", "-color=false", &format!("-cache-shared={url}"), "t.json"])
            .current_dir(dir.path())
            .env("DOCKER_HOST", podman.host())
            .env("PACKER_CACHE_DIR", dir.path().join(format!("cache-{name}")))
            .envs(env.iter().copied())
            .env_remove("KILN_CACHE")
            .output()
            .unwrap_or_else(|e| panic!("running {KILN}: {e}"));
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{text}");
        let snapshots: Vec<String> = kiln_core::cache::list(&dir.path().join(format!("cache-{name}/steps")))
            .into_iter()
            .map(|e| e.snapshot)
            .collect();
        (text, snapshots)
    };
    let (out, a_snapshots) = machine("a", "one");
    assert_eq!(out.matches(&format!(" shared in {location}")).count(), 2, "{out}");
    // Machine B's engine has none of A's snapshots.
    for id in &a_snapshots {
        rt.block_on(podman.engine.remove_image(id, false)).expect("remove A's snapshot");
    }
    let (out, b_snapshots) = machine("b", "changed");
    let _guards: Vec<_> = b_snapshots.iter().map(|id| ImageGuard::new(&podman.engine, id)).collect();
    assert!(out.contains(&format!("Step cache: fetching the snapshot after \"shell\" from {location}")), "{out}");
    assert!(out.contains("provisioner 1/2 (shell): cached"), "{out}");
    assert!(out.contains("provisioner 2/2 (shell): running"), "{out}");
    let read = |file: &str| {
        let o = Command::new("tar").args(["-xOf", "b.tar", file]).current_dir(dir.path()).output().expect("tar");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert_eq!((read("opt/first"), read("opt/last")), ("first\n".to_string(), "changed\n".to_string()), "{out}");
}

/// The step cache shared through an S3 bucket (moto's).
#[test]
fn the_step_cache_is_shared_through_s3() {
    let rt = runtime();
    let Some(podman) = rt.block_on(Podman::start("the_step_cache_is_shared_through_s3", &[])) else { return };
    let Some(moto) = kiln_testing::moto::Moto::start("[]") else { return };
    let cfg = kiln_amazon::client::AwsConfig::loader()
        .env(kiln_amazon::client::Env::from_vars::<&str, &str>([]))
        .region("us-east-1")
        .credentials(kiln_amazon::client::Credentials::new(
            kiln_testing::moto::ACCESS_KEY,
            kiln_testing::moto::SECRET_KEY,
            None,
        ))
        .endpoint(kiln_amazon::client::Service::S3, &moto.url)
        .load()
        .expect("aws config");
    rt.block_on(kiln_amazon::client::S3Client::new(&cfg).create_bucket("kiln-fleet")).expect("bucket");
    let env = [
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", kiln_testing::moto::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", kiln_testing::moto::SECRET_KEY),
    ];
    two_machines_share_the_cache(&rt, &podman, "s3://kiln-fleet/ci?region=us-east-1", &env);
}

/// The step cache shared through a distribution registry (with a password) as OCI artifacts.
#[test]
fn the_step_cache_is_shared_through_a_registry() {
    let test = "the_step_cache_is_shared_through_a_registry";
    let rt = runtime();
    let Some(podman) = rt.block_on(Podman::start(test, &[])) else { return };
    let Some(registry) = support::registry::Registry::start(test) else { return };
    let env = [
        ("KILN_CACHE_REGISTRY_USERNAME", support::registry::USER),
        ("KILN_CACHE_REGISTRY_PASSWORD", support::registry::PASSWORD),
    ];
    two_machines_share_the_cache(&rt, &podman, &format!("oci://{}/kiln/step-cache", registry.addr), &env);
}
