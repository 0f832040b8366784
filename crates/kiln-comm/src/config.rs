//! Packer's communicator options, shared by every builder that reaches a machine.

use std::sync::Arc;

use kiln_config::decode::Duration;
use kiln_config::diag::{did_you_mean, Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::{Communicator, Error, Result};
use serde::Deserialize;

/// Communicator options. Embedded in a builder's options with
/// [`kiln_config::decode::decode_split`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Config {
    /// `ssh` (Packer's default), `none`, or `local` (kiln: run on this machine).
    #[serde(default)]
    pub communicator: Option<String>,
    /// Wait this long before the first connection attempt.
    #[serde(default)]
    pub pause_before_connecting: Option<Duration>,
    /// The host to connect to.
    #[serde(default)]
    pub ssh_host: Option<String>,
    /// The SSH port (default 22).
    #[serde(default)]
    pub ssh_port: Option<u16>,
    /// The user to log in as.
    #[serde(default)]
    pub ssh_username: Option<String>,
    /// The password for password or keyboard-interactive login.
    #[serde(default)]
    pub ssh_password: Option<String>,
    /// A private key file to log in with (`~` is your home folder); read at validate, as
    /// Packer does: it must exist and have no passphrase (use `ssh_agent_auth` for such keys).
    #[serde(default)]
    pub ssh_private_key_file: Option<String>,
    /// Log in with the keys of the running SSH agent.
    #[serde(default)]
    pub ssh_agent_auth: Option<bool>,
    /// How long to wait for SSH to become available (default 5m).
    #[serde(default)]
    pub ssh_timeout: Option<Duration>,
    /// How many handshakes to try before giving up (default 10).
    #[serde(default)]
    pub ssh_handshake_attempts: Option<u32>,
    /// Request a pseudo-terminal for commands.
    #[serde(default)]
    pub ssh_pty: Option<bool>,
    /// Interval between keep-alive messages (default 5s).
    #[serde(default)]
    pub ssh_keep_alive_interval: Option<Duration>,
    /// `sftp` (default; kiln falls back to `scp` when the server has no SFTP subsystem) or `scp`.
    #[serde(default)]
    pub ssh_file_transfer_method: Option<String>,
    /// Remove the temporary key from `authorized_keys` at the end.
    #[serde(default)]
    pub ssh_clear_authorized_keys: Option<bool>,
    /// Do not forward the local SSH agent (kiln never forwards it; accepted for compatibility).
    #[serde(default)]
    pub ssh_disable_agent_forwarding: Option<bool>,
    /// Connect through this jump host.
    #[serde(default)]
    pub ssh_bastion_host: Option<String>,
    /// The bastion's SSH port (default 22).
    #[serde(default)]
    pub ssh_bastion_port: Option<u16>,
    /// The bastion's user (default `ssh_username`).
    #[serde(default)]
    pub ssh_bastion_username: Option<String>,
    /// The bastion's password (default `ssh_password`).
    #[serde(default)]
    pub ssh_bastion_password: Option<String>,
    /// The bastion's private key file (default `ssh_private_key_file`).
    #[serde(default)]
    pub ssh_bastion_private_key_file: Option<String>,
    /// Log in to the bastion with the SSH agent (default `ssh_agent_auth`).
    #[serde(default)]
    pub ssh_bastion_agent_auth: Option<bool>,
    /// Ports on this machine's loopback forwarded to the machine being built (`ssh -L`): each
    /// `PORT:HOST:HOSTPORT` listens on 127.0.0.1:PORT here and connects to HOST:HOSTPORT as
    /// the machine sees it.
    #[serde(default)]
    pub ssh_local_tunnels: Option<Vec<String>>,
    /// Ports on the machine's loopback forwarded back to this one (`ssh -R`): each
    /// `PORT:HOST:HOSTPORT` listens on 127.0.0.1:PORT on the machine and connects to
    /// HOST:HOSTPORT as this machine sees it.
    #[serde(default)]
    pub ssh_remote_tunnels: Option<Vec<String>>,
    /// Old name of `ssh_timeout` (deprecated); when set, it wins, as in Packer.
    #[serde(default)]
    pub ssh_wait_timeout: Option<Duration>,
    /// The ciphers the SSH client offers, most preferred first (default: kiln's list, the
    /// cheapest for a guest first). `aes128-gcm@openssh.com`, `aes256-gcm@openssh.com`,
    /// `chacha20-poly1305@openssh.com`, `aes128-ctr`, `aes192-ctr`, `aes256-ctr` …
    #[serde(default)]
    pub ssh_ciphers: Option<Vec<String>>,
    /// The key exchange algorithms the SSH client offers, most preferred first:
    /// `curve25519-sha256`, `ecdh-sha2-nistp256`, `diffie-hellman-group14-sha256` …
    #[serde(default)]
    pub ssh_key_exchange_algorithms: Option<Vec<String>>,
    /// Drop the connection when nothing is read or written on it for this long (a machine that
    /// went away without closing it). Unset: never.
    #[serde(default)]
    pub ssh_read_write_timeout: Option<Duration>,
    /// Log in to the bastion with keyboard-interactive authentication: kiln answers its prompts
    /// with `ssh_bastion_password` (it tries that method anyway); it does not ask at the
    /// terminal, as Packer does.
    #[serde(default)]
    pub ssh_bastion_interactive: Option<bool>,
    /// An OpenSSH user certificate for `ssh_private_key_file` (`ssh-keygen -s` makes one): kiln
    /// logs in with it first, then with the key alone. Checked at validate: it must certify
    /// that key; an expired one, or one for other users, is a warning.
    #[serde(default)]
    pub ssh_certificate_file: Option<String>,
    /// An OpenSSH user certificate for the bastion's key (`ssh_bastion_private_key_file`; when
    /// that is unset, the bastion logs in with `ssh_private_key_file` and its
    /// `ssh_certificate_file`).
    #[serde(default)]
    pub ssh_bastion_certificate_file: Option<String>,
    /// A SOCKS5 proxy the SSH connection goes through (to the bastion, when there is one); it
    /// resolves the host names.
    #[serde(default)]
    pub ssh_proxy_host: Option<String>,
    /// The SOCKS5 proxy's port (default 1080).
    #[serde(default)]
    pub ssh_proxy_port: Option<u16>,
    /// The SOCKS5 proxy's user (with `ssh_proxy_host`).
    #[serde(default)]
    pub ssh_proxy_username: Option<String>,
    /// The SOCKS5 proxy's password (with `ssh_proxy_host`).
    #[serde(default)]
    pub ssh_proxy_password: Option<String>,
    /// WinRM's user. The `winrm_*` options are accepted as Packer accepts them and do nothing:
    /// kiln has no WinRM communicator yet (`communicator = "winrm"` is an error).
    #[serde(default)]
    pub winrm_username: Option<String>,
    /// WinRM's password (does nothing in kiln yet).
    #[serde(default)]
    pub winrm_password: Option<String>,
    /// WinRM's host (does nothing in kiln yet).
    #[serde(default)]
    pub winrm_host: Option<String>,
    /// WinRM's port (does nothing in kiln yet).
    #[serde(default)]
    pub winrm_port: Option<u16>,
    /// How long to wait for WinRM (does nothing in kiln yet).
    #[serde(default)]
    pub winrm_timeout: Option<Duration>,
    /// WinRM over HTTPS (does nothing in kiln yet).
    #[serde(default)]
    pub winrm_use_ssl: Option<bool>,
    /// Skip WinRM's certificate check (does nothing in kiln yet).
    #[serde(default)]
    pub winrm_insecure: Option<bool>,
    /// WinRM with NTLM authentication (does nothing in kiln yet).
    #[serde(default)]
    pub winrm_use_ntlm: Option<bool>,
    /// WinRM without the proxy environment variables (does nothing in kiln yet).
    #[serde(default)]
    pub winrm_no_proxy: Option<bool>,
    /// The type of the temporary key pair a builder makes when no password or key is given:
    /// `ed25519` (kiln's default; Packer's is `rsa`), `ecdsa` or `rsa`.
    #[serde(default)]
    pub temporary_key_pair_type: Option<String>,
    /// The size of the temporary key in bits: RSA 2048 to 16384 (default 4096); ECDSA 256,
    /// 384 or 521 (default 521).
    #[serde(default)]
    pub temporary_key_pair_bits: Option<u32>,
    /// A private key in OpenSSH format held in memory (a builder's temporary key pair); not an
    /// option users set.
    #[serde(skip)]
    pub ssh_private_key: Option<String>,
    /// A connection to the SSH server the builder already opened (QEMU's wait for the guest's
    /// sshd), for the first attempt to continue on; not an option users set.
    #[serde(skip)]
    pub ssh_opened: crate::ssh::Opened,
}

