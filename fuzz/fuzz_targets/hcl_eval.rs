//! HCL2 expressions, functions included, as the console evaluates them: no input may panic,
//! overflow the stack, hang or use memory without bound.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Keep file functions inside a scratch folder.
    let dir = std::env::temp_dir().join(format!("kiln-fuzz-eval-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("a.tpl"), "x${y}");
    // libFuzzer writes its corpus relative to the starting folder: fuzz/run.sh passes absolute paths.
    let _ = std::env::set_current_dir(&dir);
    let opts = kiln_template::LoadOptions::default();
    let scope = kiln_template::hcl::empty(&opts);
    let _ = scope.eval_str(text);
    // The same text as the value of a local, so templates, `for` and functions meet a scope.
    let t = format!("locals {{\n  a = {text}\n  b = \"${{local.a}}\"\n}}\n");
    let _ = std::fs::write(dir.join("t.pkr.hcl"), t);
    let _ = kiln_template::load(&dir.join("t.pkr.hcl"), &opts);
});
