//! HCL2 data sources through the real binary: run in dependency order during `validate` and
//! `build` (with variables, locals and each other), errors at the type label or the block,
//! cycles named, `-syntax-only` leaving them alone; Packer's own data source fixtures in the
//! corpus; a build block without sources; communicators kiln does not implement.

use kiln_testing::http::{HttpServer, Request, Response};
use kiln_testing::TempDir;

/// Runs kiln in `dir`: (exit code, stdout + stderr).
fn kiln(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let (rc, out, err) = kiln_testing::cli::run_text(env!("CARGO_BIN_EXE_kiln"), dir, args);
    (rc, format!("{out}{err}"))
}

/// `kiln console TEMPLATE` with `input` on stdin: (exit code, stdout, stderr).
fn console(dir: &std::path::Path, template: &str, input: &str) -> (i32, String, String) {
    kiln_testing::cli::run_with_input(env!("CARGO_BIN_EXE_kiln"), dir, &["console", template], input)
}

fn dir_with(tag: &str, template: &str) -> TempDir {
    let d = TempDir::new(tag);
    d.file("t.pkr.hcl", template.as_bytes());
    d
}

#[test]
fn data_sources_locals_and_variables_are_evaluated_in_dependency_order() {
    // `base` uses a local that uses another data source declared after it; the source and the
    // provisioner use both.
    let d = dir_with(
        "ds-order",
        r#"
variable "flavour" {
  default = "vanilla"
}

data "null" "base" {
  input = "${local.scoop}-swirl"
}

locals {
  scoop = "${data.null.first.output}-${var.flavour}"
  final = upper(data.null.base.output)
}

data "null" "first" {
  input = "chocolate"
}

source "file" "out" {
  content = local.final
  target  = "out.txt"
}

build {
  sources = ["source.file.out"]
  provisioner "shell-local" {
    inline = ["echo base is ${data.null.base.output}"]
  }
}
"#,
    );
    let (rc, out) = kiln(&d, &["validate", "t.pkr.hcl"]);
    assert_eq!(rc, 0, "{out}");
    let (rc, out) = kiln(&d, &["build", "-color=false", "-var", "flavour=mint", "t.pkr.hcl"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("base is chocolate-mint-swirl"), "{out}");
    assert_eq!(std::fs::read_to_string(d.0.join("out.txt")).unwrap(), "CHOCOLATE-MINT-SWIRL");
    let (rc, out, err) = console(&d, "t.pkr.hcl", "data.null.base.output\ndata.null.base\n");
    assert_eq!(rc, 0, "{err}");
    assert_eq!(out, "chocolate-vanilla-swirl\n{\n  \"output\" = \"chocolate-vanilla-swirl\"\n}\n");
}

#[test]
fn cycles_are_errors_that_name_the_chain() {
    let d = dir_with(
        "ds-cycle",
        "data \"null\" \"gummy\" {\n  input = data.null.bear.output\n}\n\ndata \"null\" \"bear\" {\n  input = \"${data.null.gummy.output}\"\n}\n\nsource \"null\" \"n\" {\n  communicator = \"none\"\n}\n\nbuild {\n  sources = [\"source.null.n\"]\n}\n",
    );
    let (rc, out) = kiln(&d, &["validate", "t.pkr.hcl"]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("data.null.bear depends on itself"), "{out}");
    assert!(out.contains("cycle: data.null.bear -> data.null.gummy -> data.null.bear"), "{out}");
    assert!(out.contains("t.pkr.hcl:2:11"), "{out}");
    // Through a local.
    let d = dir_with(
        "ds-cycle-local",
        "locals {\n  l = data.null.x.output\n}\n\ndata \"null\" \"x\" {\n  input = local.l\n}\n",
    );
    let (rc, out) = kiln(&d, &["validate", "t.pkr.hcl"]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("cycle: data.null.x -> local.l -> data.null.x"), "{out}");
    // Neither is run at the syntax stage.
    let (rc, out) = kiln(&d, &["validate", "-syntax-only", "t.pkr.hcl"]);
    assert_eq!(rc, 0, "{out}");
}

#[test]
fn unknown_types_are_errors_at_the_type_label() {
    let d = dir_with(
        "ds-unknown",
        "data \"nul\" \"a\" {\n  input = \"x\"\n}\n\ndata \"hcp-packer-image\" \"b\" {\n  bucket_name = \"web\"\n}\n",
    );
    let (rc, out) = kiln(&d, &["validate", "t.pkr.hcl"]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("unknown data source type \"nul\""), "{out}");
    assert!(out.contains("did you mean \"null\"?"), "{out}");
    assert!(out.contains("t.pkr.hcl:1:6"), "{out}");
    assert!(out.contains("the data source type \"hcp-packer-image\" is not implemented in kiln yet"), "{out}");
    assert!(out.contains("t.pkr.hcl:5:6"), "{out}");
    assert!(
        out.contains(
            "kiln implements these data sources: amazon-ami, amazon-parameterstore, amazon-secretsmanager, http, null"
        ),
        "{out}"
    );
    let (rc, out) = kiln(&d, &["validate", "-syntax-only", "t.pkr.hcl"]);
    assert_eq!(rc, 0, "{out}");
    // A reference to an output the data source does not have.
    let d =
        dir_with("ds-output", "data \"null\" \"a\" {\n  input = \"x\"\n}\n\nlocals {\n  y = data.null.a.outptu\n}\n");
    let (rc, out) = kiln(&d, &["validate", "t.pkr.hcl"]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("this object has no attribute named \"outptu\""), "{out}");
    assert!(out.contains("did you mean \"output\"?"), "{out}");
}

fn site(req: &Request) -> Response {
    match req.target.as_str() {
        "/motd" => Response::new(200, "OK", "built by kiln").header("Content-Type", "text/plain"),
        _ => Response::new(404, "Not Found", "gone"),
    }
}

#[test]
fn http_values_feed_the_build_and_errors_point_at_the_block() {
    let server = HttpServer::start(site);
    let template = format!(
        "data \"http\" \"motd\" {{\n  url = \"{}\"\n}}\n\nsource \"file\" \"f\" {{\n  content = data.http.motd.body\n  target  = \"motd.txt\"\n}}\n\nbuild {{\n  sources = [\"source.file.f\"]\n}}\n",
        server.url("/motd")
    );
    let d = dir_with("ds-http", &template);
    let (rc, out) = kiln(&d, &["build", "-color=false", "t.pkr.hcl"]);
    assert_eq!(rc, 0, "{out}");
    assert_eq!(std::fs::read_to_string(d.0.join("motd.txt")).unwrap(), "built by kiln");
    assert_eq!(server.requests().len(), 1);

    let missing = server.url("/missing");
    d.file("t.pkr.hcl", template.replace(&server.url("/motd"), &missing).as_bytes());
    for cmd in ["validate", "build"] {
        let (rc, out) = kiln(&d, &[cmd, "t.pkr.hcl"]);
        assert_eq!(rc, 1, "{out}");
        assert!(out.contains(&format!("GET {missing} answered HTTP 404 Not Found")), "{out}");
        assert!(out.contains("t.pkr.hcl:1:1"), "{out}");
    }
    // `-evaluate-datasources` is accepted; -syntax-only does not request anything.
    let before = server.requests().len();
    let (rc, out) = kiln(&d, &["validate", "-evaluate-datasources", "t.pkr.hcl"]);
    assert_eq!(rc, 1, "{out}");
    let (rc, out) = kiln(&d, &["validate", "-syntax-only", "t.pkr.hcl"]);
    assert_eq!(rc, 0, "{out}");
    assert_eq!(server.requests().len(), before + 1);
}

#[test]
fn a_build_without_sources_is_an_error_at_the_build_block() {
    let d = dir_with("ds-nosrc", "locals {\n  a = 1\n}\n\nbuild {\n}\n");
    let (rc, out) = kiln(&d, &["validate", "t.pkr.hcl"]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("missing source reference"), "{out}");
    assert!(out.contains("t.pkr.hcl:5:1"), "{out}");
    let (rc, out) = kiln(&d, &["validate", "-syntax-only", "t.pkr.hcl"]);
    assert_eq!(rc, 0, "{out}");
    // Only a provisioner: still no source.
    d.file("t.pkr.hcl", b"build {\n  provisioner \"shell-local\" {\n    inline = [\"true\"]\n  }\n}\n");
    let (rc, out) = kiln(&d, &["validate", "t.pkr.hcl"]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("missing source reference"), "{out}");
    // A source of a type kiln does not know is an error of its own.
    d.file("t.pkr.hcl", b"source \"nonexistent\" \"x\" {\n}\n\nbuild {\n  sources = [\"source.nonexistent.x\"]\n}\n");
    let (rc, out) = kiln(&d, &["validate", "t.pkr.hcl"]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("unknown builder type \"nonexistent\""), "{out}");
}

#[test]
fn communicators_kiln_lacks_are_reported_at_the_option() {
    let cases = [
        ("winrm", "the winrm communicator is not implemented in kiln yet"),
        // kiln's docker communicator is the docker builder's own.
        ("docker", "the docker communicator works only with the docker builder"),
    ];
    for (kind, says) in cases {
        let template = format!(
            "source \"null\" \"n\" {{\n  communicator = \"{kind}\"\n}}\n\nbuild {{\n  sources = [\"source.null.n\"]\n}}\n"
        );
        let d = dir_with("ds-comm", &template);
        let (rc, out) = kiln(&d, &["validate", "t.pkr.hcl"]);
        assert_eq!(rc, 1, "{out}");
        assert!(out.contains(says), "{out}");
        assert!(
            out.contains("kiln implements these communicators: ssh, none, local, docker (docker builder only)"),
            "{out}"
        );
        assert!(out.contains("t.pkr.hcl:2:18"), "{out}");
    }
}

/// Packer's own data source fixtures, with what current Packer's `packer validate` (its core
/// data sources `null` and `http`, no plugins installed) says of each: (path, folder to run in
/// relative to the corpus, empty for the file's own; exit code; text kiln must print).
const FIXTURES: &[(&str, &str, i32, &str)] = &[
    // amazon-ami is a plugin (Packer's test suite registers a mock under that name, whose
    // options are these): an error without it, and with it (`string` is not an option).
    ("packer/hcl2template/testdata/datasources/basic.pkr.hcl", "", 1, "amazon-ami"),
    ("packer/hcl2template/testdata/datasources/not-allowed.pkr.hcl", "", 1, "amazon-ami"),
    ("packer/hcl2template/testdata/complete/datasource.pkr.hcl", "", 1, "amazon-ami"),
    ("packer/hcl2template/testdata/datasources/recursive.pkr.hcl", "", 0, "The configuration is valid."),
    ("packer/hcl2template/testdata/datasources/duplicate.pkr.hcl", "", 1, "duplicate data source \"amazon-ami.test\""),
    ("packer/hcl2template/testdata/datasources/nonexistent.pkr.hcl", "", 1, "unknown data source type \"nonexistent\""),
    ("packer/hcl2template/testdata/datasources/unnamed.pkr.hcl", "", 1, "missing name for data block"),
    ("packer/hcl2template/testdata/datasources/untyped.pkr.hcl", "", 1, "missing type and name for data block"),
    ("packer/datasource/http/test-fixtures/empty_url.pkr.hcl", "", 1, "the http data source needs a `url`"),
    // `mock` exists only in Packer's test suite.
    ("packer/command/test-fixtures/validate/datasource.pkr.hcl", "", 1, "unknown data source type \"mock\""),
    ("packer/command/test-fixtures/hcl/datasource.pkr.hcl", "", 1, "unknown data source type \"mock\""),
    // Packer's command tests run these from command/: a data source's value in a local and in a
    // provisioner option that is checked at validate (the file provisioner's `direction`).
    ("test-fixtures/hcl/data-source-validation.pkr.hcl", "packer/command", 0, "The configuration is valid."),
    ("test-fixtures/hcl/local-ds-validate.pkr.hcl", "packer/command", 0, "The configuration is valid."),
    ("test-fixtures/hcl/build_no_source.pkr.hcl", "packer/command", 1, "missing source reference"),
];

#[test]
fn packer_data_source_fixtures_agree_with_packer() {
    let Some(corpus) = kiln_testing::corpus_or_skip("packer/hcl2template/testdata/datasources") else { return };
    let mut wrong = Vec::new();
    for (path, run_in, want, says) in FIXTURES {
        let (dir, name) = if run_in.is_empty() {
            let full = corpus.join(path);
            (full.parent().unwrap().to_path_buf(), full.file_name().unwrap().to_str().unwrap().to_string())
        } else {
            (corpus.join(run_in), path.to_string())
        };
        let (rc, out) = kiln(&dir, &["validate", &name]);
        if rc != *want || !out.contains(says) {
            wrong.push(format!("{path}: packer {want} kiln {rc}, expected {says:?} in:\n{out}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The values Packer's test expects of the recursive fixture.
    let dir = corpus.join("packer/hcl2template/testdata/datasources");
    let (rc, out, err) = console(&dir, "recursive.pkr.hcl", "data.null.yummy.output\ndata.null.baz.output\n");
    assert_eq!(rc, 0, "{err}");
    assert_eq!(out, "chocolate-vanilla-swirl-with-marshmallows-and-sprinkles\nchocolate-vanilla-swirl\n");
}
