//! The blocking transport: ureq 3. One `Agent` per client (connection pool, keep-alive).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Cursor, Read, Write};
use std::path::Path;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ureq::http::header;
use ureq::tls::{RootCerts, TlsConfig};

use super::{
    API_KEY_HEADER, DownloadHead, MAX_ERROR_BODY_BYTES, MAX_RESPONSE_BYTES, redirect, roots,
};
use crate::config::Settings;
use crate::files::aligned::AlignedReader;
use crate::files::flush::Flusher;
use crate::wire::error::{Error, Result};
use crate::wire::failure::{TransportErrorKind, classify_chain};
use crate::wire::form::Segment;
use crate::wire::link;
use crate::wire::progress::Meter;
use crate::wire::request::{Method, Request, Response};
use crate::wire::response;
use crate::wire::upload::{SegmentCheck, UploadState};

/// The longest wait for `100 Continue` before an upload is sent anyway.
const AWAIT_100: Duration = Duration::from_secs(1);

/// The HTTP backend of the blocking client.
pub(crate) type Http = ureq::Agent;

/// A download's body, not read yet.
pub(crate) type DownloadBody = ureq::Body;

/// What a caller hands `ClientBuilder::http_client`: an agent of their own.
pub(crate) type CallerHttp = ureq::Agent;

/// The caller's agent, used as it is: every API request made on it is configured to follow
/// no redirect (`configured`), so its own redirect setting never carries the key away.
pub(crate) fn adopt_http(agent: CallerHttp) -> Result<Http> {
    Ok(agent)
}

/// A new agent with the settings' timeouts and user agent. Error statuses are returned
/// as responses (so the server's message survives) and redirects are not followed (so the
/// key never travels to another host). There is no overall timeout that would cut a long
/// upload: only connect, response-wait and per-read/per-write limits.
pub(crate) fn new_http(settings: &Settings) -> Result<Http> {
    let roots = if roots::platform_store_available() {
        RootCerts::PlatformVerifier
    } else {
        RootCerts::WebPki
    };
    Ok(ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(Some(settings.connect_timeout))
        .timeout_recv_response(Some(settings.response_timeout))
        .timeout_per_read(Some(settings.response_timeout))
        .timeout_per_write(Some(settings.response_timeout))
        // How long an upload waits for `100 Continue` before it is sent anyway (a server
        // that does not answer it): well inside the per-read limit, which also bounds it.
        .timeout_await_100(Some((settings.response_timeout / 2).min(AWAIT_100)))
        .output_buffer_size(IO_BUFFER)
        .input_buffer_size(IO_BUFFER)
        .user_agent(settings.user_agent.as_str())
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .build()
        .new_agent())
}

/// The SDK's error for a ureq error, with the cause named in words.
fn failure(url: &str, e: ureq::Error) -> Error {
    use ureq::Timeout as T;
    let kind = match &e {
        ureq::Error::HostNotFound => TransportErrorKind::Dns,
        ureq::Error::Timeout(T::Connect | T::Resolve) => TransportErrorKind::ConnectTimeout,
        ureq::Error::Timeout(_) => TransportErrorKind::Timeout,
        ureq::Error::BodyExceedsLimit(limit) => TransportErrorKind::BodyTooLarge { limit: *limit },
        ureq::Error::TooManyRedirects => TransportErrorKind::TooManyRedirects,
        ureq::Error::Rustls(_) | ureq::Error::Tls(_) => {
            classify_chain(&e).unwrap_or(TransportErrorKind::Tls {
                reason: "handshake failed".into(),
            })
        }
        ureq::Error::Io(io) => classify_chain(io).unwrap_or(TransportErrorKind::Other),
        ureq::Error::ConnectionFailed => classify_chain(&e).unwrap_or(TransportErrorKind::Connect),
        _ => classify_chain(&e).unwrap_or(TransportErrorKind::Other),
    };
    Error::transport(url, kind, Some(Box::new(e)))
}

/// Sends an API request with the key, and reads the whole response.
pub(crate) fn send(http: &Http, settings: &Settings, req: Request) -> Result<Response> {
    let url = req.url;
    let key = settings.api_key.expose();
    let mut upload = UploadState::default();
    let result = match (req.method, req.body) {
        (Method::Get, _) => configured(http, http.get(&url), req.timeout)
            .header(API_KEY_HEADER, key)
            .call(),
        (Method::Post, None) => configured(http, http.post(&url), req.timeout)
            .header(API_KEY_HEADER, key)
            .send_empty(),
        (Method::Post, Some(mut form)) => {
            let builder = configured(http, http.post(&url), req.timeout)
                .header(API_KEY_HEADER, key)
                .header(header::CONTENT_TYPE, &form.content_type);
            match form.take_small() {
                // Small enough to go out with the head, its length counted by ureq.
                Some(bytes) => builder.send(&bytes[..]),
                None => {
                    upload = UploadState::new(form.progress, form.length, form.flags.clone());
                    let body = BodyReader::new(form.segments, &upload)?;
                    // The server may refuse the request from its head (a wrong key, a full
                    // queue): with `100-continue` its answer comes before the body is sent,
                    // instead of being lost to a connection it closed mid-upload. A server
                    // that does not answer `100` gets the body after ureq's wait (1 s).
                    let builder = builder.header(header::EXPECT, "100-continue");
                    match form.length {
                        Some(len) => builder.header(header::CONTENT_LENGTH, len),
                        None => builder,
                    }
                    .send(ureq::SendBody::from_owned_reader(body))
                }
            }
        }
    };
    let mut resp = match result {
        Ok(resp) => resp,
        // The upload's own source failed: that, not the connection, is the error.
        Err(e) => return Err(upload.take().unwrap_or_else(|| failure(&url, e))),
    };
    let retry_after = resp.headers().get(header::RETRY_AFTER);
    let retry_after = retry_after.and_then(|v| v.to_str().ok()).map(str::to_owned);
    let date = resp.headers().get(header::DATE);
    let date = date.and_then(|v| v.to_str().ok()).map(str::to_owned);
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_vec()
        .map_err(|e| failure(&url, e))?;
    Ok(Response {
        status,
        retry_after,
        date,
        body,
    })
}

