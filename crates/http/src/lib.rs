//! # sealdrop-http
//!
//! The accept loop of both sealdrop listeners (the broker and the embedded
//! store), with the limits a service reachable by strangers needs:
//!
//! - **a connection cap**: at most [`Limits::max_connections`] connections are
//!   served at once; further ones wait in the kernel's backlog until one ends;
//! - **a header timeout**: a connection that has not sent a complete request
//!   head within [`Limits::header_timeout`] — a slow client sending half a
//!   header, or a kept-alive connection with no next request — is closed;
//! - **a body idle timeout**: a request body from which nothing arrives for
//!   [`Limits::body_timeout`] while the service waits fails
//!   ([`body::IdleTimeout`]) and its connection closes. Bodies are timed by
//!   silence, not in total: the store streams bodies of gigabytes at whatever
//!   steady pace a client has.
//!
//! Without them, a few hundred sockets that each send half a request header,
//! or a header and then a trickle of nothing, hold the process's connections
//! (and file descriptors) forever, without any credential.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod body;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::{Service, service_fn};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::body::IdleTimeout;

/// The address a request's connection came from, in every request's
/// extensions (the peer of the TCP connection: behind a reverse proxy, the
/// proxy's address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::SocketAddr);

/// How many connections, and how long a request head may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time to receive a complete request head (also the idle time allowed
    /// between requests on a kept-alive connection). A new connection gets it
    /// twice at most: once for its first byte, which tells the protocol, and
    /// once more from there for the rest of the head.
    pub header_timeout: Duration,
    /// How long a request body may send nothing while the service waits for
    /// it.
    pub body_timeout: Duration,
    /// How long a graceful shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(20),
            body_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves `service` on `listener` within `limits` until `shutdown` completes,
/// then lets requests in flight finish (up to [`Limits::shutdown_grace`]).
/// The service sees every request body through [`body::IdleTimeout`].
///
/// # Errors
/// An accept error other than a transient one (a reset connection, running out
/// of file descriptors for a moment): those are logged and retried.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    S: Service<Request<IdleTimeout<Incoming>>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // the semaphore is never closed
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_transient(&e) => {
                    tracing::warn!(error = %e, "accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Err(e) => return Err(e),
            },
            () = &mut shutdown => break,
        };
        let builder = builder.clone();
        let service = service.clone();
        let service = service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ClientAddr(peer));
            service.call(request.map(|body| IdleTimeout::new(body, limits.body_timeout)))
        });
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // The protocol is told from the first bytes, which hyper would
            // wait for without a limit: a connection that sends nothing within
            // the header timeout is closed here.
            let mut first = [0u8; 1];
            match tokio::time::timeout(limits.header_timeout, stream.peek(&mut first)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
            let connection = builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after the shutdown grace period");
    }
    Ok(())
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock | TimedOut
    ) || e.raw_os_error().is_some_and(|c| c == 23 || c == 24) // ENFILE, EMFILE
}
