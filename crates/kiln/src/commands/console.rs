//! `console`: evaluates expressions against a template, one a line from standard input.

use std::io::BufRead;

use super::{load_options, report, Command, VAR, VAR_FILE};
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

fn run(ui: &mut Ui, p: Parsed) -> u8 {
    let template = match p.args.as_slice() {
        [] => None,
        [t] => Some(std::path::Path::new(t.as_str())),
        _ => {
            ui.err(&format!("console takes at most one template\n\n{}", COMMAND.help(ui.program())));
            return 1;
        }
    };
    match p.value("config-type") {
        None | Some("hcl2") => {}
        Some("json") if template.is_none() => {
            ui.err("console: -config-type=json needs a JSON template to evaluate against\n");
            return 1;
        }
        Some("json") => {}
        Some(other) => {
            ui.err(&format!("console: unknown -config-type {other:?}: use hcl2 or json\n"));
            return 1;
        }
    }
    let Some(mut opts) = load_options(ui, &p) else {
        return 1;
    };
    // As Packer's console, data sources run, so `data.type.name.output` has its value.
    super::datasources::run_data_sources(&mut opts, &super::Components::new());
    let session = match kiln_template::console::open(template, &opts) {
        Ok(s) => s,
        Err(d) => {
            report(ui, &d);
            return 1;
        }
    };
    let mut rc = 0;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "exit" {
            break;
        }
        match session.eval_line(line) {
            Ok(v) => ui.out(&format!("{v}\n")),
            Err(d) => {
                rc = 1;
                ui.err(&format!("{d}\n"));
            }
        }
    }
    rc
}
