//! `puppet-masterless`: uploads a Puppet manifest (file or folder), modules and a Hiera
//! configuration to a staging folder on the machine and runs `puppet apply` there (Puppet must
//! be installed on the machine).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use kiln_comm::shell_quote;
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::cache::{Cacheable, Inputs};
use kiln_core::{async_trait, BuildInfo, Communicator, Error, GeneratedData, Provisioner, Result, RunContext};
use serde::Deserialize;

use crate::remote::{
    base_name, check_guest_os, check_path, check_template, is_windows, make_dir, remove_dir_command, remove_staging,
    run_status, upload_contents, uses_sudo,
};

/// The default command on Unix machines; the fields are those of [`FIELDS`].
const UNIX_COMMAND: &str = "cd {{.WorkingDir}} && {{.FacterVars}} {{if .Sudo}}sudo -E {{end}}\
{{if ne .PuppetBinDir \"\"}}{{.PuppetBinDir}}/{{end}}puppet apply --detailed-exitcodes \
{{if .Debug}}--debug {{end}}{{if ne .ModulePath \"\"}}--modulepath='{{.ModulePath}}' {{end}}\
{{if ne .HieraConfigPath \"\"}}--hiera_config='{{.HieraConfigPath}}' {{end}}\
{{if ne .ManifestDir \"\"}}--manifestdir='{{.ManifestDir}}' {{end}}\
{{if ne .ExtraArguments \"\"}}{{.ExtraArguments}} {{end}}{{.ManifestFile}}";
/// The default command on Windows machines.
const WINDOWS_COMMAND: &str = "cd {{.WorkingDir}} && {{.FacterVars}} && \
{{if ne .PuppetBinDir \"\"}}\"{{.PuppetBinDir}}/puppet\"{{else}}puppet{{end}} apply --detailed-exitcodes \
{{if .Debug}}--debug {{end}}{{if ne .ModulePath \"\"}}--modulepath=\"{{.ModulePath}}\" {{end}}\
{{if ne .HieraConfigPath \"\"}}--hiera_config=\"{{.HieraConfigPath}}\" {{end}}\
{{if ne .ManifestDir \"\"}}--manifestdir=\"{{.ManifestDir}}\" {{end}}\
{{if ne .ExtraArguments \"\"}}{{.ExtraArguments}} {{end}}{{.ManifestFile}}";

/// The fields `execute_command` (and each of `extra_arguments`) may use.
const FIELDS: [&str; 11] = [
    "FacterVars",
    "HieraConfigPath",
    "ModulePath",
    "ModulePathJoiner",
    "ManifestFile",
    "ManifestDir",
    "PuppetBinDir",
    "Sudo",
    "WorkingDir",
    "Debug",
    "ExtraArguments",
];

