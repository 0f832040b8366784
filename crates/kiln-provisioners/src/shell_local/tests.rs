use std::sync::Arc;

use kiln_core::event::{Event, MemoryRenderer};

use super::*;

fn ctx() -> (RunContext, MemoryRenderer) {
    crate::test_context(BuildInfo { name: "b".into(), builder_type: "null".into(), ..BuildInfo::default() })
}

fn node(s: &str) -> Node {
    kiln_template::testing::json_node("t.json", s).unwrap()
}

fn prepared(s: &str) -> ShellLocal {
    let mut p = ShellLocal::default();
    p.prepare(&node(s), &BuildInfo::default()).unwrap();
    p
}

#[tokio::test]
async fn inline_runs_with_packer_env_and_streams_output() {
    let p = prepared(
        r#"{"inline":["echo $PACKER_BUILD_NAME $PACKER_BUILDER_TYPE $FOO", "echo oops >&2"],
        "environment_vars":["FOO=it's"]}"#,
    );
    let (c, r) = ctx();
    p.provision(&c, Arc::new(kiln_comm::NoneComm), &GeneratedData::new()).await.unwrap();
    let ev = r.events();
    assert!(matches!(&ev[0], Event::Say { text, .. } if text.starts_with("Running local shell script: ")));
    assert!(ev.contains(&Event::Message { build: Some("b".into()), text: "b null it's".into() }), "{ev:?}");
    assert!(ev.contains(&Event::Error { build: Some("b".into()), text: "oops".into() }));
    // The temporary script is gone.
    let Event::Say { text, .. } = &ev[0] else { unreachable!() };
    assert!(!std::path::Path::new(text.trim_start_matches("Running local shell script: ")).exists());
}

#[tokio::test]
async fn exit_codes() {
    let (c, _) = ctx();
    let none: Arc<dyn Communicator> = Arc::new(kiln_comm::NoneComm);
    let e = prepared(r#"{"command":"exit 3"}"#).provision(&c, none.clone(), &GeneratedData::new()).await.unwrap_err();
    assert_eq!(e.message, "Script exited with non-zero exit status: 3. Allowed exit codes are: [0]");
    prepared(r#"{"command":"exit 3","valid_exit_codes":[0,3]}"#)
        .provision(&c, none, &GeneratedData::new())
        .await
        .unwrap();
}

#[test]
fn config_errors() {
    let mut p = ShellLocal::default();
    let e = p.prepare(&node(r#"{"inline":["a"],"command":"b"}"#), &BuildInfo::default()).unwrap_err();
    assert!(e.0[0].summary.starts_with("only one of command, inline, script or scripts"), "{e}");
    let e = p.prepare(&node(r#"{}"#), &BuildInfo::default()).unwrap_err();
    assert_eq!(e.0[0].summary, "shell-local has nothing to run");
    let e = p
        .prepare(&node(r#"{"script":"/nonexistent/x.sh","environment_vars":["NOEQ"]}"#), &BuildInfo::default())
        .unwrap_err();
    assert_eq!(e.0.len(), 2, "{e}");
    let e = p.prepare(&node(r#"{"inlin":["a"]}"#), &BuildInfo::default()).unwrap_err();
    assert_eq!(e.0[0].help.as_deref(), Some("did you mean \"inline\"?"));
}

#[tokio::test]
async fn execute_command_is_rendered() {
    let p = prepared(
        r#"{"command":"echo hi","execute_command":["/bin/bash","-c","echo via-bash; {{.Vars}} {{.Script}}"]}"#,
    );
    let (c, r) = ctx();
    p.provision(&c, Arc::new(kiln_comm::NoneComm), &GeneratedData::new()).await.unwrap();
    let msgs: Vec<_> = r
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Message { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(msgs, ["via-bash", "hi"]);
}
