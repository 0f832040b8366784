//! `ansible-local`: uploads playbooks, roles and variables to a staging folder on the machine
//! and runs `ansible-playbook` there in local mode (Ansible must be installed on the machine).

use std::path::PathBuf;
use std::sync::Arc;

use kiln_comm::shell_quote;
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::{async_trait, BuildInfo, Communicator, GeneratedData, Provisioner, Result, RunContext};

use crate::remote::{base_name, check_path, remove_staging, run};
use serde::Deserialize;

/// Where the staging folders go by default, one per run of the provisioner.
const STAGING_BASE: &str = "/tmp/packer-provisioner-ansible-local";
const DEFAULT_COMMAND: &str = "ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook";

/// A list written either as a JSON/HCL list or as one comma-separated string (Packer accepts both).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CommaList {
    List(Vec<String>),
    Text(String),
}

impl CommaList {
    pub fn items(&self) -> Vec<String> {
        match self {
            CommaList::List(v) => v.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            CommaList::Text(s) => s.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
        }
    }
}

/// Options of `ansible-local`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The playbook to run (a local file, uploaded to the staging folder). One of
    /// `playbook_file` and `playbook_files` is required.
    #[serde(default)]
    pub playbook_file: Option<String>,
    /// Several playbooks, run in order. A playbook inside `playbook_dir` is run from there;
    /// the others are uploaded to the staging folder.
    #[serde(default)]
    pub playbook_files: Option<Vec<String>>,
    /// A local folder whose contents become the staging folder (a whole Ansible tree), uploaded
    /// before everything else.
    #[serde(default)]
    pub playbook_dir: Option<String>,
    /// Local folders of further playbooks, uploaded into `<staging_directory>/playbooks`.
    #[serde(default)]
    pub playbook_paths: Vec<String>,
    /// Local role folders, each uploaded to `<staging_directory>/roles/<its name>`.
    #[serde(default)]
    pub role_paths: Vec<String>,
    /// A local `group_vars` folder, uploaded to `<staging_directory>/group_vars`.
    #[serde(default)]
    pub group_vars: Option<String>,
    /// A local `host_vars` folder, uploaded to `<staging_directory>/host_vars`.
    #[serde(default)]
    pub host_vars: Option<String>,
    /// A local inventory file to use instead of the generated one (which lists `127.0.0.1`
    /// in each of `inventory_groups`).
    #[serde(default)]
    pub inventory_file: Option<String>,
    /// Groups the machine is put in by the generated inventory: a list or a comma-separated string.
    #[serde(default)]
    pub inventory_groups: Option<CommaList>,
    /// Further arguments for `ansible-playbook`, added to the command line as written (quote
    /// what the shell should not split).
    #[serde(default)]
    pub extra_arguments: Vec<String>,
    /// A local Galaxy requirements file: uploaded, then its roles installed into
    /// `galaxy_roles_path` and, when it lists `collections:`, its collections into
    /// `galaxy_collections_path`, before the playbooks run.
    #[serde(default)]
    pub galaxy_file: Option<String>,
    /// The command that installs `galaxy_file` (default `ansible-galaxy`).
    #[serde(default)]
    pub galaxy_command: Option<String>,
    /// Reinstall what `galaxy_file` lists even when it is there (`ansible-galaxy … -f`).
    #[serde(default)]
    pub galaxy_force_install: bool,
    /// The folder on the machine `galaxy_file`'s roles go to (default
    /// `<staging_directory>/roles`, where the playbooks find them); another one is added to
    /// `ANSIBLE_ROLES_PATH` for the playbooks.
    #[serde(default)]
    pub galaxy_roles_path: Option<String>,
    /// The folder on the machine `galaxy_file`'s collections go to (default
    /// `<staging_directory>/galaxy_collections`); added to `ANSIBLE_COLLECTIONS_PATH` for the
    /// playbooks.
    #[serde(default)]
    pub galaxy_collections_path: Option<String>,
    /// Local `ansible_collections` folders (holding `NAMESPACE/NAME/…`), uploaded to
    /// `<staging_directory>/collections/ansible_collections`; `<staging_directory>/collections`
    /// is added to `ANSIBLE_COLLECTIONS_PATH` for the playbooks.
    #[serde(default)]
    pub collection_paths: Vec<String>,
    /// The folder on the machine everything is uploaded to (default
    /// `/tmp/packer-provisioner-ansible-local/<a new UUID>`); created when missing.
    #[serde(default)]
    pub staging_directory: Option<String>,
    /// Remove the staging folder when the provisioner is done (default false: it stays).
    #[serde(default)]
    pub clean_staging_directory: bool,
    /// The command that runs a playbook (default
    /// `ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook`).
    #[serde(default)]
    pub command: Option<String>,
}

