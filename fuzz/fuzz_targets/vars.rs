//! Variable inputs: the same bytes as a `-var` value, a `PKR_VAR_*` value, an HCL var file and a
//! JSON var file, against variables of every type. No input may make the loaders panic, hang or
//! use memory without bound.
#![no_main]

use std::path::PathBuf;

const TEMPLATE: &str = r#"
variable "s" { default = "" }
variable "n" {
  type    = number
  default = 0
}
variable "l" {
  type    = list(string)
  default = []
}
variable "m" {
  type    = map(object({ a = number, b = optional(list(bool)) }))
  default = {}
}
variable "secret" {
  sensitive = true
  default   = ""
}
source "null" "n" { communicator = "none" }
build { sources = ["source.null.n"] }
"#;

const JSON_TEMPLATE: &str =
    r#"{"variables": {"s": "", "n": "0", "secret": ""}, "sensitive-variables": ["secret"], "builders": [{"type": "null", "communicator": "none"}]}"#;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let dir: PathBuf = std::env::temp_dir().join(format!("kiln-fuzz-vars-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let (hcl, json) = (dir.join("t.pkr.hcl"), dir.join("t.json"));
    let (hcl_vars, json_vars) = (dir.join("v.pkrvars.hcl"), dir.join("v.json"));
    if std::fs::write(&hcl, TEMPLATE).is_err()
        || std::fs::write(&json, JSON_TEMPLATE).is_err()
        || std::fs::write(&hcl_vars, text).is_err()
        || std::fs::write(&json_vars, text).is_err()
    {
        return;
    }
    for name in ["s", "n", "l", "m", "secret"] {
        let mut opts = kiln_template::LoadOptions::default();
        opts.vars = vec![(name.to_string(), text.to_string())];
        opts.env.insert(format!("PKR_VAR_{name}"), text.to_string());
        let _ = kiln_template::load(&hcl, &opts);
        let _ = kiln_template::load(&json, &opts);
    }
    let mut opts = kiln_template::LoadOptions::default();
    opts.var_files = vec![hcl_vars];
    let _ = kiln_template::load(&hcl, &opts);
    opts.var_files = vec![json_vars.clone()];
    let _ = kiln_template::load(&hcl, &opts);
    let _ = kiln_template::load(&json, &opts);
});
