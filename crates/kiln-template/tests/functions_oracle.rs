//! Several hundred function calls with the results Packer 1.6.6's `packer console` printed for
//! them (tests/data/functions_packer_1_6_6.txt), and hand-checked results for functions newer
//! than 1.6.6 (tests/data/functions_newer.txt, from the Packer/Terraform documentation).

mod functions_support;

use functions_support::{check, eval_str, parse_cases};

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
