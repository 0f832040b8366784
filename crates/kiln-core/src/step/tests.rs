use std::sync::{Arc, Mutex};

use super::*;
use crate::cancel::Cancel;
use crate::component::BuildInfo;
use crate::event::{Event, MemoryRenderer, ScriptedAsker, Ui};

#[derive(Default)]
struct State {
    log: Vec<String>,
    fail_at: Option<&'static str>,
    fail_times: usize,
}

struct Named(&'static str, bool);

#[async_trait]
impl Step<State> for Named {
    fn name(&self) -> &'static str {
        self.0
    }
    async fn run(&self, s: &mut State, _ctx: &RunContext) -> Result<()> {
        s.log.push(format!("run {}", self.0));
        if s.fail_at == Some(self.0) && s.fail_times > 0 {
            s.fail_times -= 1;
            return Err(crate::Error::new(format!("{} broke", self.0)));
        }
        if self.0 == "slow" {
            // Notices cancellation, as kiln's components do.
            _ctx.cancel.run(tokio::time::sleep(std::time::Duration::from_secs(30))).await?;
        }
        if self.0 == "stubborn" {
            // Does not: dropped after the grace period.
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
        Ok(())
    }
    fn cleans(&self, _s: &State) -> Option<String> {
        Some(format!("{} things", self.0))
    }
    async fn cleanup(&self, s: &mut State, _ctx: &RunContext, o: Outcome) {
        s.log.push(format!("cleanup {} failed={} cancelled={}", self.0, o.failed, o.cancelled));
    }
    fn role(&self) -> StepRole {
        if self.1 {
            StepRole::Provision
        } else {
            StepRole::Normal
        }
    }
}

fn ctx(on_error: OnError, answers: &[&str]) -> (RunContext, MemoryRenderer) {
    let r = MemoryRenderer::default();
    let asker = ScriptedAsker(Mutex::new(answers.iter().map(|s| s.to_string()).collect()));
    let ui = Ui::with(Box::new(r.clone()), None, Box::new(asker)).for_build("b");
    let info = BuildInfo { name: "b".into(), on_error, ..BuildInfo::default() };
    (RunContext { ui, cancel: Cancel::new(), info: Arc::new(info) }, r)
}

fn steps(names: &[(&'static str, bool)]) -> Vec<Box<dyn Step<State>>> {
    names.iter().map(|(n, p)| Box::new(Named(n, *p)) as Box<dyn Step<State>>).collect()
}

#[tokio::test]
async fn success_cleans_up_in_reverse() {
    let (c, _) = ctx(OnError::Cleanup, &[]);
    let mut s = State::default();
    run_steps(&steps(&[("a", false), ("b", false)]), &mut s, &c).await.unwrap();
    assert_eq!(
        s.log,
        ["run a", "run b", "cleanup b failed=false cancelled=false", "cleanup a failed=false cancelled=false"]
    );
}

#[tokio::test]
async fn error_stops_and_cleans_what_ran() {
    let (c, r) = ctx(OnError::Cleanup, &[]);
    let mut s = State { fail_at: Some("b"), fail_times: 1, ..State::default() };
    let e = run_steps(&steps(&[("a", false), ("b", false), ("c", false)]), &mut s, &c).await.unwrap_err();
    assert_eq!(e.message, "b broke");
    assert_eq!(
        s.log,
        ["run a", "run b", "cleanup b failed=true cancelled=false", "cleanup a failed=true cancelled=false"]
    );
    assert!(r.events().contains(&Event::Say { build: Some("b".into()), text: "Cleaning up: a things".into() }));
}

#[tokio::test]
async fn abort_leaves_everything_and_says_what() {
    let (c, r) = ctx(OnError::Abort, &[]);
    let mut s = State { fail_at: Some("b"), fail_times: 1, ..State::default() };
    run_steps(&steps(&[("a", false), ("b", false)]), &mut s, &c).await.unwrap_err();
    assert_eq!(s.log, ["run a", "run b"]);
    let errs: Vec<_> = r.events().into_iter().filter(|e| matches!(e, Event::Error { .. })).collect();
    assert_eq!(errs.len(), 1);
}

#[tokio::test]
async fn run_cleanup_provisioner_only_cleans_the_provision_step() {
    let (c, _) = ctx(OnError::RunCleanupProvisioner, &[]);
    let mut s = State { fail_at: Some("c"), fail_times: 1, ..State::default() };
    run_steps(&steps(&[("a", false), ("prov", true), ("c", false)]), &mut s, &c).await.unwrap_err();
    assert_eq!(s.log, ["run a", "run prov", "run c", "cleanup prov failed=true cancelled=false"]);
}

#[tokio::test]
async fn ask_can_retry_the_failed_step() {
    let (c, _) = ctx(OnError::Ask, &["r"]);
    let mut s = State { fail_at: Some("b"), fail_times: 1, ..State::default() };
    run_steps(&steps(&[("a", false), ("b", false)]), &mut s, &c).await.unwrap();
    assert_eq!(s.log[..3], ["run a", "run b", "run b"]);
}

#[tokio::test]
async fn cancellation_interrupts_a_step_and_cleans_up() {
    let (c, _) = ctx(OnError::Abort, &[]);
    let cancel = c.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        cancel.cancel();
    });
    let mut s = State::default();
    let t = std::time::Instant::now();
    let e = run_steps(&steps(&[("a", false), ("slow", false), ("c", false)]), &mut s, &c).await.unwrap_err();
    assert!(e.cancelled);
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    // Cancellation always cleans up, even with -on-error=abort.
    assert_eq!(
        s.log,
        ["run a", "run slow", "cleanup slow failed=false cancelled=true", "cleanup a failed=false cancelled=true"]
    );
}

#[tokio::test]
async fn debug_pauses_between_steps() {
    let (mut c, r) = ctx(OnError::Cleanup, &["", ""]);
    c.info = Arc::new(BuildInfo { debug: true, ..(*c.info).clone() });
    let mut s = State::default();
    run_steps(&steps(&[("a", false), ("b", false)]), &mut s, &c).await.unwrap();
    let says: Vec<_> = r
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Say { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(says, ["Pausing after run of step 'a'. Press enter to continue."]);
}

#[tokio::test(start_paused = true)]
async fn a_step_that_ignores_cancellation_is_dropped_after_the_grace_period() {
    let (c, _) = ctx(OnError::Cleanup, &[]);
    let cancel = c.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        cancel.cancel();
    });
    let mut s = State::default();
    let t = tokio::time::Instant::now();
    let e = run_steps(&steps(&[("a", false), ("stubborn", false)]), &mut s, &c).await.unwrap_err();
    assert!(e.cancelled);
    let waited = t.elapsed();
    assert!(waited >= CANCEL_GRACE && waited < CANCEL_GRACE + std::time::Duration::from_secs(1), "{waited:?}");
    assert_eq!(s.log.last().map(String::as_str), Some("cleanup a failed=false cancelled=true"));
}
