//! `kiln build` for templates of the docker components, until the binary's registry
//! table lists them: the same loader, engine and renderer, with the docker builder and
//! post-processors and kiln's shell and file provisioners registered. bench/docker.sh
//! uses it when the kiln binary has no docker builder.
//!
//! Usage: kiln-docker-build [build] [-force] [-color=false] [-var NAME=VALUE]... TEMPLATE

use std::process::ExitCode;

use kiln_core::RunSettings;

/// The tests' registry (and helpers this program does not use).
#[allow(dead_code)]
#[path = "../tests/support/build.rs"]
mod build;
use build::registry;

fn main() -> ExitCode {
    let mut opts = kiln_template::LoadOptions::from_process_env();
    opts.stage = kiln_template::Stage::Full;
    let mut settings = RunSettings::default();
    let mut template = None;
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().is_some_and(|a| a == "build") {
        args.next();
    }
    while let Some(a) = args.next() {
        let a = a.trim_start_matches('-').to_string();
        if a == "force" {
            settings.options.force = true;
        } else if a.starts_with("color=") || a.starts_with("timestamp-ui") {
            // Accepted as `kiln build` accepts them; the output is plain anyway.
        } else if let Some(v) =
            a.strip_prefix("var=").map(str::to_string).or_else(|| (a == "var").then(|| args.next()).flatten())
        {
            match v.split_once('=') {
                Some((k, val)) => opts.vars.push((k.to_string(), val.to_string())),
                None => {
                    eprintln!("-var {v:?}: expected NAME=VALUE");
                    return ExitCode::from(1);
                }
            }
        } else if template.is_none() {
            template = Some(std::path::PathBuf::from(a));
        } else {
            eprintln!("usage: kiln-docker-build [-force] [-var NAME=VALUE]... TEMPLATE");
            return ExitCode::from(1);
        }
    }
    let Some(path) = template else {
        eprintln!("usage: kiln-docker-build [-force] [-var NAME=VALUE]... TEMPLATE");
        return ExitCode::from(1);
    };
    // The template's path as given (kiln's loaders resolve relative paths from the
    // current folder).
    let t = match kiln_template::load(&path, &opts) {
        Ok(t) => t,
        Err(d) => {
            eprintln!("{d}");
            return ExitCode::from(1);
        }
    };
    let format = kiln_core::render::Format::Human { color: false, timestamps: false };
    let ui = kiln_core::Ui::new(kiln_core::render::renderer(format));
    let report = |s: &str| eprint!("{s}");
    ExitCode::from(kiln_core::run_template(&registry(), &t, &settings, &ui, &report).exit_code())
}
