//! `init`: checks a configuration's `required_plugins` against kiln's built-in components.

use super::{not_yet, Command};
use crate::args::{flag, FlagKind, Parsed};
use crate::ui::Ui;

pub const COMMAND: Command = Command {
    name: "init",
    synopsis: "Install missing plugins or upgrade plugins",
    usage: "init [options] [TEMPLATE]",
    description: "kiln's components are built in: init reports, for each plugin in required_plugins,\n\
which of its components kiln has and which are missing. It never downloads anything.",
    flags: &[flag("upgrade", FlagKind::Bool, "Accepted for compatibility; kiln has nothing to upgrade.")],
    run,
};

fn run(ui: &mut Ui, _p: Parsed) -> u8 {
    not_yet(ui, "init")
}
