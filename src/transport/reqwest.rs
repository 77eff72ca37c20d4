//! The async transport: reqwest 0.13 on Tokio, with rustls on the `ring` provider (the same
//! one ureq uses, so a build with both clients compiles one crypto library).

use std::io::{self, Read};
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::{StreamExt, stream};
use reqwest::header;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::{
    API_KEY_HEADER, DownloadHead, MAX_ERROR_BODY_BYTES, MAX_RESPONSE_BYTES, redirect, roots,
};
use crate::config::Settings;
use crate::files::aligned;
use crate::files::flush::Flusher;
use crate::inputs::{FieldStream, ReaderSource};
use crate::wire::error::{Error, Result};
use crate::wire::failure::{TransportErrorKind, classify_chain};
use crate::wire::form::{self, Segment};
use crate::wire::link;
use crate::wire::progress::Meter;
use crate::wire::request::{Method, Request, Response};
use crate::wire::response;
use crate::wire::upload::{SegmentCheck, UploadState};

/// The HTTP backend of the async client.
pub(crate) type Http = reqwest::Client;

/// What a caller hands `AsyncClientBuilder::http_client`: a `reqwest::ClientBuilder`, not a
/// built client. reqwest fixes a client's redirect policy when it is built, and on a
/// cross-host redirect removes only the headers it knows (`Authorization`, cookies), not
/// `X-API-KEY`: a built client could carry the key to another host. A builder is finished
/// here with redirects off, keeping the caller's proxy, TLS, pool and timeout settings.
pub(crate) type CallerHttp = reqwest::ClientBuilder;

/// The caller's builder, finished with redirects off (and the crypto provider installed,
/// so the caller need not).
pub(crate) fn adopt_http(builder: CallerHttp) -> Result<Http> {
    install_crypto_provider();
    builder
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::config(format!("could not build the HTTP client: {e}")))
}

/// A download's body, not read yet, with the longest pause allowed between two pieces.
pub(crate) struct DownloadBody {
    resp: reqwest::Response,
    read_timeout: Duration,
}

type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// How much an async reader is asked for at a time.
const CHUNK: usize = 64 * 1024;

/// How much of a file (or another blocking reader) one piece of an upload holds: large
/// pieces keep the hand-overs between the reading thread and the runtime few (64 KiB pieces
/// cost about 100,000 context switches per 2 GiB, and made uploads slower than curl's).
const READ_PIECE: usize = 1024 * 1024;

/// How many pieces a blocking reader may read ahead of the connection: the next piece is
/// read while the last one is sent, and memory stays at a few pieces whatever the size.
const PIECES_AHEAD: usize = 2;

/// A new client with the settings' connect timeout and user agent; redirects are not
/// followed (so the key never travels to another host). The response timeout is applied
/// per request by this module (reqwest's own `read_timeout` would also fire while a long
/// upload is still flowing, as it times the read side of the connection). Certificates are checked by the platform's
/// verifier, or against the bundled roots where the platform has no store (as `Client`).
pub(crate) fn new_http(settings: &Settings) -> Result<Http> {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .user_agent(settings.user_agent.as_str())
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(settings.max_concurrent_requests);
    if !roots::platform_store_available() {
        let bundled = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .filter_map(|der| reqwest::Certificate::from_der(der).ok());
        builder = builder.tls_certs_only(bundled);
    }
    builder
        .build()
        .map_err(|e| Error::config(format!("could not build the HTTP client: {e}")))
}

/// Makes rustls' `ring` provider the process default, unless one is installed already.
///
/// This crate builds reqwest without a bundled crypto provider (ureq uses `ring`, so one
/// provider serves both clients). `AsyncClient` calls this itself. Call it before building
/// your own `reqwest::Client` for [`AsyncClientBuilder::http_client`](crate::AsyncClientBuilder::http_client)
/// if nothing else in your program enables a provider: reqwest panics without one.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // rustls 0.23.48 deprecates its `ring` provider for lacking post-quantum key
        // exchange; it is still supported and secure, and it is the provider ureq is built
        // on, so one provider serves both clients. Its successor (aws-lc-rs) would add a C
        // build to every user's: chosen against, on purpose (ARCHITECTURE.md, Dependencies).
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        let _ = provider.install_default();
    }
}