/// Whether kiln implements a communicator type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Every builder that reaches a machine can use it ([`Config::connect`]).
    Yes,
    /// Only the builder of this type connects it (the docker builder's `docker`).
    Builder(&'static str),
    /// Packer has it; kiln does not yet.
    No,
}

/// Every communicator type a template may name, and whether kiln implements it: Packer's `ssh`,
/// `none` and `winrm`, the docker builder's `docker` and `dockerWindowsContainer`, and kiln's
/// `local`. Implementing one is changing its line here (and connecting it in the builder that
/// uses it, or in [`Config::connect`]).
pub const COMMUNICATORS: &[(&str, Support)] = &[
    ("ssh", Support::Yes),
    ("none", Support::Yes),
    ("local", Support::Yes),
    ("docker", Support::Builder("docker")),
    ("winrm", Support::No),
    ("dockerWindowsContainer", Support::No),
];

/// The communicator types kiln implements, in table order, for messages:
/// `ssh, none, local, docker (docker builder only)`.
pub fn implemented() -> String {
    let names = COMMUNICATORS.iter().filter_map(|(name, support)| match support {
        Support::Yes => Some(name.to_string()),
        Support::Builder(b) => Some(format!("{name} ({b} builder only)")),
        Support::No => None,
    });
    names.collect::<Vec<_>>().join(", ")
}

