//! Finding installed plugins the way Packer does, and registering their components.
//!
//! Where: every folder of `PACKER_PLUGIN_PATH` (`:`-separated), else the `plugins` folder of
//! Packer's configuration directory (`PACKER_CONFIG_DIR`, else `~/.config/packer`, or
//! `~/.packer.d` where that exists). In each folder, in this order:
//!
//! 1. Packer's install layout: `github.com/ORG/NAME/packer-plugin-NAME_vX.Y.Z_x5.0_OS_ARCH`,
//!    next to its `_SHA256SUM`, which must match (a binary without one, or with a wrong one, is
//!    skipped with a warning). Of several versions, the newest that `required_plugins` allows.
//! 2. A `packer-plugin-NAME` binary at the top (Packer 1.7's flat layout).
//! 3. Packer 1.6's single-component binaries `packer-builder-NAME`, `packer-provisioner-NAME`,
//!    `packer-post-processor-NAME`, started as they are.
//!
//! A multi-component plugin's types are `NAME-COMPONENT` (`vsphere-iso`), or `NAME` for the
//! component its `describe` calls `-packer-default-plugin-name-`. The first folder and the first
//! form that provide a type win.
//!
//! Which runs when kiln has the type built in: kiln's own, unless `KILN_USE_PLUGINS` names the
//! type, the plugin (`NAME` or its source), or is `all` ([`Preference`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use kiln_core::registry::Registry;
use sha2::{Digest, Sha256};

use crate::describe::{describe, ComponentKind};
use crate::process::PluginCommand;
use crate::runtime::block;
use crate::version::{Constraints, Version};

/// The name a multi-component plugin gives the component that takes the plugin's own name.
pub const DEFAULT_NAME: &str = "-packer-default-plugin-name-";

/// A `required_plugins` entry: where the plugin comes from and which versions do.
#[derive(Debug, Clone)]
pub struct Requirement {
    /// `github.com/hashicorp/vsphere`.
    pub source: String,
    pub constraints: Constraints,
}

/// One component found in an installed plugin.
#[derive(Clone)]
pub struct Found {
    pub kind: ComponentKind,
    /// The type templates name: `vsphere-iso`, `null`.
    pub type_name: String,
    pub command: PluginCommand,
    /// The plugin as people name it: its source and version, or its binary.
    pub plugin: String,
    /// Its short name (`vsphere`), or the type for a single-component binary.
    pub short_name: String,
    pub source: Option<String>,
}

/// What discovery found, and what it had to skip.
#[derive(Default, Clone)]
pub struct Discovery {
    pub components: Vec<Found>,
    /// Binaries skipped and why (a checksum that does not match, a plugin that does not answer).
    pub warnings: Vec<String>,
}

/// Where to look and which to prefer.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub dirs: Vec<PathBuf>,
    pub preference: Preference,
    /// How long a plugin may take to answer `describe`.
    pub describe_timeout: Option<Duration>,
}

/// Whether an installed plugin takes the place of a built-in component of the same type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preference {
    /// Types, plugin names or sources listed in `KILN_USE_PLUGINS`; `all` for every one.
    pub use_plugins: Vec<String>,
}

impl Preference {
    pub fn from_env() -> Preference {
        let list = std::env::var("KILN_USE_PLUGINS").unwrap_or_default();
        Preference { use_plugins: list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect() }
    }

    /// Whether the plugin component `f` runs instead of kiln's built-in type of that name.
    pub fn plugin_wins(&self, f: &Found) -> bool {
        self.use_plugins
            .iter()
            .any(|p| p == "all" || *p == f.type_name || *p == f.short_name || f.source.as_deref() == Some(p.as_str()))
    }
}

