//! The download step against a real HTTP server on 127.0.0.1 (started and stopped by each test):
//! files, checksum files, a transfer that breaks off and resumes with a Range request, a
//! mismatch, the cache, local files.

use std::sync::{Arc, Mutex};

use kiln_core::step::Step;
use kiln_core::BuildInfo;
use kiln_toolkit::download::{cache_name, Expected, IsoConfig, Kind, StepDownload};
use kiln_toolkit::testing::context_with;
use kiln_toolkit::CommonState;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A small HTTP/1.1 server: `/disk.iso` (Range supported), `/SHA256SUMS`, `/cut.iso` (the
/// first response stops half-way), `/missing` (404). Records each request's path and Range.
struct Server {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn body() -> Vec<u8> {
    (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

fn sha256(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

async fn serve() -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&requests);
    let task = tokio::spawn(async move {
        let cut_done = Arc::new(Mutex::new(false));
        while let Ok((mut s, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            let cut_done = Arc::clone(&cut_done);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let range = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("range: bytes=")
                            .map(|r| r.trim_end_matches('-').to_string())
                    })
                    .and_then(|r| r.parse::<usize>().ok());
                log.lock().unwrap().push(format!("{path} {}", range.map_or("-".into(), |r| r.to_string())));
                let data = body();
                let reply = |status: &str, extra: &str, payload: &[u8]| {
                    let mut r = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
                        payload.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(payload);
                    r
                };
                let out = match (path.as_str(), range) {
                    ("/SHA256SUMS", _) => reply(
                        "200 OK",
                        "",
                        format!("{}  other.iso\n{}  disk.iso\n", "0".repeat(64), sha256(&data)).as_bytes(),
                    ),
                    ("/disk.iso" | "/cut.iso", Some(from)) if from < data.len() => {
                        let extra = format!("Content-Range: bytes {from}-{}/{}\r\n", data.len() - 1, data.len());
                        reply("206 Partial Content", &extra, &data[from..])
                    }
                    ("/cut.iso", None) if !std::mem::replace(&mut *cut_done.lock().unwrap(), true) => {
                        // Announce everything, send half, hang up.
                        let mut r =
                            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", data.len())
                                .into_bytes();
                        r.extend_from_slice(&data[..data.len() / 2]);
                        r
                    }
                    ("/disk.iso" | "/cut.iso", None) => reply("200 OK", "", &data),
                    _ => reply("404 Not Found", "", b"no"),
                };
                let _ = s.write_all(&out).await;
                let _ = s.shutdown().await;
            });
        }
    });
    Server { port, requests, task }
}

fn step(urls: Vec<String>, checksum: &str, cache: &std::path::Path) -> StepDownload {
    let mut s = StepDownload::new(&IsoConfig { iso_urls: urls, iso_checksum: checksum.into(), ..IsoConfig::default() });
    s.cache_dir = cache.to_path_buf();
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn downloads_checks_caches_and_tries_the_next_url() {
    let srv = serve().await;
    let tmp = tempfile::tempdir().unwrap();
    let (ctx, rec) = context_with(BuildInfo { template_dir: tmp.path().into(), ..BuildInfo::default() });
    let sum = sha256(&body());
    let base = format!("http://127.0.0.1:{}", srv.port);
    let s = step(vec![format!("{base}/missing"), format!("{base}/disk.iso")], &format!("sha256:{sum}"), tmp.path());
    let mut state = CommonState::default();
    s.run(&mut state, &ctx).await.unwrap();
    let expected = Expected { kind: Kind::Sha256, hex: sum.clone() };
    let target = tmp.path().join(cache_name("", Some(&expected), "iso"));
    assert_eq!(state.iso_path.as_deref(), Some(target.as_path()));
    assert_eq!(std::fs::read(&target).unwrap(), body());
    let says = rec.says();
    assert_eq!(says[0], "Retrieving ISO");
    assert_eq!(says[1], format!("Trying {base}/missing"));
    assert!(rec.errors()[0].contains("404 Not Found"), "{:?}", rec.errors());
    assert_eq!(says.last().unwrap(), &format!("{base}/disk.iso => {}", target.display()));

    // Cached: found by its checksum (as Packer keys its cache) already at the first URL,
    // checked, not fetched again.
    let before = srv.requests.lock().unwrap().len();
    let mut state = CommonState::default();
    s.run(&mut state, &ctx).await.unwrap();
    let after = srv.requests.lock().unwrap().clone();
    assert_eq!(after.len(), before, "nothing fetched: {after:?}");
    assert_eq!(state.iso_path.as_deref(), Some(target.as_path()));

    // A checksum file: the entry for disk.iso is used, and keys the same cache file.
    let s = step(vec![format!("{base}/disk.iso")], &format!("file:{base}/SHA256SUMS"), tmp.path());
    let mut state = CommonState::default();
    s.run(&mut state, &ctx).await.unwrap();
    assert_eq!(state.iso_path.as_deref(), Some(target.as_path()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_transfer_resumes_with_a_range_request() {
    let srv = serve().await;
    let tmp = tempfile::tempdir().unwrap();
    let (ctx, rec) = context_with(BuildInfo::default());
    let url = format!("http://127.0.0.1:{}/cut.iso", srv.port);
    let s = step(vec![url.clone()], &format!("sha256:{}", sha256(&body())), tmp.path());
    let mut state = CommonState::default();
    s.run(&mut state, &ctx).await.unwrap();
    assert_eq!(std::fs::read(state.iso_path.as_ref().unwrap()).unwrap(), body());
    let half = body().len() / 2;
    assert_eq!(*srv.requests.lock().unwrap(), ["/cut.iso -".to_string(), format!("/cut.iso {half}")]);
    assert!(
        rec.messages().iter().any(|m| m.starts_with("The transfer broke off after 146.5 KiB")),
        "{:?}",
        rec.messages()
    );
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!leftovers.iter().any(|n| n.to_string_lossy().ends_with(".part")), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mismatch_deletes_the_download_and_says_both_sums() {
    let srv = serve().await;
    let tmp = tempfile::tempdir().unwrap();
    let (ctx, _rec) = context_with(BuildInfo::default());
    let wrong = "1".repeat(64);
    let s = step(vec![format!("http://127.0.0.1:{}/disk.iso", srv.port)], &format!("sha256:{wrong}"), tmp.path());
    let e = s.run(&mut CommonState::default(), &ctx).await.unwrap_err();
    assert!(e.message.contains(&format!("expected sha256 {wrong}, got {}", sha256(&body()))), "{e}");
    assert!(e.message.contains("the download was deleted"), "{e}");
    let files: Vec<String> =
        std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(files.iter().all(|f| f.ends_with(".lock")), "{files:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn local_files_are_checked_where_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("img")).unwrap();
    std::fs::write(tmp.path().join("img/local.iso"), body()).unwrap();
    let (ctx, _rec) = context_with(BuildInfo { template_dir: tmp.path().into(), ..BuildInfo::default() });
    let cache = tmp.path().join("cache");
    let s = step(vec!["img/local.iso".into()], &format!("sha256:{}", sha256(&body())), &cache);
    let mut state = CommonState::default();
    s.run(&mut state, &ctx).await.unwrap();
    assert_eq!(state.iso_path, Some(tmp.path().join("img/local.iso")));
    assert!(!cache.exists());
    let s = step(
        vec![format!("file://{}/img/local.iso", tmp.path().display())],
        &format!("md5:{}", "0".repeat(32)),
        &cache,
    );
    let e = s.run(&mut CommonState::default(), &ctx).await.unwrap_err();
    assert!(e.message.contains("checksum mismatch"), "{e}");
}
