//! The limits against real sockets: slow clients are cut off, the connection
//! cap holds further connections back, ordinary clients are served.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use sealdrop_http::body::IdleTimeout;
use sealdrop_http::{Limits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn start(limits: Limits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Reads the whole body: "ok" for none, its length for one, 408 and the
    // reason when it fails.
    let service = service_fn(|request: Request<IdleTimeout<Incoming>>| async {
        let answer = match request.into_body().collect().await.map(|b| b.to_bytes()) {
            Ok(body) if body.is_empty() => Response::new(Full::<Bytes>::from("ok")),
            Ok(body) => Response::new(Full::<Bytes>::from(body.len().to_string())),
            Err(e) => {
                let mut answer = Response::new(Full::<Bytes>::from(e.to_string()));
                *answer.status_mut() = StatusCode::REQUEST_TIMEOUT;
                answer
            }
        };
        Ok::<_, Infallible>(answer)
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, service, limits, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/// Reads until the peer closes or `within` passes; whether it closed, and what came.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (bool, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (false, got),
            Ok(Ok(0) | Err(_)) => return (true, got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn half_sent_headers_and_idle_connections_are_closed() {
    let (addr, _stop) = start(Limits {
        header_timeout: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow:")
            .await
            .unwrap();
        slow.push(stream);
    }
    let mut idle = TcpStream::connect(addr).await.unwrap();
    for stream in &mut slow {
        let (closed, _) = read_until_closed(stream, Duration::from_secs(10)).await;
        assert!(closed, "a half-sent header kept its connection");
    }
    let (closed, _) = read_until_closed(&mut idle, Duration::from_secs(10)).await;
    assert!(closed, "an idle connection stayed open");
}

#[tokio::test]
async fn ordinary_clients_are_served_on_kept_alive_connections() {
    let (addr, _stop) = start(Limits::default()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    for _ in 0..3 {
        stream.write_all(REQUEST).await.unwrap();
        let mut buf = vec![0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("ok"), "{answer}");
    }
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    let (addr, _stop) = start(Limits {
        max_connections: 2,
        header_timeout: Duration::from_secs(60),
        ..Limits::default()
    })
    .await;
    let first = TcpStream::connect(addr).await.unwrap();
    let _second = TcpStream::connect(addr).await.unwrap();
    // Give the server time to take both.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(REQUEST).await.unwrap();
    let (_, got) = read_until_closed(&mut third, Duration::from_millis(500)).await;
    assert!(got.is_empty(), "served beyond the cap");
    drop(first);
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), third.read(&mut buf))
        .await
        .expect("served once a connection ended")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_body_that_goes_quiet_is_cut_off_and_a_steady_one_is_not() {
    let (addr, _stop) = start(Limits {
        body_timeout: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let head = b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n";

    // Three bytes of ten, then silence: the request fails, the slot is freed.
    let mut quiet = TcpStream::connect(addr).await.unwrap();
    quiet.write_all(head).await.unwrap();
    quiet.write_all(b"abc").await.unwrap();
    let (closed, got) = read_until_closed(&mut quiet, Duration::from_secs(10)).await;
    let answer = String::from_utf8_lossy(&got);
    assert!(closed, "a stalled body kept its connection: {answer}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("stalled"), "{answer}");

    // Ten bytes over about a second, one every 100 ms: far longer than the
    // timeout in all, never silent for it.
    let mut steady = TcpStream::connect(addr).await.unwrap();
    steady.write_all(head).await.unwrap();
    for byte in b"0123456789" {
        tokio::time::sleep(Duration::from_millis(100)).await;
        steady.write_all(&[*byte]).await.unwrap();
    }
    let mut buf = vec![0u8; 1024];
    let n = steady.read(&mut buf).await.unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("10"), "{answer}");
}
