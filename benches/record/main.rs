//! The benchmark record: every table of `BENCHMARKS.md`, whole process against whole process.
//!
//! ```sh
//! cargo bench --bench record                      # every table, medians of 5
//! cargo bench --bench record -- upload get-run    # some: upload progress download resume
//!                                                 # cut-link get-run per-call fan-out
//! FLOWSCALE_BENCH_REPS=3 cargo bench --bench record
//! bash benches/builds.sh                          # the build table (clean builds, slow)
//! ```
//!
//! Every contender is a process of its own, started the same way and timed from spawn to
//! exit, so process start-up counts for all of them: our SDK (this binary, run as
//! `record contender ...`), curl, and the Python SDK where it is installed. The servers run
//! in processes of their own too: a loopback stand-in for FlowScale that discards uploads
//! (`record serve`) and the simulator for the fan-out (`record simulator`). Each round runs
//! every contender once, in an order that rotates between rounds; the tables give medians.
//! The output is Markdown.

mod contender;
mod measure;

#[path = "../support/server.rs"]
mod server;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use measure::{Sample, median, run};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("contender") => contender::main(&args[1..]),
        Some("serve") => {
            let url = server::start();
            announce_and_wait(&url);
        }
        Some("simulator") => simulator(&args[1..]),
        _ => record(&args),
    }
}

/// Prints the address the driver waits for, then serves until the driver goes away.
fn announce_and_wait(line: &str) {
    println!("{line}");
    std::io::stdout().flush().unwrap();
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
}

/// The simulator with one workflow, `fanout`, whose runs take `run_ms` and start at once.
fn simulator(args: &[String]) {
    let run_ms: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let server = flowscale::mock::MockServer::start();
    server.register(
        flowscale::mock::MockWorkflow::new("fanout")
            .queued_for(Duration::ZERO)
            .duration(Duration::from_millis(run_ms)),
    );
    announce_and_wait(&format!("{} {}", server.url(), server.api_key()));
}

/// A server process of ours, stopped when dropped.
struct Helper {
    child: Child,
    line: String,
}

impl Helper {
    fn start(args: &[&str]) -> Helper {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Helper {
            child,
            line: line.trim().to_owned(),
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One way of doing a table's job.
struct Contender {
    name: String,
    command: Box<dyn Fn() -> Command>,
    /// Undoes what a run left behind (a downloaded file), outside the timing.
    after: Option<Box<dyn Fn()>>,
}

impl Contender {
    fn new(name: impl Into<String>, command: impl Fn() -> Command + 'static) -> Self {
        Contender {
            name: name.into(),
            command: Box::new(command),
            after: None,
        }
    }

    fn after(mut self, f: impl Fn() + 'static) -> Self {
        self.after = Some(Box::new(f));
        self
    }
}

/// What the ratio column compares with.
enum Against {
    /// The first contender's median wall time.
    First,
    /// A fixed duration (one run's, for the fan-out).
    Duration(Duration),
}

struct Table {
    title: String,
    contenders: Vec<Contender>,
    against: Against,
    count_sockets: bool,
    /// How many times the usual rounds this table takes (for small differences).
    rounds_factor: usize,
    /// The stand-in's base URL and a file's size, to show the body bytes each contender
    /// had sent against the size (a resumed download).
    bytes_sent: Option<(String, u64)>,
}

fn ours(client: &str, job: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["contender", client, job]).args(args);
    cmd
}

fn curl() -> Command {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--fail"]);
    cmd
}

fn python_script(script: &str) -> Command {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script]);
    cmd
}

