//! A response body that carries a value until the body is finished or dropped.
//!
//! A streamed response outlives its handler: the access log line, the latency and the
//! concurrency slot belong to the end of the body, not to the moment the headers left.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::response::Response;
use http_body::{Frame, SizeHint};

struct Guarded<G> {
    inner: Body,
    /// Dropped together with the body; its `Drop` is the point.
    _guard: G,
}

impl<G: Send + Unpin + 'static> HttpBody for Guarded<G> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `response` with `guard` dropped only when its body is done.
pub fn hold_until_body_ends<G: Send + Unpin + 'static>(response: Response, guard: G) -> Response {
    response.map(|inner| {
        Body::new(Guarded {
            inner,
            _guard: guard,
        })
    })
}
