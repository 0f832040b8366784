//! The `ssh` communicator on russh: connects with Packer's retry rules (wait for the machine
//! until `ssh_timeout`, without a fixed sleep), authenticates with a password (also as
//! keyboard-interactive) or a private key, runs commands with stdout and stderr kept apart and
//! the exit status, and moves files over SFTP (or over `cat` when SFTP is not available or
//! `ssh_file_transfer_method` is `scp`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_core::communicator::{Reader, Writer};
use kiln_core::{async_trait, Communicator, Error, ExecIo, Result, Stream, Subsystem, UploadMeta};
use russh::client::{self, Handle};
use russh::keys::PrivateKeyWithHashAlg;
use russh::ChannelMsg;
use russh_sftp::client::SftpSession;
use russh_sftp::protocol::FileAttributes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;

use crate::config::Config;
use crate::shell_quote as quote;

mod command;
pub mod identity;
mod opened;
mod partial;
mod socks;
pub mod tunnel;

pub use opened::Opened;

/// A connection's handler: accepts the server's host key and the connections it forwards
/// from the remote tunnels' ports.
#[derive(Default)]
struct Client {
    remote: Arc<Vec<tunnel::Spec>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    // Packer does not check host keys of the machines it builds (they are new each time).
    async fn check_server_key(&mut self, _key: &russh::keys::PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(true)
    }

    async fn server_channel_open_forwarded_tcpip(
        &mut self,
        channel: russh::Channel<client::Msg>,
        _connected_address: &str,
        connected_port: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        // Not ours: dropping the reply refuses the channel.
        if tunnel::forwarded(&self.remote, connected_port, channel) {
            reply.accept().await;
        }
        Ok(())
    }
}

/// The tunnels a config asks for (checked by `Config::check`; a bad entry here is an error).
fn tunnels(c: &Config) -> Result<(Vec<tunnel::Spec>, Vec<tunnel::Spec>)> {
    let parse = |key: &str, list: &Option<Vec<String>>| -> Result<Vec<tunnel::Spec>> {
        list.iter().flatten().map(|t| tunnel::Spec::parse(t).map_err(|e| Error::new(format!("{key}: {e}")))).collect()
    };
    Ok((parse("ssh_local_tunnels", &c.ssh_local_tunnels)?, parse("ssh_remote_tunnels", &c.ssh_remote_tunnels)?))
}

pub struct Ssh {
    /// Shared with the tasks that stop cancelled commands and the local tunnels' listeners.
    conn: Arc<Mutex<Conn>>,
    /// The local tunnels' listeners, stopped with the communicator.
    _local_tunnels: tunnel::Listeners,
    remote_tunnels: Arc<Vec<tunnel::Spec>>,
    /// Counts reconnections, so an SFTP session of an old connection is not reused.
    generation: std::sync::atomic::AtomicU64,
    /// To reconnect when the machine went away (a reboot between provisioners).
    config: Config,
    /// The SFTP session, with the connection generation it belongs to.
    sftp: Mutex<Option<(u64, Arc<SftpSession>)>>,
    use_sftp: bool,
    pty: bool,
    /// Makes the line each command reports its process group with unique to this connection.
    nonce: String,
    /// Stopping cancelled commands, until a provisioner asks how that went.
    stopping: command::Pending,
}

fn err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(format!("{what}: {e}"))
}

/// Who logs in, and how.
struct Login {
    user: String,
    password: Option<String>,
    key_file: Option<String>,
    /// An OpenSSH certificate for `key_file`.
    cert_file: Option<String>,
    /// An in-memory key (a temporary key pair).
    key: Option<String>,
    agent: bool,
}

impl Login {
    fn target(c: &Config) -> Login {
        Login {
            user: c.ssh_username.clone().unwrap_or_default(),
            password: c.ssh_password.clone(),
            key_file: c.ssh_private_key_file.clone(),
            cert_file: c.ssh_certificate_file.clone(),
            key: c.ssh_private_key.clone(),
            agent: c.ssh_agent_auth == Some(true),
        }
    }

