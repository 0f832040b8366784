//! `console`: evaluates expressions against a template, interactively or from stdin.

use super::{not_yet, Command, VAR, VAR_FILE};
use crate::args::{flag, FlagKind, Parsed};
use crate::ui::Ui;

pub const COMMAND: Command = Command {
    name: "console",
    synopsis: "creates a console for testing variable interpolation",
    usage: "console [options] [TEMPLATE]",
    description: "Evaluates expressions against a template's variables and locals. Reads one\n\
expression a line from standard input and prints each value.",
    flags: &[
        VAR,
        VAR_FILE,
        flag("config-type", FlagKind::Value, "Template type when none is given: hcl2 (default) or json."),
    ],
    run,
};

fn run(ui: &mut Ui, _p: Parsed) -> u8 {
    not_yet(ui, "console")
}
