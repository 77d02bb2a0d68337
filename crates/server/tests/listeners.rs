//! Both listeners of a deployment (the broker's and the embedded store's) close
//! connections that hold a request head open, so strangers cannot keep all
//! connections busy without credentials.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use sealdrop_broker::Config;
use sealdrop_server::Deployment;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the peer closes the connection or `within` passes: whether it
/// closed, and what it sent.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (bool, String) {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    let deadline = tokio::time::Instant::now() + within;
    let closed = loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => break false,
            Ok(Ok(0) | Err(_)) => break true,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    };
    (closed, String::from_utf8_lossy(&got).into_owned())
}

/// Whether the peer closes the connection within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    read_until_closed(stream, within).await.0
}

async fn half_sent(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    stream
}

/// The embedded default serving on its own data directory, with one-second
/// head and body timeouts.
struct Listening {
    broker: SocketAddr,
    store: SocketAddr,
    admin: zeroize::Zeroizing<String>,
    _serving: sealdrop_server::Serving,
    _data_dir: tempfile::TempDir,
}

async fn listening() -> Listening {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: data_dir.path().to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        header_timeout_secs: 1,
        body_timeout_secs: 1,
        ..Config::default()
    };
    config.store.listen = "127.0.0.1:0".parse().unwrap();
    let mut deployment = Deployment::start(config).await.unwrap();
    let admin = deployment.take_first_login().unwrap();
    let broker = deployment.config().listen;
    let store = deployment.config().store.listen;
    Listening {
        broker,
        store,
        admin,
        _serving: deployment.spawn(None),
        _data_dir: data_dir,
    }
}

#[tokio::test]
async fn slow_request_heads_are_cut_off_on_both_listeners() {
    let Listening {
        broker,
        store,
        admin,
        ..
    } = &listening().await;
    let (broker, store) = (*broker, *store);

    for addr in [broker, store] {
        let mut slow = Vec::new();
        for _ in 0..100 {
            slow.push(half_sent(addr).await);
        }
        let mut silent = TcpStream::connect(addr).await.unwrap();
        for stream in &mut slow {
            assert!(
                closed_within(stream, Duration::from_secs(15)).await,
                "{addr}: a half-sent request head kept its connection"
            );
        }
        assert!(
            closed_within(&mut silent, Duration::from_secs(15)).await,
            "{addr}: a silent connection stayed open"
        );
    }

    // A complete head and then a body that goes quiet: the request fails
    // with a 4xx (the client's doing, not a server error) and the connection
    // closes. On the broker, a JSON route its user is allowed; on the store, the
    // presigned PUT that route hands out, so the store reads the body.
    let upload: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{broker}/api/v1/uploads"))
        .bearer_auth(admin.as_str())
        .json(&serde_json::json!({"name": "stalled", "size": 100, "mode": "sse"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let put = &upload["transfer"]["request"];
    let url = reqwest::Url::parse(put["url"].as_str().unwrap()).unwrap();
    let signed: String = put["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| format!("{name}: {}\r\n", value.as_str().unwrap()))
        .collect();
    let presigned_put = format!(
        "PUT {}?{} HTTP/1.1\r\nHost: {}\r\n{signed}\r\nab",
        url.path(),
        url.query().unwrap_or_default(),
        url.authority(),
    );
    let broker_post = format!(
        "POST /api/v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"na",
        admin.as_str()
    );
    for (addr, request) in [(broker, broker_post), (store, presigned_put)] {
        let mut stalled = TcpStream::connect(addr).await.unwrap();
        stalled.write_all(request.as_bytes()).await.unwrap();
        let (closed, answer) = read_until_closed(&mut stalled, Duration::from_secs(15)).await;
        assert!(
            closed,
            "{addr}: a stalled body kept its connection: {answer}"
        );
        assert!(answer.starts_with("HTTP/1.1 4"), "{addr}: {answer}");
    }

    // Ordinary requests are still served.
    let health = reqwest::get(format!("http://{broker}/healthz"))
        .await
        .unwrap();
    assert!(health.status().is_success());
}

/// This process's resident memory, in bytes (Linux `/proc/self/statm`).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Strangers with no credential cannot make a deployment grow: rounds of
/// half-sent heads, oversized heads, oversized bodies and made-up methods
/// against both listeners leave memory where the first round left it (the
/// deployment runs in this process, so its resident size is this process's).
#[tokio::test]
async fn abuse_without_credentials_leaves_memory_flat() {
    const MIB: u64 = 1024 * 1024;
    let deployment = listening().await;
    let (broker, store) = (deployment.broker, deployment.store);

    let oversized_head = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(MIB as usize)
    );
    let oversized_body = format!(
        "POST /api/v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{}",
        4 * MIB,
        " ".repeat(4 * MIB as usize)
    );
    let round = || async {
        for addr in [broker, store] {
            let mut held = Vec::new();
            for _ in 0..100 {
                held.push(half_sent(addr).await);
            }
            for request in [&oversized_head, &oversized_body] {
                for _ in 0..10 {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    // The server may answer and close before reading it all.
                    let _ = stream.write_all(request.as_bytes()).await;
                    held.push(stream);
                }
            }
            for i in 0..100 {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                let request = format!("MADEUP{i} /x HTTP/1.1\r\nHost: x\r\n\r\n");
                stream.write_all(request.as_bytes()).await.unwrap();
                held.push(stream);
            }
            for stream in &mut held {
                assert!(
                    closed_within(stream, Duration::from_secs(15)).await,
                    "{addr}: a connection stayed open"
                );
            }
        }
    };
    round().await;
    let after_first = resident_bytes();
    for _ in 0..4 {
        round().await;
    }
    let grown = resident_bytes().saturating_sub(after_first);
    eprintln!(
        "resident after the first round: {} MiB; grown over four more: {} KiB",
        after_first / MIB,
        grown / 1024
    );
    assert!(
        grown < 32 * MIB,
        "memory grew by {} MiB over four more rounds",
        grown / MIB
    );
    let health = reqwest::get(format!("http://{broker}/healthz"))
        .await
        .unwrap();
    assert!(health.status().is_success());
}
