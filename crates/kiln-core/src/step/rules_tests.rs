//! One test per rule for steps that own outside resources (see the module's doc).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::cancel::Cancel;
use crate::component::BuildInfo;
use crate::event::{Event, MemoryRenderer, Ui};
use crate::process;

#[derive(Default)]
struct State {
    dir: PathBuf,
    file: Option<PathBuf>,
    child: Option<process::Child>,
    /// Every process group started, for the probe.
    groups: Vec<i32>,
    log: Vec<String>,
}

fn ctx(build: &str) -> (RunContext, MemoryRenderer) {
    let r = MemoryRenderer::default();
    let ui = Ui::new(Box::new(r.clone())).for_build(build);
    let info = BuildInfo { name: build.into(), ..BuildInfo::default() };
    (RunContext { ui, cancel: Cancel::new(), info: Arc::new(info) }, r)
}

/// Makes a temporary file; `careless` awaits before recording it (the bug the harness finds).
struct TempFile {
    careless: bool,
}

#[async_trait]
impl Step<State> for TempFile {
    fn name(&self) -> &'static str {
        "TempFile"
    }
    async fn run(&self, s: &mut State, ctx: &RunContext) -> Result<()> {
        let path = s.dir.join("made.tmp");
        if !self.careless {
            s.file = Some(path.clone());
        }
        tokio::fs::write(&path, b"x").await?;
        ctx.cancel.run(tokio::task::yield_now()).await?;
        s.file = Some(path);
        Ok(())
    }
    fn cleans(&self, s: &State) -> Option<String> {
        s.file.as_ref().map(|f| format!("removing {}", f.display()))
    }
    async fn cleanup(&self, s: &mut State, _: &RunContext, _: Outcome) {
        if let Some(f) = s.file.take() {
            let _ = tokio::fs::remove_file(f).await;
        }
    }
}

/// Starts `sh -c 'sleep 100 & sleep 100'`, keeps its handle in the state, lets it run a bit.
struct Spawn;

#[async_trait]
impl Step<State> for Spawn {
    fn name(&self) -> &'static str {
        "Spawn"
    }
    async fn run(&self, s: &mut State, ctx: &RunContext) -> Result<()> {
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.args(["-c", "sleep 100 & sleep 100"]);
        let child = process::spawn(&mut cmd)?;
        s.groups.extend(child.id().map(|p| p as i32));
        s.child = Some(child);
        ctx.cancel.run(tokio::time::sleep(Duration::from_millis(30))).await?;
        Ok(())
    }
    fn cleans(&self, s: &State) -> Option<String> {
        s.child.as_ref().map(|c| format!("stopping process group {:?}", c.id()))
    }
    async fn cleanup(&self, s: &mut State, _: &RunContext, _: Outcome) {
        s.child = None;
    }
}

/// Waits a little, a few times, holding nothing.
struct Wait;

#[async_trait]
impl Step<State> for Wait {
    fn name(&self) -> &'static str {
        "Wait"
    }
    fn role(&self) -> StepRole {
        StepRole::Wait
    }
    async fn run(&self, _: &mut State, _: &RunContext) -> Result<()> {
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }
}

