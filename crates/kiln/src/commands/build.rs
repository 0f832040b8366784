//! `build`: runs every selected build of a template and prints the artifacts.

use std::sync::Arc;

use super::datasources::run_data_sources;
use super::{load_options, one_template, report, Command, EXCEPT, ONLY, VAR, VAR_FILE};
use crate::args::{flag, FlagKind, Parsed};
use crate::ui::Ui;
use kiln_core::cache::{CacheMode, StepCache};
use kiln_core::event::StdinAsker;
use kiln_core::run::{format_from, log_from_env};
use kiln_core::scheduler::RunOptions;
use kiln_core::{OnError, RunSettings};

pub const COMMAND: Command = Command {
    name: "build",
    synopsis: "build image(s) from template",
    usage: "build [options] TEMPLATE",
    description: "Runs every build in the template, in parallel, and prints the artifacts they produce.",
    flags: &[
        flag(
            "cache",
            FlagKind::OptionalValue,
            "Use the step cache: resume after the last unchanged provisioner (-cache=refresh: run all, renew the cache; also KILN_CACHE=1).",
        ),
        flag(
            "cache-shared",
            FlagKind::Value,
            "Also share the step cache with other machines: file:///path or s3://bucket/prefix (also KILN_CACHE_SHARED).",
        ),
        flag("color", FlagKind::Bool, "Colorize the output (default true; -color=false disables)."),
        flag("debug", FlagKind::Bool, "Debug mode: pause between steps, keep parallelism at 1."),
        EXCEPT,
        ONLY,
        flag("force", FlagKind::Bool, "Force a build to continue if artifacts exist, deleting them."),
        flag(
            "on-error",
            FlagKind::Value,
            "What to do when a build fails: cleanup (default), abort, ask, run-cleanup-provisioner.",
        ),
        flag("parallel-builds", FlagKind::Value, "Number of builds to run in parallel; 0 means no limit (default)."),
        flag("timestamp-ui", FlagKind::Bool, "Prefix each UI line with an RFC3339 timestamp."),
        VAR,
        VAR_FILE,
        flag("warn-on-undeclared-var", FlagKind::Bool, "Warn about variables set but not declared."),
        flag("json", FlagKind::Bool, "Write events as JSON lines (kiln's own format)."),
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
    let parallel_builds = match p.value("parallel-builds").map(str::trim) {
        None | Some("") => 0,
        Some(v) => match v.parse::<usize>() {
            Ok(n) => n,
            Err(_) => {
                ui.err(&format!(
                    "invalid value {v:?} for flag -parallel-builds: expected a number (0 means no limit)\n"
                ));
                return 1;
            }
        },
    };
    let on_error = match OnError::parse(p.value("on-error").unwrap_or("")) {
        Some(o) => o,
        None => {
            ui.err(&format!(
                "invalid value {:?} for flag -on-error: use cleanup, abort, ask or run-cleanup-provisioner\n",
                p.value("on-error").unwrap_or("")
            ));
            return 1;
        }
    };
    // `-cache` wins over KILN_CACHE; `None`: not asked either way.
    let mode = match p.value("cache").or_else(|| opts.env.get("KILN_CACHE").map(String::as_str)) {
        None => None,
        Some(v) => match CacheMode::parse(v) {
            Ok(mode) => Some(mode),
            Err(e) => {
                ui.err(&format!("invalid value for -cache or KILN_CACHE: {e}\n"));
                return 1;
            }
        },
    };
    // `-cache-shared` wins over KILN_CACHE_SHARED; it turns the cache on unless -cache (or
    // KILN_CACHE) turned it off.
    let shared = p.value("cache-shared").or_else(|| opts.env.get("KILN_CACHE_SHARED").map(String::as_str));
    let cache = match (mode, shared.filter(|s| !s.is_empty())) {
        (Some(None), _) | (None, None) => None,
        (Some(Some(m)), None) => Some(StepCache::in_cache_dir(m)),
        (m, Some(url)) => match kiln_components::shared_store(url) {
            Ok(store) => Some(StepCache::in_cache_dir(m.flatten().unwrap_or(CacheMode::Use)).with_shared(store)),
            Err(e) => {
                ui.err(&format!("invalid value for -cache-shared or KILN_CACHE_SHARED: {e}\n"));
                return 1;
            }
        },
    };
    let cache = cache.map(Arc::new);
    let components = super::Components::new();
    run_data_sources(&mut opts, &components);
    let t = match kiln_template::load(template.as_ref(), &opts) {
        Ok(t) => t,
        Err(diags) => {
            report(ui, &diags);
            return 1;
        }
    };
    report(ui, &kiln_template::Diagnostics(t.warnings.clone()));
    let template_dir = std::path::Path::new(template)
        .canonicalize()
        .ok()
        .and_then(|p| if p.is_dir() { Some(p) } else { p.parent().map(|d| d.to_path_buf()) })
        .unwrap_or_default();
    let settings = RunSettings {
        only: p.list("only"),
        except: p.list("except"),
        options: RunOptions {
            parallel_builds,
            debug: p.bool("debug"),
            force: p.bool("force"),
            on_error,
            template_dir,
            run_uuid: String::new(),
            cache,
        },
    };
    let format =
        format_from(ui.machine_readable, p.bool("json"), p.bool_or("color", true), p.bool("timestamp-ui"), &opts.env);
    let engine_ui =
        kiln_core::Ui::with(kiln_core::render::renderer(format), log_from_env(&opts.env), Box::new(StdinAsker));
    // Configuration errors go to stderr (masked: they may quote the configuration).
    let report = |text: &str| {
        use std::io::Write;
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    };
    let input = kiln_core::RunInput { builds: &t.builds, sensitive_values: &t.sensitive_values };
    let registry = components.registry(ui, &t.required_plugins);
    kiln_core::run_template(&registry, input, &settings, &engine_ui, &report).exit_code()
}
