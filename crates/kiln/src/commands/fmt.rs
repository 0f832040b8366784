//! `fmt`: rewrites HCL2 files to the canonical format.
//!
//! As `packer fmt`: the argument is a file, a folder (its `*.pkr.hcl` then `*.pkrvars.hcl`
//! files; with `-recursive` also those of its subfolders) or `-` for standard input. The name of
//! each file that is (or, with `-check`, would be) rewritten is printed; `-diff` adds a unified
//! diff. Exit 0 when done, 3 when `-check` found unformatted files, 1 on any error.

use super::Command;
use crate::args::{flag, FlagKind, Parsed};
use crate::ui::Ui;
use kiln_template::{Diagnostics, SourceFile};
use std::path::{Path, PathBuf};

pub const COMMAND: Command = Command {
    name: "fmt",
    synopsis: "Rewrites HCL2 config files to canonical format",
    usage: "fmt [options] [TEMPLATE]",
    description: "Rewrites HCL2 configuration files (.pkr.hcl, .pkrvars.hcl) to the canonical format.\n\
TEMPLATE is a file, a folder, or - for standard input.",
    flags: &[
        flag("check", FlagKind::Bool, "Check if the input is formatted; exit 3 if not."),
        flag("diff", FlagKind::Bool, "Display diffs of formatting changes."),
        flag("write", FlagKind::Bool, "Write the result to the source file (default true)."),
        flag("recursive", FlagKind::Bool, "Also process files in subdirectories."),
    ],
    run,
};

const EXIT_UNFORMATTED: u8 = 3;

struct Options {
    check: bool,
    diff: bool,
    write: bool,
    recursive: bool,
}

fn run(ui: &mut Ui, p: Parsed) -> u8 {
    let target = match p.args.as_slice() {
        [t] => t.clone(),
        _ => {
            ui.err(&COMMAND.help(ui.program()));
            return 1;
        }
    };
    let check = p.bool("check");
    let opts = Options {
        check,
        diff: p.bool("diff"),
        write: p.bool_or("write", true) && !check,
        recursive: p.bool("recursive"),
    };
    if target == "-" {
        return stdin(ui, &opts);
    }

    let files = match files_for(&target, opts.recursive) {
        Ok(f) => f,
        Err(msg) => {
            ui.err(&msg);
            return 1;
        }
    };
    let mut errors = Vec::new();
    let mut unformatted = false;
    for path in files {
        let name = path.to_string_lossy().into_owned();
        let src = match kiln_config::limits::read_input(&path).map(String::from_utf8) {
            Ok(Ok(s)) => s,
            Ok(Err(_)) => {
                errors.push(format!("Error: {name} is not valid UTF-8 text\n"));
                continue;
            }
            Err(e) => {
                errors.push(format!("Error: cannot read {name}: {e}\n"));
                continue;
            }
        };
        let file = SourceFile::new(&path, src.clone());
        let out = match kiln_tools::fmt::format(&file) {
            Ok(out) => out,
            Err(diags) => {
                errors.push(refusal(&name, &diags));
                continue;
            }
        };
        if out == src {
            continue;
        }
        unformatted = true;
        ui.out(&format!("{name}\n"));
        if opts.write {
            if let Err(e) = std::fs::write(&path, &out) {
                errors.push(format!("Error: cannot write {name}: {e}\n"));
                continue;
            }
        }
        if opts.diff {
            ui.out(&unified_diff(&src, &out, &name));
        }
    }
    for e in &errors {
        ui.err(e);
    }
    if !errors.is_empty() {
        1
    } else if opts.check && unformatted {
        EXIT_UNFORMATTED
    } else {
        0
    }
}

/// `-`: standard input to standard output (the formatted text, or the diff with `-diff`).
fn stdin(ui: &mut Ui, opts: &Options) -> u8 {
    let src = match kiln_config::limits::read_bounded(std::io::stdin()).map(String::from_utf8) {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => {
            ui.err("Error: standard input is not valid UTF-8 text\n");
            return 1;
        }
        Err(e) => {
            ui.err(&format!("Error: cannot read standard input: {e}\n"));
            return 1;
        }
    };
    let file = SourceFile::new("<stdin>", src.clone());
    let out = match kiln_tools::fmt::format(&file) {
        Ok(out) => out,
        Err(diags) => {
            ui.err(&refusal("<stdin>", &diags));
            return 1;
        }
    };
    if opts.diff {
        if out != src {
            ui.out(&unified_diff(&src, &out, "<stdin>"));
        }
    } else if !opts.check {
        ui.out(&out);
    }
    if opts.check && out != src {
        EXIT_UNFORMATTED
    } else {
        0
    }
}

