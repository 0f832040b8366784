//! commit → docker-tag → docker-push to a local registry (with login), then the image
//! pulled back from it; and export → docker-import → docker-push. In a test binary of
//! its own, as one test: it needs a podman service that trusts the registry, and the
//! engine host the components connect to is the process's.

mod support;

use kiln_core::RunSettings;
use kiln_docker::{ContainerGuard, RegistryAuth, RunSpec};
use support::build::{containers, image_id, js, run, template};
use support::{registry, ImageGuard, Podman, Registry, BASE_IMAGE};

async fn cat_in(podman: &Podman, image: &str, path: &str) -> String {
    let engine = &podman.engine;
    let c = ContainerGuard::new(
        engine,
        engine.create_container(&RunSpec::for_image(image).to_request().unwrap()).await.unwrap(),
    );
    engine.start_container(c.id()).await.unwrap();
    let mut out = Vec::new();
    let cmd = ["cat".to_string(), path.to_string()];
    engine.exec(c.id(), &cmd, None, None::<tokio::io::Empty>, &mut out, &mut Vec::new()).await.unwrap();
    c.remove().await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_push_pull_back_and_import_push() {
    let test = "tag_push_pull_back_and_import_push";
    let Some(reg) = Registry::start(test) else { return };
    let Some(podman) = Podman::start(test, std::slice::from_ref(&reg.addr)).await else { return };
    tag_push_and_pull_back(&reg, &podman).await;
    export_import_push(&reg, &podman).await;
}

async fn tag_push_and_pull_back(reg: &Registry, podman: &Podman) {
    let repo = format!("{}/kiln/app", reg.addr);
    let json = format!(
        r#"{{
  "variables": {{"password": "{password}"}},
  "sensitive-variables": ["password"],
  "builders": [{{"type": "docker", "image": {image}, "pull": false, "commit": true, "changes": ["LABEL app=kiln"]}}],
  "provisioners": [{{"type": "shell", "inline": ["echo pushed-by-kiln > /etc/kiln-pushed"]}}],
  "post-processors": [[
    {{"type": "docker-tag", "repository": {repo}, "tags": ["v1", "latest"]}},
    {{"type": "docker-push", "login": true, "login_server": {server}, "login_username": "{user}",
      "login_password": "{{{{user `password`}}}}"}}
  ]]
}}"#,
        password = registry::PASSWORD,
        user = registry::USER,
        image = js(BASE_IMAGE),
        repo = js(&repo),
        server = js(&reg.addr),
    );
    let host = podman.host();
    let (code, out) =
        tokio::task::spawn_blocking(move || run(Some(&host), &template(&json), &RunSettings::default())).await.unwrap();
    let image = image_id(&out);
    let _g = image.as_ref().map(|i| ImageGuard::new(&podman.engine, i));
    let _t1 = ImageGuard::new(&podman.engine, &format!("{repo}:v1"));
    let _t2 = ImageGuard::new(&podman.engine, &format!("{repo}:latest"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("Repository: {repo}:v1")), "{out}");
    assert!(out.contains(&format!("Pushing: {repo}:latest")), "{out}");
    assert!(out.contains(&format!("Pushing: {repo}:v1")), "{out}");
    assert!(!out.contains(registry::PASSWORD), "the password leaked into the output\n{out}");
    for id in containers(&out) {
        assert!(!podman.engine.container_exists(&id).await.unwrap());
    }

    // Gone locally, back from the registry with the build's file and label.
    let engine = &podman.engine;
    for r in [format!("{repo}:v1"), format!("{repo}:latest")] {
        engine.remove_image(&r, true).await.unwrap();
    }
    if let Some(i) = &image {
        engine.remove_image(i, true).await.unwrap();
    }
    let reference = format!("{repo}:v1");
    // The builder pulls it back itself (`pull` with `login`, and `platform`) and
    // provisions a container of it.
    let json = format!(
        r#"{{
  "builders": [{{"type": "docker", "image": {reference}, "pull": true, "discard": true, "platform": "linux/amd64",
                "login": true, "login_server": {server}, "login_username": "{user}", "login_password": "{password}"}}],
  "provisioners": [{{"type": "shell", "inline": ["cat /etc/kiln-pushed"]}}]
}}"#,
        reference = js(&reference),
        server = js(&reg.addr),
        user = registry::USER,
        password = registry::PASSWORD,
    );
    let host = podman.host();
    let (code, out) =
        tokio::task::spawn_blocking(move || run(Some(&host), &template(&json), &RunSettings::default())).await.unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("==> docker: Pulling Docker image: {reference}")), "{out}");
    assert!(out.contains("    docker: pushed-by-kiln"), "{out}");
    assert!(!out.contains(registry::PASSWORD), "the password leaked into the output\n{out}");
    for id in containers(&out) {
        assert!(!podman.engine.container_exists(&id).await.unwrap());
    }
    engine.remove_image(&reference, true).await.unwrap();
    let auth =
        RegistryAuth { server: reg.addr.clone(), username: registry::USER.into(), password: registry::PASSWORD.into() };
    engine.pull(&reference, None, Some(&auth), &mut |_: &str| {}).await.unwrap();
    let info = engine.inspect_image(&reference).await.unwrap();
    assert_eq!(info.config.unwrap().labels.unwrap_or_default().get("app").map(String::as_str), Some("kiln"));
    assert_eq!(cat_in(podman, &reference, "/etc/kiln-pushed").await, "pushed-by-kiln\n");

    // Without credentials the registry refuses, and the build says so.
    let json = format!(
        r#"{{
  "builders": [{{"type": "docker", "image": {image}, "pull": false, "commit": true}}],
  "post-processors": [[{{"type": "docker-tag", "repository": {repo}, "tags": ["denied"]}}, {{"type": "docker-push"}}]]
}}"#,
        image = js(BASE_IMAGE),
        repo = js(&repo),
    );
    let host = podman.host();
    let (code, out) =
        tokio::task::spawn_blocking(move || run(Some(&host), &template(&json), &RunSettings::default())).await.unwrap();
    let _g = image_id(&out).map(|i| ImageGuard::new(&podman.engine, &i));
    let _t = ImageGuard::new(&podman.engine, &format!("{repo}:denied"));
    assert_eq!(code, 1, "{out}");
    assert!(out.to_lowercase().contains("auth"), "{out}");
}

