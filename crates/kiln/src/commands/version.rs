//! `version`: prints kiln's version and the Packer version it is compatible with.

use super::Command;
use crate::args::Parsed;
use crate::ui::Ui;

pub const COMMAND: Command = Command {
    name: "version",
    synopsis: "Prints the version",
    usage: "version",
    description: "Prints the version of kiln and of Packer it is compatible with.",
    flags: &[],
    run,
};

fn run(ui: &mut Ui, _p: Parsed) -> u8 {
    let mr = ui.machine_readable;
    print(ui, mr)
}

pub fn print(ui: &mut Ui, machine_readable: bool) -> u8 {
    let packer = kiln_template::PACKER_COMPAT_VERSION;
    let kiln = env!("CARGO_PKG_VERSION");
    if machine_readable {
        ui.machine("", "version", &[packer]);
        ui.machine("", "version-prelease", &[""]);
        ui.machine("", "version-commit", &[""]);
        ui.machine("", "kiln-version", &[kiln]);
    } else if ui.packer_mode {
        ui.out(&format!("Packer v{packer} (kiln {kiln})\n"));
    } else {
        ui.out(&format!("kiln {kiln} (compatible with Packer v{packer})\n"));
    }
    0
}
