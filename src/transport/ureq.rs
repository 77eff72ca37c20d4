//! The blocking transport: ureq 3. One `Agent` per client (connection pool, keep-alive).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::PathBuf;
use std::time::Duration;

use ureq::http::header;

use super::{API_KEY_HEADER, MAX_RESPONSE_BYTES};
use crate::config::Settings;
use crate::download;
use crate::error::{Error, Result};
use crate::form::{LengthCheck, Segment};
use crate::request::{Method, Request, Response};
use crate::response;

/// The HTTP backend of the blocking client.
pub(crate) type Http = ureq::Agent;

/// A new agent with the settings' timeouts and user agent. Error statuses are returned
/// as responses (so the server's message survives) and redirects are not followed (so the
/// key never travels to another host). There is no overall timeout that would cut a long
/// upload: only connect, response-wait and per-read/per-write limits.
pub(crate) fn new_http(settings: &Settings) -> Result<Http> {
    Ok(ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(Some(settings.connect_timeout))
        .timeout_recv_response(Some(settings.response_timeout))
        .timeout_per_read(Some(settings.response_timeout))
        .timeout_per_write(Some(settings.response_timeout))
        .user_agent(settings.user_agent.as_str())
        .build()
        .new_agent())
}

/// Sends an API request with the key, and reads the whole response.
pub(crate) fn send(http: &Http, settings: &Settings, req: Request) -> Result<Response> {
    let url = req.url;
    let fail = |e: ureq::Error| Error::transport(&url, e);
    let key = settings.api_key.expose();
    let result = match (req.method, req.body) {
        (Method::Get, _) => configured(http.get(&url))
            .header(API_KEY_HEADER, key)
            .call(),
        (Method::Post, None) => configured(http.post(&url))
            .header(API_KEY_HEADER, key)
            .send_empty(),
        (Method::Post, Some(form)) => {
            let body = BodyReader::new(form.segments)?;
            let mut builder = configured(http.post(&url))
                .header(API_KEY_HEADER, key)
                .header(header::CONTENT_TYPE, &form.content_type);
            if let Some(len) = form.length {
                builder = builder.header(header::CONTENT_LENGTH, len);
            }
            builder.send(ureq::SendBody::from_owned_reader(body))
        }
    };
    let mut resp = result.map_err(fail)?;
    let retry_after = resp.headers().get(header::RETRY_AFTER);
    let retry_after = retry_after.and_then(|v| v.to_str().ok()).map(str::to_owned);
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_vec()
        .map_err(fail)?;
    Ok(Response {
        status,
        retry_after,
        body,
    })
}

/// Streams `url` into a new file at `partial`, without the API key, following redirects.
/// Returns the bytes written and the `Content-Length` announced, if any.
pub(crate) fn download(http: &Http, url: &str, partial: PathBuf) -> Result<(u64, Option<u64>)> {
    let redacted = download::redact(url);
    let fail = |e: ureq::Error| Error::transport(&redacted, e);
    let mut resp = http
        .get(url)
        .config()
        .http_status_as_error(false)
        .max_redirects(10)
        .build()
        .call()
        .map_err(fail)?;
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_vec()
            .unwrap_or_default();
        return Err(response::api_error(&Response {
            status,
            retry_after: None,
            body,
        }));
    }
    let announced = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let mut file = File::create(&partial)
        .map_err(|e| Error::input("dest", format!("cannot create {}: {e}", partial.display())))?;
    let mut body = resp.body_mut().with_config().limit(u64::MAX).reader();
    let written = io::copy(&mut body, &mut file).map_err(|e| Error::transport(&redacted, e))?;
    file.sync_all()
        .map_err(|e| Error::input("dest", format!("cannot write {}: {e}", partial.display())))?;
    Ok((written, announced))
}

/// Per-request settings that must hold even on an agent the caller built.
fn configured<B>(builder: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
    builder
        .config()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
}

/// Blocks the current thread.
pub(crate) fn sleep(duration: Duration) {
    std::thread::sleep(duration)
}

/// Runs file-system work; in the blocking client, right here.
pub(crate) fn run_blocking<T>(work: impl FnOnce() -> T + Send + 'static) -> T {
    work()
}

/// A form body as one `Read`: the segments in order, each checked against its length.
struct BodyReader {
    rest: VecDeque<Segment>,
    current: Option<(Box<dyn Read + Send>, LengthCheck)>,
}

impl BodyReader {
    fn new(segments: Vec<Segment>) -> Result<Self> {
        if let Some(field) = segments.iter().find_map(Segment::async_only) {
            return Err(Error::input(
                field,
                "async readers and streamed fields (Reader::from_async, \
                 Inputs::streamed_fields) can only be sent by AsyncClient",
            ));
        }
        Ok(BodyReader {
            rest: segments.into(),
            current: None,
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
                let n = reader.read(buf)?;
                if n > 0 {
                    check.advance(n)?;
                    return Ok(n);
                }
                check.finish()?;
                self.current = None;
            }
            let Some(segment) = self.rest.pop_front() else {
                return Ok(0);
            };
            let check = segment.length_check();
            let reader: Box<dyn Read + Send> = match segment {
                Segment::Bytes(bytes) => Box::new(Cursor::new(bytes)),
                Segment::File { file, .. } => Box::new(file),
                Segment::Reader { source, .. } => source
                    .into_sync()
                    .expect("async readers are rejected in BodyReader::new"),
                #[cfg(feature = "async")]
                Segment::Deferred { .. } => unreachable!("rejected in BodyReader::new"),
            };
            self.current = Some((reader, check));
        }
    }
}
