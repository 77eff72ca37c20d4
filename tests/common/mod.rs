//! Test helpers shared by both clients' cases: a request recorder for mockito that
//! normalises bodies the way `../shared/reference/capture_server.py` does.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

pub const KEY: &str = "test-key-123";

/// Where the fixture files are.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fixtures")
        .join(name)
}

/// One uploaded file, as the server saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct FilePart {
    pub name: String,
    pub filename: String,
    pub content_type: Option<String>,
    pub size: usize,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

/// A body, normalised.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Empty,
    Urlencoded(Vec<(String, String)>),
    Multipart {
        fields: Vec<(String, String)>,
        files: Vec<FilePart>,
    },
    Other(String),
}

impl Body {
    pub fn fields(&self) -> Vec<(String, String)> {
        match self {
            Body::Urlencoded(f) | Body::Multipart { fields: f, .. } => f.clone(),
            _ => vec![],
        }
    }

    pub fn files(&self) -> Vec<FilePart> {
        match self {
            Body::Multipart { files, .. } => files.clone(),
            _ => vec![],
        }
    }
}

/// One request, as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub raw_query: String,
    pub query: Vec<(String, String)>,
    pub api_key: Option<String>,
    pub content_type: Option<String>,
    pub content_length: Option<String>,
    pub transfer_encoding: Option<String>,
    pub body: Body,
    pub raw_body: Vec<u8>,
}

/// Records every request a mock matches. Use as `mock.match_request(rec.matcher())`.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn matcher(&self) -> impl Fn(&mockito::Request) -> bool + Send + Sync + 'static {
        let store = self.0.clone();
        move |req| {
            store.lock().unwrap().push(seen(req));
            true
        }
    }

    pub fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    pub fn one(&self) -> Seen {
        let all = self.all();
        assert_eq!(all.len(), 1, "expected exactly one request, got {all:#?}");
        all.into_iter().next().unwrap()
    }
}

fn header(req: &mockito::Request, name: &str) -> Option<String> {
    req.header(name)
        .first()
        .map(|v| v.to_str().unwrap().to_owned())
}

