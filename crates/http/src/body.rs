//! A request body that fails when its sender goes quiet: no frame for
//! [`crate::Limits::body_timeout`] while the service waits for one.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// Why a request body ended early.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The connection failed or the client sent a malformed body.
    #[error(transparent)]
    Connection(#[from] hyper::Error),
    /// No byte of the body arrived for this long.
    #[error("the request body stalled: nothing arrived for {0:?}")]
    Stalled(Duration),
}

/// `B`, failing with [`BodyError::Stalled`] when a wait for its next frame
/// lasts longer than `timeout`. The clock runs only while the service waits:
/// it starts at the first poll and restarts with every frame, so a slow
/// handler or a large body at a steady pace is never cut off, only silence.
pub struct IdleTimeout<B> {
    inner: B,
    timeout: Duration,
    /// Armed at the first poll.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<B> IdleTimeout<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, timeout: Duration) -> IdleTimeout<B> {
        IdleTimeout {
            inner,
            timeout,
            deadline: None,
        }
    }
}

impl<B> Body for IdleTimeout<B>
where
    B: Body<Error = hyper::Error> + Unpin,
{
    type Data = B::Data;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let timeout = this.timeout;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                deadline.as_mut().reset(Instant::now() + timeout);
                Poll::Ready(frame.map(|result| result.map_err(BodyError::from)))
            }
            Poll::Pending => match deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(BodyError::Stalled(timeout)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