/// The SDK's error for a reqwest error, with the cause named in words.
fn failure(url: &str, e: reqwest::Error) -> Error {
    let kind = match classify_chain(&e) {
        // reqwest reports its own timeouts with a type of its own; the chain may also
        // hold an io::Error of kind TimedOut.
        _ if e.is_timeout() && e.is_connect() => TransportErrorKind::ConnectTimeout,
        _ if e.is_timeout() => TransportErrorKind::Timeout,
        Some(kind) => kind,
        None if e.is_connect() => TransportErrorKind::Connect,
        None if e.is_body() || e.is_decode() || e.is_request() => {
            TransportErrorKind::ConnectionClosed
        }
        None => TransportErrorKind::Other,
    };
    Error::transport(url, kind, Some(Box::new(e.without_url())))
}

/// Sends an API request with the key, and reads the whole response.
pub(crate) async fn send(http: &Http, settings: &Settings, req: Request) -> Result<Response> {
    let url = req.url;
    let method = match req.method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
    };
    let mut upload = UploadState::default();
    let mut body_sent = None;
    let mut stalled = None;
    let mut builder = http
        .request(method, &url)
        .header(API_KEY_HEADER, settings.api_key.expose());
    if let Some(timeout) = req.timeout {
        builder = builder.timeout(timeout);
    }
    // The head of a streamed upload, to ask again if the connection closes mid-upload.
    let mut head_again = None;
    match req.body {
        Some(mut form) => {
            builder = builder.header(header::CONTENT_TYPE, &form.content_type);
            if let Some(bytes) = form.take_small() {
                // Small enough to go out with the head: nothing to watch but the answer.
                builder = builder.body(bytes);
            } else {
                if let Some(len) = form.length {
                    builder = builder.header(header::CONTENT_LENGTH, len);
                }
                head_again = Some((form.content_type.clone(), form.length, form.flags.clone()));
                upload = UploadState::new(form.progress, form.length, form.flags.clone());
                let (body, stall) = watched(body_stream(form.segments, &upload));
                stalled = Some(stall);
                let done = upload.clone();
                let (sent, sent_rx) = tokio::sync::oneshot::channel::<()>();
                body_sent = Some(sent_rx);
                let mut sent = Some(sent);
                // When the whole body has gone out: the last progress report, and the start of
                // the wait for the answer.
                let body = body.chain(stream::poll_fn(move |_| {
                    done.finished();
                    if let Some(sent) = sent.take() {
                        let _ = sent.send(());
                    }
                    std::task::Poll::Ready(None)
                }));
                builder = builder.body(reqwest::Body::wrap_stream(body));
            }
        }
        None if req.method == Method::Post => {
            builder = builder.header(header::CONTENT_LENGTH, 0);
        }
        None => {}
    }
    let limit = settings.response_timeout;
    let mut resp = match answer(builder.send(), body_sent, stalled, limit).await {
        Some(Ok(resp)) => resp,
        // The upload's own source failed: that, not the connection, is the error.
        Some(Err(e)) => {
            if let Some(fault) = upload.take() {
                return Err(fault);
            }
            let lost = failure(&url, e);
            let refused = match head_again.filter(|(.., flags)| !flags.whole()) {
                Some(head) => refusal_of_head(http, settings, &url, head, limit).await,
                None => None,
            };
            match refused {
                Some(resp) => resp,
                None => return Err(lost),
            }
        }
        None => return Err(timed_out(&url)),
    };
    let retry_after = resp.headers().get(header::RETRY_AFTER);
    let retry_after = retry_after.and_then(|v| v.to_str().ok()).map(str::to_owned);
    let date = resp.headers().get(header::DATE);
    let date = date.and_then(|v| v.to_str().ok()).map(str::to_owned);
    let status = resp.status().as_u16();
    let body = read_capped(&url, &mut resp, MAX_RESPONSE_BYTES, limit).await?;
    Ok(Response {
        status,
        retry_after,
        date,
        body,
    })
}

