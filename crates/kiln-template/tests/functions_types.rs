//! Type constraints against Packer 1.6.6: a `variable` with each type and default was given to
//! `packer console` (tests/data/types_packer_1_6_6.txt, `>>> TYPE <- VALUE`), and kiln's
//! `types::convert` must give the same value, or an error that contains Packer's message.

mod functions_support;

use functions_support::{console, eval_str, parse_cases};
use kiln_template::types::{convert, Type};

#[test]
fn conversions_match_packer_1_6_6() {
    let cases = parse_cases(include_str!("data/types_packer_1_6_6.txt"));
    assert!(cases.len() >= 50, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let Some((ty_src, val_src)) = c.expr.split_once(" <- ") else {
            failures.push(format!("malformed case {:?}", c.expr));
            continue;
        };
        let ty = match Type::parse_str(ty_src) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{ty_src}: type does not parse: {e}"));
                continue;
            }
        };
        let value = match eval_str(val_src) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{val_src}: {e}"));
                continue;
            }
        };
        match (c.expected.strip_prefix("!error "), convert(&value, &ty)) {
            (Some(want), Err(got)) => {
                if !got.contains(want.trim_end_matches('.')) {
                    failures.push(format!("{}\n  want error containing: {want}\n  got: {got}", c.expr));
                }
            }
            (Some(want), Ok(v)) => failures.push(format!("{}\n  want error: {want}\n  got: {}", c.expr, console(&v))),
            (None, Err(got)) => failures.push(format!("{}\n  want: {}\n  got error: {got}", c.expr, c.expected)),
            (None, Ok(v)) => {
                if console(&v) != c.expected {
                    failures.push(format!("{}\n  want: {}\n  got:  {}", c.expr, c.expected, console(&v)));
                }
            }
        }
    }
    println!("{} type conversion cases, {} failures", cases.len(), failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
