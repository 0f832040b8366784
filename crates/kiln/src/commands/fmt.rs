//! `fmt`: rewrites HCL2 files to the canonical format.

use super::{not_yet, Command};
use crate::args::{flag, FlagKind, Parsed};
use crate::ui::Ui;

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

fn run(ui: &mut Ui, _p: Parsed) -> u8 {
    not_yet(ui, "fmt")
}
