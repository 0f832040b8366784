//! Downloading the ISO or disk image a builder starts from (Packer's `iso_*` options and
//! `StepDownload`): the first of `iso_url` / `iso_urls` that works, checked against
//! `iso_checksum`, kept in a cache (`PACKER_CACHE_DIR`, default `packer_cache`) under Packer's
//! name for it (the SHA-1 of `type:value`, or of the URL with `none`, plus the extension).
//!
//! Remote files (http, https) go to `<target>.part` first, resumed with a `Range` request when a
//! transfer broke (in the same build, or in an earlier one), and are renamed to the target only
//! once the checksum matches; a mismatch deletes the download and says what was expected and
//! what came. Local files (`file://` URLs and paths, relative paths from the template's folder)
//! are checked and used where they are. Two builds wanting the same file wait for each other
//! (a lock on `<target>.lock`, as Packer).

pub mod checksum;
mod fetch;

use std::path::{Path, PathBuf};

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::step::Step;
use kiln_core::{async_trait, Error, Result, RunContext};
use serde::Deserialize;
use sha1::{Digest, Sha1};

use crate::HasCommon;
pub use checksum::{Checksum, Expected, Kind};

/// The ISO options (Packer's `ISOConfig`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsoConfig {
    /// The URL (http, https, file) or local path of the ISO or disk image. Relative paths start
    /// at the template's folder. One of `iso_url` and `iso_urls` is required.
    #[serde(default)]
    pub iso_url: String,
    /// URLs tried in order until one downloads and matches the checksum.
    #[serde(default)]
    pub iso_urls: Vec<String>,
    /// The file's checksum: `sha256:<hex>` (or md5, sha1, sha512), `file:<url>` of a checksum
    /// file (GNU or BSD format, the entry for the file's name is used), or `none` (not
    /// recommended). A bare value is read by its length.
    #[serde(default)]
    pub iso_checksum: String,
    /// The checksum's type for a bare `iso_checksum` (deprecated in Packer, which asks to run
    /// `packer fix`; kiln accepts it with a warning).
    #[serde(default)]
    pub iso_checksum_type: String,
    /// Where to keep the downloaded file, instead of the cache.
    #[serde(default)]
    pub iso_target_path: String,
    /// The extension of the cached file (default `iso`).
    #[serde(default)]
    pub iso_target_extension: String,
}

impl IsoConfig {
    /// The URLs to try, in order.
    pub fn urls(&self) -> Vec<String> {
        if self.iso_url.is_empty() {
            self.iso_urls.clone()
        } else {
            vec![self.iso_url.clone()]
        }
    }

    /// Checks the options; warnings come back in the `Ok` list. `config` is the builder's whole
    /// configuration (for the lines).
    pub fn check(&self, config: &Node) -> std::result::Result<Vec<Diagnostic>, Diagnostics> {
        let at = |key: &str| config.span_of(key);
        let mut d = Diagnostics::new();
        let mut warnings = Vec::new();
        match (self.iso_url.is_empty(), self.iso_urls.is_empty()) {
            (true, true) => d.push(
                Diagnostic::error("one of iso_url or iso_urls must be set")
                    .at_opt(config.span.clone())
                    .with_help("add \"iso_url\" with the URL or path of the ISO or disk image"),
            ),
            (false, false) => d.push(
                Diagnostic::error("only one of iso_url or iso_urls may be set")
                    .at_opt(at("iso_urls"))
                    .with_help("put every URL in iso_urls"),
            ),
            _ => {}
        }
        match Checksum::parse(&self.iso_checksum, &self.iso_checksum_type) {
            Ok(Checksum::None) => warnings.push(
                Diagnostic::warning("iso_checksum is \"none\": the download is not checked")
                    .at_opt(at("iso_checksum"))
                    .with_help(
                        "set the file's sha256 (\"sha256:<hex>\") or the URL of its checksum file (\"file:<url>\")",
                    ),
            ),
            Ok(_) => {}
            Err(e) => d.push(Diagnostic::error(e).at_opt(at("iso_checksum"))),
        }
        if !self.iso_checksum_type.is_empty() {
            warnings.push(
                Diagnostic::warning("iso_checksum_type is deprecated (Packer refuses it and asks for `packer fix`)")
                    .at_opt(at("iso_checksum_type"))
                    .with_help(format!(
                        "write the type in iso_checksum: \"{}:{}\"",
                        self.iso_checksum_type.to_ascii_lowercase(),
                        self.iso_checksum
                    )),
            );
        }
        for u in self.urls() {
            if let Some((scheme, _)) = u.split_once("://") {
                if !["http", "https", "file"].contains(&scheme.to_ascii_lowercase().as_str()) {
                    let key = if self.iso_url.is_empty() { "iso_urls" } else { "iso_url" };
                    d.push(
                        Diagnostic::error(format!("kiln cannot download {scheme}:// URLs ({u})"))
                            .at_opt(at(key))
                            .with_help("use an http, https or file URL, or a local path"),
                    );
                }
            }
        }
        d.into_result().map(|()| warnings)
    }
}

