//! Corpus-wide checks of the legacy JSON loader and `inspect` against Packer 1.6.6's recorded
//! verdicts and outputs (`packer-1.6.6-raw-outputs.jsonl` in the corpus named by KILN_CORPUS).

use std::path::PathBuf;

use kiln_template::{json, LoadOptions, Stage};

/// The corpus folder, or `None` (with a notice) when the tests cannot run here.
fn corpus() -> Option<PathBuf> {
    kiln_testing::corpus_or_skip("packer-1.6.6-raw-outputs.jsonl")
}

struct Record {
    path: String,
    command: String,
    rc: i64,
    output: String,
}

fn records(dir: &std::path::Path) -> Vec<Record> {
    let text = std::fs::read_to_string(dir.join("packer-1.6.6-raw-outputs.jsonl")).expect("raw outputs readable");
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|o| Record {
            path: o["path"].as_str().unwrap_or_default().to_string(),
            command: o["command"].as_str().unwrap_or_default().to_string(),
            rc: o["rc"].as_i64().unwrap_or(-1),
            output: o["output"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// Paths whose verdict kind is `json` (legacy templates; `vars` rows are variable files).
fn json_templates(dir: &std::path::Path) -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(dir.join("packer-1.6.6-verdicts.tsv")).expect("verdicts readable");
    text.lines()
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let path = cols.next()?;
            (cols.next()? == "json").then(|| path.to_string())
        })
        .collect()
}

/// Packer lists required variables in Go map order (random): compare them sorted.
fn normalize(s: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut block: Vec<String> = Vec::new();
    let mut in_required = false;
    for line in s.lines() {
        if line == "Required variables:" {
            in_required = true;
        } else if in_required && line.starts_with("  ") {
            block.push(line.to_string());
            continue;
        } else if in_required && !line.is_empty() {
            in_required = false;
            block.sort();
            out.append(&mut block);
        }
        out.push(line.to_string());
    }
    out.join("\n").trim_end().to_string()
}

