//! S3 objects (REST, path-style addresses): what the step cache's shared store needs — put and
//! get an object from memory or a file, and make a bucket (tests, tooling). Bodies from files
//! are streamed and sent as `UNSIGNED-PAYLOAD`; every request has a deadline that grows with the
//! size of what it moves.

use std::path::Path;
use std::time::{Duration, SystemTime};

use reqwest::{Method, StatusCode, Url};

use super::config::{AwsConfig, Service};
use super::error::{Error, Result, ServiceError};
use super::retry::is_retryable_status;
use super::sigv4::{self, hex_sha256, uri_encode, SignableRequest, SigningParams};
use super::transport::{describe_reqwest_error, host_header};

const UNSIGNED: &str = "UNSIGNED-PAYLOAD";

/// An S3 client for one region (the bucket's).
#[derive(Debug, Clone)]
pub struct S3Client {
    cfg: AwsConfig,
}

/// What a request sends.
enum Body<'a> {
    Bytes(&'a [u8]),
    File(&'a Path),
}

impl S3Client {
    pub fn new(cfg: &AwsConfig) -> S3Client {
        S3Client { cfg: cfg.clone() }
    }

    /// `s3://bucket/key` as a path-style URL on the endpoint (`https://s3.<region>.amazonaws.com`
    /// or the custom one).
    fn url(&self, bucket: &str, key: &str) -> Result<Url> {
        let mut url = self.cfg.endpoint(Service::S3)?;
        let base = url.path().trim_end_matches('/').to_string();
        let mut path = format!("{base}/{}", uri_encode(bucket));
        if !key.is_empty() {
            path.push('/');
            path.push_str(&key.split('/').map(uri_encode).collect::<Vec<_>>().join("/"));
        }
        url.set_path(&path);
        Ok(url)
    }

    /// Makes `bucket` in the client's region (an existing bucket of the caller's is fine).
    pub async fn create_bucket(&self, bucket: &str) -> Result<()> {
        let region = self.cfg.region();
        let body = if region == "us-east-1" {
            String::new()
        } else {
            format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
            )
        };
        match self.call(Method::PUT, "CreateBucket", bucket, "", Body::Bytes(body.as_bytes())).await {
            Ok(_) => Ok(()),
            Err(Error::Service(e)) if e.code == "BucketAlreadyOwnedByYou" => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Writes an object from memory.
    pub async fn put_object(&self, bucket: &str, key: &str, bytes: &[u8]) -> Result<()> {
        self.call(Method::PUT, "PutObject", bucket, key, Body::Bytes(bytes)).await.map(|_| ())
    }

    /// Writes an object from a file, streamed.
    pub async fn put_object_file(&self, bucket: &str, key: &str, file: &Path) -> Result<()> {
        self.call(Method::PUT, "PutObject", bucket, key, Body::File(file)).await.map(|_| ())
    }

    /// An object's bytes; `None` when there is no such key.
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        match self.call(Method::GET, "GetObject", bucket, key, Body::Bytes(b"")).await {
            Ok(resp) => resp.bytes().await.map(|b| Some(b.to_vec())).map_err(|e| self.http_error("GetObject", &e)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes an object to `dest` (streamed); `false` when there is no such key.
    pub async fn get_object_to_file(&self, bucket: &str, key: &str, dest: &Path) -> Result<bool> {
        use futures_util::StreamExt;
        use tokio::io::AsyncWriteExt;
        let resp = match self.call(Method::GET, "GetObject", bucket, key, Body::Bytes(b"")).await {
            Ok(r) => r,
            Err(e) if is_missing(&e) => return Ok(false),
            Err(e) => return Err(e),
        };
        let io = |e: std::io::Error| Error::Response {
            service: "S3",
            action: "GetObject".into(),
            message: format!("writing {}: {e}", dest.display()),
        };
        let mut out = tokio::fs::File::create(dest).await.map_err(io)?;
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            out.write_all(&chunk.map_err(|e| self.http_error("GetObject", &e))?).await.map_err(io)?;
        }
        out.flush().await.map_err(io)?;
        Ok(true)
    }

    fn http_error(&self, action: &str, e: &reqwest::Error) -> Error {
        Error::Http {
            service: "S3",
            action: action.into(),
            message: describe_reqwest_error(e, self.cfg.transport().timeout),
            timed_out: e.is_timeout(),
        }
    }

    /// Sends one request, retrying answers that may succeed later (5xx, throttling, no answer).
    async fn call(
        &self,
        method: Method,
        action: &str,
        bucket: &str,
        key: &str,
        body: Body<'_>,
    ) -> Result<reqwest::Response> {
        let transport = self.cfg.transport();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.attempt(method.clone(), action, bucket, key, &body).await;
            let retry = match &outcome {
                Ok(_) => false,
                Err(Error::Service(e)) => is_retryable_status(e.status) || e.code == "SlowDown",
                Err(Error::Http { .. }) => true,
                Err(_) => false,
            };
            if !retry || attempt >= transport.retry.max_attempts.max(1) {
                return outcome;
            }
            tokio::time::sleep(transport.retry.backoff(attempt)).await;
        }
    }

    async fn attempt(
        &self,
        method: Method,
        action: &str,
        bucket: &str,
        key: &str,
        body: &Body<'_>,
    ) -> Result<reqwest::Response> {
        let transport = self.cfg.transport();
        let url = self.url(bucket, key)?;
        let (payload, hash, len): (&[u8], String, u64) = match body {
            Body::Bytes(b) => (b, hex_sha256(b), b.len() as u64),
            Body::File(p) => {
                let len = tokio::fs::metadata(p)
                    .await
                    .map_err(|e| Error::Config(format!("reading {}: {e}", p.display())))?
                    .len();
                (b"", UNSIGNED.to_string(), len)
            }
        };
        let creds = self.cfg.credentials().credentials().await?;
        let host = host_header(&url);
        let headers = [("x-amz-content-sha256", hash.as_str())];
        let signed = sigv4::sign(
            &SigningParams {
                access_key_id: &creds.access_key_id,
                secret_access_key: creds.secret_access_key.expose(),
                session_token: creds.session_token.as_ref().map(|t| t.expose().as_str()),
                region: self.cfg.region(),
                service: Service::S3.signing_name(),
                time: SystemTime::now(),
            },
            &SignableRequest {
                method: method.as_str(),
                host: &host,
                path: url.path(),
                query: url.query().unwrap_or(""),
                headers: &headers,
                payload,
                payload_hash: Some(&hash),
            },
        );
        // The deadline: the usual one, plus a second for every 4 MiB moved (at least 4 MiB/s).
        let timeout = transport.timeout + Duration::from_secs(len / (4 << 20));
        let mut req =
            transport.http.request(method.clone(), url).timeout(timeout).header("x-amz-content-sha256", &hash);
        for (k, v) in &signed {
            req = req.header(*k, v);
        }
        req = match body {
            Body::Bytes(b) => req.body(b.to_vec()),
            Body::File(p) => {
                let f = tokio::fs::File::open(p)
                    .await
                    .map_err(|e| Error::Config(format!("reading {}: {e}", p.display())))?;
                let stream = futures_util::stream::try_unfold(f, |mut f| async move {
                    use tokio::io::AsyncReadExt;
                    let mut buf = vec![0u8; 256 * 1024];
                    let n = f.read(&mut buf).await?;
                    buf.truncate(n);
                    Ok::<_, std::io::Error>((n > 0).then_some((buf, f)))
                });
                req.header(reqwest::header::CONTENT_LENGTH, len).body(reqwest::Body::wrap_stream(stream))
            }
        };
        let resp = req.send().await.map_err(|e| self.http_error(action, &e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let request_id = resp.headers().get("x-amz-request-id").and_then(|v| v.to_str().ok()).map(String::from);
        let text = resp.text().await.unwrap_or_default();
        Err(Error::Service(s3_error(action, status, &text, request_id)))
    }
}

/// `NoSuchKey` (or a 404 without a body, as for HEAD-like answers).
fn is_missing(e: &Error) -> bool {
    matches!(e, Error::Service(s) if s.code == "NoSuchKey" || (s.status == 404 && s.code == "HTTP404"))
}

/// S3's `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>`.
fn s3_error(action: &str, status: StatusCode, body: &str, header_request_id: Option<String>) -> ServiceError {
    let parsed = roxmltree::Document::parse(body).ok().and_then(|doc| {
        let root = doc.root_element();
        let text = |name: &str| root.children().find(|n| n.has_tag_name(name)).and_then(|n| n.text()).map(String::from);
        Some((text("Code")?, text("Message").unwrap_or_default(), text("RequestId")))
    });
    let (code, message, request_id) = parsed.unwrap_or_else(|| {
        (format!("HTTP{}", status.as_u16()), status.canonical_reason().unwrap_or("error").to_string(), None)
    });
    ServiceError {
        service: "S3",
        action: action.into(),
        status: status.as_u16(),
        code,
        message,
        request_id: request_id.or(header_request_id),
    }
}