fn record(args: &[String]) {
    let wanted: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wants = |table: &str| wanted.is_empty() || wanted.contains(&table);
    let reps = env_or("FLOWSCALE_BENCH_REPS", 5).max(1) as usize;
    let scratch = Scratch::new();
    machine(reps);
    let python = python_sdk();
    let stand_in = Helper::start(&["serve"]);
    let base = stand_in.line.clone();

    if wants("upload") {
        for mib in env_list("FLOWSCALE_BENCH_UPLOAD_MB", &[512, 2048]) {
            let file = scratch.file(&format!("upload-{mib}.mp4"), mib);
            let table = uploads(&base, &file, mib, python.as_deref());
            print_table(table, reps);
        }
    }
    if wants("progress") {
        let mib = env_or("FLOWSCALE_BENCH_PROGRESS_MB", 512);
        let file = scratch.file(&format!("upload-{mib}.mp4"), mib);
        print_table(progress(&base, &file, mib), reps);
    }
    if wants("download") {
        let mib = env_or("FLOWSCALE_BENCH_DOWNLOAD_MB", 512);
        print_table(downloads(&base, &scratch.0, mib), reps);
    }
    if wants("resume") {
        let mib = env_or("FLOWSCALE_BENCH_RESUME_MB", 512);
        print_table(resumes(&base, &scratch.0, mib), reps);
    }
    if wants("cut-link") {
        let mib = env_or("FLOWSCALE_BENCH_CUT_LINK_MB", 1024);
        print_table(cut_link(&base, &scratch.0, mib), reps);
    }
    if wants("get-run") {
        let n = env_or("FLOWSCALE_BENCH_GET_RUNS", 1000);
        print_table(get_runs(&base, &scratch.0, n, python.as_deref()), reps);
    }
    if wants("per-call") {
        per_call(&base, env_or("FLOWSCALE_BENCH_CALLS", 2000), reps);
    }
    if wants("fan-out") {
        for (waits, run_ms, poll_ms) in [(1000, 1000, 200), (10_000, 10_000, 2000)] {
            // A fresh simulator for each table, so earlier runs do not weigh on it.
            let simulator = Helper::start(&["simulator", &run_ms.to_string()]);
            print_table(fan_out(&simulator.line, waits, run_ms, poll_ms), reps);
        }
    }
}

fn uploads(base: &str, file: &Path, mib: u64, python: Option<&str>) -> Table {
    let path = file.display().to_string();
    let mut contenders = Vec::new();
    let (url, form) = (
        format!("{base}/api/v1/runs?workflow_id=wf"),
        format!("video_1=@{path}"),
    );
    contenders.push(Contender::new("curl -F", move || {
        let mut cmd = curl();
        cmd.args(["-o", "/dev/null", "-H", "X-API-KEY: bench-key"])
            .args(["-F", "prompt=bench", "-F", &form, &url]);
        cmd
    }));
    for (name, client) in [("Client", "blocking"), ("AsyncClient", "async")] {
        let (base, path) = (base.to_owned(), path.clone());
        contenders.push(Contender::new(format!("flowscale {name}"), move || {
            ours(client, "upload", &[&base, &path, "quiet"])
        }));
    }
    // The Python SDK reads the whole file into memory: at 2 GiB that is minutes of swapless
    // allocation on a small machine for a figure the 512 MiB row already gives.
    if let Some(version) = python.filter(|_| mib <= 512) {
        let script = format!(
            "from flowscale import FlowscaleAPI\n\
             FlowscaleAPI('bench-key', {base:?}).execute_workflow('wf', \
             {{'prompt': 'bench', 'video_1': {path:?}}})"
        );
        contenders.push(Contender::new(format!("Python SDK {version}"), move || {
            python_script(&script)
        }));
    }
    Table {
        title: format!("Upload one {mib} MiB file (loopback server that discards the body)"),
        contenders,
        against: Against::First,
        count_sockets: false,
        rounds_factor: 1,
        bytes_sent: None,
    }
}