/// Where Packer keeps downloads: `PACKER_CACHE_DIR`, else `packer_cache` in the working directory.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("PACKER_CACHE_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("packer_cache"),
    }
}

/// Packer's cache name: the SHA-1 of the checksum as `type:value`, or of the URL when there is
/// no checksum, with `.extension`.
pub fn cache_name(url: &str, checksum: Option<&Expected>, extension: &str) -> String {
    let key = checksum.map_or_else(|| url.to_string(), Expected::packer_form);
    let digest = Sha1::digest(key.as_bytes());
    let mut name: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    if !extension.is_empty() {
        name.push('.');
        name.push_str(extension);
    }
    name
}

/// Where a URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Remote(String),
    Local(PathBuf),
}

/// `url` as a remote URL or a local path (relative paths from `base`, the template's folder).
pub(crate) fn source(url: &str, base: &Path) -> Source {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Source::Remote(url.to_string());
    }
    let path = if lower.starts_with("file://") { &url[7..] } else { url };
    let path = Path::new(path);
    Source::Local(if path.is_absolute() { path.to_path_buf() } else { base.join(path) })
}

/// The file name a URL ends with (without a query), for checksum files.
fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.trim_end_matches('/').rsplit('/').next().unwrap_or(path).to_string()
}

/// Downloads (or finds) the file; sets [`crate::CommonState::iso_path`].
pub struct StepDownload {
    pub config: IsoConfig,
    /// What is downloaded, for messages ("ISO").
    pub description: String,
    /// The cache directory (default [`cache_dir`]).
    pub cache_dir: PathBuf,
}

impl StepDownload {
    pub fn new(config: &IsoConfig) -> StepDownload {
        StepDownload { config: config.clone(), description: "ISO".into(), cache_dir: cache_dir() }
    }

    /// The target for `url` with the resolved checksum.
    fn target(&self, url: &str, expected: Option<&Expected>) -> PathBuf {
        if !self.config.iso_target_path.is_empty() {
            return PathBuf::from(&self.config.iso_target_path);
        }
        let ext = if self.config.iso_target_extension.is_empty() { "iso" } else { &self.config.iso_target_extension };
        self.cache_dir.join(cache_name(url, expected, ext))
    }

    /// Gets one URL: its local path once checked.
    async fn get(&self, url: &str, checksum: &Checksum, ctx: &RunContext) -> Result<PathBuf> {
        let base = &ctx.info.template_dir;
        let expected = match checksum {
            Checksum::None => None,
            Checksum::Value(e) => Some(e.clone()),
            Checksum::File(sums) => {
                let text = fetch::read_text(&source(sums, base))
                    .await
                    .map_err(|e| e.context(format!("reading the checksum file {sums}")))?;
                let name = file_name(url);
                Some(
                    checksum::find_in_file(&text, &name)
                        .ok_or_else(|| Error::new(format!("the checksum file {sums} has no entry for {name}")))?,
                )
            }
        };
        match source(url, base) {
            Source::Local(path) => {
                if !path.is_file() {
                    return Err(Error::new(format!("{} does not exist or is not a file", path.display())));
                }
                if let Some(e) = &expected {
                    fetch::verify(&path, e, ctx).await?;
                }
                Ok(path)
            }
            Source::Remote(u) => {
                let target = self.target(&u, expected.as_ref());
                fetch::download(&u, &target, expected.as_ref(), ctx).await?;
                Ok(target)
            }
        }
    }
}

