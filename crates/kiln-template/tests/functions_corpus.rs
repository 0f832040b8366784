//! Corpus-wide checks of the function library and type constraints over the real templates in
//! the shared corpus (KILN_CORPUS, or KILN_SHARED/corpus): every function they call exists,
//! every `variable` type parses, and every call made only of literals evaluates.

mod functions_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hcl_edit::expr::{Expression, FuncCall};
use hcl_edit::structure::{Block, Body};
use hcl_edit::visit::{self, Visit};
use kiln_template::functions;
use kiln_template::types::Type;

fn hcl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            hcl_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "hcl") {
            out.push(p);
        }
    }
}

#[derive(Default)]
struct Found {
    calls: Vec<String>,
    /// Calls whose arguments are literals or other such calls, as source text.
    literal_calls: Vec<String>,
    types: Vec<(String, Result<Type, String>)>,
}

impl Visit for Found {
    fn visit_func_call(&mut self, node: &FuncCall) {
        let name = node.name.name.as_str().to_string();
        if is_literal(&Expression::FuncCall(Box::new(node.clone()))) {
            self.literal_calls.push(Expression::FuncCall(Box::new(node.clone())).to_string().trim().to_string());
        }
        // convert()'s second argument is a type expression, not calls of list(), map() …
        let args: Vec<&Expression> = node.args.iter().collect();
        let args = if name == "convert" { &args[..args.len().min(1)] } else { &args[..] };
        for a in args {
            self.visit_expr(a);
        }
        self.calls.push(name);
    }

    fn visit_block(&mut self, node: &Block) {
        if node.ident.as_str() == "variable" {
            // The type is a type expression, not calls of list(), map() …: parse it, don't visit it.
            for attr in node.body.attributes() {
                if attr.key.as_str() == "type" {
                    self.types.push((attr.value.to_string().trim().to_string(), Type::parse(&attr.value)));
                } else {
                    self.visit_expr(&attr.value);
                }
            }
            for b in node.body.blocks() {
                self.visit_block(b);
            }
            return;
        }
        visit::visit_block(self, node);
    }
}

/// Whether `e` can be evaluated without variables, locals or the clock.
fn is_literal(e: &Expression) -> bool {
    match e {
        Expression::Null(_) | Expression::Bool(_) | Expression::Number(_) | Expression::String(_) => true,
        Expression::Array(a) => a.iter().all(is_literal),
        Expression::Object(o) => o.iter().all(|(_, v)| is_literal(v.expr())),
        Expression::Parenthesis(p) => is_literal(p.inner()),
        Expression::FuncCall(c) => {
            !matches!(
                c.name.name.as_str(),
                "timestamp" | "uuidv4" | "bcrypt" | "file" | "fileexists" | "fileset" | "templatefile" | "abspath"
            ) && c.args.iter().all(is_literal)
        }
        _ => false,
    }
}

/// Packer 1.6.6's `validate -syntax-only` exit code per corpus path (file or folder).
fn verdicts(dir: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.join("packer-1.6.6-verdicts.tsv")).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            Some((cols.first()?.to_string(), cols.get(2)?.to_string()))
        })
        .collect()
}

/// Whether Packer accepted the file, or the folder that holds it; `None` when it was not judged.
fn accepted(verdicts: &BTreeMap<String, String>, rel: &str) -> Option<bool> {
    let mut path = Some(Path::new(rel));
    while let Some(p) = path {
        if let Some(rc) = verdicts.get(&p.display().to_string()) {
            return Some(rc == "0");
        }
        path = p.parent().filter(|p| !p.as_os_str().is_empty());
    }
    None
}

#[test]
fn corpus_functions_and_types() {
    let Some(dir) = kiln_testing::corpus_or_skip("") else { return };
    let mut files = Vec::new();
    hcl_files(&dir, &mut files);
    assert!(!files.is_empty(), "no .hcl files under {}", dir.display());
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    let mut unknown: BTreeSet<String> = BTreeSet::new();
    let mut bad_types = Vec::new();
    let mut bad_calls = Vec::new();
    let verdicts = verdicts(&dir);
    let (mut parsed, mut types, mut literal_calls, mut rejected_like_packer) = (0, 0, 0, 0);
    for f in &files {
        let Ok(src) = std::fs::read_to_string(f) else { continue };
        let Ok(body) = src.parse::<Body>() else { continue };
        parsed += 1;
        let mut found = Found::default();
        found.visit_body(&body);
        let rel = f.strip_prefix(&dir).unwrap_or(f).display().to_string();
        for name in found.calls {
            // can() and try() are part of the evaluator, not the library.
            if !functions::exists(&name) && name != "can" && name != "try" {
                unknown.insert(format!("{name} (in {rel})"));
            }
            *by_name.entry(name).or_default() += 1;
        }
        for (src, t) in found.types {
            types += 1;
            match (t, accepted(&verdicts, &rel)) {
                (Err(_), Some(false)) => rejected_like_packer += 1,
                (Err(e), _) => bad_types.push(format!("{rel}: type = {src}: {e}")),
                _ => {}
            }
        }
        for call in found.literal_calls {
            literal_calls += 1;
            if let Err(e) = functions_support::eval_str(&call) {
                bad_calls.push(format!("{rel}: {call}: {e}"));
            }
        }
    }
    println!(
        "{} .hcl files ({parsed} parsed), {} distinct functions in {} calls, {types} variable types ({rejected_like_packer} rejected, as by Packer), {literal_calls} literal-only calls",
        files.len(),
        by_name.len(),
        by_name.values().sum::<usize>()
    );
    println!("functions used: {by_name:?}");
    assert!(
        unknown.is_empty(),
        "functions kiln does not know:\n{}",
        unknown.into_iter().collect::<Vec<_>>().join("\n")
    );
    assert!(bad_types.is_empty(), "variable types kiln rejects:\n{}", bad_types.join("\n"));
    assert!(bad_calls.is_empty(), "literal calls that fail:\n{}", bad_calls.join("\n"));
}
