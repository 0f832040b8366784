//! `cache ls|prune`: the step cache's entries (kiln's own command; Packer has none).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Command;
use crate::args::{flag, FlagKind, Parsed};
use crate::ui::Ui;
use kiln_core::cache::{list, remove, remove_snapshot, steps_dir, to_prune, Entry, PruneRules};

pub const COMMAND: Command = Command {
    name: "cache",
    synopsis: "list or prune the step cache",
    usage: "cache ls | cache prune [options]",
    description: "Lists the step cache's entries (`kiln build -cache`), most recently used first, or prunes them: \
                  `prune` removes every entry and its snapshot, or only those beyond the -keep most recently used, \
                  those unused for -older-than, and the least recently used beyond -max-size. The cache lives in $PACKER_CACHE_DIR/steps (default \
                  ~/.cache/kiln/steps); docker snapshots are images in the engine that made them, qemu snapshots \
                  files in steps/qemu.",
    flags: &[
        flag("keep", FlagKind::Value, "prune: keep this many of the most recently used entries (default 0)."),
        flag(
            "older-than",
            FlagKind::Value,
            "prune: only entries unused for this long, e.g. `72h` (with -keep: either).",
        ),
        flag(
            "max-size",
            FlagKind::Value,
            "prune: keep the most recently used entries whose snapshots take at most this much, e.g. `20G` (K, M, G, T: powers of 1024).",
        ),
        flag("dry-run", FlagKind::Bool, "prune: only list what would be removed."),
    ],
    run,
};

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn describe(e: &Entry) -> String {
    let age = Duration::from_secs(now().saturating_sub(e.used));
    format!(
        "{}  {:<8} {} ({}): saves {}, used {} ago, snapshot {}",
        e.key.get(..12).unwrap_or(&e.key),
        e.kind,
        e.build,
        e.provisioner,
        kiln_core::render::format_duration(Duration::from_millis(e.saves_ms)),
        kiln_core::render::format_duration(age),
        e.snapshot
    ) + &if e.size > 0 { format!(", {}", size_text(e.size)) } else { String::new() }
}

fn run(ui: &mut Ui, p: Parsed) -> u8 {
    let dir = steps_dir(&kiln_core::journal::cache_dir());
    let entries = list(&dir);
    match p.args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["ls"] => {
            if entries.is_empty() {
                ui.out(&format!("The step cache in {} is empty.\n", dir.display()));
            }
            for e in &entries {
                ui.out(&format!("{}\n", describe(e)));
            }
            0
        }
        ["prune"] => prune(ui, &p, &dir, &entries),
        _ => {
            ui.err(&format!("cache needs one of: ls, prune\n\n{}", COMMAND.help(ui.program())));
            1
        }
    }
}

fn prune(ui: &mut Ui, p: &Parsed, dir: &std::path::Path, entries: &[Entry]) -> u8 {
    let keep = match p.value("keep").map(str::trim) {
        None | Some("") => 0,
        Some(v) => match v.parse::<usize>() {
            Ok(n) => n,
            Err(_) => {
                ui.err(&format!("invalid value {v:?} for flag -keep: expected a number of entries\n"));
                return 1;
            }
        },
    };
    let older = match p.value("older-than").map(str::trim) {
        None | Some("") => None,
        Some(v) => match kiln_config::golang::parse_go_duration(v) {
            Ok(d) => Some(d),
            Err(_) => {
                ui.err(&format!("invalid value {v:?} for flag -older-than: write a duration such as \"72h\"\n"));
                return 1;
            }
        },
    };
    let max_size = match p.value("max-size").map(str::trim) {
        None | Some("") => None,
        Some(v) => match parse_size(v) {
            Some(n) => Some(n),
            None => {
                ui.err(&format!("invalid value {v:?} for flag -max-size: write a size such as \"20G\" or \"500M\"\n"));
                return 1;
            }
        },
    };
    // Without -older-than or -max-size, -keep alone decides; with them, entries within -keep
    // stay unless another rule removes them.
    let limited = older.is_some() || max_size.is_some();
    let keep = if limited && p.value("keep").is_none() { usize::MAX } else { keep };
    let doomed = to_prune(entries, &PruneRules { keep, older_than: older, max_size }, now());
    if doomed.is_empty() {
        ui.out("Nothing to prune.\n");
        return 0;
    }
    let registry = kiln_components::registry();
    let mut failed = 0;
    for e in &doomed {
        if p.bool("dry-run") {
            ui.out(&format!("Would remove {}\n", describe(e)));
            continue;
        }
        match remove_snapshot(&registry, e) {
            Ok(true) => {}
            Ok(false) => ui.out(&format!("kiln cannot remove {} snapshots; {} is left as it is\n", e.kind, e.snapshot)),
            Err(err) => {
                // The entry stays, so a later prune tries again.
                ui.err(&format!("Cannot remove snapshot {} ({}): {err}\n", e.snapshot, e.kind));
                failed += 1;
                continue;
            }
        }
        match remove(dir, &e.key) {
            Ok(()) => ui.out(&format!("Removed {}\n", describe(e))),
            Err(err) => {
                ui.err(&format!("{err}\n"));
                failed += 1;
            }
        }
    }
    u8::from(failed > 0)
}

/// A size: bytes, or a number with K, M, G or T (powers of 1024; `KB`, `KiB` too).
fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().ok()?;
    let unit = unit.trim().to_ascii_uppercase();
    let unit = unit.trim_end_matches("IB").trim_end_matches('B');
    let factor: u64 = match unit {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return None,
    };
    (num.is_finite() && num >= 0.0).then_some((num * factor as f64) as u64)
}

/// `1.5 GiB`, `300 MiB`, `12 KiB`, `7 B`.
fn size_text(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    match UNITS.iter().find(|(_, f)| bytes >= *f) {
        Some((u, f)) => format!("{:.1} {u}", bytes as f64 / *f as f64),
        None => format!("{bytes} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("20G"), Some(20 << 30));
        assert_eq!(parse_size("500MiB"), Some(500 << 20));
        assert_eq!(parse_size("1.5k"), Some(1536));
        assert_eq!(parse_size("2 TB"), Some(2 << 40));
        assert_eq!(parse_size("12X"), None);
        assert_eq!(parse_size("G"), None);
        assert_eq!(size_text(3 << 29), "1.5 GiB");
        assert_eq!(size_text(7), "7 B");
    }
}
