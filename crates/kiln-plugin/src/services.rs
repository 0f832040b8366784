//! The servers the host runs for a plugin: Ui, Hook, Communicator and Artifact, each a thin
//! translation from net/rpc arguments to a `Host*` trait call.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use crate::broker::Broker;
use crate::client::Conn;
use crate::communicator::PluginCommunicator;
use crate::gob;
use crate::host::{BoxRead, BoxWrite, CancelSignal, HostArtifact, HostCommunicator, HostHook, HostUi};
use crate::msgpack::Value;
use crate::rpc::{self, Service};

/// Serves `services` as server `id`: waits for the plugin to connect, then answers its calls.
pub(crate) fn serve_on(broker: &Arc<Broker>, id: u32, services: Vec<(&'static str, Arc<dyn Service>)>) {
    let broker = broker.clone();
    tokio::spawn(async move {
        if let Ok(stream) = broker.accept(id).await {
            rpc::serve(stream, services).await;
        }
    });
}

fn string_arg(arg: &Value) -> String {
    arg.as_str().unwrap_or_default().to_string()
}

pub(crate) struct UiService(pub(crate) Arc<dyn HostUi>);

#[async_trait]
impl Service for UiService {
    async fn call(&self, method: &str, arg: Value) -> Result<Value, String> {
        match method {
            "Say" => self.0.say(&string_arg(&arg)).await,
            "Message" => self.0.message(&string_arg(&arg)).await,
            "Error" => self.0.error(&string_arg(&arg)).await,
            "Machine" => {
                let category = arg.get("Category").and_then(Value::as_str).unwrap_or_default();
                let args = arg.get("Args").and_then(Value::as_strings).unwrap_or_default();
                self.0.machine(category, &args).await
            }
            "Ask" => return self.0.ask(&string_arg(&arg)).await.map(Value::Str),
            // Without a tracker id the plugin reads its download without a progress bar.
            "NewTrackProgress" => return Err("kiln tracks no progress for plugins".into()),
            other => return Err(format!("rpc: can't find method Ui.{other}")),
        }
        Ok(Value::Nil)
    }
}

pub(crate) struct HookService {
    pub(crate) hook: Arc<dyn HostHook>,
    pub(crate) conn: Arc<Conn>,
    pub(crate) cancel: Mutex<Option<watch::Sender<bool>>>,
}

#[async_trait]
impl Service for HookService {
    async fn call(&self, method: &str, arg: Value) -> Result<Value, String> {
        match method {
            "Run" => {
                let name = arg.get("Name").and_then(Value::as_str).unwrap_or_default().to_string();
                let data = arg.get("Data").map(Value::to_json).unwrap_or(serde_json::Value::Null);
                let id = arg.get("StreamId").and_then(Value::as_u64).unwrap_or(0) as u32;
                let rpc = self.conn.dial_rpc(id).await.map_err(|e| e.to_string())?;
                let comm = PluginCommunicator::new(self.conn.clone(), rpc);
                let (tx, rx) = watch::channel(false);
                *self.cancel.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
                self.hook.run(&name, comm, data, CancelSignal(rx)).await?;
                Ok(Value::Nil)
            }
            "Cancel" => {
                if let Some(tx) = self.cancel.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                    tx.send_replace(true);
                }
                Ok(Value::Nil)
            }
            other => Err(format!("rpc: can't find method Hook.{other}")),
        }
    }

    /// Packer's provisioning step stops waiting for the hook when the build is cancelled and
    /// hangs up, sometimes before its Hook.Cancel is sent: a hang-up cancels the hook too.
    fn hangup(&self) {
        if let Some(tx) = self.cancel.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            tx.send_replace(true);
        }
    }
}

