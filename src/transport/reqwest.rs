//! The async transport: reqwest 0.13 on Tokio, with rustls on the `ring` provider (the same
//! one ureq uses, so a build with both clients compiles one crypto library).

use std::io::{self, Read};
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::{StreamExt, stream};
use reqwest::header;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::{API_KEY_HEADER, MAX_RESPONSE_BYTES};
use crate::config::Settings;
use crate::download;
use crate::error::{Error, Result};
use crate::form::{self, LengthCheck, Segment};
use crate::inputs::{FieldStream, ReaderSource};
use crate::request::{Method, Request, Response};
use crate::response;

/// The HTTP backend of the async client.
pub(crate) type Http = reqwest::Client;

type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// How much a blocking `std::io::Read` source is asked for at a time.
const CHUNK: usize = 64 * 1024;

/// A new client with the settings' timeouts and user agent; redirects are not followed
/// (so the key never travels to another host).
pub(crate) fn new_http(settings: &Settings) -> Result<Http> {
    install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .read_timeout(settings.response_timeout)
        .user_agent(settings.user_agent.as_str())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::Config(format!("could not build the HTTP client: {e}")))
}

/// Makes rustls' `ring` provider the process default, unless one is installed already.
///
/// This crate builds reqwest without a bundled crypto provider (ureq uses `ring`, so one
/// provider serves both clients). `AsyncClient` calls this itself. Call it before building
/// your own `reqwest::Client` for [`AsyncClientBuilder::http_client`](crate::AsyncClientBuilder::http_client)
/// if nothing else in your program enables a provider: reqwest panics without one.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Sends an API request with the key, and reads the whole response.
pub(crate) async fn send(http: &Http, settings: &Settings, req: Request) -> Result<Response> {
    let url = req.url;
    let fail = |e: reqwest::Error| Error::transport(&url, e.without_url());
    let method = match req.method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
    };
    let mut builder = http
        .request(method, &url)
        .header(API_KEY_HEADER, settings.api_key.expose());
    match req.body {
        Some(form) => {
            builder = builder.header(header::CONTENT_TYPE, &form.content_type);
            if let Some(len) = form.length {
                builder = builder.header(header::CONTENT_LENGTH, len);
            }
            builder = builder.body(reqwest::Body::wrap_stream(body_stream(form.segments)));
        }
        None if req.method == Method::Post => {
            builder = builder.header(header::CONTENT_LENGTH, 0);
        }
        None => {}
    }
    let mut resp = builder.send().await.map_err(fail)?;
    let retry_after = resp.headers().get(header::RETRY_AFTER);
    let retry_after = retry_after.and_then(|v| v.to_str().ok()).map(str::to_owned);
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(fail)? {
        if body.len() as u64 + chunk.len() as u64 > MAX_RESPONSE_BYTES {
            return Err(Error::transport(
                &url,
                format!("response body larger than {MAX_RESPONSE_BYTES} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response {
        status,
        retry_after,
        body,
    })
}

/// Streams `url` into a new file at `partial`, without the API key. Returns the bytes
/// written and the `Content-Length` announced, if any.
pub(crate) async fn download(
    http: &Http,
    url: &str,
    partial: PathBuf,
) -> Result<(u64, Option<u64>)> {
    let redacted = download::redact(url);
    let fail = |e: reqwest::Error| Error::transport(&redacted, e.without_url());
    // API requests never follow redirects; a download link may redirect, and carries no
    // key, so follow up to 10 hops here.
    let mut current = reqwest::Url::parse(url).map_err(|e| Error::input("url", e.to_string()))?;
    let mut resp = http.get(current.clone()).send().await.map_err(fail)?;
    for _ in 0..10 {
        let location = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .filter(|_| resp.status().is_redirection());
        let Some(next) = location.and_then(|l| current.join(l).ok()) else {
            break;
        };
        current = next;
        resp = http.get(current.clone()).send().await.map_err(fail)?;
    }
    let status = resp.status().as_u16();
    if !resp.status().is_success() {
        let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        return Err(response::api_error(&Response {
            status,
            retry_after: None,
            body,
        }));
    }
    let announced = resp.content_length();
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(|e| Error::input("dest", format!("cannot create {}: {e}", partial.display())))?;
    let mut written = 0u64;
    while let Some(chunk) = resp.chunk().await.map_err(fail)? {
        file.write_all(&chunk).await.map_err(|e| {
            Error::input("dest", format!("cannot write {}: {e}", partial.display()))
        })?;
        written += chunk.len() as u64;
    }
    file.sync_all()
        .await
        .map_err(|e| Error::input("dest", format!("cannot write {}: {e}", partial.display())))?;
    Ok((written, announced))
}

/// Waits without blocking the runtime.
pub(crate) async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await
}

/// Runs file-system work on Tokio's blocking pool, off the runtime's worker threads.
pub(crate) async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// The form body as one stream: segments in order, each checked against its length.
fn body_stream(segments: Vec<Segment>) -> ByteStream {
    let parts = segments.into_iter().map(|segment| {
        let check = segment.length_check();
        let s: ByteStream = match segment {
            Segment::Bytes(bytes) => Box::pin(stream::once(async { Ok(Bytes::from(bytes)) })),
            // Tokio reads the file on its blocking pool.
            Segment::File { file, .. } => Box::pin(ReaderStream::with_capacity(
                tokio::fs::File::from_std(file),
                CHUNK,
            )),
            Segment::Reader {
                source: ReaderSource::Async(r),
                ..
            } => Box::pin(ReaderStream::with_capacity(r, CHUNK)),
            Segment::Reader {
                source: ReaderSource::Sync(r),
                ..
            } => blocking_reader_stream(r),
            Segment::Deferred { fields, boundary } => deferred_stream(fields, boundary),
        };
        checked(s, check)
    });
    Box::pin(stream::iter(parts).flatten())
}

/// Encodes fields as they arrive and streams each one on (files opened on the blocking pool).
fn deferred_stream(fields: FieldStream, boundary: String) -> ByteStream {
    Box::pin(
        fields
            .then(move |(name, input)| {
                let boundary = boundary.clone();
                async move {
                    let encoded =
                        run_blocking(move || form::encode_field(&boundary, name, input)).await;
                    match encoded {
                        Ok(segments) => body_stream(segments),
                        Err(e) => {
                            let e = io::Error::new(io::ErrorKind::InvalidInput, e.to_string());
                            Box::pin(stream::once(async move { Err(e) })) as ByteStream
                        }
                    }
                }
            })
            .flatten(),
    )
}

/// Reads a blocking `std::io::Read` on Tokio's blocking pool, a chunk at a time.
fn blocking_reader_stream(reader: Box<dyn Read + Send>) -> ByteStream {
    Box::pin(stream::unfold(Some(reader), |reader| async move {
        let mut reader = reader?;
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0; CHUNK];
            let n = loop {
                match reader.read(&mut buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            (reader, n.map(|n| buf[..n].to_vec()))
        })
        .await;
        match read {
            Ok((_, Ok(buf))) if buf.is_empty() => None,
            Ok((reader, Ok(buf))) => Some((Ok(Bytes::from(buf)), Some(reader))),
            Ok((_, Err(e))) => Some((Err(e), None)),
            Err(e) => Some((Err(io::Error::other(e)), None)),
        }
    }))
}

/// Passes a stream through, failing it if it yields more or fewer bytes than announced.
fn checked(inner: ByteStream, check: LengthCheck) -> ByteStream {
    Box::pin(stream::unfold(Some((inner, check)), |state| async move {
        let (mut inner, mut check) = state?;
        match inner.next().await {
            Some(Ok(bytes)) => match check.advance(bytes.len()) {
                Ok(()) => Some((Ok(bytes), Some((inner, check)))),
                Err(e) => Some((Err(e), None)),
            },
            Some(Err(e)) => Some((Err(e), None)),
            None => check.finish().err().map(|e| (Err(e), None)),
        }
    }))
}
