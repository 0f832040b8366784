//! A plugin that dies or is cancelled in the middle of a call: the caller gets an error naming
//! the binary and its last log lines, never a stuck future.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{packer_values, RecordingHook, RecordingUi};
use kiln_plugin::{Client, ConfigValue, ErrorKind};
use serde_json::json;

/// A null builder that waits for an SSH server that never answers.
async fn waiting_builder() -> (Client, kiln_plugin::BuilderClient) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = Client::start(common::packer("packer-builder-null")).await.unwrap();
    let builder = client.builder();
    let config = json!({
        "communicator": "ssh", "ssh_host": "127.0.0.1", "ssh_port": port,
        "ssh_username": "root", "ssh_password": "x", "ssh_timeout": "10m",
    });
    builder.prepare(&[ConfigValue::Json(config), ConfigValue::Json(packer_values("null", "null"))]).await.unwrap();
    (client, builder)
}

#[tokio::test]
async fn a_plugin_killed_during_run() {
    if !common::have("packer") {
        return;
    }
    let (client, builder) = waiting_builder().await;
    let ui = Arc::new(RecordingUi::default());
    let run = tokio::spawn({
        let ui = ui.clone();
        async move { builder.run(ui, Arc::new(RecordingHook::default())).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!run.is_finished());
    let pid = client.pid() as i32;
    // SAFETY: sends a signal to the plugin this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let t = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(10), run).await.expect("run hung").unwrap().err().unwrap();
    println!("after {:?}: {err}", t.elapsed());
    assert_eq!(err.kind(), ErrorKind::Exited);
    let text = err.to_string();
    assert!(text.contains("packer plugin packer-builder-null"), "{text}");
    assert!(text.contains("Builder.Run: the plugin closed its connection (killed by signal 9)"), "{text}");
    assert!(text.contains("last lines of its log:"), "{text}");
    // Calls after its death fail at once, too.
    let err = client.builder().config_spec().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Exited, "{err}");
}

#[tokio::test]
async fn cancel_stops_a_running_build() {
    if !common::have("packer") {
        return;
    }
    let (_client, builder) = waiting_builder().await;
    let ui = Arc::new(RecordingUi::default());
    let run = tokio::spawn({
        let (ui, builder) = (ui.clone(), builder.clone());
        async move { builder.run(ui, Arc::new(RecordingHook::default())).await }
    });
    // Cancel once it waits for SSH.
    for _ in 0..400 {
        if ui.lines().iter().any(|l| l.contains("Waiting for SSH")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    builder.cancel().await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(20), run).await.expect("run ignored the cancel").unwrap();
    println!("ui: {:#?}", ui.lines());
    // Packer 1.6.6's null builder stops waiting and still hands out its artifact.
    match result {
        Err(e) => println!("run: {e}"),
        Ok(a) => println!("run: artifact {}", a.is_some()),
    }
    assert!(ui.lines().iter().any(|l| l.contains("Waiting for SSH")), "{:?}", ui.lines());
}
