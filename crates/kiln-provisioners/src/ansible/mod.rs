//! `ansible`: runs `ansible-playbook` on the machine running kiln, against the machine being
//! built. Over an SSH communicator Ansible gets the real connection (host, port, user and the
//! build's private key in a private temporary file); with `use_proxy`, or another communicator,
//! it connects to an SSH endpoint kiln serves on 127.0.0.1 ([`proxy`]).

mod inventory;
pub mod proxy;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_comm::shell_local::output_to;
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::private_temp::TempFile;
use kiln_core::{async_trait, BuildInfo, Communicator, Error, GeneratedData, Provisioner, Result, RunContext};
use serde::Deserialize;

use crate::remote::check_path;
pub use inventory::{render_inventory, Inventory, DEFAULT_INVENTORY_TEMPLATE};

/// Options of `ansible`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The playbook to run (a local file). Required.
    #[serde(default)]
    pub playbook_file: String,
    /// The program that runs the playbook (default `ansible-playbook`); run through `/bin/sh`,
    /// so `VAR=value ansible-playbook` works.
    #[serde(default)]
    pub command: Option<String>,
    /// Further arguments for `ansible-playbook`, one argument per item.
    #[serde(default)]
    pub extra_arguments: Vec<String>,
    /// `KEY=value` pairs set for `ansible-playbook` (and `ansible-galaxy`).
    /// `ANSIBLE_HOST_KEY_CHECKING=False` is added unless set here.
    #[serde(default)]
    pub ansible_env_vars: Vec<String>,
    /// Arguments Ansible gives `ssh` (`--ssh-extra-args`; default `["-o IdentitiesOnly=yes"]`).
    #[serde(default)]
    pub ansible_ssh_extra_args: Option<Vec<String>>,
    /// Inventory groups the machine is put in.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Inventory groups written with no host in them.
    #[serde(default)]
    pub empty_groups: Vec<String>,
    /// The machine's name in the inventory (default `default`).
    #[serde(default)]
    pub host_alias: Option<String>,
    /// The user Ansible logs in as (default: the communicator's user when Ansible uses the machine's own SSH connection; through kiln's proxy, the user running kiln, as in Packer — set it to the guest's user when the playbook uses `become`).
    #[serde(default)]
    pub user: Option<String>,
    /// Where the generated inventory file is written (default: kiln's private temporary folder,
    /// or the system's temporary folder with `keep_inventory_file`).
    #[serde(default)]
    pub inventory_directory: Option<String>,
    /// The inventory line of the machine, with `{{ .HostAlias }}`, `{{ .Host }}`, `{{ .User }}`
    /// and `{{ .Port }}` (default
    /// `{{ .HostAlias }} ansible_host={{ .Host }} ansible_user={{ .User }} ansible_port={{ .Port }}`).
    #[serde(default)]
    pub inventory_file_template: Option<String>,
    /// Leave the generated inventory file in place (its path is printed).
    #[serde(default)]
    pub keep_inventory_file: bool,
    /// A Galaxy requirements file whose roles (and, with `collections_path`, collections) are
    /// installed before the playbook runs.
    #[serde(default)]
    pub galaxy_file: Option<String>,
    /// The program that installs `galaxy_file` (default `ansible-galaxy`).
    #[serde(default)]
    pub galaxy_command: Option<String>,
    /// Reinstall Galaxy roles and collections that are already there (`--force`).
    #[serde(default)]
    pub galaxy_force_install: bool,
    /// Reinstall what `galaxy_file` lists and their dependencies (`--force-with-deps`).
    #[serde(default)]
    pub galaxy_force_with_deps: bool,
    /// The type of the proxy's keys (its host key and the key Ansible logs in with): `ECDSA`
    /// (a P-256 key; later Packers' default), `RSA` (2048 bits, for an Ansible whose SSH client
    /// takes no elliptic-curve keys) or `ED25519`. Unset: Ed25519 (kiln's default, the
    /// cheapest to sign with). Proxy only.
    #[serde(default)]
    pub ansible_proxy_key_type: Option<String>,
    /// For WinRM: make Ansible use HTTP. kiln has no WinRM communicator yet, so this is
    /// accepted and does nothing (with a warning).
    #[serde(default)]
    pub ansible_winrm_use_http: bool,
    /// Where Galaxy roles are installed, and `ANSIBLE_ROLES_PATH` for the playbook.
    #[serde(default)]
    pub roles_path: Option<String>,
    /// Where Galaxy collections are installed, and `ANSIBLE_COLLECTIONS_PATH` for the playbook.
    #[serde(default)]
    pub collections_path: Option<String>,
    /// Reach the machine through an SSH endpoint kiln serves on 127.0.0.1 that relays commands
    /// and file copies (scp and SFTP) to the build's communicator. Always used when the
    /// communicator is not SSH; over SSH, unset or `false` gives Ansible the real connection.
    #[serde(default)]
    pub use_proxy: Option<bool>,
    /// The port of the proxy endpoint (default: a free one). Proxy only.
    #[serde(default)]
    pub local_port: Option<u16>,
    /// The SFTP server command the proxy runs on the machine for Ansible's SFTP sessions.
    /// Default: the machine's own `sftp` subsystem when the communicator is SSH (no login shell
    /// starts for each file: ~85 ms less per copied file where the user's shell startup is
    /// slow), else the first `sftp-server` found in the usual places, with `-e`. (Packer 1.6.6
    /// runs `/usr/lib/sftp-server -e` through the shell.) Proxy only.
    #[serde(default)]
    pub sftp_command: Option<String>,
    /// Do not check that `command` can be found before running it (for an Ansible that an
    /// earlier step installs).
    #[serde(default)]
    pub skip_version_check: bool,
    /// Ansible copies files with SFTP instead of scp.
    #[serde(default)]
    pub use_sftp: bool,
    /// The proxy's SSH host key (default: a new ed25519 key each run). Proxy only.
    #[serde(default)]
    pub ssh_host_key_file: Option<String>,
    /// The public key the proxy accepts (default: a new key pair each run, its private half
    /// given to Ansible; with this option, Ansible must find the private half itself, in an
    /// agent or through `extra_arguments`). Proxy only.
    #[serde(default)]
    pub ssh_authorized_key_file: Option<String>,
}

