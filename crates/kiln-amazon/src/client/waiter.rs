//! Polling until a resource reaches a state: the first check at once, then sleeps that double
//! (with jitter) up to a cap, until done, failed, timed out or cancelled.

use std::future::Future;
use std::time::{Duration, Instant};

use super::error::{Error, Result};
use super::retry::random_fraction;

/// How a waiter polls.
#[derive(Debug, Clone)]
pub struct WaitConfig {
    /// The sleep after the first check that was not done.
    pub initial_delay: Duration,
    /// The cap of the doubling sleeps.
    pub max_delay: Duration,
    /// Give up after this long.
    pub timeout: Duration,
}

impl Default for WaitConfig {
    fn default() -> WaitConfig {
        WaitConfig {
            initial_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(15),
            timeout: Duration::from_secs(30 * 60),
        }
    }
}

/// What one check found.
#[derive(Debug)]
pub enum Check<T> {
    Done(T),
    /// Not yet; the current state, for the timeout message.
    Pending(String),
    /// A state the resource cannot leave for the one waited for.
    Failed {
        state: String,
        reason: Option<String>,
    },
}

/// Runs `check` until it is done; `what` names the wait in errors ("instance i-1 to be running").
/// `cancel` resolving stops the wait at once (during a check or a sleep) with [`Error::Cancelled`].
pub async fn wait_until<T, F, Fut>(
    what: &str,
    cfg: &WaitConfig,
    cancel: impl Future<Output = ()>,
    mut check: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>>>,
{
    let start = Instant::now();
    let mut delay = cfg.initial_delay;
    tokio::pin!(cancel);
    loop {
        let outcome = tokio::select! {
            biased;
            _ = &mut cancel => return Err(Error::Cancelled),
            r = check() => r?,
        };
        let last_state = match outcome {
            Check::Done(v) => return Ok(v),
            Check::Failed { state, reason } => return Err(Error::WaitFailed { what: what.to_string(), state, reason }),
            Check::Pending(state) => state,
        };
        let elapsed = start.elapsed();
        if elapsed >= cfg.timeout {
            return Err(Error::WaitTimeout { what: what.to_string(), after: elapsed, last_state });
        }
        let sleep = delay.mul_f64(0.5 + 0.5 * random_fraction()).min(cfg.timeout - elapsed);
        tokio::select! {
            biased;
            _ = &mut cancel => return Err(Error::Cancelled),
            _ = tokio::time::sleep(sleep) => {}
        }
        delay = delay.saturating_mul(2).min(cfg.max_delay);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn fast() -> WaitConfig {
        WaitConfig {
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn first_check_is_immediate() {
        let start = Instant::now();
        let slow = WaitConfig { initial_delay: Duration::from_secs(60), ..fast() };
        let v = wait_until("x", &slow, std::future::pending(), || async { Ok(Check::Done(7)) }).await.unwrap();
        assert_eq!(v, 7);
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn polls_until_done_and_reports_failure() {
        let n = AtomicU32::new(0);
        let v = wait_until("x", &fast(), std::future::pending(), || async {
            Ok(if n.fetch_add(1, Ordering::SeqCst) < 3 { Check::Pending("pending".into()) } else { Check::Done("ok") })
        })
        .await
        .unwrap();
        assert_eq!((v, n.load(Ordering::SeqCst)), ("ok", 4));
        let e = wait_until::<(), _, _>("image ami-1 to be available", &fast(), std::future::pending(), || async {
            Ok(Check::Failed { state: "failed".into(), reason: Some("snapshot error".into()) })
        })
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), "image ami-1 to be available reached state \"failed\" instead: snapshot error");
    }

    #[tokio::test]
    async fn times_out_and_cancels() {
        let short = WaitConfig { timeout: Duration::from_millis(50), ..fast() };
        let e = wait_until::<(), _, _>("y", &short, std::future::pending(), || async {
            Ok(Check::Pending("pending".into()))
        })
        .await
        .unwrap_err();
        assert!(matches!(&e, Error::WaitTimeout { last_state, .. } if last_state == "pending"), "{e}");

        let start = Instant::now();
        let slow = WaitConfig { initial_delay: Duration::from_secs(60), timeout: Duration::from_secs(600), ..fast() };
        let cancel = tokio::time::sleep(Duration::from_millis(50));
        let e = wait_until::<(), _, _>("z", &slow, cancel, || async { Ok(Check::Pending("pending".into())) })
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Cancelled));
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
