//! Shared helpers for the hcl_* integration tests (included with `mod hcl_util;`).
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use kiln_template::{Diagnostics, LoadOptions, Stage, Template, Value};

static N: AtomicUsize = AtomicUsize::new(0);

/// A fresh folder under the system temp dir holding `files` (name, text).
pub fn dir_with(files: &[(&str, &str)]) -> PathBuf {
    // Under one folder of the test process, removed when it exits.
    let d = kiln_testing::process_dir("hcl-test").join(N.fetch_add(1, Ordering::SeqCst).to_string());
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    for (name, text) in files {
        std::fs::write(d.join(name), text).unwrap();
    }
    d
}

pub fn opts(stage: Stage) -> LoadOptions {
    LoadOptions { stage, ..LoadOptions::default() }
}

pub fn load_src(src: &str) -> Result<Template, Diagnostics> {
    let d = dir_with(&[("t.pkr.hcl", src)]);
    kiln_template::load(&d.join("t.pkr.hcl"), &opts(Stage::Full))
}

pub fn load_ok(src: &str) -> Template {
    match load_src(src) {
        Ok(t) => t,
        Err(d) => panic!("expected the template to load, got:\n{d}"),
    }
}

pub fn load_err(src: &str) -> Diagnostics {
    match load_src(src) {
        Ok(_) => panic!("expected errors for:\n{src}"),
        Err(d) => d,
    }
}

pub fn local(t: &Template, name: &str) -> Value {
    t.locals.iter().find(|l| l.name == name).map(|l| l.value.clone()).unwrap_or_else(|| panic!("no local {name}"))
}

/// Evaluates `expr` as the value of a local in an otherwise empty template.
pub fn eval(expr: &str) -> Value {
    local(&load_ok(&format!("locals {{\n  x = {expr}\n}}\n")), "x")
}

pub fn s(v: &str) -> Value {
    Value::string(v)
}

pub fn n(v: f64) -> Value {
    Value::float(v)
}

pub fn list(items: Vec<Value>) -> Value {
    Value::List(items)
}