async fn export_import_push(reg: &Registry, podman: &Podman) {
    let dir = tempfile::tempdir().unwrap();
    let tarball = dir.path().join("image.tar");
    let repo = format!("{}/kiln/imported", reg.addr);
    let json = format!(
        r#"{{
  "builders": [{{"type": "docker", "image": {image}, "pull": false, "export_path": {tar}}}],
  "provisioners": [{{"type": "shell", "inline": ["echo imported > /etc/kiln-imported"]}}],
  "post-processors": [[
    {{"type": "docker-import", "repository": {repo}, "tag": "v2"}},
    {{"type": "docker-push", "login": true, "login_server": {server}, "login_username": "{user}", "login_password": "{password}"}}
  ]]
}}"#,
        image = js(BASE_IMAGE),
        tar = js(&tarball.to_string_lossy()),
        repo = js(&repo),
        server = js(&reg.addr),
        user = registry::USER,
        password = registry::PASSWORD,
    );
    let host = podman.host();
    let (code, out) =
        tokio::task::spawn_blocking(move || run(Some(&host), &template(&json), &RunSettings::default())).await.unwrap();
    let reference = format!("{repo}:v2");
    let _g = ImageGuard::new(&podman.engine, &reference);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("Pushing: {reference}")), "{out}");
    // docker-import does not keep its input by default: the tarball is deleted.
    assert!(!tarball.exists(), "{out}");
    podman.engine.remove_image(&reference, true).await.unwrap();
    let auth =
        RegistryAuth { server: reg.addr.clone(), username: registry::USER.into(), password: registry::PASSWORD.into() };
    podman.engine.pull(&reference, None, Some(&auth), &mut |_: &str| {}).await.unwrap();
    assert_eq!(cat_in(podman, &reference, "/etc/kiln-imported").await, "imported\n");
}
