//! What Packer 1.6.6 cannot show: a packer-plugin-sdk style plugin (`describe`, the four-field
//! handshake, `start builder NAME`), hashicorp/yamux pinging every 50 ms, go-away, a plugin that
//! hangs and one that crashes. The plugin is tests/fake-plugin, built with Go and Debian's
//! golang-github-* packages.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{RecordingHook, RecordingUi};
use kiln_plugin::hcldec::{CtyType, Spec};
use kiln_plugin::{describe, Client, ComponentKind, ConfigValue, ErrorKind, PluginCommand};
use serde_json::json;

async fn start(kind: ComponentKind, name: &str) -> Option<Client> {
    let fake = common::fake_plugin()?;
    Some(Client::start(PluginCommand::sdk(fake, kind, name).call_timeout(Duration::from_secs(20))).await.unwrap())
}

#[tokio::test]
async fn describe_lists_the_components() {
    let Some(fake) = common::fake_plugin() else { return };
    let d = describe(&fake, Duration::from_secs(20)).await.unwrap();
    assert_eq!(d.api_version, "x5.0");
    assert_eq!(d.components(ComponentKind::Builder), ["ok", "hang", "crash", "goaway"]);
    assert_eq!(d.components(ComponentKind::Datasource), ["ok"]);
    assert!(d.components(ComponentKind::Provisioner).is_empty());
}