/// The server's answer to an upload's head alone, when the connection closed before the
/// body went out whole: a server that refuses a request from its head (a wrong key, a full
/// queue, a body too large) answers at once and closes, and its answer can be lost to the
/// reset of a connection still sending (reqwest, unlike ureq, does not wait for `100
/// Continue`). The head is sent again with `Expect: 100-continue` and no body byte ever
/// follows it, so this request can start no run; a refusal (4xx, 5xx) within `limit` (at
/// most 10 s) is the answer, anything else leaves the first error standing.
async fn refusal_of_head(
    http: &Http,
    settings: &Settings,
    url: &str,
    (content_type, length, _): (String, Option<u64>, crate::wire::upload::UploadFlags),
    limit: Duration,
) -> Option<reqwest::Response> {
    let never = stream::pending::<std::result::Result<Bytes, io::Error>>();
    let mut probe = http
        .post(url)
        .header(API_KEY_HEADER, settings.api_key.expose())
        .header(header::CONTENT_TYPE, content_type)
        .header(header::EXPECT, "100-continue")
        .body(reqwest::Body::wrap_stream(never));
    if let Some(len) = length {
        probe = probe.header(header::CONTENT_LENGTH, len);
    }
    let wait = limit.min(Duration::from_secs(10));
    match tokio::time::timeout(wait, probe.send()).await {
        Ok(Ok(resp)) if resp.status().as_u16() >= 400 => Some(resp),
        _ => None,
    }
}

/// Waits for a response's head: while the body is still going out (`body_sent` not fired)
/// as long as it flows (the connection takes a piece at least every `limit`, as ureq's
/// per-write timeout has it); after that, at most `limit`. `None` on timeout.
async fn answer<F>(
    send: F,
    body_sent: Option<tokio::sync::oneshot::Receiver<()>>,
    stalled: Option<Stall>,
    limit: Duration,
) -> Option<std::result::Result<reqwest::Response, reqwest::Error>>
where
    F: std::future::Future<Output = std::result::Result<reqwest::Response, reqwest::Error>>,
{
    use futures_util::future::{Either, select};
    let mut send = std::pin::pin!(send);
    if let Some(body_sent) = body_sent {
        let stall = std::pin::pin!(async {
            match &stalled {
                Some(stall) => stall.reached(limit).await,
                None => std::future::pending().await,
            }
        });
        match select(send.as_mut(), select(body_sent, stall)).await {
            Either::Left((resp, _)) => return Some(resp),
            // The body went out: now the answer has `limit` to come.
            Either::Right((Either::Left(_), _)) => {}
            // The connection stopped taking the body.
            Either::Right((Either::Right(_), _)) => return None,
        }
    }
    tokio::time::timeout(limit, send).await.ok()
}

/// Since when the connection has left a piece of the upload untaken (`None` while it is
/// asking for the next one): a source that is slow to give pieces is no stall, a
/// connection that stops taking them is.
#[derive(Clone, Default)]
struct Stall(std::sync::Arc<std::sync::Mutex<Option<std::time::Instant>>>);

impl Stall {
    fn set(&self, since: Option<std::time::Instant>) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = since;
    }

    /// Resolves once a piece has been left untaken for `limit`.
    async fn reached(&self, limit: Duration) {
        loop {
            let since = *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let check = match since {
                Some(since) if since.elapsed() >= limit => return,
                Some(since) => limit - since.elapsed(),
                None => limit,
            };
            tokio::time::sleep(check.max(Duration::from_millis(10))).await;
        }
    }
}

/// The most of an upload handed to the connection at once: a stall is a piece this size
/// left untaken for the response timeout (so even a link of a few KiB/s is no stall).
const STALL_PIECE: usize = 256 * 1024;