/// The cost of upload progress reporting: the same upload with and without a callback,
/// side by side. The difference is small against the noise of a shared machine, so this
/// table takes three times the rounds of the others.
fn progress(base: &str, file: &Path, mib: u64) -> Table {
    let path = file.display().to_string();
    let mut contenders = Vec::new();
    for (name, client) in [("Client", "blocking"), ("AsyncClient", "async")] {
        for progress in ["quiet", "progress"] {
            let label = match progress {
                "quiet" => format!("flowscale {name}"),
                _ => format!("flowscale {name}, progress reported"),
            };
            let (base, path) = (base.to_owned(), path.clone());
            contenders.push(Contender::new(label, move || {
                ours(client, "upload", &[&base, &path, progress])
            }));
        }
    }
    Table {
        title: format!(
            "Upload progress reporting: one {mib} MiB file, with and without a callback"
        ),
        contenders,
        against: Against::First,
        count_sockets: false,
        rounds_factor: 3,
        bytes_sent: None,
    }
}

fn downloads(base: &str, dir: &Path, mib: u64) -> Table {
    let url = format!("{base}/files/{mib}.bin");
    let dest = |name: &str| dir.join(format!("download-{name}.bin"));
    let mut contenders = Vec::new();
    let plain = dest("curl");
    let synced = dest("curl-sync");
    {
        let (url, plain) = (url.clone(), plain.clone());
        contenders.push(
            Contender::new("curl -o", move || {
                let mut cmd = curl();
                cmd.arg("-o").arg(&plain).arg(&url);
                cmd
            })
            .after(remover(dest("curl"))),
        );
    }
    {
        let url = url.clone();
        contenders.push(
            Contender::new("curl -o, then sync (as durable as ours)", move || {
                let mut cmd = Command::new("sh");
                cmd.args(["-c", "curl -sS --fail -o \"$0\" \"$1\" && sync \"$0\""])
                    .arg(&synced)
                    .arg(&url);
                cmd
            })
            .after(remover(dest("curl-sync"))),
        );
    }
    for (name, client) in [("Client", "blocking"), ("AsyncClient", "async")] {
        let (url, file) = (url.clone(), dest(client));
        contenders.push(
            Contender::new(format!("flowscale {name}::download"), {
                let file = file.display().to_string();
                move || ours(client, "download", &[&url, &file])
            })
            .after(remover(file)),
        );
    }
    Table {
        title: format!(
            "Download one {mib} MiB output to disk (the Python SDK has no download call)"
        ),
        contenders,
        against: Against::First,
        count_sockets: false,
        rounds_factor: 1,
        bytes_sent: None,
    }
}

/// A download cut at 90%, then completed: ours resume within the call (`Range` from where
/// the file ends, `If-Range` with the ETag); curl is run twice, the second time with
/// `-C -`, the same resume by hand.
fn resumes(base: &str, dir: &Path, mib: u64) -> Table {
    let url = format!("{base}/files/{mib}.bin?cut=90");
    let dest = |name: &str| dir.join(format!("resume-{name}.bin"));
    let mut contenders = Vec::new();
    {
        let (url, file) = (url.clone(), dest("curl"));
        contenders.push(
            Contender::new("curl -o, cut at 90%; then curl -C - -o", {
                let file = file.clone();
                move || {
                    let mut cmd = Command::new("sh");
                    cmd.args([
                        "-c",
                        "curl -sS -o \"$0\" \"$1\" 2>/dev/null; curl -sS --fail -C - -o \"$0\" \"$1\"",
                    ])
                    .arg(&file)
                    .arg(&url);
                    cmd
                }
            })
            .after(remover(file)),
        );
    }
    for (name, client) in [("Client", "blocking"), ("AsyncClient", "async")] {
        let (url, file) = (url.clone(), dest(client));
        contenders.push(
            Contender::new(
                format!("flowscale {name}::download, cut at 90%, resumed"),
                {
                    let file = file.display().to_string();
                    move || ours(client, "download", &[&url, &file])
                },
            )
            .after(remover(file)),
        );
    }
    Table {
        title: format!(
            "Resume one {mib} MiB download cut at 90% (a restart would send 1.9x the file)"
        ),
        contenders,
        against: Against::First,
        count_sockets: false,
        rounds_factor: 1,
        bytes_sent: Some((base.to_owned(), mib << 20)),
    }
}