/// `list` as russh's algorithm names; an error names `option` and lists the names of `all` that
/// `offered` keeps (`what`: "a cipher").
fn algorithms<T>(
    option: &str,
    what: &str,
    list: &[String],
    all: &[&T],
    offered: impl Fn(&str) -> bool,
) -> std::result::Result<Vec<T>, String>
where
    T: for<'a> TryFrom<&'a str> + AsRef<str>,
{
    list.iter()
        .map(|n| {
            T::try_from(n.as_str()).map_err(|_| {
                let names: Vec<&str> = all.iter().map(|a| a.as_ref()).filter(|a| offered(a)).collect();
                format!("{option}: {n:?} is not {what} kiln's SSH client has: use {}", names.join(", "))
            })
        })
        .collect()
}

/// The WinRM options kiln accepts and does not use.
const WINRM_OPTIONS: &[&str] = &[
    "winrm_username",
    "winrm_password",
    "winrm_host",
    "winrm_port",
    "winrm_timeout",
    "winrm_use_ssl",
    "winrm_insecure",
    "winrm_use_ntlm",
    "winrm_no_proxy",
];

impl Config {
    /// The communicator type, `ssh` when unset (as Packer).
    pub fn kind(&self) -> &str {
        self.communicator.as_deref().unwrap_or("ssh")
    }

    /// How long to wait for SSH: `ssh_wait_timeout` (the old name wins, as in Packer), else
    /// `ssh_timeout`, else 5 minutes.
    pub fn ssh_timeout(&self) -> std::time::Duration {
        self.ssh_wait_timeout.or(self.ssh_timeout).map_or(std::time::Duration::from_secs(300), |d| d.get())
    }

    /// What `ssh_private_key_file` holds (a leading `~` is the home folder); empty when it is
    /// unset or cannot be read. The build's `SSHPrivateKey` when the user gave a key file.
    pub fn private_key_file_text(&self) -> String {
        let file = self.ssh_private_key_file.as_deref().filter(|f| !f.is_empty());
        file.and_then(|f| std::fs::read_to_string(kiln_config::golang::expand_user(f)).ok()).unwrap_or_default()
    }

    /// Sets the time left to wait for SSH (whichever option named it).
    pub fn set_ssh_timeout(&mut self, left: std::time::Duration) {
        self.ssh_wait_timeout = None;
        self.ssh_timeout = Some(Duration(left));
    }