#[derive(Default)]
pub struct AnsibleLocal {
    config: Config,
}

pub fn new() -> Box<dyn Provisioner> {
    Box::<AnsibleLocal>::default()
}

/// The generated inventory: the local host in each group, or alone.
pub(crate) fn local_inventory(groups: &[String]) -> String {
    if groups.is_empty() {
        return "127.0.0.1\n".into();
    }
    groups.iter().map(|g| format!("[{g}]\n127.0.0.1\n")).collect()
}

#[async_trait]
impl Provisioner for AnsibleLocal {
    fn prepare(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"ansible-local\" provisioner")?;
        let mut d = Diagnostics::new();
        match (&c.playbook_file, &c.playbook_files) {
            (None, None) => d.push(
                Diagnostic::error("the ansible-local provisioner has no playbook")
                    .at_opt(config.span.clone())
                    .with_help("set \"playbook_file\" (or \"playbook_files\")"),
            ),
            (Some(_), Some(_)) => d.push(
                Diagnostic::error("only one of playbook_file and playbook_files may be set")
                    .at_opt(config.span_of("playbook_files")),
            ),
            _ => {}
        }
        if let Some(p) = &c.playbook_file {
            check_path(&mut d, config, "playbook_file", p, false);
        }
        for p in c.playbook_files.iter().flatten() {
            check_path(&mut d, config, "playbook_files", p, false);
        }
        for (key, p) in [("playbook_dir", &c.playbook_dir), ("group_vars", &c.group_vars), ("host_vars", &c.host_vars)]
        {
            if let Some(p) = p {
                check_path(&mut d, config, key, p, true);
            }
        }
        for p in &c.playbook_paths {
            check_path(&mut d, config, "playbook_paths", p, true);
        }
        for p in &c.role_paths {
            check_path(&mut d, config, "role_paths", p, true);
        }
        for p in &c.collection_paths {
            check_path(&mut d, config, "collection_paths", p, true);
        }
        for key in ["galaxy_force_install", "galaxy_roles_path", "galaxy_collections_path"] {
            if c.galaxy_file.is_none() && config.get(key).is_some() {
                d.push(
                    Diagnostic::warning(format!("{key} does nothing without galaxy_file"))
                        .at_opt(config.span_of(key))
                        .with_help("add \"galaxy_file\" (a Galaxy requirements file), or remove it"),
                );
            }
        }
        for (key, p) in [("inventory_file", &c.inventory_file), ("galaxy_file", &c.galaxy_file)] {
            if let Some(p) = p {
                check_path(&mut d, config, key, p, false);
            }
        }
        if c.inventory_file.is_some() && c.inventory_groups.is_some() {
            d.push(
                Diagnostic::warning("inventory_groups is ignored when inventory_file is set")
                    .at_opt(config.span_of("inventory_groups")),
            );
        }
        let warnings: Vec<Diagnostic> = d.warnings().cloned().collect();
        d.into_result()?;
        self.config = c;
        Ok(warnings)
    }

    async fn provision(&self, ctx: &RunContext, comm: Arc<dyn Communicator>, data: &GeneratedData) -> Result<()> {
        let c = &self.config;
        let staging = c
            .staging_directory
            .clone()
            .unwrap_or_else(|| format!("{STAGING_BASE}/{}", kiln_core::scheduler::new_uuid()));
        let staging = staging.trim_end_matches('/').to_string();
        ctx.ui.say("Provisioning with Ansible...");
        let result = self.stage_and_run(ctx, &comm, data, &staging).await;
        if c.clean_staging_directory {
            // Whatever the outcome: nothing the provisioner uploaded stays behind.
            remove_staging(ctx, &comm, &staging, &format!("rm -rf {}", shell_quote(&staging))).await;
        }
        result
    }
}

