//! `shell`: uploads scripts (or `inline` commands written to one) to the machine and runs them
//! there through its communicator.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kiln_comm::shell_local::{self, unique};
use kiln_comm::shell_quote;
use kiln_config::decode::Duration as GoDuration;
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::cache::{Cacheable, Inputs};
use kiln_core::{async_trait, BuildInfo, Communicator, Error, GeneratedData, Provisioner, Result, RunContext};
use serde::Deserialize;

/// Options of `shell`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Commands written to a temporary script (with `inline_shebang`) and run. One of `inline`,
    /// `script`, `scripts` is required.
    #[serde(default)]
    pub inline: Option<Vec<String>>,
    /// A local script to upload and run.
    #[serde(default)]
    pub script: Option<String>,
    /// Local scripts to upload and run in order.
    #[serde(default)]
    pub scripts: Option<Vec<String>>,
    /// `KEY=value` pairs set for the scripts.
    #[serde(default)]
    pub environment_vars: Vec<String>,
    /// Environment variables as a map (newer Packer).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// How variables are written in `{{.Vars}}` (default `%s='%s' `).
    #[serde(default)]
    pub env_var_format: Option<String>,
    /// How to run a script; `{{.Vars}}`, `{{.Path}}` and `{{.EnvVarFile}}` are replaced
    /// (default `chmod +x {{.Path}}; {{.Vars}} {{.Path}}`).
    #[serde(default)]
    pub execute_command: Option<String>,
    /// The shebang of inline scripts (default `/bin/sh -e`).
    #[serde(default)]
    pub inline_shebang: Option<String>,
    /// Folder on the machine the script is uploaded to (default `/tmp`).
    #[serde(default)]
    pub remote_folder: Option<String>,
    /// File name of the uploaded script (default `script_<n>.sh`).
    #[serde(default)]
    pub remote_file: Option<String>,
    /// Full path of the uploaded script (default `remote_folder/remote_file`).
    #[serde(default)]
    pub remote_path: Option<String>,
    /// A script that ends the connection (a reboot) does not fail the provisioner.
    #[serde(default)]
    pub expect_disconnect: bool,
    /// Exit codes that count as success (default `[0]`).
    #[serde(default)]
    pub valid_exit_codes: Option<Vec<i64>>,
    /// Leave the uploaded script on the machine.
    #[serde(default)]
    pub skip_clean: bool,
    /// How long to keep retrying the upload and start of a script (default 5m).
    #[serde(default)]
    pub start_retry_timeout: Option<GoDuration>,
    /// Write the variables to a file sourced before the script, instead of the command line.
    #[serde(default)]
    pub use_env_var_file: bool,
    /// Wait this long after the scripts ran (for a reboot to begin).
    #[serde(default)]
    pub pause_after: Option<GoDuration>,
    /// Scripts are binaries: no line-ending conversion (accepted; kiln never converts).
    #[serde(default)]
    pub binary: bool,
}

#[derive(Default)]
pub struct Shell {
    config: Config,
}

pub fn new() -> Box<dyn Provisioner> {
    Box::<Shell>::default()
}

