//! `chef-solo`: installs Chef on the machine (unless `skip_install`), uploads cookbooks, roles,
//! data bags and environments to a staging folder, writes `solo.rb` and `node.json` there and
//! runs `chef-solo`. No Chef package exists for the test machines, so only the configuration
//! checks are tested.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::cache::{Cacheable, Inputs};
use kiln_core::{async_trait, BuildInfo, Communicator, Error, GeneratedData, Provisioner, Result, RunContext};
use serde::Deserialize;

use crate::remote::{
    check_guest_os, check_path, check_template, is_windows, make_dir, run, upload_contents, uses_sudo,
};

const UNIX_INSTALL: &str = "curl -L https://omnitruck.chef.io/install.sh | {{if .Sudo}}sudo {{end}}bash -s --{{if .Version}} -v {{.Version}}{{end}}";
const WINDOWS_INSTALL: &str = "powershell.exe -Command \". { iwr -useb https://omnitruck.chef.io/install.ps1 } | iex; Install-Project{{if .Version}} -version {{.Version}}{{end}}\"";
const UNIX_EXECUTE: &str = "{{if .Sudo}}sudo {{end}}chef-solo --no-color -c {{.ConfigPath}} -j {{.JsonPath}}";
const WINDOWS_EXECUTE: &str = "c:/opscode/chef/bin/chef-solo.bat --no-color -c {{.ConfigPath}} -j {{.JsonPath}}";

/// kiln's `solo.rb` when no `config_template` is given.
const SOLO_RB: &str = "cookbook_path [{{.CookbookPaths}}]\n\
{{if .HasRolesPath}}role_path \"{{.RolesPath}}\"\n{{end}}\
{{if .HasDataBagsPath}}data_bag_path \"{{.DataBagsPath}}\"\n{{end}}\
{{if .HasEncryptedDataBagSecretPath}}encrypted_data_bag_secret \"{{.EncryptedDataBagSecretPath}}\"\n{{end}}\
{{if .HasEnvironmentsPath}}environment_path \"{{.EnvironmentsPath}}\"\n{{end}}\
{{if ne .ChefEnvironment \"\"}}environment \"{{.ChefEnvironment}}\"\n{{end}}\
{{if ne .ChefLicense \"\"}}chef_license \"{{.ChefLicense}}\"\n{{end}}\
{{if ne .PolicyName \"\"}}policy_name \"{{.PolicyName}}\"\n{{end}}\
{{if ne .PolicyGroup \"\"}}policy_group \"{{.PolicyGroup}}\"\n{{end}}";

const CONFIG_FIELDS: [&str; 13] = [
    "CookbookPaths",
    "DataBagsPath",
    "RolesPath",
    "EnvironmentsPath",
    "EncryptedDataBagSecretPath",
    "HasDataBagsPath",
    "HasRolesPath",
    "HasEnvironmentsPath",
    "HasEncryptedDataBagSecretPath",
    "ChefEnvironment",
    "ChefLicense",
    "PolicyName",
    "PolicyGroup",
];
const EXECUTE_FIELDS: [&str; 3] = ["ConfigPath", "JsonPath", "Sudo"];
const INSTALL_FIELDS: [&str; 2] = ["Sudo", "Version"];

