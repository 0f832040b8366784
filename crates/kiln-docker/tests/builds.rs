//! The docker builder, communicator and post-processors driven through kiln's engine
//! against a real podman service: JSON templates, shell and file provisioners.
//!
//! Needs podman + runc (and debootstrap once, for the base image); without them the
//! tests say so and pass, unless KILN_REQUIRE_TOOLS=1.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use kiln_core::RunSettings;
use kiln_docker::{ContainerGuard, RunSpec};
use support::build::{containers, image_id, js, run, template};
use support::{ImageGuard, Podman, BASE_IMAGE};

/// Runs `json` on `podman` (off the async runtime: run_template makes its own).
async fn build(podman: &Podman, json: String, settings: RunSettings) -> (u8, String) {
    let host = podman.host();
    tokio::task::spawn_blocking(move || run(Some(&host), &template(&json), &settings)).await.unwrap()
}

/// Asserts that none of the containers a build's output names still exists.
async fn assert_no_containers(podman: &Podman, out: &str) {
    let ids = containers(out);
    assert!(!ids.is_empty(), "the build started no container?\n{out}");
    for id in ids {
        assert!(!podman.engine.container_exists(&id).await.unwrap(), "container {id} survived the build\n{out}");
    }
}

/// Runs `line` as root in a fresh container of `image`: its stdout.
async fn run_in(podman: &Podman, image: &str, line: &str) -> String {
    let engine = &podman.engine;
    let mut spec = RunSpec::for_image(image);
    spec.run_command = vec!["-d".into(), "-i".into(), "-t".into(), "--entrypoint=/bin/sh".into(), image.into()];
    let c = ContainerGuard::new(engine, engine.create_container(&spec.to_request().unwrap()).await.unwrap());
    engine.start_container(c.id()).await.unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let cmd = ["/bin/sh".to_string(), "-c".to_string(), line.to_string()];
    let code = engine.exec(c.id(), &cmd, Some("0"), None::<tokio::io::Empty>, &mut out, &mut err).await.unwrap();
    assert_eq!(code, 0, "{line}: {}", String::from_utf8_lossy(&err));
    c.remove().await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_with_shell_file_and_changes() {
    let Some(podman) = Podman::shared("commit_with_shell_file_and_changes").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("cgi")).unwrap();
    std::fs::write(site.join("index.html"), "<h1>kiln</h1>\n").unwrap();
    std::fs::write(site.join("cgi/run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(site.join("cgi/run.sh"), std::fs::Permissions::from_mode(0o750)).unwrap();
    let single = dir.path().join("motd");
    std::fs::write(&single, "hello from kiln\n").unwrap();
    std::fs::set_permissions(&single, std::fs::Permissions::from_mode(0o640)).unwrap();
    let json = format!(
        r#"{{
  "builders": [{{
    "type": "docker", "image": {image}, "pull": false, "commit": true,
    "author": "kiln tests <kiln@example.com>", "message": "built by kiln",
    "changes": ["ENV APP_HOME=/srv/site GREETING=\"hello world\"", "LABEL built-by=kiln stage=test",
                "EXPOSE 8080 53/udp", "WORKDIR /srv/site", "USER nobody", "VOLUME /data",
                "ONBUILD RUN echo child", "CMD [\"/bin/sh\", \"-c\", \"cat /etc/motd\"]"]
  }}],
  "provisioners": [
    {{"type": "shell", "inline": ["echo MARK $(cat /etc/debian_version)", "echo built > /etc/kiln-built",
                                  "echo to-stderr >&2", "mkdir -p /srv"]}},
    {{"type": "file", "source": {site}, "destination": "/srv"}},
    {{"type": "file", "source": {single}, "destination": "/etc/motd"}},
    {{"type": "file", "content": "inline\n", "destination": "/etc/kiln-inline"}},
    {{"type": "shell", "inline": ["stat -c '%a %U %n' /srv/site/cgi/run.sh /etc/motd /srv/site/index.html"]}}
  ]
}}"#,
        image = js(BASE_IMAGE),
        site = js(&site.to_string_lossy()),
        single = js(&single.to_string_lossy()),
    );
    let (code, out) = build(&podman, json, RunSettings::default()).await;
    let image = image_id(&out);
    let _guard = image.as_ref().map(|i| ImageGuard::new(&podman.engine, i));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("==> docker: Committing the container"), "{out}");
    assert!(out.contains("==> docker: Using docker communicator to connect: "), "{out}");
    assert!(out.contains("    docker: MARK 12."), "{out}");
    assert!(out.contains("==> docker: to-stderr"), "{out}");
    assert!(!out.contains("kiln-pgid-"), "the process-group marker leaked into the output\n{out}");
    // Modes kept, uploads owned by root (the container's user while building).
    assert!(out.contains("    docker: 750 root /srv/site/cgi/run.sh"), "{out}");
    assert!(out.contains("    docker: 640 root /etc/motd"), "{out}");
    assert!(out.contains("Imported Docker image: sha256:"), "{out}");
    assert_no_containers(&podman, &out).await;

    let image = image.expect("an image ID");
    let info = podman.engine.inspect_image(&image).await.unwrap();
    assert_eq!(info.author.as_deref(), Some("kiln tests <kiln@example.com>"));
    assert_eq!(info.comment.as_deref(), Some("built by kiln"));
    let config = info.config.unwrap();
    let env = config.env.unwrap_or_default();
    assert!(env.contains(&"APP_HOME=/srv/site".to_string()), "{env:?}");
    assert!(env.contains(&"GREETING=hello world".to_string()), "{env:?}");
    let labels = config.labels.unwrap_or_default();
    assert_eq!(labels.get("built-by").map(String::as_str), Some("kiln"));
    assert_eq!(labels.get("stage").map(String::as_str), Some("test"));
    let mut ports = config.exposed_ports.unwrap_or_default();
    ports.sort();
    assert_eq!(ports, ["53/udp", "8080/tcp"]);
    assert_eq!(config.working_dir.as_deref(), Some("/srv/site"));
    assert_eq!(config.user.as_deref(), Some("nobody"));
    assert_eq!(config.cmd.unwrap_or_default(), ["/bin/sh", "-c", "cat /etc/motd"]);
    assert_eq!(config.volumes.unwrap_or_default(), ["/data"]);
    // (ENTRYPOINT and ONBUILD, which podman's inspect leaves out, are checked on the
    // engine's commit in podman.rs; the builder passes `changes` through unchanged.)
    // The default run_command's entrypoint, as Packer's images get it.
    assert_eq!(config.entrypoint.unwrap_or_default(), ["/bin/sh"]);

    let files = run_in(&podman, &image, "cat /etc/kiln-built /etc/motd /etc/kiln-inline /srv/site/index.html").await;
    assert_eq!(files, "built\nhello from kiln\ninline\n<h1>kiln</h1>\n");

    // The artifact's destroy removes the image (what keep_input_artifact false does).
    let artifact = kiln_docker::artifact::ImageArtifact {
        builder_id: kiln_docker::artifact::IMPORT_ID,
        id: image.clone(),
        tags: Vec::new(),
        data: Default::default(),
        engine: podman.engine.clone(),
    };
    kiln_core::Artifact::destroy(&artifact).await.unwrap();
    assert!(!podman.engine.image_exists(&image).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_to_a_tarball_then_import_it() {
    let Some(podman) = Podman::shared("export_to_a_tarball_then_import_it").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let tarball = dir.path().join("out/export.tar");
    let json = format!(
        r#"{{
  "builders": [{{"type": "docker", "image": {image}, "pull": false, "export_path": {tar}}}],
  "provisioners": [{{"type": "shell", "inline": ["mkdir -p /opt/app && echo v1 > /opt/app/version"]}}],
  "post-processors": [{{"type": "docker-import", "repository": "kiln-test/imported", "tag": "v1",
                        "changes": ["ENV APP_VERSION=1", "CMD [\"/bin/sh\"]"], "keep_input_artifact": true}}]
}}"#,
        image = js(BASE_IMAGE),
        tar = js(&tarball.to_string_lossy()),
    );
    let (code, out) = build(&podman, json.clone(), RunSettings::default()).await;
    let _imported = ImageGuard::new(&podman.engine, "kiln-test/imported:v1");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("==> docker: Exporting the container"), "{out}");
    assert!(out.contains(&format!("Exported Docker file: {}", tarball.display())), "{out}");
    assert!(out.contains("Imported Docker image: kiln-test/imported:v1"), "{out}");
    assert_no_containers(&podman, &out).await;
    let size = std::fs::metadata(&tarball).unwrap().len();
    assert!(size > 10 << 20, "export is only {size} bytes");
    let mut names = Vec::new();
    for e in tar::Archive::new(std::fs::File::open(&tarball).unwrap()).entries().unwrap() {
        names.push(e.unwrap().path().unwrap().to_string_lossy().into_owned());
    }
    assert!(names.iter().any(|n| n.trim_start_matches("./") == "opt/app/version"), "{} entries", names.len());
    // No partial files beside it.
    let beside: Vec<_> =
        std::fs::read_dir(tarball.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(beside.len(), 1, "{beside:?}");

    let info = podman.engine.inspect_image("kiln-test/imported:v1").await.unwrap();
    assert!(info.config.unwrap().env.unwrap_or_default().contains(&"APP_VERSION=1".to_string()));
    assert_eq!(run_in(&podman, "kiln-test/imported:v1", "cat /opt/app/version").await, "v1\n");

    // The tarball exists now: refused without -force, before any container starts.
    let (code, out) = build(&podman, json.clone(), RunSettings::default()).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("already exists; delete it or run with -force"), "{out}");
    assert!(containers(&out).is_empty(), "{out}");
    assert_eq!(std::fs::metadata(&tarball).unwrap().len(), size);
}