#[derive(Default)]
pub struct Ansible {
    config: Config,
}

pub fn new() -> Box<dyn Provisioner> {
    Box::<Ansible>::default()
}

/// The user running kiln (Ansible's user for the proxy, as in Packer).
fn local_user() -> String {
    std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "root".into())
}

/// `KEY=value` pairs, split.
fn env_pairs(kvs: &[String]) -> Vec<(String, String)> {
    kvs.iter().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The environment of Ansible's commands: the user's variables, plus kiln's defaults for what
/// they leave unset (no host key prompt for a machine nobody has seen; the copy method).
pub fn ansible_env(c: &Config) -> Vec<(String, String)> {
    let mut env = env_pairs(&c.ansible_env_vars);
    let has = |env: &[(String, String)], k: &str| env.iter().any(|(n, _)| n == k);
    if !has(&env, "ANSIBLE_HOST_KEY_CHECKING") {
        env.push(("ANSIBLE_HOST_KEY_CHECKING".into(), "False".into()));
    }
    if !has(&env, "ANSIBLE_SSH_TRANSFER_METHOD") && !has(&env, "ANSIBLE_SCP_IF_SSH") {
        env.push(("ANSIBLE_SSH_TRANSFER_METHOD".into(), if c.use_sftp { "sftp" } else { "scp" }.into()));
    }
    if let Some(p) = &c.roles_path {
        env.push(("ANSIBLE_ROLES_PATH".into(), p.clone()));
    }
    if let Some(p) = &c.collections_path {
        env.push(("ANSIBLE_COLLECTIONS_PATH".into(), p.clone()));
    }
    env
}

/// `command` run through the shell with `args` as its positional arguments (no quoting games).
fn shell_argv(command: &str, args: Vec<String>) -> Vec<String> {
    let mut argv = vec!["/bin/sh".to_string(), "-c".into(), format!("{command} \"$@\""), "ansible".into()];
    argv.extend(args);
    argv
}

/// The program `command` runs (after leading `VAR=value` words), when it is one plain word.
fn program_of(command: &str) -> Option<&str> {
    command.split_whitespace().find(|w| !w.contains('='))
}

/// Whether `program` can be run: a path that exists, or a name found on `PATH`.
fn findable(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// Runs `argv` locally with `env`, its output on the UI; an error unless it exits with 0.
async fn run_local(ctx: &RunContext, argv: &[String], env: &[(String, String)], what: &str) -> Result<()> {
    ctx.ui.log(format!("running: {argv:?}"));
    let output = output_to(&ctx.ui);
    match ctx.cancel.run(kiln_comm::local::run_argv(argv, env, &output)).await?? {
        Some(0) => Ok(()),
        Some(code) => Err(Error::new(format!("{what} failed: non-zero exit status {code}"))),
        None => Err(Error::new(format!("{what} was killed by a signal"))),
    }
}

#[async_trait]
impl Provisioner for Ansible {
    fn prepare(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"ansible\" provisioner")?;
        let mut d = Diagnostics::new();
        if c.playbook_file.is_empty() {
            d.push(
                Diagnostic::error("the ansible provisioner needs a playbook_file")
                    .at_opt(config.span.clone())
                    .with_help("add \"playbook_file\": the path of the playbook to run"),
            );
        } else {
            check_path(&mut d, config, "playbook_file", &c.playbook_file, false);
        }
        if let Some(f) = &c.galaxy_file {
            check_path(&mut d, config, "galaxy_file", f, false);
        }
        for (key, f) in
            [("ssh_host_key_file", &c.ssh_host_key_file), ("ssh_authorized_key_file", &c.ssh_authorized_key_file)]
        {
            if let Some(f) = f {
                check_path(&mut d, config, key, f, false);
            }
        }
        if let Some(dir) = &c.inventory_directory {
            check_path(&mut d, config, "inventory_directory", dir, true);
        }
        if let Err(e) = proxy::key_type(c.ansible_proxy_key_type.as_deref()) {
            d.push(Diagnostic::error(e).at_opt(config.span_of("ansible_proxy_key_type")));
        }
        let mut warnings = Vec::new();
        if c.ansible_winrm_use_http {
            warnings.push(
                Diagnostic::warning("ansible_winrm_use_http does nothing: kiln has no WinRM communicator yet")
                    .at_opt(config.span_of("ansible_winrm_use_http"))
                    .with_help("remove it"),
            );
        }
        for kv in &c.ansible_env_vars {
            if !kv.contains('=') {
                d.push(
                    Diagnostic::error(format!("ansible_env_vars: {kv:?} is not KEY=value"))
                        .at_opt(config.span_of("ansible_env_vars"))
                        .with_help("write it as \"NAME=value\""),
                );
            }
        }
        if let Some(t) = &c.inventory_file_template {
            if let Err(e) = render_inventory(&c, t, &Inventory::example()) {
                d.push(
                    Diagnostic::error(format!("inventory_file_template: {e}"))
                        .at_opt(config.span_of("inventory_file_template")),
                );
            }
        }
        let command = c.command.as_deref().unwrap_or("ansible-playbook");
        if !c.skip_version_check {
            if let Some(p) = program_of(command).filter(|p| !findable(p)) {
                d.push(
                    Diagnostic::error(format!("{p} is not installed (not found on PATH)"))
                        .at_opt(config.span_of("command").or(config.span.clone()))
                        .with_help("install Ansible, set \"command\", or set \"skip_version_check\": true if the build installs it"),
                );
            }
        }
        d.into_result()?;
        self.config = c;
        Ok(warnings)
    }

    async fn provision(&self, ctx: &RunContext, comm: Arc<dyn Communicator>, data: &GeneratedData) -> Result<()> {
        let c = &self.config;
        let ui = &ctx.ui;
        let field = |k: &str| data.get(k).cloned().unwrap_or_default();
        let env = ansible_env(c);
        if let Some(f) = &c.galaxy_file {
            self.galaxy(ctx, f, &env).await?;
        }
        let direct = field("ConnType") == "ssh" && c.use_proxy != Some(true);
        let mut proxy = None;
        let (target, key) = if direct {
            let target = Inventory {
                host_alias: c.host_alias.clone().unwrap_or_else(|| "default".into()),
                host: field("Host"),
                port: field("Port"),
                user: c.user.clone().unwrap_or_else(|| field("User")),
            };
            // The build's key, readable only by this user, gone when `key` drops.
            let key_data = field("SSHPrivateKey");
            let key = if key_data.is_empty() {
                None
            } else {
                let name = format!("ansible-key{}", kiln_comm::shell_local::unique());
                Some(TempFile::create(&name, key_data.as_bytes(), 0o600)?)
            };
            (target, key)
        } else {
            let p = proxy::start(c, Arc::clone(&comm), ui).await?;
            let target = Inventory {
                host_alias: c.host_alias.clone().unwrap_or_else(|| "default".into()),
                host: "127.0.0.1".into(),
                port: p.port.to_string(),
                user: c.user.clone().unwrap_or_else(local_user),
            };
            proxy = Some(p);
            (target, None)
        };
        let key_path =
            key.as_ref().or(proxy.as_ref().and_then(|p| p.client_key.as_ref())).map(|k| k.path().to_path_buf());
        let template = c.inventory_file_template.as_deref().unwrap_or(DEFAULT_INVENTORY_TEMPLATE);
        let text = render_inventory(c, template, &target)?;
        let inventory = inventory::write(c, &text)?;
        if c.keep_inventory_file {
            ui.say(format!("Keeping the inventory file {}", inventory.path().display()));
        }
        let mut args = vec!["-e".to_string(), format!("packer_build_name={}", ctx.info.name)];
        args.extend(["-e".into(), format!("packer_builder_type={}", ctx.info.builder_type)]);
        let http = field("PackerHTTPAddr");
        if !http.is_empty() {
            args.extend(["-e".into(), format!("packer_http_addr={http}")]);
        }
        let mut ssh_extra = c.ansible_ssh_extra_args.clone().unwrap_or_else(|| vec!["-o IdentitiesOnly=yes".into()]);
        if proxy.is_some() {
            // The proxy's host key is new each run: keep it out of the user's known_hosts.
            ssh_extra.push("-o UserKnownHostsFile=/dev/null".into());
        }
        if !ssh_extra.is_empty() {
            args.push(format!("--ssh-extra-args={}", ssh_extra.join(" ")));
        }
        if let Some(k) = &key_path {
            args.push(format!("--private-key={}", k.display()));
        }
        args.extend(c.extra_arguments.iter().cloned());
        args.extend(["-i".into(), inventory.path().to_string_lossy().into_owned()]);
        args.push(c.playbook_file.clone());
        let command = c.command.as_deref().unwrap_or("ansible-playbook");
        ui.say(format!("Executing Ansible: {command} {}", args.join(" ")));
        let result = run_local(ctx, &shell_argv(command, args), &env, "the playbook").await;
        drop(key);
        drop(inventory);
        drop(proxy);
        result
    }
}

impl Ansible {
    /// Installs `file`'s roles (and its collections when `collections_path` is set).
    async fn galaxy(&self, ctx: &RunContext, file: &str, env: &[(String, String)]) -> Result<()> {
        let c = &self.config;
        let galaxy = c.galaxy_command.as_deref().unwrap_or("ansible-galaxy");
        let force: Vec<String> = [(c.galaxy_force_install, "--force"), (c.galaxy_force_with_deps, "--force-with-deps")]
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, flag)| flag.to_string())
            .collect();
        let mut roles = vec!["install".to_string(), "-r".into(), file.into()];
        if let Some(p) = &c.roles_path {
            roles.extend(["--roles-path".into(), p.clone()]);
        }
        roles.extend(force.clone());
        ctx.ui.say(format!("Executing Ansible Galaxy: {galaxy} {}", roles.join(" ")));
        run_local(ctx, &shell_argv(galaxy, roles), env, "installing the galaxy roles").await?;
        if let Some(p) = &c.collections_path {
            let mut cols =
                vec!["collection".to_string(), "install".into(), "-r".into(), file.into(), "-p".into(), p.clone()];
            cols.extend(force);
            ctx.ui.say(format!("Executing Ansible Galaxy: {galaxy} {}", cols.join(" ")));
            run_local(ctx, &shell_argv(galaxy, cols), env, "installing the galaxy collections").await?;
        }
        Ok(())
    }
}

/// Where a file kiln writes for Ansible lives: in kiln's private folder (removed on drop), or a
/// path the user keeps.
pub enum Written {
    Temp(TempFile),
    Kept(PathBuf),
    Removed(PathBuf),
}

impl Written {
    pub fn path(&self) -> &Path {
        match self {
            Written::Temp(t) => t.path(),
            Written::Kept(p) | Written::Removed(p) => p,
        }
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        if let Written::Removed(p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests;
