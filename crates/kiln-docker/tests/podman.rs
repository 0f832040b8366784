//! The engine layer against a real podman API service.
//!
//! Needs podman + runc (and debootstrap once, for the base image) and, for the push
//! test, docker-registry. Without them the tests say so and pass, unless
//! KILN_REQUIRE_TOOLS=1.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Instant;

use kiln_docker::normalize::{normalize_save, normalize_tar, Mtime};
use kiln_docker::{CommitOptions, ContainerGuard, Engine, FileMeta, RegistryAuth, RunSpec};
use support::{ImageGuard, Podman, Registry, BASE_IMAGE};

/// Starts a container from the base image with Packer's default run_command.
async fn start(engine: &Engine) -> ContainerGuard {
    let mut spec = RunSpec::for_image(BASE_IMAGE);
    spec.labels.insert("kiln.test".into(), "1".into());
    let id = engine.create_container(&spec.to_request().unwrap()).await.unwrap();
    let guard = ContainerGuard::new(engine, id);
    engine.start_container(guard.id()).await.unwrap();
    guard
}

/// Runs a shell line; returns (exit code, stdout, stderr).
async fn sh(engine: &Engine, id: &str, line: &str) -> (i64, String, String) {
    sh_as(engine, id, line, None, None).await
}

async fn sh_as(
    engine: &Engine,
    id: &str,
    line: &str,
    user: Option<&str>,
    stdin: Option<Vec<u8>>,
) -> (i64, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let cmd = ["/bin/sh".to_string(), "-c".to_string(), line.to_string()];
    let code = engine.exec(id, &cmd, user, stdin.map(std::io::Cursor::new), &mut out, &mut err).await.unwrap();
    (code, String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_reports_the_engine_and_bad_hosts() {
    let Some(podman) = Podman::shared("connect_reports_the_engine_and_bad_hosts").await else { return };
    let engine = Engine::connect_to(&podman.host()).await.unwrap();
    // podman 4 speaks API 1.41; kiln negotiated down to it from the /_ping header.
    assert_eq!(engine.api_version(), "1.41");
    engine.ping().await.unwrap();
    let err = Engine::connect_to("unix:///nonexistent/kiln.sock").await.err().unwrap().to_string();
    assert!(err.contains("unix:///nonexistent/kiln.sock"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_keeps_streams_apart_and_returns_exit_codes() {
    let Some(podman) = Podman::shared("exec_keeps_streams_apart_and_returns_exit_codes").await else { return };
    let engine = &podman.engine;
    let c = start(engine).await;

    let (code, out, err) = sh(engine, c.id(), "echo out1; echo err1 >&2; echo out2; exit 3").await;
    assert_eq!((code, out.as_str(), err.as_str()), (3, "out1\nout2\n", "err1\n"));

    // stdin is piped and closed: cat ends and echoes 1 MiB back unchanged.
    let input: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = engine
        .exec(c.id(), &["cat".to_string()], None, Some(std::io::Cursor::new(input.clone())), &mut out, &mut err)
        .await
        .unwrap();
    assert_eq!(code, 0);
    assert_eq!(out.len(), input.len());
    assert!(out == input, "stdin came back changed");

    // A command that stops reading early is not an error.
    let (code, out, _) = sh_as(engine, c.id(), "head -c 5", None, Some(vec![b'x'; 4 << 20])).await;
    assert_eq!((code, out.as_str()), (0, "xxxxx"));

    // Without stdin the command sees end of input at once.
    let (code, out, _) = sh(engine, c.id(), "cat; echo done").await;
    assert_eq!((code, out.as_str()), (0, "done\n"));

    let (code, out, _) = sh_as(engine, c.id(), "id -u", Some("nobody"), None).await;
    assert_eq!((code, out.trim()), (0, "65534"));

    let err = engine
        .exec(
            c.id(),
            &["/no/such/binary".to_string()],
            None,
            None::<tokio::io::Empty>,
            &mut Vec::new(),
            &mut Vec::new(),
        )
        .await;
    match err {
        Ok(code) => assert_ne!(code, 0),
        Err(e) => assert!(e.to_string().contains("/no/such/binary"), "{e}"),
    }
    c.remove().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_and_directories_round_trip_with_their_modes() {
    let Some(podman) = Podman::shared("files_and_directories_round_trip_with_their_modes").await else { return };
    let engine = &podman.engine;
    let c = start(engine).await;
    let id = c.id();

    // One file, into directories that do not exist yet.
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    engine
        .upload_file(
            id,
            "/opt/kiln/new/data.bin",
            std::io::Cursor::new(data.clone()),
            data.len() as u64,
            FileMeta::root(0o4750, 1_600_000_000),
        )
        .await
        .unwrap();
    let (_, out, _) = sh(engine, id, "stat -c '%a %u %g %s %Y' /opt/kiln/new/data.bin; stat -c %a /opt/kiln/new").await;
    assert_eq!(out, "4750 0 0 300000 1600000000\n755\n");
    let mut back = Vec::new();
    let n = engine.download_file(id, "/opt/kiln/new/data.bin", &mut back).await.unwrap();
    assert_eq!(n, data.len() as u64);
    assert!(back == data);
    // A wrong size is refused before anything is extracted.
    let err = engine
        .upload_file(id, "/tmp/short", std::io::Cursor::new(vec![1u8; 10]), 20, FileMeta::root(0o644, 0))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("10 of 20"), "{err}");
    assert_eq!(sh(engine, id, "test -e /tmp/short").await.0, 1);
    // One that ends early only after its first chunk has gone says the file may be torn.
    let err = engine
        .upload_file(id, "/tmp/torn", std::io::Cursor::new(data.clone()), 400_000, FileMeta::root(0o644, 0))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("300000 of 400000") && err.to_string().contains("/tmp/torn"), "{err}");
    // Symbolic links are followed on download.
    let mut sh_bin = Vec::new();
    engine.download_file(id, "/bin/sh", &mut sh_bin).await.unwrap();
    assert!(sh_bin.starts_with(b"\x7fELF"));

    // A tree: Packer's trailing-slash rules.
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("site");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    std::fs::write(src.join("index.html"), b"<h1>kiln</h1>\n").unwrap();
    std::fs::write(src.join("sub/run.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    std::fs::write(src.join("sub/deeper/secret"), b"s").unwrap();
    std::fs::set_permissions(src.join("sub/run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(src.join("sub/deeper/secret"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(src.join("sub/deeper"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("sub/run.sh", src.join("link")).unwrap();

    engine.upload_dir(id, &src, "/srv", None, &[]).await.unwrap();
    let mut with_slash = src.clone().into_os_string();
    with_slash.push("/");
    engine.upload_dir(id, Path::new(&with_slash), "/flat", None, &[]).await.unwrap();
    let listing = |dir: &str| {
        format!("cd {dir} && find . -mindepth 1 | sort | while read p; do stat -c '%n %a %u %F' \"$p\"; done")
    };
    let (_, nested, _) = sh(engine, id, &listing("/srv/site")).await;
    let (_, flat, _) = sh(engine, id, &listing("/flat")).await;
    let expected = "./index.html 644 0 regular file\n./link 777 0 symbolic link\n./sub 755 0 directory\n./sub/deeper 750 0 directory\n./sub/deeper/secret 600 0 regular file\n./sub/run.sh 755 0 regular file\n";
    assert_eq!(nested, expected);
    assert_eq!(flat, expected);
    assert_eq!(sh(engine, id, "cat /srv/site/link").await.1, "#!/bin/sh\necho hi\n");

    // And back: the same rules on download, bytes and modes compared.
    let down = tempfile::tempdir().unwrap();
    engine.download_dir(id, "/srv/site", down.path(), &[]).await.unwrap();
    engine.download_dir(id, "/flat/", &down.path().join("flat"), &[]).await.unwrap();
    for root in [down.path().join("site"), down.path().join("flat")] {
        assert_eq!(tree(&root), tree(&src), "{}", root.display());
    }
    c.remove().await.unwrap();
}

/// path → (mode, contents or link target) for a local tree.
fn tree(root: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut map = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let content = if meta.file_type().is_symlink() {
                std::fs::read_link(&p).unwrap().to_string_lossy().into_owned().into_bytes()
            } else if meta.is_dir() {
                stack.push(p.clone());
                Vec::new()
            } else {
                std::fs::read(&p).unwrap()
            };
            let mode = if meta.file_type().is_symlink() { 0 } else { meta.mode() & 0o7777 };
            map.insert(rel, (mode, content));
        }
    }
    map
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_applies_changes_author_and_message() {
    let Some(podman) = Podman::shared("commit_applies_changes_author_and_message").await else { return };
    let engine = &podman.engine;
    let c = start(engine).await;
    sh(engine, c.id(), "echo built > /etc/kiln-built").await;
    let changes: Vec<String> = [
        "ENV A=1 B=\"two words\"",
        "LABEL org.example.v=1.0 built-by=kiln",
        "EXPOSE 8080 53/udp",
        "CMD [\"/bin/bash\", \"-c\", \"echo hi\"]",
        "ENTRYPOINT [\"/usr/bin/env\"]",
        "USER nobody",
        "WORKDIR /srv",
        "VOLUME /data",
        "ONBUILD RUN echo child",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let options = CommitOptions {
        changes,
        author: Some("kiln tests <kiln@example.com>".into()),
        message: Some("committed by kiln".into()),
        reference: Some("kiln-test/commit:changes".into()),
    };
    let image = engine.commit(c.id(), &options).await.unwrap();
    assert!(image.starts_with("sha256:"), "{image}");
    let info = engine.inspect_image(&image).await.unwrap();
    assert_eq!(info.author.as_deref(), Some("kiln tests <kiln@example.com>"));
    assert_eq!(info.comment.as_deref(), Some("committed by kiln"));
    assert!(info.repo_tags.unwrap_or_default().iter().any(|t| t.ends_with("kiln-test/commit:changes")));
    let config = info.config.unwrap();
    let env = config.env.unwrap_or_default();
    assert!(env.contains(&"A=1".to_string()) && env.contains(&"B=two words".to_string()), "{env:?}");
    let labels = config.labels.unwrap_or_default();
    assert_eq!(labels.get("org.example.v").map(String::as_str), Some("1.0"));
    assert_eq!(labels.get("built-by").map(String::as_str), Some("kiln"));
    let mut ports = config.exposed_ports.unwrap_or_default();
    ports.sort();
    assert_eq!(ports, ["53/udp", "8080/tcp"]);
    assert_eq!(config.cmd.unwrap_or_default(), ["/bin/bash", "-c", "echo hi"]);
    assert_eq!(config.entrypoint.unwrap_or_default(), ["/usr/bin/env"]);
    assert_eq!(config.user.as_deref(), Some("nobody"));
    assert_eq!(config.working_dir.as_deref(), Some("/srv"));
    assert_eq!(config.volumes.unwrap_or_default(), ["/data"]);

    // podman's inspect leaves ONBUILD out; the image's own config has it.
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("image.tar");
    engine.save(&[&image], &saved).await.unwrap();
    let config = saved_config(&saved);
    assert_eq!(config["config"]["OnBuild"], serde_json::json!(["RUN echo child"]));

    // The committed filesystem has the build's file.
    let mut spec = RunSpec::for_image(&image);
    spec.run_command = vec!["-d".into(), "-i".into(), "-t".into(), "--entrypoint=/bin/sh".into(), image.clone()];
    let child = engine.create_container(&spec.to_request().unwrap()).await.unwrap();
    let child = ContainerGuard::new(engine, child);
    engine.start_container(child.id()).await.unwrap();
    assert_eq!(sh(engine, child.id(), "cat /etc/kiln-built").await.1, "built\n");
    child.remove().await.unwrap();
    c.remove().await.unwrap();
    engine.remove_image(&image, true).await.unwrap();
    assert!(!engine.image_exists(&image).await.unwrap());
    // Removing it again is fine.
    engine.remove_image(&image, true).await.unwrap();
}

/// The first image config in a `docker save` archive.
fn saved_config(archive: &Path) -> serde_json::Value {
    let mut members = BTreeMap::new();
    let mut a = tar::Archive::new(std::fs::File::open(archive).unwrap());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".json") {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            members.insert(name, s);
        }
    }
    let manifest: serde_json::Value = serde_json::from_str(&members["manifest.json"]).unwrap();
    let config = manifest[0]["Config"].as_str().unwrap();
    serde_json::from_str(&members[config]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_gives_a_runnable_image() {
    let Some(podman) = Podman::shared("export_then_import_gives_a_runnable_image").await else { return };
    let engine = &podman.engine;
    let c = start(engine).await;
    sh(engine, c.id(), "mkdir -p /opt/app && echo v1 > /opt/app/version").await;
    let dir = tempfile::tempdir().unwrap();
    let tarball = dir.path().join("export.tar");
    let size = engine.export_container(c.id(), &tarball).await.unwrap();
    assert_eq!(size, std::fs::metadata(&tarball).unwrap().len());
    assert!(size > 10 << 20, "export is only {size} bytes");
    c.remove().await.unwrap();

    let changes =
        vec!["ENV APP_VERSION=1".to_string(), "LABEL stage=imported".to_string(), "CMD [\"/bin/sh\"]".to_string()];
    let image =
        engine.import(&tarball, Some("kiln-test/imported:v1"), &changes, Some("imported by kiln"), None).await.unwrap();
    let info = engine.inspect_image("kiln-test/imported:v1").await.unwrap();
    assert_eq!(info.id.as_deref(), Some(image.as_str()));
    let config = info.config.unwrap();
    assert!(config.env.unwrap_or_default().contains(&"APP_VERSION=1".to_string()));
    assert_eq!(config.labels.unwrap_or_default().get("stage").map(String::as_str), Some("imported"));

    let run = RunSpec::for_image("kiln-test/imported:v1").to_request().unwrap();
    let c2 = ContainerGuard::new(engine, engine.create_container(&run).await.unwrap());
    engine.start_container(c2.id()).await.unwrap();
    assert_eq!(sh(engine, c2.id(), "cat /opt/app/version").await.1, "v1\n");
    c2.remove().await.unwrap();
    engine.remove_image(&image, true).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_push_to_a_registry_and_pull_back() {
    let test = "tag_push_to_a_registry_and_pull_back";
    let Some(registry) = Registry::start(test) else { return };
    let Some(podman) = Podman::start(test, std::slice::from_ref(&registry.addr)).await else { return };
    let engine = &podman.engine;
    let c = start(engine).await;
    sh(engine, c.id(), "echo pushed > /etc/kiln-pushed").await;
    let image = engine.commit(c.id(), &CommitOptions::default()).await.unwrap();
    c.remove().await.unwrap();

    let reference = format!("{}/kiln/pushed:v1", registry.addr);
    engine.tag(&image, &reference).await.unwrap();
    let mut lines = Vec::new();
    // Without credentials the registry refuses.
    let err = engine.push(&reference, None, &mut |l: &str| lines.push(l.to_string())).await.unwrap_err();
    assert!(err.to_string().to_lowercase().contains("auth"), "{err}");
    let wrong = RegistryAuth { server: registry.addr.clone(), username: "kiln".into(), password: "wrong".into() };
    assert!(engine.push(&reference, Some(&wrong), &mut |_: &str| {}).await.is_err());
    let auth = RegistryAuth {
        server: registry.addr.clone(),
        username: support::registry::USER.into(),
        password: support::registry::PASSWORD.into(),
    };
    engine.push(&reference, Some(&auth), &mut |l: &str| lines.push(l.to_string())).await.unwrap();
    assert!(!lines.is_empty());

    // Gone locally, then back from the registry with the same content.
    engine.remove_image(&reference, true).await.unwrap();
    engine.remove_image(&image, true).await.unwrap();
    assert!(!engine.image_exists(&reference).await.unwrap());
    assert!(engine.pull(&reference, None, None, &mut |_: &str| {}).await.is_err());
    engine.pull(&reference, None, Some(&auth), &mut |_: &str| {}).await.unwrap();
    let run = RunSpec::for_image(&reference).to_request().unwrap();
    let c2 = ContainerGuard::new(engine, engine.create_container(&run).await.unwrap());
    engine.start_container(c2.id()).await.unwrap();
    assert_eq!(sh(engine, c2.id(), "cat /etc/kiln-pushed").await.1, "pushed\n");
    c2.remove().await.unwrap();
    engine.remove_image(&reference, true).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_writes_a_loadable_archive() {
    let Some(podman) = Podman::shared("save_writes_a_loadable_archive").await else { return };
    let engine = &podman.engine;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("base.tar");
    let size = engine.save(&[BASE_IMAGE], &archive).await.unwrap();
    assert_eq!(size, std::fs::metadata(&archive).unwrap().len());
    let mut names = Vec::new();
    let mut a = tar::Archive::new(std::fs::File::open(&archive).unwrap());
    for e in a.entries().unwrap() {
        names.push(e.unwrap().path().unwrap().to_string_lossy().into_owned());
    }
    assert!(names.contains(&"manifest.json".to_string()), "{names:?}");
    let config = saved_config(&archive);
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["/bin/bash"]));
    // Saving an image that does not exist fails and leaves no file behind.
    let missing = dir.path().join("missing.tar");
    assert!(engine.save(&["kiln-test/no-such-image:x"], &missing).await.is_err());
    assert!(!missing.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_are_removed_on_drop_and_removal_is_idempotent() {
    let Some(podman) = Podman::shared("containers_are_removed_on_drop_and_removal_is_idempotent").await else { return };
    let engine = &podman.engine;
    let id = {
        let c = start(engine).await;
        assert!(engine.container_exists(c.id()).await.unwrap());
        c.id().to_string()
    }; // dropped here
    assert!(!engine.container_exists(&id).await.unwrap());

    // Created but never started, then removed twice.
    let req = RunSpec::for_image(BASE_IMAGE).to_request().unwrap();
    let id = engine.create_container(&req).await.unwrap();
    engine.remove_container(&id).await.unwrap();
    engine.remove_container(&id).await.unwrap();
    assert!(!engine.container_exists(&id).await.unwrap());

    // A start that fails still leaves the ID with the caller, to remove.
    let mut bad = RunSpec::for_image(BASE_IMAGE);
    bad.run_command = vec!["-d".into(), "--entrypoint=/no/such/shell".into(), BASE_IMAGE.into()];
    let id = engine.create_container(&bad.to_request().unwrap()).await.unwrap();
    assert!(engine.start_container(&id).await.is_err());
    engine.remove_container(&id).await.unwrap();
    assert!(!engine.container_exists(&id).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_builds_give_identical_normalized_exports_and_saves() {
    let Some(podman) = Podman::shared("identical_builds_give_identical_normalized_exports_and_saves").await else {
        return;
    };
    let engine = &podman.engine;
    let dir = tempfile::tempdir().unwrap();
    let epoch = Mtime::Clamp(1_700_000_000);
    let mut exports = Vec::new();
    let mut saves = Vec::new();
    let mut images = Vec::new();
    let mut guards = Vec::new();
    for n in 0..2 {
        let c = start(engine).await;
        // Same files, written at different times, in a different order.
        let script = if n == 0 {
            "mkdir -p /opt/a /opt/b && echo 1 > /opt/a/x && echo 2 > /opt/b/y && ln /opt/a/x /opt/b/hard"
        } else {
            "sleep 1.1; mkdir -p /opt/b /opt/a && echo 2 > /opt/b/y && echo 1 > /opt/a/x && ln /opt/a/x /opt/b/hard"
        };
        assert_eq!(sh(engine, c.id(), script).await.0, 0);
        let raw = dir.path().join(format!("export-{n}.tar"));
        engine.export_container(c.id(), &raw).await.unwrap();
        let image = engine
            .commit(c.id(), &CommitOptions { changes: vec!["LABEL v=1".into()], ..CommitOptions::default() })
            .await
            .unwrap();
        guards.push(ImageGuard::new(engine, &image));
        let saved = dir.path().join(format!("save-{n}.tar"));
        engine.save(&[&image], &saved).await.unwrap();
        c.remove().await.unwrap();
        exports.push(raw);
        saves.push(saved);
        images.push(image);
    }
    let read = |p: &Path| std::fs::read(p).unwrap();
    assert_ne!(read(&exports[0]), read(&exports[1]), "the raw exports already match: nothing to normalise?");
    assert_ne!(read(&saves[0]), read(&saves[1]));
    assert_ne!(images[0], images[1]);

    let norm = |p: &Path, save: bool| {
        let out = p.with_extension("norm.tar");
        let t = Instant::now();
        if save {
            normalize_save(p, &out, epoch).unwrap();
        } else {
            normalize_tar(p, &out, epoch).unwrap();
        }
        eprintln!(
            "normalised {} ({} MB) in {:.2} s",
            p.display(),
            std::fs::metadata(p).unwrap().len() / 1_000_000,
            t.elapsed().as_secs_f64()
        );
        out
    };
    let (e0, e1) = (norm(&exports[0], false), norm(&exports[1], false));
    assert!(read(&e0) == read(&e1), "normalised exports differ");
    let (s0, s1) = (norm(&saves[0], true), norm(&saves[1], true));
    assert!(read(&s0) == read(&s1), "normalised saves differ");

    // The normalised save loads, and the engine computes the same image ID.
    let ids = normalize_save(&saves[0], &dir.path().join("again.tar"), epoch).unwrap();
    let report = engine.load(&s0).await.unwrap();
    assert!(!report.is_empty());
    let _loaded = ImageGuard::new(engine, &ids[0]);
    let info = engine.inspect_image(&ids[0]).await.unwrap();
    assert_eq!(info.id.as_deref(), Some(ids[0].as_str()));
    assert_eq!(info.created.as_deref().map(|c| c.starts_with("2023-11-14T22:13:20")), Some(true), "{:?}", info.created);

    // The normalised export is a usable image and keeps the hard link.
    let image = engine.import(&e0, Some("kiln-test/normalized:export"), &[], None, None).await.unwrap();
    let _imported = ImageGuard::new(engine, &image);
    let c = ContainerGuard::new(
        engine,
        engine.create_container(&RunSpec::for_image(&image).to_request().unwrap()).await.unwrap(),
    );
    engine.start_container(c.id()).await.unwrap();
    let (_, out, _) = sh(engine, c.id(), "cat /opt/a/x /opt/b/y; stat -c %h /opt/a/x; stat -c %Y /opt/a/x").await;
    assert_eq!(out, "1\n2\n2\n1700000000\n");
    c.remove().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_upload_throughput_and_build_cycle() {
    let Some(podman) = Podman::shared("measure_upload_throughput_and_build_cycle").await else { return };
    let engine = &podman.engine;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rand100m.bin");
    let size = 100u64 << 20;
    {
        // Incompressible, like the anchors' /dev/urandom file (xorshift, so no RNG crate).
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut buf = Vec::with_capacity(size as usize);
        while (buf.len() as u64) < size {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.extend_from_slice(&x.to_le_bytes());
        }
        std::fs::write(&file, &buf).unwrap();
    }
    let upload = |id: String| {
        let file = file.clone();
        async move {
            let src = tokio::fs::File::open(&file).await.unwrap();
            engine.upload_file(&id, "/tmp/upload.bin", src, size, FileMeta::root(0o644, 0)).await.unwrap();
        }
    };

    let c = start(engine).await;
    let t = Instant::now();
    upload(c.id().to_string()).await;
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(sh(engine, c.id(), "stat -c %s /tmp/upload.bin").await.1.trim(), size.to_string());
    eprintln!("MEASURE upload 100 MiB: {secs:.2} s = {:.1} MB/s", size as f64 / 1e6 / secs);
    c.remove().await.unwrap();

    // The anchors' Packer template: shell, 100 MiB file, shell, commit (4.5 s with Packer).
    let t0 = Instant::now();
    let c = start(engine).await;
    let t_start = t0.elapsed().as_secs_f64();
    let t = Instant::now();
    let (code, _, _) = sh(engine, c.id(), "echo MARK shell-start; uname -a; cat /etc/debian_version; echo 'built by kiln' > /etc/packer-built; echo MARK shell-end").await;
    assert_eq!(code, 0);
    let t_shell1 = t.elapsed().as_secs_f64();
    let t = Instant::now();
    upload(c.id().to_string()).await;
    let t_up = t.elapsed().as_secs_f64();
    let t = Instant::now();
    assert_eq!(sh(engine, c.id(), "ls -l /tmp/upload.bin; rm -f /tmp/upload.bin").await.0, 0);
    let t_shell2 = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let image = engine
        .commit(c.id(), &CommitOptions { changes: vec!["LABEL built-by=kiln".into()], ..CommitOptions::default() })
        .await
        .unwrap();
    let _image = ImageGuard::new(engine, &image);
    let t_commit = t.elapsed().as_secs_f64();
    let t = Instant::now();
    c.remove().await.unwrap();
    let t_remove = t.elapsed().as_secs_f64();
    let total = t0.elapsed().as_secs_f64();
    eprintln!(
        "MEASURE cycle: create+start {t_start:.2} s, shell {t_shell1:.2} s, upload 100 MiB {t_up:.2} s, shell {t_shell2:.2} s, commit {t_commit:.2} s, remove {t_remove:.2} s; total {total:.2} s (Packer 1.6.6: 4.5 s; target <= 2.25 s)"
    );
}
