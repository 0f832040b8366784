//! The transfers behind [`super::StepDownload`]: resumable HTTP downloads into a partial file,
//! checksums of local files, checksum files.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kiln_core::progress::{human_bytes, Progress};
use kiln_core::{Error, Result, RunContext};
use tokio::io::AsyncWriteExt;

use super::checksum::{Expected, Hasher};
use super::Source;

/// Attempts of one URL in one build; each resumes where the previous one broke off.
const ATTEMPTS: u32 = 4;

fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Error::new(format!("setting up the HTTP client: {e}")))
}

/// The text of a checksum file.
pub(crate) async fn read_text(src: &Source) -> Result<String> {
    match src {
        Source::Local(p) => {
            tokio::fs::read_to_string(p).await.map_err(|e| Error::new(format!("reading {}: {e}", p.display())))
        }
        Source::Remote(u) => {
            let r = client()?.get(u).send().await.map_err(|e| Error::new(format!("GET {u}: {e}")))?;
            if !r.status().is_success() {
                return Err(Error::new(format!("GET {u}: {}", r.status())));
            }
            r.text().await.map_err(|e| Error::new(format!("GET {u}: {e}")))
        }
    }
}

/// Feeds the first `len` bytes of `path` (all of it when `None`) to `hasher`, off the runtime.
async fn hash_file(
    path: &Path,
    mut hasher: Hasher,
    len: Option<u64>,
    progress: Option<Arc<Progress>>,
) -> Result<Hasher> {
    let shown = path.display().to_string();
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || -> Result<Hasher> {
        let f = std::fs::File::open(&path).map_err(|e| Error::new(format!("reading {}: {e}", path.display())))?;
        let mut r = f.take(len.unwrap_or(u64::MAX));
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = r.read(&mut buf).map_err(|e| Error::new(format!("reading {}: {e}", path.display())))?;
            if n == 0 {
                return Ok(hasher);
            }
            hasher.update(&buf[..n]);
            if let Some(p) = &progress {
                p.add(n as u64);
            }
        }
    })
    .await
    .map_err(|e| Error::new(format!("checksumming {shown}: {e}")))?
}

fn mismatch(what: &str, e: &Expected, got: &str) -> Error {
    Error::new(format!("checksum mismatch for {what}: expected {} {}, got {got}", e.kind.name(), e.hex))
}

/// Checks a local file against `expected`.
pub(crate) async fn verify(path: &Path, expected: &Expected, ctx: &RunContext) -> Result<()> {
    let size = std::fs::metadata(path).map(|m| m.len()).ok();
    let progress = Progress::new(&ctx.ui, format!("Checking {}", path.display()), size);
    let h = ctx.cancel.run(hash_file(path, expected.kind.hasher(), None, Some(Arc::clone(&progress)))).await??;
    progress.finish();
    let got = h.finish();
    if got != expected.hex {
        return Err(mismatch(&path.display().to_string(), expected, &got));
    }
    Ok(())
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Holds `<target>.lock` while a build fills `target`; waits (cancellably) while another has it.
async fn lock_target(target: &Path, url: &str, ctx: &RunContext) -> Result<std::fs::File> {
    use std::os::unix::io::AsRawFd;
    let path = with_suffix(target, ".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::new(format!("creating {}: {e}", path.display())))?;
    let mut said = false;
    loop {
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(file);
        }
        if !said {
            ctx.ui.say(format!("Waiting for another build downloading {url} to {}...", target.display()));
            said = true;
        }
        ctx.cancel.run(tokio::time::sleep(Duration::from_millis(500))).await?;
    }
}

/// Downloads `url` to `target` (unless a matching file is there), through `<target>.part`.
pub(crate) async fn download(url: &str, target: &Path, expected: Option<&Expected>, ctx: &RunContext) -> Result<()> {
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| Error::new(format!("creating {}: {e}", parent.display())))?;
    }
    let _lock = lock_target(target, url, ctx).await?;
    if target.is_file() {
        let Some(e) = expected else {
            ctx.ui.message(format!("Using {} from the cache (no checksum to check it with)", target.display()));
            return Ok(());
        };
        match verify(target, e, ctx).await {
            Ok(()) => return Ok(()),
            Err(err) if err.cancelled => return Err(err),
            Err(err) => {
                ctx.ui.message(format!("The cached file does not match ({err}); downloading it again"));
                let _ = tokio::fs::remove_file(target).await;
            }
        }
    }
    let part = with_suffix(target, ".part");
    let client = client()?;
    let mut offset = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    let mut hasher = match expected {
        Some(e) if offset > 0 => Some(hash_file(&part, e.kind.hasher(), Some(offset), None).await?),
        Some(e) => Some(e.kind.hasher()),
        None => None,
    };
    let name = super::file_name(url);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match transfer(&client, url, &part, &mut offset, &mut hasher, expected, &name, ctx).await {
            Ok(()) => break,
            Err((e, _)) if e.cancelled => return Err(e),
            Err((e, true)) if attempt < ATTEMPTS => {
                ctx.ui.message(format!("The transfer broke off after {} ({e}); resuming", human_bytes(offset)));
                ctx.cancel.run(tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt)))).await?;
            }
            Err((e, _)) => {
                if offset > 0 {
                    ctx.ui.message(format!(
                        "Keeping the {} downloaded so far in {} to resume later",
                        human_bytes(offset),
                        part.display()
                    ));
                }
                return Err(e);
            }
        }
    }
    if let (Some(e), Some(h)) = (expected, hasher) {
        let got = h.finish();
        if got != e.hex {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(mismatch(url, e, &got).context("the download was deleted"));
        }
    }
    tokio::fs::rename(&part, target)
        .await
        .map_err(|e| Error::new(format!("moving {} to {}: {e}", part.display(), target.display())))
}

