//! Robustness on the corpus: the JSON loader and `fix` never panic, whatever the input.

use std::path::PathBuf;

use kiln_template::{json, LoadOptions, Stage};

/// The corpus folder, or `None` (with a notice) when the test cannot run here.
fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("KILN_CORPUS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("KILN_SHARED").map(|s| PathBuf::from(s).join("corpus")));
    match dir {
        Some(d) if d.join("packer-1.6.6-raw-outputs.jsonl").is_file() => Some(d),
        _ => {
            assert!(
                std::env::var("KILN_REQUIRE_TOOLS").as_deref() != Ok("1"),
                "KILN_REQUIRE_TOOLS=1 but KILN_CORPUS/KILN_SHARED does not name the corpus"
            );
            eprintln!("notice: KILN_CORPUS not set; skipping the corpus test");
            None
        }
    }
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

/// No input panics the loader or `fix`: every corpus template cut short and with bytes swapped.
#[test]
fn mangled_templates_never_panic() {
    let Some(dir) = corpus() else { return };
    let mut runs = 0;
    for path in json_templates(&dir).iter().take(40) {
        let Ok(text) = std::fs::read_to_string(dir.join(path)) else { continue };
        let len = text.len();
        for i in 1..12 {
            let mut cut = len * i / 12;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let mut next = (cut + 1).min(len);
            while !text.is_char_boundary(next) {
                next += 1;
            }
            let variants = [
                text[..cut].to_string(),
                format!("{}{}", &text[..cut], &text[next..]),
                text.replacen(':', ",", i),
                text.replacen('"', "", i),
            ];
            for v in variants {
                for stage in [Stage::Syntax, Stage::Full] {
                    let opts = LoadOptions { stage, ..LoadOptions::default() };
                    let file = kiln_template::SourceFile::new(path, v.clone());
                    let _ = json::load_source(file, &opts, kiln_gotmpl::render);
                    runs += 1;
                }
                let _ = kiln_tools::fix::fix_source(&kiln_template::SourceFile::new(path, v));
            }
        }
    }
    eprintln!("mangled inputs loaded without a panic: {runs}");
}
