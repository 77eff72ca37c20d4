//! The main job: start a workflow run with a text prompt and an image (with an upload bar),
//! wait for it while printing its events, then save every output with download bars.
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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowscale::mock::{MockServer, demo_workflows};
use flowscale::types::Transfer;
use flowscale::{Client, DownloadOptions, Inputs, WaitOptions};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let real = std::env::var_os(flowscale::constants::ENV_API_KEY).is_some();
    // Keep the simulator alive for the whole run.
    let (client, _simulator, workflow_id, text_input, image_input) = if real {
        let workflow_id = std::env::var("FLOWSCALE_WORKFLOW_ID")
            .map_err(|_| "set FLOWSCALE_WORKFLOW_ID to the workflow to run")?;
        let text = std::env::var("FLOWSCALE_TEXT_INPUT").unwrap_or_else(|_| "text_51536".into());
        let image = std::env::var("FLOWSCALE_IMAGE_INPUT").unwrap_or_else(|_| "image_35728".into());
        println!(
            "Using FlowScale at {}",
            std::env::var(flowscale::constants::ENV_API_URL).unwrap_or_default()
        );
        (Client::from_env()?, None, workflow_id, text, image)
    } else {
        let server = MockServer::start();
        // The simulator's demo workflows include `demo-img2img`: a prompt and an image in,
        // two images out, 1.5 s of running.
        for workflow in demo_workflows() {
            server.register(workflow);
        }
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

    for c in client.health()? {
        println!("  {}: {}", c.container, c.status);
    }

    let image = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fixtures/cat.png");
    // Bars go to stderr, and only when it is a terminal.
    let bars = MultiProgress::new();
    let upload = bars.add(ProgressBar::new(0).with_style(bar_style()));
    upload.set_message("upload");
    let upload_bar = upload.clone();
    let inputs = Inputs::new()
        .set(
            text_input.as_str(),
            "a cat wearing a tiny wizard hat, studio light",
        )
        .set(image_input.as_str(), image.as_path())
        .on_progress(move |p| {
            upload_bar.set_length(p.total.unwrap_or(p.done));
            upload_bar.set_position(p.done);
        });

    let printer = bars.clone();
    let options = WaitOptions::new()
        .poll_interval(Duration::from_millis(if real { 2000 } else { 250 }))
        .timeout(Duration::from_secs(600))
        .on_event(move |event| {
            // Above the bars on a terminal; plain lines otherwise.
            if printer.is_hidden() {
                println!("  · {event}");
            } else {
                let _ = printer.println(format!("  · {event}"));
            }
        });
    println!("Running workflow {workflow_id} ...");
    let result = client.execute_workflow_and_wait(&workflow_id, inputs, &options)?;
    upload.finish();

    println!(
        "Run {} completed with {} output(s):",
        result.run_id,
        result.outputs.len()
    );
    // Saved under safe names with their real extensions, never outside this directory.
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("quickstart-outputs");
    let downloads: Arc<Mutex<HashMap<String, ProgressBar>>> = Arc::default();
    let (shown, multi) = (downloads.clone(), bars.clone());
    let save = DownloadOptions::new().on_progress(move |p| {
        if let Transfer::Download { name, .. } = &p.transfer {
            let mut shown = shown.lock().unwrap();
            let bar = shown.entry(name.clone()).or_insert_with(|| {
                let bar = multi.add(ProgressBar::new(0).with_style(bar_style()));
                bar.set_message(name.clone());
                bar
            });
            bar.set_length(p.total.unwrap_or(p.done));
            bar.set_position(p.done);
        }
    });
    let saved = client.download_outputs(&result, &dir, &save)?;
    for bar in downloads.lock().unwrap().values() {
        bar.finish();
    }
    for out in saved {
        println!(
            "  {} -> {} ({} bytes)",
            out.name,
            out.path.display(),
            out.bytes
        );
    }
    Ok(())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("  {msg:>24} [{bar:30}] {bytes}/{total_bytes}")
        .expect("a valid template")
        .progress_chars("=> ")
}