/// Options of `puppet-masterless`. Puppet must already be installed on the machine. The
/// staging folder receives `hiera.yaml`, `manifests/` and `module-<n>/`; then `execute_command`
/// runs there and its exit status is read as `puppet apply --detailed-exitcodes` reports it: 0
/// and 2 are success, anything else (4 and 6: some resources failed) fails the build unless
/// `ignore_exit_codes` is set. `manifest_dir` becomes `--manifestdir`, which only Puppet 3
/// knows. Windows machines (`guest_os_type = "windows"`) get Packer's Windows command forms,
/// untested here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The main manifest: a local `.pp` file, or a folder of manifests. Required.
    #[serde(default)]
    pub manifest_file: String,
    /// A local folder of manifests, uploaded to `<staging_directory>/manifests` and given to
    /// Puppet as `--manifestdir` (Puppet 3 only).
    #[serde(default)]
    pub manifest_dir: Option<String>,
    /// Local module folders, each uploaded to `<staging_directory>/module-<n>` and put on
    /// Puppet's module path.
    #[serde(default)]
    pub module_paths: Vec<String>,
    /// A local Hiera configuration file, uploaded to `<staging_directory>/hiera.yaml`.
    #[serde(default)]
    pub hiera_config_path: Option<String>,
    /// Facts given to Puppet (as `FACTER_<name>` variables), besides `packer_build_name` and
    /// `packer_builder_type`.
    #[serde(default)]
    pub facter: BTreeMap<String, String>,
    /// Further arguments for `puppet apply`; each may use the fields of `execute_command`.
    #[serde(default)]
    pub extra_arguments: Vec<String>,
    /// The folder on the machine everything is uploaded to (default
    /// `/tmp/packer-puppet-masterless`, `C:/Windows/Temp/packer-puppet-masterless` on Windows).
    #[serde(default)]
    pub staging_directory: Option<String>,
    /// The folder Puppet runs in (default: the staging folder).
    #[serde(default)]
    pub working_directory: Option<String>,
    /// The command that runs Puppet, a template with the fields `.FacterVars`, `.ManifestFile`,
    /// `.ManifestDir`, `.ModulePath`, `.ModulePathJoiner`, `.HieraConfigPath`,
    /// `.ExtraArguments`, `.PuppetBinDir`, `.WorkingDir`, `.Sudo` and `.Debug` (non-empty when
    /// true). The default changes to the working folder, sets the facts, adds `sudo -E` unless
    /// `prevent_sudo`, and runs `puppet apply --detailed-exitcodes` with the module path, Hiera
    /// configuration, manifest folder and extra arguments given, then the manifest.
    #[serde(default)]
    pub execute_command: Option<String>,
    /// The folder of the `puppet` program on the machine (default: found on its `PATH`).
    #[serde(default)]
    pub puppet_bin_dir: Option<String>,
    /// Do not run Puppet (nor create and remove the staging folder) with `sudo`.
    #[serde(default)]
    pub prevent_sudo: bool,
    /// Any exit status of Puppet counts as success (by default 0 and 2 do, as
    /// `--detailed-exitcodes` reports them).
    #[serde(default)]
    pub ignore_exit_codes: bool,
    /// `unix` (default) or `windows`: the default staging folder and command, and how facts
    /// and module paths are written.
    #[serde(default)]
    pub guest_os_type: Option<String>,
    /// Remove the staging folder when the provisioner is done (default false).
    #[serde(default)]
    pub clean_staging_directory: bool,
    /// Windows: a user to run Puppet as (accepted; kiln does not run elevated commands).
    #[serde(default)]
    pub elevated_user: Option<String>,
    /// Windows: `elevated_user`'s password.
    #[serde(default)]
    pub elevated_password: Option<String>,
}

impl Config {
    fn windows(&self) -> bool {
        is_windows(self.guest_os_type.as_deref())
    }

    fn staging(&self) -> String {
        let default =
            if self.windows() { "C:/Windows/Temp/packer-puppet-masterless" } else { "/tmp/packer-puppet-masterless" };
        self.staging_directory.as_deref().unwrap_or(default).trim_end_matches('/').to_string()
    }

    fn sudo(&self) -> bool {
        uses_sudo(self.prevent_sudo, self.guest_os_type.as_deref())
    }
}

#[derive(Default)]
pub struct PuppetMasterless {
    config: Config,
}

pub fn new() -> Box<dyn Provisioner> {
    Box::<PuppetMasterless>::default()
}

/// The facts Puppet gets: the user's and the build's, written for the machine's shell.
fn facter_vars(c: &Config, info: &BuildInfo) -> String {
    let mut facts = c.facter.clone();
    facts.entry("packer_build_name".into()).or_insert_with(|| info.name.clone());
    facts.entry("packer_builder_type".into()).or_insert_with(|| info.builder_type.clone());
    let vars: Vec<String> = if c.windows() {
        facts.iter().map(|(k, v)| format!("SET \"FACTER_{k}={v}\"")).collect()
    } else {
        facts.iter().map(|(k, v)| format!("FACTER_{k}={}", shell_quote(v))).collect()
    };
    vars.join(if c.windows() { " & " } else { " " })
}