/// `body`, in pieces of at most [`STALL_PIECE`] (slices, no copies), with a [`Stall`] that
/// knows when the connection last left a piece untaken.
fn watched(body: ByteStream) -> (ByteStream, Stall) {
    let stall = Stall::default();
    let marks = stall.clone();
    let mut body = body;
    let mut rest = Bytes::new();
    let watched = stream::poll_fn(move |cx| {
        marks.set(None);
        if rest.is_empty() {
            match body.as_mut().poll_next(cx) {
                std::task::Poll::Ready(Some(Ok(bytes))) => rest = bytes,
                other => return other,
            }
        }
        let piece = rest.split_to(rest.len().min(STALL_PIECE));
        marks.set(Some(std::time::Instant::now()));
        std::task::Poll::Ready(Some(Ok(piece)))
    });
    (Box::pin(watched), stall)
}

/// The next piece of a body, waiting at most `limit` for it.
async fn next_chunk(
    url: &str,
    resp: &mut reqwest::Response,
    limit: Duration,
) -> Result<Option<Bytes>> {
    match tokio::time::timeout(limit, resp.chunk()).await {
        Ok(chunk) => chunk.map_err(|e| failure(url, e)),
        Err(_) => Err(timed_out(url)),
    }
}

fn timed_out(url: &str) -> Error {
    Error::transport(url, TransportErrorKind::Timeout, None)
}

/// Reads a body into memory, failing once it grows past `max` bytes or pauses longer
/// than `limit`.
async fn read_capped(
    url: &str,
    resp: &mut reqwest::Response,
    max: u64,
    limit: Duration,
) -> Result<Vec<u8>> {
    if resp.content_length().is_some_and(|len| len > max) {
        return Err(too_large(url, max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = next_chunk(url, resp, limit).await? {
        if body.len() as u64 + chunk.len() as u64 > max {
            return Err(too_large(url, max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn too_large(url: &str, limit: u64) -> Error {
    Error::transport(url, TransportErrorKind::BodyTooLarge { limit }, None)
}

/// Starts downloading `url`, without the API key, following redirects. An error status
/// is returned as `Error::Api` with the start of its body.
pub(crate) async fn fetch(
    http: &Http,
    settings: &Settings,
    url: &str,
    range: Option<(u64, Option<&str>)>,
) -> Result<(DownloadHead, DownloadBody)> {
    let redacted = link::redact(url);
    let limit = settings.response_timeout;
    let get = |to: reqwest::Url| async {
        let mut get = http.get(to);
        if let Some((from, validator)) = range {
            get = get.header(header::RANGE, format!("bytes={from}-"));
            if let Some(validator) = validator {
                get = get.header(header::IF_RANGE, validator);
            }
        }
        match tokio::time::timeout(limit, get.send()).await {
            Ok(resp) => resp.map_err(|e| failure(&redacted, e)),
            Err(_) => Err(timed_out(&redacted)),
        }
    };
    // API requests never follow redirects; a download link may redirect, and carries no
    // key, so follow a few hops here, by the rule ureq's side follows too.
    let parse =
        |link: &str| reqwest::Url::parse(link).map_err(|e| Error::input("url", e.to_string()));
    let mut current = url.to_owned();
    let mut resp = get(parse(&current)?).await?;
    let mut hops = redirect::Hops::default();
    loop {
        let location = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok());
        let Some(next) = hops.next(url, &current, resp.status().as_u16(), location)? else {
            break;
        };
        current = next;
        resp = get(parse(&current)?).await?;
    }
    let status = resp.status().as_u16();
    if !resp.status().is_success() {
        // Only the start of an error body is read, for the message: a failure to read it
        // loses nothing.
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = next_chunk(&redacted, &mut resp, limit).await {
            body.extend_from_slice(&chunk);
            if body.len() as u64 >= MAX_ERROR_BODY_BYTES {
                body.truncate(MAX_ERROR_BODY_BYTES as usize);
                break;
            }
        }
        return Err(response::api_error(&Response {
            status,
            retry_after: None,
            date: None,
            body,
        }));
    }
    let text = |name| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let head = DownloadHead {
        content_type: text(header::CONTENT_TYPE),
        content_length: resp.content_length(),
        status,
        etag: text(header::ETAG),
        last_modified: text(header::LAST_MODIFIED),
        content_range: text(header::CONTENT_RANGE),
    };
    let body = DownloadBody {
        resp,
        read_timeout: limit,
    };
    Ok((head, body))
}

/// Streams a download's body into `file` (at `path`, for errors), counting it on `meter`,
/// and syncs it. Returns the bytes written.
pub(crate) async fn save(
    url: &str,
    mut body: DownloadBody,
    file: std::fs::File,
    path: &Path,
    meter: &mut Meter,
) -> Result<u64> {
    let mut flusher = Flusher::new(&file);
    let mut file = tokio::fs::File::from_std(file);
    let mut written = 0u64;
    let redacted = link::redact(url);
    loop {
        let chunk = match next_chunk(&redacted, &mut body.resp, body.read_timeout).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                // The bytes written so far are in the file before this returns, so that a
                // resumed download continues exactly where it stopped.
                let _ = file.flush().await;
                return Err(e);
            }
        };
        file.write_all(&chunk)
            .await
            .map_err(|e| Error::io(path, e))?;
        flusher.wrote(chunk.len());
        written += chunk.len() as u64;
        meter.add(chunk.len());
    }
    file.flush().await.map_err(|e| Error::io(path, e))?;
    // A failed flush, early or final, fails the save: the file is not complete.
    let (file, path) = (file.into_std().await, path.to_owned());
    run_blocking(move || flusher.finish(&file).map_err(|e| Error::io(&path, e))).await?;
    Ok(written)
}

/// Reads a download's body into memory, refusing more than `max` bytes.
pub(crate) async fn read_to_vec(url: &str, mut body: DownloadBody, max: u64) -> Result<Vec<u8>> {
    let limit = body.read_timeout;
    read_capped(&link::redact(url), &mut body.resp, max, limit).await
}

/// The bound on requests in flight: a semaphore for tasks.
#[derive(Debug)]
pub(crate) struct Gate(tokio::sync::Semaphore);

impl Gate {
    pub fn new(limit: usize) -> Self {
        Gate(tokio::sync::Semaphore::new(limit))
    }

    /// Whether every turn is taken: a request now waits for one.
    pub fn is_full(&self) -> bool {
        self.0.available_permits() == 0
    }
}

/// A turn through the [`Gate`], given back when dropped.
pub(crate) type Pass<'a> = tokio::sync::SemaphorePermit<'a>;

/// Waits for a turn through the gate (in arrival order), until `deadline` if there is
/// one (`None` then; the semaphore is never closed).
pub(crate) async fn enter(gate: &Gate, deadline: Option<std::time::Instant>) -> Option<Pass<'_>> {
    let turn = gate.0.acquire();
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline.into(), turn)
            .await
            .ok()?
            .ok(),
        None => turn.await.ok(),
    }
}

/// Waits without blocking the runtime.
pub(crate) async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await
}

/// Runs file-system work on Tokio's blocking pool, off the runtime's worker threads.
pub(crate) async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    joined(tokio::task::spawn_blocking(work).await)
}

