//! Test support for builders (feature `testing`): [`cancel_at_each_await`] checks the rule
//! "a resource's handle is in the state before the next await" by cancelling a step list at
//! every await point it has, one run per point, and checking nothing was left after each.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::cancel::Cancel;
use crate::component::RunContext;
use crate::step::{run_steps, Step};

/// Polls `inner`; fires `cancel` when `inner` returned Pending for the `at`-th time.
struct CancelAt<F> {
    inner: F,
    pending: usize,
    at: usize,
    cancel: Cancel,
}

impl<F: Future + Unpin> Future for CancelAt<F> {
    type Output = (F::Output, bool);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll(cx) {
            Poll::Ready(v) => Poll::Ready((v, this.pending >= this.at)),
            Poll::Pending => {
                this.pending += 1;
                if this.pending == this.at {
                    this.cancel.cancel();
                    // Let the run see the cancel at once, whatever it was waiting for.
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
        }
    }
}

/// Runs `steps` on a fresh state from `new_state` again and again, cancelling run N at its
/// N-th await point (N = 1, 2, …) until a run ends before reaching its point. After every
/// run: every step's `cleans()` must say nothing, and `left` (the test's own probe: files that
/// must be gone, process groups that must have ended) must return nothing. Returns the number
/// of runs, or the first failure naming the await point and what was left.
pub async fn cancel_at_each_await<S: Send>(
    steps: &[Box<dyn Step<S>>],
    mut new_state: impl FnMut() -> S,
    ctx: &RunContext,
    left: impl Fn(&S) -> Vec<String>,
) -> Result<usize, String> {
    let mut at = 0;
    loop {
        at += 1;
        let mut state = new_state();
        let cancel = Cancel::new();
        let run_ctx = ctx.with_cancel(cancel.clone());
        let run = Box::pin(run_steps(steps, &mut state, &run_ctx));
        let (result, cancelled) = CancelAt { inner: run, pending: 0, at, cancel }.await;
        let mut what: Vec<String> = steps.iter().filter_map(|s| s.cleans(&state)).collect();
        what.extend(left(&state));
        if !what.is_empty() {
            return Err(format!(
                "cancelled at await point {at} ({}): left behind: {}",
                match &result {
                    Ok(()) => "the steps finished".to_string(),
                    Err(e) => e.to_string(),
                },
                what.join("; ")
            ));
        }
        if !cancelled {
            return match result {
                Ok(()) => Ok(at),
                Err(e) => Err(format!("the steps failed without a cancel: {e}")),
            };
        }
    }
}
