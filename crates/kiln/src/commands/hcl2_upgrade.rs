//! `hcl2_upgrade`: converts a legacy JSON template to an HCL2 configuration.

use super::{one_template, report, Command};
use crate::args::{flag, FlagKind, Parsed};
use crate::ui::Ui;
use kiln_template::SourceFile;
use kiln_tools::upgrade::{upgrade, UpgradeOptions};

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

fn run(ui: &mut Ui, p: Parsed) -> u8 {
    let Some(template) = one_template(ui, &COMMAND, &p) else { return 1 };
    let output = p.value("output-file").map_or_else(|| format!("{template}.pkr.hcl"), String::from);
    if template.ends_with(".pkr.hcl") || template.ends_with(".pkr.json") {
        ui.err(&format!(
            "Error: {template} is already an HCL2 configuration\n  help: hcl2_upgrade converts legacy JSON templates (*.json)\n"
        ));
        return 1;
    }
    let src = match kiln_config::limits::read_input(std::path::Path::new(&template)).map(String::from_utf8) {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => {
            ui.err(&format!("Error: {template} is not valid UTF-8 text\n"));
            return 1;
        }
        Err(e) => {
            ui.err(&format!("Error: cannot read {template}: {e}\n"));
            return 1;
        }
    };
    if std::path::Path::new(&output).exists() {
        ui.err(&format!(
            "Error: {output} already exists; not overwriting it\n  help: remove it, or choose another file with -output-file=FILE\n"
        ));
        return 1;
    }
    let file = SourceFile::new(template, src.clone());
    let opts = UpgradeOptions { with_annotations: p.bool("with-annotations") };
    let hcl = match upgrade(&src, &file, &opts) {
        Ok(h) => h,
        Err(diags) => {
            report(ui, &diags);
            return 1;
        }
    };
    // Created at once, never over a file that appeared meanwhile, nor through a symlink.
    let written = kiln_core::output::OutputFile::create(std::path::Path::new(&output), false, &[&template]).and_then(
        |mut out| {
            std::io::Write::write_all(out.file(), hcl.as_bytes()).map_err(|e| kiln_core::Error::new(e.to_string()))?;
            out.commit(0o644)
        },
    );
    if let Err(e) = written {
        ui.err(&format!("Error: cannot write {output}: {e}\n"));
        return 1;
    }
    // Packer prints this line with a trailing space.
    ui.out(&format!("Successfully created {output} \n"));
    0
}
