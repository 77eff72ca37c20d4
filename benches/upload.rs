//! Upload benchmark: a large file through `Client` and `AsyncClient`, against a loopback
//! sink that reads and discards the body, compared in the same run with curl (`curl -F`) and
//! with a naive upload that reads the file into memory first (raw ureq).
//!
//! ```sh
//! cargo bench --bench upload                 # 256 MiB file
//! FLOWSCALE_BENCH_MB=1024 cargo bench --bench upload
//! ```
//!
//! Prints, for each way, the wall time, the throughput, its ratio to curl's, and how much
//! the process's peak resident memory (VmHWM) grew: streaming keeps it flat, whatever the
//! file size. Timings on a shared machine are noisy: read the ratios, not the seconds.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use flowscale::{AsyncClient, Client, Inputs};

/// A loopback HTTP/1.1 server that drains each request body and answers like FlowScale.
#[path = "support/process.rs"]
mod process;
use process::peak_mib;

fn sink() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream));
        }
    });
    url
}

fn serve(stream: TcpStream) {
    let mut reader = BufReader::with_capacity(256 * 1024, stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut length = 0u64;
        let mut chunked = false;
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
            if lower.starts_with("expect:") {
                let _ = out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
            }
        }
        if chunked {
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let size = u64::from_str_radix(line.trim(), 16).unwrap_or(0);
                std::io::copy(&mut (&mut reader).take(size + 2), &mut std::io::sink()).unwrap();
                if size == 0 {
                    break;
                }
            }
        } else {
            std::io::copy(&mut (&mut reader).take(length), &mut std::io::sink()).unwrap();
        }
        let body = br#"{"status":"success","data":{"run_id":"r1","workflow_id":"wf"}}"#;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(body).is_err() {
            return;
        }
    }
}

struct Row {
    name: &'static str,
    time: Duration,
    growth: f64,
}

fn measure(name: &'static str, f: impl FnOnce()) -> Row {
    let before = peak_mib();
    let start = Instant::now();
    f();
    Row {
        name,
        time: start.elapsed(),
        growth: peak_mib() - before,
    }
}

fn main() {
    let mb: u64 = std::env::var("FLOWSCALE_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let path = std::env::temp_dir().join(format!("flowscale-bench-{}.mp4", std::process::id()));
    {
        let mut f = std::fs::File::create(&path).unwrap();
        let block: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        for _ in 0..mb {
            f.write_all(&block).unwrap();
        }
    }
    let url = sink();
    let bytes = mb * 1024 * 1024;
    println!("uploading a {mb} MiB file to a loopback sink");
    let mut rows = Vec::new();

    // Streaming uploads first: peak memory (VmHWM) only grows, so the naive way goes last.
    let client = Client::new("bench-key", &url).unwrap();
    rows.push(measure("flowscale Client (streamed)", || {
        let inputs = Inputs::new()
            .set("prompt", "bench")
            .set("video_1", path.as_path());
        client.execute_workflow("wf", inputs, None).unwrap();
    }));

    let rt = tokio::runtime::Runtime::new().unwrap();
    let async_client = AsyncClient::new("bench-key", &url).unwrap();
    rows.push(measure("flowscale AsyncClient (streamed)", || {
        let inputs = Inputs::new()
            .set("prompt", "bench")
            .set("video_1", path.as_path());
        rt.block_on(async_client.execute_workflow("wf", inputs, None))
            .unwrap();
    }));

    // The cost of upload progress reporting: the same uploads with and without a callback,
    // alternated, medians of 3 (`Inputs::on_progress`; reports at most every 100 ms).
    let reports = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let upload = |progress: bool, blocking: bool| {
        let mut inputs = Inputs::new()
            .set("prompt", "bench")
            .set("video_1", path.as_path());
        if progress {
            let reports = reports.clone();
            inputs = inputs.on_progress(move |_| {
                reports.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            });
        }
        let start = Instant::now();
        if blocking {
            client.execute_workflow("wf", inputs, None).unwrap();
        } else {
            rt.block_on(async_client.execute_workflow("wf", inputs, None))
                .unwrap();
        }
        start.elapsed()
    };
    for (label, blocking) in [("Client", true), ("AsyncClient", false)] {
        let (mut off, mut on) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            off.push(upload(false, blocking));
            on.push(upload(true, blocking));
        }
        off.sort();
        on.sort();
        println!(
            "progress reporting, {label}: median {:.3} s without, {:.3} s with ({:+.1}%)",
            off[1].as_secs_f64(),
            on[1].as_secs_f64(),
            (on[1].as_secs_f64() / off[1].as_secs_f64() - 1.0) * 100.0
        );
    }
    println!(
        "  ({} progress reports in all for 6 uploads of {mb} MiB)",
        reports.load(std::sync::atomic::Ordering::Relaxed)
    );

    let curl = Command::new("curl").arg("--version").output().is_ok();
    if curl {
        rows.push(measure("curl -F (baseline, separate process)", || {
            let status = Command::new("curl")
                .args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-H",
                    "X-API-KEY: bench-key",
                    "-F",
                    "prompt=bench",
                ])
                .arg("-F")
                .arg(format!("video_1=@{}", path.display()))
                .arg(format!("{url}/api/v1/runs?workflow_id=wf"))
                .status()
                .unwrap();
            assert!(status.success());
        }));
    }

    rows.push(measure("raw ureq, file read into memory (naive)", || {
        naive_upload(&url, &path);
    }));

    let base = rows
        .iter()
        .find(|r| r.name.starts_with("curl"))
        .map(|r| r.time);
    println!(
        "{:<42} {:>9} {:>10} {:>9} {:>14}",
        "way", "seconds", "MiB/s", "vs curl", "peak RSS +MiB"
    );
    for r in &rows {
        let secs = r.time.as_secs_f64();
        let ratio = base.map_or("n/a".to_string(), |b| {
            format!("{:.2}x", b.as_secs_f64() / secs)
        });
        let growth = if r.name.starts_with("curl") {
            "(own process)".to_string()
        } else {
            format!("{:.1}", r.growth)
        };
        println!(
            "{:<42} {:>9.3} {:>10.1} {:>9} {:>14}",
            r.name,
            secs,
            bytes as f64 / 1048576.0 / secs,
            ratio,
            growth
        );
    }
    println!("('vs curl' > 1 means faster than curl; peak RSS growth is for this process)");
    let _ = std::fs::remove_file(&path);
}

/// What an SDK without streaming does: read the whole file, build the body in memory.
fn naive_upload(url: &str, path: &Path) {
    let data = std::fs::read(path).unwrap();
    let boundary = "naiveboundary";
    let mut body = Vec::with_capacity(data.len() + 512);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nbench\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"video_1\"; filename=\"v.mp4\"\r\n\
             Content-Type: video/mp4\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    drop(data);
    ureq::post(format!("{url}/api/v1/runs?workflow_id=wf"))
        .header("X-API-KEY", "bench-key")
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .send(&body[..])
        .unwrap();
}
