//! The step cache's shared store in an OCI registry (`-cache-shared=oci://host/repository`):
//! each entry is an OCI artifact tagged with its key — the entry as the manifest's config blob,
//! the snapshot's files as its layers (named by the `org.opencontainers.image.title`
//! annotation). Blobs are pushed first and the manifest last, so a reader never finds an entry
//! whose files are not all there; a blob the registry already has is not sent again.
//!
//! Speaks the distribution API over HTTPS (plain HTTP for `localhost` and `127.0.0.1`, as the
//! docker CLI treats them), with the credentials `docker login` saved for the registry (or
//! `KILN_CACHE_REGISTRY_USERNAME` / `KILN_CACHE_REGISTRY_PASSWORD`), answering both Basic and
//! token (Bearer) challenges.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use futures_util::StreamExt;
use kiln_core::async_trait;
use kiln_core::cache::{Entry, SharedStore};
use kiln_core::{Error, Result};
use reqwest::{header, Method, StatusCode, Url};
use sha2::{Digest, Sha256};

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const ENTRY: &str = "application/vnd.kiln.step-cache.entry.v1+json";
const FILE: &str = "application/vnd.kiln.step-cache.file.v1";
const ARTIFACT: &str = "application/vnd.kiln.step-cache.v1";
const TITLE: &str = "org.opencontainers.image.title";

/// The store in one repository of a registry.
#[derive(Debug)]
pub struct OciStore {
    http: reqwest::Client,
    /// `https://host[:port]`
    base: Url,
    /// `host[:port]`, for messages and saved credentials.
    registry: String,
    repository: String,
    credentials: Option<(String, String)>,
    /// The `Authorization` header that worked last.
    auth: Mutex<Option<String>>,
}

