//! Packer 1.6.6's `null` builder with its ssh communicator connected to a local sshd: the host's
//! provisioning hook runs commands and moves files through the communicator inside the plugin.

mod common;

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use common::{packer_values, pattern, RecordingUi, SharedBuf};
use kiln_plugin::communicator::{FileMeta, PluginCommunicator};
use kiln_plugin::{CancelSignal, Client, ConfigValue, HostHook};
use serde_json::json;

struct ProvisioningHook {
    dir: PathBuf,
    report: Mutex<Vec<String>>,
}

impl ProvisioningHook {
    async fn provision(&self, comm: &PluginCommunicator) -> Result<(), String> {
        let log = |s: String| self.report.lock().unwrap().push(s);
        // A command with output on both streams and an exit status.
        let (out, err) = (SharedBuf::default(), SharedBuf::default());
        let status = comm
            .exec("echo out; echo err >&2; exit 3", None, Some(Box::new(out.clone())), Some(Box::new(err.clone())))
            .await
            .map_err(|e| e.to_string())?;
        log(format!("exit {status}, stdout {:?}, stderr {:?}", out.bytes(), err.bytes()));
        if (status, out.bytes(), err.bytes()) != (3, b"out\n".to_vec(), b"err\n".to_vec()) {
            return Err(format!("unexpected result of the first command: {:?}", self.report.lock().unwrap()));
        }
        // stdin in, stdout out: more than a yamux window each way.
        let data = pattern(700 * 1024);
        let echoed = SharedBuf::default();
        let t = Instant::now();
        let status = comm
            .exec("cat", Some(Box::new(Cursor::new(data.clone()))), Some(Box::new(echoed.clone())), None)
            .await
            .map_err(|e| e.to_string())?;
        log(format!("cat of {} bytes: exit {status} in {:?}", data.len(), t.elapsed()));
        if status != 0 || echoed.bytes() != data {
            return Err(format!("cat returned {} bytes, exit {status}", echoed.bytes().len()));
        }
        // Upload, then download what arrived.
        let up = self.dir.join("uploaded.bin");
        let big = pattern(3 * 1024 * 1024 + 17);
        let t = Instant::now();
        comm.upload(up.to_str().unwrap(), Box::new(Cursor::new(big.clone())), None).await.map_err(|e| e.to_string())?;
        log(format!("upload of {} bytes in {:?}", big.len(), t.elapsed()));
        if std::fs::read(&up).map_err(|e| e.to_string())? != big {
            return Err("the uploaded file differs".into());
        }
        // With size and mode.
        let exe = self.dir.join("tool.sh");
        let script = b"#!/bin/sh\necho tool\n".to_vec();
        let meta = FileMeta { size: script.len() as u64, mode: 0o750 };
        comm.upload(exe.to_str().unwrap(), Box::new(Cursor::new(script.clone())), Some(meta))
            .await
            .map_err(|e| e.to_string())?;
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&exe).unwrap().permissions());
        if std::fs::read(&exe).unwrap() != script || mode & 0o7777 != 0o750 {
            return Err(format!("upload with mode: mode {mode:o}"));
        }
        log("upload with mode ok".into());
        let down = SharedBuf::default();
        let t = Instant::now();
        comm.download(up.to_str().unwrap(), Box::new(down.clone())).await.map_err(|e| e.to_string())?;
        log(format!("download of {} bytes in {:?}", down.bytes().len(), t.elapsed()));
        if down.bytes() != big {
            return Err(format!("downloaded {} bytes, not the file", down.bytes().len()));
        }
        // A directory, both ways.
        let src = self.dir.join("tree");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/a.txt"), "a").unwrap();
        let dst = self.dir.join("tree-up");
        // scp wants the target directory to exist, as with Packer's file provisioner.
        std::fs::create_dir_all(&dst).unwrap();
        comm.upload_dir(dst.to_str().unwrap(), &format!("{}/", src.display()), &[]).await.map_err(|e| e.to_string())?;
        if std::fs::read_to_string(dst.join("sub/a.txt")).map_err(|e| format!("upload_dir: {e}"))? != "a" {
            return Err("upload_dir copied the wrong thing".into());
        }
        log("upload_dir ok".into());
        // An error from the communicator comes back as the plugin's text.
        let e = comm.download("/nonexistent/file", Box::new(SharedBuf::default())).await.unwrap_err();
        log(format!("download of a missing file: {e}"));
        Ok(())
    }
}

#[async_trait]
impl HostHook for ProvisioningHook {
    async fn run(
        &self,
        name: &str,
        comm: PluginCommunicator,
        _data: serde_json::Value,
        _: CancelSignal,
    ) -> Result<(), String> {
        self.report.lock().unwrap().push(format!("hook {name}"));
        if name != "packer_provision" {
            return Ok(());
        }
        self.provision(&comm).await
    }
}

#[tokio::test]
async fn the_hook_drives_the_plugins_ssh_communicator() {
    if !common::have("packer") {
        return;
    }
    let Some(sshd) = common::Sshd::start() else { return };
    let dir = common::TempDir::new("ssh");
    let client = Client::start(common::packer("packer-builder-null")).await.unwrap();
    let builder = client.builder();
    let config = json!({
        "communicator": "ssh",
        "ssh_host": "127.0.0.1",
        "ssh_port": sshd.port,
        "ssh_username": "root",
        "ssh_private_key_file": sshd.client_key,
        "ssh_timeout": "30s",
    });
    builder.prepare(&[ConfigValue::Json(config), ConfigValue::Json(packer_values("null", "null"))]).await.unwrap();
    let ui = Arc::new(RecordingUi::default());
    let hook = Arc::new(ProvisioningHook { dir: dir.path().to_path_buf(), report: Mutex::new(Vec::new()) });
    let result = builder.run(ui.clone(), hook.clone()).await;
    println!("ui: {:#?}", ui.lines());
    println!("hook: {:#?}", hook.report.lock().unwrap());
    let artifact = result.unwrap().unwrap();
    assert_eq!(artifact.id().await.unwrap(), "Null");
    assert!(ui.lines().iter().any(|l| l == "say: Using ssh communicator to connect: 127.0.0.1"), "{:?}", ui.lines());
    assert!(ui.lines().iter().any(|l| l == "say: Connected to SSH!"), "{:?}", ui.lines());
    let report = hook.report.lock().unwrap().clone();
    assert_eq!(report.len(), 8, "{report:?}");
    assert_eq!(report[0], "hook packer_provision");
    assert!(report[7].contains("/nonexistent/file"), "{report:?}");
    // Every stream of the hook's transfers is closed again: stream 0 and the artifact's remain.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(client.open_streams(), 2);
    drop(sshd);
}
