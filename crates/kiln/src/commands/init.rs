//! `init`: checks a configuration's `required_plugins` against kiln's built-in components.
//!
//! Packer downloads plugins; kiln's components are compiled in, so `init` reports, for each
//! required plugin, which of its components kiln has, and fails when the configuration uses
//! one that kiln lacks. It never downloads anything.

use super::{one_template, report, Command};
use crate::args::{flag, FlagKind, Parsed};
use crate::ui::Ui;
use kiln_core::registry::ComponentKind;
use kiln_template::{LoadOptions, Stage};

pub const COMMAND: Command = Command {
    name: "init",
    synopsis: "Install missing plugins or upgrade plugins",
    usage: "init [options] [TEMPLATE]",
    description: "kiln's components are built in: init reports, for each plugin in required_plugins,\n\
which of its components kiln has and which are missing. It never downloads anything.",
    flags: &[flag("upgrade", FlagKind::Bool, "Accepted for compatibility; kiln has nothing to upgrade.")],
    run,
};

/// The plugin's short name: `amazon` for `github.com/hashicorp/amazon`.
fn plugin_short_name(source: &str) -> &str {
    let last = source.rsplit('/').next().unwrap_or(source);
    last.strip_prefix("packer-plugin-").unwrap_or(last)
}

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
    // Component types the configuration uses.
    let mut used: Vec<&str> = t.sources.iter().map(|s| s.builder_type.as_str()).collect();
    for b in &t.build_blocks {
        // Named components are listed as `type.name`; the type is what belongs to a plugin.
        used.extend(b.provisioners.iter().map(|s| component_type(s)));
        used.extend(b.post_processors.iter().flatten().map(|s| component_type(s)));
    }
    let registry = kiln_components::registry();
    let mut failed = false;
    for plugin in &t.required_plugins {
        let short = plugin_short_name(&plugin.source);
        let version = plugin.version.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
        let mut have = Vec::new();
        let mut missing = Vec::new();
        for kind in ComponentKind::ALL {
            let implemented = registry.names(kind);
            for ty in registry.known_to_packer(kind).iter().chain(implemented).filter(|t| belongs(t, short)) {
                let entry = format!("{} {ty}", kind.noun());
                if implemented.contains(ty) {
                    if !have.contains(&entry) {
                        have.push(entry);
                    }
                } else if !missing.contains(&(entry.clone(), *ty)) {
                    missing.push((entry, *ty));
                }
            }
        }
        if have.is_empty() && missing.is_empty() {
            failed = true;
            ui.err(&format!(
                "Error: plugin {}{version} ({}) is unknown to kiln: kiln has none of its components built in\n",
                plugin.source, plugin.name
            ));
            continue;
        }
        let needed: Vec<&str> = missing.iter().filter(|(_, ty)| used.contains(ty)).map(|(e, _)| e.as_str()).collect();
        let status = if missing.is_empty() {
            "built into kiln"
        } else if have.is_empty() {
            "not in kiln yet"
        } else {
            "partly built into kiln"
        };
        ui.out(&format!("Plugin {}{version}: {status}\n", plugin.source));
        if !have.is_empty() {
            ui.out(&format!("  available: {}\n", have.join(", ")));
        }
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|(e, _)| e.as_str()).collect();
            ui.out(&format!("  not in kiln yet: {}\n", names.join(", ")));
        }
        if !needed.is_empty() {
            failed = true;
            ui.err(&format!(
                "Error: this configuration uses {} from plugin {}, which kiln does not implement yet\n",
                needed.join(", "),
                plugin.source
            ));
        }
    }
    if failed {
        return 1;
    }
    ui.out("All required plugins are built into kiln; nothing to install.\n");
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
        assert_eq!(plugin_short_name("github.com/hashicorp/amazon"), "amazon");
        assert_eq!(plugin_short_name("github.com/ethanmdavidson/packer-plugin-git"), "git");
        assert!(belongs("amazon-ebs", "amazon"));
        assert!(belongs("ansible-local", "ansible"));
        assert!(belongs("docker", "docker"));
        assert!(!belongs("dockerfile", "docker"));
    }
}
