//! The step cache's shared store in a real distribution registry (Debian's `docker-registry`,
//! on 127.0.0.1, with a password): entries round-trip as OCI artifacts, a missing key is a
//! miss, a wrong password an error that says so.

mod support;

use kiln_core::cache::{Entry, SharedStore};
use kiln_docker::share::OciStore;
use support::registry::{Registry, PASSWORD, USER};

fn entry(key: &str, files: &[&str]) -> Entry {
    Entry {
        key: key.into(),
        kind: "docker".into(),
        snapshot: "sha256:0".into(),
        endpoint: String::new(),
        build: "b".into(),
        provisioner: "shell".into(),
        took_ms: 1,
        saves_ms: 2,
        created: 3,
        used: 3,
        size: 4,
        files: files.iter().map(|f| f.to_string()).collect(),
    }
}

#[tokio::test]
async fn entries_round_trip_through_a_registry() {
    let Some(registry) = Registry::start("entries_round_trip_through_a_registry") else { return };
    let url = format!("oci://{}/kiln/step-cache", registry.addr);
    let store = OciStore::from_url(&url).unwrap().with_credentials(USER, PASSWORD);
    assert_eq!(store.location(), url);
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 5).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    std::fs::write(dir.path().join("image.tar"), &big).unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"small").unwrap();

    assert_eq!(store.get_entry("ab12").await.unwrap(), None, "nothing there yet");
    let e = entry("ab12", &["image.tar", "notes.txt"]);
    store.put(&e, &[dir.path().join("image.tar"), dir.path().join("notes.txt")]).await.unwrap();
    assert_eq!(store.get_entry("ab12").await.unwrap(), Some(e.clone()));
    let out = tempfile::tempdir().unwrap();
    let files = store.fetch(&e, out.path()).await.unwrap();
    assert!(std::fs::read(&files[0]).unwrap() == big, "the big file came back changed");
    assert_eq!(std::fs::read(&files[1]).unwrap(), b"small");

    // A second entry with the same file: its blob is already there and is simply named again.
    let e2 = entry("cd34", &["image.tar"]);
    store.put(&e2, &[dir.path().join("image.tar")]).await.unwrap();
    assert_eq!(store.get_entry("cd34").await.unwrap(), Some(e2));

    let wrong = OciStore::from_url(&url).unwrap().with_credentials(USER, "not-the-password");
    let err = wrong.get_entry("ab12").await.unwrap_err();
    assert!(err.message.contains("401"), "{err}");
}
