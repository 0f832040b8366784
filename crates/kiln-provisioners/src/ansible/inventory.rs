//! The inventory file `ansible` writes for the machine being built.

use std::io::Write;

use kiln_core::private_temp::TempFile;
use kiln_core::{Error, Result};

use super::{Config, Written};

/// The machine's inventory line unless `inventory_file_template` says otherwise.
pub const DEFAULT_INVENTORY_TEMPLATE: &str =
    "{{ .HostAlias }} ansible_host={{ .Host }} ansible_user={{ .User }} ansible_port={{ .Port }}\n";

/// The fields of `inventory_file_template`.
pub struct Inventory {
    pub host_alias: String,
    pub host: String,
    pub port: String,
    pub user: String,
}

impl Inventory {
    /// Values to check a template with before the build.
    pub fn example() -> Inventory {
        Inventory { host_alias: "default".into(), host: "127.0.0.1".into(), port: "22".into(), user: "user".into() }
    }
}

/// The inventory: the machine's line (from `template`) alone, or in each of `groups`, then
/// `empty_groups` with no host.
pub fn render_inventory(c: &Config, template: &str, i: &Inventory) -> Result<String> {
    let fields = [("HostAlias", &i.host_alias), ("Host", &i.host), ("Port", &i.port), ("User", &i.user)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut line = kiln_core::late::render(template, &fields)?;
    if !line.ends_with('\n') {
        line.push('\n');
    }
    let mut out = String::new();
    if c.groups.is_empty() {
        out.push_str(&line);
    }
    for g in &c.groups {
        out.push_str(&format!("[{g}]\n{line}"));
    }
    for g in &c.empty_groups {
        out.push_str(&format!("[{g}]\n"));
    }
    Ok(out)
}

/// Writes the inventory: to `inventory_directory` (removed afterwards unless
/// `keep_inventory_file`), else to kiln's private folder, or the system's temporary folder when
/// it is kept.
pub fn write(c: &Config, text: &str) -> Result<Written> {
    let name = format!("packer-provisioner-ansible{}.ini", kiln_comm::shell_local::unique());
    let dir = match (&c.inventory_directory, c.keep_inventory_file) {
        (Some(d), _) => std::path::PathBuf::from(d),
        (None, true) => std::env::temp_dir(),
        (None, false) => return Ok(Written::Temp(TempFile::create(&name, text.as_bytes(), 0o600)?)),
    };
    let path = dir.join(name);
    let mut f = kiln_core::output::create_exclusive(&path)
        .map_err(|e| Error::new(format!("writing the inventory {}: {e}", path.display())))?;
    if let Err(e) = f.write_all(text.as_bytes()) {
        let _ = std::fs::remove_file(&path);
        return Err(Error::new(format!("writing the inventory {}: {e}", path.display())));
    }
    Ok(if c.keep_inventory_file { Written::Kept(path) } else { Written::Removed(path) })
}
