//! Robustness on the corpus: the JSON loader and `fix` never panic, whatever the input.

use kiln_template::{json, LoadOptions, Stage};

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
    let Some(dir) = kiln_testing::corpus_or_skip("packer-1.6.6-raw-outputs.jsonl") else { return };
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