#[tokio::test]
async fn sdk_handshake_spec_prepare_and_run() {
    let Some(client) = start(ComponentKind::Builder, "ok").await else { return };
    assert_eq!(client.handshake().api_minor, Some(0));
    let builder = client.builder();

    let spec = builder.config_spec().await.unwrap();
    println!("{spec}");
    let Spec::Object(entries) = &spec else { panic!("{spec:?}") };
    let get = |n: &str| entries.iter().find(|(k, _)| k == n).map(|(_, s)| s.clone()).unwrap();
    assert_eq!(get("greeting"), Spec::Attr { name: "greeting".into(), ty: CtyType::String, required: true });
    assert_eq!(
        get("tags"),
        Spec::Attr { name: "tags".into(), ty: CtyType::Map(Box::new(CtyType::String)), required: false }
    );
    assert_eq!(
        get("ports"),
        Spec::Attr { name: "ports".into(), ty: CtyType::List(Box::new(CtyType::Number)), required: false }
    );
    let owner = CtyType::Object(vec![("name".into(), CtyType::String), ("uid".into(), CtyType::Number)]);
    assert_eq!(get("owner"), Spec::Attr { name: "owner".into(), ty: owner.clone(), required: false });
    let Spec::Block { type_name, nested, .. } = get("disk") else { panic!() };
    assert_eq!(type_name, "disk");
    assert_eq!(
        *nested,
        Spec::Object(vec![("size".into(), Spec::Attr { name: "size".into(), ty: CtyType::Number, required: true })])
    );
    assert!(matches!(get("mount"), Spec::BlockList { min_items: 0, max_items: 3, .. }));

    // A legacy map and an HCL2 value with its cty type, as the plugin sees them.
    let hcl2 = ConfigValue::Cty {
        value: json!({"greeting": "hi", "count": 2, "owner": {"name": "root", "uid": 0}}),
        ty: json!(["object", {"greeting": "string", "count": "number", "owner": owner.to_json()}]),
    };
    let prepared = builder.prepare(&[ConfigValue::Json(json!({"greeting": "hello", "n": 1})), hcl2]).await.unwrap();
    println!("{prepared:?}");
    assert_eq!(prepared.warnings[0], r#"json {"greeting":"hello","n":1}"#);
    assert_eq!(prepared.warnings[1], r#"cty object {"count":2,"greeting":"hi","owner":{"name":"root","uid":0}}"#);
    // The plugin pinged us over yamux and got its answer.
    assert_eq!(prepared.generated_vars, ["PingAnswered"]);

    // hashicorp/yamux here pings every 50 ms and drops the session if an answer takes 2 s.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let ui = Arc::new(RecordingUi::default());
    let artifact = builder.run(ui.clone(), Arc::new(RecordingHook::default())).await.unwrap().unwrap();
    let lines = ui.lines();
    assert_eq!(lines[0], "say: hello from the fake builder");
    assert_eq!(lines[1], r#"machine: artifact ["0", "id", "fake-id"]"#);
    let mut concurrent: Vec<_> = lines[2..].to_vec();
    concurrent.sort();
    let mut expected: Vec<_> = (0..20).map(|i| format!("message: concurrent {i}")).collect();
    expected.sort();
    assert_eq!(concurrent, expected);
    assert_eq!(artifact.id().await.unwrap(), "fake-id");
    assert_eq!(artifact.builder_id().await.unwrap(), "kiln.fake");
    assert_eq!(artifact.files().await.unwrap(), ["/a", "/b"]);
    assert_eq!(artifact.state("x").await.unwrap(), json!({"asked": "x", "n": 3}));
    artifact.destroy().await.unwrap();
    drop(artifact);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(client.open_streams(), 1, "only stream 0 stays open");
}

#[tokio::test]
async fn a_plugin_error_in_prepare() {
    let Some(client) = start(ComponentKind::Builder, "ok").await else { return };
    let err = client.builder().prepare(&[ConfigValue::Json(json!({"bogus": true}))]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Remote);
    assert_eq!(err.message(), r#"unknown configuration key: "bogus""#);
}

#[tokio::test]
async fn a_hanging_plugin_times_out() {
    let Some(fake) = common::fake_plugin() else { return };
    let cmd = PluginCommand::sdk(fake, ComponentKind::Builder, "hang").call_timeout(Duration::from_millis(700));
    let client = Client::start(cmd).await.unwrap();
    let err = client.builder().config_spec().await.unwrap_err();
    println!("{err}");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let text = err.to_string();
    assert!(text.contains("start builder hang: Builder.ConfigSpec got no answer within 700ms"), "{text}");
    assert!(text.contains("ConfigSpec: hanging on purpose"), "{text}");
}

#[tokio::test]
async fn a_crashing_plugin() {
    let Some(client) = start(ComponentKind::Builder, "crash").await else { return };
    let err = client.builder().prepare(&[]).await.unwrap_err();
    println!("{err}");
    assert_eq!(err.kind(), ErrorKind::Exited);
    let text = err.to_string();
    assert!(text.contains("Builder.Prepare: the plugin closed its connection (exit status 2)"), "{text}");
    assert!(text.contains("panic: the fake plugin crashes on purpose"), "{text}");
}

#[tokio::test]
async fn go_away_refuses_new_streams_but_keeps_old_ones() {
    let Some(client) = start(ComponentKind::Builder, "goaway").await else { return };
    let builder = client.builder();
    // The plugin says go-away while answering; stream 0 keeps working.
    builder.prepare(&[]).await.unwrap();
    builder.config_spec().await.unwrap();
    // Run's callbacks reach us (the plugin may still open streams), but the artifact it offers
    // needs a stream from us, which go-away forbids.
    let err = builder.run(Arc::new(RecordingUi::default()), Arc::new(RecordingHook::default())).await.err().unwrap();
    println!("{err}");
    assert!(err.to_string().contains("the plugin is shutting its session down"), "{err}");
}

#[tokio::test]
async fn datasource() {
    let Some(client) = start(ComponentKind::Datasource, "ok").await else { return };
    let ds = client.datasource();
    assert!(matches!(ds.config_spec().await.unwrap(), Spec::Object(e) if e.len() == 8));
    ds.configure(&[ConfigValue::Json(json!({"greeting": "hi"}))]).await.unwrap();
    let out = ds.output_spec().await.unwrap();
    assert_eq!(
        out,
        Spec::Object(vec![("id".into(), Spec::Attr { name: "id".into(), ty: CtyType::String, required: false })])
    );
    assert_eq!(ds.execute_raw().await.unwrap(), b"opaque value bytes");
    // Without --protobuf the value is a gob-encoded cty.Value, which kiln does not read.
    assert_eq!(ds.execute().await.unwrap_err().kind(), ErrorKind::Protocol);
}

#[tokio::test]
async fn protobuf_specs_and_msgpack_values() {
    let Some(fake) = common::fake_plugin() else { return };
    let d = describe(&fake, Duration::from_secs(20)).await.unwrap();
    assert!(d.supports_protobuf());
    let client = Client::start(PluginCommand::sdk(&fake, ComponentKind::Builder, "ok").protobuf()).await.unwrap();
    let spec = client.builder().config_spec().await.unwrap();
    println!("{spec}");
    let Spec::Object(entries) = &spec else { panic!("{spec:?}") };
    let get = |n: &str| entries.iter().find(|(k, _)| k == n).map(|(_, s)| s.clone()).unwrap();
    assert_eq!(entries.len(), 7);
    assert_eq!(get("greeting"), Spec::Attr { name: "greeting".into(), ty: CtyType::String, required: true });
    assert_eq!(
        get("tags"),
        Spec::Attr { name: "tags".into(), ty: CtyType::Map(Box::new(CtyType::String)), required: false }
    );
    assert_eq!(
        get("ports"),
        Spec::Attr { name: "ports".into(), ty: CtyType::List(Box::new(CtyType::Number)), required: false }
    );
    let Spec::Block { nested, .. } = get("disk") else { panic!() };
    assert_eq!(
        *nested,
        Spec::Object(vec![("size".into(), Spec::Attr { name: "size".into(), ty: CtyType::Number, required: true })])
    );
    assert!(matches!(get("mount"), Spec::BlockList { type_name, .. } if type_name == "mount"));

    let client = Client::start(PluginCommand::sdk(&fake, ComponentKind::Datasource, "ok").protobuf()).await.unwrap();
    let ds = client.datasource();
    ds.configure(&[]).await.unwrap();
    assert!(matches!(ds.output_spec().await.unwrap(), Spec::Object(e) if e.len() == 1));
    let (value, ty) = ds.execute().await.unwrap();
    assert_eq!(value, json!({"id": "ds-42", "count": 3, "tags": ["a", "b"]}));
    assert_eq!(ty, json!(["object", {"id": "string", "count": "number", "tags": ["list", "string"]}]));
}
