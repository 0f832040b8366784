//! The step cache on the docker builder, against a real podman service: a re-build after a
//! change to the last provisioner runs only that one and exports the same filesystem as a
//! full build; one changed byte in the first provisioner's file re-runs everything.
//!
//! Needs podman + runc (and debootstrap once, for the base image); without them the test
//! says so and passes, unless KILN_REQUIRE_TOOLS=1.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use kiln_core::cache::{list, CacheMode, StepCache};
use kiln_core::scheduler::RunOptions;
use kiln_core::RunSettings;
use support::build::{containers, js, run, template};
use support::{ImageGuard, Podman, BASE_IMAGE};

fn settings(cache: Option<&Path>, mode: CacheMode) -> RunSettings {
    RunSettings {
        options: RunOptions {
            force: true,
            cache: cache.map(|d| Arc::new(StepCache::new(d, mode))),
            ..RunOptions::default()
        },
        ..RunSettings::default()
    }
}

/// The template: a file upload, a shell step, and a last shell step saying `last`.
fn json(payload: &Path, tar: &Path, last: &str) -> String {
    format!(
        r#"{{
  "builders": [{{"type": "docker", "image": {image}, "pull": false, "export_path": {tar},
                "source_date_epoch": 1700000000}}],
  "provisioners": [
    {{"type": "file", "source": {payload}, "destination": "/opt/payload"}},
    {{"type": "shell", "inline": ["cp /opt/payload /opt/copy", "echo two > /opt/two", "rm -rf /var/cache/debconf/*-old"]}},
    {{"type": "shell", "inline": ["echo {last} > /opt/last"]}}
  ]
}}"#,
        image = js(BASE_IMAGE),
        tar = js(&tar.to_string_lossy()),
        payload = js(&payload.to_string_lossy()),
    )
}

async fn build(podman: &Podman, json: String, settings: RunSettings) -> (u8, String) {
    let host = podman.host();
    tokio::task::spawn_blocking(move || run(Some(&host), &template(&json), &settings)).await.unwrap()
}

/// What each provisioner did: (cached, running) counts from the output.
fn counts(out: &str) -> (usize, usize) {
    (out.matches("): cached").count(), out.matches("): running").count())
}

/// A tarball's entries: name → (header without the checksum, contents).
fn entries(p: &Path) -> BTreeMap<String, (String, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for e in tar::Archive::new(std::fs::File::open(p).unwrap()).entries().unwrap() {
        let mut e = e.unwrap();
        let h = e.header().clone();
        let head = format!(
            "{:?} {:o} {}:{} {} {:?}",
            h.entry_type(),
            h.mode().unwrap(),
            h.uid().unwrap(),
            h.gid().unwrap(),
            h.mtime().unwrap(),
            h.link_name().unwrap()
        );
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        out.insert(e.path().unwrap().to_string_lossy().into_owned(), (head, data));
    }
    out
}

