//! Loader tests with a tiny renderer, so they do not depend on the Go-template engine.

use std::time::Duration;

use super::*;
use crate::value::Value;
use kiln_gotmpl::RenderError;

/// Knows `user`, `env`, `build_name`, `build_type` and `.Field` (left alone).
fn mini(src: &str, ctx: &Context) -> Result<String, RenderError> {
    let mut out = String::new();
    let mut rest = src;
    let mut base = 0;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find("}}")
            .map(|i| open + i)
            .ok_or(RenderError { message: "unclosed action".into(), offset: base + open })?;
        let action = rest[open + 2..close].trim();
        let arg = || action.split('`').nth(1).unwrap_or("").to_string();
        let fail = |m: &str| RenderError { message: m.to_string(), offset: base + open };
        let v = if action.starts_with("user ") {
            ctx.user.get(&arg()).cloned().unwrap_or_default()
        } else if action.starts_with("env ") {
            if !ctx.allow_env {
                return Err(fail("env is allowed only in variables"));
            }
            ctx.env.get(&arg()).cloned().unwrap_or_default()
        } else if action == "build_name" {
            ctx.build_name.clone().ok_or_else(|| fail("build_name not available"))?
        } else if action == "build_type" {
            ctx.build_type.clone().ok_or_else(|| fail("build_type not available"))?
        } else if action.starts_with('.') {
            rest[open..close + 2].to_string()
        } else {
            return Err(fail(&format!("function {action:?} not defined")));
        };
        out.push_str(&v);
        base += close + 2;
        rest = &rest[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn load_text(text: &str, opts: &LoadOptions) -> Result<Template, Diagnostics> {
    load_source(SourceFile::new("dir/t.json", text), opts, mini)
}

fn full() -> LoadOptions {
    LoadOptions { stage: Stage::Full, ..LoadOptions::default() }
}

fn syntax() -> LoadOptions {
    LoadOptions { stage: Stage::Syntax, ..LoadOptions::default() }
}

fn errors(r: Result<Template, Diagnostics>) -> Vec<Diagnostic> {
    match r {
        Ok(_) => panic!("expected errors"),
        Err(d) => d.0.into_iter().filter(Diagnostic::is_error).collect(),
    }
}

const BASIC: &str = r#"{
  "_comment": "notes",
  "description": "demo",
  "variables": {"region": "us-east-1", "name": "{{user `region`}}-img", "req": null, "home": "{{env `HOME`}}"},
  "sensitive-variables": ["home"],
  "builders": [
    {"type": "null", "communicator": "none"},
    {"type": "file", "name": "f", "target": "{{build_name}}-{{user `name`}}", "content": "x"}
  ],
  "provisioners": [
    {"type": "shell", "inline": ["echo {{build_type}}"], "only": ["f"], "pause_before": "1m30s", "max_retries": 3,
     "timeout": "5m", "override": {"f": {"inline": ["echo override"], "extra": true}}},
    {"type": "shell-local", "command": "{{ .Path }}", "except": ["f"]}
  ],
  "post-processors": [
    "manifest",
    {"type": "checksum", "only": ["null"], "keep_input_artifact": true},
    [{"type": "compress", "name": "c"}, {"type": "manifest", "except": ["null"]}]
  ]
}"#;

#[test]
fn syntax_stage_fills_the_plan_without_builds() {
    let t = load_text(BASIC, &syntax()).unwrap();
    assert_eq!(t.kind, TemplateKind::Json);
    assert_eq!(t.description.as_deref(), Some("demo"));
    let names: Vec<&str> = t.variables.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["region", "name", "req", "home"]);
    assert!(t.variables[2].required && t.variables[2].default_display.is_none());
    assert_eq!(t.variables[3].default_display.as_deref(), Some("{{env `HOME`}}"));
    assert!(t.variables[3].sensitive && !t.variables[0].sensitive);
    let srcs: Vec<(&str, &str)> = t.sources.iter().map(|s| (s.builder_type.as_str(), s.name.as_str())).collect();
    assert_eq!(srcs, [("null", "null"), ("file", "f")]);
    assert_eq!(t.build_blocks[0].provisioners, ["shell", "shell-local"]);
    assert_eq!(t.build_blocks[0].post_processors, [vec!["manifest"], vec!["checksum"], vec!["c", "manifest"]]);
    assert!(t.builds.is_empty());
}

