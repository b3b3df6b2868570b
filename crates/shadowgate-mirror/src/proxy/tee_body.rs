//! A body that streams through unchanged while keeping a copy of its first bytes.
//!
//! The primary receives every frame as soon as it arrives; the copy is only a list of
//! reference-counted `Bytes`, so teeing costs no copy until the body ends. When the stream ends
//! (or is dropped before its end) a completion callback runs once. Callbacks only hand the copy
//! to a queue: they run inside the primary's poll and must never block it.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};

/// How a tee'd body ended.
pub(crate) enum CaptureEnd {
    /// The body ended normally; `body` holds at most the cap, and `truncated` says whether more
    /// was sent.
    Complete { body: Bytes, truncated: bool },
    /// The stream failed or was abandoned before its end.
    Incomplete,
}

pub(crate) type CaptureCallback = Box<dyn FnOnce(CaptureEnd) + Send>;

/// The capture half of a [`TeeBody`].
pub(crate) struct BodyCapture {
    chunks: Vec<Bytes>,
    n_bytes: usize,
    limit: usize,
    truncated: bool,
    on_end: Option<CaptureCallback>,
}

impl BodyCapture {
    pub(crate) fn new(limit: usize, on_end: CaptureCallback) -> BodyCapture {
        BodyCapture {
            chunks: Vec::new(),
            n_bytes: 0,
            limit,
            truncated: false,
            on_end: Some(on_end),
        }
    }

    fn push(&mut self, data: &Bytes) {
        if self.truncated {
            return;
        }
        let room = self.limit - self.n_bytes;
        if data.len() > room {
            self.truncated = true;
            if room > 0 {
                self.chunks.push(data.slice(..room));
                self.n_bytes += room;
            }
            return;
        }
        self.n_bytes += data.len();
        self.chunks.push(data.clone());
    }

    fn finish(&mut self, complete: bool) {
        let Some(on_end) = self.on_end.take() else {
            return;
        };
        if !complete {
            on_end(CaptureEnd::Incomplete);
            return;
        }
        let chunks = std::mem::take(&mut self.chunks);
        let body = match chunks.len() {
            0 => Bytes::new(),
            1 => chunks.into_iter().next().unwrap_or_default(),
            _ => {
                let mut joined = BytesMut::with_capacity(self.n_bytes);
                for chunk in chunks {
                    joined.extend_from_slice(&chunk);
                }
                joined.freeze()
            }
        };
        on_end(CaptureEnd::Complete { body, truncated: self.truncated });
    }
}

/// A body that forwards `inner` and, when capturing, copies it into a [`BodyCapture`].
pub(crate) struct TeeBody<B> {
    inner: B,
    capture: Option<BodyCapture>,
}

impl<B: Body<Data = Bytes> + Unpin> TeeBody<B> {
    /// A body that only forwards.
    pub(crate) fn plain(inner: B) -> TeeBody<B> {
        TeeBody { inner, capture: None }
    }

    /// A body that forwards and captures. An already finished body (no body at all) completes
    /// the capture at once, because hyper never polls such a body.
    pub(crate) fn capturing(inner: B, mut capture: BodyCapture) -> TeeBody<B> {
        if inner.is_end_stream() {
            capture.finish(true);
        }
        TeeBody { inner, capture: Some(capture) }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for TeeBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Some(capture) = this.capture.as_mut() {
            match &polled {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        capture.push(data);
                    }
                    if this.inner.is_end_stream() {
                        capture.finish(true);
                    }
                }
                Poll::Ready(None) => capture.finish(true),
                Poll::Ready(Some(Err(_))) => capture.finish(false),
                Poll::Pending => {}
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for TeeBody<B> {
    fn drop(&mut self) {
        if let Some(capture) = self.capture.as_mut() {
            capture.finish(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        collections::VecDeque,
        convert::Infallible,
        sync::{Arc, Mutex},
    };

    use http_body_util::BodyExt;

    use super::*;

    /// A body made of fixed chunks that reports its end as soon as the last chunk is taken,
    /// as hyper's `Incoming` does for a body with a Content-Length.
    struct Chunks(VecDeque<Bytes>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.get_mut().0.pop_front().map(|chunk| Ok(Frame::data(chunk))))
        }

        fn is_end_stream(&self) -> bool {
            self.0.is_empty()
        }
    }

    fn chunks(parts: &[&'static str]) -> Chunks {
        Chunks(parts.iter().map(|part| Bytes::from_static(part.as_bytes())).collect())
    }

    fn logging_capture(limit: usize) -> (Arc<Mutex<Vec<String>>>, BodyCapture) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let capture = BodyCapture::new(
            limit,
            Box::new(move |end| {
                let entry = match end {
                    CaptureEnd::Complete { body, truncated } => {
                        format!("{}:{truncated}", String::from_utf8_lossy(&body))
                    }
                    CaptureEnd::Incomplete => "incomplete".to_owned(),
                };
                sink.lock().unwrap().push(entry);
            }),
        );
        (log, capture)
    }

    #[tokio::test]
    async fn forwards_everything_and_captures_up_to_the_limit_once() {
        let (log, capture) = logging_capture(7);
        let body = TeeBody::capturing(chunks(&["hello ", "big ", "world"]), capture);
        let forwarded = body.collect().await.unwrap().to_bytes();
        assert_eq!(forwarded, "hello big world");
        assert_eq!(*log.lock().unwrap(), ["hello b:true"]);
    }

    #[tokio::test]
    async fn an_empty_body_completes_at_once_and_an_abandoned_one_reports_incomplete() {
        let (log, capture) = logging_capture(100);
        let empty = TeeBody::capturing(chunks(&[]), capture);
        assert_eq!(*log.lock().unwrap(), [":false"]);
        drop(empty);
        assert_eq!(log.lock().unwrap().len(), 1, "the callback runs once");

        let (log, capture) = logging_capture(100);
        let mut partial = TeeBody::capturing(chunks(&["a", "b"]), capture);
        let first = partial.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "a");
        drop(partial);
        assert_eq!(*log.lock().unwrap(), ["incomplete"]);
    }
}
