//! docs/components/*.md are generated from the components' config structs (their doc comments
//! are the documentation); the pages and their source files come from the component table
//! (kiln_components::doc_pages). This test fails when a page is out of date; run it with
//! KILN_BLESS=1 to rewrite the pages.

use std::path::{Path, PathBuf};

struct Field {
    name: String,
    ty: String,
    doc: String,
}

/// The doc comment and fields of `pub struct Config` in `src`.
fn parse(src: &str) -> (String, Vec<Field>) {
    parse_struct(src, "Config")
}

/// The doc comment and fields of `pub struct <name>` in `src`.
fn parse_struct(src: &str, name: &str) -> (String, Vec<Field>) {
    let lines: Vec<&str> = src.lines().collect();
    let header = format!("pub struct {name} ");
    let Some(start) = lines.iter().position(|l| l.trim_start().starts_with(&header)) else {
        return (String::new(), Vec::new());
    };
    let doc_above = |i: usize| {
        let mut doc = Vec::new();
        let mut j = i;
        while j > 0 {
            j -= 1;
            let t = lines[j].trim();
            if let Some(d) = t.strip_prefix("///") {
                doc.push(d.trim().to_string());
            } else if !t.starts_with("#[") {
                break;
            }
        }
        doc.reverse();
        doc.join(" ")
    };
    let struct_doc = doc_above(start);
    let mut fields = Vec::new();
    for (i, l) in lines.iter().enumerate().skip(start + 1) {
        let t = l.trim();
        if t == "}" {
            break;
        }
        let Some(rest) = t.strip_prefix("pub ") else { continue };
        let Some((name, ty)) = rest.split_once(':') else { continue };
        // Fields serde skips are not options.
        if lines[..i]
            .iter()
            .rev()
            .take_while(|p| p.trim().starts_with("#[") || p.trim().starts_with("///"))
            .any(|p| p.contains("serde(skip)"))
        {
            continue;
        }
        fields.push(Field {
            name: name.trim().to_string(),
            ty: packer_type(ty.trim().trim_end_matches(',')),
            doc: doc_above(i),
        });
    }
    (struct_doc, fields)
}

fn packer_type(rust: &str) -> String {
    let inner = rust.strip_prefix("Option<").and_then(|r| r.strip_suffix('>')).unwrap_or(rust);
    match inner {
        "String" => "string",
        "bool" => "bool",
        "u16" | "u32" | "u64" | "i64" | "usize" => "number",
        "Vec<String>" => "list of strings",
        "Vec<i64>" => "list of numbers",
        "GoDuration" | "Duration" => "duration (`\"5m\"`)",
        t if t.contains("BTreeMap<String, String>") => "map of strings",
        _ => "value",
    }
    .to_string()
}

fn render(page: &kiln_components::DocPage, root: &Path) -> String {
    let (title, files) = (&page.title, page.sources);
    let mut out = format!("# {title}\n\n<!-- Generated from the config structs by crates/kiln/tests/component_docs.rs (KILN_BLESS=1). -->\n\n");
    let mut first = true;
    for f in files {
        // `file#Struct` names an embedded part's struct (a builder toolkit part); else `Config`.
        let (file, name) = f.split_once('#').unwrap_or((f, "Config"));
        let src = std::fs::read_to_string(root.join(file)).unwrap();
        let (doc, fields) = parse_struct(&src, name);
        if first && !doc.is_empty() {
            out.push_str(&format!("{doc}\n\n"));
        }
        if fields.is_empty() {
            first = false;
            continue;
        }
        if !first && file == "kiln-comm/src/config.rs" {
            out.push_str("\nCommunicator options (see [communicators](communicators.md)):\n\n");
        } else if !first {
            // An embedded part: a section titled by its doc comment's first sentence.
            let title = doc.split(". ").next().unwrap_or(name).trim_end_matches('.');
            out.push_str(&format!("\n## {title}\n\n"));
        }
        out.push_str("| option | type | description |\n|---|---|---|\n");
        for fl in fields {
            out.push_str(&format!("| `{}` | {} | {} |\n", fl.name, fl.ty, fl.doc.replace('|', "\\|")));
        }
        first = false;
    }
    if !page.outputs.is_empty() {
        out.push_str("\nOutputs (`data.<type>.<name>.<output>`):\n\n| output | type | description |\n|---|---|---|\n");
        for o in page.outputs {
            let secret = if o.sensitive { " Sensitive: masked in every output and log." } else { "" };
            out.push_str(&format!("| `{}` | {} | {}{secret} |\n", o.name, o.ty.describe(), o.doc.replace('|', "\\|")));
        }
    }
    out
}

#[test]
fn component_pages_are_up_to_date() {
    let crates = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let docs = crates.join("../docs/components");
    let bless = std::env::var("KILN_BLESS").as_deref() == Ok("1");
    let mut stale = Vec::new();
    for page in kiln_components::doc_pages() {
        let text = render(&page, &crates);
        let path = docs.join(format!("{}.md", page.name));
        if bless {
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(stale.is_empty(), "out of date (run with KILN_BLESS=1): {stale:?}");
}

#[test]
fn parses_fields_and_docs() {
    let (doc, f) = parse(
        "/// Makes things.\n#[derive(Deserialize)]\npub struct Config {\n    /// The target.\n    #[serde(default)]\n    pub target: String,\n    #[serde(skip)]\n    pub hidden: Option<String>,\n    /// Wait.\n    pub pause: Option<GoDuration>,\n}\n",
    );
    assert_eq!(doc, "Makes things.");
    assert_eq!(f.len(), 2);
    assert_eq!((f[0].name.as_str(), f[0].ty.as_str(), f[0].doc.as_str()), ("target", "string", "The target."));
    assert_eq!(f[1].ty, "duration (`\"5m\"`)");
}

#[test]
fn embedded_parts_are_sections() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let page = kiln_components::DocPage {
        name: "builder-qemu".into(),
        title: "qemu".into(),
        sources: &[
            "kiln-builders/src/null/config.rs",
            "kiln-toolkit/src/http.rs#HttpConfig",
            "kiln-comm/src/config.rs",
        ],
        outputs: &[],
    };
    let page = render(&page, &root);
    let http = page.find("\n## The HTTP server options\n\n| option |").unwrap();
    let option = page.find("| `http_directory` | string |").unwrap();
    let comm = page.find("Communicator options (see").unwrap();
    assert!(http < option && option < comm, "{page}");
}
