//! Every `{{ }}` string of every legacy JSON template in the corpus (and the seed templates)
//! must parse, and render with the template's own variables without an error other than the
//! ones Packer also gives (secrets from Vault/Consul that kiln does not read).
//!
//! Reads KILN_CORPUS (the corpus folder) or KILN_SHARED (the shared folder holding `corpus/`
//! and `seed-templates/`); skipped with a notice when neither is set, unless
//! KILN_REQUIRE_TOOLS=1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use kiln_gotmpl::{Context, Template};
use serde_json::Value;

fn dirs() -> Option<Vec<PathBuf>> {
    let mut out = Vec::new();
    if let Ok(c) = std::env::var("KILN_CORPUS") {
        out.push(PathBuf::from(c));
    }
    if let Ok(s) = std::env::var("KILN_SHARED") {
        out.push(Path::new(&s).join("corpus"));
        out.push(Path::new(&s).join("seed-templates"));
    }
    if out.is_empty() {
        kiln_testing::skip("KILN_CORPUS / KILN_SHARED are not set");
        return None;
    }
    Some(out)
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") && !p.to_string_lossy().ends_with(".pkr.json") {
            out.push(p);
        }
    }
}

/// Every string in `v` (keys too), with whether it sits in the `variables` section.
fn strings<'a>(v: &'a Value, in_vars: bool, out: &mut Vec<(&'a str, bool)>) {
    match v {
        Value::String(s) => out.push((s, in_vars)),
        Value::Array(a) => a.iter().for_each(|x| strings(x, in_vars, out)),
        Value::Object(m) => {
            for (k, x) in m {
                out.push((k, in_vars));
                strings(x, in_vars, out);
            }
        }
        _ => {}
    }
}

#[derive(Default)]
struct Stats {
    templates: usize,
    strings: usize,
    rendered: usize,
    late: usize,
    expected_errors: usize,
    parse_errors: Vec<String>,
    render_errors: Vec<String>,
    times: Vec<Duration>,
}

fn check_template(path: &Path, stats: &mut Stats) {
    let Ok(text) = std::fs::read_to_string(path) else { return };
    // Not every `.json` file is a Packer template (var files, manifests); only templates with
    // builders are checked.
    let Ok(doc) = serde_json::from_str::<Value>(&text) else { return };
    let Some(obj) = doc.as_object() else { return };
    if !obj.contains_key("builders") {
        return;
    }
    stats.templates += 1;
    let mut user = BTreeMap::new();
    if let Some(Value::Object(vars)) = obj.get("variables") {
        for (k, v) in vars {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            user.insert(k.clone(), s);
        }
    }
    let mut all = Vec::new();
    for (key, section) in obj {
        strings(section, key == "variables", &mut all);
    }
    let base = Context {
        user,
        env: BTreeMap::from([("HOME".into(), "/home/kiln".into()), ("USER".into(), "kiln".into())]),
        now: Some(UNIX_EPOCH + Duration::from_secs(1_600_000_000)),
        template_dir: path.parent().map(Path::to_path_buf),
        ..Context::default()
    };
    let mut in_vars_ctx = base.clone();
    in_vars_ctx.allow_env = true;
    // Variables are rendered first (as the loader does), a few passes for those that use
    // others; outside `variables` they are used rendered.
    let mut base = base;
    for _ in 0..4 {
        let snapshot = Context { user: base.user.clone(), ..in_vars_ctx.clone() };
        for v in base.user.values_mut() {
            if let Ok(r) = kiln_gotmpl::render(v, &snapshot) {
                *v = r;
            }
        }
    }
    for (s, in_vars) in all {
        if !s.contains("{{") {
            continue;
        }
        stats.strings += 1;
        let start = Instant::now();
        let parsed = Template::parse(s);
        let t = match parsed {
            Ok(t) => t,
            Err(errs) => {
                stats.times.push(start.elapsed());
                for e in errs {
                    stats.parse_errors.push(format!("{}: {s:?} at {}: {}", path.display(), e.offset, e.message));
                }
                continue;
            }
        };
        let ctx = if in_vars { &in_vars_ctx } else { &base };
        let result = t.render_full(ctx);
        stats.times.push(start.elapsed());
        match result {
            Ok(r) => {
                stats.rendered += 1;
                if r.late {
                    stats.late += 1;
                    if let Err(e) = finish_late(&t, &r.text) {
                        stats.render_errors.push(format!("{}: {s:?} → {:?}: {e}", path.display(), r.text));
                    }
                }
            }
            // Packer gives these too: secrets stores kiln does not read, variables that only
            // the user sets, env outside the variables section.
            Err(e) if e.message.contains("not supported by kiln") || e.message.contains("is not set") => {
                stats.expected_errors += 1
            }
            // A mistake in the template itself, which Packer rejects as well ("expected integer").
            Err(e) if s.contains("replace `some-string` `-` `/` 1") && e.message.contains("expected int") => {}
            Err(e) => stats.render_errors.push(format!("{}: {s:?} at {}: {}", path.display(), e.offset, e.message)),
        }
    }
}

/// Renders a late copy the way a component does at run time: with its data, strictly, and
/// without the user variables (late copies must stand on their own).
fn finish_late(t: &Template, first: &str) -> Result<(), String> {
    let data: BTreeMap<String, String> = t.fields().into_iter().map(|f| (f.path, "value".to_string())).collect();
    let build_data: BTreeMap<String, String> = t
        .calls()
        .into_iter()
        .filter(|c| c.name == "build")
        .filter_map(|c| c.args.first().cloned().flatten())
        .map(|k| (k, "generated".to_string()))
        .collect();
    let ctx = Context {
        data,
        build_data: Some(build_data),
        build_name: Some("name".into()),
        build_type: Some("type".into()),
        strict_fields: true,
        now: Some(UNIX_EPOCH),
        ..Context::default()
    };
    let out = Template::parse(first).map_err(|e| format!("{e:?}"))?.render_full(&ctx).map_err(|e| e.message)?;
    if out.text.contains("{{") {
        return Err(format!("still has actions: {:?}", out.text));
    }
    if !out.warnings.is_empty() {
        return Err(format!("warnings: {:?}", out.warnings));
    }
    Ok(())
}

#[test]
fn gotmpl_corpus_strings_parse_and_render() {
    let Some(dirs) = dirs() else { return };
    let mut files = Vec::new();
    for d in &dirs {
        json_files(d, &mut files);
    }
    let mut stats = Stats::default();
    for f in &files {
        check_template(f, &mut stats);
    }
    stats.times.sort();
    let pct = |p: usize| stats.times.get(stats.times.len() * p / 100).map(|d| d.as_secs_f64() * 1e6).unwrap_or(0.0);
    eprintln!(
        "gotmpl corpus: {} templates, {} strings with actions, {} rendered ({} with late values), {} expected errors, parse + render per string (debug build): median {:.1} µs, p99 {:.1} µs",
        stats.templates,
        stats.strings,
        stats.rendered,
        stats.late,
        stats.expected_errors,
        pct(50),
        pct(99)
    );
    assert!(stats.templates > 0, "no JSON templates found under {dirs:?}");
    assert!(stats.parse_errors.is_empty(), "parse errors:\n{}", stats.parse_errors.join("\n"));
    assert!(stats.render_errors.is_empty(), "render errors:\n{}", stats.render_errors.join("\n"));
}
