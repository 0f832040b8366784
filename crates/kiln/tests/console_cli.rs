//! `kiln console` driven as a user runs it: expressions on stdin, values on stdout.

use kiln_testing::TempDir;

fn console(args: &[&str], input: &str, dir: &std::path::Path) -> (i32, String, String) {
    let args: Vec<&str> = ["console"].into_iter().chain(args.iter().copied()).collect();
    kiln_testing::cli::run_with_input(env!("CARGO_BIN_EXE_kiln"), dir, &args, input)
}

#[test]
fn prints_values_like_packer_console() {
    let d = TempDir::new("values");
    std::fs::write(
        d.join("t.pkr.hcl"),
        "variable \"x\" {\n  default = \"abc\"\n}\nlocals {\n  l = [1, 2]\n  m = { a = 1 }\n}\n",
    )
    .expect("write");
    let (rc, out, err) = console(&["t.pkr.hcl"], "var.x\nlocal.l\nlocal.m\n1 + 2\n\"a${var.x}\"\n", &d);
    assert_eq!(rc, 0, "{err}");
    assert_eq!(out, "abc\n[\n  1,\n  2,\n]\n{\n  \"a\" = 1\n}\n3\naabc\n");
}

#[test]
fn errors_are_diagnostics_and_set_the_exit_code() {
    let d = TempDir::new("errors");
    std::fs::write(d.join("t.pkr.hcl"), "variable \"region\" {\n  default = \"eu\"\n}\n").expect("write");
    let (rc, out, err) = console(&["t.pkr.hcl"], "var.regoin\nvar.region\n", &d);
    assert_eq!(rc, 1);
    assert_eq!(out, "eu\n");
    assert!(err.contains("<console>:1:1") && err.contains("did you mean `var.region`?"), "{err}");
}

#[test]
fn var_flags_apply() {
    let d = TempDir::new("vars");
    std::fs::write(d.join("t.pkr.hcl"), "variable \"x\" {\n  default = \"abc\"\n}\n").expect("write");
    let (rc, out, err) = console(&["-var", "x=from-cli", "t.pkr.hcl"], "var.x\n", &d);
    assert_eq!(rc, 0, "{err}");
    assert_eq!(out, "from-cli\n");
}

#[test]
fn works_without_a_template() {
    let d = TempDir::new("none");
    let (rc, out, err) = console(&[], "[for x in [1, 2] : x * 2]\n", &d);
    assert_eq!(rc, 0, "{err}");
    assert_eq!(out, "[\n  2,\n  4,\n]\n");
}

#[test]
fn json_templates_evaluate_go_templates_with_their_variables() {
    let d = TempDir::new("json");
    std::fs::write(
        d.join("t.json"),
        r#"{"variables": {"region": "us-east-1", "name": null, "home": "{{env `KILN_CONSOLE_HOME`}}"},
            "builders": [{"type": "null", "communicator": "none"}]}"#,
    )
    .unwrap();
    // A required variable left unset still lets the console start, with the defaults.
    let (code, out, _) = console(&["t.json"], "{{user `region`}}\n{{upper (user `region`)}}\n", &d);
    assert_eq!(code, 0);
    assert_eq!(out, "us-east-1\nUS-EAST-1\n");
    let (code, out, _) = console(&["-var", "name=web", "t.json"], "{{user `name`}}-{{user `region`}}\n", &d);
    assert_eq!(code, 0);
    assert_eq!(out, "web-us-east-1\n");
}