/// What is left of a run: the file, running processes of the groups started.
fn left(s: &State) -> Vec<String> {
    let mut what = Vec::new();
    if s.dir.join("made.tmp").exists() {
        what.push("made.tmp still exists".to_string());
    }
    process::settle();
    for g in &s.groups {
        if process::group_alive(*g) {
            what.push(format!("process group {g} still runs"));
        }
    }
    what
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kiln-rules-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_are_stored_before_the_next_await() {
    let dir = temp_dir("await");
    let (c, _) = ctx("await");
    let good: Vec<Box<dyn Step<State>>> = vec![Box::new(TempFile { careless: false }), Box::new(Spawn), Box::new(Wait)];
    let new_state = || State { dir: dir.clone(), ..State::default() };
    let runs = crate::testing::cancel_at_each_await(&good, new_state, &c, left).await.unwrap();
    assert!(runs > 3, "every await point was tried: {runs}");

    let careless: Vec<Box<dyn Step<State>>> = vec![Box::new(TempFile { careless: true })];
    let e = crate::testing::cancel_at_each_await(&careless, new_state, &c, left).await.unwrap_err();
    assert!(e.contains("made.tmp still exists"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_step_leaves_no_process_of_its_group() {
    // The child's handle is in the future only (not the state): dropping the step stops it.
    struct Local;
    #[async_trait]
    impl Step<State> for Local {
        fn name(&self) -> &'static str {
            "Local"
        }
        async fn run(&self, s: &mut State, ctx: &RunContext) -> Result<()> {
            let mut cmd = tokio::process::Command::new("/bin/sh");
            cmd.args(["-c", "sleep 100 & sleep 100"]);
            let mut child = process::spawn(&mut cmd)?;
            s.groups.extend(child.id().map(|p| p as i32));
            ctx.cancel.run(child.wait()).await??;
            Ok(())
        }
    }
    let (c, _) = ctx("group");
    let steps: Vec<Box<dyn Step<State>>> = vec![Box::new(Local)];
    let mut state = State::default();
    let cancel = c.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
    });
    assert!(run_steps(&steps, &mut state, &c).await.unwrap_err().cancelled);
    let g = state.groups[0];
    process::settle();
    assert!(!process::group_alive(g), "a process of group {g} survived");
}

/// Hangs in its cleanup; says what it would undo.
struct Hang(Duration);

#[async_trait]
impl Step<State> for Hang {
    fn name(&self) -> &'static str {
        "Hang"
    }
    async fn run(&self, _: &mut State, _: &RunContext) -> Result<()> {
        Ok(())
    }
    fn cleans(&self, _: &State) -> Option<String> {
        Some("the stuck thing".into())
    }
    async fn cleanup(&self, _: &mut State, _: &RunContext, _: Outcome) {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    fn cleanup_timeout(&self) -> Duration {
        self.0
    }
}

/// Records its cleanup.
struct Mark;

#[async_trait]
impl Step<State> for Mark {
    fn name(&self) -> &'static str {
        "Mark"
    }
    async fn run(&self, _: &mut State, _: &RunContext) -> Result<()> {
        Ok(())
    }
    fn cleans(&self, _: &State) -> Option<String> {
        Some("the marked thing".into())
    }
    async fn cleanup(&self, s: &mut State, _: &RunContext, _: Outcome) {
        s.log.push("mark cleaned".into());
    }
}

#[tokio::test]
async fn a_cleanup_past_its_deadline_is_abandoned_and_named() {
    let (c, r) = ctx("deadline");
    let steps: Vec<Box<dyn Step<State>>> = vec![Box::new(Mark), Box::new(Hang(Duration::from_millis(200)))];
    let mut state = State::default();
    let start = Instant::now();
    run_steps(&steps, &mut state, &c).await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(state.log, ["mark cleaned"], "the cleanups after it still ran");
    let errors: Vec<String> = r
        .events()
        .into_iter()
        .filter_map(|e| if let Event::Error { text, .. } = e { Some(text) } else { None })
        .collect();
    assert!(
        errors.iter().any(|e| e.contains("Cleanup of step Hang did not finish within 200ms")
            && e.contains("left behind: the stuck thing")),
        "{errors:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_left_is_known_until_each_cleanup_finished() {
    let build = format!("left-{}", std::process::id());
    let (c, _) = ctx(&build);
    let steps: Vec<Box<dyn Step<State>>> = vec![Box::new(Mark), Box::new(Hang(Duration::from_millis(600)))];
    let mine = |b: &str| left_behind().into_iter().filter(|(x, _)| x == b).map(|(_, w)| w).collect::<Vec<_>>();
    let run = tokio::spawn(async move { run_steps(&steps, &mut State::default(), &c).await });
    // While the hanging cleanup runs, both steps' resources are listed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mine(&build), ["the marked thing", "the stuck thing"]);
    run.await.unwrap().unwrap();
    assert!(mine(&build).is_empty(), "forgotten once the cleanups ended");
}

#[tokio::test]
async fn a_waiting_step_is_stopped_at_once() {
    struct Forever;
    #[async_trait]
    impl Step<State> for Forever {
        fn name(&self) -> &'static str {
            "Forever"
        }
        fn role(&self) -> StepRole {
            StepRole::Wait
        }
        async fn run(&self, _: &mut State, _: &RunContext) -> Result<()> {
            // Does not watch the cancel itself, as a retry loop waiting for SSH may not.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
    }
    let (c, _) = ctx("wait");
    let steps: Vec<Box<dyn Step<State>>> = vec![Box::new(Forever)];
    let cancel = c.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel.cancel();
    });
    let start = Instant::now();
    assert!(run_steps(&steps, &mut State::default(), &c).await.unwrap_err().cancelled);
    assert!(start.elapsed() < Duration::from_secs(1), "{:?}", start.elapsed());
}
