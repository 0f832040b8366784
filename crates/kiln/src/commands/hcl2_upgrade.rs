//! `hcl2_upgrade`: converts a legacy JSON template to an HCL2 configuration.

use super::{not_yet, Command};
use crate::args::{flag, FlagKind, Parsed};
use crate::ui::Ui;

pub const COMMAND: Command = Command {
    name: "hcl2_upgrade",
    synopsis: "transform a JSON template into an HCL2 configuration",
    usage: "hcl2_upgrade [options] TEMPLATE",
    description: "Writes TEMPLATE.pkr.hcl next to the JSON template (or -output-file).",
    flags: &[
        flag("output-file", FlagKind::Value, "File to write the HCL2 configuration to (default TEMPLATE.pkr.hcl)."),
        flag("with-annotations", FlagKind::Bool, "Add helper comments to the output."),
    ],
    run,
};

fn run(ui: &mut Ui, _p: Parsed) -> u8 {
    not_yet(ui, "hcl2_upgrade")
}
