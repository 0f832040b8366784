//! `init`: installs the external plugins a configuration's `required_plugins` asks for, from a
//! local binary or mirror folder (`-from`), and reports, for each required plugin, which of the
//! components the configuration uses run as kiln's built-in ones and which through the plugin.
//!
//! kiln never downloads: Packer's `init` fetches from GitHub; kiln's takes what `-from` names
//! (a `packer-plugin-NAME` binary, or a folder holding release binaries
//! `packer-plugin-NAME_vX.Y.Z_x5.0_OS_ARCH`) and installs it where Packer would
//! (`PACKER_PLUGIN_PATH`, else `PACKER_CONFIG_DIR/plugins`), with its `_SHA256SUM`.

use super::{one_template, report, requirements, Command};
use crate::args::{flag, FlagKind, Parsed};
use crate::ui::Ui;
use kiln_core::registry::{ComponentKind, Origin};
use kiln_plugin::discover::Settings;
use kiln_plugin::install;
use kiln_template::{LoadOptions, Stage};

pub const COMMAND: Command = Command {
    name: "init",
    synopsis: "Install missing plugins or upgrade plugins",
    usage: "init [options] [TEMPLATE]",
    description: "Installs the plugins in required_plugins from a local file or mirror folder (-from) and reports,\n\
for each, whether kiln's built-in components or the plugin's run. It never downloads anything.\n\
Where kiln has a component built in, the built-in one runs unless KILN_USE_PLUGINS names it\n\
(a type, a plugin name or source, or `all`).",
    flags: &[
        flag("upgrade", FlagKind::Bool, "Install the newest allowed version even when one is installed."),
        flag("from", FlagKind::Value, "A plugin binary or a mirror folder of plugin binaries to install from."),
    ],
    run,
};

/// Whether component type `ty` belongs to plugin `short` (Packer names components after their
/// plugin: `amazon-ebs`, `ansible-local`, `docker-push`).
fn belongs(ty: &str, short: &str) -> bool {
    ty == short || ty.strip_prefix(short).is_some_and(|r| r.starts_with('-'))
}

