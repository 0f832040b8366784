//! Cancelling what a plugin does: Builder.Cancel reaches the host's hook as a cancel signal,
//! dropping a running `run` cancels the build, and a host communicator that cannot run a
//! command gives the provisioner an error it can show.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::{packer_values, RecordingUi};
use kiln_plugin::communicator::PluginCommunicator;
use kiln_plugin::{BoxRead, BoxWrite, CancelSignal, Client, ConfigValue, ErrorKind, HostCommunicator, HostHook};
use serde_json::json;

/// A hook that waits in `packer_provision` until it is cancelled.
#[derive(Default)]
struct WaitingHook {
    events: Mutex<Vec<String>>,
    entered: tokio::sync::Notify,
}

#[async_trait]
impl HostHook for WaitingHook {
    async fn run(
        &self,
        name: &str,
        _: PluginCommunicator,
        _: serde_json::Value,
        mut cancel: CancelSignal,
    ) -> Result<(), String> {
        self.events.lock().unwrap().push(format!("start {name}"));
        if name != "packer_provision" {
            return Ok(());
        }
        self.entered.notify_one();
        tokio::select! {
            _ = cancel.cancelled() => {
                self.events.lock().unwrap().push("cancelled".into());
                Err("provisioning was cancelled".into())
            }
            _ = tokio::time::sleep(Duration::from_secs(30)) => Err("never cancelled".into()),
        }
    }
}

async fn ssh_builder(sshd: &common::Sshd) -> (Client, kiln_plugin::BuilderClient) {
    let client = Client::start(common::packer("packer-builder-null")).await.unwrap();
    let builder = client.builder();
    let config = json!({
        "communicator": "ssh", "ssh_host": "127.0.0.1", "ssh_port": sshd.port,
        "ssh_username": "root", "ssh_private_key_file": sshd.client_key,
    });
    builder.prepare(&[ConfigValue::Json(config), ConfigValue::Json(packer_values("null", "null"))]).await.unwrap();
    (client, builder)
}

#[tokio::test]
async fn builder_cancel_reaches_the_hook() {
    if !common::have("packer") {
        return;
    }
    let Some(sshd) = common::Sshd::start() else { return };
    let (client, builder) = ssh_builder(&sshd).await;
    let hook = Arc::new(WaitingHook::default());
    let run = tokio::spawn({
        let (builder, hook) = (builder.clone(), hook.clone());
        async move { builder.run(Arc::new(RecordingUi::default()), hook).await }
    });
    tokio::time::timeout(Duration::from_secs(20), hook.entered.notified()).await.expect("the hook never ran");
    builder.cancel().await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(20), run).await.expect("run ignored the cancel").unwrap();
    // The plugin sends Hook.Cancel, or hangs up first (Packer does not wait for the hook):
    // either way the hook is cancelled.
    for _ in 0..100 {
        if hook.events.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = hook.events.lock().unwrap().clone();
    println!("events {events:?}, result ok: {}", result.is_ok());
    assert_eq!(events[..2], ["start packer_provision", "cancelled"]);
    if let Err(e) = &result {
        println!("{e}");
    }
    // Finished calls let go of their streams: stream 0 and the artifact's, if any.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(client.open_streams() <= 2, "{} streams still open", client.open_streams());
}

#[tokio::test]
async fn dropping_run_cancels_the_build() {
    if !common::have("packer") {
        return;
    }
    let Some(sshd) = common::Sshd::start() else { return };
    let (_client, builder) = ssh_builder(&sshd).await;
    let hook = Arc::new(WaitingHook::default());
    let run = builder.run(Arc::new(RecordingUi::default()), hook.clone());
    let waited = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::select! {
            _ = run => panic!("run ended by itself"),
            _ = hook.entered.notified() => {}
        }
    })
    .await;
    assert!(waited.is_ok(), "the hook never ran");
    // `run` is dropped now: the plugin is told to cancel, and cancels the hook.
    for _ in 0..100 {
        if hook.events.lock().unwrap().iter().any(|e| e == "cancelled") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the hook was never cancelled: {:?}", hook.events.lock().unwrap());
}

struct GoneComm;

#[async_trait]
impl HostCommunicator for GoneComm {
    async fn exec(&self, _: &str, _: Option<BoxRead>, _: Option<BoxWrite>, _: Option<BoxWrite>) -> Result<i64, String> {
        Err("the machine is gone".into())
    }
    async fn upload(&self, _: &str, mut src: BoxRead, _: Option<u32>) -> Result<(), String> {
        tokio::io::copy(&mut src, &mut tokio::io::sink()).await.map_err(|e| e.to_string())?;
        Ok(())
    }
    async fn upload_dir(&self, _: &str, _: &std::path::Path, _: &[String]) -> Result<(), String> {
        Err("the machine is gone".into())
    }
    async fn download(&self, _: &str, _: BoxWrite) -> Result<(), String> {
        Err("the machine is gone".into())
    }
    async fn download_dir(&self, _: &str, _: &std::path::Path, _: &[String]) -> Result<(), String> {
        Err("the machine is gone".into())
    }
}

#[tokio::test]
async fn a_command_that_cannot_run() {
    if !common::have("packer") {
        return;
    }
    let client = Client::start(common::packer("packer-provisioner-shell")).await.unwrap();
    let prov = client.provisioner();
    prov.prepare(&[ConfigValue::Json(json!({"inline": ["true"]})), ConfigValue::Json(packer_values("b", "null"))])
        .await
        .unwrap();
    let ui = Arc::new(RecordingUi::default());
    let err = prov.provision(ui.clone(), Arc::new(GoneComm), &json!({})).await.unwrap_err();
    println!("ui {:?}\n{err}", ui.lines());
    assert_eq!(err.kind(), ErrorKind::Remote);
    assert!(ui.lines().iter().any(|l| l == "error: kiln: the machine is gone"), "{:?}", ui.lines());
}

#[tokio::test]
async fn a_cancelled_provisioner_stops_the_hosts_command() {
    if !common::have("packer") {
        return;
    }
    let dir = common::TempDir::new("cancel-prov");
    let marker = dir.path().join("marker");
    let client = Client::start(common::packer("packer-provisioner-shell")).await.unwrap();
    let prov = client.provisioner();
    let command = format!("sleep 3; touch '{}'", marker.display());
    prov.prepare(&[
        ConfigValue::Json(json!({"inline": [command], "remote_folder": dir.path()})),
        ConfigValue::Json(packer_values("b", "null")),
    ])
    .await
    .unwrap();
    let run = tokio::spawn({
        let prov = prov.clone();
        async move { prov.provision(Arc::new(RecordingUi::default()), Arc::new(common::LocalComm), &json!({})).await }
    });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    prov.cancel().await.unwrap();
    let t = std::time::Instant::now();
    let result =
        tokio::time::timeout(Duration::from_secs(10), run).await.expect("provision ignored the cancel").unwrap();
    println!("after {:?}: {result:?}", t.elapsed());
    assert!(result.is_err());
    // The command was stopped with the provisioner, not left to finish.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(!marker.exists(), "the host's command kept running after the provisioner was cancelled");
}
