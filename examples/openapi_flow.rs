//! The main job with both clients, against `FLOWSCALE_API_URL`: health, queue, a run with a
//! text and a file input, the wait, the saved outputs, the run, the runs of its group (a
//! page, then every page). `.ci/run` sends it through a validating proxy (Stoplight Prism)
//! with FlowScale's OpenAPI file, in front of the simulator's `spec` mode, so that every
//! request both clients send and every answer they read is checked against the file.
//!
//! ```sh
//! FLOWSCALE_API_URL=http://127.0.0.1:4010 FLOWSCALE_API_KEY=mock-api-key \
//!   cargo run --example openapi_flow --features async
//! ```

use std::path::Path;
use std::time::Duration;

use flowscale::{DownloadOptions, Inputs, RunsQuery, WaitOptions};

const WORKFLOW: &str = "demo-img2img";
const GROUP: &str = "openapi-flow";

fn inputs() -> Inputs {
    let image = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fixtures/cat.png");
    Inputs::new()
        .set("text_51536", "a cat in a wizard hat")
        .set("image_35728", image.as_path())
}

fn wait() -> WaitOptions {
    WaitOptions::new()
        .poll_interval(Duration::from_millis(200))
        .timeout(Duration::from_secs(120))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::temp_dir().join(format!("flowscale-openapi-flow-{}", std::process::id()));

    let client = flowscale::Client::from_env()?;
    println!("blocking: {} containers", client.health()?.len());
    client.queue()?;
    let result = client.execute_workflow_and_wait(WORKFLOW, inputs().group_id(GROUP), &wait())?;
    let saved = client.download_outputs(&result, out.join("blocking"), &DownloadOptions::new())?;
    let run = client.run(&result.run_id)?;
    let page = client.runs_page(&RunsQuery::new().group_id(GROUP))?;
    let all = client
        .runs(RunsQuery::new().group_id(GROUP).page_size(1))
        .collect::<flowscale::Result<Vec<_>>>()?;
    println!(
        "blocking: run {} {}, {} file(s), {} run(s) in the group ({} walking every page)",
        result.run_id,
        run.status,
        saved.len(),
        page.runs.len(),
        all.len()
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = flowscale::AsyncClient::from_env()?;
        println!("async: {} containers", client.health().await?.len());
        client.queue().await?;
        let result = client
            .execute_workflow_and_wait(WORKFLOW, inputs().group_id(GROUP), &wait())
            .await?;
        let saved = client
            .download_outputs(&result, out.join("async"), &DownloadOptions::new())
            .await?;
        let run = client.run(&result.run_id).await?;
        let page = client.runs_page(&RunsQuery::new().group_id(GROUP)).await?;
        println!(
            "async: run {} {}, {} file(s), {} run(s) in the group",
            result.run_id,
            run.status,
            saved.len(),
            page.runs.len()
        );
        Ok::<_, flowscale::Error>(())
    })?;
    let _ = std::fs::remove_dir_all(&out);
    Ok(())
}
