//! The SSH endpoint `ansible` serves on 127.0.0.1 when `use_proxy` is set (or the communicator
//! is not SSH): an SSH server (russh) whose `exec` requests run on the machine through the
//! build's communicator, stdin, stdout, stderr and exit status relayed. File copies work both
//! ways Ansible makes them: scp (a command like any other) and SFTP (OpenSSH 9's `scp` uses it
//! too). The `sftp` subsystem is relayed to the machine's own SFTP server: its sshd's `sftp`
//! subsystem when the communicator has one (no login shell starts: ~85 ms less per file where
//! the shell's startup files are slow), else `sftp_command`, else the first `sftp-server`
//! found in the usual places. The host key is ed25519, which current OpenSSH accepts.

use std::collections::HashMap;
use std::sync::Arc;

use kiln_comm::keys::KeyType;
use kiln_core::private_temp::TempFile;
use kiln_core::{Communicator, Error, ExecIo, Result, Subsystem, Ui};
use russh::keys::{PrivateKey, PublicKey};
use russh::server::{Auth, Handle, Msg, Session};
use russh::{Channel, ChannelId};
use tokio::io::AsyncWriteExt;

use super::Config;

/// Finds the machine's SFTP server where the usual distributions put it.
const DEFAULT_SFTP: &str = "for p in /usr/lib/sftp-server /usr/lib/openssh/sftp-server \
    /usr/libexec/openssh/sftp-server /usr/libexec/sftp-server /usr/lib/ssh/sftp-server; \
    do [ -x \"$p\" ] && exec \"$p\" -e; done; echo 'no sftp-server found on the machine (set sftp_command)' >&2; exit 127";

/// How much of a client's input the proxy holds while the machine has not taken it yet.
const INPUT_BUFFER: usize = 16 << 20;

/// A running endpoint; dropping it stops it.
pub struct Proxy {
    pub port: u16,
    /// The private key Ansible logs in with (`None` when `ssh_authorized_key_file` names the
    /// key: the user brings its private half).
    pub client_key: Option<TempFile>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn key_err(what: &str) -> impl Fn(russh::keys::Error) -> Error + '_ {
    move |e| Error::new(format!("{what}: {e}"))
}

/// The proxy's key type for `ansible_proxy_key_type`: unset (or `ED25519`) gives an Ed25519
/// key, `ECDSA` a P-256 key, `RSA` a 2048-bit RSA key; case does not matter.
pub fn key_type(option: Option<&str>) -> std::result::Result<KeyType, String> {
    match option.unwrap_or("").to_ascii_uppercase().as_str() {
        "" | "ED25519" => Ok(KeyType::Ed25519),
        "ECDSA" => Ok(KeyType::Ecdsa(256)),
        "RSA" => Ok(KeyType::Rsa(2048)),
        other => Err(format!("unknown ansible_proxy_key_type {other:?}: use \"ECDSA\" or \"RSA\"")),
    }
}

/// Starts the endpoint on 127.0.0.1 (`local_port`, or a free port).
pub async fn start(c: &Config, comm: Arc<dyn Communicator>, ui: &Ui) -> Result<Proxy> {
    let kind = key_type(c.ansible_proxy_key_type.as_deref()).map_err(Error::new)?;
    let host_key: PrivateKey = match &c.ssh_host_key_file {
        Some(f) => russh::keys::load_secret_key(f, None).map_err(key_err("reading ssh_host_key_file"))?,
        None => {
            let pair = kiln_comm::keys::TempKeyPair::generate_type(kind, "kiln-ansible-proxy")?;
            russh::keys::decode_secret_key(&pair.private_openssh, None).map_err(key_err("the proxy's host key"))?
        }
    };
    let (authorized, client_key) = match &c.ssh_authorized_key_file {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| Error::new(format!("reading ssh_authorized_key_file {f}: {e}")))?;
            (
                PublicKey::from_openssh(text.trim())
                    .map_err(|e| Error::new(format!("ssh_authorized_key_file {f}: {e}")))?,
                None,
            )
        }
        None => {
            let pair = kiln_comm::keys::TempKeyPair::generate_type(kind, "kiln-ansible")?;
            ui.add_secrets([pair.private_openssh.clone()]);
            let public = PublicKey::from_openssh(pair.public_authorized_key.trim())
                .map_err(|e| Error::new(format!("the proxy's client key: {e}")))?;
            let name = format!("ansible-proxy-key{}", kiln_comm::shell_local::unique());
            (public, Some(TempFile::create(&name, pair.private_openssh.as_bytes(), 0o600)?))
        }
    };
    let config = Arc::new(russh::server::Config {
        keys: vec![host_key],
        auth_rejection_time: std::time::Duration::from_millis(200),
        auth_rejection_time_initial: Some(std::time::Duration::ZERO),
        ..Default::default()
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", c.local_port.unwrap_or(0)))
        .await
        .map_err(|e| Error::new(format!("the ansible proxy cannot listen on 127.0.0.1: {e}")))?;
    let port = listener.local_addr().map_err(|e| Error::new(format!("the ansible proxy's address: {e}")))?.port();
    let sftp = c.sftp_command.clone();
    let key_algorithm = authorized.algorithm().to_string();
    let log = ui.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let handler = Relay {
                comm: Arc::clone(&comm),
                authorized: authorized.clone(),
                sftp: sftp.clone(),
                ui: log.clone(),
                channels: HashMap::new(),
            };
            let config = Arc::clone(&config);
            let ui = log.clone();
            tokio::spawn(async move {
                match russh::server::run_stream(config, stream, handler).await {
                    Ok(session) => {
                        if let Err(e) = session.await {
                            ui.log(format!("ansible proxy: session ended: {e}"));
                        }
                    }
                    Err(e) => ui.log(format!("ansible proxy: handshake failed: {e}")),
                }
            });
        }
    });
    ui.say(format!("Serving an SSH endpoint for Ansible on 127.0.0.1:{port} (client key {key_algorithm})"));
    Ok(Proxy { port, client_key, task })
}