/// Starts downloading `url`, without the API key, following redirects. An error status
/// is returned as `Error::Api` with the start of its body.
pub(crate) fn fetch(
    http: &Http,
    _settings: &Settings,
    url: &str,
    range: Option<(u64, Option<&str>)>,
) -> Result<(DownloadHead, DownloadBody)> {
    let redacted = link::redact(url);
    let get = |link: &str| {
        let mut get = http.get(link);
        if let Some((from, validator)) = range {
            get = get.header(header::RANGE, format!("bytes={from}-"));
            if let Some(validator) = validator {
                get = get.header(header::IF_RANGE, validator);
            }
        }
        get.config()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .call()
            .map_err(|e| failure(&redacted, e))
    };
    // API requests never follow redirects; a download link may redirect, and carries no
    // key, so follow a few hops here, by the rule the async side follows too.
    let mut current = url.to_owned();
    let mut resp = get(&current)?;
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
        resp = get(&current)?;
    }
    let (parts, mut body) = resp.into_parts();
    let status = parts.status.as_u16();
    if !parts.status.is_success() {
        // Only the start of an error body is read, for the message: a failure to read it
        // loses nothing.
        let mut start = Vec::new();
        let reader = body.with_config().limit(u64::MAX).reader();
        let _ = reader.take(MAX_ERROR_BODY_BYTES).read_to_end(&mut start);
        return Err(response::api_error(&Response {
            status,
            retry_after: None,
            date: None,
            body: start,
        }));
    }
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let head = DownloadHead {
        content_type: header(header::CONTENT_TYPE),
        content_length: header(header::CONTENT_LENGTH).and_then(|v| v.parse().ok()),
        status,
        etag: header(header::ETAG),
        last_modified: header(header::LAST_MODIFIED),
        content_range: header(header::CONTENT_RANGE),
    };
    Ok((head, body))
}

/// Streams a download's body into `file` (at `path`, for errors), counting it on `meter`,
/// and syncs it. Returns the bytes written.
pub(crate) fn save(
    url: &str,
    mut body: DownloadBody,
    file: File,
    path: &Path,
    meter: &mut Meter,
) -> Result<u64> {
    let mut reader = body.with_config().limit(u64::MAX).reader();
    let (mut buf, start) = crate::files::aligned::buffer(1024 * 1024);
    let buf = &mut buf[start..start + 1024 * 1024];
    let mut written = 0u64;
    let mut flusher = Flusher::new(&file);
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_failure(url, e)),
        };
        (&file)
            .write_all(&buf[..n])
            .map_err(|e| Error::io(path, e))?;
        flusher.wrote(n);
        written += n as u64;
        meter.add(n);
    }
    // A failed flush, early or final, fails the save: the file is not complete.
    flusher.finish(&file).map_err(|e| Error::io(path, e))?;
    Ok(written)
}

/// Reads a download's body into memory, refusing more than `max` bytes.
pub(crate) fn read_to_vec(url: &str, mut body: DownloadBody, max: u64) -> Result<Vec<u8>> {
    body.with_config()
        .limit(max)
        .read_to_vec()
        .map_err(|e| failure(&link::redact(url), e))
}

/// An error while reading a body through ureq's `Read`: ureq's own error travels inside.
fn read_failure(url: &str, e: io::Error) -> Error {
    let redacted = link::redact(url);
    let is_ureq = e.get_ref().is_some_and(|inner| inner.is::<ureq::Error>());
    if is_ureq {
        let inner = e.into_inner().expect("checked above");
        match inner.downcast::<ureq::Error>() {
            Ok(ureq_error) => failure(&redacted, *ureq_error),
            Err(other) => Error::transport(&redacted, TransportErrorKind::Other, Some(other)),
        }
    } else {
        let kind = classify_chain(&e).unwrap_or(TransportErrorKind::Other);
        Error::transport(&redacted, kind, Some(Box::new(e)))
    }
}

