//! One module a command. Each exposes a [`Command`] entry in [`COMMANDS`].

use std::sync::{Arc, OnceLock};

use crate::args::{flag, Flag, FlagKind, Parsed};
use crate::ui::Ui;
use kiln_core::registry::Registry;

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

/// `required_plugins` as discovery reads them, and one message per constraint that does not
/// parse (that entry is then taken without constraints).
pub fn requirements(
    required: &[kiln_template::plan::RequiredPlugin],
) -> (Vec<kiln_plugin::discover::Requirement>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for r in required {
        let constraints = match kiln_plugin::version::Constraints::parse(r.version.as_deref().unwrap_or("")) {
            Ok(c) => c,
            Err(e) => {
                let at = r.span.as_ref().map(|s| {
                    let (l, c) = s.line_col();
                    format!("{}:{l}:{c}: ", s.path().display())
                });
                errors.push(format!("{}Error: plugin {}: {e}\n", at.unwrap_or_default(), r.source));
                kiln_plugin::version::Constraints::default()
            }
        };
        out.push(kiln_plugin::discover::Requirement { source: r.source.clone(), constraints });
    }
    (out, errors)
}

/// kiln's components, and with them the installed external plugins (found as Packer finds them,
/// see `kiln_plugin::discover`) once the command needs them: discovery runs at most once per
/// command, so a data source from a plugin (run while the template loads) and the builds use
/// the same plugins.
pub struct Components {
    builtin: Arc<Registry>,
    with_plugins: OnceLock<Discovered>,
}

struct Discovered {
    registry: Arc<Registry>,
    warnings: Vec<String>,
}

impl Components {
    pub fn new() -> Arc<Components> {
        Arc::new(Components { builtin: Arc::new(kiln_components::registry()), with_plugins: OnceLock::new() })
    }

    /// kiln's own components only.
    pub fn builtin(&self) -> &Arc<Registry> {
        &self.builtin
    }

    /// kiln's components and the installed plugins that satisfy `required`; discovered on the
    /// first call (a command has one template, so one set of requirements).
    fn discovered(&self, required: &[kiln_template::plan::RequiredPlugin]) -> &Discovered {
        self.with_plugins.get_or_init(|| {
            let (reqs, _) = requirements(required);
            let settings = kiln_plugin::discover::Settings::from_env();
            let found = kiln_plugin::discover::discover(&settings, &reqs);
            let registry = kiln_plugin::discover::register(kiln_components::registry(), &found, &settings.preference);
            Discovered {
                registry: Arc::new(registry),
                warnings: found.warnings.iter().map(|w| w.to_string()).collect(),
            }
        })
    }

    /// The registry with plugins, for the loader's data sources (messages come with [`Self::registry`]).
    pub fn with_plugins(&self, required: &[kiln_template::plan::RequiredPlugin]) -> &Arc<Registry> {
        &self.discovered(required).registry
    }

    /// The registry with plugins for the loaded template; prints discovery's warnings and the
    /// constraints that do not parse.
    pub fn registry(&self, ui: &mut Ui, required: &[kiln_template::plan::RequiredPlugin]) -> Arc<Registry> {
        for e in requirements(required).1 {
            ui.err(&e);
        }
        let d = self.discovered(required);
        for w in &d.warnings {
            ui.err(&format!("Warning: {w}\n"));
        }
        Arc::clone(&d.registry)
    }
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