fn run(ui: &mut Ui, p: Parsed) -> u8 {
    let Some(template) = one_template(ui, &COMMAND, &p) else {
        return 1;
    };
    let path = std::path::Path::new(template);
    if kiln_template::load::detect_format(path).ok() == Some(kiln_template::load::Format::Json) {
        ui.err("init works on HCL2 configurations (required_plugins); legacy JSON templates need no init\n");
        return 1;
    }
    let opts = LoadOptions { stage: Stage::Syntax, ..LoadOptions::from_process_env() };
    let t = match kiln_template::load(path, &opts) {
        Ok(t) => t,
        Err(d) => {
            report(ui, &d);
            return 1;
        }
    };
    if t.required_plugins.is_empty() {
        ui.out("No required_plugins found: this configuration declares no plugins, so there is nothing to check.\n");
        return 0;
    }
    let (reqs, errors) = requirements(&t.required_plugins);
    for e in &errors {
        ui.err(e);
    }
    let settings = Settings::from_env();
    let mut failed = false;
    if let Some(from) = p.value("from") {
        let Some(dir) = settings.install_dir() else {
            ui.err("Error: nowhere to install plugins: set PACKER_PLUGIN_PATH or PACKER_CONFIG_DIR (or HOME)\n");
            return 1;
        };
        for req in &reqs {
            if !p.bool("upgrade") {
                if let Some(have) = install::already_installed(dir, req) {
                    ui.out(&format!("Plugin {} is installed: {}\n", req.source, have.display()));
                    continue;
                }
            }
            let offers = match install::offers(std::path::Path::new(from), req) {
                Ok(o) => o,
                Err(e) => {
                    ui.err(&format!("Error: plugin {}: {e}\n", req.source));
                    failed = true;
                    continue;
                }
            };
            let Some(offer) = install::choose(offers, req) else {
                // Not an error yet: kiln may have its components built in (checked below).
                ui.out(&format!("No version of {} that the configuration allows is in {from}\n", req.source));
                continue;
            };
            match install::install(dir, &req.source, &offer) {
                Ok(install::Installed::New(at)) => {
                    ui.out(&format!("Installed plugin {} v{} in {}\n", req.source, offer.version, at.display()))
                }
                Ok(install::Installed::Already(at)) => {
                    ui.out(&format!("Plugin {} v{} is installed: {}\n", req.source, offer.version, at.display()))
                }
                Err(e) => {
                    ui.err(&format!("Error: installing plugin {}: {e}\n", req.source));
                    failed = true;
                }
            }
        }
    }
    // Discovered after the installs above, so what was just installed counts.
    let registry = super::Components::new().registry(ui, &t.required_plugins);
    let builtin = kiln_components::registry();
    // Component types the configuration uses.
    let mut used: Vec<&str> = t.sources.iter().map(|s| s.builder_type.as_str()).collect();
    for b in &t.build_blocks {
        // Named components are listed as `type.name`; the type is what belongs to a plugin.
        used.extend(b.provisioners.iter().map(|s| component_type(s)));
        used.extend(b.post_processors.iter().flatten().map(|s| component_type(s)));
    }
    for plugin in &t.required_plugins {
        let short = install::short_name(&plugin.source);
        let version = plugin.version.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
        // Every type of the plugin kiln knows of: built in, from the plugin, or neither.
        let mut entries: Vec<(ComponentKind, &str)> = Vec::new();
        for kind in ComponentKind::ALL {
            for ty in registry.names(kind).iter().chain(registry.known_to_packer(kind)).filter(|t| belongs(t, short)) {
                if !entries.contains(&(kind, *ty)) {
                    entries.push((kind, *ty));
                }
            }
        }
        if entries.is_empty() {
            failed = true;
            ui.err(&format!(
                "Error: plugin {}{version} ({}) is unknown to kiln: kiln has none of its components built in and it is not installed (kiln init -from=PATH installs it)\n",
                plugin.source, plugin.name
            ));
            continue;
        }
        let (mut builtin_list, mut plugin_list, mut missing) = (Vec::new(), Vec::new(), Vec::new());
        for (kind, ty) in &entries {
            let entry = format!("{} {ty}", kind.noun());
            match registry.origin(*kind, ty) {
                Some(Origin::BuiltIn) => builtin_list.push(entry),
                Some(Origin::Plugin(bin)) => {
                    let shadowed = builtin.names(*kind).contains(ty);
                    plugin_list
                        .push(format!("{entry} ({bin}{})", if shadowed { ", instead of kiln's own" } else { "" }))
                }
                None => missing.push((entry, *ty)),
            }
        }
        let status = match (builtin_list.is_empty(), plugin_list.is_empty(), missing.is_empty()) {
            (false, true, true) => "built into kiln",
            (_, false, true) => "available (built in or installed)",
            (true, true, false) => "not in kiln yet and not installed",
            _ => "partly available",
        };
        ui.out(&format!("Plugin {}{version}: {status}\n", plugin.source));
        if !builtin_list.is_empty() {
            ui.out(&format!("  kiln's built-in: {}\n", builtin_list.join(", ")));
        }
        if !plugin_list.is_empty() {
            ui.out(&format!("  through the plugin: {}\n", plugin_list.join(", ")));
        }
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|(e, _)| e.as_str()).collect();
            ui.out(&format!("  not available: {}\n", names.join(", ")));
        }
        let needed: Vec<&str> = missing.iter().filter(|(_, ty)| used.contains(ty)).map(|(e, _)| e.as_str()).collect();
        if !needed.is_empty() {
            failed = true;
            ui.err(&format!(
                "Error: this configuration uses {} from plugin {}, which kiln does not implement and which is not installed (kiln init -from=PATH installs it)\n",
                needed.join(", "),
                plugin.source
            ));
        }
    }
    if failed {
        return 1;
    }
    ui.out("Every component the configuration uses is available.\n");
    0
}

/// `shell` of `shell.name`: build blocks list named components as `type.name`.
fn component_type(listed: &str) -> &str {
    listed.split('.').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_belong_to_plugins_by_name() {
        assert_eq!(install::short_name("github.com/hashicorp/amazon"), "amazon");
        assert_eq!(install::short_name("github.com/ethanmdavidson/packer-plugin-git"), "git");
        assert!(belongs("amazon-ebs", "amazon"));
        assert!(belongs("ansible-local", "ansible"));
        assert!(belongs("docker", "docker"));
        assert!(!belongs("dockerfile", "docker"));
    }
}