/// One client connection.
struct Relay {
    comm: Arc<dyn Communicator>,
    authorized: PublicKey,
    /// `sftp_command`, when set.
    sftp: Option<String>,
    ui: Ui,
    channels: HashMap<ChannelId, Channel<Msg>>,
}

impl Relay {
    fn accepts(&self, key: &PublicKey) -> Auth {
        if key.key_data() == self.authorized.key_data() {
            Auth::Accept
        } else {
            Auth::reject()
        }
    }

    /// Runs `job` on the machine with the channel's streams; replies on `session`.
    fn spawn(&mut self, id: ChannelId, job: Job, session: &mut Session) -> Result<(), russh::Error> {
        let Some(channel) = self.channels.remove(&id) else {
            return session.channel_failure(id);
        };
        session.channel_success(id)?;
        let handle = session.handle();
        let comm = Arc::clone(&self.comm);
        let ui = self.ui.clone();
        tokio::spawn(relay(comm, channel, handle, job, ui));
        Ok(())
    }
}

/// What a client's channel asked for.
enum Job {
    /// `exec`: a command through the machine's shell.
    Command(String),
    /// The `sftp` subsystem (see the module doc).
    Sftp,
}

async fn relay(comm: Arc<dyn Communicator>, channel: Channel<Msg>, handle: Handle, job: Job, ui: Ui) {
    let id = channel.id();
    let mut stderr = channel.make_writer_ext(Some(1));
    let (mut from_client, mut output) = tokio::io::split(channel.into_stream());
    // The client's bytes are read off the channel at once into a buffer: when the command's
    // input waits on the machine (its output not yet read), the SSH session must still move
    // that output, or the two wait on each other.
    let (mut buffered, mut input) = tokio::io::duplex(INPUT_BUFFER);
    let pump = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_client, &mut buffered).await;
        let _ = buffered.shutdown().await;
    });
    // The streams again for a second try (a refused subsystem read nothing of them).
    macro_rules! io {
        () => {
            ExecIo { stdin: Some(&mut input), stdout: &mut output, stderr: &mut stderr }
        };
    }
    let ran = match job {
        Job::Command(command) => {
            ui.log(format!("ansible proxy: running {command}"));
            comm.exec(&command, io!()).await
        }
        Job::Sftp => {
            ui.log("ansible proxy: sftp (the machine's sftp subsystem)");
            match comm.subsystem("sftp", io!()).await {
                Ok(Subsystem::Ended(code)) => Ok(code),
                Ok(Subsystem::Unavailable) => {
                    ui.log(format!("ansible proxy: no sftp subsystem; running {DEFAULT_SFTP}"));
                    comm.exec(DEFAULT_SFTP, io!()).await
                }
                Err(e) => Err(e),
            }
        }
    };
    let status = match ran {
        Ok(Some(code)) => u32::try_from(code).unwrap_or(255),
        Ok(None) => 255,
        Err(e) => {
            let _ = stderr.write_all(format!("kiln: {e}\n").as_bytes()).await;
            255
        }
    };
    pump.abort();
    let _ = output.flush().await;
    let _ = stderr.flush().await;
    let _ = handle.exit_status_request(id, status).await;
    let _ = handle.eof(id).await;
    let _ = handle.close(id).await;
}

impl russh::server::Handler for Relay {
    type Error = russh::Error;

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.accepts(offer.public_key))
    }

    async fn auth_publickey(
        &mut self,
        _user: &str,
        key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.accepts(key.public_key))
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn exec_request(&mut self, id: ChannelId, data: &[u8], session: &mut Session) -> Result<(), Self::Error> {
        let command = String::from_utf8_lossy(data).into_owned();
        self.spawn(id, Job::Command(command), session)
    }

    async fn subsystem_request(&mut self, id: ChannelId, name: &str, session: &mut Session) -> Result<(), Self::Error> {
        if name != "sftp" {
            return session.channel_failure(id);
        }
        let job = match &self.sftp {
            Some(command) => Job::Command(command.clone()),
            None => Job::Sftp,
        };
        self.spawn(id, job, session)
    }
}