    /// The bastion's login; unset options fall back to the target's, as Packer does (the
    /// target's certificate with the target's key).
    fn bastion(c: &Config) -> Login {
        let t = Login::target(c);
        let (key_file, cert_file) = match &c.ssh_bastion_private_key_file {
            Some(k) => (Some(k.clone()), c.ssh_bastion_certificate_file.clone()),
            None => (t.key_file, c.ssh_bastion_certificate_file.clone().or(t.cert_file)),
        };
        Login {
            user: c.ssh_bastion_username.clone().unwrap_or(t.user),
            password: c.ssh_bastion_password.clone().or(t.password),
            key_file,
            cert_file,
            key: None,
            agent: c.ssh_bastion_agent_auth.unwrap_or(t.agent),
        }
    }
}

/// An attempt's failure: whether trying again may help.
type Attempt<T> = std::result::Result<T, (bool, Error)>;

fn client_config(c: &Config) -> Arc<client::Config> {
    Arc::new(client::Config {
        keepalive_interval: Some(c.ssh_keep_alive_interval.map_or(Duration::from_secs(5), |d| d.get())),
        inactivity_timeout: c.ssh_read_write_timeout.map(|d| d.get()).filter(|d| !d.is_zero()),
        // Checked at prepare; an error here would have stopped the build there.
        preferred: c.ssh_preferred().unwrap_or_default(),
        // Without it, each small request (a channel open, an exec, a short stdin) waits on
        // Nagle's algorithm for the previous one's delayed ACK (40 ms on Linux): commands run
        // one after another, as Ansible's through the proxy, paid that on every step.
        nodelay: true,
        ..client::Config::default()
    })
}

/// Authenticates `h` with every method `login` allows, in Packer's order.
async fn authenticate(h: &mut Handle<Client>, login: &Login) -> Attempt<()> {
    let user = &login.user;
    let auth_err = |e: russh::Error| (true, err("authenticating", e));
    let mut keys = Vec::new();
    if let Some(pem) = &login.key {
        let key =
            russh::keys::decode_secret_key(pem, None).map_err(|e| (false, err("reading the temporary key", e)))?;
        keys.push((Arc::new(key), None));
    }
    if let Some(key_file) = login.key_file.as_deref().filter(|f| !f.is_empty()) {
        let key = Arc::new(identity::read_key("ssh_private_key_file", key_file).map_err(|e| (false, Error::new(e)))?);
        let cert = match login.cert_file.as_deref().filter(|f| !f.is_empty()) {
            Some(f) => {
                Some(identity::read_certificate("ssh_certificate_file", f, &key).map_err(|e| (false, Error::new(e)))?)
            }
            None => None,
        };
        keys.push((key, cert));
    }
    for (key, cert) in keys {
        let hash = h.best_supported_rsa_hash().await.map_err(auth_err)?.flatten();
        // The certificate first (a server that trusts its CA may know no plain key), then the
        // key alone, as OpenSSH's client tries them.
        if let Some(cert) = cert {
            match h.authenticate_certificate_with(user, cert, hash, &mut identity::KeySigner(key.clone())).await {
                Ok(r) if r.success() => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err((true, err("authenticating with ssh_certificate_file", e))),
            }
        }
        if h.authenticate_publickey(user, PrivateKeyWithHashAlg::new(key, hash)).await.map_err(auth_err)?.success() {
            return Ok(());
        }
    }
    if login.agent {
        let mut agent = russh::keys::agent::client::AgentClient::connect_env()
            .await
            .map_err(|e| (false, err("connecting to the SSH agent (SSH_AUTH_SOCK)", e)))?;
        let ids = agent.request_identities().await.map_err(|e| (false, err("listing the SSH agent's keys", e)))?;
        let hash = h.best_supported_rsa_hash().await.map_err(auth_err)?.flatten();
        for id in ids {
            use russh::keys::agent::AgentIdentity;
            let r = match id {
                AgentIdentity::PublicKey { key, .. } => {
                    h.authenticate_publickey_with(user, key, hash, &mut agent).await
                }
                // Certificates the agent holds are offered too, as OpenSSH's client does.
                AgentIdentity::Certificate { certificate, .. } => {
                    h.authenticate_certificate_with(user, certificate, hash, &mut agent).await
                }
            };
            match r {
                Ok(r) if r.success() => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err((true, err("authenticating with the SSH agent", e))),
            }
        }
    }
    if let Some(pw) = &login.password {
        if h.authenticate_password(user, pw).await.map_err(auth_err)?.success() {
            return Ok(());
        }
        // Servers with only keyboard-interactive: answer every prompt with the password.
        use russh::client::KeyboardInteractiveAuthResponse as K;
        let mut r = h.authenticate_keyboard_interactive_start(user, None).await.map_err(auth_err)?;
        for _ in 0..5 {
            match r {
                K::Success => return Ok(()),
                K::Failure { .. } => break,
                K::InfoRequest { prompts, .. } => {
                    r = h
                        .authenticate_keyboard_interactive_respond(prompts.iter().map(|_| pw.clone()).collect())
                        .await
                        .map_err(auth_err)?;
                }
            }
        }
    }
    Err((true, Error::new(format!("authentication as {user:?} failed (check the ssh_username, ssh_password, ssh_private_key_file, ssh_certificate_file and ssh_agent_auth options)"))))
}

