//! HTTP/2 served through `h2` directly, so that one task per connection sends every watch on
//! it. Through hyper each response stream is its own task that takes the connection's lock
//! about six times per chunk (reset, capacity reservation, capacity, data); a write seen by a
//! thousand watches then woke a thousand tasks. Here an ordinary response is still a task of
//! its own, but a watch response hands its stream of chunks (a [`DetachableStream`]) to the
//! connection's task, which polls the watches that woke and writes each chunk with one call,
//! checking flow control once per [`UNCONFIRMED_LIMIT`] bytes. A watch whose client stops
//! reading is no longer polled once that much waits unsent, as through hyper. The settings
//! are kube-apiserver's, and responses get the `date` and `content-length` hyper (and Go's
//! server) add.

use super::tls::SHUTDOWN_GRACE;
use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, Stream, StreamExt};
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};
use http::{HeaderMap, HeaderValue, Method, Request, Response, header};
use hyper::body::{Body, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};

/// How much a response stream sends before it checks that its client is reading.
const UNCONFIRMED_LIMIT: usize = 64 * 1024;

/// A response body's chunks, boxed.
type Chunks = Pin<Box<dyn Stream<Item = Bytes> + Send + Sync>>;

/// A long-lived response body (a watch) that an HTTP/2 connection may take out of the response
/// and send from its own task. Whoever polls the body first claims it: over HTTP/1.1 (or when a
/// test calls the routes directly) the body is an ordinary stream.
#[derive(Clone)]
pub struct DetachableStream(Arc<Mutex<Option<Chunks>>>);

impl DetachableStream {
    /// A response whose body is `chunks`, detachable by an HTTP/2 connection.
    pub fn response(chunks: impl Stream<Item = Bytes> + Send + Sync + 'static) -> warp::reply::Response {
        let slot = DetachableStream(Arc::new(Mutex::new(Some(Box::pin(chunks)))));
        let body = ClaimedChunks { slot: Some(slot.clone()), chunks: None };
        let mut response = warp::reply::Reply::into_response(warp::reply::stream(body));
        response.extensions_mut().insert(slot);
        response
    }

    fn claim(&self) -> Option<Chunks> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
    }
}

/// `response` made to end when `shutdown` turns true, if it is a watch, as an HTTP/1.1
/// connection needs (an HTTP/2 connection ends the watches it sends itself): the chunked body
/// then ends cleanly between two events, and a graceful shutdown need not wait for it.
pub fn ending_at_shutdown(
    response: warp::reply::Response,
    mut shutdown: watch::Receiver<bool>,
) -> warp::reply::Response {
    let (mut parts, body) = response.into_parts();
    let Some(chunks) = parts.extensions.remove::<DetachableStream>().and_then(|slot| slot.claim()) else {
        return Response::from_parts(parts, body);
    };
    let stopped = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    let (_, body) = DetachableStream::response(chunks.take_until(stopped)).into_parts();
    Response::from_parts(parts, body)
}

/// The ordinary body of a detachable response: claims the chunks on its first poll.
struct ClaimedChunks {
    slot: Option<DetachableStream>,
    chunks: Option<Chunks>,
}

impl Stream for ClaimedChunks {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(slot) = this.slot.take() {
            this.chunks = slot.claim();
        }
        let Some(chunks) = this.chunks.as_mut() else { return Poll::Ready(None) };
        chunks.as_mut().poll_next(cx).map(|chunk| chunk.map(Ok))
    }
}

/// A request body read from an HTTP/2 stream, returning flow-control credit as it is read.
pub struct RequestBody {
    recv: RecvStream,
    /// What the `content-length` header says is still to come.
    remaining: Option<u64>,
    data_done: bool,
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        if !self.data_done {
            match ready!(self.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    self.remaining = self.remaining.map(|remaining| remaining.saturating_sub(data.len() as u64));
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                // A client may reset the stream with NO_ERROR once it has sent what it meant to.
                Some(Err(error)) if error.reason() == Some(h2::Reason::NO_ERROR) => return Poll::Ready(None),
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None => self.data_done = true,
            }
        }
        self.recv.poll_trailers(cx).map(|trailers| trailers.transpose().map(|t| t.map(Frame::trailers)))
    }

    fn is_end_stream(&self) -> bool {
        self.recv.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(remaining) => SizeHint::with_exact(remaining),
            None if self.recv.is_end_stream() => SizeHint::with_exact(0),
            None => SizeHint::default(),
        }
    }
}