fn assert_same_files(a: &Path, b: &Path) {
    let (ea, eb) = (entries(a), entries(b));
    let names = |e: &BTreeMap<String, _>| e.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&ea), names(&eb), "the two exports list different files");
    for (name, x) in &ea {
        let y = &eb[name];
        assert_eq!(x.0, y.0, "{name}: headers differ");
        assert!(x.1 == y.1, "{name}: contents differ");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilds_resume_after_the_last_unchanged_provisioner() {
    let Some(podman) = Podman::shared("rebuilds_resume_after_the_last_unchanged_provisioner").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let payload = dir.path().join("payload");
    std::fs::write(&payload, "payload v1\n").unwrap();
    let tar = |n: &str| dir.path().join(format!("{n}.tar"));
    // Every snapshot the cache made is removed at the end, whatever happens.
    struct Snapshots(Arc<Podman>, std::path::PathBuf);
    impl Drop for Snapshots {
        fn drop(&mut self) {
            for e in list(&self.1) {
                drop(ImageGuard::new(&self.0.engine, &e.snapshot));
            }
        }
    }
    let _snapshots = Snapshots(Arc::clone(&podman), cache.clone());

    // 1. A full build fills the cache: a snapshot after each provisioner.
    let (code, out) =
        build(&podman, json(&payload, &tar("first"), "one"), settings(Some(&cache), CacheMode::Use)).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(counts(&out), (0, 3), "{out}");
    assert_eq!(list(&cache).len(), 3, "{out}");
    assert!(out.contains("Step cache: 0 of 3 provisioner(s) cached"), "{out}");

    // 2. Only the last provisioner changed: it alone runs, on a container from the snapshot.
    let (code, out) =
        build(&podman, json(&payload, &tar("cached"), "changed"), settings(Some(&cache), CacheMode::Use)).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(counts(&out), (2, 1), "{out}");
    assert!(out.contains("provisioner 3/3 (shell): running"), "{out}");
    assert!(out.contains("Step cache: resuming from snapshot sha256:"), "{out}");
    assert!(out.contains("Step cache: 2 of 3 provisioner(s) cached, saved about"), "{out}");
    assert!(!out.contains("Uploading"), "the file provisioner ran again\n{out}");
    for id in containers(&out) {
        assert!(!podman.engine.container_exists(&id).await.unwrap(), "container {id} survived the build\n{out}");
    }

    // The same filesystem as a full build of the changed template without the cache.
    let (code, out) = build(&podman, json(&payload, &tar("full"), "changed"), settings(None, CacheMode::Use)).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(counts(&out), (0, 0), "no cache, no cache lines\n{out}");
    assert_same_files(&tar("cached"), &tar("full"));

    // 3. One byte of the first provisioner's file: everything runs again.
    std::fs::write(&payload, "payload v2\n").unwrap();
    let (code, out) =
        build(&podman, json(&payload, &tar("again"), "changed"), settings(Some(&cache), CacheMode::Use)).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(counts(&out), (0, 3), "{out}");
    let copy = entries(&tar("again")).remove("opt/copy").map(|e| e.1);
    assert_eq!(copy.as_deref(), Some(&b"payload v2\n"[..]));

    // 4. -cache=refresh runs everything although every step is cached, and deletes the
    //    snapshots its new ones replace.
    let before: BTreeMap<String, String> = list(&cache).into_iter().map(|e| (e.key, e.snapshot)).collect();
    let (code, out) =
        build(&podman, json(&payload, &tar("refresh"), "changed"), settings(Some(&cache), CacheMode::Refresh)).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(counts(&out), (0, 3), "{out}");
    let mut replaced = 0;
    for e in list(&cache) {
        match before.get(&e.key) {
            Some(old) if *old != e.snapshot => {
                replaced += 1;
                assert!(!podman.engine.image_exists(old).await.unwrap(), "replaced snapshot {old} survived\n{out}");
                assert!(podman.engine.image_exists(&e.snapshot).await.unwrap());
            }
            _ => {}
        }
    }
    assert_eq!(replaced, 3, "{out}");
}

/// A committed image from a resumed build has the configuration and files of a full build's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_commit_has_the_full_builds_configuration() {
    let Some(podman) = Podman::shared("a_cached_commit_has_the_full_builds_configuration").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    struct Snapshots(Arc<Podman>, std::path::PathBuf);
    impl Drop for Snapshots {
        fn drop(&mut self) {
            for e in list(&self.1) {
                drop(ImageGuard::new(&self.0.engine, &e.snapshot));
            }
        }
    }
    let _snapshots = Snapshots(Arc::clone(&podman), cache.clone());
    let json = |last: &str| {
        format!(
            r#"{{
  "builders": [{{"type": "docker", "image": {image}, "pull": false, "commit": true,
                "changes": ["ENV STAGE=test", "LABEL kiln=cache", "WORKDIR /opt", "CMD [\"cat\", \"/opt/last\"]"]}}],
  "provisioners": [
    {{"type": "shell", "inline": ["echo first > /opt/first"]}},
    {{"type": "shell", "inline": ["echo {last} > /opt/last"]}}
  ]
}}"#,
            image = js(BASE_IMAGE)
        )
    };
    let mut images = Vec::new();
    for (last, cache) in [("a", Some(&cache)), ("b", Some(&cache)), ("b", None)] {
        let (code, out) = build(&podman, json(last), settings(cache.map(|c| c.as_path()), CacheMode::Use)).await;
        let image = support::build::image_id(&out).unwrap_or_else(|| panic!("no image\n{out}"));
        images.push((ImageGuard::new(&podman.engine, &image), image, out.clone()));
        assert_eq!(code, 0, "{out}");
    }
    assert_eq!(counts(&images[1].2), (1, 1), "{}", images[1].2);
    let config = |i: usize| {
        let podman = Arc::clone(&podman);
        let image = images[i].1.clone();
        async move {
            let c = podman.engine.inspect_image(&image).await.unwrap().config.unwrap();
            let mut env = c.env.unwrap_or_default();
            env.sort();
            (env, c.labels, c.working_dir, c.cmd, c.entrypoint, c.user)
        }
    };
    let (cached, full) = (config(1).await, config(2).await);
    assert_eq!(cached, full);
    assert!(cached.0.contains(&"STAGE=test".to_string()), "{cached:?}");
}

