//! S3 objects and the step cache's shared store in a bucket, against moto's S3.

use kiln_amazon::client::*;
use kiln_amazon::share::S3Store;
use kiln_core::cache::{Entry, SharedStore};

use crate::support::Moto;

#[tokio::test]
async fn objects_round_trip_from_memory_and_files() {
    let Some(moto) = Moto::start() else { return };
    let s3 = S3Client::new(&moto.config("eu-west-1", None));
    s3.create_bucket("kiln-objects").await.unwrap();
    s3.create_bucket("kiln-objects").await.unwrap(); // already ours: fine
    s3.put_object("kiln-objects", "a/b c+d.json", b"{\"x\":1}").await.unwrap();
    assert_eq!(s3.get_object("kiln-objects", "a/b c+d.json").await.unwrap().as_deref(), Some(&b"{\"x\":1}"[..]));
    assert_eq!(s3.get_object("kiln-objects", "a/missing").await.unwrap(), None);

    // 5 MiB and a bit from a file, streamed both ways.
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..5 * 1024 * 1024 + 77).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    std::fs::write(dir.path().join("in"), &data).unwrap();
    s3.put_object_file("kiln-objects", "big/in", &dir.path().join("in")).await.unwrap();
    assert!(s3.get_object_to_file("kiln-objects", "big/in", &dir.path().join("out")).await.unwrap());
    assert!(std::fs::read(dir.path().join("out")).unwrap() == data, "the object came back changed");
    assert!(!s3.get_object_to_file("kiln-objects", "big/none", &dir.path().join("none")).await.unwrap());

    let e = s3.get_object("no-such-bucket", "x").await.unwrap_err();
    assert_eq!(e.code(), Some("NoSuchBucket"), "{e}");
}

#[tokio::test]
async fn the_shared_store_writes_files_then_the_entry() {
    let Some(moto) = Moto::start() else { return };
    let cfg = moto.config("us-east-1", None);
    S3Client::new(&cfg).create_bucket("kiln-fleet").await.unwrap();
    let store = S3Store::new(&cfg, "kiln-fleet", "/ci/");
    assert_eq!(store.location(), "s3://kiln-fleet/ci");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("image.tar");
    std::fs::write(&file, b"layers").unwrap();
    let entry = Entry {
        key: "ab12".into(),
        kind: "docker".into(),
        snapshot: "sha256:1".into(),
        endpoint: String::new(),
        build: "b".into(),
        provisioner: "shell".into(),
        took_ms: 5,
        saves_ms: 9,
        created: 1,
        used: 1,
        size: 6,
        files: vec!["image.tar".into()],
    };
    assert_eq!(store.get_entry("ab12").await.unwrap(), None);
    store.put(&entry, &[file]).await.unwrap();
    assert_eq!(store.get_entry("ab12").await.unwrap(), Some(entry.clone()));
    let out = tempfile::tempdir().unwrap();
    let files = store.fetch(&entry, out.path()).await.unwrap();
    assert_eq!(std::fs::read(&files[0]).unwrap(), b"layers");
    // Keys and names that could leave the prefix are refused.
    assert!(store.get_entry("../x").await.is_err());
    let bad = Entry { files: vec!["../../etc".into()], ..entry };
    assert!(store.fetch(&bad, out.path()).await.is_err());
}