/// Serves HTTP/2 on `io` (whose preface has not been read) with `service` until the client
/// goes or `shutdown` turns true; then it ends its watches, stops taking streams and returns
/// once the other streams have ended.
pub async fn serve_connection<IO, S, F>(io: IO, service: S, mut shutdown: watch::Receiver<bool>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Fn(Request<RequestBody>) -> F + Clone + Send + 'static,
    F: Future<Output = warp::reply::Response> + Send + 'static,
{
    let mut connection = match server_builder().handshake::<_, Bytes>(io).await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::debug!(%error, "HTTP/2 handshake failed");
            return;
        }
    };
    let (adopt, mut adopted) = mpsc::unbounded_channel::<WatchPump>();
    let mut pumps = FuturesUnordered::new();
    let mut closing = false;
    // Set at shutdown: past it, streams that have not ended (a client that stopped reading
    // never takes its END_STREAM) are cut off with the connection.
    let mut deadline = std::pin::pin!(tokio::time::sleep(Duration::MAX));
    let mut cut_off = false;
    // A server that is gone without saying so stops too.
    let mut stop = *shutdown.borrow_and_update();
    loop {
        if stop && !closing {
            closing = true;
            connection.graceful_shutdown();
            // Watches end when the server stops, as kube-apiserver ends them; the other
            // streams may finish.
            pumps.iter_mut().for_each(WatchPump::finish);
            pumps.clear();
            deadline.as_mut().reset(tokio::time::Instant::now() + SHUTDOWN_GRACE);
        }
        // The watches first: their writes are then flushed by `accept`, which drives the socket.
        tokio::select! {
            biased;
            Some(mut pump) = adopted.recv() => {
                if closing { pump.finish() } else { pumps.push(pump) }
            }
            Some(()) = pumps.next(), if !pumps.is_empty() => {}
            changed = shutdown.changed(), if !closing => stop = changed.is_err() || *shutdown.borrow(),
            () = &mut deadline, if closing && !cut_off => {
                cut_off = true;
                connection.abrupt_shutdown(h2::Reason::NO_ERROR);
            }
            accepted = connection.accept() => match accepted {
                Some(Ok((request, respond))) => {
                    tokio::spawn(respond_to(service.clone(), request, respond, adopt.clone()));
                }
                Some(Err(error)) => {
                    tracing::debug!(%error, "HTTP/2 connection ended with an error");
                    break;
                }
                None => break,
            },
        }
    }
}

/// kube-apiserver's HTTP/2 settings (`SecureServingInfo.Serve`): 100 concurrent streams,
/// 256 KiB frames and per-stream upload window, a connection window for all 100 streams, and
/// headers up to 1 MiB (its `MaxHeaderBytes`).
fn server_builder() -> h2::server::Builder {
    const RESOURCE_BODY_99TH_PERCENTILE: u32 = 256 * 1024;
    const MAX_CONCURRENT_STREAMS: u32 = 100;
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .initial_window_size(RESOURCE_BODY_99TH_PERCENTILE)
        .initial_connection_window_size(RESOURCE_BODY_99TH_PERCENTILE * MAX_CONCURRENT_STREAMS)
        .max_frame_size(RESOURCE_BODY_99TH_PERCENTILE)
        .max_header_list_size(1024 * 1024)
        .max_send_buffer_size(400 * 1024)
        .max_local_error_reset_streams(Some(1024));
    builder
}

/// Calls the service for one stream and sends its response: a detachable body goes to the
/// connection's task, any other is sent from here.
async fn respond_to<S, F>(
    service: S,
    request: Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    adopt: mpsc::UnboundedSender<WatchPump>,
) where
    S: Fn(Request<RequestBody>) -> F,
    F: Future<Output = warp::reply::Response>,
{
    let (parts, recv) = request.into_parts();
    let remaining =
        parts.headers.get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    let head_only = parts.method == Method::HEAD;
    let request = Request::from_parts(parts, RequestBody { recv, remaining, data_done: false });
    // As hyper does, a client that resets the stream cancels the request.
    let mut call = std::pin::pin!(service(request));
    let answered = std::future::poll_fn(|cx| match call.as_mut().poll(cx) {
        Poll::Ready(response) => Poll::Ready(Some(response)),
        Poll::Pending => respond.poll_reset(cx).map(|_| None),
    });
    let Some(response) = answered.await else { return };
    let (mut head, body) = response.into_parts();
    let detached = head.extensions.remove::<DetachableStream>().and_then(|slot| slot.claim());
    let ends_here = head_only || (detached.is_none() && body.is_end_stream());
    let length = if ends_here || detached.is_some() { None } else { body.size_hint().exact() };
    prepare_headers(&mut head.headers, length);
    let send = match respond.send_response(Response::from_parts(head, ()), ends_here) {
        Ok(send) => send,
        Err(error) => {
            tracing::debug!(%error, "sending response headers failed");
            respond.send_reset(h2::Reason::INTERNAL_ERROR);
            return;
        }
    };
    if ends_here {
        return;
    }
    let outbound = Outbound::new(send);
    match detached {
        Some(chunks) => {
            let _ = adopt.send(WatchPump::new(chunks, outbound));
        }
        None => send_body(body, outbound).await,
    }
}

