//! HTTP/2 as client-go speaks it to the server: many watches multiplexed on one connection,
//! a watch whose client stops reading, bodies larger than the flow-control windows, a
//! cancelled watch, and shutdown with watches open. Driven with hyper's HTTP/2 client over
//! TLS with the admin certificate, as the informers of one process share a connection; and
//! shutdown with a watch open over HTTP/1.1, as the Python client and kube-rs watch.

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Method, StatusCode, header};
use http_body_util::{BodyExt, BodyStream, Full};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kubetwin::server::{Server, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

const NAMESPACE: &str = "default";
const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";
const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";

async fn start_server() -> Server {
    Server::start(ServerConfig { secure_port: 0, ..ServerConfig::default() }).await.expect("the server starts")
}

/// A TLS connection to `server` with the admin certificate, offering `protocol` by ALPN.
async fn tls_connection(server: &Server, protocol: &[u8]) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let pki = server.pki();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pki.ca_cert_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("trusting the CA");
    }
    let chain = CertificateDer::pem_slice_iter(pki.admin.cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_slice(pki.admin.key_pem.as_bytes()).expect("client key PEM");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client certificate");
    tls.alpn_protocols = vec![protocol.to_vec()];
    let address = server.address();
    let tcp = tokio::net::TcpStream::connect(address).await.expect("connecting");
    tcp.set_nodelay(true).expect("TCP_NODELAY");
    let stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(ServerName::IpAddress(address.ip().into()), tcp)
        .await
        .expect("TLS handshake");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(protocol), "the server speaks it");
    stream
}

/// An HTTP/2 connection to `server` with the admin certificate, and the task that drives it
/// (it ends when the connection closes); `stream_window` is what each stream may receive
/// before the client reads it.
async fn connect(server: &Server, stream_window: u32) -> (SendRequest<Full<Bytes>>, JoinHandle<()>) {
    let stream = tls_connection(server, b"h2").await;
    let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(stream_window)
        .handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/2 handshake");
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    (sender, driver)
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> hyper::Response<hyper::body::Incoming> {
    let body = body.map(|body| Bytes::from(body.to_string())).unwrap_or_default();
    let request = hyper::Request::builder()
        .method(method)
        .uri(format!("https://127.0.0.1{path}"))
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .unwrap();
    sender.ready().await.expect("connection ready");
    sender.send_request(request).await.expect("a response")
}

fn configmap(name: &str, filler_bytes: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NAMESPACE},
           "data": {"filler": "x".repeat(filler_bytes)}})
}

async fn create(sender: &mut SendRequest<Full<Bytes>>, name: &str, filler_bytes: usize) {
    let response = send(sender, Method::POST, CONFIGMAPS, Some(configmap(name, filler_bytes))).await;
    let status = response.status();
    let body = response.into_body().collect().await.expect("the body").to_bytes();
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
}

