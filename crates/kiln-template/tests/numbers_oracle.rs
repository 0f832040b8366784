//! HCL2 numbers against Packer 1.6.6: every case in tests/data/numbers_packer_1_6_6.txt is an
//! expression with what `packer console` printed for it (big integers, 512-bit decimals,
//! division and modulo, parseint, format's verbs, floor/ceil/log/pow, comparisons, ranges,
//! indexes, JSON and YAML). kiln's console must print the same; where Packer failed, kiln
//! must fail too. Regenerate the expected values with scripts/numbers-oracle.sh.

use kiln_template::console;
use kiln_template::LoadOptions;

/// Cases where kiln still differs from Packer 1.6.6, with the reason.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        r#"jsonencode(yamldecode("1.0000000000000000000001"))"#,
        "serde_yaml hands numbers over as f64, so YAML numbers keep 53 bits (JSON ones keep all)",
    ),
    // The same choices as tests/functions_support's list: newer Packer's fixes over 1.6.6 bugs.
    ("floor(1e30)", "1.6.6 overflows to -9223372036854775808; kiln floors exactly, as current cty"),
    ("jsonencode(floor(1/3 * 1e20))", "1.6.6 overflows to -9223372036854775808; kiln floors exactly"),
    ("signum(-1/3)", "1.6.6 accepted only whole numbers; newer Packer takes any number"),
];

struct Case {
    expr: String,
    expected: String,
}

fn cases() -> Vec<Case> {
    let mut out: Vec<Case> = Vec::new();
    for line in include_str!("data/numbers_packer_1_6_6.txt").lines() {
        if let Some(expr) = line.strip_prefix(">>> ") {
            out.push(Case { expr: expr.to_string(), expected: String::new() });
        } else if let Some(c) = out.last_mut() {
            if !c.expected.is_empty() {
                c.expected.push('\n');
            }
            c.expected.push_str(line);
        }
    }
    out
}

#[test]
fn numbers_match_packer_1_6_6() {
    let session = console::open(None, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let cases = cases();
    assert!(cases.len() >= 100, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for c in cases.iter().filter(|c| !KNOWN_DIFFERENCES.iter().any(|(e, _)| *e == c.expr)) {
        // The recording drops blank lines (packer console separates outputs with them).
        let got =
            session.eval_line(&c.expr).map(|v| v.lines().filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n"));
        let ok = match (&got, c.expected.starts_with("!error ")) {
            (Ok(v), false) => *v == c.expected,
            (Err(_), true) => true,
            _ => false,
        };
        if !ok {
            let got = got.unwrap_or_else(|e| format!("!error {e}"));
            failures.push(format!("{}\n  packer: {}\n  kiln:   {got}", c.expr, c.expected));
        }
    }
    println!("{} cases, {} failures", cases.len(), failures.len());
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
