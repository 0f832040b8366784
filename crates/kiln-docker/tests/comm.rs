//! The docker communicator on its own against a real podman service: commands and
//! their exit codes, a cancelled command stopped in the container, uploads and
//! downloads with modes, owners and `exclude`.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::sync::Mutex;
use std::time::Duration;

use kiln_core::event::{Event, MemoryRenderer};
use kiln_core::{Communicator, Stream, Ui};
use kiln_docker::comm::{DockerComm, Options};
use kiln_docker::{ContainerGuard, Engine, RunSpec};
use support::{Podman, BASE_IMAGE};

async fn container(engine: &Engine, user: Option<&str>) -> ContainerGuard {
    let mut spec = RunSpec::for_image(BASE_IMAGE);
    if let Some(u) = user {
        spec.run_command = ["-d", "-i", "-t", "-u", u, "--entrypoint=/bin/sh", "--", BASE_IMAGE]
            .iter()
            .map(|s| s.to_string())
            .collect();
    }
    let c = ContainerGuard::new(engine, engine.create_container(&spec.to_request().unwrap()).await.unwrap());
    engine.start_container(c.id()).await.unwrap();
    c
}

/// Runs `line` through the communicator: (exit code, stdout lines, stderr lines).
async fn sh(comm: &DockerComm, line: &str) -> (Option<i32>, Vec<String>, Vec<String>) {
    let lines = Mutex::new((Vec::new(), Vec::new()));
    let out = |s: Stream, l: &str| {
        let mut g = lines.lock().unwrap();
        match s {
            Stream::Stdout => g.0.push(l.to_string()),
            Stream::Stderr => g.1.push(l.to_string()),
        }
    };
    let code = comm.start(line, &out).await.unwrap();
    let (o, e) = lines.into_inner().unwrap();
    (code, o, e)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_run_and_cancelled_ones_are_stopped() {
    let Some(podman) = Podman::shared("commands_run_and_cancelled_ones_are_stopped").await else { return };
    let c = container(&podman.engine, None).await;
    let comm = DockerComm::new(podman.engine.clone(), c.id(), Options { fix_upload_owner: true, ..Options::default() });

    let (code, out, err) = sh(&comm, "echo one; echo two >&2; printf 'no newline'; exit 4").await;
    assert_eq!(code, Some(4));
    assert_eq!(out, ["one", "no newline"]);
    assert_eq!(err, ["two"]);
    // Packer runs the command in a subshell of `sh -c`: `exit` and `cd` stay inside.
    let (code, out, _) = sh(&comm, "cd /tmp && pwd").await;
    assert_eq!((code, out.as_slice()), (Some(0), &["/tmp".to_string()][..]));

    // A command whose future is dropped keeps running in the container unless the
    // communicator stops it.
    let noop = |_: Stream, _: &str| {};
    let r = tokio::time::timeout(
        Duration::from_millis(1500),
        comm.start("sleep 300 & echo $! > /tmp/sleep.pid; trap '' TERM; wait", &noop),
    )
    .await;
    assert!(r.is_err(), "the command should still have been running");
    let memory = MemoryRenderer::default();
    let ui = Ui::new(Box::new(memory.clone()));
    comm.stop_cancelled(&ui).await;
    let said: Vec<String> = memory
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Say { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert!(said.iter().any(|s| s.starts_with("Cleaning up: stopping the remote command (process group")), "{said:?}");
    // The sleep is gone (or a zombie nobody reaps), though the container still runs.
    let (_, out, _) =
        sh(&comm, "p=$(cat /tmp/sleep.pid); s=$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null || echo gone); echo $s").await;
    assert!(out == ["gone"] || out == ["Z"], "the cancelled command's sleep still runs: {out:?}");
    c.remove().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_keep_modes_set_owners_and_skip_excluded() {
    let Some(podman) = Podman::shared("transfers_keep_modes_set_owners_and_skip_excluded").await else { return };
    let engine = &podman.engine;
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("skip/deep")).unwrap();
    std::fs::create_dir_all(tree.join("keep")).unwrap();
    std::fs::write(tree.join("keep/run.sh"), "#!/bin/sh\n").unwrap();
    std::fs::write(tree.join("skip/deep/x"), "x").unwrap();
    std::fs::write(tree.join("top.txt"), "top").unwrap();
    std::fs::set_permissions(tree.join("keep/run.sh"), std::fs::Permissions::from_mode(0o751)).unwrap();

    // The container's user is nobody: with fix_upload_owner uploads are nobody's
    // (the group stays root's, as Packer's `chown nobody`), without it root's.
    let c = container(engine, Some("nobody")).await;
    for (fix, owner) in [(true, "nobody:root"), (false, "root:root")] {
        let options = Options { fix_upload_owner: fix, container_user: "nobody".into(), exec_user: Some("0".into()) };
        let comm = DockerComm::new(engine.clone(), c.id(), options);
        let base = format!("/up-{fix}");
        comm.upload_bytes(&format!("{base}/bytes"), b"data").await.unwrap();
        comm.upload_file(&format!("{base}/run.sh"), &tree.join("keep/run.sh")).await.unwrap();
        comm.upload_dir(&base, &tree, &["skip".to_string()]).await.unwrap();
        let (code, out, err) = sh(
            &comm,
            &format!("cd {base} && find . -mindepth 1 | sort | while read p; do stat -c '%n %a %U:%G' \"$p\"; done"),
        )
        .await;
        assert_eq!(code, Some(0), "{err:?}");
        assert_eq!(
            out,
            [
                format!("./bytes 644 {owner}"),
                format!("./run.sh 751 {owner}"),
                format!("./tree 755 {owner}"),
                format!("./tree/keep 755 {owner}"),
                format!("./tree/keep/run.sh 751 {owner}"),
                format!("./tree/top.txt 644 {owner}"),
            ],
            "fix_upload_owner {fix}"
        );
    }

    // Downloads: one file, a folder's contents (trailing slash) without the excluded part.
    let comm = DockerComm::new(engine.clone(), c.id(), Options { exec_user: Some("0".into()), ..Options::default() });
    let (code, _, _) = sh(&comm, "mkdir -p /srv/d/cache /srv/d/sub && echo a > /srv/d/sub/a && echo c > /srv/d/cache/c && chmod 600 /srv/d/sub/a").await;
    assert_eq!(code, Some(0));
    let back = dir.path().join("back");
    comm.download_dir("/srv/d/", &back, &["cache".to_string()]).await.unwrap();
    assert_eq!(std::fs::read_to_string(back.join("sub/a")).unwrap(), "a\n");
    assert_eq!(std::fs::metadata(back.join("sub/a")).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!back.join("cache").exists());
    comm.download_file("/srv/d/sub/a", &dir.path().join("one/a.txt")).await.unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("one/a.txt")).unwrap(), "a\n");
    // A missing file fails and leaves no local file behind.
    let missing = dir.path().join("missing.txt");
    assert!(comm.download_file("/no/such/file", &missing).await.is_err());
    assert!(!missing.exists());
    c.remove().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_streams_stdin_and_uploads_of_unknown_size() {
    let Some(podman) = Podman::shared("raw_streams_stdin_and_uploads_of_unknown_size").await else { return };
    let c = container(&podman.engine, None).await;
    let comm = DockerComm::new(podman.engine.clone(), c.id(), Options::default());

    // 1 MiB through cat, stderr apart and without the process-group marker.
    let input: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 253) as u8).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut src = &input[..];
    let io = kiln_core::ExecIo::new(&mut out, &mut err).with_stdin(&mut src);
    let code = tokio::time::timeout(Duration::from_secs(120), comm.exec("cat; printf e >&2; exit 3", io)).await;
    assert_eq!(code.unwrap().unwrap(), Some(3));
    assert!(out == input, "stdin came back changed ({} bytes)", out.len());
    assert_eq!(err, b"e");

    // No size given: the communicator spools, then uploads with the mode asked for.
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 7) as u8).collect();
    let mut reader = &data[..];
    let meta = kiln_core::UploadMeta { mode: Some(0o751), ..kiln_core::UploadMeta::default() };
    comm.upload("/srv/up/unknown.bin", &mut reader, meta).await.unwrap();
    let (code, out, _) = sh(&comm, "stat -c '%a %s' /srv/up/unknown.bin").await;
    assert_eq!((code, out), (Some(0), vec!["751 200000".to_string()]));
    let mut back = Vec::new();
    comm.download("/srv/up/unknown.bin", &mut back).await.unwrap();
    assert!(back == data);
    let spooled = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&format!("kiln-docker-upload-{}-", std::process::id())))
        .count();
    assert_eq!(spooled, 0, "the spool file is removed");
}
