//! The `kiln` binary: Packer's command line on kiln's engine.
//!
//! Invoked through a link named `packer`, it behaves as a drop-in for Packer (help, version
//! and exit codes as Packer's), so CI scripts that call `packer` run unchanged.

mod args;
mod commands;
mod ui;

use std::process::ExitCode;

use commands::COMMANDS;
use ui::Ui;

/// Packer's exit code for usage errors at the top level (unknown command, no command).
const EXIT_USAGE: u8 = 127;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let packer_mode = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_stem().map(|s| s.to_string_lossy().into_owned()))
        .is_some_and(|s| s == "packer");
    let mut ui = Ui::new(packer_mode);
    let code = run(&mut ui, &argv[1..]);
    // An output still being written on another thread (an interrupted compress) is not left
    // half-written behind.
    kiln_core::output::remove_partials();
    kiln_core::private_temp::remove_dir();
    ExitCode::from(code)
}

fn run(ui: &mut Ui, argv: &[String]) -> u8 {
    // Global flags in front of the command, as mitchellh/cli takes them.
    let mut rest = argv;
    let mut machine_readable = false;
    while let Some(first) = rest.first() {
        match first.as_str() {
            "-machine-readable" | "--machine-readable" => machine_readable = true,
            "-v" | "-version" | "--version" => return commands::version::print(ui, machine_readable),
            "-h" | "-help" | "--help" => {
                ui.out(&top_help(ui.program()));
                return 0;
            }
            "-autocomplete-install" | "-autocomplete-uninstall" => {
                ui.err("kiln does not install shell completion\n");
                return 1;
            }
            _ => break,
        }
        rest = &rest[1..];
    }
    let Some((name, cmd_args)) = rest.split_first() else {
        ui.err(&top_help(ui.program()));
        return EXIT_USAGE;
    };
    let Some(cmd) = COMMANDS.iter().find(|c| c.name == name) else {
        let mut msg = format!("{}: unknown command {name:?}\n", ui.program());
        if let Some(s) = kiln_config::diag::did_you_mean(name, COMMANDS.iter().map(|c| c.name)) {
            msg.push_str(&format!("help: did you mean {s:?}?\n"));
        }
        msg.push('\n');
        msg.push_str(&top_help(ui.program()));
        ui.err(&msg);
        return EXIT_USAGE;
    };
    if cmd_args.iter().any(|a| a == "-h" || a == "-help" || a == "--help") {
        ui.out(&cmd.help(ui.program()));
        return 0;
    }
    let mut cmd_args = cmd_args.to_vec();
    cmd_args.retain(|a| {
        let mr = a == "-machine-readable" || a == "--machine-readable";
        machine_readable |= mr;
        !mr
    });
    ui.machine_readable = machine_readable;
    match args::parse(cmd.flags, &cmd_args) {
        Ok(parsed) => (cmd.run)(ui, parsed),
        Err(e) => {
            ui.err(&format!("{e}\n\n{}", cmd.help(ui.program())));
            1
        }
    }
}

fn top_help(program: &str) -> String {
    let mut s = format!("Usage: {program} [--version] [--help] <command> [<args>]\n\nAvailable commands are:\n");
    for c in COMMANDS {
        s.push_str(&format!("    {:<15} {}\n", c.name, c.synopsis));
    }
    s
}