/// The result of a blocking task: a panic in it is passed on; a task the runtime dropped
/// before it ran (it was shutting down) is an error, not a panic.
fn joined<T>(outcome: std::result::Result<Result<T>, tokio::task::JoinError>) -> Result<T> {
    match outcome {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(Error::Io {
            path: None,
            source: io::Error::other(format!(
                "the file work was dropped before it ran (is the Tokio runtime shutting \
                 down?): {e}"
            )),
        }),
    }
}

/// The form body as one stream: segments in order, each checked against its length.
fn body_stream(segments: Vec<Segment>, state: &UploadState) -> ByteStream {
    let state = state.clone();
    let parts = segments.into_iter().map(move |segment| {
        let check = SegmentCheck::new(segment.origin(), &state);
        let s: ByteStream = match segment {
            Segment::Bytes(bytes) => Box::pin(stream::once(async { Ok(Bytes::from(bytes)) })),
            Segment::File { file, .. } => read_on_pool(Box::new(file)),
            Segment::Reader {
                source: ReaderSource::Async(r),
                ..
            } => Box::pin(ReaderStream::with_capacity(r, CHUNK)),
            Segment::Reader {
                source: ReaderSource::Sync(r),
                ..
            } => read_on_pool(r),
            Segment::Deferred { fields, boundary } => {
                deferred_stream(fields, boundary, state.clone())
            }
        };
        checked(s, check)
    });
    Box::pin(stream::iter(parts).flatten())
}

