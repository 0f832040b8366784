//! `inspect` of HCL2 configurations: the rules Packer 1.6.6 follows, each on a small template
//! (the corpus test checks them on real ones).

mod hcl_util;

use hcl_util::{dir_with, opts};
use kiln_template::inspect::render;
use kiln_template::Stage;

/// `inspect`'s text for a one-file configuration, loaded as the command does.
fn inspect(src: &str) -> String {
    let d = dir_with(&[("t.pkr.hcl", src)]);
    match kiln_template::load(&d.join("t.pkr.hcl"), &opts(Stage::Syntax)) {
        Ok(t) => render(&t),
        Err(e) => panic!("expected the configuration to load, got:\n{e}"),
    }
}

/// The lines of the variables part (between the header and `> builds:`).
fn vars_part(out: &str) -> Vec<String> {
    out.lines()
        .skip_while(|l| !l.starts_with("> input-variables"))
        .take_while(|l| !l.starts_with("> builds"))
        .filter(|l| l.starts_with("var.") || l.starts_with("local."))
        .map(String::from)
        .collect()
}

#[test]
fn locals_that_cannot_be_evaluated_are_left_out_with_their_dependants() {
    let out = inspect(
        r#"
variable "region" { type = string }
locals {
  broken    = no_such_function("x")
  uses_it   = "${local.broken}-suffix"
  fine      = "ok"
  uses_fine = "${local.fine}!"
  from_var  = ["a", var.region]
}
"#,
    );
    assert_eq!(
        vars_part(&out),
        [
            "var.region: \"<unknown>\"",
            "local.fine: \"ok\"",
            // A value with any unknown part is shown as unknown as a whole.
            "local.from_var: \"<unknown>\"",
            "local.uses_fine: \"ok!\"",
        ]
    );
}

#[test]
fn locals_in_a_cycle_are_left_out() {
    let out = inspect("locals {\n  a = local.b\n  b = local.a\n  c = 1\n}\n");
    assert_eq!(vars_part(&out), ["local.c: \"1\""]);
}

#[test]
fn sensitive_strings_are_masked_wherever_they_show_but_empty_ones_are_not() {
    let out = inspect(
        r#"
variable "empty_key" {
  default   = ""
  sensitive = true
}
variable "account" {
  default   = "123456"
  sensitive = true
}
variable "tags" {
  default   = ["alpha", "beta"]
  sensitive = true
}
variable "nothing" {
  default   = null
  sensitive = true
}
locals {
  arn = "arn:aws:iam::123456:role/x"
}
"#,
    );
    assert_eq!(
        vars_part(&out),
        [
            "var.account: \"<sensitive>\"",
            "var.empty_key: \"\"",
            "var.nothing: \"null\"",
            "var.tags: \"[\\n  \\\"<sensitive>\\\",\\n  \\\"<sensitive>\\\",\\n]\"",
            "local.arn: \"arn:aws:iam::<sensitive>:role/x\"",
        ]
    );
}

#[test]
fn a_hard_coded_credential_is_hidden_but_the_same_text_elsewhere_is_not() {
    let out = inspect(
        r#"
variable "ssh_password" { default = "vagrant" }
variable "ssh_username" { default = "vagrant" }
variable "api_token" { default = "" }
"#,
    );
    assert_eq!(
        vars_part(&out),
        ["var.api_token: \"\"", "var.ssh_password: \"<sensitive>\"", "var.ssh_username: \"vagrant\""]
    );
}

#[test]
fn builds_show_sources_as_referenced_and_named_blocks_as_type_dot_name() {
    let out = inspect(
        r#"
source "null" "a" { communicator = "none" }
build {
  sources = ["source.docker.declared_elsewhere", "null.a"]
  source "source.null.a" {
    name = "renamed"
  }
  provisioner "shell-local" {
    name   = "first"
    inline = ["true"]
  }
  provisioner "shell-local" { inline = ["true"] }
  post-processors {
    post-processor "manifest" { name = "m" }
    post-processor "checksum" {}
  }
}
"#,
    );
    let builds = out.split("> builds:\n").nth(1).unwrap_or_default();
    assert_eq!(
        builds,
        "\n  > <unnamed build 0>:\n\n    sources:\n\n      docker.declared_elsewhere\n\n      null.a\n\n      null.a\n\n    \
provisioners:\n\n      shell-local.first\n      shell-local\n\n    post-processors:\n\n      0:\n        manifest.m\n        checksum\n\n"
    );
}

#[test]
fn a_build_with_a_malformed_source_reference_is_left_out() {
    let out = inspect(
        r#"
build {
  name    = "bad"
  sources = ["just-a-name"]
}
build {
  name    = "good"
  sources = ["source.null.x"]
}
"#,
    );
    assert!(!out.contains("> bad:"), "{out}");
    assert!(out.contains("> good:"), "{out}");
}

/// Packer 1.6.6 shows a string default as the string, even when it reads like JSON, and a
/// list of such strings as a list of strings (kiln once re-parsed the default's display text).
#[test]
fn string_defaults_that_look_like_json_stay_strings() {
    let out = inspect(
        r#"
variable "x" {
  default = "[1, 2]"
}
variable "y" {
  default = ["[1]", "2"]
}
source "null" "n" { communicator = "none" }
build { sources = ["source.null.n"] }
"#,
    );
    assert_eq!(vars_part(&out), [r#"var.x: "[1, 2]""#, r#"var.y: "[\n  \"[1]\",\n  \"2\",\n]""#]);
}