#[async_trait]
impl Provisioner for PuppetMasterless {
    fn prepare(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"puppet-masterless\" provisioner")?;
        let mut d = Diagnostics::new();
        if c.manifest_file.is_empty() {
            d.push(
                Diagnostic::error("the puppet-masterless provisioner has no manifest")
                    .at_opt(config.span_of("manifest_file").or_else(|| config.span.clone()))
                    .with_help("set \"manifest_file\" to a local .pp file or a folder of manifests"),
            );
        } else if !Path::new(&c.manifest_file).exists() {
            d.push(
                Diagnostic::error(format!("manifest_file: {:?} does not exist", c.manifest_file))
                    .at_opt(config.span_of("manifest_file"))
                    .with_help("give the path of a local .pp file or folder (relative to the folder kiln runs in)"),
            );
        }
        if let Some(dir) = &c.manifest_dir {
            check_path(&mut d, config, "manifest_dir", dir, true);
        }
        for p in &c.module_paths {
            check_path(&mut d, config, "module_paths", p, true);
        }
        if let Some(f) = &c.hiera_config_path {
            check_path(&mut d, config, "hiera_config_path", f, false);
        }
        check_guest_os(&mut d, config, c.guest_os_type.as_deref());
        let templates = c.execute_command.iter().map(|t| ("execute_command", t));
        for (key, text) in templates.chain(c.extra_arguments.iter().map(|t| ("extra_arguments", t))) {
            check_template(&mut d, config, key, text, &FIELDS);
        }
        let mut warnings = Vec::new();
        if c.elevated_user.is_some() {
            warnings.push(
                Diagnostic::warning("elevated_user is ignored: kiln does not run elevated commands on Windows")
                    .at_opt(config.span_of("elevated_user")),
            );
        }
        d.into_result()?;
        self.config = c;
        Ok(warnings)
    }

    /// The bytes of everything uploaded and the build's facts (the rest is configuration).
    fn inputs(&self, info: &BuildInfo, inputs: &mut Inputs) -> Result<Cacheable> {
        let c = &self.config;
        inputs.add_path("manifest_file", Path::new(&c.manifest_file))?;
        if let Some(dir) = &c.manifest_dir {
            inputs.add_path("manifest_dir", Path::new(dir))?;
        }
        for dir in &c.module_paths {
            inputs.add_path("module_paths", Path::new(dir))?;
        }
        if let Some(f) = &c.hiera_config_path {
            inputs.add_path("hiera_config_path", Path::new(f))?;
        }
        inputs.add("facts", facter_vars(c, info).as_bytes());
        inputs.add("debug", &[u8::from(info.debug)]);
        Ok(Cacheable::Yes)
    }

    async fn provision(&self, ctx: &RunContext, comm: Arc<dyn Communicator>, _data: &GeneratedData) -> Result<()> {
        let c = &self.config;
        let staging = c.staging();
        ctx.ui.say("Provisioning with Puppet...");
        let result = self.stage_and_run(ctx, &comm, &staging).await;
        if c.clean_staging_directory {
            // Whatever the outcome: nothing the provisioner uploaded stays behind.
            let rm = remove_dir_command(&staging, c.sudo(), c.windows());
            remove_staging(ctx, &comm, &staging, &rm).await;
        }
        result
    }
}

