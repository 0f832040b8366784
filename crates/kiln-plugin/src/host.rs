//! What the host provides to a plugin: a Ui, a Hook (for builders), a Communicator (for
//! provisioners), an Artifact (for post-processors). kiln implements these over its own Ui,
//! communicators and artifacts; the plugin reaches them over RPC.

use std::path::Path;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use crate::communicator::PluginCommunicator;

pub type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
pub type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// Where a plugin's messages go.
#[async_trait]
pub trait HostUi: Send + Sync + 'static {
    async fn say(&self, message: &str);
    async fn message(&self, message: &str);
    async fn error(&self, message: &str);
    /// A `-machine-readable` line: its type and data.
    async fn machine(&self, category: &str, args: &[String]);
    /// A question for the person running the build (only `-on-error=ask` asks).
    async fn ask(&self, query: &str) -> Result<String, String> {
        Err(format!("kiln cannot answer a plugin's question ({query:?})"))
    }
}

/// What a builder plugin calls at its hook points (`packer_provision` runs the provisioners).
#[async_trait]
pub trait HostHook: Send + Sync + 'static {
    /// `communicator` reaches the machine the builder connected to (over the plugin); `data` is
    /// the builder's generated data. `cancel` fires when the plugin cancels the hook.
    async fn run(
        &self,
        name: &str,
        communicator: PluginCommunicator,
        data: serde_json::Value,
        cancel: CancelSignal,
    ) -> Result<(), String>;
}

/// How a provisioner plugin reaches the machine: the host's own communicator.
#[async_trait]
pub trait HostCommunicator: Send + Sync + 'static {
    /// Runs `command` to its end and returns its exit status; `stdin` is copied in, output is
    /// copied to `stdout`/`stderr` as it comes.
    async fn exec(
        &self,
        command: &str,
        stdin: Option<BoxRead>,
        stdout: Option<BoxWrite>,
        stderr: Option<BoxWrite>,
    ) -> Result<i64, String>;
    /// Writes `src` to the file `dst` on the machine (`mode`: Unix permission bits, if known).
    async fn upload(&self, dst: &str, src: BoxRead, mode: Option<u32>) -> Result<(), String>;
    /// Copies the local directory `src` to `dst` on the machine (Packer's rsync-like rules for a
    /// trailing slash on `src`).
    async fn upload_dir(&self, dst: &str, src: &Path, exclude: &[String]) -> Result<(), String>;
    async fn download(&self, src: &str, dst: BoxWrite) -> Result<(), String>;
    async fn download_dir(&self, src: &str, dst: &Path, exclude: &[String]) -> Result<(), String>;
}

/// What a post-processor plugin receives: the artifact of the step before it.
#[async_trait]
pub trait HostArtifact: Send + Sync + 'static {
    fn builder_id(&self) -> String;
    fn files(&self) -> Vec<String>;
    fn id(&self) -> String;
    fn string(&self) -> String;
    fn state(&self, name: &str) -> serde_json::Value;
    async fn destroy(&self) -> Result<(), String>;
}

/// Fires when the plugin cancels what it asked the host to do.
#[derive(Clone)]
pub struct CancelSignal(pub(crate) watch::Receiver<bool>);

impl CancelSignal {
    /// A signal that never fires.
    pub fn never() -> CancelSignal {
        let (_, rx) = watch::channel(false);
        CancelSignal(rx)
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once cancelled.
    pub async fn cancelled(&mut self) {
        let _ = self.0.wait_for(|c| *c).await;
        // A dropped sender without cancelling never resolves.
        if !*self.0.borrow() {
            std::future::pending::<()>().await;
        }
    }
}
