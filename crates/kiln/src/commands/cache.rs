//! `cache ls|prune`: the step cache's entries (kiln's own command; Packer has none).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Command;
use crate::args::{flag, FlagKind, Parsed};
use crate::ui::Ui;
use kiln_core::cache::{list, remove, remove_snapshot, steps_dir, to_prune, Entry};

pub const COMMAND: Command = Command {
    name: "cache",
    synopsis: "list or prune the step cache",
    usage: "cache ls | cache prune [options]",
    description: "Lists the step cache's entries (`kiln build -cache`), most recently used first, or prunes them: \
                  `prune` removes every entry and its snapshot, or only those beyond the -keep most recently used \
                  and those unused for -older-than. The cache lives in $PACKER_CACHE_DIR/steps (default \
                  ~/.cache/kiln/steps); docker snapshots are images in the engine that made them.",
    flags: &[
        flag("keep", FlagKind::Value, "prune: keep this many of the most recently used entries (default 0)."),
        flag(
            "older-than",
            FlagKind::Value,
            "prune: only entries unused for this long, e.g. `72h` (with -keep: either).",
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
    )
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
    // Without -older-than, -keep alone decides; with it, entries within -keep stay unless old.
    let keep = if older.is_some() && p.value("keep").is_none() { usize::MAX } else { keep };
    let doomed = to_prune(entries, keep, older, now());
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
