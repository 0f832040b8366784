//! A started plugin: its process, the yamux session, the broker and the RPC connection to the
//! component it serves (stream 0). Component clients share it; the process is killed when the
//! last of them is dropped.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpStream, UnixStream};

use crate::broker::Broker;
use crate::error::{Error, ErrorKind, Result};
use crate::handshake::{Handshake, Network};
use crate::msgpack::Value;
use crate::process::{PluginCommand, PluginProcess};
use crate::rpc::RpcClient;
use crate::yamux::Session;

pub(crate) struct Conn {
    pub(crate) process: Arc<PluginProcess>,
    pub(crate) broker: Arc<Broker>,
    pub(crate) rpc: RpcClient,
    pub(crate) call_timeout: Duration,
    pub(crate) handshake: Handshake,
    pub(crate) timings: StartTimings,
    /// Started with `--protobuf`: specs come as protobuf, data source values as cty msgpack.
    pub(crate) protobuf: bool,
}

/// How long a start took, from spawning the binary.
#[derive(Debug, Clone, Copy)]
pub struct StartTimings {
    /// Until the plugin printed its handshake (the plugin's own start-up).
    pub handshake: Duration,
    /// Until stream 0 was connected and acknowledged (ready for calls).
    pub connected: Duration,
}

impl Conn {
    /// A short call: bounded by the call timeout.
    pub(crate) async fn call(&self, method: &str, arg: Value) -> Result<Value> {
        match tokio::time::timeout(self.call_timeout, self.rpc.call(method, arg)).await {
            Ok(r) => self.finish(method, r).await,
            Err(_) => Err(self
                .process
                .error(Error::new(ErrorKind::Timeout, format!("{method} got no answer within {:?}", self.call_timeout)))
                .await),
        }
    }

    /// A long call (Run, Provision, PostProcess): ends when the plugin answers or dies.
    pub(crate) async fn call_long(&self, method: &str, arg: Value) -> Result<Value> {
        let r = self.rpc.call(method, arg).await;
        self.finish(method, r).await
    }

    /// Calls `method` on another RPC connection (an artifact or communicator the plugin serves).
    pub(crate) async fn call_on(&self, rpc: &RpcClient, method: &str, arg: Value, long: bool) -> Result<Value> {
        if long {
            let r = rpc.call(method, arg).await;
            return self.finish(method, r).await;
        }
        match tokio::time::timeout(self.call_timeout, rpc.call(method, arg)).await {
            Ok(r) => self.finish(method, r).await,
            Err(_) => Err(self
                .process
                .error(Error::new(ErrorKind::Timeout, format!("{method} got no answer within {:?}", self.call_timeout)))
                .await),
        }
    }

    async fn finish(&self, method: &str, r: Result<Value>) -> Result<Value> {
        match r {
            Ok(v) => Ok(v),
            Err(e) if e.kind() == ErrorKind::Exited => {
                Err(self.process.error(Error::exited(format!("{method}: {}", e.message()))).await)
            }
            Err(e) => Err(self.process.error(e).await),
        }
    }

    /// Opens an RPC connection to a server the plugin hosts.
    pub(crate) async fn dial_rpc(&self, id: u32) -> Result<RpcClient> {
        match self.broker.dial(id).await {
            Ok(stream) => Ok(RpcClient::new(stream)),
            Err(e) => Err(self.process.error(Error::exited(format!("connecting to its server {id}: {e}"))).await),
        }
    }

    pub(crate) fn protocol_error(&self, what: impl Into<String>) -> Error {
        Error::protocol(what).with_plugin(self.process.name()).with_log_tail(self.process.log_tail())
    }
}

/// A running plugin with its handshake done, ready to drive the component it serves.
#[derive(Clone)]
pub struct Client {
    pub(crate) conn: Arc<Conn>,
}

impl Client {
    /// Starts the plugin and connects to it.
    pub async fn start(cmd: PluginCommand) -> Result<Client> {
        let (process, handshake, started) = PluginProcess::start(&cmd).await?;
        let handshake_at = started.elapsed();
        // Connecting and getting stream 0 acknowledged share the start-up deadline.
        let remaining = cmd.start_timeout.saturating_sub(handshake_at).max(Duration::from_secs(5));
        let deadline = tokio::time::Instant::now() + remaining;
        let session = match tokio::time::timeout_at(deadline, connect(&handshake)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(process
                    .error(Error::new(ErrorKind::Handshake, format!("cannot connect to {}: {e}", handshake.address)))
                    .await)
            }
            Err(_) => {
                return Err(process
                    .error(Error::new(
                        ErrorKind::Timeout,
                        format!("does not accept a connection on {}", handshake.address),
                    ))
                    .await)
            }
        };
        let (session, incoming) = session;
        let broker = Broker::new(session, incoming);
        // A plugin that dies closes its socket, but one whose children hold the socket open
        // would leave calls hanging: end the session when the process ends.
        {
            let mut exit = process.exit_watch();
            let broker = Arc::downgrade(&broker);
            tokio::spawn(async move {
                let _ = exit.wait_for(|s| s.is_some()).await;
                if let Some(b) = broker.upgrade() {
                    b.session().close();
                }
            });
        }
        let stream = match tokio::time::timeout_at(deadline, broker.dial(0)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(process.error(Error::exited(format!("connecting to its component: {e}"))).await),
            Err(_) => {
                return Err(process
                    .error(Error::new(ErrorKind::Timeout, "did not acknowledge the connection to its component"))
                    .await)
            }
        };
        let rpc = RpcClient::new(stream);
        let timings = StartTimings { handshake: handshake_at, connected: started.elapsed() };
        let protobuf = cmd.args.iter().any(|a| a == "--protobuf");
        Ok(Client {
            conn: Arc::new(Conn { process, broker, rpc, call_timeout: cmd.call_timeout, handshake, timings, protobuf }),
        })
    }

    pub fn handshake(&self) -> &Handshake {
        &self.conn.handshake
    }

    pub fn timings(&self) -> StartTimings {
        self.conn.timings
    }

    /// The binary and arguments, as errors name the plugin.
    pub fn name(&self) -> &str {
        self.conn.process.name()
    }

    /// The plugin's last log lines.
    pub fn log_tail(&self) -> Vec<String> {
        self.conn.process.log_tail()
    }

    /// The plugin's process id (also its process group's).
    pub fn pid(&self) -> u32 {
        self.conn.process.pid()
    }

    /// The yamux streams currently open to the plugin (to check that finished calls release
    /// theirs).
    #[doc(hidden)]
    pub fn open_streams(&self) -> usize {
        self.conn.broker.session().stream_count()
    }

    /// Kills the plugin now (it is killed anyway when the last client is dropped).
    pub fn kill(&self) {
        self.conn.process.kill();
    }
}

async fn connect(h: &Handshake) -> std::io::Result<(Session, crate::yamux::Incoming)> {
    Ok(match h.network {
        Network::Unix => Session::client(UnixStream::connect(&h.address).await?),
        Network::Tcp => {
            let s = TcpStream::connect(&h.address).await?;
            s.set_nodelay(true)?;
            Session::client(s)
        }
    })
}