/// Options of `chef-solo`. The run: `install_command` (unless `skip_install`), then the
/// staging folder gets `cookbooks-<n>/`, `roles/`, `data_bags/`, `environments/`,
/// `encrypted_data_bag_secret`, `solo.rb` and `node.json` (`json` with `run_list`), and
/// `execute_command` runs; a non-zero exit status fails the build. Not tested against a real
/// Chef: there is no Chef package for the test machines, so kiln's tests cover the
/// configuration checks only.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Local cookbook folders, each uploaded to `<staging_directory>/cookbooks-<n>`.
    #[serde(default)]
    pub cookbook_paths: Vec<String>,
    /// Cookbook folders already on the machine, added to the cookbook path.
    #[serde(default)]
    pub remote_cookbook_paths: Vec<String>,
    /// A local folder of roles, uploaded to `<staging_directory>/roles`.
    #[serde(default)]
    pub roles_path: Option<String>,
    /// A local folder of data bags, uploaded to `<staging_directory>/data_bags`.
    #[serde(default)]
    pub data_bags_path: Option<String>,
    /// A local folder of environments, uploaded to `<staging_directory>/environments`.
    #[serde(default)]
    pub environments_path: Option<String>,
    /// The Chef environment to run in.
    #[serde(default)]
    pub chef_environment: Option<String>,
    /// The answer to Chef's license question, written to `solo.rb` (default `accept-silent` when
    /// kiln installs Chef with the default `install_command`, else none).
    #[serde(default)]
    pub chef_license: Option<String>,
    /// A local file holding the data bags' secret key, uploaded to
    /// `<staging_directory>/encrypted_data_bag_secret`.
    #[serde(default)]
    pub encrypted_data_bag_secret_path: Option<String>,
    /// A local Go-template file for `solo.rb`, with the fields `.CookbookPaths` (quoted and
    /// comma-separated), `.RolesPath`, `.DataBagsPath`, `.EnvironmentsPath`,
    /// `.EncryptedDataBagSecretPath`, their `.Has…` forms, `.ChefEnvironment`, `.ChefLicense`,
    /// `.PolicyName` and `.PolicyGroup`.
    #[serde(default)]
    pub config_template: Option<String>,
    /// The command that runs Chef, with the fields `.ConfigPath`, `.JsonPath` and `.Sudo`
    /// (default: `chef-solo --no-color -c {{.ConfigPath}} -j {{.JsonPath}}`, through `sudo`
    /// unless `prevent_sudo`).
    #[serde(default)]
    pub execute_command: Option<String>,
    /// The command that installs Chef, with the fields `.Sudo` and `.Version` (default: Chef's
    /// omnitruck installer).
    #[serde(default)]
    pub install_command: Option<String>,
    /// Do not install Chef (it is already on the machine).
    #[serde(default)]
    pub skip_install: bool,
    /// The Chef version to install (default: the latest).
    #[serde(default)]
    pub version: Option<String>,
    /// Node attributes, written to `node.json`.
    #[serde(default)]
    pub json: serde_json::Map<String, serde_json::Value>,
    /// The recipes and roles to run, added to `node.json` as `run_list`.
    #[serde(default)]
    pub run_list: Vec<String>,
    /// A Policyfile's name (with `policy_group`).
    #[serde(default)]
    pub policy_name: Option<String>,
    /// A Policyfile's group (with `policy_name`).
    #[serde(default)]
    pub policy_group: Option<String>,
    /// Run the commands without `sudo`.
    #[serde(default)]
    pub prevent_sudo: bool,
    /// The folder on the machine everything is uploaded to (default `/tmp/packer-chef-solo`,
    /// `C:/Windows/Temp/packer-chef-solo` on Windows).
    #[serde(default)]
    pub staging_directory: Option<String>,
    /// `unix` (default) or `windows`: the default commands and staging folder.
    #[serde(default)]
    pub guest_os_type: Option<String>,
}

impl Config {
    fn windows(&self) -> bool {
        is_windows(self.guest_os_type.as_deref())
    }

    fn sudo(&self) -> bool {
        uses_sudo(self.prevent_sudo, self.guest_os_type.as_deref())
    }
}

#[derive(Default)]
pub struct ChefSolo {
    config: Config,
}

pub fn new() -> Box<dyn Provisioner> {
    Box::<ChefSolo>::default()
}

fn flag(b: bool) -> String {
    if b {
        "true".into()
    } else {
        String::new()
    }
}

