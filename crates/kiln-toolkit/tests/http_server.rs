//! The HTTP server step, fetched from with a real HTTP client (reqwest).

use std::collections::BTreeMap;

use kiln_core::step::{Outcome, Step};
use kiln_core::BuildInfo;
use kiln_toolkit::http::{HttpConfig, StepHttpServer};
use kiln_toolkit::testing::context_with;
use kiln_toolkit::CommonState;

#[tokio::test(flavor = "multi_thread")]
async fn serves_a_directory_and_refuses_to_leave_it() {
    let tmp = tempfile::tempdir().unwrap();
    let www = tmp.path().join("www");
    std::fs::create_dir_all(www.join("ks")).unwrap();
    std::fs::write(www.join("ks/preseed.cfg"), "d-i debian-installer/locale string en_US\n").unwrap();
    std::fs::write(tmp.path().join("secret.txt"), "not for the guest").unwrap();
    let (ctx, rec) = context_with(BuildInfo { template_dir: tmp.path().into(), ..BuildInfo::default() });
    let config = HttpConfig {
        http_directory: "www".into(),
        http_port_min: Some(47200),
        http_port_max: Some(47210),
        ..HttpConfig::default()
    };
    let mut step = StepHttpServer::new(&config);
    step.guest_host = Some("10.0.2.2".into());
    let mut state = CommonState::default();
    step.run(&mut state, &ctx).await.unwrap();
    let addr = state.http_addr.unwrap();
    assert!(addr.ip().is_loopback(), "kiln listens on 127.0.0.1 by default");
    assert!((47200..47210).contains(&addr.port()));
    assert_eq!(rec.says(), [format!("Starting HTTP server on port {}", addr.port())]);
    assert_eq!(state.generated["HTTPIP"], "10.0.2.2");
    assert_eq!(state.generated["PackerHTTPAddr"], format!("10.0.2.2:{}", addr.port()));

    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let r = client.get(format!("{base}/ks/preseed.cfg")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "d-i debian-installer/locale string en_US\n");
    let r = client.head(format!("{base}/ks/preseed.cfg")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["content-length"].to_str().unwrap()), (200, "41"));
    assert_eq!(client.get(format!("{base}/nothing")).send().await.unwrap().status(), 404);
    assert_eq!(client.post(format!("{base}/ks/preseed.cfg")).send().await.unwrap().status(), 405);
    // Path traversal, raw and encoded, over a plain socket (clients clean such paths).
    for target in ["/../secret.txt", "/ks/%2e%2e/%2e%2e/secret.txt"] {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 403"), "{target}: {reply}");
        assert!(!reply.contains("not for the guest"));
    }

    step.cleanup(&mut state, &ctx, Outcome::default()).await;
    assert!(state.http_addr.is_none());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(client.get(format!("{base}/ks/preseed.cfg")).send().await.is_err(), "stopped in cleanup");
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_http_content_and_nothing_without_options() {
    let (ctx, _rec) = context_with(BuildInfo::default());
    let mut files = BTreeMap::new();
    files.insert("/user-data".to_string(), "#cloud-config\n".to_string());
    files.insert("meta-data".to_string(), "instance-id: x\n".to_string());
    let step = StepHttpServer::new(&HttpConfig { http_content: files, ..HttpConfig::default() });
    let mut state = CommonState::default();
    step.run(&mut state, &ctx).await.unwrap();
    let addr = state.http_addr.unwrap();
    assert!((8000..9000).contains(&addr.port()));
    let get = |p: &str| reqwest::get(format!("http://{addr}{p}"));
    assert_eq!(get("/user-data").await.unwrap().text().await.unwrap(), "#cloud-config\n");
    assert_eq!(get("/meta-data").await.unwrap().text().await.unwrap(), "instance-id: x\n");
    assert_eq!(get("/other").await.unwrap().status(), 404);
    assert_eq!(state.generated["HTTPIP"], "127.0.0.1");

    let mut state = CommonState::default();
    StepHttpServer::new(&HttpConfig::default()).run(&mut state, &ctx).await.unwrap();
    assert!(state.http_addr.is_none() && state.generated.is_empty());
}
