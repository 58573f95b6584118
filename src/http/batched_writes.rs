//! Write batching for HTTP/2 connections. Each watch stream is its own task; when one write
//! wakes a thousand watchers, each hands its event to the connection task, and tokio runs that
//! task straight after each of them, so without batching every event became its own TLS record
//! and system call. [`BatchedWrites`] keeps what the connection writes in memory and answers a
//! flush by scheduling the connection task again, behind the watch tasks already queued: the
//! next time the connection polls its socket for reading (which h2 does first on every poll),
//! everything buffered goes out in one write, unless the batch is still growing, in which case
//! it waits one more round (at most [`MAX_DEFERRALS`] in a row). Socket back-pressure still
//! applies: past [`HIGH_WATER`] bytes, or while the socket is full, writes wait for it as usual.

use bytes::{Buf, BytesMut};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Buffered bytes past which writes go to the socket at once.
pub const HIGH_WATER: usize = 256 * 1024;

/// How many polls in a row a batch that keeps growing may be held back.
const MAX_DEFERRALS: u32 = 8;

/// An I/O stream whose writes are gathered until the connection's next poll (when `batching`)
/// or passed straight through (when not: HTTP/1.1 answers one request at a time).
pub struct BatchedWrites<IO> {
    inner: IO,
    batching: bool,
    pending: BytesMut,
    /// A wake-up to send `pending` is scheduled and has not been acted on yet.
    wake_scheduled: bool,
    /// The last attempt to send `pending` found the socket full; its readiness will wake us.
    blocked: bool,
    /// How much was pending when the connection last polled for reading.
    length_at_last_poll: usize,
    /// Polls the current batch has been held back for while it kept growing.
    deferrals: u32,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> BatchedWrites<IO> {
    pub fn new(inner: IO, batching: bool) -> Self {
        BatchedWrites {
            inner,
            batching,
            pending: BytesMut::new(),
            wake_scheduled: false,
            blocked: false,
            length_at_last_poll: 0,
            deferrals: 0,
        }
    }

    pub fn get_ref(&self) -> &IO {
        &self.inner
    }

    /// Sends everything buffered, then flushes the stream underneath.
    fn poll_send_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.pending) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(written)) => self.pending.advance(written),
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => {
                    self.blocked = true;
                    return Poll::Pending;
                }
            }
        }
        self.blocked = false;
        let flushed = Pin::new(&mut self.inner).poll_flush(cx);
        self.blocked = flushed.is_pending();
        flushed
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for BatchedWrites<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.batching && (!this.pending.is_empty() || this.wake_scheduled) {
            let still_growing = this.pending.len() > this.length_at_last_poll;
            if still_growing && this.deferrals < MAX_DEFERRALS && this.pending.len() < HIGH_WATER {
                // Other streams are still adding to the batch: give them another round.
                this.deferrals += 1;
                this.length_at_last_poll = this.pending.len();
                cx.waker().wake_by_ref();
            } else {
                this.wake_scheduled = false;
                this.deferrals = 0;
                // A full socket is not a reason to stop reading; its readiness wakes us to go on.
                if let Poll::Ready(Err(error)) = this.poll_send_pending(cx) {
                    return Poll::Ready(Err(error));
                }
                this.length_at_last_poll = this.pending.len();
            }
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for BatchedWrites<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.batching {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        if this.pending.len() >= HIGH_WATER {
            ready!(this.poll_send_pending(cx))?;
        }
        this.pending.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buffers: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.batching {
            return Pin::new(&mut this.inner).poll_write_vectored(cx, buffers);
        }
        if this.pending.len() >= HIGH_WATER {
            ready!(this.poll_send_pending(cx))?;
        }
        let mut total = 0;
        for buffer in buffers {
            this.pending.extend_from_slice(buffer);
            total += buffer.len();
        }
        Poll::Ready(Ok(total))
    }

    fn is_write_vectored(&self) -> bool {
        self.batching || self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.batching || this.pending.is_empty() || this.blocked || this.pending.len() >= HIGH_WATER {
            return this.poll_send_pending(cx);
        }
        // Report the flush done and come back for it once the tasks queued now have run.
        if !this.wake_scheduled {
            this.wake_scheduled = true;
            cx.waker().wake_by_ref();
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::task::{Wake, Waker};

    /// Records each write it is given; reads never have data.
    #[derive(Default)]
    struct RecordingIo {
        writes: Vec<Vec<u8>>,
        flushes: usize,
    }

    impl AsyncRead for RecordingIo {
        fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, _: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    impl AsyncWrite for RecordingIo {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            self.get_mut().writes.push(buf.to_vec());
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.get_mut().flushes += 1;
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[derive(Default)]
    struct CountingWaker(Mutex<usize>);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            *self.0.lock().unwrap() += 1;
        }
    }

    fn write_and_flush(io: &mut BatchedWrites<RecordingIo>, cx: &mut Context<'_>, bytes: &[u8]) {
        assert!(matches!(Pin::new(&mut *io).poll_write(cx, bytes), Poll::Ready(Ok(n)) if n == bytes.len()));
        assert!(matches!(Pin::new(&mut *io).poll_flush(cx), Poll::Ready(Ok(()))));
    }

    fn poll_read(io: &mut BatchedWrites<RecordingIo>, cx: &mut Context<'_>) {
        let mut storage = [0u8; 8];
        assert!(Pin::new(io).poll_read(cx, &mut ReadBuf::new(&mut storage)).is_pending());
    }

    #[test]
    fn flushes_are_held_until_the_batch_stops_growing_then_sent_in_one_write() {
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut io = BatchedWrites::new(RecordingIo::default(), true);
        write_and_flush(&mut io, &mut cx, b"first ");
        write_and_flush(&mut io, &mut cx, b"second");
        assert!(io.inner.writes.is_empty(), "nothing reaches the socket within the poll");
        assert_eq!(*counter.0.lock().unwrap(), 1, "one wake-up is scheduled for both flushes");
        poll_read(&mut io, &mut cx);
        assert!(io.inner.writes.is_empty(), "the batch grew since the last poll: one more round");
        assert_eq!(*counter.0.lock().unwrap(), 2);
        write_and_flush(&mut io, &mut cx, b" third");
        poll_read(&mut io, &mut cx);
        assert!(io.inner.writes.is_empty(), "still growing");
        poll_read(&mut io, &mut cx);
        assert_eq!(io.inner.writes, vec![b"first second third".to_vec()], "quiet for a round: sent at once");
        assert_eq!(io.inner.flushes, 1);
        let wakes = *counter.0.lock().unwrap();
        write_and_flush(&mut io, &mut cx, b"fourth");
        assert_eq!(*counter.0.lock().unwrap(), wakes + 1, "a later poll schedules a new wake-up");
    }

    #[test]
    fn a_batch_that_never_stops_growing_is_still_sent() {
        let waker = Waker::from(Arc::new(CountingWaker::default()));
        let mut cx = Context::from_waker(&waker);
        let mut io = BatchedWrites::new(RecordingIo::default(), true);
        let mut polls = 0;
        while io.inner.writes.is_empty() {
            write_and_flush(&mut io, &mut cx, b"more ");
            poll_read(&mut io, &mut cx);
            polls += 1;
            assert!(polls <= MAX_DEFERRALS + 1, "held back past the limit");
        }
    }

    #[test]
    fn without_batching_writes_pass_straight_through() {
        let waker = Waker::from(Arc::new(CountingWaker::default()));
        let mut cx = Context::from_waker(&waker);
        let mut io = BatchedWrites::new(RecordingIo::default(), false);
        write_and_flush(&mut io, &mut cx, b"one");
        write_and_flush(&mut io, &mut cx, b"two");
        assert_eq!(io.inner.writes, vec![b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(io.inner.flushes, 2);
    }

    #[test]
    fn past_the_high_water_mark_a_flush_writes_at_once_and_shutdown_sends_the_rest() {
        let waker = Waker::from(Arc::new(CountingWaker::default()));
        let mut cx = Context::from_waker(&waker);
        let mut io = BatchedWrites::new(RecordingIo::default(), true);
        write_and_flush(&mut io, &mut cx, &vec![b'x'; HIGH_WATER]);
        assert_eq!(io.inner.writes.len(), 1);
        assert!(matches!(Pin::new(&mut io).poll_write(&mut cx, b"tail"), Poll::Ready(Ok(4))));
        assert!(matches!(Pin::new(&mut io).poll_shutdown(&mut cx), Poll::Ready(Ok(()))));
        assert_eq!(io.inner.writes.last().map(Vec::as_slice), Some(&b"tail"[..]));
    }
}
