//! Whether a test may skip when a tool or the shared data is missing, and where that data is.
//!
//! Tests that need a tool (packer, sshd …) or the shared corpus skip with a notice when it is
//! missing, except when `KILN_REQUIRE_TOOLS=1` (CI sets it): then a missing tool is a failure.

use std::path::PathBuf;
use std::process::Command;

/// Whether `KILN_REQUIRE_TOOLS=1`: a missing tool or data set fails the test.
pub fn require_tools() -> bool {
    std::env::var("KILN_REQUIRE_TOOLS").as_deref() == Ok("1")
}

/// Skips the rest of a test because of `why`: a notice on stderr, or a failure (panic) when
/// `KILN_REQUIRE_TOOLS=1`. The caller returns after it.
pub fn skip(why: &str) {
    assert!(!require_tools(), "KILN_REQUIRE_TOOLS=1 but {why}");
    eprintln!("notice: skipping: {why}");
}

/// The shared folder (`KILN_SHARED`): the corpus, the seed templates.
pub fn shared_dir() -> Option<PathBuf> {
    std::env::var_os("KILN_SHARED").map(PathBuf::from)
}

/// The template corpus: `KILN_CORPUS`, else `KILN_SHARED/corpus`.
pub fn corpus_dir() -> Option<PathBuf> {
    std::env::var_os("KILN_CORPUS").map(PathBuf::from).or_else(|| shared_dir().map(|s| s.join("corpus")))
}

/// [`corpus_dir`] when it holds `needs` (a file of the corpus, or `""` for the folder itself);
/// otherwise [`skip`] and `None`.
pub fn corpus_or_skip(needs: &str) -> Option<PathBuf> {
    match corpus_dir() {
        Some(d) if d.join(needs).exists() => Some(d),
        Some(d) => {
            skip(&format!("the corpus {} has no {needs:?}", d.display()));
            None
        }
        None => {
            skip("KILN_CORPUS / KILN_SHARED are not set");
            None
        }
    }
}

/// [`shared_dir`], or [`skip`] and `None` when `KILN_SHARED` is not set.
pub fn shared_or_skip() -> Option<PathBuf> {
    let dir = shared_dir();
    if dir.is_none() {
        skip("KILN_SHARED is not set");
    }
    dir
}

/// Whether `packer version` runs here.
pub fn packer_runs() -> bool {
    Command::new("packer").arg("version").output().is_ok_and(|o| o.status.success())
}

/// [`packer_runs`], or [`skip`] and `false`.
pub fn packer_or_skip() -> bool {
    let ok = packer_runs();
    if !ok {
        skip("`packer` cannot be run");
    }
    ok
}
