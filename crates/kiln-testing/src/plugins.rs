//! External Packer plugins for tests: wrapper executables that make Packer 1.6.6 serve one of
//! its built-in components (`packer plugin packer-builder-null`) where kiln's discovery finds
//! them, and the fake packer-plugin-sdk style plugin (`crates/kiln-plugin/tests/fake-plugin`)
//! built with Debian's Go toolchain.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Writes `dir/packer-KIND-NAME`, a script that runs Packer 1.6.6's component of that name as a
/// plugin (`component`: `builder-null`, `provisioner-shell`, `post-processor-checksum` …).
pub fn packer_wrapper(dir: &Path, component: &str) -> PathBuf {
    let path = dir.join(format!("packer-{component}"));
    let script = format!("#!/bin/sh\nexec packer plugin packer-{component} \"$@\"\n");
    std::fs::write(&path, script).expect("writing a plugin wrapper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod of a plugin wrapper");
    path
}

/// The fake SDK plugin binary, built once per test binary into `out_dir` (a test's
/// `CARGO_TARGET_TMPDIR`); `None` after [`crate::skip`] when Go or Debian's packages of yamux,
/// ugorji's codec and go-cty are missing.
pub fn fake_plugin_or_skip(out_dir: &Path) -> Option<PathBuf> {
    static BUILT: Mutex<Option<Result<PathBuf, String>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let result = built.get_or_insert_with(|| build_fake_plugin(out_dir)).clone();
    match result {
        Ok(p) => Some(p),
        Err(why) => {
            crate::skip(&why);
            None
        }
    }
}

fn build_fake_plugin(out_dir: &Path) -> Result<PathBuf, String> {
    const GOPATH: &str = "/usr/share/gocode";
    let on_path = |tool: &str| {
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
    };
    if !on_path("go") {
        return Err("go is not installed (Debian: golang-go)".into());
    }
    for (dir, pkg) in [
        ("github.com/hashicorp/yamux", "golang-github-hashicorp-yamux-dev"),
        ("github.com/ugorji/go/codec", "golang-github-ugorji-go-codec-dev"),
        ("github.com/zclconf/go-cty/cty", "golang-github-zclconf-go-cty-dev"),
    ] {
        if !Path::new(GOPATH).join("src").join(dir).is_dir() {
            return Err(format!("{dir} is missing (Debian: {pkg})"));
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kiln-plugin/tests/fake-plugin");
    let out = out_dir.join("kiln-fake-plugin");
    let mut go = std::process::Command::new("go");
    go.args(["build", "-o"]).arg(&out).arg(".").current_dir(&src).env("GOPATH", GOPATH).env("GO111MODULE", "off");
    if std::env::var_os("GOCACHE").is_none() {
        go.env("GOCACHE", out_dir.join("go-cache"));
    }
    let status = go.output().map_err(|e| format!("go build: {e}"))?;
    if !status.status.success() {
        return Err(format!("go build of the fake plugin failed: {}", String::from_utf8_lossy(&status.stderr)));
    }
    Ok(out)
}
