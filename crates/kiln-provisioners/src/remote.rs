//! What the provisioners that stage files on the machine share (`ansible-local`,
//! `puppet-masterless`, `chef-solo`): path checks for `prepare`, running a command there with
//! its output on the UI, and removing the staging folder.

use std::path::Path;
use std::sync::Arc;

use kiln_comm::shell_local::output_to;
use kiln_comm::shell_quote;
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::{Communicator, Error, Result, RunContext, Stream};

/// An error at `key` unless `path` is a file (`dir` false) or a folder (`dir` true).
pub(crate) fn check_path(d: &mut Diagnostics, config: &Node, key: &str, path: &str, dir: bool) {
    let p = Path::new(path);
    let (ok, what) = if dir { (p.is_dir(), "folder") } else { (p.is_file(), "file") };
    if !ok {
        let why = if p.exists() { format!("is not a {what}") } else { "does not exist".to_string() };
        d.push(
            Diagnostic::error(format!("{key}: {path:?} {why}"))
                .at_opt(config.span_of(key))
                .with_help(format!("give the path of a local {what} (relative to the folder kiln runs in)")),
        );
    }
}

/// `path`'s file name, for uploads into the staging folder.
pub(crate) fn base_name(path: &str) -> String {
    Path::new(path.trim_end_matches('/')).file_name().map_or_else(|| path.to_string(), |n| n.to_string_lossy().into())
}

/// Runs `command` on the machine with its output on the UI and returns its exit status.
pub(crate) async fn run_status(
    ctx: &RunContext,
    comm: &Arc<dyn Communicator>,
    command: &str,
    what: &str,
) -> Result<i32> {
    ctx.ui.log(format!("running on the machine: {command}"));
    let output = output_to(&ctx.ui);
    let started = ctx.cancel.run(comm.start(command, &output)).await;
    if started.is_err() {
        comm.stop_cancelled(&ctx.ui).await;
    }
    match started?? {
        Some(code) => Ok(code),
        None => Err(Error::new(format!("{what} ended without an exit status (the connection was lost?)"))),
    }
}

/// [`run_status`], an error unless the command exits with 0.
pub(crate) async fn run(ctx: &RunContext, comm: &Arc<dyn Communicator>, command: &str, what: &str) -> Result<()> {
    match run_status(ctx, comm, command, what).await? {
        0 => Ok(()),
        code => Err(Error::new(format!("{what} failed: non-zero exit status {code}"))),
    }
}

/// Runs `command` (which removes `staging`) whatever state the build is in: errors are shown,
/// not returned, so that they never hide the provisioner's own result.
pub(crate) async fn remove_staging(ctx: &RunContext, comm: &Arc<dyn Communicator>, staging: &str, command: &str) {
    ctx.ui.say(format!("Removing staging directory {staging}..."));
    let noop = |_: Stream, _: &str| {};
    match tokio::time::timeout(std::time::Duration::from_secs(60), comm.start(command, &noop)).await {
        Ok(Ok(Some(0))) => {}
        Ok(Ok(code)) => ctx.ui.error(format!("removing {staging} ended with status {code:?}")),
        Ok(Err(e)) => ctx.ui.error(format!("removing {staging}: {e}")),
        Err(_) => ctx.ui.error(format!("removing {staging} timed out")),
    }
}

/// Creates `dir` on the machine: with PowerShell on Windows; else `mkdir -p`, through `sudo`
/// (then opened to everyone, since the communicator's user uploads into it) when `sudo`.
pub(crate) async fn make_dir(
    ctx: &RunContext,
    comm: &Arc<dyn Communicator>,
    dir: &str,
    sudo: bool,
    windows: bool,
) -> Result<()> {
    let cmd = if windows {
        format!(
            "powershell.exe -Command \"New-Item -ItemType directory -Force -ErrorAction SilentlyContinue -Path {dir}\""
        )
    } else if sudo {
        format!("sudo mkdir -p {0} && sudo chmod 0777 {0}", shell_quote(dir))
    } else {
        format!("mkdir -p {}", shell_quote(dir))
    };
    run(ctx, comm, &cmd, &format!("creating {dir}")).await
}

/// The command that removes the folder `dir` and everything in it (see [`make_dir`]).
pub(crate) fn remove_dir_command(dir: &str, sudo: bool, windows: bool) -> String {
    if windows {
        format!("powershell.exe -Command \"rm {dir} -recurse -force\"")
    } else {
        format!("{}rm -fr {}", if sudo { "sudo " } else { "" }, shell_quote(dir))
    }
}

/// Uploads the contents of the local folder `src` into the folder `dst` on the machine.
pub(crate) async fn upload_contents(
    ctx: &RunContext,
    comm: &Arc<dyn Communicator>,
    dst: &str,
    src: &str,
) -> Result<()> {
    let src = std::path::PathBuf::from(format!("{}/", src.trim_end_matches('/')));
    ctx.cancel.run(comm.upload_dir(dst, &src, &[])).await?
}

/// An error at `key` when the template `text` does not parse or names a field not in `fields`.
pub(crate) fn check_template(d: &mut Diagnostics, config: &Node, key: &str, text: &str, fields: &[&str]) {
    let problem = match kiln_core::late::Late::<String>::new(text).unknown_fields(fields) {
        Ok(unknown) if unknown.is_empty() => return,
        Ok(unknown) => format!("{key} uses unknown field(s) {}", unknown.join(", ")),
        Err(e) => format!("{key} is not a valid template: {e}"),
    };
    let help = format!("the fields are {}", fields.iter().map(|f| format!(".{f}")).collect::<Vec<_>>().join(", "));
    d.push(Diagnostic::error(problem).at_opt(config.span_of(key)).with_help(help));
}

/// An error unless `os` (`guest_os_type`) is unset, `unix` or `windows`.
pub(crate) fn check_guest_os(d: &mut Diagnostics, config: &Node, os: Option<&str>) {
    if let Some(os) = os.filter(|os| !matches!(*os, "unix" | "windows")) {
        d.push(
            Diagnostic::error(format!("guest_os_type: unknown value {os:?}"))
                .at_opt(config.span_of("guest_os_type"))
                .with_help("use \"unix\" or \"windows\""),
        );
    }
}

/// Whether `guest_os_type` names Windows.
pub(crate) fn is_windows(guest_os_type: Option<&str>) -> bool {
    guest_os_type == Some("windows")
}

/// Whether commands go through `sudo`: never on Windows, nor with `prevent_sudo`.
pub(crate) fn uses_sudo(prevent_sudo: bool, guest_os_type: Option<&str>) -> bool {
    !prevent_sudo && !is_windows(guest_os_type)
}
