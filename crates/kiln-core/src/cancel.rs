//! Cancellation: one token shared by every build of a run. The first Ctrl-C, SIGTERM or SIGHUP
//! cancels it (every build stops and cleans up); a second one lists what is left and exits.

use std::sync::Arc;

use tokio::sync::watch;

/// A cloneable cancellation flag that can be awaited. A child (for a provisioner's timeout)
/// is cancelled on its own or with its parent.
#[derive(Clone, Debug)]
pub struct Cancel {
    tx: Arc<watch::Sender<bool>>,
    parent: Option<Arc<Cancel>>,
}

impl Default for Cancel {
    fn default() -> Cancel {
        Cancel::new()
    }
}

impl Cancel {
    pub fn new() -> Cancel {
        let (tx, _) = watch::channel(false);
        Cancel { tx: Arc::new(tx), parent: None }
    }

    pub fn cancel(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.tx.borrow() || self.parent.as_ref().is_some_and(|p| p.is_cancelled())
    }

    /// Resolves once cancelled (at once if already cancelled).
    pub fn cancelled(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let mut rx = self.tx.subscribe();
            let own = async move {
                // An error means the sender is gone, which cannot happen while `self` holds it.
                let _ = rx.wait_for(|c| *c).await;
            };
            match &self.parent {
                Some(p) => {
                    tokio::select! {
                        _ = own => {}
                        _ = p.cancelled() => {}
                    }
                }
                None => own.await,
            }
        })
    }

    /// A child token: cancelled when the parent is, or on its own.
    pub fn child(&self) -> Cancel {
        let (tx, _) = watch::channel(false);
        Cancel { tx: Arc::new(tx), parent: Some(Arc::new(self.clone())) }
    }

    /// Runs `fut` unless cancelled first; `Err(Error::cancelled())` then (the future is dropped,
    /// which kills child processes started with kill-on-drop).
    pub async fn run<T>(&self, fut: impl std::future::Future<Output = T>) -> crate::Result<T> {
        tokio::select! {
            biased;
            _ = self.cancelled() => Err(crate::Error::cancelled()),
            v = fut => Ok(v),
        }
    }
}

/// Cancels `cancel` on the first SIGINT, SIGTERM or SIGHUP (a closed terminal is a request to
/// stop like any other, not a reason to skip the cleanup), calling `on_first` (to print
/// "Cancelling …"). On the second: prints what the running builds' cleanups have not undone yet
/// ([`crate::step::left_behind`]) and exits with status 1.
pub fn install_signal_handlers(cancel: Cancel, on_first: impl Fn() + Send + 'static) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) =
        (signal(SignalKind::interrupt()), signal(SignalKind::terminate()), signal(SignalKind::hangup()))
    else {
        return;
    };
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
            count += 1;
            if count == 1 {
                on_first();
                cancel.cancel();
            } else {
                eprintln!("{}", second_interrupt_message(&crate::step::left_behind()));
                // No child process outlives kiln: those still running and those told to stop.
                crate::process::kill_all();
                crate::process::settle();
                std::process::exit(1);
            }
        }
    });
}

/// What kiln says when interrupted again: that it exits now, and what is left behind.
pub fn second_interrupt_message(left: &[(String, String)]) -> String {
    if left.is_empty() {
        return "Interrupted again: exiting at once; nothing was left to clean up.".into();
    }
    let mut text = String::from("Interrupted again: exiting at once without finishing the cleanup. Left behind:");
    for (build, what) in left {
        text.push_str(&format!("\n  - {build}: {what}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn run_stops_at_cancel_and_child_follows_parent() {
        let c = Cancel::new();
        let child = c.child();
        let c2 = c.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            c2.cancel();
        });
        let r = c.run(tokio::time::sleep(std::time::Duration::from_secs(10))).await;
        assert!(r.unwrap_err().cancelled);
        tokio::time::timeout(std::time::Duration::from_secs(2), child.cancelled()).await.unwrap();
        let other = Cancel::new();
        assert_eq!(other.run(async { 5 }).await, Ok(5));
    }
}