#[test]
fn full_stage_builds_filter_merge_and_render() {
    let mut opts = full();
    opts.vars.push(("req".into(), "r".into()));
    opts.env.insert("HOME".into(), "/home/me".into());
    let t = load_text(BASIC, &opts).unwrap();
    assert_eq!(t.builds.len(), 2);
    let (null, f) = (&t.builds[0], &t.builds[1]);
    assert_eq!(f.config.get("target").and_then(Node::as_str), Some("f-us-east-1-img"));
    assert!(f.config.get("name").is_none() && f.config.get("type").is_none());
    // Provisioner 1 runs only for f, with the override merged and common options removed.
    assert_eq!(f.provisioners.len(), 1);
    let p = &f.provisioners[0];
    assert_eq!(p.config.to_json(), serde_json::json!({"inline": ["echo override"], "extra": true}));
    assert_eq!(p.pause_before, Some(Duration::from_secs(90)));
    assert_eq!((p.max_retries, p.timeout), (3, Some(Duration::from_secs(300))));
    // Provisioner 2 runs for null only; `.Path` stays for run time.
    assert_eq!(null.provisioners.len(), 1);
    let command = null.provisioners[0].config.get("command").unwrap();
    assert_eq!(command.as_str(), Some("{{ .Path }}"));
    assert!(matches!(command.kind, kiln_config::node::NodeKind::Late(_)));
    let chains = |b: &crate::plan::Build| -> Vec<Vec<String>> {
        b.post_processors.iter().map(|c| c.iter().map(|p| p.post_processor_type.clone()).collect()).collect()
    };
    assert_eq!(chains(null), [vec!["manifest"], vec!["checksum"], vec!["compress"]]);
    assert_eq!(chains(f), [vec!["manifest"], vec!["compress", "manifest"]]);
    assert_eq!(null.post_processors[1][0].keep_input_artifact, Some(true));
    assert_eq!(null.post_processors[2][0].name.as_deref(), Some("c"));
    let home = t.variables.iter().find(|v| v.name == "home").and_then(|v| v.value.clone());
    assert_eq!(home, Some(Value::String("/home/me".into())));
    assert_eq!(t.sensitive_values, ["/home/me"]);
}