/// `ssh_proxy_host`'s SOCKS5 proxy, when one is set.
struct Proxy<'a> {
    host: &'a str,
    port: u16,
    auth: Option<(&'a str, &'a str)>,
}

fn proxy(c: &Config) -> Option<Proxy<'_>> {
    let host = c.ssh_proxy_host.as_deref().filter(|h| !h.is_empty())?;
    let auth = c
        .ssh_proxy_username
        .as_deref()
        .filter(|u| !u.is_empty())
        .map(|u| (u, c.ssh_proxy_password.as_deref().unwrap_or("")));
    Some(Proxy { host, port: c.ssh_proxy_port.unwrap_or(1080), auth })
}

impl Proxy<'_> {
    /// A TCP connection to `host:port` through the proxy.
    async fn dial(&self, host: &str, port: u16) -> Result<tokio::net::TcpStream> {
        socks::connect(self.host, self.port, self.auth, host, port).await.map_err(|e| {
            Error::new(format!("connecting to {host}:{port} through the SOCKS5 proxy {}:{}: {e}", self.host, self.port))
        })
    }
}

/// One attempt: TCP (directly or through the bastion), handshake, authentication. Returns the
/// session and the bastion's, which must live as long as it.
async fn attempt(
    c: &Config,
    host: &str,
    port: u16,
    remote: &Arc<Vec<tunnel::Spec>>,
) -> Attempt<(Handle<Client>, Option<Handle<Client>>)> {
    let config = client_config(c);
    let target = Client { remote: Arc::clone(remote) };
    match c.ssh_bastion_host.as_deref().filter(|b| !b.is_empty()) {
        None => {
            // A refused or dropped connection means "not up yet": retry.
            let h = match (c.ssh_opened.take(), proxy(c)) {
                (Some(opened), _) => client::connect_stream(config, opened, target).await,
                (None, Some(p)) => {
                    let stream = p.dial(host, port).await.map_err(|e| (true, e))?;
                    client::connect_stream(config, stream, target).await
                }
                (None, None) => client::connect(config, (host, port), target).await,
            };
            let mut h = h.map_err(|e| (true, err("connecting", e)))?;
            authenticate(&mut h, &Login::target(c)).await?;
            Ok((h, None))
        }
        Some(bastion) => {
            let bport = c.ssh_bastion_port.unwrap_or(22);
            let b = match proxy(c) {
                Some(p) => {
                    let stream = p.dial(bastion, bport).await.map_err(|e| (true, e))?;
                    client::connect_stream(Arc::clone(&config), stream, Client::default()).await
                }
                None => client::connect(Arc::clone(&config), (bastion, bport), Client::default()).await,
            };
            let mut b = b.map_err(|e| (true, err(&format!("connecting to the bastion {bastion}:{bport}"), e)))?;
            authenticate(&mut b, &Login::bastion(c)).await.map_err(|(r, e)| (r, e.context("bastion")))?;
            let ch = b
                .channel_open_direct_tcpip(host, u32::from(port), "127.0.0.1", 0)
                .await
                .map_err(|e| (true, err(&format!("tunnelling to {host}:{port} through the bastion"), e)))?;
            let mut h = client::connect_stream(config, ch.into_stream(), target)
                .await
                .map_err(|e| (true, err("connecting through the bastion", e)))?;
            authenticate(&mut h, &Login::target(c)).await?;
            Ok((h, Some(b)))
        }
    }
}