/// A download over a link that cuts every 10 s, about 40 s in all (the link's rate is set
/// for that): ours resume within the one call as long as each attempt brings bytes, sending
/// the file once.
fn cut_link(base: &str, dir: &Path, mib: u64) -> Table {
    let rate = mib.div_ceil(40).max(1);
    let url = format!("{base}/files/{mib}.bin?rate={rate}&every=10");
    let dest = |name: &str| dir.join(format!("cut-link-{name}.bin"));
    // curl is not in this table: `curl --retry N --retry-all-errors -C -` computes its
    // offset once, so every retry asks for the same range again and never gets past the
    // first cut (tried: 20 retries, each ending 10 s in).
    let mut contenders = Vec::new();
    for (name, client) in [("Client", "blocking"), ("AsyncClient", "async")] {
        let (url, file) = (url.clone(), dest(client));
        contenders.push(
            Contender::new(format!("flowscale {name}::download, one call"), {
                let file = file.display().to_string();
                move || ours(client, "download", &[&url, &file])
            })
            .after(remover(file)),
        );
    }
    Table {
        title: format!(
            "One {mib} MiB download over a link cut every 10 s ({rate} MiB/s, about 40 s)"
        ),
        contenders,
        against: Against::First,
        count_sockets: false,
        rounds_factor: 1,
        bytes_sent: Some((base.to_owned(), mib << 20)),
    }
}

/// The body bytes of files the stand-in sent since last asked.
fn stand_in_bytes(base: &str) -> u64 {
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .write_all(
            format!("GET /stats/bytes HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    answer
        .rsplit("\r\n\r\n")
        .next()
        .and_then(|body| body.trim().parse().ok())
        .unwrap_or(0)
}

/// Removes a downloaded file, then waits for the disk to settle, so that no contender pays
/// for the writes of the one before.
fn remover(path: PathBuf) -> impl Fn() + 'static {
    move || {
        let _ = std::fs::remove_file(&path);
        let _ = Command::new("sync").status();
    }
}

fn get_runs(base: &str, dir: &Path, n: u64, python: Option<&str>) -> Table {
    // curl reuses one connection for every URL of one invocation: keep-alive, as ours.
    let config = dir.join("get-run.curl");
    let mut text = String::from("header = \"X-API-KEY: bench-key\"\n");
    for _ in 0..n {
        text.push_str(&format!(
            "url = \"{base}/api/v1/runs/r1\"\noutput = \"/dev/null\"\n"
        ));
    }
    std::fs::write(&config, text).unwrap();
    let mut contenders = vec![Contender::new("curl, one process, keep-alive", move || {
        let mut cmd = curl();
        cmd.arg("-K").arg(&config);
        cmd
    })];
    let count = n.to_string();
    for (name, client) in [
        ("flowscale Client", "blocking"),
        ("flowscale AsyncClient, multi-thread runtime", "async"),
        (
            "flowscale AsyncClient, current-thread runtime",
            "async-current-thread",
        ),
    ] {
        let (base, count) = (base.to_owned(), count.clone());
        contenders.push(Contender::new(name, move || {
            ours(client, "get-run", &[&base, &count])
        }));
    }
    // The SDK against its own transport doing the same GET and decode, in the same run.
    for (name, client) in [
        (
            "raw ureq (Client's transport), same GET and decode",
            "blocking",
        ),
        ("raw reqwest, multi-thread runtime", "async"),
        (
            "raw reqwest, current-thread runtime",
            "async-current-thread",
        ),
    ] {
        let (base, count) = (base.to_owned(), count.clone());
        contenders.push(Contender::new(name, move || {
            ours(client, "raw-get-run", &[&base, &count])
        }));
    }
    if let Some(version) = python {
        let script = format!(
            "from flowscale import FlowscaleAPI\n\
             api = FlowscaleAPI('bench-key', {base:?})\n\
             for _ in range({n}):\n    api.run('r1')"
        );
        contenders.push(Contender::new(format!("Python SDK {version}"), move || {
            python_script(&script)
        }));
    }
    Table {
        title: format!("{n} sequential get_run calls in one process"),
        contenders,
        against: Against::First,
        count_sockets: false,
        rounds_factor: 1,
        bytes_sent: None,
    }
}

/// The SDK's own time per call, start-up and warm-up left out: each contender process times
/// its calls itself (after 20 untimed ones) and prints the median and the fastest, and the
/// SDK is set against its raw transport doing the same request and decode, in the same
/// rounds, order rotating.
fn per_call(base: &str, n: u64, reps: usize) {
    let clients = [
        ("Client", "raw ureq", "blocking"),
        ("AsyncClient, multi-thread runtime", "raw reqwest", "async"),
        (
            "AsyncClient, current-thread runtime",
            "raw reqwest",
            "async-current-thread",
        ),
    ];
    println!(
        "\n### Per call, in one process: {n} calls timed after 20 untimed, medians of {reps} processes\n"
    );
    println!(
        "| call | SDK | transport alone | SDK, median | transport, median | SDK / transport | \
         SDK, fastest | transport, fastest |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|");
    for what in ["get-run", "execute"] {
        for (sdk, raw, client) in clients {
            let jobs = ["per-call", "raw-per-call"];
            let mut rounds: [Vec<(u64, u64)>; 2] = [Vec::new(), Vec::new()];
            for round in 0..reps {
                for k in 0..2 {
                    let i = (round + k) % 2;
                    let out = ours(client, jobs[i], &[what, base, &n.to_string()])
                        .stderr(std::process::Stdio::inherit())
                        .output()
                        .expect("start a per-call contender");
                    assert!(out.status.success(), "{client} {} {what} failed", jobs[i]);
                    let text = String::from_utf8_lossy(&out.stdout);
                    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().unwrap());
                    rounds[i].push((fields.next().unwrap(), fields.next().unwrap()));
                }
            }
            let [ours_, raw_] = rounds.map(|mut r| {
                r.sort_unstable();
                let fastest = r.iter().map(|&(_, min)| min).min().unwrap();
                (r[r.len() / 2].0, fastest)
            });
            let us = |ns: u64| ns as f64 / 1000.0;
            let call = if what == "get-run" {
                "`run`"
            } else {
                "`execute_workflow`"
            };
            println!(
                "| {call} | {sdk} | {raw} | {:.1} us | {:.1} us | {:.2}x | {:.1} us | {:.1} us |",
                us(ours_.0),
                us(raw_.0),
                ours_.0 as f64 / raw_.0 as f64,
                us(ours_.1),
                us(raw_.1)
            );
        }
    }
    std::io::stdout().flush().unwrap();
}

