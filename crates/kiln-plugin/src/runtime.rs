//! The runtime every plugin connection lives on. kiln prepares components synchronously (before
//! its build runtime exists) and runs them later on the scheduler's runtime; a plugin started at
//! prepare must outlive the first and serve the second, so its process watcher, yamux session
//! and broker run here, on two threads of their own, and kiln's side awaits them from wherever
//! it is.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use crate::error::{Error, ErrorKind, Result};

fn runtime() -> Result<&'static Runtime> {
    static RT: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();
    let rt = RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kiln-plugin")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    });
    rt.as_ref().map_err(|e| Error::new(ErrorKind::Start, format!("cannot start the plugin runtime: {e}")))
}

/// Aborts a task when the future awaiting it is dropped (a cancelled build).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `fut` on the plugin runtime and awaits it from any runtime; dropping the returned future
/// drops `fut`.
pub async fn on_plugin_runtime<F>(fut: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut task = AbortOnDrop(runtime()?.spawn(fut));
    (&mut task.0).await.map_err(|e| Error::new(ErrorKind::Exited, format!("the plugin task failed: {e}")))
}

/// Runs `fut` on the plugin runtime and waits for it, from synchronous code (inside a
/// multi-thread runtime too: the wait moves off the worker).
pub fn block<F>(fut: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    runtime()?.spawn(async move {
        let _ = tx.send(fut.await);
    });
    let wait = || rx.recv().map_err(|_| Error::new(ErrorKind::Exited, "the plugin task ended without an answer"));
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(wait),
        _ => wait(),
    }
}