/// Opens a watch of the ConfigMaps from now on.
async fn watch(sender: &mut SendRequest<Full<Bytes>>) -> WatchEvents {
    let response = send(sender, Method::GET, &format!("{CONFIGMAPS}?watch=true&resourceVersion=0"), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    WatchEvents { body: BodyStream::new(response.into_body()), buffered: Vec::new() }
}

/// The events of one watch, read as the client chooses to.
struct WatchEvents {
    body: BodyStream<hyper::body::Incoming>,
    buffered: Vec<u8>,
}

impl WatchEvents {
    /// The next `count` events as `(type, name)`, within ten seconds, leaving out the CA bundle
    /// ConfigMap the server publishes.
    async fn next(&mut self, count: usize) -> Vec<(String, String)> {
        let mut events = Vec::new();
        let read = async {
            while events.len() < count {
                if let Some(end) = self.buffered.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = self.buffered.drain(..=end).collect();
                    let event: Value = serde_json::from_slice(&line).expect("a WatchEvent per line");
                    let name = event["object"]["metadata"]["name"].as_str().unwrap_or_default().to_string();
                    if name == ROOT_CA_CONFIGMAP {
                        continue;
                    }
                    events.push((event["type"].as_str().unwrap_or_default().to_string(), name));
                    continue;
                }
                let frame = self.body.next().await.expect("the watch is open").expect("a frame");
                if let Ok(data) = frame.into_data() {
                    self.buffered.extend_from_slice(&data);
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read).await.expect("the events arrive");
        events
    }

    /// Whether the server ends the stream cleanly (END_STREAM, no reset) within `within`.
    async fn ends_within(mut self, within: Duration) -> bool {
        let rest = async {
            loop {
                match self.body.next().await {
                    Some(Ok(_)) => continue,
                    Some(Err(_)) => return false,
                    None => return true,
                }
            }
        };
        tokio::time::timeout(within, rest).await.unwrap_or(false)
    }
}

fn added(names: impl IntoIterator<Item = String>) -> Vec<(String, String)> {
    names.into_iter().map(|name| ("ADDED".to_string(), name)).collect()
}

/// Whether the connection `driver` drives closes within `within`.
async fn closes_within(driver: JoinHandle<()>, within: Duration) -> bool {
    tokio::time::timeout(within, driver).await.is_ok()
}

#[tokio::test]
async fn many_watches_on_one_connection_all_see_every_write() {
    let server = start_server().await;
    let (mut connection, _) = connect(&server, 2 * 1024 * 1024).await;
    let mut watches = Vec::new();
    // As many as the server allows on a connection (kube-apiserver's 100).
    for _ in 0..100 {
        watches.push(watch(&mut connection).await);
    }
    let (mut writer, _) = connect(&server, 2 * 1024 * 1024).await;
    for n in 0..3 {
        create(&mut writer, &format!("cm-{n}"), 10).await;
    }
    let expected = added((0..3).map(|n| format!("cm-{n}")));
    for watch in &mut watches {
        assert_eq!(watch.next(3).await, expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_whose_client_stops_reading_holds_up_no_one_and_loses_nothing() {
    const WRITES: usize = 1200;
    let server = start_server().await;
    // Each stream may hold 64 KiB unread, far less than the events to come.
    let (mut connection, _) = connect(&server, 64 * 1024).await;
    let mut stalled = watch(&mut connection).await;
    let mut reading = watch(&mut connection).await;
    let expected = added((0..WRITES).map(|n| format!("cm-{n:04}")));
    let reader = tokio::spawn(async move { reading.next(WRITES).await });
    let (mut writer, _) = connect(&server, 2 * 1024 * 1024).await;
    for n in 0..WRITES {
        create(&mut writer, &format!("cm-{n:04}"), 1024).await;
    }
    assert_eq!(reader.await.unwrap(), expected, "the other watch on the connection kept up");
    // The server stopped taking the stalled watch's events once its client stopped reading;
    // its store watch fell behind (more than a queue's worth: 1,024 writes) instead.
    assert_eq!(server.instance().store.watcher_counts().1, 1, "one store watch fell behind");
    assert_eq!(stalled.next(WRITES).await, expected, "the stalled watch resumes where it stopped");
}

#[tokio::test]
async fn bodies_larger_than_the_flow_control_windows_cross_intact() {
    let server = start_server().await;
    let (mut connection, _) = connect(&server, 256 * 1024).await;
    // Each 600 KB request exceeds the server's 256 KiB stream window: it must hand it back as
    // it reads.
    for n in 0..5 {
        create(&mut connection, &format!("big-{n}"), 600_000).await;
    }
    let response = send(&mut connection, Method::GET, &format!("{CONFIGMAPS}/big-0"), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key(header::DATE), "{:?}", response.headers());
    let length: usize = response.headers()[header::CONTENT_LENGTH].to_str().unwrap().parse().unwrap();
    let body = response.into_body().collect().await.expect("the object").to_bytes();
    assert_eq!(body.len(), length);
    let response = send(&mut connection, Method::GET, CONFIGMAPS, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.expect("the list").to_bytes();
    let list: Value = serde_json::from_slice(&body).expect("a ConfigMapList");
    let items = list["items"].as_array().expect("items");
    let big: Vec<&Value> = items.iter().filter(|item| item["metadata"]["name"] != ROOT_CA_CONFIGMAP).collect();
    assert_eq!(big.len(), 5);
    assert!(big.iter().all(|item| item["data"]["filler"].as_str().map(str::len) == Some(600_000)));
}

#[tokio::test]
async fn a_head_request_gets_the_headers_alone() {
    let server = start_server().await;
    let (mut connection, _) = connect(&server, 2 * 1024 * 1024).await;
    let response = send(&mut connection, Method::HEAD, "/version", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.expect("the body").to_bytes();
    assert!(body.is_empty(), "{body:?}");
}

#[tokio::test]
async fn a_cancelled_watch_lets_go_of_its_store_watch() {
    let server = start_server().await;
    let watchers = || server.instance().store.watcher_counts().0;
    let (mut connection, _) = connect(&server, 2 * 1024 * 1024).await;
    create(&mut connection, "settled", 10).await;
    let idle = watchers();
    let open = watch(&mut connection).await;
    assert_eq!(watchers(), idle + 1, "the watch holds a store watch");
    drop(open);
    let released = async {
        while watchers() != idle {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), released).await.expect("the store watch is released");
}

#[tokio::test]
async fn shutting_down_ends_the_open_watches_and_closes_the_connection() {
    let server = start_server().await;
    let (mut connection, driver) = connect(&server, 2 * 1024 * 1024).await;
    let open = watch(&mut connection).await;
    let shutdown = tokio::spawn(server.shutdown());
    // Well within the 5 s the server would wait for streams that do not end.
    assert!(open.ends_within(Duration::from_secs(2)).await, "the watch ends cleanly");
    assert!(closes_within(driver, Duration::from_secs(2)).await, "the connection closes");
    tokio::time::timeout(Duration::from_secs(2), shutdown).await.expect("shutdown finishes").unwrap();
}

#[tokio::test]
async fn shutting_down_ends_a_watch_over_http_1_1_at_once() {
    let server = start_server().await;
    let stream = tls_connection(&server, b"http/1.1").await;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = hyper::Request::get(format!("{CONFIGMAPS}?watch=true&resourceVersion=0"))
        .header(header::HOST, "127.0.0.1")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.expect("a response");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let first = body.frame().await.expect("an event").expect("a frame").into_data().expect("data");
    assert!(String::from_utf8_lossy(&first).contains(ROOT_CA_CONFIGMAP), "the watch is open");
    let shutdown = tokio::spawn(server.shutdown());
    // Without ending the watch itself the server would wait out its 5 s grace for the body.
    let rest = tokio::time::timeout(Duration::from_secs(2), body.collect()).await.expect("the watch ends");
    assert!(rest.is_ok(), "the chunked body ends cleanly");
    assert!(closes_within(driver, Duration::from_secs(2)).await, "the connection closes");
    tokio::time::timeout(Duration::from_secs(2), shutdown).await.expect("shutdown finishes").unwrap();
}

#[tokio::test]
async fn shutting_down_cuts_off_a_watch_whose_client_stopped_reading() {
    let server = start_server().await;
    let (mut connection, driver) = connect(&server, 64 * 1024).await;
    let _stalled = watch(&mut connection).await;
    let (mut writer, _) = connect(&server, 2 * 1024 * 1024).await;
    // Enough to fill the client's 64 KiB window and what the server sends unconfirmed.
    for n in 0..300 {
        create(&mut writer, &format!("cm-{n:03}"), 1024).await;
    }
    let shutdown = tokio::spawn(server.shutdown());
    assert!(closes_within(driver, Duration::from_secs(2)).await, "the connection closes");
    tokio::time::timeout(Duration::from_secs(2), shutdown).await.expect("shutdown finishes").unwrap();
}

#[tokio::test]
async fn a_request_the_client_cancels_is_not_carried_out() {
    use kubetwin::faults::{Fault, FaultAction, FaultMatch};
    let server = start_server().await;
    let matching =
        FaultMatch { verb: Some("create".into()), resource: Some("configmaps".into()), ..Default::default() };
    let delay = FaultAction::Delay(Duration::from_millis(500));
    server.instance().faults.install(Fault { matching, action: delay, times: None, every: 1 });
    let (mut connection, _) = connect(&server, 2 * 1024 * 1024).await;
    let create = send(&mut connection, Method::POST, CONFIGMAPS, Some(configmap("abandoned", 10)));
    // The client gives up (RST_STREAM) while the server is still waiting.
    assert!(tokio::time::timeout(Duration::from_millis(100), create).await.is_err());
    tokio::time::sleep(Duration::from_millis(800)).await;
    let response = send(&mut connection, Method::GET, &format!("{CONFIGMAPS}/abandoned"), None).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "the abandoned create did not happen");
}