    /// The SSH client's algorithm preferences from `ssh_ciphers` and
    /// `ssh_key_exchange_algorithms` (russh's defaults for the rest); an error names an
    /// algorithm kiln's client does not have.
    pub fn ssh_preferred(&self) -> std::result::Result<russh::Preferred, String> {
        let mut p = russh::Preferred::default();
        if let Some(list) = &self.ssh_ciphers {
            if let Some(n) = list.iter().find(|n| matches!(n.as_str(), "none" | "clear")) {
                return Err(format!("ssh_ciphers: {n:?} would send everything unencrypted"));
            }
            let offered = |c: &str| !matches!(c, "clear" | "none");
            let names = algorithms("ssh_ciphers", "a cipher", list, russh::cipher::ALL_CIPHERS, offered)?;
            p.cipher = std::borrow::Cow::Owned(names);
        }
        if let Some(list) = &self.ssh_key_exchange_algorithms {
            let offered = |k: &str| !k.starts_with("ext-info") && !k.starts_with("kex-strict") && k != "none";
            let names = algorithms(
                "ssh_key_exchange_algorithms",
                "a key exchange",
                list,
                russh::kex::ALL_KEX_ALGORITHMS,
                offered,
            )?;
            p.kex = std::borrow::Cow::Owned(names);
        }
        Ok(p)
    }

    /// Reads the private keys and certificates the options name, as Packer does at validate:
    /// a file that is missing, unreadable, protected by a passphrase, or a certificate for
    /// another key is an error at its option; a certificate the server will refuse (expired,
    /// not yet valid, for other users) is a warning, since the key alone may still log in.
    fn check_identities(&self, config: &Node) -> Diagnostics {
        let mut d = Diagnostics::new();
        let set = |v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(str::to_string);
        let user = set(&self.ssh_username).unwrap_or_default();
        let mut logins = vec![(
            ("ssh_private_key_file", set(&self.ssh_private_key_file)),
            ("ssh_certificate_file", set(&self.ssh_certificate_file)),
            user.clone(),
        )];
        if set(&self.ssh_bastion_host).is_some() {
            // The bastion's key falls back to the target's, its certificate with it.
            let key = match set(&self.ssh_bastion_private_key_file) {
                Some(k) => ("ssh_bastion_private_key_file", Some(k)),
                None => logins[0].0.clone(),
            };
            let cert = match set(&self.ssh_bastion_certificate_file) {
                Some(c) => ("ssh_bastion_certificate_file", Some(c)),
                None if key.0 == "ssh_private_key_file" => logins[0].1.clone(),
                None => ("ssh_bastion_certificate_file", None),
            };
            logins.push((key, cert, set(&self.ssh_bastion_username).unwrap_or(user)));
        }
        let mut checked = Vec::new();
        for ((key_opt, key_file), (cert_opt, cert_file), user) in logins {
            if checked.contains(&(key_opt, cert_opt)) {
                continue;
            }
            checked.push((key_opt, cert_opt));
            let key = match key_file.as_deref().map(|f| crate::ssh::identity::read_key(key_opt, f)) {
                Some(Ok(k)) => Some(k),
                Some(Err(e)) => {
                    d.push(Diagnostic::error(e).at_opt(config.span_of(key_opt)).with_help(
                        "name an unencrypted OpenSSH, PEM or PuTTY private key, or log in with the SSH agent (ssh_agent_auth)",
                    ));
                    None
                }
                None => None,
            };
            let Some(cert_file) = cert_file else { continue };
            let Some(key) = key else {
                if key_file.is_none() {
                    d.push(
                        Diagnostic::warning(format!("{cert_opt} does nothing without {key_opt}"))
                            .at_opt(config.span_of(cert_opt))
                            .with_help(format!("set {key_opt} to the private key the certificate was made for")),
                    );
                }
                continue;
            };
            match crate::ssh::identity::read_certificate(cert_opt, &cert_file, &key) {
                Err(e) => d.push(Diagnostic::error(e).at_opt(config.span_of(cert_opt)).with_help(format!(
                    "sign {key_opt}'s public key with your CA: ssh-keygen -s CA_KEY -I ID -n USER KEY.pub"
                ))),
                Ok(cert) => {
                    let now = crate::ssh::identity::unix_now();
                    let problems = crate::ssh::identity::certificate_problems(&cert, &user, now);
                    if !problems.is_empty() {
                        d.push(
                            Diagnostic::warning(format!(
                                "{cert_opt}: the server will refuse this certificate: {}",
                                problems.join("; ")
                            ))
                            .at_opt(config.span_of(cert_opt))
                            .with_help("sign the key again for this user (ssh-keygen -s CA_KEY -I ID -n USER -V +1d KEY.pub); kiln still tries the key alone"),
                        );
                    }
                }
            }
        }
        if set(&self.ssh_bastion_host).is_none() && set(&self.ssh_bastion_certificate_file).is_some() {
            d.push(
                Diagnostic::warning("ssh_bastion_certificate_file does nothing without ssh_bastion_host")
                    .at_opt(config.span_of("ssh_bastion_certificate_file")),
            );
        }
        d
    }