/// Two machines sharing a cache folder (`file://`, as a CI fleet's shared volume): the second,
/// whose engine has none of the first one's snapshots and whose own cache is empty, fetches the
/// snapshot after the last unchanged provisioner, loads it and runs only the changed one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_machine_resumes_from_the_shared_cache() {
    let Some(podman) = Podman::shared("a_second_machine_resumes_from_the_shared_cache").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("fleet");
    let (cache_a, cache_b) = (dir.path().join("cache-a"), dir.path().join("cache-b"));
    let payload = dir.path().join("payload");
    std::fs::write(&payload, "payload v1\n").unwrap();
    let tar = |n: &str| dir.path().join(format!("{n}.tar"));
    struct Snapshots(Arc<Podman>, Vec<std::path::PathBuf>);
    impl Drop for Snapshots {
        fn drop(&mut self) {
            for d in &self.1 {
                for e in list(d) {
                    drop(ImageGuard::new(&self.0.engine, &e.snapshot));
                }
            }
        }
    }
    let _snapshots = Snapshots(Arc::clone(&podman), vec![cache_a.clone(), cache_b.clone()]);
    let sharing = |cache: &Path| {
        let store = Arc::new(kiln_core::cache::FolderStore::new(&shared));
        RunSettings {
            options: RunOptions {
                force: true,
                cache: Some(Arc::new(StepCache::new(cache, CacheMode::Use).with_shared(store))),
                ..RunOptions::default()
            },
            ..RunSettings::default()
        }
    };

    // Machine A: a full build; each snapshot is also saved to the shared folder.
    let (code, out) = build(&podman, json(&payload, &tar("a"), "one"), sharing(&cache_a)).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(counts(&out), (0, 3), "{out}");
    assert_eq!(out.matches(" shared in file://").count(), 3, "{out}");
    // Machine B's engine has none of A's snapshots.
    for e in list(&cache_a) {
        podman.engine.remove_image(&e.snapshot, false).await.unwrap();
    }

    // Machine B: only the last provisioner changed.
    let (code, out) = build(&podman, json(&payload, &tar("b"), "changed"), sharing(&cache_b)).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Step cache: fetching the snapshot after"), "{out}");
    assert_eq!(counts(&out), (2, 1), "{out}");
    assert!(!out.contains("Uploading"), "the file provisioner ran again\n{out}");
    let files = entries(&tar("b"));
    assert_eq!(files.get("opt/copy").map(|e| e.1.as_slice()), Some(&b"payload v1\n"[..]));
    assert_eq!(files.get("opt/last").map(|e| e.1.as_slice()), Some(&b"changed\n"[..]));
    // B now has its own entry for the imported step (and the new last one).
    assert_eq!(list(&cache_b).len(), 2, "{out}");
}