#[async_trait]
impl<S: HasCommon> Step<S> for StepDownload {
    fn name(&self) -> &'static str {
        "StepDownload"
    }

    async fn run(&self, state: &mut S, ctx: &RunContext) -> Result<()> {
        let checksum =
            Checksum::parse(&self.config.iso_checksum, &self.config.iso_checksum_type).map_err(Error::new)?;
        ctx.ui.say(format!("Retrieving {}", self.description));
        let mut errors = Vec::new();
        for url in self.config.urls() {
            ctx.ui.say(format!("Trying {url}"));
            match self.get(&url, &checksum, ctx).await {
                Ok(path) => {
                    ctx.ui.say(format!("{url} => {}", path.display()));
                    state.common_mut().iso_path = Some(path);
                    return Ok(());
                }
                Err(e) if e.cancelled => return Err(e),
                Err(e) => {
                    ctx.ui.error(format!("Download failed: {e}"));
                    errors.push(format!("{url}: {e}"));
                }
            }
        }
        Err(Error::new(format!("Error downloading {}: {}", self.description, errors.join("; "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_names_are_packers() {
        // Checked against Packer 1.6.6's packer_cache.
        let e = Expected {
            kind: Kind::Sha256,
            hex: "a03431eda40975da142f182ad6ee8eb81c796d143bb5a7f60e0d0b45bd9fdc83".into(),
        };
        assert_eq!(
            cache_name("http://127.0.0.1:18731/disk.iso", Some(&e), "iso"),
            "b40c95e7d6a555b7039cad1a125b2b7a04d4e479.iso"
        );
        assert_eq!(
            cache_name("http://127.0.0.1:18731/disk.iso", None, "iso"),
            "701fcb9e67a4e8da05a371011523d78692f291ba.iso"
        );
    }

    #[test]
    fn sources_and_names() {
        let base = Path::new("/t");
        assert_eq!(source("https://h/a.iso", base), Source::Remote("https://h/a.iso".into()));
        assert_eq!(source("file:///srv/a.iso", base), Source::Local("/srv/a.iso".into()));
        assert_eq!(source("img/a.iso", base), Source::Local("/t/img/a.iso".into()));
        assert_eq!(file_name("http://h/x/debian.iso?raw=1"), "debian.iso");
    }

    #[test]
    fn checks() {
        let n = kiln_template::testing::json_node(
            "t.json",
            "{\"iso_url\": \"ftp://h/a.iso\",\n \"iso_checksum\": \"abc\", \"iso_checksum_type\": \"md5\"}",
        )
        .unwrap();
        let c: IsoConfig = kiln_config::decode::decode(&n).unwrap();
        let d = c.check(&n).unwrap_err();
        let summaries: Vec<&str> = d.0.iter().map(|d| d.summary.as_str()).collect();
        assert!(summaries.iter().any(|s| s.contains("is not a md5 checksum")), "{summaries:?}");
        assert!(summaries.iter().any(|s| s.starts_with("kiln cannot download ftp://")), "{summaries:?}");
        let n = kiln_template::testing::json_node("t.json", "{\"iso_urls\": [\"a.iso\"], \"iso_checksum\": \"none\"}")
            .unwrap();
        let c: IsoConfig = kiln_config::decode::decode(&n).unwrap();
        let w = c.check(&n).unwrap();
        assert_eq!(w[0].summary, "iso_checksum is \"none\": the download is not checked");
        let n = kiln_template::testing::json_node("t.json", "{}").unwrap();
        let c: IsoConfig = kiln_config::decode::decode(&n).unwrap();
        assert_eq!(c.check(&n).unwrap_err().0[0].summary, "one of iso_url or iso_urls must be set");
    }
}