    /// Checks the options for a builder that connects to a given host (`null`): what must be set.
    /// `config` is the builder's whole configuration, to point at the right lines.
    pub fn check(&self, config: &Node, needs_host: bool) -> Diagnostics {
        let mut d = Diagnostics::new();
        let kind = self.kind();
        let unsupported = |summary: String| {
            Diagnostic::error(summary)
                .at_opt(config.span_of("communicator"))
                .with_detail(format!("kiln implements these communicators: {}", implemented()))
        };
        match COMMUNICATORS.iter().find(|(name, _)| *name == kind) {
            Some((_, Support::Yes)) => {}
            Some((_, Support::Builder(b))) => {
                // The builder that owns it connects it and does not call this check.
                d.push(unsupported(format!("the {kind} communicator works only with the {b} builder")));
                return d;
            }
            Some((_, Support::No)) => {
                d.push(unsupported(format!("the {kind} communicator is not implemented in kiln yet")));
                return d;
            }
            None => {
                let mut e = unsupported(format!("unknown communicator {kind:?}"));
                if let Some(s) = did_you_mean(kind, COMMUNICATORS.iter().map(|(name, _)| *name)) {
                    e = e.with_help(format!("did you mean {s:?}?"));
                }
                d.push(e);
                return d;
            }
        }
        if kind == "ssh" {
            if needs_host && self.ssh_host.as_deref().unwrap_or("").is_empty() {
                d.push(
                    Diagnostic::error("ssh_host must be set: the null builder connects to an existing machine")
                        .at_opt(config.span.clone())
                        .with_help("add \"ssh_host\", or set \"communicator\": \"none\" to run without a machine"),
                );
            }
            if self.ssh_username.as_deref().unwrap_or("").is_empty() {
                d.push(
                    Diagnostic::error("ssh_username must be set for the ssh communicator")
                        .at_opt(config.span.clone())
                        .with_help("add \"ssh_username\""),
                );
            }
            let has_auth = self.ssh_password.as_deref().is_some_and(|p| !p.is_empty())
                || self.ssh_private_key_file.as_deref().is_some_and(|p| !p.is_empty())
                || self.ssh_agent_auth == Some(true);
            if needs_host && !has_auth {
                d.push(
                    Diagnostic::error("the ssh communicator needs a way to log in")
                        .at_opt(config.span.clone())
                        .with_help("set \"ssh_password\", \"ssh_private_key_file\" or \"ssh_agent_auth\": true"),
                );
            }
            if let Err(e) = crate::keys::KeyType::from_options(
                self.temporary_key_pair_type.as_deref(),
                self.temporary_key_pair_bits,
            ) {
                let key = if self.temporary_key_pair_type.is_some() && !e.starts_with("temporary_key_pair_bits") {
                    "temporary_key_pair_type"
                } else {
                    "temporary_key_pair_bits"
                };
                d.push(Diagnostic::error(e).at_opt(config.span_of(key)));
            }
            for (key, list) in
                [("ssh_local_tunnels", &self.ssh_local_tunnels), ("ssh_remote_tunnels", &self.ssh_remote_tunnels)]
            {
                let items = match config.get(key).map(|n| &n.settled().kind) {
                    Some(kiln_config::node::NodeKind::Array(items)) => items.as_slice(),
                    _ => &[],
                };
                for (i, text) in list.iter().flatten().enumerate() {
                    if let Err(e) = crate::ssh::tunnel::Spec::parse(text) {
                        let at = items.get(i).and_then(|n| n.span.clone()).or_else(|| config.span_of(key));
                        d.push(Diagnostic::error(format!("{key}: {e}")).at_opt(at));
                    }
                }
            }
            if let Err(e) = self.ssh_preferred() {
                let key = if e.starts_with("ssh_ciphers") { "ssh_ciphers" } else { "ssh_key_exchange_algorithms" };
                d.push(Diagnostic::error(e).at_opt(config.span_of(key)));
            }
            d.extend(self.check_identities(config));
            if self.ssh_proxy_host.as_deref().unwrap_or("").is_empty() {
                let unused = ["ssh_proxy_port", "ssh_proxy_username", "ssh_proxy_password"];
                if let Some(k) = unused.iter().find(|k| config.get(k).is_some()) {
                    d.push(
                        Diagnostic::warning(format!("{k} does nothing without ssh_proxy_host"))
                            .at_opt(config.span_of(k)),
                    );
                }
            }
            if self.ssh_bastion_interactive == Some(true) {
                d.push(
                    Diagnostic::warning("ssh_bastion_interactive: kiln answers the bastion's prompts with ssh_bastion_password, it does not ask at the terminal")
                        .at_opt(config.span_of("ssh_bastion_interactive")),
                );
            }
            if config.get("ssh_wait_timeout").is_some() {
                d.push(
                    Diagnostic::warning("ssh_wait_timeout is deprecated")
                        .at_opt(config.span_of("ssh_wait_timeout"))
                        .with_help("rename it to ssh_timeout (`packer fix` does)"),
                );
            }
            let winrm: Vec<&str> = WINRM_OPTIONS.iter().copied().filter(|k| config.get(k).is_some()).collect();
            if let Some(first) = winrm.first() {
                d.push(
                    Diagnostic::warning(format!("{} do nothing with the ssh communicator", winrm.join(", ")))
                        .at_opt(config.span_of(first)),
                );
            }
            if let Some(m) = self.ssh_file_transfer_method.as_deref() {
                if m != "scp" && m != "sftp" {
                    d.push(
                        Diagnostic::error(format!("invalid ssh_file_transfer_method {m:?}"))
                            .at_opt(config.span_of("ssh_file_transfer_method"))
                            .with_help("use \"scp\" or \"sftp\""),
                    );
                }
            }
        }
        d
    }

