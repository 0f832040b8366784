//! `inspect`: shows a template's variables, sources and builds as Packer prints them.

use super::{load_options, one_template, report, Command, VAR, VAR_FILE};
use crate::args::Parsed;
use crate::ui::Ui;
use kiln_template::Stage;

pub const COMMAND: Command = Command {
    name: "inspect",
    synopsis: "see components of a template",
    usage: "inspect [options] TEMPLATE",
    description: "Shows the variables, sources, provisioners and post-processors of a template.",
    flags: &[VAR, VAR_FILE],
    run,
};

fn run(ui: &mut Ui, p: Parsed) -> u8 {
    let Some(template) = one_template(ui, &COMMAND, &p) else {
        return 1;
    };
    let Some(mut opts) = load_options(ui, &p) else {
        return 1;
    };
    opts.stage = Stage::Syntax;
    match kiln_template::load(template.as_ref(), &opts) {
        Ok(t) => {
            report(ui, &kiln_template::Diagnostics(t.warnings.clone()));
            if ui.machine_readable {
                for (kind, data) in kiln_template::inspect::events(&t) {
                    let data: Vec<&str> = data.iter().map(String::as_str).collect();
                    ui.machine("", kind, &data);
                }
            } else {
                ui.out(&kiln_template::inspect::render(&t));
            }
            0
        }
        Err(diags) => {
            report(ui, &diags);
            1
        }
    }
}