/// `cmd` with the deadlines `KILN_PLUGIN_TIMEOUT` (seconds) sets: for the handshake and every
/// short call (ConfigSpec, Prepare, an artifact's methods). Long calls (Run, Provision,
/// PostProcess) have none: they end with the plugin or with Ctrl-C.
fn tuned(cmd: PluginCommand) -> PluginCommand {
    let secs = std::env::var("KILN_PLUGIN_TIMEOUT").ok().and_then(|s| s.trim().parse::<f64>().ok());
    match secs.filter(|s| s.is_finite() && *s > 0.0).map(Duration::from_secs_f64) {
        Some(t) => cmd.call_timeout(t).start_timeout(t),
        None => cmd,
    }
}

/// Packer's configuration directory.
pub fn config_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("PACKER_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    let home = PathBuf::from(std::env::var_os("HOME").filter(|h| !h.is_empty())?);
    let legacy = home.join(".packer.d");
    if legacy.is_dir() {
        return Some(legacy);
    }
    let xdg = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()).map(PathBuf::from);
    Some(xdg.unwrap_or_else(|| home.join(".config")).join("packer"))
}

impl Settings {
    pub fn from_env() -> Settings {
        let dirs = match std::env::var_os("PACKER_PLUGIN_PATH").filter(|p| !p.is_empty()) {
            Some(p) => std::env::split_paths(&p).collect(),
            None => config_dir().map(|d| vec![d.join("plugins")]).unwrap_or_default(),
        };
        Settings { dirs, preference: Preference::from_env(), describe_timeout: None }
    }

    /// Where `kiln init` installs: the first plugin folder.
    pub fn install_dir(&self) -> Option<&Path> {
        self.dirs.first().map(PathBuf::as_path)
    }
}

/// Go's names for this machine (`linux`, `amd64`), as plugin file names carry them.
pub fn go_os_arch() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        other => other,
    };
    (std::env::consts::OS, arch)
}

/// A plugin binary in Packer's install layout, parsed from its path.
#[derive(Debug, Clone)]
pub struct Installed {
    pub source: String,
    pub name: String,
    pub version: Version,
    /// `x5.0`.
    pub api: String,
    pub path: PathBuf,
}

/// `packer-plugin-NAME_vX.Y.Z_x5.0_OS_ARCH` → (NAME, version, api), for this machine only.
pub fn parse_binary_name(file: &str) -> Option<(String, Version, String)> {
    let rest = file.strip_prefix("packer-plugin-")?;
    let (os, arch) = go_os_arch();
    let rest = rest.strip_suffix(&format!("_{os}_{arch}"))?;
    let mut parts = rest.rsplitn(3, '_');
    let api = parts.next()?;
    let version = parts.next()?;
    let name = parts.next()?;
    if !api.starts_with('x') || !version.starts_with('v') || name.is_empty() {
        return None;
    }
    Some((name.to_string(), Version::parse(version).ok()?, api.to_string()))
}