impl OciStore {
    /// The store an `oci://host[:port]/repository` URL names.
    pub fn from_url(url: &str) -> std::result::Result<OciStore, String> {
        let rest = url.strip_prefix("oci://").ok_or_else(|| format!("{url:?} is not an oci:// URL"))?;
        let (registry, repository) = rest
            .split_once('/')
            .filter(|(r, p)| !r.is_empty() && !p.trim_matches('/').is_empty())
            .ok_or_else(|| format!("{url:?}: write oci://registry-host/repository"))?;
        let repository = repository.trim_matches('/');
        let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c);
        if !repository.chars().all(ok) {
            return Err(format!("{url:?}: a repository name has lowercase letters, digits, '.', '_', '-' and '/'"));
        }
        let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
        let scheme = if matches!(host, "localhost" | "127.0.0.1" | "[::1]") { "http" } else { "https" };
        let base = Url::parse(&format!("{scheme}://{registry}")).map_err(|e| format!("{url:?}: {e}"))?;
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let credentials = match (env("KILN_CACHE_REGISTRY_USERNAME"), env("KILN_CACHE_REGISTRY_PASSWORD")) {
            (Some(u), Some(p)) => Some((u, p)),
            _ => crate::auth::saved_auth(registry).map(|a| (a.username, a.password)),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("an HTTP client: {e}"))?;
        Ok(OciStore {
            http,
            base,
            registry: registry.to_string(),
            repository: repository.to_string(),
            credentials,
            auth: Mutex::new(None),
        })
    }

    /// The same store, logging in as `username` (whatever `docker login` saved).
    pub fn with_credentials(mut self, username: &str, password: &str) -> OciStore {
        self.credentials = Some((username.to_string(), password.to_string()));
        self
    }

    fn url(&self, rest: &str) -> Result<Url> {
        self.base
            .join(&format!("/v2/{}/{rest}", self.repository))
            .map_err(|e| Error::new(format!("a registry URL for {rest}: {e}")))
    }

    /// Sends a request (rebuilt by `make` for each attempt), answering the registry's
    /// authentication challenge once.
    async fn send(
        &self,
        what: &str,
        bytes: u64,
        make: impl Fn() -> Result<reqwest::RequestBuilder>,
    ) -> Result<reqwest::Response> {
        // A minute, plus a second for every 4 MiB moved.
        let timeout = Duration::from_secs(60 + bytes / (4 << 20));
        let mut answered_challenge = false;
        loop {
            let mut req = make()?.timeout(timeout);
            if let Some(a) = self.auth.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                req = req.header(header::AUTHORIZATION, a);
            }
            let resp = req.send().await.map_err(|e| Error::new(format!("{what} at {}: {e}", self.registry)))?;
            if resp.status() != StatusCode::UNAUTHORIZED || answered_challenge {
                return Ok(resp);
            }
            let challenge =
                resp.headers().get(header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let auth = self.answer(&challenge).await?;
            *self.auth.lock().unwrap_or_else(|e| e.into_inner()) = Some(auth);
            answered_challenge = true;
        }
    }

    fn basic(&self) -> Result<String> {
        let (u, p) = self.credentials.as_ref().ok_or_else(|| {
            Error::new(format!(
                "{} asks for credentials: `docker login {}`, or set KILN_CACHE_REGISTRY_USERNAME and KILN_CACHE_REGISTRY_PASSWORD",
                self.registry, self.registry
            ))
        })?;
        Ok(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))))
    }

    /// The `Authorization` header a `WWW-Authenticate` challenge asks for.
    async fn answer(&self, challenge: &str) -> Result<String> {
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return self.basic();
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Error::new(format!("{} asks for unknown authentication {challenge:?}", self.registry)));
        }
        let param = |name: &str| {
            params.split(',').find_map(|p| {
                let (k, v) = p.trim().split_once('=')?;
                (k == name).then(|| v.trim_matches('"').to_string())
            })
        };
        let realm = param("realm")
            .ok_or_else(|| Error::new(format!("{}: a token challenge without a realm", self.registry)))?;
        let mut url = Url::parse(&realm).map_err(|e| Error::new(format!("token realm {realm:?}: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = param("service") {
                q.append_pair("service", &s);
            }
            q.append_pair("scope", &format!("repository:{}:pull,push", self.repository));
        }
        let mut req = self.http.get(url).timeout(Duration::from_secs(60));
        if self.credentials.is_some() {
            req = req.header(header::AUTHORIZATION, self.basic()?);
        }
        let resp = req.send().await.map_err(|e| Error::new(format!("a token from {realm}: {e}")))?;
        let status = resp.status();
        let body: serde_json::Value =
            resp.json().await.map_err(|e| Error::new(format!("a token from {realm} ({status}): {e}")))?;
        let token = body.get("token").or_else(|| body.get("access_token")).and_then(|t| t.as_str());
        token.map(|t| format!("Bearer {t}")).ok_or_else(|| Error::new(format!("no token from {realm} ({status})")))
    }

    async fn check(&self, what: &str, resp: reqwest::Response) -> Result<reqwest::Response> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body: String = resp.text().await.unwrap_or_default().chars().take(300).collect();
        Err(Error::new(format!("{what} at {}: {status}: {}", self.registry, body.trim())))
    }

    /// The manifest tagged `key`, if any.
    async fn manifest(&self, key: &str) -> Result<Option<serde_json::Value>> {
        let url = self.url(&format!("manifests/{}", checked(key)?))?;
        let resp = self
            .send("reading a manifest", 0, || Ok(self.http.get(url.clone()).header(header::ACCEPT, MANIFEST)))
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = self.check("reading a manifest", resp).await?;
        resp.json().await.map(Some).map_err(|e| Error::new(format!("reading the manifest {key}: {e}")))
    }

    async fn blob_bytes(&self, digest: &str) -> Result<Vec<u8>> {
        let url = self.url(&format!("blobs/{digest}"))?;
        let resp = self.send("reading a blob", 0, || Ok(self.http.get(url.clone()))).await?;
        let resp = self.check("reading a blob", resp).await?;
        let bytes = resp.bytes().await.map_err(|e| Error::new(format!("reading blob {digest}: {e}")))?;
        verify(digest, &Sha256::digest(&bytes))?;
        Ok(bytes.to_vec())
    }

    async fn blob_to_file(&self, digest: &str, size: u64, dest: &Path) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        let url = self.url(&format!("blobs/{digest}"))?;
        let resp = self.send("reading a blob", size, || Ok(self.http.get(url.clone()))).await?;
        let resp = self.check("reading a blob", resp).await?;
        let io = |e: std::io::Error| Error::new(format!("writing {}: {e}", dest.display()));
        let mut out = tokio::fs::File::create(dest).await.map_err(io)?;
        let mut hasher = Sha256::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Error::new(format!("reading blob {digest}: {e}")))?;
            hasher.update(&chunk);
            out.write_all(&chunk).await.map_err(io)?;
        }
        out.flush().await.map_err(io)?;
        verify(digest, &hasher.finalize())
    }

    /// Pushes a blob (from memory or a file) unless the registry has it; its descriptor.
    async fn push_blob(
        &self,
        media_type: &str,
        content: Content<'_>,
        title: Option<&str>,
    ) -> Result<serde_json::Value> {
        let (digest, size) = match &content {
            Content::Bytes(b) => (format!("sha256:{}", hex(&Sha256::digest(b))), b.len() as u64),
            Content::File(p) => file_digest(p).await?,
        };
        let mut descriptor = serde_json::json!({"mediaType": media_type, "digest": digest, "size": size});
        if let Some(t) = title {
            descriptor["annotations"] = serde_json::json!({ TITLE: t });
        }
        let head = self.url(&format!("blobs/{digest}"))?;
        let resp = self.send("checking a blob", 0, || Ok(self.http.head(head.clone()))).await?;
        if resp.status().is_success() {
            return Ok(descriptor);
        }
        let start = self.url("blobs/uploads/")?;
        let resp = self
            .send("starting an upload", 0, || Ok(self.http.post(start.clone()).header(header::CONTENT_LENGTH, 0)))
            .await?;
        let resp = self.check("starting an upload", resp).await?;
        let location = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::new(format!("{}: an upload without a Location", self.registry)))?;
        let mut put = self.base.join(location).map_err(|e| Error::new(format!("upload location {location:?}: {e}")))?;
        put.query_pairs_mut().append_pair("digest", &digest);
        let resp = self
            .send("uploading a blob", size, || {
                let req = self
                    .http
                    .request(Method::PUT, put.clone())
                    .header(header::CONTENT_TYPE, "application/octet-stream")
                    .header(header::CONTENT_LENGTH, size);
                Ok(match &content {
                    Content::Bytes(b) => req.body(b.to_vec()),
                    Content::File(p) => req.body(file_body(p)?),
                })
            })
            .await?;
        self.check("uploading a blob", resp).await?;
        Ok(descriptor)
    }
}

