//! `fix`: rewrites a legacy JSON template from older Packer versions and prints it.

use super::{report, Command};
use crate::args::{flag, FlagKind, Parsed};
use crate::ui::Ui;

pub const COMMAND: Command = Command {
    name: "fix",
    synopsis: "fixes templates from old versions of packer",
    usage: "fix [options] TEMPLATE",
    description: "Reads a legacy JSON template, applies Packer's fixers (renamed and moved options)\n\
and prints the fixed template on standard output. Exits 1 when the template cannot be\n\
read or fixed, or when the fixed template does not validate.\n\
\n\
Fixes that are run (in order):\n\
\n\
iso-md5, createtime, virtualbox-gaattach, pp-vagrant-override, virtualbox-rename,\n\
vmware-rename, parallels-headless, parallels-deprecations, sshkeypath, sshdisableagent,\n\
scaleway-access-key, manifest-filename, amazon-shutdown_behavior,\n\
amazon-enhanced-networking, amazon-private-ip, amazon-temp-sec-cidrs, docker-email,\n\
docker-tag-tags, powershell-escapes, vmware-compaction, hyperv-deprecations,\n\
hyperv-vmxc-typo, hyperv-cpu-and-ram, clean-image-name, spot-price-auto-product,\n\
qemu-disk-size, galaxy-command, comm-config, ssh-wait-timeout, vsphere-iso-net-disk,\n\
iso-checksum-type-and-url, qemu-host-port, azure-exclude_from_latest, proxmox-type",
    flags: &[flag("validate", FlagKind::Bool, "Validate the fixed template (default true).")],
    run,
};

fn run(ui: &mut Ui, p: Parsed) -> u8 {
    let [template] = p.args.as_slice() else {
        ui.err(&format!("fix takes exactly one template, got {}\n\n{}", p.args.len(), COMMAND.help(ui.program())));
        return 1;
    };
    let path = std::path::Path::new(template);
    let fixed = match kiln_tools::fix::fix_file(path) {
        Ok(t) => t,
        Err(diags) => {
            report(ui, &diags);
            return 1;
        }
    };
    ui.out(&fixed);
    if p.bool_or("validate", true) {
        let diags = kiln_tools::fix::validate_fixed(path, &fixed);
        if diags.has_errors() {
            ui.err("Error! The fixed template failed to validate:\n\n");
            report(ui, &diags);
            ui.err(
                "\nThis is usually caused by an error in the input template.\nPlease fix the error and try again.\n",
            );
            return 1;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_lists_every_fixer_in_order() {
        let listed: Vec<&str> = super::COMMAND
            .description
            .split("(in order):")
            .nth(1)
            .unwrap_or("")
            .split([',', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let names: Vec<&str> = kiln_tools::fix::FIXERS.iter().map(|f| f.name).collect();
        assert_eq!(listed, names);
    }
}
