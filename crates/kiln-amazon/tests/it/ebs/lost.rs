//! Answers that never come: the build is cancelled while a call that makes something is in
//! flight, and dropped when the call does not end within the grace time. The resource exists
//! in EC2 but its id never reached the build; the cleanups find it by what the build chose
//! before the call (name, temporary group) and remove it.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

use super::{config, inventory, run, Inventory, Opts};
use crate::support::{read_request, Moto};

/// A proxy to moto that holds the answer to one action for a long time, and says when that
/// action's request came.
struct SlowProxy {
    url: String,
    seen: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl SlowProxy {
    async fn start(upstream: String, action: &'static str, hold: Duration) -> SlowProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Notify::new());
        let http = reqwest::Client::new();
        let notify = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (http, upstream, notify) = (http.clone(), upstream.clone(), notify.clone());
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut sock).await else { return };
                    let mut fwd = http.post(format!("{upstream}{}", req.path)).body(req.body.clone());
                    for (k, v) in &req.headers {
                        if !matches!(k.as_str(), "host" | "content-length" | "connection") {
                            fwd = fwd.header(k, v);
                        }
                    }
                    let Ok(resp) = fwd.send().await else { return };
                    let status = resp.status().as_u16();
                    let body = resp.text().await.unwrap_or_default();
                    if req.body.contains(&format!("Action={action}&")) {
                        notify.notify_one();
                        tokio::time::sleep(hold).await;
                    }
                    let head =
                        format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(body.as_bytes()).await;
                });
            }
        });
        SlowProxy { url, seen, task }
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn resources_whose_answer_was_lost_are_found_and_removed() {
    let Some(moto) = Moto::start() else { return };
    for action in ["CreateSecurityGroup", "RunInstances", "CreateImage", "CopyImage"] {
        let before = inventory(&moto).await;
        let proxy = SlowProxy::start(moto.url.clone(), action, Duration::from_secs(40)).await;
        let node = config(
            &moto,
            &format!(r#""ami_name": "kiln-lost-{action}", "ami_regions": ["us-west-2"], "communicator": "none""#),
        );
        let node =
            kiln_template::testing::json_node("t.json", &node.to_json().to_string().replace(&moto.url, &proxy.url))
                .unwrap();
        let cancel = kiln_core::Cancel::new();
        let canceller = {
            let (cancel, seen) = (cancel.clone(), proxy.seen.clone());
            tokio::spawn(async move {
                seen.notified().await;
                cancel.cancel();
            })
        };
        let started = std::time::Instant::now();
        let r = run(&node, Opts { cancel: Some(cancel), ..Opts::default() }).await;
        canceller.abort();
        let e = match &r.result {
            Err(e) => e.clone(),
            Ok(_) => panic!("{action}: not cancelled"),
        };
        assert!(e.cancelled, "{action}: {e}");
        let left = inventory(&moto).await.added_since(&before);
        assert_eq!(left, Inventory::default(), "{action}: left behind\n{}", r.transcript());
        assert_eq!(r.journal, [], "{action}: left in the journal");
        let text = r.transcript();
        let cleanups: Vec<&str> = text.lines().filter_map(|l| l.split_once("Cleaning up: ").map(|(_, c)| c)).collect();
        println!("{action}: answer held, build dropped after {:?}; cleaned up: {cleanups:?}", started.elapsed());
    }
}