/// `build`: the base image from a Dockerfile with a build argument and a context whose
/// `.dockerignore` leaves files out; provisioned and committed. The same with `discard`
/// removes the built image at the end; a failing Dockerfile fails the build with the engine's
/// reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_from_a_dockerfile_then_commit_or_discard() {
    let Some(podman) = Podman::shared("build_from_a_dockerfile_then_commit_or_discard").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(ctx.join("app")).unwrap();
    std::fs::write(ctx.join("app/run.sh"), "echo app\n").unwrap();
    std::fs::write(ctx.join("app/scratch.tmp"), "left out\n").unwrap();
    std::fs::write(ctx.join(".dockerignore"), "**/*.tmp\n").unwrap();
    // Outside the context, as a CI job often keeps it.
    let dockerfile = dir.path().join("base.Dockerfile");
    std::fs::write(
        &dockerfile,
        format!(
            "FROM {BASE_IMAGE}\nARG GREETING=unset\nCOPY app/ /app/\nCOPY . /ctx/\nRUN echo \"$GREETING from the Dockerfile\" > /greeting\n"
        ),
    )
    .unwrap();
    let template = |output: &str| {
        format!(
            r#"{{
  "builders": [{{"type": "docker", {output},
    "build": {{"path": {df}, "build_dir": {ctx}, "arguments": {{"GREETING": "hello"}}, "pull": false}}}}],
  "provisioners": [{{"type": "shell", "inline": ["cat /greeting", "echo files $(ls /app | tr '\\n' ' ')",
                                                 "echo context $(ls -A /ctx | grep -v dockerignore | tr '\\n' ' ')"]}}]
}}"#,
            df = js(&dockerfile.to_string_lossy()),
            ctx = js(&ctx.to_string_lossy()),
        )
    };
    let built = |out: &str| -> String {
        let line = out.lines().find_map(|l| l.split("Finished building base image ").nth(1));
        line.unwrap_or_else(|| panic!("no built image in {out}")).trim().to_string()
    };

    let (code, out) = build(&podman, template(r#""commit": true"#), RunSettings::default()).await;
    let committed = image_id(&out);
    let _committed = committed.as_deref().map(|id| ImageGuard::new(&podman.engine, id));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("    docker: hello from the Dockerfile"), "{out}");
    assert!(out.contains("    docker: files run.sh\n"), "the .tmp file was not left out: {out}");
    // The Dockerfile from outside the context is not copied with it.
    assert!(out.contains("    docker: context app\n"), "{out}");
    assert_no_containers(&podman, &out).await;
    let base = built(&out);
    let _base = ImageGuard::new(&podman.engine, &base);
    // Committed on top of it: the built image stays (the commit is made from it).
    assert!(podman.engine.image_exists(&base).await.unwrap(), "{out}");
    let committed = committed.expect("an image ID");
    assert_eq!(run_in(&podman, &committed, "cat /greeting").await, "hello from the Dockerfile\n");
    podman.engine.remove_image(&committed, true).await.unwrap();
    podman.engine.remove_image(&base, true).await.unwrap();

    // Discarded: the built image goes too.
    let (code, out) = build(&podman, template(r#""discard": true"#), RunSettings::default()).await;
    assert_eq!(code, 0, "{out}");
    let second = built(&out);
    assert!(!podman.engine.image_exists(&second).await.unwrap(), "{out}");

    // A Dockerfile step that fails: the engine's reason, no container.
    std::fs::write(&dockerfile, format!("FROM {BASE_IMAGE}\nRUN echo about to fail && exit 3\n")).unwrap();
    let (code, out) = build(&podman, template(r#""discard": true"#), RunSettings::default()).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Error building the base image"), "{out}");
    assert!(out.contains("about to fail"), "{out}");
    assert!(containers(&out).is_empty(), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_build_leaves_no_container_or_file() {
    let Some(podman) = Podman::shared("a_failing_build_leaves_no_container_or_file").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let tarball = dir.path().join("never.tar");
    let json = format!(
        r#"{{
  "builders": [{{"type": "docker", "image": {image}, "pull": false, "export_path": {tar}}}],
  "provisioners": [{{"type": "shell", "inline": ["echo before", "exit 7", "echo after"]}}]
}}"#,
        image = js(BASE_IMAGE),
        tar = js(&tarball.to_string_lossy()),
    );
    let (code, out) = build(&podman, json, RunSettings::default()).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("    docker: before"), "{out}");
    assert!(!out.contains("    docker: after"), "{out}");
    assert!(out.contains("non-zero exit status: 7"), "{out}");
    assert!(out.contains("==> docker: Killing the container: "), "{out}");
    assert_no_containers(&podman, &out).await;
    assert!(!tarball.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_exports_of_one_template_are_identical() {
    let Some(podman) = Podman::shared("two_exports_of_one_template_are_identical").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.txt"), "a\n").unwrap();
    std::fs::write(data.join("b.txt"), "b\n").unwrap();
    let mut tarballs = Vec::new();
    for n in 0..2 {
        let tarball = dir.path().join(format!("export-{n}.tar"));
        let json = format!(
            r#"{{
  "builders": [{{"type": "docker", "image": {image}, "pull": false, "export_path": {tar},
                "source_date_epoch": 1700000000}}],
  "provisioners": [
    {{"type": "shell", "inline": ["mkdir -p /opt/b /opt/a", "echo 1 > /opt/a/x", "sleep 1.1", "echo 2 > /opt/b/y",
                                  "ln /opt/a/x /opt/b/hard", "rm -rf /var/cache/debconf/*-old"]}},
    {{"type": "file", "source": {data}, "destination": "/opt"}}
  ]
}}"#,
            image = js(BASE_IMAGE),
            tar = js(&tarball.to_string_lossy()),
            data = js(&data.to_string_lossy()),
        );
        let (code, out) = build(&podman, json, RunSettings::default()).await;
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("Making the tarball reproducible"), "{out}");
        assert_no_containers(&podman, &out).await;
        tarballs.push(tarball);
    }
    let (a, b) = (std::fs::read(&tarballs[0]).unwrap(), std::fs::read(&tarballs[1]).unwrap());
    assert!(a.len() > 10 << 20);
    if a != b {
        panic!("the two exports differ: {}", first_difference(&tarballs[0], &tarballs[1]));
    }
    // Files the build wrote carry the epoch; the base image's keep their older times.
    let mut mtimes = BTreeMap::new();
    for e in tar::Archive::new(std::fs::File::open(&tarballs[0]).unwrap()).entries().unwrap() {
        let e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().trim_start_matches("./").to_string();
        mtimes.insert(name, e.header().mtime().unwrap());
    }
    assert_eq!(mtimes.get("opt/a/x"), Some(&1_700_000_000));
    assert_eq!(mtimes.get("opt/data/a.txt"), Some(&1_700_000_000));
    let older = mtimes.values().filter(|t| **t < 1_700_000_000).count();
    assert!(older > 100, "only {older} entries kept a time older than the epoch");
}

/// The first entry (name and what differs) where two tarballs differ.
fn first_difference(a: &Path, b: &Path) -> String {
    let list = |p: &Path| {
        let mut v = Vec::new();
        for e in tar::Archive::new(std::fs::File::open(p).unwrap()).entries().unwrap() {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            v.push((e.path().unwrap().to_string_lossy().into_owned(), h.as_bytes().to_vec(), data));
        }
        v
    };
    let (la, lb) = (list(a), list(b));
    for (x, y) in la.iter().zip(&lb) {
        if x != y {
            return format!("{} vs {} (header same: {}, data same: {})", x.0, y.0, x.1 == y.1, x.2 == y.2);
        }
    }
    format!("{} vs {} entries", la.len(), lb.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_then_save_gives_identical_archives() {
    let Some(podman) = Podman::shared("commit_then_save_gives_identical_archives").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut archives = Vec::new();
    let mut images = Vec::new();
    for n in 0..2 {
        let archive = dir.path().join(format!("saved-{n}.tar"));
        let json = format!(
            r#"{{
  "builders": [{{"type": "docker", "image": {image}, "pull": false, "commit": true,
                "changes": ["LABEL v=1", "ENV A=1 B=2 C=3"]}}],
  "provisioners": [{{"type": "shell", "inline": ["echo {n} > /tmp/scratch; rm /tmp/scratch", "sleep 1.1",
                                               "mkdir -p /opt/app && echo same > /opt/app/f"]}}],
  "post-processors": [{{"type": "docker-save", "path": {path}, "source_date_epoch": 1700000000}}]
}}"#,
            image = js(BASE_IMAGE),
            path = js(&archive.to_string_lossy()),
        );
        let (code, out) = build(&podman, json, RunSettings::default()).await;
        let image = image_id(&out);
        if let Some(i) = &image {
            images.push(ImageGuard::new(&podman.engine, i));
        }
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("Saving image: sha256:"), "{out}");
        assert!(out.contains(&format!("Saved to: {}", archive.display())), "{out}");
        assert_no_containers(&podman, &out).await;
        archives.push(archive);
    }
    let (a, b) = (std::fs::read(&archives[0]).unwrap(), std::fs::read(&archives[1]).unwrap());
    assert!(a == b, "the two saved archives differ");
    // Refused without -force, replaced with it.
    let json = format!(
        r#"{{"builders": [{{"type": "docker", "image": {image}, "pull": false, "commit": true}}],
  "post-processors": [{{"type": "docker-save", "path": {path}}}]}}"#,
        image = js(BASE_IMAGE),
        path = js(&archives[0].to_string_lossy()),
    );
    let (code, out) = build(&podman, json.clone(), RunSettings::default()).await;
    if let Some(i) = image_id(&out) {
        images.push(ImageGuard::new(&podman.engine, &i));
    }
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("already exists; delete it or run with -force"), "{out}");
    assert_eq!(std::fs::read(&archives[0]).unwrap(), a);
    let mut settings = RunSettings::default();
    settings.options.force = true;
    let (code, out) = build(&podman, json, settings).await;
    if let Some(i) = image_id(&out) {
        images.push(ImageGuard::new(&podman.engine, &i));
    }
    assert_eq!(code, 0, "{out}");
    assert_ne!(std::fs::read(&archives[0]).unwrap(), a, "-force did not replace the archive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_user_fix_upload_owner_and_downloads() {
    let Some(podman) = Podman::shared("exec_user_fix_upload_owner_and_downloads").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("tree");
    std::fs::create_dir_all(src.join("skip")).unwrap();
    std::fs::write(src.join("keep.txt"), "keep\n").unwrap();
    let back = dir.path().join("back");
    // The container runs as nobody (run_command -u): uploads become nobody's, and
    // exec_user runs commands as another user.
    let json = format!(
        r#"{{
  "builders": [{{"type": "docker", "image": {image}, "pull": false, "discard": true,
                "run_command": ["-d", "-i", "-t", "-u", "nobody", "--entrypoint=/bin/sh", "--", "{{{{.Image}}}}"],
                "exec_user": "0"}}],
  "provisioners": [
    {{"type": "file", "source": {src}, "destination": "/opt"}},
    {{"type": "shell", "inline": ["id -u", "stat -c '%U %n' /opt/tree/keep.txt", "mkdir -p /out/d && echo down > /out/d/f && echo one > /out/one"]}},
    {{"type": "file", "direction": "download", "source": "/out/d/", "destination": {back}}},
    {{"type": "file", "direction": "download", "source": "/out/one", "destination": {back_one}}}
  ]
}}"#,
        image = js(BASE_IMAGE),
        src = js(&src.to_string_lossy()),
        back = js(&format!("{}/", back.display())),
        back_one = js(&back.join("one.txt").to_string_lossy()),
    );
    let (code, out) = build(&podman, json, RunSettings::default()).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("    docker: 0\n"), "exec_user 0 did not apply\n{out}");
    assert!(out.contains("    docker: nobody /opt/tree/keep.txt"), "{out}");
    assert!(out.contains("Discarded the container"), "{out}");
    assert_eq!(std::fs::read_to_string(back.join("f")).unwrap(), "down\n");
    assert_eq!(std::fs::read_to_string(back.join("one.txt")).unwrap(), "one\n");
    assert_no_containers(&podman, &out).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_communicator_connects_to_the_container_address() {
    let Some(podman) = Podman::shared("ssh_communicator_connects_to_the_container_address").await else { return };
    // No sshd runs in the base image: the build must try the container's own address,
    // give up after ssh_timeout, and remove the container.
    let json = format!(
        r#"{{
  "builders": [{{"type": "docker", "image": {image}, "pull": false, "discard": true,
                "communicator": "ssh", "ssh_username": "root", "ssh_password": "unused", "ssh_timeout": "3s"}}],
  "provisioners": [{{"type": "shell", "inline": ["echo never"]}}]
}}"#,
        image = js(BASE_IMAGE),
    );
    let (code, out) = build(&podman, json, RunSettings::default()).await;
    assert_eq!(code, 1, "{out}");
    let host = out
        .lines()
        .find_map(|l| l.strip_prefix("==> docker: Using ssh communicator to connect: "))
        .unwrap_or_else(|| panic!("no connect line\n{out}"))
        .to_string();
    assert!(host.parse::<std::net::Ipv4Addr>().is_ok(), "{host:?} is not the container's address\n{out}");
    assert!(!out.contains("    docker: never"), "{out}");
    assert_no_containers(&podman, &out).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_name_the_line() {
    let cases = [
        (r#"{"type":"docker","image":"x"}"#, "needs to know what to do with the container"),
        (r#"{"type":"docker","image":"x","commit":true,"discard":true}"#, "commit and discard cannot be used together"),
        (r#"{"type":"docker","commit":true}"#, "needs an image"),
        (r#"{"type":"docker","image":"x","commit":true,"windows_container":true}"#, "Windows containers"),
        (
            r#"{"type":"docker","image":"x","commit":true,"ecr_login":true,"login_server":"r"}"#,
            "ecr_login is not implemented",
        ),
        (r#"{"type":"docker","image":"x","commit":true,"changes":["RUN apt-get update"]}"#, "use a provisioner"),
        (r#"{"type":"docker","image":"x","commit":true,"run_command":["--mount","a","x"]}"#, "\"--mount\""),
        (r#"{"type":"docker","image":"x","commit":true,"communicator":"winrm"}"#, "cannot use the winrm communicator"),
        (r#"{"type":"docker","image":"x","commit":true,"imgae":"y"}"#, "unknown option \"imgae\""),
        (
            r#"{"type":"docker","commit":true,"build":{"path":"Dockerfile","build_dir":"."},"image":"x"}"#,
            "image and build cannot be used together",
        ),
        (r#"{"type":"docker","commit":true,"build":{"build_dir":"."}}"#, "build needs path"),
        (
            r#"{"type":"docker","commit":true,"build":{"path":"no/Such.Dockerfile"}}"#,
            "build path \"no/Such.Dockerfile\" is not a file",
        ),
        (
            r#"{"type":"docker","commit":true,"build":{"path":"Cargo.toml","build_dir":"no-such-dir"}}"#,
            "build_dir \"no-such-dir\" is not a folder",
        ),
        (r#"{"type":"docker","commit":true,"build":{"path":"Cargo.toml","contxt":"."}}"#, "unknown option \"contxt\""),
    ];
    for (builder, expect) in cases {
        let json = format!("{{\"builders\": [\n{builder}]}}");
        let (code, out) =
            tokio::task::spawn_blocking(move || run(None, &template(&json), &RunSettings::default())).await.unwrap();
        assert_eq!(code, 1, "{builder}: {out}");
        assert!(out.contains(expect), "{builder}: expected {expect:?} in\n{out}");
        assert!(out.contains("template.json:2:"), "{builder}: no line in\n{out}");
    }
    let post = [
        (r#"{"type":"docker-save"}"#, "docker-save needs a path"),
        (r#"{"type":"docker-tag","tags":["v1"]}"#, "docker-tag needs a repository"),
        (r#"{"type":"docker-push","ecr_login":true}"#, "ecr_login is not implemented"),
        (r#"{"type":"docker-push","login":true}"#, "login needs login_username"),
        (r#"{"type":"docker-import","tag":"v1"}"#, "tag needs a repository"),
        (r#"{"type":"docker-import","repository":"a","changes":["COPY x y"]}"#, "use a provisioner"),
    ];
    for (pp, expect) in post {
        let json = format!("{{\"builders\": [{{\"type\":\"docker\",\"image\":\"x\",\"commit\":true}}],\n\"post-processors\": [\n{pp}]}}");
        let (code, out) =
            tokio::task::spawn_blocking(move || run(None, &template(&json), &RunSettings::default())).await.unwrap();
        assert_eq!(code, 1, "{pp}: {out}");
        assert!(out.contains(expect), "{pp}: expected {expect:?} in\n{out}");
        assert!(out.contains("template.json:3:"), "{pp}: no line in\n{out}");
    }
}
