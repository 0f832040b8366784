//! `validate`: checks a template's syntax and, unless `-syntax-only`, that every build's
//! components exist in kiln and accept their configuration.

use super::datasources::run_data_sources;
use super::{load_options, one_template, report, report_masked, Command, EXCEPT, ONLY, VAR, VAR_FILE};
use crate::args::{flag, FlagKind, Parsed};
use crate::ui::Ui;
use kiln_template::Stage;

pub const COMMAND: Command = Command {
    name: "validate",
    synopsis: "check that a template is valid",
    usage: "validate [options] TEMPLATE",
    description: "Checks that the template is valid: its syntax, its variables, and the configuration\n\
of every builder, provisioner, post-processor and data source. HCL2 data sources are run, so\n\
that everything that uses their values is checked with them. Exits 0 when valid, 1 otherwise.",
    flags: &[
        flag("syntax-only", FlagKind::Bool, "Only check the syntax; do not evaluate or decode components."),
        EXCEPT,
        ONLY,
        VAR,
        VAR_FILE,
        flag(
            "evaluate-datasources",
            FlagKind::Bool,
            "Accepted for Packer's command lines: kiln always runs data sources in a full validate (not with -syntax-only).",
        ),
        flag("no-warn-undeclared-var", FlagKind::Bool, "Do not warn about variables set but not declared."),
    ],
    run,
};

fn run(ui: &mut Ui, p: Parsed) -> u8 {
    let Some(template) = one_template(ui, &COMMAND, &p) else {
        return 1;
    };
    let Some(mut opts) = load_options(ui, &p) else {
        return 1;
    };
    let syntax_only = p.bool("syntax-only");
    opts.stage = if syntax_only { Stage::Syntax } else { Stage::Full };
    let components = super::Components::new();
    // `-syntax-only` runs nothing: data sources' values stay unknown.
    if !syntax_only {
        run_data_sources(&mut opts, &components);
    }
    let t = match kiln_template::load(template.as_ref(), &opts) {
        Ok(t) => t,
        Err(diags) => {
            report(ui, &diags);
            return 1;
        }
    };
    let mut diags = kiln_template::Diagnostics(t.warnings.clone());
    if syntax_only {
        report_masked(ui, &diags, &t.sensitive_values);
        ui.out("Syntax-only check passed. Everything looks okay.\n");
        return 0;
    }
    let (only, except) = (p.list("only"), p.list("except"));
    diags.0.extend(kiln_core::select::unmatched(&t.builds, &only, &except));
    let selected = kiln_core::select::select_builds(&t.builds, &only, &except);
    let registry = components.registry(ui, &t.required_plugins);
    for b in selected {
        diags.0.extend(kiln_core::prepare::check_build(&registry, b));
    }
    report_masked(ui, &diags, &t.sensitive_values);
    if diags.has_errors() {
        return 1;
    }
    ui.out("The configuration is valid.\n");
    0
}