impl AnsibleLocal {
    async fn stage_and_run(
        &self,
        ctx: &RunContext,
        comm: &Arc<dyn Communicator>,
        data: &GeneratedData,
        staging: &str,
    ) -> Result<()> {
        let c = &self.config;
        let ui = &ctx.ui;
        ui.say(format!("Creating staging directory {staging}..."));
        run(ctx, comm, &format!("mkdir -p {}", shell_quote(staging)), "creating the staging directory").await?;
        let upload_dir = |dst: String, src: PathBuf| {
            let comm = Arc::clone(comm);
            async move { ctx.cancel.run(comm.upload_dir(&dst, &src, &[])).await? }
        };
        let upload_file = |dst: String, src: PathBuf| {
            let comm = Arc::clone(comm);
            async move { ctx.cancel.run(comm.upload_file(&dst, &src)).await? }
        };
        if let Some(dir) = &c.playbook_dir {
            ui.say(format!("Uploading playbook directory {dir}..."));
            // The folder's contents become the staging folder.
            upload_dir(staging.to_string(), PathBuf::from(format!("{}/", dir.trim_end_matches('/')))).await?;
        }
        let playbooks: Vec<&String> = c.playbook_file.iter().chain(c.playbook_files.iter().flatten()).collect();
        let mut remote_playbooks = Vec::new();
        for p in playbooks {
            match c.playbook_dir.as_deref().and_then(|dir| inside(dir, p)) {
                Some(rel) => remote_playbooks.push(format!("{staging}/{rel}")),
                None => {
                    let dst = format!("{staging}/{}", base_name(p));
                    ui.say(format!("Uploading playbook file {p}..."));
                    upload_file(dst.clone(), PathBuf::from(p)).await?;
                    remote_playbooks.push(dst);
                }
            }
        }
        let inventory = match &c.inventory_file {
            Some(f) => {
                let dst = format!("{staging}/{}", base_name(f));
                ui.say(format!("Uploading inventory file {f}..."));
                upload_file(dst.clone(), PathBuf::from(f)).await?;
                dst
            }
            None => {
                let groups = c.inventory_groups.as_ref().map(CommaList::items).unwrap_or_default();
                let dst = format!("{staging}/packer-provisioner-ansible-local-inventory");
                ui.say("Uploading a generated inventory file...");
                ctx.cancel.run(comm.upload_bytes(&dst, local_inventory(&groups).as_bytes())).await??;
                dst
            }
        };
        // What the playbooks' ANSIBLE_ROLES_PATH and ANSIBLE_COLLECTIONS_PATH get.
        let (mut roles_path, mut collections_path): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        if let Some(f) = &c.galaxy_file {
            let dst = format!("{staging}/{}", base_name(f));
            ui.say(format!("Uploading galaxy file {f}..."));
            upload_file(dst.clone(), PathBuf::from(f)).await?;
            let galaxy = c.galaxy_command.as_deref().unwrap_or("ansible-galaxy");
            let force = if c.galaxy_force_install { " -f" } else { "" };
            // `ansible-galaxy [collection ]install` of the file into `to`.
            let install = |what: &str, to: &str| {
                format!(
                    "cd {} && {galaxy} {what}install -r {} -p {}{force}",
                    shell_quote(staging),
                    shell_quote(&dst),
                    shell_quote(to)
                )
            };
            let lists = GalaxyLists::of(&std::fs::read_to_string(f).unwrap_or_default());
            if lists.roles || !lists.collections {
                let to = c.galaxy_roles_path.clone().unwrap_or_else(|| format!("{staging}/roles"));
                let cmd = install("", &to);
                ui.say(format!("Executing Ansible Galaxy: {cmd}"));
                run(ctx, comm, &cmd, "installing the galaxy requirements").await?;
                if c.galaxy_roles_path.is_some() {
                    roles_path.push(to);
                }
            }
            if lists.collections {
                let to = c.galaxy_collections_path.clone().unwrap_or_else(|| format!("{staging}/galaxy_collections"));
                let cmd = install("collection ", &to);
                ui.say(format!("Executing Ansible Galaxy: {cmd}"));
                run(ctx, comm, &cmd, "installing the galaxy collections").await?;
                collections_path.push(to);
            }
        }
        for dir in &c.collection_paths {
            ui.say(format!("Uploading collection directory {dir}..."));
            upload_dir(format!("{staging}/collections"), PathBuf::from(dir.trim_end_matches('/'))).await?;
        }
        if !c.collection_paths.is_empty() {
            collections_path.push(format!("{staging}/collections"));
        }
        for (what, dir) in [("group_vars", &c.group_vars), ("host_vars", &c.host_vars)] {
            if let Some(dir) = dir {
                ui.say(format!("Uploading {what} directory {dir}..."));
                let src = PathBuf::from(format!("{}/", dir.trim_end_matches('/')));
                upload_dir(format!("{staging}/{what}"), src).await?;
            }
        }
        for role in &c.role_paths {
            ui.say(format!("Uploading role directory {role}..."));
            upload_dir(format!("{staging}/roles"), PathBuf::from(role.trim_end_matches('/'))).await?;
        }
        for dir in &c.playbook_paths {
            ui.say(format!("Uploading playbook directory {dir}..."));
            upload_dir(format!("{staging}/playbooks"), PathBuf::from(dir.trim_end_matches('/'))).await?;
        }
        let command = c.command.as_deref().unwrap_or(DEFAULT_COMMAND);
        let extra_vars = format!(
            "packer_build_name={} packer_builder_type={} packer_http_addr={}",
            ctx.info.name,
            ctx.info.builder_type,
            data.get("PackerHTTPAddr").map(String::as_str).unwrap_or_default()
        );
        // Appended to what the machine's environment has, as later Packers do.
        let mut env = String::new();
        for (var, paths) in [("ANSIBLE_COLLECTIONS_PATH", &collections_path), ("ANSIBLE_ROLES_PATH", &roles_path)] {
            if !paths.is_empty() {
                let joined: Vec<String> = paths.iter().map(|p| shell_quote(p)).collect();
                env.push_str(&format!("{var}=${var}:{} ", joined.join(":")));
            }
        }
        for playbook in remote_playbooks {
            let mut cmd = format!(
                "cd {} && {env}{command} {} --extra-vars {}",
                shell_quote(staging),
                shell_quote(&playbook),
                shell_quote(&extra_vars)
            );
            for a in &c.extra_arguments {
                cmd.push(' ');
                cmd.push_str(a);
            }
            cmd.push_str(&format!(" -c local -i {}", shell_quote(&inventory)));
            ui.say(format!("Executing Ansible: {cmd}"));
            run(ctx, comm, &cmd, &format!("the playbook {playbook}")).await?;
        }
        Ok(())
    }
}