impl PuppetMasterless {
    async fn stage_and_run(&self, ctx: &RunContext, comm: &Arc<dyn Communicator>, staging: &str) -> Result<()> {
        let c = &self.config;
        let ui = &ctx.ui;
        ui.say(format!("Creating Puppet staging directory {staging}..."));
        make_dir(ctx, comm, staging, c.sudo(), c.windows()).await?;
        let mut data = GeneratedData::new();
        let mut hiera = String::new();
        if let Some(f) = &c.hiera_config_path {
            ui.say(format!("Uploading hiera configuration {f}..."));
            hiera = format!("{staging}/hiera.yaml");
            ctx.cancel.run(comm.upload_file(&hiera, Path::new(f))).await??;
        }
        let manifests = format!("{staging}/manifests");
        let mut manifest_dir = String::new();
        if let Some(dir) = &c.manifest_dir {
            ui.say(format!("Uploading manifest directory from {dir}..."));
            upload_contents(ctx, comm, &manifests, dir).await?;
            manifest_dir = manifests.clone();
        }
        let mut modules = Vec::new();
        for (i, dir) in c.module_paths.iter().enumerate() {
            ui.say(format!("Uploading local modules from {dir}..."));
            let dst = format!("{staging}/module-{i}");
            upload_contents(ctx, comm, &dst, dir).await?;
            modules.push(dst);
        }
        ui.say(format!("Uploading manifests from {}...", c.manifest_file));
        make_dir(ctx, comm, &manifests, c.sudo(), c.windows()).await?;
        let manifest = if Path::new(&c.manifest_file).is_dir() {
            upload_contents(ctx, comm, &manifests, &c.manifest_file).await?;
            manifests
        } else {
            let dst = format!("{manifests}/{}", base_name(&c.manifest_file));
            ctx.cancel.run(comm.upload_file(&dst, Path::new(&c.manifest_file))).await??;
            dst
        };
        let joiner = if c.windows() { ";" } else { ":" };
        data.insert("FacterVars".into(), facter_vars(c, &ctx.info));
        data.insert("HieraConfigPath".into(), hiera);
        data.insert("ModulePath".into(), modules.join(joiner));
        data.insert("ModulePathJoiner".into(), joiner.into());
        data.insert("ManifestFile".into(), manifest);
        data.insert("ManifestDir".into(), manifest_dir);
        data.insert("PuppetBinDir".into(), c.puppet_bin_dir.clone().unwrap_or_default());
        data.insert("Sudo".into(), if c.sudo() { "true".into() } else { String::new() });
        data.insert("WorkingDir".into(), c.working_directory.clone().unwrap_or_else(|| staging.to_string()));
        data.insert("Debug".into(), if ctx.info.debug { "true".into() } else { String::new() });
        data.insert("ExtraArguments".into(), String::new());
        let extra: Vec<String> =
            c.extra_arguments.iter().map(|a| kiln_core::late::render(a, &data)).collect::<Result<_>>()?;
        data.insert("ExtraArguments".into(), extra.join(" "));
        let default = if c.windows() { WINDOWS_COMMAND } else { UNIX_COMMAND };
        let command = kiln_core::late::render(c.execute_command.as_deref().unwrap_or(default), &data)?;
        ui.say(format!("Running Puppet: {command}"));
        match run_status(ctx, comm, &command, "puppet").await? {
            0 | 2 => Ok(()),
            code if c.ignore_exit_codes => {
                ui.say(format!("Puppet exited with status {code}; ignored (ignore_exit_codes)"));
                Ok(())
            }
            code => Err(Error::new(format!(
                "puppet exited with a non-zero exit status: {code} (0 and 2 mean success; set ignore_exit_codes to accept any)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_template::testing::json_node;

    fn prepare(json: &str) -> Result<Vec<Diagnostic>, Diagnostics> {
        PuppetMasterless::default().prepare(&json_node("t.json", json).unwrap(), &BuildInfo::default())
    }

    fn summaries(e: Diagnostics) -> Vec<String> {
        e.0.into_iter().map(|d| d.summary).collect()
    }

    #[test]
    fn the_manifest_is_required_and_the_paths_must_exist() {
        assert_eq!(summaries(prepare("{}").unwrap_err()), ["the puppet-masterless provisioner has no manifest"]);
        let e = prepare(
            r#"{"manifest_file": "nope.pp", "module_paths": ["Cargo.toml"], "hiera_config_path": "src",
                "manifest_dir": "/nonexistent"}"#,
        )
        .unwrap_err();
        assert_eq!(
            summaries(e),
            [
                "manifest_file: \"nope.pp\" does not exist",
                "manifest_dir: \"/nonexistent\" does not exist",
                "module_paths: \"Cargo.toml\" is not a folder",
                "hiera_config_path: \"src\" is not a file",
            ]
        );
        assert!(prepare(r#"{"manifest_file": "src"}"#).is_ok(), "a folder of manifests is a manifest");
        let e = prepare(r#"{"manifest_file": "Cargo.toml", "guest_os_type": "bsd"}"#).unwrap_err();
        assert_eq!(summaries(e), ["guest_os_type: unknown value \"bsd\""]);
        let e = prepare(r#"{"manifest_file": "Cargo.toml", "execute_command": "{{.Nope}} {{.Sudo}}"}"#).unwrap_err();
        assert_eq!(summaries(e), ["execute_command uses unknown field(s) Nope"]);
    }

    #[test]
    fn facts_are_written_for_the_guest_shell() {
        let info = BuildInfo { name: "b".into(), builder_type: "null".into(), ..Default::default() };
        let mut c = Config { manifest_file: "x".into(), ..Default::default() };
        c.facter.insert("role".into(), "it's web".into());
        assert_eq!(
            facter_vars(&c, &info),
            "FACTER_packer_build_name='b' FACTER_packer_builder_type='null' FACTER_role='it'\"'\"'s web'"
        );
        c.facter.insert("packer_build_name".into(), "mine".into());
        c.guest_os_type = Some("windows".into());
        assert_eq!(
            facter_vars(&c, &info),
            "SET \"FACTER_packer_build_name=mine\" & SET \"FACTER_packer_builder_type=null\" & SET \"FACTER_role=it's web\""
        );
        assert_eq!(c.staging(), "C:/Windows/Temp/packer-puppet-masterless");
        assert!(!c.sudo());
    }

    #[test]
    fn the_cache_digest_follows_the_uploaded_bytes() {
        let dir = std::env::temp_dir().join(format!("kiln-puppet-inputs-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("modules/m/manifests")).unwrap();
        std::fs::write(dir.join("site.pp"), "include m\n").unwrap();
        std::fs::write(dir.join("modules/m/manifests/init.pp"), "class m {}\n").unwrap();
        let json = serde_json::json!({"manifest_file": dir.join("site.pp"), "module_paths": [dir.join("modules")]});
        let mut p = PuppetMasterless::default();
        p.prepare(&json_node("t.json", &json.to_string()).unwrap(), &BuildInfo::default()).unwrap();
        let digest = |p: &PuppetMasterless| {
            let mut i = Inputs::new();
            assert!(matches!(p.inputs(&BuildInfo::default(), &mut i).unwrap(), Cacheable::Yes));
            i.finish()
        };
        let before = digest(&p);
        assert_eq!(digest(&p), before);
        std::fs::write(dir.join("modules/m/manifests/init.pp"), "class m { notice('x') }\n").unwrap();
        assert_ne!(digest(&p), before, "a module's bytes are inputs");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_default_commands_put_each_part_in_place() {
        let mut data: GeneratedData = FIELDS.iter().map(|f| (f.to_string(), String::new())).collect();
        data.insert("WorkingDir".into(), "/tmp/s".into());
        data.insert("ManifestFile".into(), "/tmp/s/manifests/site.pp".into());
        assert_eq!(
            kiln_core::late::render(UNIX_COMMAND, &data).unwrap(),
            "cd /tmp/s &&  puppet apply --detailed-exitcodes /tmp/s/manifests/site.pp"
        );
        for (k, v) in [
            ("FacterVars", "FACTER_a='1'"),
            ("Sudo", "true"),
            ("Debug", "true"),
            ("PuppetBinDir", "/opt/puppetlabs/bin"),
            ("ModulePath", "/tmp/s/module-0:/tmp/s/module-1"),
            ("HieraConfigPath", "/tmp/s/hiera.yaml"),
            ("ManifestDir", "/tmp/s/manifests"),
            ("ExtraArguments", "--noop"),
        ] {
            data.insert(k.into(), v.into());
        }
        assert_eq!(
            kiln_core::late::render(UNIX_COMMAND, &data).unwrap(),
            "cd /tmp/s && FACTER_a='1' sudo -E /opt/puppetlabs/bin/puppet apply --detailed-exitcodes --debug \
             --modulepath='/tmp/s/module-0:/tmp/s/module-1' --hiera_config='/tmp/s/hiera.yaml' \
             --manifestdir='/tmp/s/manifests' --noop /tmp/s/manifests/site.pp"
        );
        assert!(kiln_core::late::render(WINDOWS_COMMAND, &data)
            .unwrap()
            .contains("&& \"/opt/puppetlabs/bin/puppet\" apply --detailed-exitcodes --debug --modulepath=\""));
    }
}