/// Drops what HTTP/2 forbids (connection-specific fields, and those `connection` names) and
/// adds what hyper adds: `date`, and `content-length` when the body's `length` is known.
fn prepare_headers(headers: &mut HeaderMap, length: Option<u64>) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    for name in named.iter().map(String::as_str).chain([
        "connection",
        "transfer-encoding",
        "upgrade",
        "keep-alive",
        "proxy-connection",
        "te",
    ]) {
        headers.remove(name);
    }
    if !headers.contains_key(header::DATE) {
        let now = httpdate::fmt_http_date(std::time::SystemTime::now());
        headers.insert(header::DATE, HeaderValue::from_str(&now).expect("an HTTP date is a valid header"));
    }
    if let Some(length) = length
        && !headers.contains_key(header::CONTENT_LENGTH)
    {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
}

/// A response stream's sending half, and how much it sent since the client last had room.
struct Outbound {
    send: SendStream<Bytes>,
    unconfirmed: usize,
}

impl Outbound {
    fn new(send: SendStream<Bytes>) -> Outbound {
        Outbound { send, unconfirmed: 0 }
    }

    /// Ready(true) when more may be sent: fewer than [`UNCONFIRMED_LIMIT`] bytes went out since
    /// the stream last had flow-control room to spare, or it has room again; Ready(false) if the
    /// stream is gone. Room is asked for one byte at a time and given back, so an idle stream
    /// holds none of the connection's window; h2 sends (and takes credit for) the data itself.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        if self.unconfirmed < UNCONFIRMED_LIMIT {
            return Poll::Ready(true);
        }
        self.send.reserve_capacity(1);
        if self.send.capacity() == 0 {
            match ready!(self.send.poll_capacity(cx)) {
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Poll::Ready(false),
            }
        }
        // The window covers what is buffered: give the byte back, so that no idle stream holds
        // any of the connection's window (hyper#4003).
        self.send.reserve_capacity(0);
        self.unconfirmed = 0;
        Poll::Ready(true)
    }

    /// Sends `data` (h2 buffers it until the window allows); false if the stream is gone.
    fn send(&mut self, data: Bytes, end_of_stream: bool) -> bool {
        self.unconfirmed += data.len();
        self.send.send_data(data, end_of_stream).is_ok()
    }
}

/// Sends an ordinary body, frame by frame, pausing while its client does not read; a client
/// that resets the stream ends it.
async fn send_body<B>(body: B, mut outbound: Outbound)
where
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let mut body = std::pin::pin!(body);
    while std::future::poll_fn(|cx| outbound.poll_ready(cx)).await {
        let next = std::future::poll_fn(|cx| match body.as_mut().poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(Some(frame)),
            Poll::Pending => outbound.send.poll_reset(cx).map(|_| None),
        });
        let Some(frame) = next.await else { return };
        match frame {
            None => {
                outbound.send(Bytes::new(), true);
                return;
            }
            Some(Err(error)) => {
                tracing::debug!(%error, "a response body failed");
                outbound.send.send_reset(h2::Reason::INTERNAL_ERROR);
                return;
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    if !outbound.send(data, body.is_end_stream()) || body.is_end_stream() {
                        return;
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        let _ = outbound.send.send_trailers(trailers);
                        return;
                    }
                }
            },
        }
    }
}

/// A watch sent by its connection's task: its chunks go out as they come, while its client reads.
struct WatchPump {
    chunks: Chunks,
    outbound: Outbound,
    /// Whether it waits for its client to read.
    stalled: bool,
}

impl WatchPump {
    fn new(chunks: Chunks, outbound: Outbound) -> WatchPump {
        WatchPump { chunks, outbound, stalled: false }
    }

    /// Ends the watch's stream where it is; one whose client stopped reading would never take
    /// its end, so it is reset.
    fn finish(&mut self) {
        if self.stalled {
            self.outbound.send.send_reset(h2::Reason::CANCEL);
        } else {
            self.outbound.send(Bytes::new(), true);
        }
    }
}

impl Future for WatchPump {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let pump = self.get_mut();
        loop {
            pump.stalled = false;
            match pump.outbound.poll_ready(cx) {
                Poll::Ready(true) => {}
                Poll::Ready(false) => return Poll::Ready(()),
                Poll::Pending => {
                    pump.stalled = true;
                    return Poll::Pending;
                }
            }
            match pump.chunks.as_mut().poll_next(cx) {
                Poll::Ready(Some(chunk)) => {
                    if !pump.outbound.send(chunk, false) {
                        return Poll::Ready(());
                    }
                }
                Poll::Ready(None) => {
                    pump.outbound.send(Bytes::new(), true);
                    return Poll::Ready(());
                }
                // A client that cancels an idle watch resets its stream: be woken for that too.
                Poll::Pending => return pump.outbound.send.poll_reset(cx).map(|_| ()),
            }
        }
    }
}
