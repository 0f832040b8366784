//! `fix`: rewrites a legacy JSON template from older Packer versions and prints it.

use super::{not_yet, Command};
use crate::args::{flag, FlagKind, Parsed};
use crate::ui::Ui;

pub const COMMAND: Command = Command {
    name: "fix",
    synopsis: "fixes templates from old versions of packer",
    usage: "fix [options] TEMPLATE",
    description: "Reads a legacy JSON template, applies Packer's fixers (renamed and moved options)\n\
and prints the fixed template on standard output.",
    flags: &[flag("validate", FlagKind::Bool, "Validate the fixed template (default true).")],
    run,
};

fn run(ui: &mut Ui, _p: Parsed) -> u8 {
    not_yet(ui, "fix")
}
