//! A standalone FlowScale simulator for other languages' clients (the official Python SDK,
//! say), with a few demo workflows registered.
//!
//! ```sh
//! cargo run --example mock_server -- --port 8080 [--key mock-api-key] [--shapes union|current|legacy|spec]
//! ```
//!
//! By default the answers carry every key any server generation or Python SDK release
//! documents (`flowscale::mock::Shapes::Union`); `--shapes current` and `--shapes legacy`
//! serve exactly one generation's shapes, `--shapes spec` exactly FlowScale's OpenAPI file's
//! (`--legacy` and `--current` still work).

use flowscale::mock::{DEFAULT_API_KEY, MockServer, Shapes};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 8080u16;
    let mut key = DEFAULT_API_KEY.to_string();
    let mut shapes = Shapes::Union;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().ok_or("--port needs a number")?.parse()?,
            "--key" => key = args.next().ok_or("--key needs a value")?,
            "--shapes" => shapes = args.next().ok_or("--shapes needs a mode")?.parse()?,
            "--legacy" => shapes = Shapes::Legacy,
            "--current" => shapes = Shapes::Current,
            "-h" | "--help" => {
                println!(
                    "usage: mock_server [--port N] [--key KEY] [--shapes union|current|legacy|spec]"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}; see --help").into()),
        }
    }
    let server = MockServer::start_on(&format!("127.0.0.1:{port}"))?;
    server.set_api_key(key.clone());
    server.serve_shapes(shapes);
    let mut names = Vec::new();
    for workflow in flowscale::mock::demo_workflows() {
        names.push(workflow.id().to_owned());
        server.register(workflow);
    }
    println!("FlowScale simulator listening on {}", server.url());
    println!("  FLOWSCALE_API_URL={}", server.url());
    println!("  FLOWSCALE_API_KEY={key}");
    println!("  workflows: {} (Ctrl-C to stop)", names.join(", "));
    loop {
        std::thread::park();
    }
}