/// Connects as `c` says, retrying until `ssh_timeout` (default 5m) or `ssh_handshake_attempts`
/// failed authentications (default 10). `say` reports progress.
pub async fn connect(c: &Config, say: &(dyn Fn(&str) + Send + Sync)) -> Result<Ssh> {
    let via = match c.ssh_bastion_host.as_deref().filter(|b| !b.is_empty()) {
        Some(b) => format!(" through the bastion {b}:{}", c.ssh_bastion_port.unwrap_or(22)),
        None => String::new(),
    };
    say(&format!(
        "Waiting for SSH to become available on {}:{}{via} (timeout {})...",
        c.ssh_host.as_deref().unwrap_or_default(),
        c.ssh_port.unwrap_or(22),
        kiln_config::golang::format_go_duration(ssh_timeout(c))
    ));
    let (local, remote) = tunnels(c)?;
    let remote = Arc::new(remote);
    let conn = establish(c, &remote).await?;
    say("Connected to SSH!");
    tunnel::request_remote(&conn.0, &remote).await?;
    let conn = Arc::new(Mutex::new(conn));
    let local_tunnels = tunnel::listen_local(&conn, &local).await?;
    Ok(Ssh {
        conn,
        _local_tunnels: local_tunnels,
        remote_tunnels: remote,
        generation: std::sync::atomic::AtomicU64::new(0),
        config: c.clone(),
        sftp: Mutex::new(None),
        use_sftp: c.ssh_file_transfer_method.as_deref() != Some("scp"),
        pty: c.ssh_pty.unwrap_or(false),
        nonce: nonce(),
        stopping: command::Pending::default(),
    })
}

/// 16 hex digits from the OS's random source.
fn nonce() -> String {
    kiln_config::random::hex(&kiln_config::random::bytes::<8>())
}

/// The session and the bastion's (kept open for the tunnel).
type Conn = (Handle<Client>, Option<Handle<Client>>);

/// `ssh_timeout` (or `ssh_wait_timeout`), default 5 minutes.
fn ssh_timeout(c: &Config) -> Duration {
    c.ssh_timeout()
}

/// The longest one attempt (TCP, banner, handshake, login) may take before it is abandoned and
/// tried again: a machine that accepts connections before its sshd answers (a booting guest
/// behind QEMU's port forwarding) must not hold the whole wait.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(20);