/// Retries `f` until it succeeds, the build is cancelled, or `limit` has passed.
async fn retry<T, F, Fut>(ctx: &RunContext, limit: Duration, what: &str, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let start = std::time::Instant::now();
    let mut wait = Duration::from_millis(200);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if e.cancelled || start.elapsed() + wait > limit => return Err(e.context(what)),
            Err(e) => {
                ctx.ui.log(format!("{what} failed, retrying: {e}"));
                ctx.cancel.run(tokio::time::sleep(wait)).await?;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[async_trait]
impl Provisioner for Shell {
    fn prepare(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"shell\" provisioner")?;
        let mut d = Diagnostics::new();
        let set: Vec<&str> =
            [("inline", c.inline.is_some()), ("script", c.script.is_some()), ("scripts", c.scripts.is_some())]
                .iter()
                .filter(|(_, s)| *s)
                .map(|(k, _)| *k)
                .collect();
        match set.len() {
            0 => d.push(
                Diagnostic::error("the shell provisioner has nothing to run")
                    .at_opt(config.span.clone())
                    .with_help("set one of \"inline\", \"script\" or \"scripts\""),
            ),
            1 => {}
            _ => d.push(
                Diagnostic::error(format!(
                    "only one of inline, script or scripts may be set; found {}",
                    set.join(", ")
                ))
                .at_opt(config.span_of(set[1])),
            ),
        }
        for s in c.script.iter().chain(c.scripts.iter().flatten()) {
            if !std::path::Path::new(s).is_file() {
                let key = if c.script.as_deref() == Some(s.as_str()) { "script" } else { "scripts" };
                d.push(Diagnostic::error(format!("script {s:?} does not exist")).at_opt(config.span_of(key)));
            }
        }
        for kv in &c.environment_vars {
            if !kv.contains('=') {
                d.push(
                    Diagnostic::error(format!("environment variable {kv:?} is not KEY=value"))
                        .at_opt(config.span_of("environment_vars"))
                        .with_help("write it as \"NAME=value\""),
                );
            }
        }
        d.into_result()?;
        self.config = c;
        Ok(Vec::new())
    }

    /// Its scripts' bytes and the environment kiln adds (inline lines and variables are in the
    /// configuration the hook digests).
    fn inputs(&self, info: &BuildInfo, inputs: &mut Inputs) -> Result<Cacheable> {
        let c = &self.config;
        for s in c.script.iter().chain(c.scripts.iter().flatten()) {
            inputs.add_path("script", std::path::Path::new(s))?;
        }
        crate::add_env(inputs, &shell_local::packer_env(info));
        Ok(Cacheable::Yes)
    }

    async fn provision(&self, ctx: &RunContext, comm: Arc<dyn Communicator>, _data: &GeneratedData) -> Result<()> {
        let c = &self.config;
        let ui = &ctx.ui;
        let env = shell_local::environment(shell_local::packer_env(&ctx.info), &c.environment_vars, &c.env);
        let folder = c.remote_folder.clone().unwrap_or_else(|| "/tmp".into());
        let remote_path = c.remote_path.clone().unwrap_or_else(|| {
            format!("{folder}/{}", c.remote_file.clone().unwrap_or_else(|| format!("script_{}.sh", unique())))
        });
        let limit = c.start_retry_timeout.map_or(Duration::from_secs(300), |d| d.get());
        let mut data: GeneratedData = GeneratedData::new();
        // `data` from here on holds execute_command's fields.
        let default_exec;
        if c.use_env_var_file {
            let file = format!("{folder}/varfile_{}.sh", unique());
            let body: String = env.iter().map(|(k, v)| format!("export {k}={}\n", shell_quote(v))).collect();
            retry(ctx, limit, "uploading the variables file", || comm.upload_bytes(&file, body.as_bytes())).await?;
            data.insert("EnvVarFile".into(), file);
            data.insert("Vars".into(), String::new());
            default_exec = "chmod +x {{.Path}}; . {{.EnvVarFile}} && {{.Path}}";
        } else {
            data.insert("Vars".into(), shell_local::vars(c.env_var_format.as_deref(), &env));
            data.insert("EnvVarFile".into(), String::new());
            default_exec = "chmod +x {{.Path}}; {{.Vars}} {{.Path}}";
        }
        data.insert("Path".into(), remote_path.clone());
        let command = kiln_core::late::render(c.execute_command.as_deref().unwrap_or(default_exec), &data)?;
        // Each script: (what to call it, its bytes).
        let mut scripts: Vec<(String, Vec<u8>)> = Vec::new();
        if let Some(lines) = &c.inline {
            let shebang = c.inline_shebang.as_deref().unwrap_or("/bin/sh -e");
            let local = std::env::temp_dir().join(format!("packer-shell{}", unique()));
            scripts.push((
                local.to_string_lossy().into_owned(),
                format!("#!{shebang}\n{}\n", lines.join("\n")).into_bytes(),
            ));
        } else {
            for s in c.script.iter().chain(c.scripts.iter().flatten()) {
                let bytes = tokio::fs::read(s).await.map_err(|e| Error::new(format!("reading script {s}: {e}")))?;
                scripts.push((s.clone(), bytes));
            }
        }
        let result = self.run_scripts(ctx, &comm, c, scripts, &remote_path, &command, limit).await;
        if let (Some(f), false) = (data.get("EnvVarFile").filter(|f| !f.is_empty()), c.skip_clean) {
            let _ = tokio::time::timeout(Duration::from_secs(30), comm.remove_file(f)).await;
        }
        result?;
        if let Some(p) = c.pause_after.filter(|p| !p.get().is_zero()) {
            ui.say(format!("Pausing {} after this provisioner...", kiln_config::golang::format_go_duration(p.get())));
            ctx.cancel.run(tokio::time::sleep(p.get())).await?;
        }
        Ok(())
    }
}

impl Shell {
    /// Uploads and runs each script, removing it afterwards.
    #[allow(clippy::too_many_arguments)]
    async fn run_scripts(
        &self,
        ctx: &RunContext,
        comm: &Arc<dyn Communicator>,
        c: &Config,
        scripts: Vec<(String, Vec<u8>)>,
        remote_path: &str,
        command: &str,
        limit: Duration,
    ) -> Result<()> {
        let ui = &ctx.ui;
        let valid = c.valid_exit_codes.clone().unwrap_or_else(|| vec![0]);
        for (name, body) in scripts {
            ui.say(format!("Provisioning with shell script: {name}"));
            retry(ctx, limit, &format!("uploading {name} to {remote_path}"), || comm.upload_bytes(remote_path, &body))
                .await?;
            let output = shell_local::output_to(ui);
            let started = ctx.cancel.run(comm.start(command, &output)).await;
            if started.is_err() {
                // The command may still run on the machine: have it stopped before its script goes.
                comm.stop_cancelled(ui).await;
            }
            // The uploaded script never outlives the run, whatever its outcome (unless
            // skip_clean). A machine that just rebooted may not answer: don't wait long.
            if !c.skip_clean {
                if matches!(started, Err(ref e) if e.cancelled) {
                    ui.say(format!("Cleaning up: removing {remote_path}"));
                }
                match tokio::time::timeout(Duration::from_secs(30), comm.remove_file(remote_path)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => ui.log(format!("could not remove {remote_path}: {e}")),
                    Err(_) => ui.log(format!("removing {remote_path} timed out")),
                }
            }
            match started?? {
                Some(code) => shell_local::check_exit_code(code, &valid)?,
                None if c.expect_disconnect => {
                    ui.say("The script ended the connection, as expect_disconnect allows.");
                }
                None => {
                    return Err(Error::new(format!(
                        "the script {name} ended without an exit status (the connection was lost?); \
                         set \"expect_disconnect\": true if it reboots the machine"
                    )))
                }
            }
        }
        Ok(())
    }
}
