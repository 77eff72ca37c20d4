//! A standalone FlowScale simulator for other languages' clients (the official Python SDK,
//! say), with a few demo workflows registered.
//!
//! ```sh
//! cargo run --example mock_server -- --port 8080 [--key mock-api-key] [--legacy]
//! ```

use std::time::Duration;

use flowscale::mock::{DEFAULT_API_KEY, MockServer, Workflow};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 8080u16;
    let mut key = DEFAULT_API_KEY.to_string();
    let mut legacy = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().ok_or("--port needs a number")?.parse()?,
            "--key" => key = args.next().ok_or("--key needs a value")?,
            "--legacy" => legacy = true,
            "-h" | "--help" => {
                println!("usage: mock_server [--port N] [--key KEY] [--legacy]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}; see --help").into()),
        }
    }
    let server = MockServer::start_on(&format!("127.0.0.1:{port}"))?;
    server.set_api_key(key.clone());
    server.serve_legacy_shapes(legacy);
    // The workflow id of the Python SDK's README, and a generic one.
    server.register(
        Workflow::new("bncu0a1kipv")
            .outputs(["filename_prefix"])
            .duration(Duration::from_secs(2)),
    );
    server.register(Workflow::new("wf1").outputs(["image", "preview"]));
    server.register(Workflow::new("failing").fails());
    println!("FlowScale simulator listening on {}", server.url());
    println!("  FLOWSCALE_API_URL={}", server.url());
    println!("  FLOWSCALE_API_KEY={key}");
    println!("  workflows: bncu0a1kipv, wf1, failing (Ctrl-C to stop)");
    loop {
        std::thread::park();
    }
}