enum Content<'a> {
    Bytes(&'a [u8]),
    File(&'a Path),
}

fn checked(key: &str) -> Result<&str> {
    if !key.is_empty() && key.len() <= 128 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(key)
    } else {
        Err(Error::new(format!("invalid step cache key {key:?}")))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn verify(digest: &str, got: &[u8]) -> Result<()> {
    if digest == format!("sha256:{}", hex(got)) {
        Ok(())
    } else {
        Err(Error::new(format!("blob {digest} came back with other contents")))
    }
}

async fn file_digest(path: &Path) -> Result<(String, u64)> {
    use tokio::io::AsyncReadExt;
    let io = |e: std::io::Error| Error::new(format!("reading {}: {e}", path.display()));
    let mut f = tokio::fs::File::open(path).await.map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).await.map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((format!("sha256:{}", hex(&hasher.finalize())), size))
}

/// A file as a streamed request body (opened when the request is sent).
fn file_body(path: &Path) -> Result<reqwest::Body> {
    let std_file = std::fs::File::open(path).map_err(|e| Error::new(format!("reading {}: {e}", path.display())))?;
    let f = tokio::fs::File::from_std(std_file);
    let stream = futures_util::stream::try_unfold(f, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 256 * 1024];
        let n = f.read(&mut buf).await?;
        buf.truncate(n);
        Ok::<_, std::io::Error>((n > 0).then_some((buf, f)))
    });
    Ok(reqwest::Body::wrap_stream(stream))
}

