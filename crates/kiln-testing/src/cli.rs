//! Running the `kiln` binary from its own integration tests, which pass its path
//! (`env!("CARGO_BIN_EXE_kiln")`, known only there).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `bin` with `args` in `dir`; its output. Panics when it cannot be started.
pub fn run_in(bin: &str, dir: &Path, args: &[&str]) -> Output {
    Command::new(bin).args(args).current_dir(dir).output().unwrap_or_else(|e| panic!("running {bin}: {e}"))
}

/// [`run_in`], as [`text`].
pub fn run_text(bin: &str, dir: &Path, args: &[&str]) -> (i32, String, String) {
    text(run_in(bin, dir, args))
}

/// Runs `bin` with `args` in `dir`, `input` on its stdin (`kiln console`), as [`text`].
pub fn run_with_input(bin: &str, dir: &Path, args: &[&str], input: &str) -> (i32, String, String) {
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {bin}: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).unwrap_or_else(|e| panic!("writing to {bin}'s stdin: {e}"));
    }
    text(child.wait_with_output().unwrap_or_else(|e| panic!("waiting for {bin}: {e}")))
}

/// A finished process's (exit code, stdout, stderr); the code is -1 when a signal ended it.
pub fn text(out: Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