fn refusal(name: &str, diags: &Diagnostics) -> String {
    format!("{diags}\nError: {name} was not formatted: it is not valid HCL2\n\n")
}

fn is_hcl2_name(name: &str) -> bool {
    name.ends_with(".pkr.hcl") || name.ends_with(".pkrvars.hcl")
}

/// The files a TEMPLATE argument stands for, named as Packer names them (folder joined with
/// the file name, cleaned of `./`).
fn files_for(target: &str, recursive: bool) -> Result<Vec<PathBuf>, String> {
    let meta = std::fs::metadata(target).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::NotFound {
            "no such file or directory".to_string()
        } else {
            e.to_string()
        };
        format!("Error: Cannot tell whether {target} is a directory\n\nstat {target}: {why}\n\n")
    })?;
    if !meta.is_dir() {
        if !is_hcl2_name(target) {
            return Err(format!(
                "Error: Cannot tell whether {target} contains HCL2 configuration data\n\n  help: kiln fmt formats files named *.pkr.hcl or *.pkrvars.hcl\n\n"
            ));
        }
        return Ok(vec![PathBuf::from(target)]);
    }
    let mut out = Vec::new();
    collect_dir(&clean(Path::new(target)), recursive, &mut out)
        .map_err(|e| format!("Error: cannot read {target}: {e}\n\n"))?;
    Ok(out)
}

fn collect_dir(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let on_disk = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let mut names: Vec<(String, bool)> = std::fs::read_dir(on_disk)?
        .filter_map(|e| {
            let e = e.ok()?;
            let is_dir = e.path().is_dir();
            Some((e.file_name().to_str()?.to_string(), is_dir))
        })
        .collect();
    names.sort();
    // Packer lists configuration files first, then variable files.
    for suffix in [".pkr.hcl", ".pkrvars.hcl"] {
        for (n, is_dir) in &names {
            if !is_dir && n.ends_with(suffix) {
                out.push(dir.join(n));
            }
        }
    }
    if recursive {
        for (n, is_dir) in &names {
            if *is_dir {
                collect_dir(&dir.join(n), true, out)?;
            }
        }
    }
    Ok(())
}

/// `./a/` → `a`, `.` → `` (so that joined names read `a/x.pkr.hcl` and `x.pkr.hcl`).
fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        if c != std::path::Component::CurDir {
            out.push(c);
        }
    }
    out
}

/// A unified diff with `old/` and `new/` labels. Packer runs `diff -u` for this, and GNU diff's
/// heuristics (it gives up matching lines that occur very often, such as blank lines) pick
/// different hunks than a minimal diff; so `diff` is run when it is installed, and a minimal
/// diff in the same format is the fallback.
pub fn unified_diff(old: &str, new: &str, name: &str) -> String {
    system_diff(old, new, name).unwrap_or_else(|| builtin_diff(old, new, name))
}

fn builtin_diff(old: &str, new: &str, name: &str) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    diff.unified_diff().context_radius(3).header(&format!("old/{name}"), &format!("new/{name}")).to_string()
}

fn system_diff(old: &str, new: &str, name: &str) -> Option<String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let result = (|| {
        use kiln_core::private_temp::TempFile;
        let old_file = TempFile::create(&format!("fmt-{n}.old"), old.as_bytes(), 0o600).ok()?;
        let new_file = TempFile::create(&format!("fmt-{n}.new"), new.as_bytes(), 0o600).ok()?;
        let (a, b) = (old_file.path(), new_file.path());
        let out = std::process::Command::new("diff")
            .arg(format!("--label=old/{name}"))
            .arg(format!("--label=new/{name}"))
            .arg("-u")
            .arg(a)
            .arg(b)
            .output()
            .ok()?;
        // diff exits 1 when the files differ; anything else is trouble.
        (out.status.code() == Some(1)).then(|| String::from_utf8(out.stdout).ok()).flatten()
    })();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_folder_names_like_go() {
        assert_eq!(clean(Path::new(".")).join("a.pkr.hcl"), PathBuf::from("a.pkr.hcl"));
        assert_eq!(clean(Path::new("./sub/")).join("a.pkr.hcl"), PathBuf::from("sub/a.pkr.hcl"));
    }

    #[test]
    fn diff_marks_missing_final_newline() {
        let want =
            "--- old/s.pkr.hcl\n+++ new/s.pkr.hcl\n@@ -1,2 +1,2 @@\n-a=1\n+a = 1\n b = 2\n\\ No newline at end of file\n";
        assert_eq!(builtin_diff("a=1\nb = 2", "a = 1\nb = 2", "s.pkr.hcl"), want);
        assert_eq!(unified_diff("a=1\nb = 2", "a = 1\nb = 2", "s.pkr.hcl"), want);
    }
}
