//! A typed call: the inputs of `Text to Image` as a struct the compiler checks against
//! `flowscale.lock`, the run waited for, and its image saved by the output's typed name.
//!
//! ```sh
//! cd examples/typed && cargo run
//! ```
//!
//! Without `FLOWSCALE_API_KEY` / `FLOWSCALE_API_URL` it starts the built-in simulator, whose
//! demo catalog the lock was written from; with them, it runs on that pod (which must have
//! the workflows of the lock: `flowscale lock --check` says whether it does).

mod workflows {
    include!(concat!(env!("OUT_DIR"), "/flowscale_workflows.rs"));
}

use std::time::Duration;

use flowscale::mock::{MockServer, demo_workflows};
use flowscale::{Client, WaitOptions};
use workflows::TextToImage;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Kept alive for the whole run when used.
    let mut simulator = None;
    let client = match std::env::var_os(flowscale::constants::ENV_API_KEY) {
        Some(_) => Client::from_env()?,
        None => {
            let server = MockServer::start();
            for workflow in demo_workflows() {
                server.register(workflow);
            }
            println!("No FLOWSCALE_API_KEY set: using the built-in simulator at {}", server.url());
            simulator.insert(server).client()
        }
    };

    // A misspelt field, a text seed or a path for the prompt would not compile.
    let inputs = TextToImage {
        text: Some("a lighthouse at dusk, watercolor".into()),
        seed: Some(42.into()),
    };
    let options = WaitOptions::new().poll_interval(Duration::from_millis(200));
    let result = client.execute_workflow_and_wait(TextToImage::ID, inputs, &options)?;
    println!("run {} completed", result.run_id);

    // The output by its name in the lock, not by a string.
    let image = TextToImage::outputs(&result)
        .filename_prefix
        .ok_or("the run made no `filename_prefix` output")?;
    let dir = std::env::temp_dir().join("flowscale-typed-example");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("lighthouse.png");
    let bytes = client.download(&image.download_url, &path)?;
    println!("saved {} ({bytes} bytes)", path.display());
    Ok(())
}
