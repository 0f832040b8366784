//! Installing a plugin from a local binary or a mirror folder into Packer's layout
//! (`packer plugins install --path` and a `packer init` that never goes online): the binary is
//! copied to `DIR/SOURCE/packer-plugin-NAME_vX.Y.Z_x5.0_OS_ARCH` with its `_SHA256SUM`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::describe::describe;
use crate::discover::{go_os_arch, installed_in, parse_binary_name, sha256_file, Requirement};
use crate::runtime::block;
use crate::version::Version;

/// A plugin binary that can be installed.
#[derive(Debug, Clone)]
pub struct Offer {
    pub path: PathBuf,
    pub version: Version,
    /// `x5.0`.
    pub api: String,
}

/// What an install did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// Copied to this path.
    New(PathBuf),
    /// This version was already installed there.
    Already(PathBuf),
}

/// `packer-plugin-NAME` for a source `github.com/ORG/NAME` (or `…/packer-plugin-NAME`).
pub fn short_name(source: &str) -> &str {
    let last = source.rsplit('/').next().unwrap_or(source);
    last.strip_prefix("packer-plugin-").unwrap_or(last)
}

/// Asks a binary for its version and API (`describe`).
pub fn offer_of_binary(path: &Path) -> Result<Offer, String> {
    let p = path.to_path_buf();
    let d =
        block(async move { describe(&p, Duration::from_secs(10)).await }).and_then(|r| r).map_err(|e| e.to_string())?;
    let version = Version::parse(&d.version).map_err(|e| format!("{}: its version: {e}", path.display()))?;
    Ok(Offer { path: path.to_path_buf(), version, api: d.api_version })
}

/// The binaries for `req` in `from`: a binary itself, or a folder searched (a few levels deep)
/// for Packer's release names `packer-plugin-NAME_vX.Y.Z_x5.0_OS_ARCH` of this machine and for
/// plain `packer-plugin-NAME` binaries (asked for their version).
pub fn offers(from: &Path, req: &Requirement) -> Result<Vec<Offer>, String> {
    let name = short_name(&req.source);
    if from.is_file() {
        return Ok(vec![offer_of_binary(from)?]);
    }
    if !from.is_dir() {
        return Err(format!("{} is neither a plugin binary nor a folder", from.display()));
    }
    let mut out = Vec::new();
    let mut stack = vec![(from.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                if depth < 5 {
                    stack.push((path, depth + 1));
                }
                continue;
            }
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else { continue };
            if let Some((n, version, api)) = parse_binary_name(file) {
                if n == name {
                    out.push(Offer { path, version, api });
                }
            } else if file == format!("packer-plugin-{name}") {
                out.push(offer_of_binary(&path)?);
            }
        }
    }
    Ok(out)
}

/// The newest offer `req` allows for kiln's plugin API.
pub fn choose(offers: Vec<Offer>, req: &Requirement) -> Option<Offer> {
    let api = format!("x{}.", crate::handshake::API_MAJOR);
    offers
        .into_iter()
        .filter(|o| o.api.starts_with(&api) && req.constraints.matches(&o.version))
        .max_by(|a, b| a.version.cmp(&b.version))
}

/// Whether `dir` already holds a version of `req` that it allows (and whose checksum matches).
pub fn already_installed(dir: &Path, req: &Requirement) -> Option<PathBuf> {
    installed_in(dir)
        .into_iter()
        .filter(|i| i.source == req.source && req.constraints.matches(&i.version))
        .filter(|i| crate::discover::check_sum(&i.path).is_ok())
        .max_by(|a, b| a.version.cmp(&b.version))
        .map(|i| i.path)
}

/// Copies `offer` into `dir` in Packer's layout with its checksum file.
pub fn install(dir: &Path, source: &str, offer: &Offer) -> Result<Installed, String> {
    let (os, arch) = go_os_arch();
    let name = short_name(source);
    let folder = dir.join(source);
    let target = folder.join(format!("packer-plugin-{name}_v{}_{}_{os}_{arch}", offer.version, offer.api));
    let sum = sha256_file(&offer.path).map_err(|e| format!("{}: {e}", offer.path.display()))?;
    let sum_file = PathBuf::from(format!("{}_SHA256SUM", target.display()));
    if target.exists() && std::fs::read_to_string(&sum_file).is_ok_and(|s| s.trim() == sum) {
        return Ok(Installed::Already(target));
    }
    std::fs::create_dir_all(&folder).map_err(|e| format!("creating {}: {e}", folder.display()))?;
    // Copied under a temporary name and renamed, so a half-written binary is never found.
    let partial = folder.join(format!(".kiln-install-{}", std::process::id()));
    std::fs::copy(&offer.path, &partial).map_err(|e| format!("copying {}: {e}", offer.path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))
        .and_then(|()| std::fs::rename(&partial, &target))
        .map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            format!("installing {}: {e}", target.display())
        })?;
    std::fs::write(&sum_file, format!("{sum}\n")).map_err(|e| format!("writing {}: {e}", sum_file.display()))?;
    Ok(Installed::New(target))
}
