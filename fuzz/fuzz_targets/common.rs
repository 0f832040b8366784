//! Shared by the loader targets: write the input to a template file and load it fully.

use std::path::PathBuf;

pub fn load_as(data: &[u8], file_name: &str) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let dir = std::env::temp_dir().join(format!("kiln-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path: PathBuf = dir.join(file_name);
    if std::fs::write(&path, text).is_err() {
        return;
    }
    let mut opts = kiln_template::LoadOptions::default();
    // Both stages: syntax-only must never panic, nor must evaluation.
    opts.stage = kiln_template::Stage::Syntax;
    let _ = kiln_template::load(&path, &opts);
    opts.stage = kiln_template::Stage::Full;
    let _ = kiln_template::load(&path, &opts);
}
