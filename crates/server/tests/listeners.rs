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

/// Whether the peer closes the connection within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 512];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

async fn half_sent(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    stream
}

#[tokio::test]
async fn slow_request_heads_are_cut_off_on_both_listeners() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: data_dir.path().to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        header_timeout_secs: 1,
        ..Config::default()
    };
    config.store.listen = "127.0.0.1:0".parse().unwrap();
    let deployment = Deployment::start(config).await.unwrap();
    let broker = deployment.config().listen;
    let store = deployment.config().store.listen;
    let _serving = deployment.spawn(None);

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

    // Ordinary requests are still served.
    let health = reqwest::get(format!("http://{broker}/healthz"))
        .await
        .unwrap();
    assert!(health.status().is_success());
}