/// The lowercase hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `path` has a `_SHA256SUM` next to it that matches; the reason when not.
pub fn check_sum(path: &Path) -> Result<(), String> {
    let sum_path = PathBuf::from(format!("{}_SHA256SUM", path.display()));
    let expected = std::fs::read_to_string(&sum_path)
        .map_err(|e| format!("{}: no readable checksum file {} ({e})", path.display(), sum_path.display()))?;
    let expected = expected.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
    let actual = sha256_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if actual != expected {
        return Err(format!(
            "{}: its SHA-256 is {actual}, but {} says {expected}; reinstall it with `kiln init`",
            path.display(),
            sum_path.display()
        ));
    }
    Ok(())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// Every plugin binary in Packer's install layout under `dir` (`HOST/ORG/NAME/binary`).
pub fn installed_in(dir: &Path) -> Vec<Installed> {
    let mut out = Vec::new();
    let read = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> =
            std::fs::read_dir(d).map(|r| r.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        v.sort();
        v
    };
    for host in read(dir).into_iter().filter(|p| p.is_dir()) {
        for org in read(&host).into_iter().filter(|p| p.is_dir()) {
            for name_dir in read(&org).into_iter().filter(|p| p.is_dir()) {
                for bin in read(&name_dir) {
                    let Some(file) = bin.file_name().and_then(|f| f.to_str()) else { continue };
                    let Some((name, version, api)) = parse_binary_name(file) else { continue };
                    let rel = |p: &Path| p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
                    let source = format!("{}/{}/{}", rel(&host), rel(&org), rel(&name_dir));
                    out.push(Installed { source, name, version, api, path: bin });
                }
            }
        }
    }
    out
}

/// What one describe-able plugin binary is.
struct Candidate {
    path: PathBuf,
    short_name: String,
    source: Option<String>,
    label: String,
}

/// Finds the plugins `settings` names; `required` narrows the versions of installed ones.
pub fn discover(settings: &Settings, required: &[Requirement]) -> Discovery {
    let mut d = Discovery::default();
    let mut candidates = Vec::new();
    for dir in &settings.dirs {
        // 1. Packer's install layout, newest allowed version per source.
        let mut by_source: Vec<Installed> = Vec::new();
        for inst in installed_in(dir) {
            if !inst.api.starts_with(&format!("x{}.", crate::handshake::API_MAJOR)) {
                continue;
            }
            if let Some(r) = required.iter().find(|r| r.source == inst.source) {
                if !r.constraints.matches(&inst.version) {
                    continue;
                }
            }
            if let Err(why) = check_sum(&inst.path) {
                d.warnings.push(format!("skipped plugin {why}"));
                continue;
            }
            match by_source.iter_mut().find(|b| b.source == inst.source) {
                Some(b) if b.version < inst.version => *b = inst,
                Some(_) => {}
                None => by_source.push(inst),
            }
        }
        for inst in by_source {
            let label = format!("{} v{}", inst.source, inst.version);
            candidates.push(Candidate { path: inst.path, short_name: inst.name, source: Some(inst.source), label });
        }
        // 2 and 3: binaries at the top of the folder.
        let mut top: Vec<PathBuf> =
            std::fs::read_dir(dir).map(|r| r.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        top.sort();
        for path in top.into_iter().filter(|p| is_executable(p)) {
            let Some(file) = path.file_name().and_then(|f| f.to_str()).map(String::from) else { continue };
            if let Some(name) = file.strip_prefix("packer-plugin-").filter(|n| !n.contains('_')) {
                let label = path.display().to_string();
                candidates.push(Candidate { short_name: name.to_string(), path, source: None, label });
                continue;
            }
            for kind in [ComponentKind::Builder, ComponentKind::Provisioner, ComponentKind::PostProcessor] {
                if let Some(ty) = file.strip_prefix(&format!("packer-{}-", kind.as_str())).filter(|t| !t.is_empty()) {
                    d.components.push(Found {
                        kind,
                        type_name: ty.to_string(),
                        command: tuned(PluginCommand::new(&path)),
                        plugin: path.display().to_string(),
                        short_name: ty.to_string(),
                        source: None,
                    });
                }
            }
        }
    }
    // Multi-component plugins say what they have; ask them all at once.
    let timeout = settings.describe_timeout.unwrap_or(Duration::from_secs(10));
    let paths: Vec<PathBuf> = candidates.iter().map(|c| c.path.clone()).collect();
    let described = if paths.is_empty() {
        Ok(Vec::new())
    } else {
        block(async move {
            let tasks: Vec<_> =
                paths.into_iter().map(|p| tokio::spawn(async move { describe(&p, timeout).await })).collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(
                    t.await.map_err(|e| crate::Error::new(crate::ErrorKind::Start, e.to_string())).and_then(|r| r),
                );
            }
            out
        })
    };
    let described = match described {
        Ok(v) => v,
        Err(e) => {
            d.warnings.push(format!("cannot ask plugins what they contain: {e}"));
            Vec::new()
        }
    };
    let mut layout_components = Vec::new();
    for (c, desc) in candidates.iter().zip(described) {
        let desc = match desc {
            Ok(desc) => desc,
            Err(e) => {
                d.warnings.push(format!("skipped plugin {}: {e}", c.label));
                continue;
            }
        };
        for kind in [
            ComponentKind::Builder,
            ComponentKind::Provisioner,
            ComponentKind::PostProcessor,
            ComponentKind::Datasource,
        ] {
            for comp in desc.components(kind) {
                let type_name =
                    if comp == DEFAULT_NAME { c.short_name.clone() } else { format!("{}-{comp}", c.short_name) };
                let mut command = tuned(PluginCommand::sdk(&c.path, kind, comp));
                if desc.supports_protobuf() {
                    command = command.protobuf();
                }
                layout_components.push(Found {
                    kind,
                    type_name,
                    command,
                    plugin: c.label.clone(),
                    short_name: c.short_name.clone(),
                    source: c.source.clone(),
                });
            }
        }
    }
    // Layout and flat plugins before single-component binaries; the first of a type wins.
    layout_components.append(&mut d.components);
    let mut components: Vec<Found> = Vec::new();
    for f in layout_components {
        if !components.iter().any(|c| c.kind == f.kind && c.type_name == f.type_name) {
            components.push(f);
        }
    }
    d.components = components;
    d
}

/// `reg` with the found components added: a type kiln does not have is added; a type kiln has
/// built in is replaced only when `preference` says so.
pub fn register(mut reg: Registry, found: &Discovery, preference: &Preference) -> Registry {
    use kiln_core::registry::ComponentKind as K;
    for f in &found.components {
        let kind = match f.kind {
            ComponentKind::Builder => K::Builder,
            ComponentKind::Provisioner => K::Provisioner,
            ComponentKind::PostProcessor => K::PostProcessor,
            ComponentKind::Datasource => K::DataSource,
        };
        if reg.names(kind).contains(&f.type_name.as_str()) && !preference.plugin_wins(f) {
            continue;
        }
        let component = crate::adapter::PluginComponent { command: f.command.clone(), type_name: f.type_name.clone() };
        reg = crate::adapter::register(reg, f.kind, component);
    }
    reg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_names_in_packers_layout() {
        let (os, arch) = go_os_arch();
        let file = format!("packer-plugin-vsphere_v1.2.3_x5.0_{os}_{arch}");
        let (name, v, api) = parse_binary_name(&file).unwrap();
        assert_eq!((name.as_str(), v.to_string().as_str(), api.as_str()), ("vsphere", "1.2.3", "x5.0"));
        let file = format!("packer-plugin-my_tool_v0.1.0_x5.0_{os}_{arch}");
        assert_eq!(parse_binary_name(&file).unwrap().0, "my_tool");
        assert!(parse_binary_name("packer-plugin-vsphere_v1.2.3_x5.0_plan9_mips").is_none());
        assert!(parse_binary_name("packer-plugin-vsphere").is_none());
        assert!(parse_binary_name(&format!("packer-plugin-vsphere_1.2.3_x5.0_{os}_{arch}")).is_none());
    }

    #[test]
    fn the_preference_names_types_plugins_or_sources() {
        let f = Found {
            kind: ComponentKind::Builder,
            type_name: "amazon-ebs".into(),
            command: PluginCommand::new("x"),
            plugin: "x".into(),
            short_name: "amazon".into(),
            source: Some("github.com/hashicorp/amazon".into()),
        };
        let p = |s: &[&str]| Preference { use_plugins: s.iter().map(|s| s.to_string()).collect() };
        assert!(!p(&[]).plugin_wins(&f));
        assert!(p(&["all"]).plugin_wins(&f));
        assert!(p(&["amazon-ebs"]).plugin_wins(&f));
        assert!(p(&["amazon"]).plugin_wins(&f));
        assert!(p(&["github.com/hashicorp/amazon"]).plugin_wins(&f));
        assert!(!p(&["amazon-ebsvolume", "docker"]).plugin_wins(&f));
    }
}
