//! The library entry point of `kiln build`: the loaded builds and the flags in, a summary out.
//! The CLI only loads the template, parses flags and prints what this returns.

use std::collections::BTreeMap;
use std::io::Write;

use kiln_config::build::Build;
use kiln_config::diag::{Diagnostic, Diagnostics};

use crate::cancel::{install_signal_handlers, Cancel};
use crate::event::{Event, Ui};
use crate::prepare::{prepare_build, PreparedBuild};
use crate::registry::Registry;
use crate::render::Format;
use crate::scheduler::{build_info, new_uuid, run_builds, RunOptions, Summary};

/// What a loaded template gives `kiln build` to run.
#[derive(Debug, Clone, Copy)]
pub struct RunInput<'a> {
    /// The template's runnable builds, in order (`-only`/`-except` select among them).
    pub builds: &'a [Build],
    /// Values that must never be printed (sensitive variables' values, hard-coded secrets):
    /// masked in every output and log.
    pub sensitive_values: &'a [String],
}

/// Everything `kiln build` was asked for.
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    pub only: Vec<String>,
    pub except: Vec<String>,
    pub options: RunOptions,
}

/// Which renderer: `-machine-readable`, then `-json` / `KILN_LOG_FORMAT=json`, else human.
pub fn format_from(
    machine_readable: bool,
    json: bool,
    color: bool,
    timestamps: bool,
    env: &BTreeMap<String, String>,
) -> Format {
    if machine_readable {
        Format::MachineReadable
    } else if json || env.get("KILN_LOG_FORMAT").is_some_and(|v| v == "json") {
        Format::Json
    } else {
        Format::Human { color, timestamps }
    }
}

/// The debug log `PACKER_LOG=1` / `KILN_LOG=1` asks for: `PACKER_LOG_PATH` or stderr.
pub fn log_from_env(env: &BTreeMap<String, String>) -> Option<Box<dyn Write + Send>> {
    let on = |k: &str| env.get(k).is_some_and(|v| !v.is_empty() && v != "0");
    if !on("PACKER_LOG") && !on("KILN_LOG") {
        return None;
    }
    match env.get("PACKER_LOG_PATH").filter(|p| !p.is_empty()) {
        Some(p) => match std::fs::OpenOptions::new().create(true).append(true).open(p) {
            Ok(f) => Some(Box::new(f)),
            Err(e) => {
                eprintln!("kiln: cannot open PACKER_LOG_PATH {p}: {e}; logging to stderr");
                Some(Box::new(std::io::stderr()))
            }
        },
        None => Some(Box::new(std::io::stderr())),
    }
}

/// Selects and prepares `builds`: every configuration error of every build at once, before
/// anything runs. Builds that prepared are returned with the warnings; the errors
/// of the others come back separately (Packer still runs the good builds, then exits 1).
pub fn prepare_builds(
    reg: &Registry,
    builds: &[Build],
    settings: &RunSettings,
) -> (Vec<PreparedBuild>, Vec<Diagnostic>, Diagnostics) {
    let selected = crate::select::select_builds(builds, &settings.only, &settings.except);
    let mut errors = Diagnostics::new();
    let mut warnings = crate::select::unmatched(builds, &settings.only, &settings.except);
    let mut prepared = Vec::new();
    for b in selected {
        match prepare_build(reg, b, &build_info(b, &settings.options)) {
            Ok((p, w)) => {
                prepared.push(p);
                warnings.extend(w);
            }
            Err(d) => errors.extend(d),
        }
    }
    (prepared, warnings, errors)
}

/// How a run ended: the builds' summary and the configuration errors of builds that could not
/// be prepared.
#[derive(Debug)]
pub struct RunResult {
    pub summary: Summary,
    pub prepare_errors: Diagnostics,
}

impl RunResult {
    /// Packer's exit code: 1 when any build could not be prepared, failed, or was cancelled.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.prepare_errors.has_errors()) | self.summary.exit_code()
    }
}

/// Runs `input`'s builds with signal handling on a fresh runtime. Configuration errors and
/// warnings go to `report` (masked) before any build starts.
pub fn run_template(
    reg: &Registry,
    input: RunInput<'_>,
    settings: &RunSettings,
    ui: &Ui,
    report: &dyn Fn(&str),
) -> RunResult {
    let mut settings = settings.clone();
    if settings.options.run_uuid.is_empty() {
        settings.options.run_uuid = new_uuid();
    }
    ui.add_secrets(input.sensitive_values.iter().cloned());
    let (builds, warnings, errors) = prepare_builds(reg, input.builds, &settings);
    let mut shown = Diagnostics(warnings);
    shown.extend(errors.clone());
    if !shown.is_empty() {
        let text = shown.to_string();
        ui.log(&text);
        report(&ui.mask(&format!("{text}\n")));
    }
    if let Some(w) = crate::journal::orphan_warning(&crate::journal::orphaned(&crate::journal::journal_dir())) {
        ui.log(&w);
        report(&ui.mask(&format!("Warning: {w}\n")));
    }
    let summary = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => {
            let summary = rt.block_on(async {
                let cancel = Cancel::new();
                let note = ui.clone();
                install_signal_handlers(cancel.clone(), move || {
                    note.emit(Event::Plain { text: "Cancelling build after receiving interrupt".into() })
                });
                run_builds(builds, &settings.options, ui, &cancel).await
            });
            // Don't wait for stray blocking reads (a pending -debug prompt) at exit.
            rt.shutdown_background();
            // Children of cancelled steps get their SIGKILL (after their grace) before kiln exits.
            crate::process::settle();
            summary
        }
        Err(e) => {
            report(&format!("kiln: cannot start the runtime: {e}\n"));
            Summary { errors: vec![(String::new(), e.to_string())], ..Summary::default() }
        }
    };
    RunResult { summary, prepare_errors: errors }
}