#[async_trait]
impl Provisioner for ChefSolo {
    fn prepare(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"chef-solo\" provisioner")?;
        let mut d = Diagnostics::new();
        for p in &c.cookbook_paths {
            check_path(&mut d, config, "cookbook_paths", p, true);
        }
        for (key, p) in [
            ("roles_path", &c.roles_path),
            ("data_bags_path", &c.data_bags_path),
            ("environments_path", &c.environments_path),
        ] {
            if let Some(p) = p {
                check_path(&mut d, config, key, p, true);
            }
        }
        for (key, p) in [
            ("encrypted_data_bag_secret_path", &c.encrypted_data_bag_secret_path),
            ("config_template", &c.config_template),
        ] {
            if let Some(p) = p {
                check_path(&mut d, config, key, p, false);
            }
        }
        check_guest_os(&mut d, config, c.guest_os_type.as_deref());
        if c.policy_name.is_some() != c.policy_group.is_some() {
            let key = if c.policy_name.is_some() { "policy_name" } else { "policy_group" };
            d.push(
                Diagnostic::error("policy_name and policy_group must be set together")
                    .at_opt(config.span_of(key))
                    .with_help("set both, or neither"),
            );
        }
        if let Some(t) = &c.execute_command {
            check_template(&mut d, config, "execute_command", t, &EXECUTE_FIELDS);
        }
        if let Some(t) = &c.install_command {
            check_template(&mut d, config, "install_command", t, &INSTALL_FIELDS);
        }
        if let Some(t) = c.config_template.as_deref().and_then(|p| std::fs::read_to_string(p).ok()) {
            check_template(&mut d, config, "config_template", &t, &CONFIG_FIELDS);
        }
        d.into_result()?;
        self.config = c;
        Ok(Vec::new())
    }

    /// The bytes of everything uploaded (the rest is configuration).
    fn inputs(&self, _info: &BuildInfo, inputs: &mut Inputs) -> Result<Cacheable> {
        let c = &self.config;
        for p in &c.cookbook_paths {
            inputs.add_path("cookbook_paths", Path::new(p))?;
        }
        let paths = [
            ("roles_path", &c.roles_path),
            ("data_bags_path", &c.data_bags_path),
            ("environments_path", &c.environments_path),
            ("encrypted_data_bag_secret_path", &c.encrypted_data_bag_secret_path),
            ("config_template", &c.config_template),
        ];
        for (key, p) in paths {
            if let Some(p) = p {
                inputs.add_path(key, Path::new(p))?;
            }
        }
        Ok(Cacheable::Yes)
    }

    async fn provision(&self, ctx: &RunContext, comm: Arc<dyn Communicator>, _data: &GeneratedData) -> Result<()> {
        let c = &self.config;
        let ui = &ctx.ui;
        ui.say("Provisioning with chef-solo");
        let comm = &comm;
        let mut data = GeneratedData::new();
        data.insert("Sudo".into(), flag(c.sudo()));
        if !c.skip_install {
            data.insert("Version".into(), c.version.clone().unwrap_or_default());
            let default = if c.windows() { WINDOWS_INSTALL } else { UNIX_INSTALL };
            let cmd = kiln_core::late::render(c.install_command.as_deref().unwrap_or(default), &data)?;
            ui.say("Installing Chef...");
            run(ctx, comm, &cmd, "installing Chef").await?;
        }
        let default_staging = if c.windows() { "C:/Windows/Temp/packer-chef-solo" } else { "/tmp/packer-chef-solo" };
        let staging = c.staging_directory.as_deref().unwrap_or(default_staging).trim_end_matches('/');
        ui.say(format!("Creating directory: {staging}"));
        make_dir(ctx, comm, staging, c.sudo(), c.windows()).await?;
        let mut cookbooks = Vec::new();
        for (i, p) in c.cookbook_paths.iter().enumerate() {
            let dst = format!("{staging}/cookbooks-{i}");
            ui.say(format!("Uploading cookbook path {p}..."));
            upload_contents(ctx, comm, &dst, p).await?;
            cookbooks.push(dst);
        }
        cookbooks.extend(c.remote_cookbook_paths.iter().cloned());
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        for (name, dir, src) in [
            ("RolesPath", "roles", &c.roles_path),
            ("DataBagsPath", "data_bags", &c.data_bags_path),
            ("EnvironmentsPath", "environments", &c.environments_path),
        ] {
            let remote = match src {
                Some(src) => {
                    let dst = format!("{staging}/{dir}");
                    ui.say(format!("Uploading {src}..."));
                    upload_contents(ctx, comm, &dst, src).await?;
                    dst
                }
                None => String::new(),
            };
            fields.insert(format!("Has{name}"), flag(src.is_some()));
            fields.insert(name.into(), remote);
        }
        let secret = match &c.encrypted_data_bag_secret_path {
            Some(src) => {
                let dst = format!("{staging}/encrypted_data_bag_secret");
                ui.say("Uploading the encrypted data bag secret...");
                ctx.cancel.run(comm.upload_file(&dst, Path::new(src))).await??;
                dst
            }
            None => String::new(),
        };
        fields.insert("HasEncryptedDataBagSecretPath".into(), flag(!secret.is_empty()));
        fields.insert("EncryptedDataBagSecretPath".into(), secret);
        let quoted: Vec<String> = cookbooks.iter().map(|p| format!("\"{p}\"")).collect();
        fields.insert("CookbookPaths".into(), quoted.join(","));
        fields.insert("ChefEnvironment".into(), c.chef_environment.clone().unwrap_or_default());
        // Chef 15 and later ask for the license: kiln's own install of the latest Chef accepts it.
        let license = match &c.chef_license {
            Some(l) => l.clone(),
            None if !c.skip_install && c.install_command.is_none() => "accept-silent".into(),
            None => String::new(),
        };
        fields.insert("ChefLicense".into(), license);
        fields.insert("PolicyName".into(), c.policy_name.clone().unwrap_or_default());
        fields.insert("PolicyGroup".into(), c.policy_group.clone().unwrap_or_default());
        let template = match &c.config_template {
            Some(p) => {
                std::fs::read_to_string(p).map_err(|e| Error::new(format!("reading config_template {p}: {e}")))?
            }
            None => SOLO_RB.to_string(),
        };
        let solo_rb = kiln_core::late::render(&template, &fields)?;
        let config_path = format!("{staging}/solo.rb");
        ctx.cancel.run(comm.upload_bytes(&config_path, solo_rb.as_bytes())).await??;
        let mut json = c.json.clone();
        if !c.run_list.is_empty() {
            json.insert("run_list".into(), c.run_list.clone().into());
        }
        let json_path = format!("{staging}/node.json");
        let body = serde_json::to_vec_pretty(&json).map_err(|e| Error::new(format!("writing node.json: {e}")))?;
        ctx.cancel.run(comm.upload_bytes(&json_path, &body)).await??;
        data.insert("ConfigPath".into(), config_path);
        data.insert("JsonPath".into(), json_path);
        let default = if c.windows() { WINDOWS_EXECUTE } else { UNIX_EXECUTE };
        let cmd = kiln_core::late::render(c.execute_command.as_deref().unwrap_or(default), &data)?;
        ui.say(format!("Executing Chef: {cmd}"));
        run(ctx, comm, &cmd, "chef-solo").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_template::testing::json_node;

    fn prepare(json: &str) -> Result<Vec<Diagnostic>, Diagnostics> {
        ChefSolo::default().prepare(&json_node("t.json", json).unwrap(), &BuildInfo::default())
    }

    fn summaries(e: Diagnostics) -> Vec<String> {
        e.0.into_iter().map(|d| d.summary).collect()
    }

    #[test]
    fn packers_options_are_accepted() {
        let w = prepare(
            r#"{"cookbook_paths": ["src"], "remote_cookbook_paths": ["/var/chef/cookbooks"], "roles_path": "src",
                "data_bags_path": "src", "environments_path": "src", "chef_environment": "prod",
                "chef_license": "accept", "encrypted_data_bag_secret_path": "Cargo.toml",
                "execute_command": "chef-solo -c {{.ConfigPath}} -j {{.JsonPath}}{{if .Sudo}}{{end}}",
                "install_command": "install {{.Version}} {{.Sudo}}", "skip_install": true, "version": "18",
                "json": {"app": {"port": 80}}, "run_list": ["recipe[app]"], "prevent_sudo": true,
                "staging_directory": "/tmp/chef", "guest_os_type": "unix",
                "policy_name": "web", "policy_group": "prod"}"#,
        )
        .unwrap();
        assert!(w.is_empty());
        assert!(prepare("{}").is_ok(), "no option is required");
    }

    #[test]
    fn bad_options_are_errors() {
        let e = prepare(r#"{"cookbook_path": ["src"]}"#).unwrap_err();
        assert!(e.0[0].summary.contains("unknown option \"cookbook_path\""), "{:?}", e.0[0]);
        let e = prepare(
            r#"{"cookbook_paths": ["/nonexistent"], "roles_path": "Cargo.toml", "config_template": "src",
                "encrypted_data_bag_secret_path": "/nonexistent/secret", "guest_os_type": "plan9",
                "policy_name": "web", "execute_command": "chef-solo {{.Config}}"}"#,
        )
        .unwrap_err();
        assert_eq!(
            summaries(e),
            [
                "cookbook_paths: \"/nonexistent\" does not exist",
                "roles_path: \"Cargo.toml\" is not a folder",
                "encrypted_data_bag_secret_path: \"/nonexistent/secret\" does not exist",
                "config_template: \"src\" is not a file",
                "guest_os_type: unknown value \"plan9\"",
                "policy_name and policy_group must be set together",
                "execute_command uses unknown field(s) Config",
            ]
        );
    }

    #[test]
    fn the_default_solo_rb_names_what_was_uploaded() {
        let mut f: BTreeMap<String, String> = CONFIG_FIELDS.iter().map(|k| (k.to_string(), String::new())).collect();
        f.insert("CookbookPaths".into(), "\"/tmp/s/cookbooks-0\",\"/srv/c\"".into());
        f.insert("HasRolesPath".into(), "true".into());
        f.insert("RolesPath".into(), "/tmp/s/roles".into());
        f.insert("ChefLicense".into(), "accept-silent".into());
        assert_eq!(
            kiln_core::late::render(SOLO_RB, &f).unwrap(),
            "cookbook_path [\"/tmp/s/cookbooks-0\",\"/srv/c\"]\nrole_path \"/tmp/s/roles\"\nchef_license \"accept-silent\"\n"
        );
    }
}
