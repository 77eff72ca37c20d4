//! A loopback stand-in for FlowScale that costs the contenders as little as possible: plain
//! HTTP/1.1 with keep-alive, a thread per connection.
//!
//! - `POST /api/v1/runs?...` reads the body (with `Content-Length` or chunked), discards
//!   it, and answers like an execute;
//! - `GET /api/v1/runs/<id>` answers a small completed run;
//! - `GET /files/<n>.bin` sends `n` MiB of bytes from memory, with their `Content-Length`,
//!   an `ETag` and `Accept-Ranges`; `Range: bytes=N-` gets a `206` with the rest; with
//!   `?cut=P`, a request without `Range` gets only P% of the body before the connection
//!   closes (a download cut short, to be resumed); with `?rate=M&every=S`, every answer
//!   (ranged or not) is sent at M MiB/s and its connection closed after S seconds (a link
//!   that cuts every S seconds, however the download resumes);
//! - `GET /stats/bytes` answers how many body bytes of files were sent since it was last
//!   asked (and starts counting again).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};

/// Body bytes of files sent since `/stats/bytes` was last asked.
static SENT: AtomicU64 = AtomicU64::new(0);

/// Starts the server on a free loopback port; returns its base URL.
pub fn start() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream));
        }
    });
    url
}

const EXECUTE: &[u8] = br#"{"status":"success","data":{"run_id":"r1","workflow_id":"wf","number":0,"node_errors":{},"output_names":[]}}"#;
const RUN: &[u8] = br#"{"status":"success","data":{"_id":"r1","team_id":"t","workflow_id":"wf","group_id":null,"status":"completed","inputs":[{"path":"prompt","value":"bench"}],"outputs":[{"filename":"image_00001_.png","url":"https://example.invalid/image_00001_.png"}],"created_at":"2026-11-29T00:00:00Z","started_at":"2026-11-29T00:00:01Z","completed_at":"2026-11-29T00:00:09Z"}}"#;

fn serve(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::with_capacity(256 * 1024, stream.try_clone().unwrap());
    let mut out = stream;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let (mut length, mut chunked, mut range) = (0u64, false, None);
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let lower = line.trim_end().to_ascii_lowercase();
            if lower.is_empty() {
                break;
            }
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
            if let Some(v) = lower.strip_prefix("range:") {
                range = v
                    .trim()
                    .strip_prefix("bytes=")
                    .and_then(|r| r.trim_end_matches('-').parse::<u64>().ok());
            }
            if lower.starts_with("expect:")
                && out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err()
            {
                return;
            }
        }
        if drain(&mut reader, length, chunked).is_err() {
            return;
        }
        let answered = if let Some(file) = target.strip_prefix("/files/") {
            let (file, query) = file.split_once('?').unwrap_or((file, ""));
            let mib = file.trim_end_matches(".bin").parse().unwrap_or(1);
            let param = |name: &str| {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            let link = Link {
                cut: param("cut"),
                rate: param("rate"),
                every: param("every").map(std::time::Duration::from_secs),
            };
            send_file(&mut out, mib, range, &link)
        } else if target == "/stats/bytes" {
            // Answered, then the connection closes: the asker reads to the end.
            let sent = SENT.swap(0, Ordering::Relaxed).to_string();
            let _ = send_json(&mut out, sent.as_bytes());
            return;
        } else if target.starts_with("/api/v1/runs/") {
            send_json(&mut out, RUN)
        } else {
            send_json(&mut out, EXECUTE)
        };
        if answered.is_err() {
            return;
        }
    }
}

fn drain(reader: &mut BufReader<TcpStream>, length: u64, chunked: bool) -> std::io::Result<()> {
    if !chunked {
        return discard(reader, length);
    }
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let size = u64::from_str_radix(line.trim(), 16).unwrap_or(0);
        std::io::copy(&mut reader.take(size + 2), &mut std::io::sink())?;
        if size == 0 {
            return Ok(());
        }
    }
}

/// Reads and drops `length` bytes: what is buffered, then straight from the socket into a
/// buffer that starts on a cache line (the kernel copies into a misaligned one about three
/// times slower on some CPUs, which would make this server, not the contender, the limit).
fn discard(reader: &mut BufReader<TcpStream>, mut length: u64) -> std::io::Result<()> {
    let buffered = reader.buffer().len().min(length as usize);
    reader.consume(buffered);
    length -= buffered as u64;
    const PIECE: usize = 256 * 1024;
    let mut buf = vec![0u8; PIECE + 64];
    let start = buf.as_ptr().align_offset(64);
    let piece = &mut buf[start..start + PIECE];
    while length > 0 {
        let want = piece.len().min(length as usize);
        match reader.get_mut().read(&mut piece[..want])? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => length -= n as u64,
        }
    }
    Ok(())
}

fn send_json(out: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let mut reply = head.into_bytes();
    reply.extend_from_slice(body);
    out.write_all(&reply)
}

/// How a file's link misbehaves.
struct Link {
    /// A whole (unranged) answer ends at this percentage.
    cut: Option<u64>,
    /// MiB per second.
    rate: Option<u64>,
    /// Every answer's connection closes after this long.
    every: Option<std::time::Duration>,
}

/// Sends file `<mib>.bin` from byte `from` (a `206`), or whole, as `link` says.
fn send_file(out: &mut TcpStream, mib: u64, from: Option<u64>, link: &Link) -> std::io::Result<()> {
    let cut = link.cut;
    let len = mib << 20;
    let start = from.unwrap_or(0).min(len);
    let head = match from {
        Some(_) => format!(
            "HTTP/1.1 206 Partial Content\r\ncontent-type: application/octet-stream\r\n\
             content-length: {}\r\ncontent-range: bytes {start}-{}/{len}\r\n\
             etag: \"file-{mib}\"\r\naccept-ranges: bytes\r\n\r\n",
            len - start,
            len.saturating_sub(1)
        ),
        None => format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: \
             {len}\r\netag: \"file-{mib}\"\r\naccept-ranges: bytes\r\n\r\n"
        ),
    };
    out.write_all(head.as_bytes())?;
    let end = match (from, cut) {
        (None, Some(percent)) => len / 100 * percent.min(100),
        _ => len,
    };
    // Byte `i` of every file is `(i % 1 MiB) % 251`: a resumed body continues the pattern.
    let block: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let began = std::time::Instant::now();
    // Paced in pieces of 64 KiB when a rate is set.
    let piece = match link.rate {
        Some(_) => 64 * 1024,
        None => 1 << 20,
    };
    let mut at = start;
    while at < end {
        if link.every.is_some_and(|every| began.elapsed() >= every) {
            break;
        }
        let offset = (at % (1 << 20)) as usize;
        let n = (block.len() - offset).min((end - at) as usize).min(piece);
        out.write_all(&block[offset..offset + n])?;
        SENT.fetch_add(n as u64, Ordering::Relaxed);
        at += n as u64;
        if let Some(rate) = link.rate {
            let due = std::time::Duration::from_secs_f64((at - start) as f64 / (rate << 20) as f64);
            if let Some(wait) = due.checked_sub(began.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    if at < len {
        // Cut short: the connection closes with the body unfinished.
        let _ = out.shutdown(std::net::Shutdown::Both);
        return Err(std::io::ErrorKind::ConnectionAborted.into());
    }
    Ok(())
}
