//! What a plugin says, as kiln's events; and kiln's provisioning hook, as the hook a builder
//! plugin calls.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kiln_core::component::{GeneratedData, ProvisionHook, RunContext};
use tokio::runtime::Handle;

use super::comm::PluginComm;
use crate::communicator::PluginCommunicator;
use crate::host::{CancelSignal, HostHook, HostUi};

/// A plugin's Ui calls as kiln events: `say` is `==> build: …`, `message` is `    build: …`.
pub struct UiBridge(pub kiln_core::Ui);

#[async_trait]
impl HostUi for UiBridge {
    async fn say(&self, message: &str) {
        self.0.say(message.trim_end_matches('\n'));
    }
    async fn message(&self, message: &str) {
        for line in message.trim_end_matches('\n').split('\n') {
            self.0.message(line);
        }
    }
    async fn error(&self, message: &str) {
        self.0.error(message.trim_end_matches('\n'));
    }
    async fn machine(&self, category: &str, args: &[String]) {
        // kiln's machine-readable renderer writes its own lines from events; a plugin's own go
        // to the log.
        self.0.log(format!("plugin machine-readable: {category} {}", args.join(",")));
    }
}

/// Hook names Packer's builders call.
const HOOK_PROVISION: &str = "packer_provision";
const HOOK_CLEANUP_PROVISION: &str = "packer_cleanup_provision";

/// kiln's provisioning hook behind a builder plugin's `Hook.Run`: kiln's provisioners run over
/// the communicator inside the plugin, on kiln's runtime.
pub struct HookBridge {
    pub hook: Arc<dyn ProvisionHook>,
    pub ctx: RunContext,
    pub kiln: Handle,
    /// The generated data the builder passed last (the artifact carries it on).
    pub data: Arc<Mutex<GeneratedData>>,
}

/// The generated data a builder plugin passes (a map of strings, numbers, bools) as kiln's.
pub fn generated_data(data: &serde_json::Value) -> GeneratedData {
    let mut out = GeneratedData::new();
    if let serde_json::Value::Object(m) = data {
        for (k, v) in m {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            out.insert(k.clone(), s);
        }
    }
    out
}

#[async_trait]
impl HostHook for HookBridge {
    async fn run(
        &self,
        name: &str,
        communicator: PluginCommunicator,
        data: serde_json::Value,
        mut cancel: CancelSignal,
    ) -> Result<(), String> {
        let cleanup = match name {
            HOOK_PROVISION => false,
            HOOK_CLEANUP_PROVISION => true,
            // Hooks kiln has nothing for (Packer's own are these two).
            _ => return Ok(()),
        };
        let data = kiln_core::generated::build_data(&generated_data(&data), &self.ctx.info);
        *self.data.lock().unwrap_or_else(|p| p.into_inner()) = data.clone();
        let child = self.ctx.cancel.child();
        let ctx = self.ctx.with_cancel(child.clone());
        let hook = self.hook.clone();
        let comm: Arc<dyn kiln_core::Communicator> = Arc::new(PluginComm(communicator));
        let task = self.kiln.spawn(async move {
            if cleanup {
                hook.cleanup_provision(&ctx, comm, &data).await
            } else {
                hook.provision(&ctx, comm, &data).await
            }
        });
        let mut task = AbortOnDrop(task);
        tokio::select! {
            r = &mut task.0 => match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.message),
                Err(e) => Err(format!("provisioning failed: {e}")),
            },
            _ = cancel.cancelled() => {
                // The plugin cancelled its hook: kiln's provisioners stop and clean up as on
                // Ctrl-C, for a while, before the answer.
                child.cancel();
                let _ = tokio::time::timeout(std::time::Duration::from_secs(30), &mut task.0).await;
                Err("provisioning was cancelled".into())
            }
        }
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
