//! Waiting for a run with a progress line driven by `RunEvent`s, and attaching to a run
//! started earlier with `wait_for_run`.
//!
//! ```sh
//! cargo run --example wait                      # against the simulator
//! FLOWSCALE_RUN_ID=<id> cargo run --example wait # attach to a run on your pod (with credentials set)
//! ```

use std::io::Write;
use std::time::Duration;

use flowscale::mock::{Fault, MockServer, MockWorkflow, Route};
use flowscale::{Client, Error, Inputs, RunEvent, WaitOptions};

fn progress(event: &RunEvent) {
    let line = match event {
        RunEvent::Submitted { run_id } => format!("submitted {run_id}"),
        RunEvent::StatusChanged { status, .. } => format!("status: {status}"),
        RunEvent::OutputNamesKnown { names, .. } => {
            format!("waiting for {} output(s)", names.len())
        }
        RunEvent::OutputReady { name, .. } => format!("ready: {name}"),
        RunEvent::Retrying { attempt, error, .. } => format!("retry {attempt} after: {error}"),
        RunEvent::Finished { status, .. } => format!("finished: {status}"),
        other => other.to_string(),
    };
    // One line, rewritten in place; a newline when the run ends.
    print!("\r\x1b[2K{line}");
    if matches!(event, RunEvent::Finished { .. }) {
        println!();
    }
    let _ = std::io::stdout().flush();
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = WaitOptions::new()
        .poll_interval(Duration::from_millis(200))
        .backoff(1.5, Duration::from_secs(5))
        .timeout(Duration::from_secs(120))
        .on_event(progress);

    if let Ok(run_id) = std::env::var("FLOWSCALE_RUN_ID") {
        let client = Client::from_env()?;
        let result = client.wait_for_run(&run_id, &options)?;
        for out in result.outputs {
            println!("{}: {}", out.name, out.download_url);
        }
        return Ok(());
    }

    let server = MockServer::start();
    server.register(
        MockWorkflow::new("upscale")
            .outputs(["upscaled", "thumbnail"])
            .queued_for(Duration::from_millis(400))
            .duration(Duration::from_secs(2)),
    );
    // A proxy hiccup while polling: the wait retries it and says so.
    server.fail_next(Route::RunDetails, 1, Fault::BadGatewayHtml);
    let client = server.client();

    let result =
        client.execute_workflow_and_wait("upscale", Inputs::new().set("scale", 2), &options)?;
    for out in &result.outputs {
        println!("{}: {}", out.name, out.download_url);
    }

    // Resuming: a short deadline gives up with the run id, and wait_for_run picks it up.
    let exec = client.execute_workflow("upscale", Inputs::new())?;
    let short = options.clone().timeout(Duration::from_millis(500));
    match client.wait_for_run(&exec.run_id, &short) {
        Err(Error::Timeout {
            run_id, elapsed, ..
        }) => {
            println!("\ngave up after {elapsed:?}; resuming run {run_id}");
            let result = client.wait_for_run(&run_id, &options)?;
            println!(
                "resumed run completed with {} output(s)",
                result.outputs.len()
            );
        }
        other => println!("\nunexpected: {other:?}"),
    }
    Ok(())
}
