//! Optional: compares kiln with the `packer` binary itself (Packer 1.6.6's `console`) on a
//! sample of the recorded cases. Skips with a notice when `packer` is absent, unless
//! KILN_REQUIRE_TOOLS=1.

mod functions_support;

use std::io::Write;
use std::process::{Command, Stdio};

use functions_support::{check, parse_cases, Case};

/// What `packer console` prints for `expr`, in the recorded form (`!error summary | detail`).
fn packer_console(expr: &str, dir: &std::path::Path) -> Option<String> {
    let mut child = Command::new("packer")
        .args(["console", "-config-type=hcl2"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(format!("{expr}\n").as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !text.contains("Error:") {
        return Some(text.trim_end_matches('\n').to_string());
    }
    let lines: Vec<&str> = text.lines().collect();
    let summary = lines.iter().find_map(|l| l.strip_prefix("Error: ")).unwrap_or("");
    let detail = match lines.iter().position(|l| l.contains("source code not available")) {
        Some(i) => lines[i + 1..].iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" "),
        None => String::new(),
    };
    Some(format!("!error {summary} | {detail}"))
}

#[test]
fn kiln_agrees_with_live_packer() {
    let version = Command::new("packer").arg("version").output();
    let Ok(version) = version else {
        return kiln_testing::skip("`packer` is not installed");
    };
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    if !version.contains("1.6.6") {
        println!("notice: this test compares with Packer 1.6.6; found {}; skipping", version.trim());
        return;
    }
    let tmp = std::env::temp_dir().join(format!("kiln-live-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    // Every sixth recorded case keeps the run short (one packer process per case).
    let cases: Vec<Case> = parse_cases(include_str!("data/functions_packer_1_6_6.txt"))
        .into_iter()
        .step_by(6)
        .filter(|c| !c.expr.contains("abspath") && !c.expr.contains("pathexpand"))
        .filter_map(|c| Some(Case { expected: packer_console(&c.expr, &tmp)?, expr: c.expr }))
        .collect();
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(cases.len() > 50, "packer answered only {} cases", cases.len());
    let o = check(&cases);
    println!("live packer: {} cases, {} failures", cases.len(), o.failures.len());
    assert!(o.failures.is_empty(), "kiln differs from packer:\n{}", o.failures.join("\n"));
}