fn seen(req: &mockito::Request) -> Seen {
    let pq = req.path_and_query();
    let (path, raw_query) = pq.split_once('?').unwrap_or((pq, ""));
    let raw_body = req.body().unwrap().clone();
    let content_type = header(req, "content-type");
    Seen {
        method: req.method().to_owned(),
        path: path.to_owned(),
        raw_query: raw_query.to_owned(),
        query: parse_urlencoded(raw_query),
        api_key: header(req, "x-api-key"),
        content_length: header(req, "content-length"),
        transfer_encoding: header(req, "transfer-encoding"),
        body: normalise(content_type.as_deref().unwrap_or(""), &raw_body),
        content_type,
        raw_body,
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

pub fn parse_urlencoded(s: &str) -> Vec<(String, String)> {
    if s.is_empty() {
        return vec![];
    }
    s.split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn param(disposition: &str, key: &str) -> Option<String> {
    let pat = format!("; {key}=\"");
    let start = disposition.find(&pat)? + pat.len();
    let end = disposition[start..].find('"')? + start;
    Some(disposition[start..end].to_owned())
}

/// Normalises a body as the reference capture server does (fields and files sorted).
pub fn normalise(content_type: &str, body: &[u8]) -> Body {
    if body.is_empty() {
        return Body::Empty;
    }
    if let Some(b) = content_type.strip_prefix("multipart/form-data; boundary=") {
        let delim = format!("--{b}").into_bytes();
        let mut fields = vec![];
        let mut files = vec![];
        let mut pos = find(body, &delim, 0).expect("no first boundary");
        loop {
            pos += delim.len();
            if body[pos..].starts_with(b"--") {
                assert_eq!(
                    &body[pos..],
                    b"--\r\n",
                    "trailing bytes after the last boundary"
                );
                break;
            }
            assert_eq!(&body[pos..pos + 2], b"\r\n");
            pos += 2;
            let head_end = find(body, b"\r\n\r\n", pos).expect("part headers");
            let head = std::str::from_utf8(&body[pos..head_end]).unwrap();
            let data_start = head_end + 4;
            let mut end_delim = b"\r\n".to_vec();
            end_delim.extend_from_slice(&delim);
            let data_end = find(body, &end_delim, data_start).expect("part end");
            let data = body[data_start..data_end].to_vec();
            let mut disposition = String::new();
            let mut ctype = None;
            for line in head.split("\r\n") {
                let (k, v) = line.split_once(": ").unwrap();
                match k.to_ascii_lowercase().as_str() {
                    "content-disposition" => disposition = v.to_owned(),
                    "content-type" => ctype = Some(v.to_owned()),
                    _ => {}
                }
            }
            let name = param(&disposition, "name").unwrap();
            match param(&disposition, "filename") {
                None => fields.push((name, String::from_utf8(data).unwrap())),
                Some(filename) => files.push(FilePart {
                    name,
                    filename,
                    content_type: ctype,
                    size: data.len(),
                    sha256: format!("{:x}", Sha256::digest(&data)),
                    bytes: data,
                }),
            }
            pos = data_end + 2;
        }
        fields.sort();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        return Body::Multipart { fields, files };
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let mut f = parse_urlencoded(std::str::from_utf8(body).unwrap());
        f.sort();
        return Body::Urlencoded(f);
    }
    Body::Other(String::from_utf8_lossy(body).into_owned())
}

/// A success envelope around `data`.
pub fn ok(data: serde_json::Value) -> String {
    serde_json::json!({"status": "success", "data": data}).to_string()
}

pub const RUN_ID: &str = "808f34d0-ef97-4b78-a00f-1268077ea6db";

/// A run as the server sends it.
pub fn run_json(id: &str, status: &str) -> serde_json::Value {
    serde_json::json!({
        "_id": id,
        "team_id": "team_123",
        "workflow_id": "bncu0a1kipv",
        "group_id": null,
        "status": status,
        "inputs": [{"path": "text_51536", "value": "a man riding a bike", "s3_key": null, "url": null}],
        "outputs": [{"filename": "out_1.png", "s3_key": "generations/out_1.png", "url": "https://example.invalid/out_1.png"}],
        "output_names": ["out_1"],
        "created_at": "2024-01-15T10:30:00Z",
        "started_at": "2024-01-15T10:30:15Z",
        "completed_at": null,
        "some_future_field": {"x": 1}
    })
}

/// A raw TCP server on loopback for misbehaviour no HTTP mock can show: every connection
/// gets `reply` (possibly nothing), then is held open, unanswered, until the server stops
/// by itself after `life`. Returns its base URL.
pub fn raw_server(reply: Vec<u8>, life: std::time::Duration) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let end = std::time::Instant::now() + life;
        let mut held = Vec::new();
        while std::time::Instant::now() < end {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    stream
                        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
                        .unwrap();
                    // Take the request head (whatever arrives first), then answer.
                    let _ = stream.read(&mut [0u8; 64 * 1024]);
                    let _ = stream.write_all(&reply);
                    held.push(stream);
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
    });
    url
}

/// A port on loopback where nothing listens.
pub fn closed_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

/// A raw TCP server whose n-th connection gets `replies[n]` (the last one again after
/// that), each after reading the request head. Stops by itself after `life`.
pub fn scripted_server(replies: Vec<Vec<u8>>, life: std::time::Duration) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let end = std::time::Instant::now() + life;
        let mut n = 0;
        while std::time::Instant::now() < end {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    stream
                        .set_read_timeout(Some(std::time::Duration::from_millis(500)))
                        .unwrap();
                    let _ = stream.read(&mut [0u8; 64 * 1024]);
                    let reply = &replies[n.min(replies.len() - 1)];
                    let _ = stream.write_all(reply);
                    n += 1;
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
    });
    url
}

/// An HTTP/1.1 answer with `status`, `headers` and `body`, closing the connection.
pub fn http_reply(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut reply = head.into_bytes();
    reply.extend_from_slice(body);
    reply
}

/// An HTTP date `secs` seconds from now (IMF-fixdate).
pub fn http_date_in(secs: u64) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + secs;
    let (days, rest) = (t / 86_400, t % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        weekdays[(days % 7) as usize],
        months[(month - 1) as usize],
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// A raw TCP server that answers 200 with `body` one byte a second. Stops after `life`.
pub fn drip_server(body: &'static [u8], life: std::time::Duration) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let end = std::time::Instant::now() + life;
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = stream.read(&mut [0u8; 64 * 1024]);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                for b in body {
                    if std::time::Instant::now() > end || stream.write_all(&[*b]).is_err() {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
            });
            if std::time::Instant::now() > end {
                return;
            }
        }
    });
    url
}