/// One request from `offset` on; an error says whether resuming may help.
#[allow(clippy::too_many_arguments)]
async fn transfer(
    client: &reqwest::Client,
    url: &str,
    part: &Path,
    offset: &mut u64,
    hasher: &mut Option<Hasher>,
    expected: Option<&Expected>,
    name: &str,
    ctx: &RunContext,
) -> std::result::Result<(), (Error, bool)> {
    let io = |what: &str, e: std::io::Error| (Error::new(format!("{what} {}: {e}", part.display())), false);
    let mut req = client.get(url);
    if *offset > 0 {
        req = req.header(reqwest::header::RANGE, format!("bytes={offset}-"));
    }
    let resp = match ctx.cancel.run(req.send()).await.map_err(|e| (e, false))? {
        Ok(r) => r,
        Err(e) => {
            return Err((Error::new(format!("GET {url}: {e}")), e.is_connect() || e.is_timeout() || e.is_request()))
        }
    };
    let status = resp.status();
    if status == reqwest::StatusCode::RANGE_NOT_SATISFIABLE && *offset > 0 {
        // What we have is already the whole file; the checksum decides.
        return Ok(());
    }
    if !status.is_success() {
        return Err((Error::new(format!("GET {url}: {status}")), status.is_server_error()));
    }
    let resumed = status == reqwest::StatusCode::PARTIAL_CONTENT && *offset > 0;
    if !resumed && *offset > 0 {
        // The server sends the whole file: start over.
        *offset = 0;
        if let Some(e) = expected {
            *hasher = Some(e.kind.hasher());
        }
    }
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(part)
        .await
        .map_err(|e| io("opening", e))?;
    let total = resp.content_length().map(|n| n + *offset);
    let progress = Progress::new(&ctx.ui, format!("Downloading {name}"), total);
    progress.add(*offset);
    let mut resp = resp;
    loop {
        let chunk = match ctx.cancel.run(resp.chunk()).await {
            Err(cancelled) => {
                let _ = file.flush().await;
                return Err((cancelled, false));
            }
            Ok(Ok(Some(c))) => c,
            Ok(Ok(None)) => break,
            Ok(Err(e)) => {
                file.flush().await.map_err(|e| io("writing", e))?;
                return Err((Error::new(format!("reading {url}: {e}")), true));
            }
        };
        file.write_all(&chunk).await.map_err(|e| io("writing", e))?;
        if let Some(h) = hasher.as_mut() {
            h.update(&chunk);
        }
        *offset += chunk.len() as u64;
        progress.add(chunk.len() as u64);
    }
    file.flush().await.map_err(|e| io("writing", e))?;
    file.sync_all().await.map_err(|e| io("writing", e))?;
    progress.finish();
    if let Some(t) = total.filter(|t| *offset < *t) {
        return Err((Error::new(format!("the server sent {offset} of {t} bytes")), true));
    }
    Ok(())
}