/// What a Galaxy requirements file lists: the v2 format's top-level `roles:` and
/// `collections:` keys (a v1 file is a plain list of roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct GalaxyLists {
    roles: bool,
    collections: bool,
}

impl GalaxyLists {
    fn of(text: &str) -> GalaxyLists {
        let top = |key: &str| text.lines().any(|l| l.starts_with(key));
        GalaxyLists { roles: top("roles:"), collections: top("collections:") }
    }
}

/// `file`'s path relative to `dir` when it lies inside it.
fn inside(dir: &str, file: &str) -> Option<String> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let file = std::fs::canonicalize(file).ok()?;
    file.strip_prefix(&dir).ok().map(|r| r.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_template::testing::json_node;

    fn prepare(json: &str) -> Result<Vec<Diagnostic>, Diagnostics> {
        AnsibleLocal::default().prepare(&json_node("t.json", json).unwrap(), &BuildInfo::default())
    }

    #[test]
    fn galaxy_files_list_roles_collections_or_both() {
        let l = GalaxyLists::of;
        assert_eq!(l("- src: geerlingguy.nginx\n"), GalaxyLists { roles: false, collections: false });
        assert_eq!(
            l("---\nroles:\n  - name: a\ncollections:\n  - name: b.c\n"),
            GalaxyLists { roles: true, collections: true }
        );
        assert_eq!(
            l("collections:\n  - name: b.c\n  # roles: none\n"),
            GalaxyLists { roles: false, collections: true }
        );
        let w = prepare(r#"{"playbook_file": "Cargo.toml", "galaxy_force_install": true, "galaxy_roles_path": "/r"}"#)
            .unwrap();
        let s: Vec<&str> = w.iter().map(|d| d.summary.as_str()).collect();
        assert_eq!(
            s,
            [
                "galaxy_force_install does nothing without galaxy_file",
                "galaxy_roles_path does nothing without galaxy_file"
            ]
        );
    }

    #[test]
    fn a_playbook_is_required_and_must_exist() {
        let e = prepare("{}").unwrap_err();
        assert_eq!(e.0[0].summary, "the ansible-local provisioner has no playbook");
        let e = prepare(r#"{"playbook_file": "/nonexistent/site.yml", "role_paths": ["/nonexistent/r"]}"#).unwrap_err();
        let s: Vec<&str> = e.0.iter().map(|d| d.summary.as_str()).collect();
        assert_eq!(
            s,
            [
                "playbook_file: \"/nonexistent/site.yml\" does not exist",
                "role_paths: \"/nonexistent/r\" does not exist"
            ]
        );
        let e = prepare(r#"{"playbook_file": "Cargo.toml", "playbook_files": ["Cargo.toml"]}"#).unwrap_err();
        assert_eq!(e.0[0].summary, "only one of playbook_file and playbook_files may be set");
        let e = prepare(r#"{"playbook_file": "Cargo.toml", "playbok_dir": "src"}"#).unwrap_err();
        assert!(e.0[0].summary.contains("playbok_dir"), "{:?}", e.0[0]);
        let e = prepare(r#"{"playbook_file": "src"}"#).unwrap_err();
        assert_eq!(e.0[0].summary, "playbook_file: \"src\" is not a file");
    }

    #[test]
    fn inventory_groups_take_a_list_or_a_comma_separated_string() {
        let w = prepare(r#"{"playbook_file": "Cargo.toml", "inventory_groups": "web, db"}"#).unwrap();
        assert!(w.is_empty());
        let mut p = AnsibleLocal::default();
        p.prepare(
            &json_node("t.json", r#"{"playbook_file": "Cargo.toml", "inventory_groups": "web, db"}"#).unwrap(),
            &BuildInfo::default(),
        )
        .unwrap();
        let groups = p.config.inventory_groups.as_ref().unwrap().items();
        assert_eq!(local_inventory(&groups), "[web]\n127.0.0.1\n[db]\n127.0.0.1\n");
        p.prepare(
            &json_node("t.json", r#"{"playbook_file": "Cargo.toml", "inventory_groups": ["a"]}"#).unwrap(),
            &BuildInfo::default(),
        )
        .unwrap();
        assert_eq!(local_inventory(&p.config.inventory_groups.as_ref().unwrap().items()), "[a]\n127.0.0.1\n");
        assert_eq!(local_inventory(&[]), "127.0.0.1\n");
    }

    #[test]
    fn playbooks_inside_the_playbook_dir_run_from_there() {
        assert_eq!(inside("src", "src/lib.rs").as_deref(), Some("lib.rs"));
        assert_eq!(inside("src", "Cargo.toml"), None);
        assert_eq!(base_name("roles/web/"), "web");
    }
}