/// A raw TCP server that reads an upload `chunk` bytes every `gap` (a slow link), then
/// answers like FlowScale's execute. Stops after `life`.
pub fn slow_sink(chunk: usize, gap: std::time::Duration, life: std::time::Duration) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let end = std::time::Instant::now() + life;
        if let Some(Ok(stream)) = listener.incoming().next() {
            let mut reader = BufReader::with_capacity(chunk, stream.try_clone().unwrap());
            let mut length = 0usize;
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let l = line.trim_end().to_ascii_lowercase();
                if l.is_empty() {
                    break;
                }
                if let Some(v) = l.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut buf = vec![0u8; chunk];
            let mut read = 0;
            while read < length && std::time::Instant::now() < end {
                let want = chunk.min(length - read);
                match reader.read(&mut buf[..want]) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => read += n,
                }
                std::thread::sleep(gap);
            }
            let body = br#"{"status":"success","data":{"run_id":"slow-1","workflow_id":"wf"}}"#;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            let mut out = stream;
            let _ = out.write_all(head.as_bytes());
            let _ = out.write_all(body);
        }
    });
    url
}

/// A fresh, empty directory for one test (named after the test's thread, so that the two
/// clients' copies of a case never share one).
pub fn fresh_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "flowscale-{test}-{}-{}",
        std::process::id(),
        std::thread::current()
            .name()
            .unwrap_or("t")
            .replace("::", "-")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// How many `method` requests for `path` the simulator received.
pub fn count(server: &flowscale::mock::MockServer, method: &str, path: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

/// How many runs the simulator was asked to start.
#[cfg(feature = "mock")]
pub fn executes(server: &flowscale::mock::MockServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/api/v1/runs")
        .count()
}

/// The most of each a [`counting_server`] saw at once.
#[derive(Default)]
pub struct Peaks {
    open: std::sync::atomic::AtomicUsize,
    most_open: std::sync::atomic::AtomicUsize,
    in_flight: std::sync::atomic::AtomicUsize,
    most_in_flight: std::sync::atomic::AtomicUsize,
}

impl Peaks {
    /// The most connections open at once.
    pub fn most_open(&self) -> usize {
        self.most_open.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The most requests being answered at once.
    pub fn most_in_flight(&self) -> usize {
        self.most_in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Checks a client bound to `bound` requests: no more in flight, and under twice as
    /// many connections (those in use, and at most as many idle).
    pub fn assert_within(&self, bound: usize) {
        assert!(
            self.most_in_flight() <= bound,
            "{} requests in flight",
            self.most_in_flight()
        );
        assert!(
            self.most_open() <= 2 * bound,
            "{} connections open",
            self.most_open()
        );
    }

    fn enter(now: &std::sync::atomic::AtomicUsize, most: &std::sync::atomic::AtomicUsize) {
        let n = now.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        most.fetch_max(n, std::sync::atomic::Ordering::SeqCst);
    }

    fn leave(now: &std::sync::atomic::AtomicUsize) {
        now.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A keep-alive HTTP/1.1 server that answers every request with a completed run after
/// `delay`, counting the connections open and the requests in flight.
pub fn counting_server(delay: std::time::Duration) -> (String, Arc<Peaks>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let peaks = Arc::new(Peaks::default());
    let shared = peaks.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let peaks = shared.clone();
            std::thread::spawn(move || {
                Peaks::enter(&peaks.open, &peaks.most_open);
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut out = stream;
                let body = ok(serde_json::json!({"_id": "r1", "status": "completed"}));
                'requests: loop {
                    let mut line = String::new();
                    // A GET's head ends with an empty line; nothing else comes.
                    loop {
                        line.clear();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => break 'requests,
                            Ok(_) if line.trim().is_empty() => break,
                            Ok(_) => {}
                        }
                    }
                    Peaks::enter(&peaks.in_flight, &peaks.most_in_flight);
                    std::thread::sleep(delay);
                    Peaks::leave(&peaks.in_flight);
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if out.write_all(reply.as_bytes()).is_err() {
                        break;
                    }
                }
                Peaks::leave(&peaks.open);
            });
        }
    });
    (url, peaks)
}

/// A server that records the `X-API-KEY` of every request it receives (`None` for a request
/// without one) and answers each as a pod's health check does. Stops by itself after `life`.
pub fn key_capture_server(life: std::time::Duration) -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let keys = Arc::new(Mutex::new(Vec::new()));
    let seen = keys.clone();
    std::thread::spawn(move || {
        let end = std::time::Instant::now() + life;
        while std::time::Instant::now() < end {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(std::time::Duration::from_millis(5));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut key = None;
            let mut line = String::new();
            while matches!(reader.read_line(&mut line), Ok(n) if n > 0) && !line.trim().is_empty() {
                if let Some((name, value)) = line.split_once(':')
                    && name.trim().eq_ignore_ascii_case("x-api-key")
                {
                    key = Some(value.trim().to_owned());
                }
                line.clear();
            }
            seen.lock().unwrap().push(key);
            let body = ok(serde_json::json!([{"container": "c1", "status": "idle"}]));
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            let mut out = stream;
            let _ = out.write_all(reply.as_bytes());
        }
    });
    (url, keys)
}
