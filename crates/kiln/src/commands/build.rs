//! `build`: runs every selected build of a template and prints the artifacts.

use super::{not_yet, Command, EXCEPT, ONLY, VAR, VAR_FILE};
use crate::args::{flag, FlagKind, Parsed};
use crate::ui::Ui;

pub const COMMAND: Command = Command {
    name: "build",
    synopsis: "build image(s) from template",
    usage: "build [options] TEMPLATE",
    description: "Runs every build in the template, in parallel, and prints the artifacts they produce.",
    flags: &[
        flag("color", FlagKind::Bool, "Colorize the output (default true; -color=false disables)."),
        flag("debug", FlagKind::Bool, "Debug mode: pause between steps, keep parallelism at 1."),
        EXCEPT,
        ONLY,
        flag("force", FlagKind::Bool, "Force a build to continue if artifacts exist, deleting them."),
        flag(
            "on-error",
            FlagKind::Value,
            "What to do when a build fails: cleanup (default), abort, ask, run-cleanup-provisioner.",
        ),
        flag("parallel-builds", FlagKind::Value, "Number of builds to run in parallel; 0 means no limit (default)."),
        flag("timestamp-ui", FlagKind::Bool, "Prefix each UI line with an RFC3339 timestamp."),
        VAR,
        VAR_FILE,
        flag("warn-on-undeclared-var", FlagKind::Bool, "Warn about variables set but not declared."),
        flag("json", FlagKind::Bool, "Write events as JSON lines (kiln's own format)."),
    ],
    run,
};

fn run(ui: &mut Ui, _p: Parsed) -> u8 {
    not_yet(ui, "build")
}