/// The retry loop of [`connect`], also used to reconnect after the machine went away.
async fn establish(c: &Config, remote: &Arc<Vec<tunnel::Spec>>) -> Result<Conn> {
    let host = c.ssh_host.clone().unwrap_or_default();
    let port = c.ssh_port.unwrap_or(22);
    let addr = format!("{host}:{port}");
    let timeout = ssh_timeout(c);
    let max_handshakes = c.ssh_handshake_attempts.unwrap_or(10).max(1);
    let start = Instant::now();
    let mut handshakes = 0;
    let mut wait = Duration::from_millis(100);
    loop {
        let limit = timeout.saturating_sub(start.elapsed()).clamp(Duration::from_millis(100), ATTEMPT_LIMIT);
        let r = match tokio::time::timeout(limit, attempt(c, &host, port, remote)).await {
            Ok(r) => r,
            Err(_) => Err((
                true,
                Error::new(format!(
                    "no SSH handshake within {}: the port accepts connections but no SSH server answered",
                    kiln_config::golang::format_go_duration(limit)
                )),
            )),
        };
        match r {
            Ok(conn) => return Ok(conn),
            Err((false, e)) => return Err(e),
            Err((true, e)) => {
                if e.message.starts_with("authentication") {
                    handshakes += 1;
                    if handshakes >= max_handshakes {
                        return Err(Error::new(format!(
                            "{e}; gave up after {handshakes} attempts (ssh_handshake_attempts)"
                        )));
                    }
                }
                if start.elapsed() + wait > timeout {
                    return Err(Error::new(format!(
                        "Timeout waiting for SSH on {addr} after {} (ssh_timeout); last error: {e}",
                        kiln_config::golang::format_go_duration(timeout)
                    )));
                }
                // Poll quickly at first (a local machine answers at once), then back off.
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

impl Ssh {
    /// A new session channel; reconnects first when the connection is gone.
    async fn channel(&self) -> Result<russh::Channel<client::Msg>> {
        let mut conn = self.conn.lock().await;
        if !conn.0.is_closed() {
            if let Ok(ch) = conn.0.channel_open_session().await {
                return Ok(ch);
            }
        }
        *conn = establish(&self.config, &self.remote_tunnels).await?;
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // The machine's sshd forgot the remote tunnels with the old connection.
        tunnel::request_remote(&conn.0, &self.remote_tunnels).await?;
        conn.0.channel_open_session().await.map_err(|e| err("opening a channel", e))
    }

    async fn sftp(&self) -> Result<Option<Arc<SftpSession>>> {
        if !self.use_sftp {
            return Ok(None);
        }
        let mut guard = self.sftp.lock().await;
        let current = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        if let Some((generation, s)) = guard.as_ref() {
            // The connection may have dropped since (a reboot): then open a new session.
            if *generation == current && !self.conn.lock().await.0.is_closed() {
                return Ok(Some(Arc::clone(s)));
            }
        }
        let ch = self.channel().await?;
        let current = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        if ch.request_subsystem(true, "sftp").await.is_err() {
            return Ok(None);
        }
        match SftpSession::new(ch.into_stream()).await {
            Ok(s) => {
                let s = Arc::new(s);
                *guard = Some((current, Arc::clone(&s)));
                Ok(Some(s))
            }
            Err(_) => Ok(None),
        }
    }

    /// Runs `command` feeding it `input` on stdin; the exit status.
    async fn run_with_input(
        &self,
        command: &str,
        input: &mut (dyn tokio::io::AsyncRead + Unpin + Send),
    ) -> Result<Option<i32>> {
        let mut ch = self.channel().await?;
        ch.exec(true, command).await.map_err(|e| err("starting a command", e))?;
        // Owned chunks go through the same queue as the EOF, so they cannot be overtaken by it.
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = input.read(&mut buf).await.map_err(|e| err("reading the data to send", e))?;
            if n == 0 {
                break;
            }
            ch.data_bytes(buf[..n].to_vec()).await.map_err(|e| err("sending data", e))?;
        }
        ch.eof().await.map_err(|e| err("sending data", e))?;
        let mut code = None;
        let mut stderr = Vec::new();
        while let Some(msg) = ch.wait().await {
            match msg {
                ChannelMsg::ExitStatus { exit_status } => code = Some(exit_status as i32),
                ChannelMsg::ExtendedData { data, .. } => stderr.extend_from_slice(&data),
                _ => {}
            }
        }
        if code != Some(0) {
            return Err(Error::new(format!("{command}: {}", String::from_utf8_lossy(&stderr).trim())));
        }
        Ok(code)
    }

    /// Runs `work` (a transfer on the current connection) until it ends or the connection is
    /// lost: a session that dies mid-transfer (sshd killed, the machine gone, keep-alives
    /// unanswered) can leave a write waiting forever for window space that never comes.
    async fn while_connected<T>(&self, what: &str, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let generation = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        let lost = async {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let closed = self.conn.lock().await.0.is_closed();
                if closed || self.generation.load(std::sync::atomic::Ordering::SeqCst) != generation {
                    return;
                }
            }
        };
        tokio::select! {
            r = work => r,
            _ = lost => Err(Error::new(format!("{what}: the SSH connection was lost"))),
        }
    }

    async fn upload_reader(&self, dst: &str, src: Reader<'_>, meta: UploadMeta) -> Result<()> {
        let mut src = meta.track(src);
        let sftp = self.sftp().await?;
        // From here on a failed or cancelled upload must not leave a partial file behind.
        let mut partial = partial::Partial::new(dst, sftp.clone(), Arc::clone(&self.conn), Arc::clone(&self.stopping));
        let sent = self.while_connected(&format!("uploading to {dst}"), self.send(dst, sftp, &mut src, &meta)).await;
        match sent {
            Ok(()) => {
                partial.done();
                Ok(())
            }
            Err(e) => Err(partial.remove_now(e).await),
        }
    }

    /// The bytes of an upload, over SFTP when there is a session, else through `cat`.
    async fn send(
        &self,
        dst: &str,
        sftp: Option<Arc<SftpSession>>,
        src: &mut (dyn tokio::io::AsyncRead + Unpin + Send),
        meta: &UploadMeta,
    ) -> Result<()> {
        let Some(sftp) = sftp else {
            let mut command = format!("cat > {}", quote(dst));
            if let Some(mode) = meta.mode {
                command.push_str(&format!(" && chmod {mode:o} {}", quote(dst)));
            }
            return self.run_with_input(&command, src).await.map(|_| ());
        };
        let mut f = sftp.create(dst).await.map_err(|e| err(&format!("creating {dst}"), e))?;
        // Large reads mean large SFTP writes, which the server acknowledges in fewer round trips.
        let mut r = tokio::io::BufReader::with_capacity(256 * 1024, src);
        tokio::io::copy_buf(&mut r, &mut f).await.map_err(|e| err(&format!("uploading to {dst}"), e))?;
        f.shutdown().await.map_err(|e| err(&format!("closing {dst}"), e))?;
        if let Some(mode) = meta.mode {
            let attrs = FileAttributes { permissions: Some(mode), ..FileAttributes::empty() };
            sftp.set_metadata(dst, attrs).await.map_err(|e| err(&format!("setting the mode of {dst}"), e))?;
        }
        Ok(())
    }

    async fn download_to(&self, src: &str, out: Writer<'_>) -> Result<()> {
        if let Some(sftp) = self.sftp().await? {
            let mut f = sftp.open(src).await.map_err(|e| err(&format!("opening {src} on the machine"), e))?;
            tokio::io::copy(&mut f, out).await.map_err(|e| err(&format!("downloading {src}"), e))?;
            out.flush().await?;
            return Ok(());
        }
        let mut ch = self.channel().await?;
        ch.exec(true, format!("cat {}", quote(src))).await.map_err(|e| err("starting cat", e))?;
        let mut code = None;
        while let Some(msg) = ch.wait().await {
            match msg {
                ChannelMsg::Data { data } => out.write_all(&data).await?,
                ChannelMsg::ExitStatus { exit_status } => code = Some(exit_status),
                _ => {}
            }
        }
        out.flush().await?;
        if code != Some(0) {
            return Err(Error::new(format!("downloading {src} failed")));
        }
        Ok(())
    }

    async fn mkdir_p(&self, dirs: &[String]) -> Result<()> {
        let noop = |_: Stream, _: &str| {};
        let list: Vec<String> = dirs.iter().map(|d| quote(d)).collect();
        match self.start(&format!("mkdir -p {}", list.join(" ")), &noop).await? {
            Some(0) => Ok(()),
            _ => Err(Error::new(format!("cannot create the folders {} on the machine", dirs.join(", ")))),
        }
    }
}

#[async_trait]
impl Communicator for Ssh {
    async fn exec(&self, command: &str, io: ExecIo<'_>) -> Result<Option<i32>> {
        let ch = self.channel().await?;
        if self.pty {
            ch.request_pty(true, "xterm", 80, 40, 0, 0, &[]).await.map_err(|e| err("requesting a pty", e))?;
        }
        let marker = command::Marker::new(&self.nonce);
        let mut run = command::Running::new(ch, marker, Arc::clone(&self.conn), Arc::clone(&self.stopping));
        run.exec(command).await.map_err(|e| err("starting the command", e))?;
        run.pipe(io, self.pty).await
    }

    async fn stop_cancelled(&self, ui: &kiln_core::Ui) {
        command::report(&self.stopping, ui).await;
    }

    async fn remove_file(&self, path: &str) -> Result<()> {
        let Some(sftp) = self.sftp().await? else {
            return kiln_core::communicator::remove_with_rm(self, path).await;
        };
        partial::sftp_remove(&sftp, path).await.map_err(|e| Error::new(format!("removing {path} on the machine: {e}")))
    }

    async fn subsystem(&self, name: &str, io: ExecIo<'_>) -> Result<Subsystem> {
        let mut ch = self.channel().await?;
        ch.request_subsystem(true, name).await.map_err(|e| err("requesting a subsystem", e))?;
        // sshd answers before it starts the server; nothing else comes before the answer.
        loop {
            match ch.wait().await {
                Some(ChannelMsg::Success) => break,
                Some(ChannelMsg::Failure) | None => return Ok(Subsystem::Unavailable),
                Some(_) => {}
            }
        }
        let mut run = command::Running::subsystem(ch, Arc::clone(&self.conn), Arc::clone(&self.stopping));
        run.pipe(io, false).await.map(Subsystem::Ended)
    }

    async fn upload(&self, dst: &str, src: Reader<'_>, meta: UploadMeta) -> Result<()> {
        self.upload_reader(dst, src, meta).await
    }

    async fn upload_dir(&self, dst: &str, src: &Path, exclude: &[String]) -> Result<()> {
        let contents_only = src.to_string_lossy().ends_with('/');
        let root = if contents_only {
            dst.trim_end_matches('/').to_string()
        } else {
            let name = src.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            format!("{}/{name}", dst.trim_end_matches('/'))
        };
        // Walk locally first, then create folders and send files.
        let mut stack = vec![(src.to_path_buf(), PathBuf::new())];
        let mut files = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some((dir, rel)) = stack.pop() {
            let mut rd = tokio::fs::read_dir(&dir).await.map_err(|e| err(&format!("reading {}", dir.display()), e))?;
            while let Some(e) = rd.next_entry().await? {
                let r = rel.join(e.file_name());
                if exclude.iter().any(|x| Path::new(x) == r) {
                    continue;
                }
                let remote = format!("{root}/{}", r.to_string_lossy());
                if e.file_type().await?.is_dir() {
                    dirs.push(remote);
                    stack.push((e.path(), r));
                } else {
                    files.push((e.path(), remote));
                }
            }
        }
        self.mkdir_p(&dirs).await?;
        for (local, remote) in files {
            self.upload_file(&remote, &local).await?;
        }
        Ok(())
    }

    async fn download(&self, src: &str, out: Writer<'_>) -> Result<()> {
        self.while_connected(&format!("downloading {src}"), self.download_to(src, out)).await
    }
    async fn download_dir(&self, src: &str, dst: &Path, exclude: &[String]) -> Result<()> {
        // List the remote tree with find, then fetch file by file.
        let lines = std::sync::Mutex::new(Vec::new());
        let collect = |s: Stream, l: &str| {
            if s == Stream::Stdout {
                if let Ok(mut v) = lines.lock() {
                    v.push(l.to_string());
                }
            }
        };
        let base = src.trim_end_matches('/');
        let code = self.start(&format!("cd {} && find . -type f", quote(base)), &collect).await?;
        if code != Some(0) {
            return Err(Error::new(format!("listing {src} on the machine failed")));
        }
        let target = if src.ends_with('/') {
            dst.to_path_buf()
        } else {
            dst.join(Path::new(base).file_name().unwrap_or_default())
        };
        let files = lines.into_inner().unwrap_or_default();
        for rel in files {
            let rel = rel.trim_start_matches("./").to_string();
            if exclude.contains(&rel) {
                continue;
            }
            self.download_file(&format!("{base}/{rel}"), &target.join(&rel)).await?;
        }
        Ok(())
    }
}