/// Encodes fields as they arrive and streams each one on (files opened on the blocking pool).
fn deferred_stream(fields: FieldStream, boundary: String, state: UploadState) -> ByteStream {
    Box::pin(
        fields
            .then(move |(name, input)| {
                let boundary = boundary.clone();
                let state = state.clone();
                async move {
                    // Only a file to open is worth a trip to the blocking pool.
                    let encoded = if input.opens_files() {
                        run_blocking(move || form::encode_field(&boundary, name, input)).await
                    } else {
                        form::encode_field(&boundary, name, input)
                    };
                    match encoded {
                        Ok((segments, sent)) => {
                            // Fingerprinted as it goes: what a lost answer's run is matched by.
                            state.flags().record_sent(sent);
                            body_stream(segments, &state)
                        }
                        Err(e) => {
                            let e = state.record(e);
                            Box::pin(stream::once(async move { Err(e) })) as ByteStream
                        }
                    }
                }
            })
            .flatten(),
    )
}

/// Reads a blocking source (a file, a `std::io::Read`) on one thread of Tokio's blocking
/// pool, which hands full pieces over a short channel. The pool is entered once per source,
/// not once per piece; the thread stops when the source ends or fails, or when the upload
/// is dropped (the channel closes).
fn read_on_pool(mut reader: Box<dyn Read + Send>) -> ByteStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(PIECES_AHEAD);
    let task = tokio::task::spawn_blocking(move || {
        loop {
            match read_piece(&mut reader) {
                Ok(piece) if piece.is_empty() => return,
                Ok(piece) => {
                    if tx.blocking_send(Ok(piece)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    Box::pin(stream::unfold(
        (rx, Some(task)),
        |(mut rx, task)| async move {
            match rx.recv().await {
                Some(piece) => Some((piece, (rx, task))),
                // The thread is done. If the reader panicked, that must not pass for its end.
                None => match task?.await {
                    Err(e) => Some((Err(io::Error::other(e)), (rx, None))),
                    Ok(()) => None,
                },
            }
        },
    ))
}

/// One read of up to a piece (a file gives a full one; a slower source what it has, so it
/// is sent as it comes); an empty piece is the end of the source.
fn read_piece(reader: &mut dyn Read) -> io::Result<Bytes> {
    // Read into the part of the buffer that starts on a cache line (see `aligned`).
    let (mut buf, start) = aligned::buffer(READ_PIECE);
    let n = loop {
        match reader.read(&mut buf[start..start + READ_PIECE]) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other?,
        }
    };
    Ok(Bytes::from(buf).slice(start..start + n))
}

/// Passes a stream through, failing it if its source fails or yields more or fewer bytes
/// than announced (the typed error goes to the upload's fault record).
fn checked(inner: ByteStream, check: SegmentCheck) -> ByteStream {
    Box::pin(stream::unfold(Some((inner, check)), |state| async move {
        let (mut inner, mut check) = state?;
        match inner.next().await {
            Some(Ok(bytes)) => match check.advance(bytes.len()) {
                Ok(()) => Some((Ok(bytes), Some((inner, check)))),
                Err(e) => Some((Err(e), None)),
            },
            Some(Err(e)) => Some((Err(check.read_failed(e)), None)),
            None => check.finish().err().map(|e| (Err(e), None)),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_dropped_by_its_runtime_is_an_error_not_a_panic() {
        // A task cancelled before it ran gives the same JoinError a blocking task gets
        // when its runtime shuts down first.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let task = rt.spawn(async { Ok(1) });
        task.abort();
        let outcome = rt.block_on(task);
        let err = joined::<i32>(outcome).unwrap_err();
        assert!(matches!(err, Error::Io { path: None, .. }), "{err:?}");
    }
}