/// The layer of `manifest` titled `name`: (digest, size).
fn layer<'a>(manifest: &'a serde_json::Value, name: &str) -> Option<(&'a str, u64)> {
    manifest.get("layers")?.as_array()?.iter().find_map(|l| {
        let title = l.get("annotations")?.get(TITLE)?.as_str()?;
        (title == name).then(|| Some((l.get("digest")?.as_str()?, l.get("size")?.as_u64()?)))?
    })
}

#[async_trait]
impl SharedStore for OciStore {
    fn location(&self) -> String {
        format!("oci://{}/{}", self.registry, self.repository)
    }

    async fn get_entry(&self, key: &str) -> Result<Option<Entry>> {
        let Some(m) = self.manifest(key).await? else { return Ok(None) };
        let Some(config) = m.get("config").and_then(|c| c.get("digest")).and_then(|d| d.as_str()) else {
            return Ok(None);
        };
        let bytes = self.blob_bytes(config).await?;
        serde_json::from_slice(&bytes).map(Some).map_err(|e| Error::new(format!("reading the entry {key}: {e}")))
    }

    async fn fetch(&self, entry: &Entry, dir: &Path) -> Result<Vec<PathBuf>> {
        let m =
            self.manifest(&entry.key).await?.ok_or_else(|| Error::new(format!("the entry {} is gone", entry.key)))?;
        let mut out = Vec::new();
        for name in &entry.files {
            if name.is_empty() || name.starts_with('.') || name.contains('/') {
                return Err(Error::new(format!("invalid file name {name:?} in a shared cache entry")));
            }
            let (digest, size) =
                layer(&m, name).ok_or_else(|| Error::new(format!("the entry {} has no file {name}", entry.key)))?;
            let dest = dir.join(name);
            self.blob_to_file(digest, size, &dest).await?;
            out.push(dest);
        }
        Ok(out)
    }

    async fn put(&self, entry: &Entry, files: &[PathBuf]) -> Result<()> {
        let key = checked(&entry.key)?;
        let mut layers = Vec::new();
        for f in files {
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            layers.push(self.push_blob(FILE, Content::File(f), Some(&name)).await?);
        }
        let json = serde_json::to_vec(entry).map_err(|e| Error::new(format!("encoding the entry: {e}")))?;
        let config = self.push_blob(ENTRY, Content::Bytes(&json), None).await?;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "artifactType": ARTIFACT,
            "config": config,
            "layers": layers,
        });
        let body = serde_json::to_vec(&manifest).map_err(|e| Error::new(format!("encoding the manifest: {e}")))?;
        let url = self.url(&format!("manifests/{key}"))?;
        let resp = self
            .send("writing a manifest", 0, || {
                Ok(self.http.put(url.clone()).header(header::CONTENT_TYPE, MANIFEST).body(body.clone()))
            })
            .await?;
        self.check("writing a manifest", resp).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_registry_and_a_repository() {
        let s = OciStore::from_url("oci://127.0.0.1:5000/kiln/cache/").unwrap();
        assert_eq!(s.base.as_str(), "http://127.0.0.1:5000/");
        assert_eq!(s.location(), "oci://127.0.0.1:5000/kiln/cache");
        assert_eq!(s.url("manifests/ab").unwrap().as_str(), "http://127.0.0.1:5000/v2/kiln/cache/manifests/ab");
        let s = OciStore::from_url("oci://registry.example.com/team/kiln").unwrap();
        assert_eq!(s.base.scheme(), "https");
        assert!(OciStore::from_url("oci://registry.example.com")
            .unwrap_err()
            .contains("oci://registry-host/repository"));
        assert!(OciStore::from_url("oci://r.example.com/Kiln").unwrap_err().contains("lowercase"));
    }
}
