//! Packer 1.6.6's `shell` provisioner and `checksum` post-processor driven as plugins, with the
//! host serving the Communicator and the Artifact.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::{packer_values, LocalComm, RecordingUi};
use kiln_plugin::{Client, ConfigValue, ErrorKind, HostArtifact};
use serde_json::json;

#[tokio::test]
async fn shell_provisioner_runs_through_the_hosts_communicator() {
    if !common::have("packer") {
        return;
    }
    let dir = common::TempDir::new("shell");
    let marker = dir.path().join("marker");
    let client = Client::start(common::packer("packer-provisioner-shell")).await.unwrap();
    let prov = client.provisioner();
    let spec = prov.config_spec().await.unwrap();
    assert!(spec.to_string().contains("inline: attribute \"inline\" list(string)"), "{spec}");
    let config = json!({
        "inline": [
            "echo hello from the shell provisioner",
            "echo \"build $PACKER_BUILD_NAME\" > '{marker}'",
            "echo to stderr >&2",
        ],
        "remote_folder": dir.path(),
    });
    let config = serde_json::from_str(&config.to_string().replace("{marker}", marker.to_str().unwrap())).unwrap();
    prov.prepare(&[ConfigValue::Json(config), ConfigValue::Json(packer_values("example", "null"))]).await.unwrap();

    let ui = Arc::new(RecordingUi::default());
    let data = json!({"ID": "Null", "PackerRunUUID": "0000", "ConnType": "local"});
    prov.provision(ui.clone(), Arc::new(LocalComm), &data).await.unwrap();
    println!("ui: {:#?}", ui.lines());
    let lines = ui.lines();
    assert!(lines.iter().any(|l| l.starts_with("say: Provisioning with shell script: ")), "{lines:?}");
    assert!(lines.iter().any(|l| l == "message: hello from the shell provisioner"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "error: to stderr"), "{lines:?}");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "build example\n");
    // The script it uploaded is cleaned up again.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("marker")], "{left:?}");

    // A failing command is the provisioner's error, in its words.
    let client = Client::start(common::packer("packer-provisioner-shell")).await.unwrap();
    let prov = client.provisioner();
    let config = json!({"inline": ["exit 7"], "remote_folder": dir.path()});
    prov.prepare(&[ConfigValue::Json(config), ConfigValue::Json(packer_values("example", "null"))]).await.unwrap();
    let err = prov.provision(ui.clone(), Arc::new(LocalComm), &data).await.unwrap_err();
    println!("{err}");
    assert_eq!(err.kind(), ErrorKind::Remote);
    assert!(err.message().contains("non-zero exit status: 7"), "{err}");
}

struct FileArtifact(Vec<String>);

#[async_trait]
impl HostArtifact for FileArtifact {
    fn builder_id(&self) -> String {
        "packer.file".into()
    }
    fn files(&self) -> Vec<String> {
        self.0.clone()
    }
    fn id(&self) -> String {
        "File".into()
    }
    fn string(&self) -> String {
        format!("Stored file: {}", self.0[0])
    }
    fn state(&self, _: &str) -> serde_json::Value {
        serde_json::Value::Null
    }
    async fn destroy(&self) -> Result<(), String> {
        Ok(())
    }
}

#[tokio::test]
async fn checksum_post_processor_reads_the_hosts_artifact() {
    if !common::have("packer") || !common::have("sha256sum") {
        return;
    }
    let dir = common::TempDir::new("checksum");
    let file = dir.path().join("image.raw");
    std::fs::write(&file, common::pattern(100_000)).unwrap();
    let client = Client::start(common::packer("packer-post-processor-checksum")).await.unwrap();
    let pp = client.post_processor();
    let output = format!("{}/{{{{.BuildName}}}}_{{{{.ChecksumType}}}}.checksum", dir.path().display());
    pp.configure(&[
        ConfigValue::Json(json!({"checksum_types": ["sha256", "md5"], "output": output})),
        ConfigValue::Json(packer_values("example", "file")),
    ])
    .await
    .unwrap();
    let ui = Arc::new(RecordingUi::default());
    let done = pp.post_process(ui.clone(), Arc::new(FileArtifact(vec![file.display().to_string()]))).await.unwrap();
    println!("ui: {:#?}", ui.lines());
    let artifact = done.artifact.expect("checksum makes an artifact");
    let files = artifact.files().await.unwrap();
    println!(
        "keep {}, force {}, id {:?}, builder {:?}, files {files:?}, string {:?}",
        done.keep,
        done.force_override,
        artifact.id().await.unwrap(),
        artifact.builder_id().await.unwrap(),
        artifact.string().await.unwrap()
    );
    assert!(done.keep);
    assert_eq!(artifact.builder_id().await.unwrap(), "packer.post-processor.checksum");
    let sha_file = dir.path().join("example_sha256.checksum");
    assert!(files.contains(&sha_file.display().to_string()), "{files:?}");
    let sum = std::process::Command::new("sha256sum").arg(&file).output().unwrap();
    let expected = String::from_utf8(sum.stdout).unwrap();
    let expected = expected.split_whitespace().next().unwrap();
    let written = std::fs::read_to_string(&sha_file).unwrap();
    assert!(written.starts_with(expected), "{written} vs {expected}");
}

#[tokio::test]
async fn file_provisioner_uploads_with_the_files_mode() {
    if !common::have("packer") {
        return;
    }
    let dir = common::TempDir::new("file");
    let src = dir.path().join("tool.sh");
    std::fs::write(&src, "#!/bin/sh\necho tool\n").unwrap();
    std::fs::set_permissions(&src, std::os::unix::fs::PermissionsExt::from_mode(0o750)).unwrap();
    let dst = dir.path().join("installed.sh");
    let client = Client::start(common::packer("packer-provisioner-file")).await.unwrap();
    let prov = client.provisioner();
    prov.prepare(&[
        ConfigValue::Json(json!({"source": src, "destination": dst})),
        ConfigValue::Json(packer_values("example", "null")),
    ])
    .await
    .unwrap();
    let ui = Arc::new(RecordingUi::default());
    prov.provision(ui.clone(), Arc::new(LocalComm), &json!({})).await.unwrap();
    println!("ui: {:#?}", ui.lines());
    assert_eq!(std::fs::read_to_string(&dst).unwrap(), "#!/bin/sh\necho tool\n");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&dst).unwrap().permissions());
    assert_eq!(mode & 0o7777, 0o750);
}