pub(crate) struct CommunicatorService {
    pub(crate) comm: Arc<dyn HostCommunicator>,
    pub(crate) broker: Arc<Broker>,
    /// Commands still running, stopped (their futures dropped) when the plugin hangs up.
    pub(crate) running: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl CommunicatorService {
    async fn dial(&self, arg: &Value, field: &str) -> Result<Option<crate::yamux::Stream>, String> {
        match arg.get(field).and_then(Value::as_u64) {
            None | Some(0) => Ok(None),
            Some(id) => self.broker.dial(id as u32).await.map(Some).map_err(|e| format!("{field} {id}: {e}")),
        }
    }

    fn excludes(arg: &Value) -> Vec<String> {
        arg.get("Exclude").and_then(Value::as_strings).unwrap_or_default()
    }

    fn str_field(arg: &Value, f: &str) -> String {
        arg.get(f).and_then(Value::as_str).unwrap_or_default().to_string()
    }
}

#[async_trait]
impl Service for CommunicatorService {
    async fn call(&self, method: &str, arg: Value) -> Result<Value, String> {
        match method {
            "Start" => {
                let command = Self::str_field(&arg, "Command");
                let stdin = self.dial(&arg, "StdinStreamId").await?.map(|s| Box::new(s) as BoxRead);
                let stdout = self.dial(&arg, "StdoutStreamId").await?.map(|s| Box::new(s) as BoxWrite);
                let stderr = self.dial(&arg, "StderrStreamId").await?;
                let Some(mut response) = self.dial(&arg, "ResponseStreamId").await? else {
                    return Err("Communicator.Start without a response stream".into());
                };
                // Start answers at once; the exit status follows on the response stream.
                let comm = self.comm.clone();
                let task = tokio::spawn(async move {
                    // stderr goes through a pipe so that a failure to run the command can still
                    // be written to it afterwards.
                    let (err_in, err_copy) = match stderr {
                        Some(mut stream) => {
                            let (pipe_in, mut pipe_out) = tokio::io::duplex(64 * 1024);
                            let copy = tokio::spawn(async move {
                                let _ = tokio::io::copy(&mut pipe_out, &mut stream).await;
                                stream
                            });
                            (Some(Box::new(pipe_in) as BoxWrite), Some(copy))
                        }
                        None => (None, None),
                    };
                    let result = comm.exec(&command, stdin, stdout, err_in).await;
                    let mut stderr = match err_copy {
                        Some(copy) => copy.await.ok(),
                        None => None,
                    };
                    match result {
                        Ok(status) => {
                            let _ = response.write_all(&gob::encode_command_finished(status)).await;
                        }
                        Err(e) => {
                            // Packer counts a command that could not run as exit status 123 (no
                            // CommandFinished arrives); say why where the plugin shows output.
                            if let Some(s) = stderr.as_mut() {
                                let _ = s.write_all(format!("kiln: {e}\n").as_bytes()).await;
                            }
                        }
                    }
                    if let Some(mut s) = stderr {
                        let _ = s.shutdown().await;
                    }
                    let _ = response.shutdown().await;
                });
                let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
                running.retain(|t| !t.is_finished());
                running.push(task.abort_handle());
                Ok(Value::Nil)
            }
            "Upload" => {
                let Some(reader) = self.dial(&arg, "ReaderStreamId").await? else {
                    return Err("Communicator.Upload without a data stream".into());
                };
                // FileInfo is {N name, S size, M mode, T mtime} or nil.
                let mode = arg
                    .get("FileInfo")
                    .and_then(|fi| fi.get("M"))
                    .and_then(Value::as_u64)
                    .map(crate::communicator::go_to_unix_mode);
                self.comm.upload(&Self::str_field(&arg, "Path"), Box::new(reader), mode).await?;
                Ok(Value::Nil)
            }
            "UploadDir" => {
                let src = Self::str_field(&arg, "Src");
                self.comm.upload_dir(&Self::str_field(&arg, "Dst"), Path::new(&src), &Self::excludes(&arg)).await?;
                Ok(Value::Nil)
            }
            "Download" => {
                let Some(writer) = self.dial(&arg, "WriterStreamId").await? else {
                    return Err("Communicator.Download without a data stream".into());
                };
                // Dropping the stream when the download returns ends it for the plugin.
                self.comm.download(&Self::str_field(&arg, "Path"), Box::new(writer)).await?;
                Ok(Value::Nil)
            }
            "DownloadDir" => {
                let dst = Self::str_field(&arg, "Dst");
                self.comm.download_dir(&Self::str_field(&arg, "Src"), Path::new(&dst), &Self::excludes(&arg)).await?;
                Ok(Value::Nil)
            }
            other => Err(format!("rpc: can't find method Communicator.{other}")),
        }
    }

    fn hangup(&self) {
        for task in self.running.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            task.abort();
        }
    }
}

pub(crate) struct ArtifactService(pub(crate) Arc<dyn HostArtifact>);

#[async_trait]
impl Service for ArtifactService {
    async fn call(&self, method: &str, arg: Value) -> Result<Value, String> {
        let a = &self.0;
        Ok(match method {
            "BuilderId" => Value::Str(a.builder_id()),
            "Files" => Value::Array(a.files().into_iter().map(Value::Str).collect()),
            "Id" => Value::Str(a.id()),
            "String" => Value::Str(a.string()),
            "State" => Value::from_json(&a.state(arg.as_str().unwrap_or_default())),
            // The reply is an `error`: nil, or a BasicError.
            "Destroy" => match a.destroy().await {
                Ok(()) => Value::Nil,
                Err(e) => Value::record([("Message", Value::Str(e))]),
            },
            other => return Err(format!("rpc: can't find method Artifact.{other}")),
        })
    }
}
