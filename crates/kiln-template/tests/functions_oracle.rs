//! Several hundred function calls with the results Packer 1.6.6's `packer console` printed for
//! them (tests/data/functions_packer_1_6_6.txt), and hand-checked results for functions newer
//! than 1.6.6 (tests/data/functions_newer.txt, from the Packer/Terraform documentation).

mod functions_support;

use functions_support::{console, eval_str, parse_cases, Case};

/// Cases where kiln deliberately differs from Packer 1.6.6, with the reason.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (r#"index(["a", "b", "c"], "b")"#, "1.6.6's index was element access; Packer's documented index finds a value"),
    (r#"index([1, 2, 3], 3)"#, "1.6.6's index was element access; Packer's documented index finds a value"),
    ("jsonencode(null)", "newer cty encodes null as \"null\" instead of rejecting it"),
    (
        r#"yamldecode("a: 1.5\nb: null\nc: ~\nd: yes\n")"#,
        "1.6.6 drops null attributes and reads YAML 1.1 yes as true; kiln keeps nulls and follows YAML 1.2",
    ),
    (r#"cidrsubnet("10.0.0.0/24", -1, 0)"#, "1.6.6 silently shortens the prefix for negative newbits; kiln rejects it"),
    (r#"cidrsubnet("10.0.0.0/24", 8, -1)"#, "1.6.6 returns a nonsense network for a negative netnum; kiln rejects it"),
];

struct Outcome {
    failures: Vec<String>,
    exact_errors: usize,
    errors: usize,
    values: usize,
}

fn check(cases: &[Case]) -> Outcome {
    let mut out = Outcome { failures: Vec::new(), exact_errors: 0, errors: 0, values: 0 };
    for c in cases {
        if KNOWN_DIFFERENCES.iter().any(|(e, _)| *e == c.expr) {
            continue;
        }
        let got = eval_str(&c.expr);
        match (c.expected.strip_prefix("!error "), got) {
            (Some(want), Err(msg)) => {
                out.errors += 1;
                let detail = want.split_once(" | ").map(|(_, d)| d).unwrap_or(want);
                // The parameter an error is about must be the one Packer names.
                if let Some(param) = param_of(detail) {
                    if !msg.contains(&format!("\"{param}\" parameter")) {
                        out.failures.push(format!("{}\n  want error about {param:?}: {detail}\n  got: {msg}", c.expr));
                        continue;
                    }
                }
                let norm = |s: &str| s.to_lowercase().replace(['.', ','], "");
                if norm(detail).contains(&norm(&msg)) || norm(&msg).contains(&norm(tail(detail))) {
                    out.exact_errors += 1;
                }
            }
            (Some(want), Ok(v)) => {
                out.failures.push(format!("{}\n  want error: {want}\n  got: {}", c.expr, console(&v)))
            }
            (None, Err(msg)) => out.failures.push(format!("{}\n  want: {}\n  got error: {msg}", c.expr, c.expected)),
            (None, Ok(v)) => {
                out.values += 1;
                // The recorded outputs had their trailing newlines trimmed.
                let got = console(&v).trim_end_matches('\n').to_string();
                if got != c.expected {
                    out.failures.push(format!("{}\n  want: {}\n  got:  {got}", c.expr, c.expected));
                }
            }
        }
    }
    out
}

/// `Invalid value for "num" parameter: …` → `num`.
fn param_of(detail: &str) -> Option<&str> {
    let rest = detail.strip_prefix("Invalid value for \"")?;
    rest.split_once("\" parameter").map(|(p, _)| p)
}

/// The part of a Packer error after `failed: ` or `parameter: `, without the final period.
fn tail(detail: &str) -> &str {
    let t = detail.rsplit_once("failed: ").map(|(_, t)| t).unwrap_or(detail);
    let t = t.split_once("parameter: ").map(|(_, t)| t).unwrap_or(t);
    t.trim_end_matches('.')
}

fn run(name: &str, text: &str) {
    let cases = parse_cases(text);
    assert!(cases.len() > 50, "{name}: only {} cases", cases.len());
    let o = check(&cases);
    println!(
        "{name}: {} cases, {} values and {} errors as expected, {} error messages close to Packer's, {} failures",
        cases.len(),
        o.values,
        o.errors,
        o.exact_errors,
        o.failures.len()
    );
    assert!(o.failures.is_empty(), "{} of {} cases differ:\n{}", o.failures.len(), cases.len(), o.failures.join("\n"));
}

#[test]
fn functions_match_packer_1_6_6() {
    run("packer 1.6.6", include_str!("data/functions_packer_1_6_6.txt"));
}

#[test]
fn newer_functions_match_their_documentation() {
    run("newer than 1.6.6", include_str!("data/functions_newer.txt"));
}

#[test]
#[ignore]
fn print_error_messages() {
    for c in parse_cases(include_str!("data/functions_packer_1_6_6.txt")) {
        if let (Some(want), Err(got)) = (c.expected.strip_prefix("!error "), eval_str(&c.expr)) {
            println!("{}\n  packer: {want}\n  kiln:   {got}", c.expr);
        }
    }
}
