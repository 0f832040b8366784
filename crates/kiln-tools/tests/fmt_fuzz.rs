//! Mutation testing of the formatter: corpus and golden files with random edits (brackets,
//! quotes, heredoc markers, comments, whitespace …). kiln must never panic, must be idempotent,
//! and, when `packer` is installed, must accept exactly what `packer fmt` accepts and produce
//! the same bytes.

use kiln_template::SourceFile;
use kiln_tools::fmt::format;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A small deterministic generator (64-bit LCG), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SNIPPETS: &[&str] = &[
    "for ",
    " in ",
    "if ",
    "%{ if x }",
    "%{ endif }",
    "%{ for a in b }",
    "%{ endfor }",
    "${x}",
    "<<-EOT\n",
    "\nEOT\n",
    "[*]",
    "\\",
    "$${",
    "é",
    "null",
    "true",
    " : ",
    "=> ",
    " ",
    "  ",
    "\t",
    "\n",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ",",
    "=",
    "\"",
    "${",
    "%{",
    "~",
    "#",
    "//",
    "/*",
    "*/",
    "-",
    "!",
    "?",
    ":",
    "<<EOF\n",
    "\nEOF\n",
    ".",
    "*",
    "a",
    "1",
    "x = 1\n",
    " # c\n",
    "...",
    "=>",
    "\r\n",
];

fn inputs() -> Vec<String> {
    let mut files: Vec<PathBuf> = Vec::new();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fmt-data");
    if let Ok(rd) = std::fs::read_dir(&data) {
        files.extend(rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.to_string_lossy().ends_with(".in.hcl")));
    }
    files.sort();
    files.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect()
}

fn mutate(src: &str, rng: &mut Rng) -> String {
    let mut s: Vec<char> = src.chars().collect();
    for _ in 0..1 + rng.below(3) {
        let pos = rng.below(s.len() + 1);
        match rng.below(3) {
            0 => {
                let snip: Vec<char> = SNIPPETS[rng.below(SNIPPETS.len())].chars().collect();
                s.splice(pos..pos, snip);
            }
            1 => {
                let end = (pos + 1 + rng.below(5)).min(s.len());
                s.drain(pos.min(end)..end);
            }
            _ => {
                // Re-indent the line holding `pos` with a random number of spaces.
                let start = s[..pos.min(s.len())].iter().rposition(|&c| c == '\n').map_or(0, |i| i + 1);
                let mut end = start;
                while end < s.len() && (s[end] == ' ' || s[end] == '\t') {
                    end += 1;
                }
                let n = rng.below(9);
                s.splice(start..end, std::iter::repeat_n(' ', n));
            }
        }
    }
    s.into_iter().collect()
}

#[test]
fn mutated_inputs_never_panic_and_agree_with_packer() {
    let sources = inputs();
    assert!(!sources.is_empty(), "no golden inputs");
    let mut rng = Rng(0x6b696c6e);
    let cases: Vec<String> = (0..1000).map(|_| mutate(&sources[rng.below(sources.len())], &mut rng)).collect();
    let mut ours = Vec::new();
    for (i, src) in cases.iter().enumerate() {
        let file = SourceFile::new(format!("f{i:04}.pkr.hcl"), src.clone());
        let out = format(&file).ok();
        if let Some(o) = &out {
            let again = format(&SourceFile::new("again.pkr.hcl", o.clone()));
            assert_eq!(again.as_ref().ok(), Some(o), "case {i} is not idempotent; input {src:?}");
        }
        ours.push(out);
    }
    if !kiln_testing::packer_runs() {
        return kiln_testing::skip("packer not found: checked panics and idempotency only");
    }
    let dir = std::env::temp_dir().join(format!("kiln-fmt-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (i, src) in cases.iter().enumerate() {
        std::fs::write(dir.join(format!("f{i:04}.pkr.hcl")), src).expect("write");
    }
    let o = Command::new("packer").arg("fmt").arg(&dir).output().expect("packer");
    let said = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let mut failures = Vec::new();
    let mut agreed = 0;
    for (i, src) in cases.iter().enumerate() {
        let name = dir.join(format!("f{i:04}.pkr.hcl"));
        let refused = said.contains(&format!("failed to parse HCL {}", name.display()));
        let theirs = if refused { None } else { std::fs::read_to_string(&name).ok() };
        if theirs == ours[i] {
            agreed += 1;
        } else {
            failures.push(format!(
                "case {i}: packer {} / kiln {}; input {src:?}",
                if refused { "refuses" } else { "formats" },
                if ours[i].is_some() { "formats" } else { "refuses" }
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("fmt fuzz: {agreed}/{} mutated inputs agree with packer fmt", cases.len());
    assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n"));
}
