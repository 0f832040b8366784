//! One module a command. Each exposes a [`Command`] entry in [`COMMANDS`].

use crate::args::{flag, Flag, FlagKind, Parsed};
use crate::ui::Ui;

pub mod build;
pub mod cache;
pub mod cleanup;
pub mod console;
pub mod datasources;
pub mod fix;
pub mod fmt;
pub mod hcl2_upgrade;
pub mod init;
pub mod inspect;
pub mod validate;
pub mod version;

pub struct Command {
    pub name: &'static str,
    pub synopsis: &'static str,
    /// Usage line after the program name, e.g. `build [options] TEMPLATE`.
    pub usage: &'static str,
    /// Paragraphs between the usage line and the options.
    pub description: &'static str,
    pub flags: &'static [Flag],
    pub run: fn(&mut Ui, Parsed) -> u8,
}

impl Command {
    pub fn help(&self, program: &str) -> String {
        let mut s = format!("Usage: {program} {}\n\n", self.usage);
        for line in self.description.lines() {
            s.push_str(&format!("  {line}\n").replace("  \n", "\n"));
        }
        if !self.flags.is_empty() {
            s.push_str("\nOptions:\n\n");
            s.push_str(&crate::args::options_help(self.flags));
        }
        s
    }
}

/// Sorted as Packer lists them.
pub const COMMANDS: &[Command] = &[
    build::COMMAND,
    cache::COMMAND,
    cleanup::COMMAND,
    console::COMMAND,
    fix::COMMAND,
    fmt::COMMAND,
    hcl2_upgrade::COMMAND,
    init::COMMAND,
    inspect::COMMAND,
    validate::COMMAND,
    version::COMMAND,
];

pub const VAR: Flag = flag("var", FlagKind::Multi, "Variable for templates, can be used multiple times: `key=value`.");
pub const VAR_FILE: Flag = flag("var-file", FlagKind::Multi, "JSON or HCL2 file containing user variables.");
pub const ONLY: Flag =
    flag("only", FlagKind::Value, "Build only the specified builds (comma-separated, globs allowed).");
pub const EXCEPT: Flag = flag("except", FlagKind::Value, "Build all builds other than these (comma-separated, globs).");

/// Load options from the process environment and the `-var`/`-var-file` flags.
pub fn load_options(ui: &mut Ui, p: &Parsed) -> Option<kiln_template::LoadOptions> {
    let mut opts = kiln_template::LoadOptions::from_process_env();
    for v in p.all("var") {
        match v.split_once('=') {
            Some((k, val)) if !k.trim().is_empty() => opts.vars.push((k.trim().to_string(), val.to_string())),
            _ => {
                ui.err(&format!(
                    "invalid value {v:?} for flag -var: expected key=value, e.g. -var 'region=us-east-1'\n"
                ));
                return None;
            }
        }
    }
    opts.var_files = p.all("var-file").iter().map(Into::into).collect();
    Some(opts)
}

/// `required_plugins` as discovery reads them; a constraint that does not parse is reported
/// and ignored.
pub fn requirements(
    ui: &mut Ui,
    required: &[kiln_template::plan::RequiredPlugin],
) -> Vec<kiln_plugin::discover::Requirement> {
    let mut out = Vec::new();
    for r in required {
        let constraints = match kiln_plugin::version::Constraints::parse(r.version.as_deref().unwrap_or("")) {
            Ok(c) => c,
            Err(e) => {
                let at = r.span.as_ref().map(|s| {
                    let (l, c) = s.line_col();
                    format!("{}:{l}:{c}: ", s.path().display())
                });
                ui.err(&format!("{}Error: plugin {}: {e}\n", at.unwrap_or_default(), r.source));
                kiln_plugin::version::Constraints::default()
            }
        };
        out.push(kiln_plugin::discover::Requirement { source: r.source.clone(), constraints });
    }
    out
}

/// kiln's components and the installed external plugins (found as Packer finds them, see
/// `kiln_plugin::discover`); plugins skipped are reported as warnings.
pub fn registry(ui: &mut Ui, required: &[kiln_template::plan::RequiredPlugin]) -> kiln_core::registry::Registry {
    let reqs = requirements(ui, required);
    let settings = kiln_plugin::discover::Settings::from_env();
    let found = kiln_plugin::discover::discover(&settings, &reqs);
    for w in &found.warnings {
        ui.err(&format!("Warning: {w}\n"));
    }
    kiln_plugin::discover::register(kiln_components::registry(), &found, &settings.preference)
}

/// Exactly one positional argument, the template; prints the usage error otherwise.
pub fn one_template<'a>(ui: &mut Ui, cmd: &Command, p: &'a Parsed) -> Option<&'a str> {
    match p.args.as_slice() {
        [t] => Some(t),
        [] => {
            ui.err(&format!("{} requires a template (file or folder)\n\n{}", cmd.name, cmd.help(ui.program())));
            None
        }
        _ => {
            ui.err(&format!(
                "{} takes one template, got {}: {}\n\n{}",
                cmd.name,
                p.args.len(),
                p.args.join(" "),
                cmd.help(ui.program())
            ));
            None
        }
    }
}

/// Prints diagnostics to stderr.
pub fn report(ui: &mut Ui, diags: &kiln_template::Diagnostics) {
    report_masked(ui, diags, &[]);
}

/// Prints diagnostics to stderr with every sensitive value replaced by `<sensitive>`: decode
/// errors quote values ("expected a number, found the string ...").
pub fn report_masked(ui: &mut Ui, diags: &kiln_template::Diagnostics, secrets: &[String]) {
    if !diags.is_empty() {
        ui.err(&mask(&format!("{diags}\n"), secrets));
    }
}

/// `text` with the secrets masked (rules in [`kiln_config::mask`]).
pub fn mask(text: &str, secrets: &[String]) -> String {
    kiln_config::mask::Masker::new(secrets).mask(text)
}
