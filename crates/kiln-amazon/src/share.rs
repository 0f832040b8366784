//! The step cache's shared store in an S3 bucket (`-cache-shared=s3://bucket/prefix`), so every
//! machine of a CI fleet resumes from the snapshots any of them made. Objects:
//! `<prefix>/steps/<key>.json` (the entry) and `<prefix>/steps/<key>/<file>` (the snapshot's
//! export); the files are uploaded before the entry, so a reader never finds an entry whose
//! files are not all there.
//!
//! Region and credentials are found as for the amazon builders (`AWS_REGION`, the shared
//! files' profile, the credentials chain); `?region=` in the URL names the bucket's region;
//! `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` point at another S3 (MinIO, moto).

use std::path::{Path, PathBuf};

use kiln_core::async_trait;
use kiln_core::cache::{Entry, SharedStore};
use kiln_core::{Error, Result};

use crate::client::{AwsConfig, S3Client};

#[derive(Debug, Clone)]
pub struct S3Store {
    client: S3Client,
    bucket: String,
    /// Without slashes at either end; may be empty.
    prefix: String,
}

impl S3Store {
    /// The store an `s3://bucket[/prefix][?region=R]` URL names.
    pub fn from_url(url: &str) -> std::result::Result<S3Store, String> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| format!("{url:?} is not an s3:// URL"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        if bucket.is_empty() {
            return Err(format!("{url:?} names no bucket: write s3://bucket/prefix"));
        }
        let mut loader = AwsConfig::loader();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("region", r)) => loader = loader.region(r),
                _ => return Err(format!("{url:?}: unknown parameter {pair:?} (only region=... is known)")),
            }
        }
        let cfg = loader.load().map_err(|e| format!("the shared step cache {url}: {e}"))?;
        Ok(S3Store::new(&cfg, bucket, prefix))
    }

    /// The store in `bucket` under `prefix`, with `cfg`'s region, credentials and endpoints.
    pub fn new(cfg: &AwsConfig, bucket: &str, prefix: &str) -> S3Store {
        S3Store { client: S3Client::new(cfg), bucket: bucket.into(), prefix: prefix.trim_matches('/').into() }
    }

    fn object(&self, rest: &str) -> String {
        if self.prefix.is_empty() {
            format!("steps/{rest}")
        } else {
            format!("{}/steps/{rest}", self.prefix)
        }
    }
}

fn checked(key: &str) -> Result<&str> {
    if !key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(key)
    } else {
        Err(Error::new(format!("invalid step cache key {key:?}")))
    }
}

/// A file name as stored: no folders, nothing hidden.
fn plain(name: &str) -> Result<&str> {
    if !name.is_empty() && !name.starts_with('.') && !name.contains('/') && !name.contains('\\') {
        Ok(name)
    } else {
        Err(Error::new(format!("invalid file name {name:?} in a shared cache entry")))
    }
}

fn s3_err(e: crate::client::Error) -> Error {
    Error::new(e.to_string())
}

#[async_trait]
impl SharedStore for S3Store {
    fn location(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    async fn get_entry(&self, key: &str) -> Result<Option<Entry>> {
        let name = self.object(&format!("{}.json", checked(key)?));
        let Some(bytes) = self.client.get_object(&self.bucket, &name).await.map_err(s3_err)? else { return Ok(None) };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::new(format!("reading s3://{}/{name}: {e}", self.bucket)))
    }

    async fn fetch(&self, entry: &Entry, dir: &Path) -> Result<Vec<PathBuf>> {
        let key = checked(&entry.key)?;
        let mut out = Vec::new();
        for name in &entry.files {
            let object = self.object(&format!("{key}/{}", plain(name)?));
            let dest = dir.join(name);
            if !self.client.get_object_to_file(&self.bucket, &object, &dest).await.map_err(s3_err)? {
                return Err(Error::new(format!("s3://{}/{object} is missing", self.bucket)));
            }
            out.push(dest);
        }
        Ok(out)
    }

    async fn put(&self, entry: &Entry, files: &[PathBuf]) -> Result<()> {
        let key = checked(&entry.key)?;
        for f in files {
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let object = self.object(&format!("{key}/{}", plain(&name)?));
            self.client.put_object_file(&self.bucket, &object, f).await.map_err(s3_err)?;
        }
        let json = serde_json::to_vec_pretty(entry).map_err(|e| Error::new(format!("encoding the entry: {e}")))?;
        self.client.put_object(&self.bucket, &self.object(&format!("{key}.json")), &json).await.map_err(s3_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_a_prefix() {
        let s = S3Store::from_url("s3://fleet-cache/ci/kiln/?region=eu-west-1").unwrap();
        assert_eq!((s.bucket.as_str(), s.prefix.as_str()), ("fleet-cache", "ci/kiln"));
        assert_eq!(s.object("ab.json"), "ci/kiln/steps/ab.json");
        assert_eq!(s.location(), "s3://fleet-cache/ci/kiln");
        let s = S3Store::from_url("s3://b?region=us-west-2").unwrap();
        assert_eq!(s.object("ab/image.tar"), "steps/ab/image.tar");
        assert!(S3Store::from_url("s3:///x?region=eu-west-1").unwrap_err().contains("names no bucket"));
        assert!(S3Store::from_url("s3://b?regoin=x").unwrap_err().contains("unknown parameter"));
    }
}