    /// Connects as configured; `say` reports progress ("Waiting for SSH to become available...").
    pub async fn connect(&self, say: &(dyn Fn(&str) + Send + Sync)) -> Result<Arc<dyn Communicator>> {
        if let Some(p) = self.pause_before_connecting {
            tokio::time::sleep(p.get()).await;
        }
        match self.kind() {
            "none" => Ok(Arc::new(crate::NoneComm)),
            "local" => Ok(Arc::new(crate::Local::default())),
            "ssh" => Ok(Arc::new(crate::ssh::connect(self, say).await?)),
            other => Err(Error::new(format!(
                "the {other} communicator is not available here (kiln implements: {})",
                implemented()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_key_is_not_a_user_option() {
        let fields = kiln_config::decode::fields_of::<Config>();
        assert!(fields.contains(&"ssh_private_key_file"));
        assert!(!fields.contains(&"ssh_private_key"));
        assert!(!fields.contains(&"ssh_opened"));
    }

    #[test]
    fn ssh_needs_host_and_user() {
        let n = kiln_template::testing::json_node("t.json", r#"{"communicator":"ssh"}"#).unwrap();
        let c: Config = kiln_config::decode::decode(&n).unwrap();
        let d = c.check(&n, true);
        assert_eq!(d.0.len(), 3);
        assert_eq!(d.0[2].summary, "the ssh communicator needs a way to log in");
        assert!(d.0[0].summary.starts_with("ssh_host must be set"));
        let n = kiln_template::testing::json_node("t.json", r#"{"communicator":"nnoe"}"#).unwrap();
        let c: Config = kiln_config::decode::decode(&n).unwrap();
        let d = c.check(&n, true);
        assert_eq!(d.0[0].help.as_deref(), Some("did you mean \"none\"?"));
        assert_eq!(d.0[0].span.as_ref().unwrap().line_col(), (1, 17));
    }

    /// Packer 1.6.6's other communicator options: decoded, checked, and what kiln does not do
    /// said at the option.
    #[test]
    fn packer_1_6_6_communicator_options_kiln_accepts() {
        let text = r#"{"type": "null", "ssh_host": "h", "ssh_username": "u", "ssh_password": "p",
 "ssh_wait_timeout": "30s", "ssh_ciphers": ["aes128-gcm@openssh.com", "aes256-ctr"],
 "ssh_key_exchange_algorithms": ["curve25519-sha256"], "ssh_read_write_timeout": "10s",
 "ssh_bastion_interactive": true, "ssh_certificate_file": "", "ssh_proxy_port": 1080,
 "winrm_username": "Administrator", "winrm_use_ssl": true}"#;
        let n = kiln_template::testing::json_node("t.json", text).unwrap();
        let c: Config = kiln_config::decode::decode(&n).unwrap();
        assert_eq!(c.ssh_timeout(), std::time::Duration::from_secs(30));
        let p = c.ssh_preferred().unwrap();
        assert_eq!(p.cipher.iter().map(|n| n.as_ref()).collect::<Vec<_>>(), ["aes128-gcm@openssh.com", "aes256-ctr"]);
        assert_eq!(p.kex.iter().map(|n| n.as_ref()).collect::<Vec<_>>(), ["curve25519-sha256"]);
        let d = c.check(&n, true);
        let found: Vec<(bool, &str)> = d.0.iter().map(|d| (d.is_error(), d.summary.as_str())).collect();
        assert_eq!(
            found,
            [
                (false, "ssh_proxy_port does nothing without ssh_proxy_host"),
                (false, "ssh_bastion_interactive: kiln answers the bastion's prompts with ssh_bastion_password, it does not ask at the terminal"),
                (false, "ssh_wait_timeout is deprecated"),
                (false, "winrm_username, winrm_use_ssl do nothing with the ssh communicator"),
            ]
        );
        let text = r#"{"ssh_host": "h", "ssh_username": "u", "ssh_password": "p", "ssh_ciphers": ["aes128-cbc", "rot13"],
 "ssh_certificate_file": "/k-cert.pub", "ssh_bastion_certificate_file": "/b-cert.pub", "ssh_proxy_host": "socks"}"#;
        let n = kiln_template::testing::json_node("t.json", text).unwrap();
        let c: Config = kiln_config::decode::decode(&n).unwrap();
        let d = c.check(&n, true);
        let errors: Vec<&str> = d.0.iter().filter(|d| d.is_error()).map(|d| d.summary.as_str()).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("ssh_ciphers: \"rot13\" is not a cipher kiln's SSH client has: use "),
            "{errors:?}"
        );
        assert!(!errors[0].contains("none") && !errors[0].contains("clear"), "{errors:?}");
        let plain = Config { ssh_ciphers: Some(vec!["none".into()]), ..Config::default() };
        assert_eq!(
            plain.ssh_preferred().err().as_deref(),
            Some("ssh_ciphers: \"none\" would send everything unencrypted")
        );
        let warnings: Vec<&str> = d.0.iter().filter(|d| !d.is_error()).map(|d| d.summary.as_str()).collect();
        assert_eq!(
            warnings,
            [
                "ssh_certificate_file does nothing without ssh_private_key_file",
                "ssh_bastion_certificate_file does nothing without ssh_bastion_host"
            ]
        );
    }

    #[test]
    fn packer_communicators_kiln_lacks_are_errors_at_the_option() {
        let cases = [
            ("winrm", "the winrm communicator is not implemented in kiln yet"),
            ("docker", "the docker communicator works only with the docker builder"),
        ];
        for (kind, summary) in cases {
            let text = format!("{{\"type\": \"null\",\n \"communicator\": \"{kind}\"}}");
            let n = kiln_template::testing::json_node("t.json", &text).unwrap();
            let c: Config = kiln_config::decode::decode(&n).unwrap();
            let d = c.check(&n, true);
            assert_eq!(d.0.len(), 1, "{d}");
            assert_eq!(d.0[0].summary, summary);
            assert_eq!(
                d.0[0].detail.as_deref(),
                Some("kiln implements these communicators: ssh, none, local, docker (docker builder only)")
            );
            assert_eq!(d.0[0].span.as_ref().unwrap().line_col(), (2, 18));
        }
    }
}