fn fan_out(simulator: &str, waits: u64, run_ms: u64, poll_ms: u64) -> Table {
    let (url, key) = simulator.split_once(' ').expect("url and key");
    let (url, key) = (url.to_owned(), key.to_owned());
    let (count, poll) = (waits.to_string(), poll_ms.to_string());
    let contender = Contender::new(
        format!(
            "flowscale AsyncClient (at most {} requests in flight)",
            flowscale::constants::DEFAULT_MAX_CONCURRENT_REQUESTS
        ),
        move || ours("async", "fan-out", &[&url, &key, &count, &poll]),
    );
    Table {
        title: format!(
            "{waits} concurrent execute_workflow_and_wait on one AsyncClient: {} s runs, {} s \
             polls, simulator in its own process",
            run_ms as f64 / 1000.0,
            poll_ms as f64 / 1000.0
        ),
        contenders: vec![contender],
        against: Against::Duration(Duration::from_millis(run_ms)),
        count_sockets: true,
        rounds_factor: 1,
        bytes_sent: None,
    }
}

fn print_table(mut table: Table, reps: usize) {
    let reps = reps * table.rounds_factor;
    let n = table.contenders.len();
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); n];
    let mut sent: Vec<Vec<u64>> = vec![Vec::new(); n];
    for round in 0..reps {
        for k in 0..n {
            let i = (round + k) % n;
            let contender = &mut table.contenders[i];
            if let Some((base, _)) = &table.bytes_sent {
                stand_in_bytes(base);
            }
            let sample = run(&mut (contender.command)(), table.count_sockets);
            samples[i].push(sample);
            if let Some((base, _)) = &table.bytes_sent {
                sent[i].push(stand_in_bytes(base));
            }
            if let Some(after) = &contender.after {
                after();
            }
        }
    }
    let medians: Vec<Sample> = samples.iter().map(|s| median(s)).collect();
    let (ratio_head, base) = match table.against {
        Against::First => (format!("vs {}", table.contenders[0].name), medians[0].wall),
        Against::Duration(d) => ("wall / one run".to_owned(), d),
    };
    println!("\n### {}\n", table.title);
    print!("| contender | wall, median of {reps} | {ratio_head} | CPU time | peak RSS |");
    if table.count_sockets {
        print!(" most sockets open |");
    }
    if table.bytes_sent.is_some() {
        print!(" bytes sent / file size |");
    }
    println!(
        "\n|---|---:|---:|---:|---:|{}{}",
        if table.count_sockets { "---:|" } else { "" },
        if table.bytes_sent.is_some() {
            "---:|"
        } else {
            ""
        }
    );
    for (i, (contender, m)) in table.contenders.iter().zip(&medians).enumerate() {
        print!(
            "| {} | {:.3} s | {:.2}x | {:.3} s | {:.1} MiB |",
            contender.name,
            m.wall.as_secs_f64(),
            m.wall.as_secs_f64() / base.as_secs_f64(),
            m.cpu.as_secs_f64(),
            m.peak_mib
        );
        if table.count_sockets {
            print!(" {} |", m.most_sockets);
        }
        if let Some((_, size)) = &table.bytes_sent {
            let most = sent[i].iter().max().copied().unwrap_or(0);
            print!(" {:.3}x |", most as f64 / *size as f64);
        }
        println!();
    }
    // Progress reporting's cost: each "progress reported" row against the row before it.
    for pair in table.contenders.windows(2).zip(medians.windows(2)) {
        let ([quiet, loud], [off, on]) = (pair.0, pair.1) else {
            continue;
        };
        if loud.name.ends_with("progress reported") {
            println!(
                "\nProgress reporting in {}: {:+.1}% wall time, {:+.1}% CPU time.",
                quiet.name,
                (on.wall.as_secs_f64() / off.wall.as_secs_f64() - 1.0) * 100.0,
                (on.cpu.as_secs_f64() / off.cpu.as_secs_f64() - 1.0) * 100.0
            );
        }
    }
    std::io::stdout().flush().unwrap();
}

