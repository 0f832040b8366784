//! Packer 1.6.6's `null` builder driven as a plugin (`packer plugin packer-builder-null`).

mod common;

use std::sync::Arc;

use common::{packer_values, RecordingHook, RecordingUi};
use kiln_plugin::hcldec::{CtyType, Spec};
use kiln_plugin::{Client, ConfigValue, ErrorKind};
use serde_json::json;

#[tokio::test]
async fn config_spec_prepare_run_and_artifact() {
    if !common::have("packer") {
        return;
    }
    let client = Client::start(common::packer("packer-builder-null")).await.unwrap();
    let builder = client.builder();

    let spec = builder.config_spec().await.unwrap();
    println!("{spec}");
    let Spec::Object(entries) = &spec else { panic!("{spec:?}") };
    assert!(entries
        .iter()
        .any(|(k, s)| k == "ssh_host"
            && *s == Spec::Attr { name: "ssh_host".into(), ty: CtyType::String, required: false }));

    let prepared = builder
        .prepare(&[
            ConfigValue::Json(json!({"communicator": "none"})),
            ConfigValue::Json(packer_values("null", "null")),
        ])
        .await
        .unwrap();
    println!("prepared: {prepared:?}");

    let ui = Arc::new(RecordingUi::default());
    let hook = Arc::new(RecordingHook::default());
    let artifact = builder.run(ui.clone(), hook.clone()).await.unwrap().expect("the null builder makes an artifact");
    println!("ui: {:#?}", ui.lines());
    let calls = hook.0.lock().unwrap().clone();
    println!("hook: {calls:?}");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "packer_provision");

    println!(
        "artifact: builder id {:?}, id {:?}, files {:?}, string {:?}",
        artifact.builder_id().await.unwrap(),
        artifact.id().await.unwrap(),
        artifact.files().await.unwrap(),
        artifact.string().await.unwrap()
    );
    assert_eq!(artifact.builder_id().await.unwrap(), "fnoeding.null");
    assert_eq!(artifact.id().await.unwrap(), "Null");
    assert_eq!(artifact.files().await.unwrap(), Vec::<String>::new());
    assert_eq!(artifact.string().await.unwrap(), "Did not export anything. This is the null builder");
    assert_eq!(artifact.state("anything").await.unwrap(), serde_json::Value::Null);
    artifact.destroy().await.unwrap();
}

#[tokio::test]
async fn a_broken_config_gets_the_plugins_own_error() {
    if !common::have("packer") {
        return;
    }
    let client = Client::start(common::packer("packer-builder-null")).await.unwrap();
    let err = client
        .builder()
        .prepare(&[ConfigValue::Json(json!({"communicator": "ssh", "bogus_option": 1}))])
        .await
        .unwrap_err();
    println!("{err}");
    assert_eq!(err.kind(), ErrorKind::Remote);
    assert!(err.message().contains("bogus_option"), "{err}");
}

#[tokio::test]
async fn hcl2_config_as_a_cty_value() {
    if !common::have("packer") {
        return;
    }
    let client = Client::start(common::packer("packer-builder-null")).await.unwrap();
    let builder = client.builder();
    let good = ConfigValue::Cty {
        value: json!({"communicator": "ssh", "ssh_host": "127.0.0.1", "ssh_port": 2222, "ssh_username": "u", "ssh_password": "p"}),
        ty: json!(["object", {"communicator": "string", "ssh_host": "string", "ssh_port": "number", "ssh_username": "string", "ssh_password": "string"}]),
    };
    builder.prepare(&[ConfigValue::Json(packer_values("null", "null")), good]).await.unwrap();

    let client = Client::start(common::packer("packer-builder-null")).await.unwrap();
    let bad = ConfigValue::Cty {
        value: json!({"communicator": "ssh", "ssh_port": "not a port"}),
        ty: json!(["object", {"communicator": "string", "ssh_port": "string"}]),
    };
    let err = client.builder().prepare(&[ConfigValue::Json(packer_values("null", "null")), bad]).await.unwrap_err();
    println!("{err}");
    assert_eq!(err.kind(), ErrorKind::Remote);
    assert!(err.message().contains("ssh_port"), "{err}");
}