/// Per-request settings that must hold even on an agent the caller built.
fn configured<B>(
    http: &Http,
    builder: ureq::RequestBuilder<B>,
    timeout: Option<Duration>,
) -> ureq::RequestBuilder<B> {
    // A request's own configuration is a copy of the agent's, made on every call (and it
    // keeps ureq from caching the TLS setup): only paid when this request needs something
    // the agent does not already do. Ours does; a caller's may not.
    let agent = http.config();
    if timeout.is_none()
        && agent.timeouts().global.is_none()
        && !agent.http_status_as_error()
        && agent.max_redirects() == 0
    {
        return builder;
    }
    builder
        .config()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(timeout)
        .build()
}

/// The bound on requests in flight: a counting semaphore for threads.
#[derive(Debug)]
pub(crate) struct Gate {
    turns: Mutex<Turns>,
    freed: Condvar,
}

/// The gate's count, and how many threads wait on it: a turn given back wakes a thread only
/// when one waits (a condition variable's notify is a system call even with nobody to wake,
/// paid on every request otherwise).
#[derive(Debug)]
struct Turns {
    free: usize,
    waiting: usize,
}

/// A turn through the [`Gate`], given back when dropped.
pub(crate) struct Pass<'a>(&'a Gate);

impl Gate {
    pub fn new(limit: usize) -> Self {
        Gate {
            turns: Mutex::new(Turns {
                free: limit,
                waiting: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// Whether every turn is taken: a request now waits for one.
    pub fn is_full(&self) -> bool {
        self.turns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .free
            == 0
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        let mut turns = self.0.turns.lock().unwrap_or_else(PoisonError::into_inner);
        turns.free += 1;
        let wake = turns.waiting > 0;
        drop(turns);
        if wake {
            self.0.freed.notify_one();
        }
    }
}

/// Waits for a turn through the gate, until `deadline` if there is one (`None` then).
pub(crate) fn enter(gate: &Gate, deadline: Option<Instant>) -> Option<Pass<'_>> {
    let mut turns = gate.turns.lock().unwrap_or_else(PoisonError::into_inner);
    while turns.free == 0 {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|left| left.is_zero()) {
            return None;
        }
        turns.waiting += 1;
        turns = match left {
            None => gate
                .freed
                .wait(turns)
                .unwrap_or_else(PoisonError::into_inner),
            Some(left) => gate
                .freed
                .wait_timeout(turns, left)
                .map_or_else(|e| e.into_inner().0, |(guard, _)| guard),
        };
        turns.waiting -= 1;
    }
    turns.free -= 1;
    Some(Pass(gate))
}

/// Blocks the current thread.
pub(crate) fn sleep(duration: Duration) {
    std::thread::sleep(duration)
}

/// Runs file-system work; in the blocking client, right here.
pub(crate) fn run_blocking<T>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    work()
}

/// Why the blocking client refuses some inputs.
const ASYNC_ONLY: &str = "async readers and streamed fields (Reader::from_async, \
                          Inputs::streamed_fields) can only be sent by AsyncClient";

/// How much of a body ureq sends, or receives, at a time: four times its default. A 512 MiB upload
/// then took 0.79x curl's time instead of 0.96x (15 rounds side by side); 1 MiB gained
/// nothing more. A 512 MiB download used 15% less CPU. Only the pages a request uses are
/// touched.
const IO_BUFFER: usize = 512 * 1024;

/// How much of a file one read takes: ureq's own buffer size, so each of its reads is one
/// read of the file.
const FILE_PIECE: usize = IO_BUFFER;

/// A form body as one `Read`: the segments in order, each checked against its length.
struct BodyReader {
    rest: VecDeque<Segment>,
    current: Option<(Box<dyn Read + Send>, SegmentCheck)>,
    state: UploadState,
}

impl BodyReader {
    fn new(segments: Vec<Segment>, state: &UploadState) -> Result<Self> {
        if let Some(field) = segments.iter().find_map(Segment::async_only) {
            return Err(Error::input(field, ASYNC_ONLY));
        }
        Ok(BodyReader {
            rest: segments.into(),
            current: None,
            state: state.clone(),
        })
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some((reader, check)) = &mut self.current {
                let n = reader.read(buf).map_err(|e| check.read_failed(e))?;
                if n > 0 {
                    check.advance(n)?;
                    return Ok(n);
                }
                check.finish()?;
                self.current = None;
            }
            let Some(segment) = self.rest.pop_front() else {
                self.state.finished();
                return Ok(0);
            };
            let check = SegmentCheck::new(segment.origin(), &self.state);
            let reader: Box<dyn Read + Send> = match segment {
                Segment::Bytes(bytes) => Box::new(Cursor::new(bytes)),
                Segment::File { file, .. } => Box::new(AlignedReader::new(file, FILE_PIECE)),
                Segment::Reader { source, .. } => match source.into_sync() {
                    Some(reader) => reader,
                    None => return Err(self.state.record(Error::input("reader", ASYNC_ONLY))),
                },
                #[cfg(feature = "async")]
                Segment::Deferred { .. } => {
                    return Err(self
                        .state
                        .record(Error::input("streamed_fields", ASYNC_ONLY)));
                }
            };
            self.current = Some((reader, check));
        }
    }
}