#[test]
fn variable_precedence_defaults_files_then_flags() {
    let dir = std::env::temp_dir().join(format!("kiln-json-vars-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let vf = dir.join("v.json");
    std::fs::write(&vf, r#"{"a": "file", "b": "file"}"#).unwrap();
    let text = r#"{"variables": {"a": "def", "b": "def", "c": "def", "d": "{{user `e`}}+", "e": "{{user `a`}}"},
      "builders": [{"type": "null", "x": "{{user `a`}} {{user `b`}} {{user `c`}} {{user `d`}}"}]}"#;
    let mut opts = full();
    opts.var_files.push(vf);
    opts.vars.push(("b".into(), "flag1".into()));
    opts.vars.push(("b".into(), "flag2".into()));
    let t = load_text(text, &opts).unwrap();
    assert_eq!(t.builds[0].config.get("x").and_then(Node::as_str), Some("file flag2 def file+"));
    assert_eq!(t.files.len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_required_variables_are_all_listed() {
    let text = "{\"variables\": {\"a\": null,\n \"b\": null}, \"builders\": [{\"type\": \"null\"}]}";
    let errs = errors(load_text(text, &full()));
    let s: Vec<&str> = errs.iter().map(|d| d.summary.as_str()).collect();
    assert_eq!(s, ["required variable \"a\" is not set", "required variable \"b\" is not set"]);
    assert_eq!(errs[1].span.as_ref().map(Span::line_col), Some((2, 2)));
    // Not needed at the syntax stage.
    assert!(load_text(text, &syntax()).is_ok());
}

#[test]
fn structure_errors_are_collected_with_places() {
    let text = r#"{
  "buildrs": [],
  "variables": {"n": 2},
  "builders": [{"type": "null"}, {"type": "null"}, {"name": "x"}],
  "provisioners": [{"type": "shell", "pause_before": "10"}],
  "post-processors": [5, [{"x": 1}]],
  "_note": 1
}"#;
    let errs = errors(load_text(text, &syntax()));
    let s: Vec<&str> = errs.iter().map(|d| d.summary.as_str()).collect();
    assert_eq!(s.len(), 8, "{s:#?}");
    assert_eq!(s[0], "unknown top-level key \"buildrs\" in the template");
    assert_eq!(errs[0].help.as_deref(), Some("did you mean \"builders\"?"));
    assert_eq!(errs[0].span.as_ref().map(Span::line_col), Some((2, 3)));
    assert!(s[1].contains("variable \"n\" must be a string"));
    assert_eq!(errs[1].help.as_deref(), Some("quote it: \"2\" (legacy JSON variables are strings)"));
    assert!(s[2].starts_with("two builders are named \"null\""));
    assert_eq!(errs[2].span.as_ref().map(Span::line_col), Some((4, 43)));
    assert_eq!(s[3], "builder 3 has no \"type\"");
    assert!(s[4].contains("missing unit"), "{}", s[4]);
    assert!(s[5].starts_with("post-processor 1 must be"));
    assert_eq!(s[6], "post-processor 2.1 has no \"type\"");
    assert!(s[7].contains("\"_note\" must be a string"));
}

#[test]
fn references_to_unknown_builders_are_errors_at_full_stage() {
    let text = r#"{"builders": [{"type": "null", "name": "alpha"}],
      "provisioners": [{"type": "shell", "only": ["alpah"], "override": {"beta": {}}}],
      "post-processors": [{"type": "manifest", "except": ["gamma"]}]}"#;
    let errs = errors(load_text(text, &full()));
    assert_eq!(errs.len(), 3);
    assert_eq!(errs[0].help.as_deref(), Some("did you mean \"alpha\"?"));
    assert!(errs[1].summary.contains("\"override\" names the builder \"beta\""));
    assert!(errs[2].summary.starts_with("post-processor 1.1 (manifest)"));
    let empty = errors(load_text("{}", &full()));
    assert_eq!(empty[0].summary, "the template defines no builders");
}

#[test]
fn render_errors_point_into_the_string() {
    let text = "{\"builders\": [{\"type\": \"null\",\n  \"x\": \"a {{nope}} b\"}]}";
    let errs = errors(load_text(text, &full()));
    assert_eq!(errs[0].summary, "template error: function \"nope\" not defined");
    let span = errs[0].span.as_ref().unwrap();
    assert_eq!((span.line_col(), span.text()), ((2, 11), "{{nope}}"));
    // env outside variables is refused by the renderer.
    let text = r#"{"builders": [{"type": "null", "x": "{{env `HOME`}}"}]}"#;
    assert!(errors(load_text(text, &full()))[0].summary.contains("env is allowed only in variables"));
}

#[test]
fn undefined_user_variables_and_undeclared_flags_warn() {
    let text =
        "{\"variables\": {\"region\": \"x\"},\n \"builders\": [{\"type\": \"null\", \"x\": \"{{user `regoin`}}\"}]}";
    let mut opts = full();
    opts.vars.push(("zone".into(), "z".into()));
    let t = load_text(text, &opts).unwrap();
    let w: Vec<&str> = t.warnings.iter().map(|d| d.summary.as_str()).collect();
    assert_eq!(
        w,
        [
            "variable \"zone\" is set by -var but the template does not declare it",
            "the user variable \"regoin\" is not defined",
        ]
    );
    assert_eq!(t.warnings[1].help.as_deref(), Some("did you mean \"region\"?"));
    assert_eq!(t.warnings[1].span.as_ref().map(Span::line_col), Some((2, 38)));
    assert_eq!(t.warnings[1].span.as_ref().map(Span::text), Some("{{user `regoin`}}"));
    assert_eq!(t.builds[0].config.get("x").and_then(Node::as_str), Some(""));
}

#[test]
fn variable_cycles_are_errors() {
    let text = r#"{"variables": {"a": "{{user `b`}}", "b": "{{user `a`}}"}, "builders": [{"type": "null"}]}"#;
    assert!(errors(load_text(text, &full()))[0].summary.starts_with("variables refer to each other in a cycle: a, b"));
}

#[test]
fn min_packer_version_is_checked() {
    let ok = r#"{"min_packer_version": "1.5.0", "builders": [{"type": "null"}]}"#;
    assert_eq!(load_text(ok, &full()).unwrap().required_version.as_deref(), Some("1.5.0"));
    let new = r#"{"min_packer_version": "99.0.0", "builders": [{"type": "null"}]}"#;
    assert!(errors(load_text(new, &full()))[0].summary.contains("requires Packer 99.0.0 or newer"));
}

#[test]
fn hardcoded_secrets_warn_and_never_show() {
    let text = "{\"variables\": {\"pw\": \"hunter2\"}, \"sensitive-variables\": [\"pw\"],\n \"builders\": [{\"type\": \"amazon-ebs\",\n \"secret_key\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\", \"bad\": \"{{nope}}\"}]}";
    let t = load_text(text, &syntax()).unwrap();
    let shown: String = t.warnings.iter().map(ToString::to_string).collect();
    assert!(shown.contains("hard-coded credential in option \"secret_key\" of builder \"amazon-ebs\""), "{shown}");
    assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
    assert_eq!(t.sensitive_values, ["hunter2", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]);
    // Errors on the same line do not show it either.
    let errs = errors(load_text(text, &full()));
    let shown: String = errs.iter().map(ToString::to_string).collect();
    assert!(shown.contains("{{nope}}") && !shown.contains("wJalrXUtnFEMI") && !shown.contains("hunter2"), "{shown}");
}

#[test]
fn only_and_except_together_are_errors() {
    let text = r#"{"builders": [{"type": "null"}],
      "provisioners": [{"type": "shell", "only": ["null"], "except": ["null"]}],
      "post-processors": [{"type": "manifest", "only": ["null"], "except": ["null"]}]}"#;
    let errs = errors(load_text(text, &full()));
    assert_eq!(errs.len(), 2);
    assert_eq!(errs[0].summary, "provisioner 1 (shell): only one of \"only\" or \"except\" may be set");
    assert!(errs[1].summary.starts_with("post-processor 1.1 (manifest)"));
}

#[test]
fn build_names_render_but_only_matches_the_written_name() {
    let text = r#"{"variables": {"a": "n"}, "builders": [{"type": "null", "name": "b-{{user `a`}}"}],
      "provisioners": [{"type": "shell", "only": ["b-{{user `a`}}"]}]}"#;
    let t = load_text(text, &full()).unwrap();
    assert_eq!(t.builds[0].name, "b-n");
    assert_eq!(t.builds[0].provisioners.len(), 1);
    assert_eq!(t.sources[0].name, "b-{{user `a`}}");
}

#[test]
fn variables_may_only_use_defined_variables() {
    let text = r#"{"variables": {"a": "{{user `regoin`}}", "region": "x"}, "builders": [{"type": "null"}]}"#;
    let errs = errors(load_text(text, &full()));
    assert_eq!(errs[0].summary, "variable \"a\" refers to the undefined variable \"regoin\"");
    assert_eq!(errs[0].help.as_deref(), Some("did you mean \"region\"?"));
    // Set by -var only: fine.
    let mut opts = full();
    opts.vars.push(("regoin".into(), "y".into()));
    assert!(load_text(text, &opts).is_ok());
    // Referring to itself is a cycle.
    let me = r#"{"variables": {"m": "{{user `m`}}"}, "builders": [{"type": "null"}]}"#;
    assert_eq!(errors(load_text(me, &full()))[0].summary, "variable \"m\" refers to itself");
}