/// The machine, the tools, the date: the head of the record.
fn machine(reps: usize) {
    let first_line = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.lines().next().map(str::to_owned))
            .unwrap_or_else(|| "not found".into())
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "## Benchmark record, {}\n",
        first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
    );
    println!(
        "- machine: {cores} cores ({cpu}), {}",
        first_line("uname", &["-sr"])
    );
    println!("- {}", first_line("rustc", &["-V"]));
    println!("- {}", first_line("curl", &["-V"]));
    println!("- {}", first_line("python3", &["-V"]));
    println!(
        "- each contender is a whole process, timed from spawn to exit; {reps} rounds, order rotating; medians"
    );
    println!("- peak RSS is the process's own (`ru_maxrss`), start-up included");
}

/// The installed Python SDK's version, if `python3` can import it.
fn python_sdk() -> Option<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import flowscale, importlib.metadata as m; print(m.version('flowscale'))",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_list(name: &str, default: &[u64]) -> Vec<u64> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

/// A directory for the record's files, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("flowscale-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// A file of `mib` MiB of varied bytes (so nothing on the way can compress it).
    fn file(&self, name: &str, mib: u64) -> PathBuf {
        let path = self.0.join(name);
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let block: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        for _ in 0..mib {
            f.write_all(&block).unwrap();
        }
        f.into_inner().unwrap().sync_all().unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