/// Packer's output with the defaults kiln deliberately hides replaced as kiln shows them.
fn hide(packer: &str, secrets: &[String]) -> String {
    packer
        .lines()
        .map(|l| match l.split_once(" = ") {
            Some((name, v)) if secrets.iter().any(|s| s == v) => format!("{name} = <sensitive>"),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn syntax_opts() -> LoadOptions {
    LoadOptions { stage: Stage::Syntax, ..LoadOptions::default() }
}

#[test]
fn inspect_matches_packer_on_the_corpus() {
    let Some(dir) = corpus() else { return };
    let (mut total, mut same, mut hidden) = (0, 0, 0);
    let mut differ = Vec::new();
    let kinds = json_templates(&dir);
    for r in records(&dir).iter().filter(|r| r.command == "inspect" && r.rc == 0 && kinds.contains(&r.path)) {
        total += 1;
        let t = match json::load(&dir.join(&r.path), &syntax_opts()) {
            Ok(t) => t,
            Err(d) => {
                differ.push(format!("{}: kiln rejects it:\n{d}", r.path));
                continue;
            }
        };
        let ours = kiln_template::inspect::render(&t);
        if normalize(&ours) == normalize(&r.output) {
            same += 1;
        } else if normalize(&ours) == normalize(&hide(&r.output, &t.sensitive_values)) {
            hidden += 1;
        } else {
            differ.push(format!("{}:\n--- packer\n{}\n--- kiln\n{}", r.path, r.output, ours));
        }
    }
    eprintln!(
        "inspect: {same} of {total} JSON templates match Packer 1.6.6's output exactly, \
         {hidden} more once hard-coded credentials (which kiln hides) are hidden"
    );
    for d in differ.iter().take(5) {
        eprintln!("{d}\n");
    }
    assert!(total > 200, "only {total} JSON inspect records found");
    assert_eq!(same + hidden, total, "{} templates differ", differ.len());
}

#[test]
fn syntax_verdicts_match_packer_on_the_corpus() {
    let Some(dir) = corpus() else { return };
    let (mut total, mut agree) = (0, 0);
    let mut differ = Vec::new();
    let kinds = json_templates(&dir);
    for r in records(&dir).iter().filter(|r| r.command == "validate" && kinds.contains(&r.path)) {
        let path = dir.join(&r.path);
        if !path.is_file() {
            continue;
        }
        total += 1;
        let ours = json::load(&path, &syntax_opts());
        if ours.is_ok() == (r.rc == 0) {
            agree += 1;
        } else {
            let why = match &ours {
                Ok(_) => "kiln accepts".to_string(),
                Err(d) => format!("kiln rejects:\n{d}"),
            };
            differ.push(format!("{} (packer rc {}): {why}\npacker said: {}", r.path, r.rc, r.output.trim()));
        }
    }
    eprintln!("validate -syntax-only: kiln agrees with Packer 1.6.6 on {agree} of {total} JSON templates");
    for d in &differ {
        eprintln!("{d}\n");
    }
    assert!(total > 200, "only {total} JSON validate records found");
    assert_eq!(agree, total);
}

/// Packer's full validation lists every required variable that is not set; so must kiln.
#[test]
fn missing_required_variables_match_packer_on_the_corpus() {
    let Some(dir) = corpus() else { return };
    let kinds = json_templates(&dir);
    let (mut total, mut agree) = (0, 0);
    let mut differ = Vec::new();
    for r in records(&dir).iter().filter(|r| r.command == "validate_full" && kinds.contains(&r.path)) {
        let theirs: std::collections::BTreeSet<String> = r
            .output
            .lines()
            .filter_map(|l| l.trim().strip_prefix("* required variable not set: "))
            .map(String::from)
            .collect();
        if theirs.is_empty() {
            continue;
        }
        total += 1;
        let opts = LoadOptions { stage: Stage::Full, ..LoadOptions::default() };
        let ours: std::collections::BTreeSet<String> = match json::load(&dir.join(&r.path), &opts) {
            Ok(_) => Default::default(),
            Err(d) => d
                .errors()
                .filter_map(|e| e.summary.strip_prefix("required variable \"")?.strip_suffix("\" is not set"))
                .map(String::from)
                .collect(),
        };
        if ours == theirs {
            agree += 1;
        } else {
            differ.push(format!("{}: packer {theirs:?}, kiln {ours:?}", r.path));
        }
    }
    eprintln!("validate: kiln reports the same missing required variables as Packer on {agree} of {total} templates");
    for d in &differ {
        eprintln!("{d}");
    }
    assert!(total > 20, "only {total} records");
    assert_eq!(agree, total);
}

/// Passes strings through: the template-level checks of the full stage, without depending on
/// the Go-template engine.
fn identity(src: &str, _: &kiln_gotmpl::Context) -> Result<String, kiln_gotmpl::RenderError> {
    Ok(src.to_string())
}

/// Packer's full validation fails for template-level reasons (no builders, required or
/// undefined variables, unknown builder names, min_packer_version) exactly where kiln's full
/// stage does; component errors ("Failed to prepare build") are not the template's business.
#[test]
fn full_stage_template_verdicts_match_packer_on_the_corpus() {
    let Some(dir) = corpus() else { return };
    let text = std::fs::read_to_string(dir.join("packer-1.6.6-verdicts.tsv")).expect("verdicts");
    let template_level = [
        "at least one builder must be defined",
        "required variable not set",
        "specified builder",
        "override '",
        "Failed to interpolate",
        "requires Packer version",
        "duplicate field",
        "Error parsing JSON",
        "type is required",
        "missing 'type'",
        "source data must be an array",
    ];
    let (mut total, mut agree) = (0, 0);
    let mut differ = Vec::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let [path, "json", _, _, _, _, _, rc, err, ..] = cols.as_slice() else { continue };
        // Errors kiln's Go-template engine decides (functions not allowed in variables).
        if err.contains("executing \"root\" at <packer_version>") {
            continue;
        }
        let packer_fails_template = *rc != "0" && template_level.iter().any(|t| err.contains(t));
        let opts = LoadOptions { stage: Stage::Full, ..LoadOptions::default() };
        let ours = json::load_with(&dir.join(path), &opts, identity);
        total += 1;
        if ours.is_err() == packer_fails_template {
            agree += 1;
        } else {
            let why = match ours {
                Ok(_) => "kiln accepts".to_string(),
                Err(d) => format!("kiln rejects:\n{d}"),
            };
            differ.push(format!("{path}: packer: {err}\n{why}"));
        }
    }
    eprintln!(
        "full stage: kiln's template-level verdict agrees with Packer 1.6.6 on {agree} of {total} JSON templates"
    );
    for d in differ.iter().take(5) {
        eprintln!("{d}\n");
    }
    assert!(total > 200);
    assert_eq!(agree, total);
}

/// On JSON syntax errors kiln points at the line Packer reports ("At line N"); for a missing
/// comma kiln marks the end of the previous value and names Packer's line in the detail.
#[test]
fn syntax_errors_are_on_packers_line() {
    let Some(dir) = corpus() else { return };
    let kinds = json_templates(&dir);
    let (mut total, mut same) = (0, 0);
    for r in records(&dir).iter().filter(|r| r.command == "validate" && kinds.contains(&r.path)) {
        let Some(line) = r
            .output
            .split("At line ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        total += 1;
        let Err(d) = json::load(&dir.join(&r.path), &syntax_opts()) else {
            panic!("{}: kiln accepts a file Packer cannot parse", r.path);
        };
        let first = &d.0[0];
        let ours = first.span.as_ref().map(|s| s.line_col().0).unwrap_or(0);
        let in_detail = first.detail.as_deref().is_some_and(|t| t.contains(&format!("line {line},")));
        assert!(ours == line || in_detail, "{}: packer line {line}, kiln:\n{first}", r.path);
        same += 1;
    }
    eprintln!("syntax errors: kiln points at Packer's line on {same} of {total} broken JSON templates");
    assert!(total >= 4, "only {total} broken templates");
}
