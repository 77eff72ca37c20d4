//! The main job: start a workflow run with a text prompt and an image, wait for it while
//! printing progress, then download the outputs.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! Without `FLOWSCALE_API_KEY` / `FLOWSCALE_API_URL` it starts the built-in simulator
//! (`flowscale::mock`) and runs a demo workflow there, so it works offline. With them set,
//! it talks to your FlowScale pod: set `FLOWSCALE_WORKFLOW_ID` too, and optionally
//! `FLOWSCALE_TEXT_INPUT` / `FLOWSCALE_IMAGE_INPUT` (the workflow's input names, default
//! `text_51536` / `image_35728`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use flowscale::mock::{MockServer, Workflow};
use flowscale::{Client, Inputs, WaitOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let real = std::env::var_os(flowscale::ENV_API_KEY).is_some();
    // Keep the simulator alive for the whole run.
    let (client, _simulator, workflow_id, text_input, image_input) = if real {
        let workflow_id = std::env::var("FLOWSCALE_WORKFLOW_ID")
            .map_err(|_| "set FLOWSCALE_WORKFLOW_ID to the workflow to run")?;
        let text = std::env::var("FLOWSCALE_TEXT_INPUT").unwrap_or_else(|_| "text_51536".into());
        let image = std::env::var("FLOWSCALE_IMAGE_INPUT").unwrap_or_else(|_| "image_35728".into());
        println!(
            "Using FlowScale at {}",
            std::env::var(flowscale::ENV_API_URL).unwrap_or_default()
        );
        (Client::from_env()?, None, workflow_id, text, image)
    } else {
        let server = MockServer::start();
        server.register(
            Workflow::new("demo-img2img")
                .required_input("text_51536")
                .required_input("image_35728")
                .outputs(["filename_prefix", "preview"])
                .queued_for(Duration::from_millis(300))
                .duration(Duration::from_millis(1500)),
        );
        println!(
            "No FLOWSCALE_API_KEY set: using the built-in simulator at {}",
            server.url()
        );
        (
            server.client(),
            Some(server),
            "demo-img2img".to_string(),
            "text_51536".to_string(),
            "image_35728".to_string(),
        )
    };

    for c in client.check_health()? {
        println!("  {}: {}", c.container, c.status);
    }

    let image = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fixtures/cat.png");
    let inputs = Inputs::new()
        .set(
            text_input.as_str(),
            "a cat wearing a tiny wizard hat, studio light",
        )
        .set(image_input.as_str(), image.as_path());

    let options = WaitOptions::new()
        .poll_interval(Duration::from_millis(if real { 2000 } else { 250 }))
        .timeout(Duration::from_secs(600))
        .on_event(|event| println!("  · {event}"));
    println!("Running workflow {workflow_id} ...");
    let result = client.execute_workflow_and_wait(&workflow_id, inputs, None, &options)?;

    println!(
        "Run {} completed with {} output(s):",
        result.run_id,
        result.outputs.len()
    );
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/quickstart-outputs");
    std::fs::create_dir_all(&dir)?;
    for out in &result.outputs {
        let ext = out
            .download_url
            .split('?')
            .next()
            .and_then(|u| u.rsplit_once('.'))
            .map(|(_, e)| e)
            .filter(|e| e.len() <= 5)
            .unwrap_or("bin");
        let dest = dir.join(format!("{}.{ext}", out.name));
        let bytes = client.download(&out.download_url, &dest)?;
        println!("  {} -> {} ({bytes} bytes)", out.name, dest.display());
    }
    Ok(())
}
