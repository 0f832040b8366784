//! The `http` data source against a real HTTP server on 127.0.0.1 (kiln_testing::http) and, for
//! the certificate options, `openssl s_server` with a certificate made for the test.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use kiln_core::datasource::{Ran, Request, Runner};
use kiln_core::registry::Registry;
use kiln_template::Diagnostics;
use kiln_testing::http::{self, HttpServer, Response};
use serde_json::json;

fn runner() -> Runner {
    Runner::new(Arc::new(
        Registry::new()
            .data_source("http", kiln_datasources::http::new)
            .data_source("null", kiln_datasources::null::new),
    ))
}

/// Runs data source `ty` with the configuration written as JSON.
fn run(ty: &str, config: &str) -> Result<Ran, Diagnostics> {
    let node = kiln_template::testing::json_node("data.json", config).expect("valid JSON");
    runner().run(&Request { ty, config: &node, type_span: None, block_span: None })
}

fn value(ran: &Ran, name: &str) -> serde_json::Value {
    ran.values.iter().find(|(o, _)| o.name == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

fn routes(req: &http::Request) -> Response {
    match req.target.as_str() {
        "/text" => Response::new(200, "OK", "hello from the server\n")
            .header("Content-Type", "text/plain; charset=utf-8")
            .header("X-Multi", "one")
            .header("X-Multi", "two"),
        "/echo" => {
            let seen = json!({
                "method": req.method,
                "token": req.header("x-token"),
                "body": String::from_utf8_lossy(&req.body),
            });
            Response::new(201, "Created", seen.to_string()).header("Content-Type", "application/json")
        }
        "/moved" => Response::new(301, "Moved Permanently", "").header("Location", "/text"),
        _ => Response::new(404, "Not Found", "no such page"),
    }
}

#[test]
fn get_returns_the_body_status_and_headers() {
    let server = HttpServer::start(routes);
    let url = server.url("/text");
    let ran = run("http", &json!({ "url": url }).to_string()).unwrap();
    assert_eq!(value(&ran, "url"), json!(url));
    assert_eq!(value(&ran, "body"), json!("hello from the server\n"));
    assert_eq!(value(&ran, "status_code"), json!(200));
    let headers = value(&ran, "response_headers");
    assert_eq!(headers["Content-Type"], json!("text/plain; charset=utf-8"));
    assert_eq!(headers["X-Multi"], json!("one, two"));
    // Packer's name for the same map.
    assert_eq!(value(&ran, "request_headers"), headers);
    assert_eq!(server.requests()[0].method, "GET");
}

#[test]
fn method_headers_and_body_are_sent() {
    let server = HttpServer::start(routes);
    let config = json!({
        "url": server.url("/echo"),
        "method": "POST",
        "request_headers": { "X-Token": "abc123" },
        "request_body": "{\"name\":\"kiln\"}",
    });
    let ran = run("http", &config.to_string()).unwrap();
    assert_eq!(value(&ran, "status_code"), json!(201));
    let seen: serde_json::Value = serde_json::from_str(value(&ran, "body").as_str().unwrap()).unwrap();
    assert_eq!(seen, json!({ "method": "POST", "token": "abc123", "body": "{\"name\":\"kiln\"}" }));
    assert_eq!(server.requests()[0].header("x-token"), Some("abc123"));
}

#[test]
fn redirects_are_followed() {
    let server = HttpServer::start(routes);
    let ran = run("http", &json!({ "url": server.url("/moved") }).to_string()).unwrap();
    assert_eq!(value(&ran, "body"), json!("hello from the server\n"));
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_status_outside_2xx_is_an_error() {
    let server = HttpServer::start(routes);
    let url = server.url("/missing");
    let e = run("http", &json!({ "url": url }).to_string()).unwrap_err();
    assert_eq!(
        e.0[0].summary,
        format!("GET {url} answered HTTP 404 Not Found: the http data source needs a 2xx response")
    );
}

#[test]
fn a_refused_connection_is_an_error() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = run("http", &json!({ "url": format!("http://127.0.0.1:{port}/") }).to_string()).unwrap_err();
    assert!(e.0[0].summary.starts_with(&format!("GET http://127.0.0.1:{port}/: ")), "{e}");
    assert!(e.0[0].summary.to_lowercase().contains("connect"), "{e}");
}

#[test]
fn configuration_errors_are_found_before_any_request() {
    let e = run("http", r#"{"url": ""}"#).unwrap_err();
    assert_eq!(e.0[0].summary, "the http data source needs a `url`");
    let e = run("http", r#"{"url": "ftp://example.com/x"}"#).unwrap_err();
    assert_eq!(e.0[0].summary, "unsupported URL scheme \"ftp\"");
    let e = run("http", r#"{"url": "http://127.0.0.1/", "method": "get"}"#).unwrap_err();
    assert_eq!(e.0[0].summary, "unsupported method \"get\"");
    assert_eq!(e.0[0].help.as_deref(), Some("use one of HEAD, GET, POST, PUT, DELETE, OPTIONS, PATCH"));
    assert_eq!(e.0[0].span.as_ref().unwrap().line_col(), (1, 40));
    let e = run("http", r#"{"url": "http://127.0.0.1/", "request_headers": {"bad name": "x"}}"#).unwrap_err();
    assert_eq!(e.0[0].summary, "request header \"bad name\" is not a valid HTTP header");
    let e = run("http", r#"{"url": "http://127.0.0.1/", "ca_cert_file": "/nonexistent/ca.pem"}"#).unwrap_err();
    assert!(e.0[0].summary.starts_with("cannot read ca_cert_file /nonexistent/ca.pem"), "{e}");
    let e = run("http", r#"{"url": "http://127.0.0.1/", "timeout": "5s"}"#).unwrap_err();
    assert!(e.0[0].summary.contains("timeout"), "{e}");
}

#[test]
fn null_returns_its_input() {
    let ran = run("null", r#"{"input": "chocolate"}"#).unwrap();
    assert_eq!(value(&ran, "output"), json!("chocolate"));
    let e = run("null", "{}").unwrap_err();
    assert_eq!(e.0[0].summary, "the null data source needs an `input`");
}

/// `openssl s_server` on 127.0.0.1 with a certificate for 127.0.0.1 signed by a CA made here;
/// killed by its PID on drop.
struct TlsServer {
    child: Child,
    port: u16,
    dir: kiln_testing::TempDir,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn tls_server() -> Option<TlsServer> {
    if Command::new("openssl").arg("version").output().is_err() {
        kiln_testing::skip("`openssl` is not installed");
        return None;
    }
    let dir = kiln_testing::TempDir::new("kiln-http-tls");
    let d: &std::path::Path = &dir;
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=kiln test CA",
        ],
    );
    openssl(
        d,
        &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1"],
    );
    std::fs::write(d.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-cert", "srv.pem", "-key", "srv.key"])
        .current_dir(d)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server starts");
    let server = TlsServer { child, port, dir };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(server);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("openssl s_server did not listen on 127.0.0.1:{port}");
}

#[test]
fn a_private_ca_is_trusted_only_when_given() {
    let Some(server) = tls_server() else { return };
    let url = format!("https://127.0.0.1:{}/", server.port);
    let e = run("http", &json!({ "url": url }).to_string()).unwrap_err();
    assert!(e.0[0].summary.to_lowercase().contains("certificate"), "{e}");
    let ca = server.dir.path("ca.pem");
    let ran = run("http", &json!({ "url": url, "ca_cert_file": ca }).to_string()).unwrap();
    assert_eq!(value(&ran, "status_code"), json!(200));
    // s_server -www answers with a page about the TLS session.
    assert!(value(&ran, "body").as_str().unwrap().contains("Ciphers"), "{:?}", value(&ran, "body"));
    let ran = run("http", &json!({ "url": url, "insecure_skip_verify": true }).to_string()).unwrap();
    assert_eq!(value(&ran, "status_code"), json!(200));
}
