//! The `shell-local` engine: runs commands on the machine running kiln, with the build's name
//! and type in the environment. The provisioner and the post-processor of that name both use
//! [`check`] and [`run`]; the `shell` provisioner shares its variables, output and exit-code
//! handling ([`environment`], [`vars`], [`output_to`], [`check_exit_code`], [`unique`]).

pub mod config;

use std::collections::BTreeMap;
use std::path::PathBuf;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::{BuildInfo, Error, GeneratedData, Result, RunContext, Stream, Ui};

pub use config::Config;

/// Checks `c` (decoded from `node`): exactly one source of commands, scripts that exist.
pub fn check(c: &Config, node: &Node) -> Result<(), Diagnostics> {
    let mut d = Diagnostics::new();
    let set: Vec<&str> = [
        ("command", c.command.is_some()),
        ("inline", c.inline.is_some()),
        ("script", c.script.is_some()),
        ("scripts", c.scripts.is_some()),
    ]
    .iter()
    .filter(|(_, s)| *s)
    .map(|(k, _)| *k)
    .collect();
    match set.len() {
        0 => d.push(
            Diagnostic::error("shell-local has nothing to run")
                .at_opt(node.span.clone())
                .with_help("set one of \"command\", \"inline\", \"script\" or \"scripts\""),
        ),
        1 => {}
        _ => d.push(
            Diagnostic::error(format!(
                "only one of command, inline, script or scripts may be set; found {}",
                set.join(", ")
            ))
            .at_opt(node.span_of(set[1]))
            .with_help(format!("keep {:?} and remove the others", set[0])),
        ),
    }
    for s in c.script.iter().chain(c.scripts.iter().flatten()) {
        if !std::path::Path::new(s).is_file() {
            let key = if c.script.as_deref() == Some(s.as_str()) { "script" } else { "scripts" };
            d.push(Diagnostic::error(format!("script {s:?} does not exist")).at_opt(node.span_of(key)));
        }
    }
    for (i, kv) in c.environment_vars.iter().enumerate() {
        if !kv.contains('=') {
            let span = node
                .get("environment_vars")
                .and_then(|n| match &n.kind {
                    kiln_config::node::NodeKind::Array(items) => items.get(i).and_then(|x| x.span.clone()),
                    _ => None,
                })
                .or(node.span_of("environment_vars"));
            d.push(
                Diagnostic::error(format!("environment variable {kv:?} is not KEY=value"))
                    .at_opt(span)
                    .with_help("write it as \"NAME=value\""),
            );
        }
    }
    d.into_result()
}

/// This process's id and a counter: unique names for temporary and uploaded scripts.
pub fn unique() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!("{}{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// The name of an inline script: Packer's `packer-shell<n>`, in kiln's private temporary
/// folder ([`kiln_core::private_temp`]).
fn temp_script_name(ext: Option<&str>) -> String {
    let ext = ext.map(|e| format!(".{}", e.trim_start_matches('.'))).unwrap_or_default();
    format!("packer-shell{}{ext}", unique())
}

/// The scripts' variables: `first`, then `environment_vars` (`KEY=value`), then `env`.
pub fn environment(
    first: Vec<(String, String)>,
    environment_vars: &[String],
    env: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut all = first;
    all.extend(environment_vars.iter().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.into(), v.into())));
    all.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
    all
}

/// `{{.Vars}}`: each variable written with `env_var_format` (two `%s`; default `%s='%s' `).
pub fn vars(env_var_format: Option<&str>, env: &[(String, String)]) -> String {
    let fmt = env_var_format.unwrap_or("%s='%s' ");
    env.iter()
        .map(|(k, v)| fmt.replacen("%s", k, 1).replacen("%s", &crate::escape_single_quoted(v), 1))
        .collect::<Vec<_>>()
        .concat()
}

/// A script's output on `ui`: stdout as messages, stderr as errors.
pub fn output_to(ui: &Ui) -> impl Fn(Stream, &str) + Send + Sync {
    let ui = ui.clone();
    move |s: Stream, line: &str| match s {
        Stream::Stdout => ui.message(line),
        Stream::Stderr => ui.error(line),
    }
}

/// An error unless `code` is one of `valid`.
pub fn check_exit_code(code: i32, valid: &[i64]) -> Result<()> {
    if valid.contains(&i64::from(code)) {
        return Ok(());
    }
    Err(Error::new(format!("Script exited with non-zero exit status: {code}. Allowed exit codes are: {valid:?}")))
}

/// Runs the configured commands; `extra_env` comes first in `{{.Vars}}` (Packer's
/// `PACKER_BUILDER_TYPE` and `PACKER_BUILD_NAME`).
pub async fn run(c: &Config, ctx: &RunContext, extra_env: &[(String, String)]) -> Result<()> {
    let ui = &ctx.ui;
    let os = std::env::consts::OS;
    if !c.only_on.is_empty() && !c.only_on.iter().any(|o| o == os) {
        ui.say(format!("Skipping shell-local: only_on does not include {os}"));
        return Ok(());
    }
    let env = environment(extra_env.to_vec(), &c.environment_vars, &c.env);
    let vars = vars(c.env_var_format.as_deref(), &env);
    let mut scripts: Vec<PathBuf> = Vec::new();
    let mut _temp = None;
    let inline = c.inline.clone().or_else(|| c.command.clone().map(|x| vec![x]));
    if let Some(lines) = inline {
        let shebang = c.inline_shebang.as_deref().unwrap_or("/bin/sh -e");
        let body = format!("#!{shebang}\n{}\n", lines.join("\n"));
        // It holds rendered values (secrets too): private, created exclusively, owner-only.
        let temp = kiln_core::private_temp::TempFile::create(
            &temp_script_name(c.tempfile_extension.as_deref()),
            body.as_bytes(),
            0o700,
        )?;
        scripts.push(temp.path().to_path_buf());
        _temp = Some(temp);
    } else {
        scripts.extend(c.script.iter().chain(c.scripts.iter().flatten()).map(PathBuf::from));
    }
    let default_exec = ["/bin/sh", "-c", "{{.Vars}} {{.Script}}"].map(String::from).to_vec();
    let exec = c.execute_command.clone().unwrap_or(default_exec);
    let valid = c.valid_exit_codes.clone().unwrap_or_else(|| vec![0]);
    for script in scripts {
        let script_s = script.to_string_lossy().into_owned();
        ui.say(format!("Running local shell script: {script_s}"));
        let data: GeneratedData =
            [("Vars", vars.as_str()), ("Script", script_s.as_str()), ("Command", script_s.as_str())]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let argv = exec.iter().map(|a| kiln_core::late::render(a, &data)).collect::<Result<Vec<_>>>()?;
        let output = output_to(ui);
        let code = ctx.cancel.run(crate::local::run_argv(&argv, &[], &output)).await??;
        match code {
            Some(code) => check_exit_code(code, &valid)?,
            None => return Err(Error::new(format!("Script {script_s} was killed by a signal"))),
        }
    }
    Ok(())
}

/// The variables Packer gives every shell-local script.
pub fn packer_env(info: &BuildInfo) -> Vec<(String, String)> {
    vec![
        ("PACKER_BUILDER_TYPE".to_string(), info.builder_type.clone()),
        ("PACKER_BUILD_NAME".to_string(), info.name.clone()),
    ]
}
