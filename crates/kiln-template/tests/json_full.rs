//! The full stage with the real Go-template engine ([`kiln_gotmpl`]): user variables,
//! `env` in variables, `timestamp`, `build_name`, `template_dir`, late `.Field` values.
//! Skipped with a notice while the engine is still a placeholder.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use kiln_gotmpl::{render, Context};
use kiln_template::{json, LoadOptions, Node, Stage};

fn engine_ready() -> bool {
    let mut ctx = Context::default();
    ctx.user.insert("x".into(), "1".into());
    let ready = render("{{user `x`}}", &ctx).as_deref() == Ok("1");
    if !ready {
        eprintln!("notice: the Go-template engine is not implemented yet; skipping the full-stage tests");
    }
    ready
}

fn opts() -> LoadOptions {
    let mut o = LoadOptions {
        stage: Stage::Full,
        now: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        ..LoadOptions::default()
    };
    o.env.insert("AWS_ACCESS_KEY".into(), "AKIAIOSFODNN7EXAMPLE".into());
    o.env.insert("AWS_SECRET_KEY".into(), "s3cr3t".into());
    o
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write template");
    p
}

fn get<'a>(n: &'a Node, key: &str) -> Option<&'a str> {
    n.get(key).and_then(Node::as_str)
}

#[test]
fn renders_variables_env_timestamp_and_build_values() {
    if !engine_ready() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("kiln-json-full-{}", std::process::id()));
    let path = write(
        &dir,
        "t.json",
        r#"{
  "variables": {"name": "es", "key": "{{env `AWS_ACCESS_KEY`}}", "secret": "{{env `AWS_SECRET_KEY`}}", "full": "{{user `name`}}-1"},
  "sensitive-variables": ["secret"],
  "builders": [{"type": "null", "name": "nb", "access_key": "{{user `key`}}", "ami": "{{user `full`}} {{timestamp}}",
                "bn": "{{build_name}}/{{build_type}}", "dir": "{{template_dir}}", "boot": ["<tab> http://{{ .HTTPIP }}/"]}],
  "provisioners": [{"type": "shell", "inline": ["echo {{user `secret`}}"]}]
}"#,
    );
    let t = json::load(&path, &opts()).unwrap_or_else(|e| panic!("{e}"));
    let c = &t.builds[0].config;
    assert_eq!(get(c, "access_key"), Some("AKIAIOSFODNN7EXAMPLE"));
    assert_eq!(get(c, "ami"), Some("es-1 1700000000"));
    assert_eq!(get(c, "bn"), Some("nb/null"));
    let abs = std::path::absolute(&dir).expect("absolute");
    assert_eq!(get(c, "dir").map(PathBuf::from), Some(abs));
    assert_eq!(c.get("boot").map(Node::to_json), Some(serde_json::json!(["<tab> http://{{ .HTTPIP }}/"])));
    assert!(t.sensitive_values.contains(&"s3cr3t".to_string()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn env_outside_variables_is_an_error_at_its_place() {
    if !engine_ready() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("kiln-json-env-{}", std::process::id()));
    let path = write(&dir, "t.json", "{\"builders\": [{\"type\": \"null\",\n  \"x\": \"a {{env `HOME`}}\"}]}");
    let e = json::load(&path, &opts()).expect_err("env in a builder");
    let span = e.0[0].span.as_ref().expect("a place");
    let (line, col) = span.line_col();
    assert!(line == 2 && (11..=17).contains(&col), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn seed_templates_load_fully() {
    if !engine_ready() {
        return;
    }
    let Some(seeds) = std::env::var_os("KILN_SHARED").map(|s| PathBuf::from(s).join("seed-templates")) else {
        eprintln!("notice: KILN_SHARED not set; skipping");
        return;
    };
    for name in
        ["iter1-amazon-ebs.json", "iter2-env-vars.json", "elasticsearch.json", "apache-build.json", "bk-ami.json"]
    {
        let t = json::load(&seeds.join(name), &opts()).unwrap_or_else(|e| panic!("{name}:\n{e}"));
        for b in &t.builds {
            for s in b.config.strings() {
                assert!(!s.contains("{{user") && !s.contains("{{timestamp") && !s.contains("{{env"), "{name}: {s}");
            }
        }
    }
    let t = json::load(&seeds.join("elasticsearch.json"), &opts()).expect("loads");
    assert_eq!(get(&t.builds[0].config, "ami_name"), Some("elasticsearch-1-0-0"));
    assert_eq!(get(&t.builds[0].config, "region"), Some("us-east-1"));
}

/// The step cache must know which provisioner options change on every run.
#[test]
fn options_that_change_every_run_are_marked() {
    if !engine_ready() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("kiln-json-volatile-{}", std::process::id()));
    let path = write(
        &dir,
        "t.json",
        r#"{
  "variables": {
    "year": "{{isotime `2006`}}",
    "tag": "v-{{user `year`}}",
    "fixed": "a",
    "given": "{{uuid}}"
  },
  "builders": [{"type": "null", "communicator": "none"}],
  "provisioners": [
    {"type": "shell", "inline": ["echo fixed"], "environment_vars": ["STAMP={{ timestamp }}"]},
    {"type": "shell", "inline": ["echo {{uuid}}", "echo {{user `x`}}"]},
    {"type": "shell", "inline": ["echo {{ build_name }} {{user `fixed`}} {{user `given`}}"]},
    {"type": "shell", "inline": ["echo {{user `fixed`}}"], "environment_vars": ["TAG={{user `tag`}}", "ID={{uuid}}"]},
    {"type": "shell", "inline": ["echo {{user `year`}} {{uuid}}"], "execute_command": "{{uuid}} {{user `year`}}"}
  ]
}"#,
    );
    // A variable set on the command line has that value, not its default's.
    let mut o = opts();
    o.vars.push(("given".into(), "fixed-id".into()));
    let t = json::load(&path, &o).unwrap_or_else(|e| panic!("{e}"));
    let marks: Vec<Vec<(String, String, String)>> = t.builds[0]
        .provisioners
        .iter()
        .map(|p| {
            p.volatile
                .iter()
                .map(|v| {
                    (
                        v.option.clone(),
                        v.what.clone(),
                        v.span.as_ref().map(|s| s.text().to_string()).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .collect();
    let m = |o: &str, w: &str, at: &str| (o.to_string(), w.to_string(), at.to_string());
    let year = "{{user `year`}} (which uses {{isotime}})";
    assert_eq!(
        marks,
        vec![
            vec![m("environment_vars", "{{timestamp}}", "timestamp")],
            vec![m("inline", "{{uuid}}", "uuid")],
            vec![],
            // Through a variable that uses another one; the first use in the option counts.
            vec![m("environment_vars", "{{user `tag`}} (which uses {{isotime}})", "{{user `tag`}}")],
            vec![m("inline", year, "{{user `year`}}"), m("execute_command", "{{uuid}}", "uuid")],
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
