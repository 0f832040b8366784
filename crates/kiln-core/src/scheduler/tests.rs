//! Scheduler tests with in-memory components.

use std::sync::Mutex;

use async_trait::async_trait;
use kiln_config::build;
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;

use super::*;
use crate::component::{
    BasicArtifact, Builder, Communicator, GeneratedData, PostProcessed, PostProcessor, Provisioner,
};
use crate::event::MemoryRenderer;
use crate::prepare::prepare_build;
use crate::registry::Registry;

/// Records what happened, shared by the test components.
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn log(s: String) {
    LOG.lock().unwrap().push(s);
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TestConfig {
    #[serde(default)]
    fail: bool,
    #[serde(default)]
    id: String,
    #[serde(default)]
    keep: bool,
}

#[derive(Default)]
struct TestBuilder(TestConfig);

#[async_trait]
impl Builder for TestBuilder {
    fn prepare(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        self.0 = kiln_config::decode::decode_component(config, "the \"test\" builder")?;
        Ok(vec![])
    }
    async fn run(&self, ctx: &RunContext, _hook: Arc<dyn ProvisionHook>) -> crate::Result<Option<Arc<dyn Artifact>>> {
        ctx.ui.say("building");
        if self.0.fail {
            return Err(crate::Error::new("it broke"));
        }
        Ok(Some(Arc::new(TestArtifact(format!("{}:{}", ctx.info.name, self.0.id)))))
    }
}

#[derive(Debug)]
struct TestArtifact(String);

#[async_trait::async_trait]
impl Artifact for TestArtifact {
    fn builder_id(&self) -> &str {
        "test"
    }
    fn files(&self) -> Vec<String> {
        vec![]
    }
    fn id(&self) -> String {
        self.0.clone()
    }
    fn description(&self) -> String {
        format!("artifact {}", self.0)
    }
    async fn destroy(&self) -> crate::Result<()> {
        log(format!("destroy {}", self.0));
        Ok(())
    }
}

#[derive(Default)]
struct TestPost(TestConfig);

#[async_trait]
impl PostProcessor for TestPost {
    fn configure(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        self.0 = kiln_config::decode::decode(config)?;
        Ok(vec![])
    }
    async fn post_process(&self, _ctx: &RunContext, a: Arc<dyn Artifact>) -> crate::Result<PostProcessed> {
        if self.0.fail {
            return Err("pp broke".into());
        }
        let out =
            BasicArtifact { builder_id: "pp".into(), id: format!("{}+{}", a.id(), self.0.id), ..Default::default() };
        Ok(PostProcessed { artifact: Some(Arc::new(TestArtifact(out.id))), keep: self.0.keep, force_keep: false })
    }
}

struct NopProv;

#[async_trait]
impl Provisioner for NopProv {
    fn prepare(&mut self, _c: &Node, _i: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        Ok(vec![])
    }
    async fn provision(&self, _c: &RunContext, _comm: Arc<dyn Communicator>, _d: &GeneratedData) -> crate::Result<()> {
        Ok(())
    }
}

fn registry() -> Registry {
    Registry::new()
        .builder("test", || Box::<TestBuilder>::default())
        .provisioner("nop", || Box::new(NopProv))
        .post_processor("pp", || Box::<TestPost>::default())
}

fn cfg(json: &str) -> Node {
    kiln_template::testing::json_node("t.json", json).unwrap()
}

fn build(name: &str, config: &str, chains: &[&[&str]]) -> build::Build {
    build::Build {
        name: name.into(),
        builder_type: "test".into(),
        config: cfg(config),
        provisioners: vec![],
        error_cleanup_provisioner: None,
        post_processors: chains
            .iter()
            .map(|c| {
                c.iter()
                    .map(|pp| {
                        let (conf, keep) = match pp.strip_suffix("!keep") {
                            Some(c) => (c, Some(true)),
                            None => (*pp, None),
                        };
                        build::PostProcessor {
                            post_processor_type: "pp".into(),
                            name: None,
                            config: cfg(conf),
                            keep_input_artifact: keep,
                            span: None,
                        }
                    })
                    .collect()
            })
            .collect(),
        span: None,
        hcl2: false,
    }
}

async fn run(builds: &[build::Build], parallel: usize) -> (Summary, Vec<Event>) {
    let reg = registry();
    let opts = RunOptions { parallel_builds: parallel, ..RunOptions::default() };
    let prepared = builds.iter().map(|b| prepare_build(&reg, b, &build_info(b, &opts)).map(|p| p.0).unwrap()).collect();
    let r = MemoryRenderer::default();
    let ui = Ui::new(Box::new(r.clone()));
    let s = run_builds(prepared, &opts, &ui, &Cancel::new()).await;
    (s, r.events())
}

fn plains(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Plain { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn one_failed_build_does_not_stop_the_others() {
    let (s, ev) = run(&[build("a", r#"{"fail":true}"#, &[]), build("b", r#"{"id":"x"}"#, &[])], 0).await;
    assert_eq!(s.exit_code(), 1);
    assert_eq!(s.errors, [("a".to_string(), "it broke".to_string())]);
    assert_eq!(s.artifacts.len(), 1);
    let p = plains(&ev);
    assert!(p[0].starts_with("\n==> Wait completed after "), "{p:?}");
    assert_eq!(p[1..], ["\n==> Builds finished. The artifacts of successful builds are:"]);
    assert!(ev.contains(&Event::ErrorSummary { errors: vec![("a".into(), "it broke".into())] }));
    assert!(ev.iter().any(|e| matches!(e, Event::BuildLine { build, text, error: true } if build == "a" && text.starts_with("Build 'a' errored after ") && text.ends_with(": it broke"))));
}

#[tokio::test]
async fn chains_keep_and_destroy_like_packer() {
    // Chain 1: pp1 (default keep=false) then pp2 (keep) → the builder artifact is destroyed,
    // pp1's artifact is kept because pp2 keeps its input.
    LOG.lock().unwrap().clear();
    let (s, _) = run(&[build("k", r#"{"id":"b"}"#, &[&[r#"{"id":"1"}"#, r#"{"id":"2","keep":true}"#]])], 1).await;
    assert_eq!(s.exit_code(), 0);
    let ids: Vec<String> = s.artifacts[0].1.iter().map(|a| a.id()).collect();
    assert_eq!(ids, ["k:b+1", "k:b+1+2"]);
    assert!(LOG.lock().unwrap().contains(&"destroy k:b".to_string()));
    // keep_input_artifact=true on the first keeps the builder's artifact.
    let (s, _) = run(&[build("k2", r#"{"id":"b"}"#, &[&[r#"{"id":"1"}!keep"#]])], 1).await;
    let ids: Vec<String> = s.artifacts[0].1.iter().map(|a| a.id()).collect();
    assert_eq!(ids, ["k2:b", "k2:b+1"]);
}

#[tokio::test]
async fn failed_post_processor_fails_the_build() {
    let (s, _) = run(&[build("p", r#"{}"#, &[&[r#"{"fail":true}"#]])], 1).await;
    assert_eq!(s.errors, [("p".to_string(), "Post-processor failed: pp broke".to_string())]);
}

#[test]
fn prepare_reports_every_error_with_location() {
    let reg = registry();
    let mut b = build("x", "{\"fial\": true}", &[&["{\"kep\": 1}"]]);
    b.provisioners.push(build::Provisioner {
        provisioner_type: "shel".into(),
        name: None,
        config: cfg("{}"),
        pause_before: None,
        max_retries: 0,
        timeout: None,
        span: None,
        volatile: Vec::new(),
    });
    let Err(d) = prepare_build(&reg, &b, &build_info(&b, &RunOptions::default())) else { panic!("prepared") };
    let summaries: Vec<&str> = d.0.iter().map(|d| d.summary.as_str()).collect();
    assert_eq!(summaries, ["unknown option \"fial\"", "unknown provisioner type \"shel\"", "unknown option \"kep\""]);
    assert_eq!(d.0[0].help.as_deref(), Some("did you mean \"fail\"?"));
    assert!(d.0[0].detail.as_deref().unwrap().starts_with("the options of the \"test\" builder are: fail, id, keep"));
}

#[test]
fn uuids_look_like_uuids() {
    let u = new_uuid();
    assert_eq!(u.len(), 36);
    assert_eq!(&u[14..15], "4");
    assert_ne!(u, new_uuid());
}
