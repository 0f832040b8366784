//! No function panics, whatever it is given: every function is called with every combination
//! of one and two arguments from a pool of awkward values, and three from a smaller one.

use std::time::SystemTime;

use kiln_template::functions::{self, FuncContext};
use kiln_template::Value;

fn pool() -> Vec<Value> {
    let s = Value::string;
    let obj = |pairs: &[(&str, Value)]| Value::Object(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect());
    vec![
        Value::Null,
        Value::Unknown,
        Value::Bool(true),
        Value::int(0),
        Value::int(-1),
        Value::float(2.5),
        Value::float(1e300),
        Value::float(-1e300),
        Value::float(f64::INFINITY),
        Value::int(64),
        s(""),
        s("é🎉"),
        s("%v %d %[9]s %"),
        s("10.0.0.0/8"),
        s("fe80::/10"),
        s("2020-01-02T03:04:05Z"),
        s("[(*"),
        s("~other"),
        s("-3"),
        s("a,b\n\"1"),
        s("dns"),
        Value::List(vec![]),
        Value::List(vec![Value::int(1), s("a"), Value::Null]),
        Value::List(vec![Value::List(vec![Value::Bool(false)]), obj(&[("k", s("v"))])]),
        obj(&[]),
        obj(&[("a", Value::List(vec![s("x")])), ("b", Value::int(1))]),
    ]
}

/// Functions whose cost or reach makes them unsuitable for a combinatorial run.
const SKIP: &[&str] = &["bcrypt", "fileset"];

#[test]
fn no_function_panics() {
    let dir = std::env::temp_dir().join(format!("kiln-robust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let render = |_: &str, _: &Value| Err("no templates here".to_string());
    let ctx = FuncContext { base_dir: dir.clone(), now: SystemTime::now(), render_template: &render };
    let big = pool();
    let small: Vec<Value> = big.iter().step_by(3).cloned().collect();
    let mut calls = 0usize;
    for name in functions::names() {
        if SKIP.contains(&name) {
            continue;
        }
        let _ = functions::call(name, &[], &ctx);
        for a in &big {
            let _ = functions::call(name, std::slice::from_ref(a), &ctx);
            for b in &big {
                let _ = functions::call(name, &[a.clone(), b.clone()], &ctx);
                calls += 1;
            }
        }
        for a in &small {
            for b in &small {
                for c in &small {
                    let _ = functions::call(name, &[a.clone(), b.clone(), c.clone()], &ctx);
                    calls += 1;
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("{calls} calls without a panic");
    assert!(calls > 50_000);
}
