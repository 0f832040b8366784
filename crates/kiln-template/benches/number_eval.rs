//! Cost of evaluating HCL2 expressions with numbers, through the console's public entry point
//! (parse + evaluate + print), so the same file measures any kiln revision:
//!   cargo bench -p kiln-template --bench number_eval
//! Prints the median of 7 rounds in microseconds per evaluation for each expression. Small
//! integers (what templates mostly hold) must stay cheap; decimals pay for 512-bit precision.

use std::time::Instant;

use kiln_template::console;
use kiln_template::LoadOptions;

const CASES: &[&str] = &[
    // Small integers: sizes, counts, indexes.
    "1 + 2 * 3",
    "\"disk-${10 * 1024}M\"",
    "[for i in range(50) : i * 2 + 1][49]",
    "max(4, 8, 2) % 3 == 2",
    // Decimals and large integers.
    "0.1 + 0.2",
    "1 / 3",
    "format(\"%.2f\", 2 / 3)",
    "jsonencode([for i in range(50) : i / 4])",
    "9007199254740993 * 3 > 27021597764222978",
];

fn main() {
    let session = match console::open(None, &LoadOptions::default()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot open a console session: {e}");
            std::process::exit(1);
        }
    };
    println!("{:<48} {:>12}", "expression", "us/eval");
    for expr in CASES {
        if let Err(e) = session.eval_line(expr) {
            eprintln!("{expr}: {e}");
            std::process::exit(1);
        }
        // Enough iterations for ~20 ms a round on a quiet machine.
        let start = Instant::now();
        let mut n = 0u32;
        while start.elapsed().as_millis() < 20 {
            let _ = std::hint::black_box(session.eval_line(expr));
            n += 1;
        }
        let mut rounds: Vec<f64> = (0..7)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..n {
                    let _ = std::hint::black_box(session.eval_line(expr));
                }
                t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
            })
            .collect();
        rounds.sort_by(|a, b| a.total_cmp(b));
        println!("{:<48} {:>12.2}", expr, rounds[3]);
    }
}
