//! FlowScale inside a build script: [`BuildCache`] generates an asset once and keeps it in
//! a directory you commit, so clean builds, docs.rs and CI without a key reuse it and send
//! nothing.

use std::path::{Path, PathBuf};

use crate::batch::{Batch, Job};
use crate::blocking::Client;
use crate::config::{ENV_API_KEY, ENV_API_URL};
use crate::decide::plan::{self, Plan};
use crate::decide::record::JobStatus;
use crate::decide::wait::WaitOptions;
use crate::files::manifest;
use crate::inputs::{Input, Inputs};
use crate::wire::error::{Error, Result};

/// Outputs of FlowScale runs kept in a committed directory, keyed by the request's
/// [fingerprint](crate::Inputs::fingerprint), for use in a `build.rs`.
///
/// [`BuildCache::outputs`] prints the `cargo:rerun-if-changed` lines for every input file
/// and the manifest. (No `cargo:rerun-if-env-changed` for `FLOWSCALE_API_KEY`: cargo would
/// store the key's value, in plain text, in the target directory's fingerprints, which CI
/// systems cache and upload; and a cached asset does not depend on the key.) It then
/// returns the cached files when the directory's manifest has this exact request; else it
/// runs the workflow with [`Client::from_env`] and records the result there (through
/// [`Client::run_batch`], so an interrupted build attaches to its run instead of paying
/// again). On a miss without a key it fails with one line saying what to set.
///
/// ```no_run
/// // build.rs
/// use flowscale::build::BuildCache;
/// use flowscale::Inputs;
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let inputs = Inputs::new()
///         .set("text_51536", "a lighthouse at dusk, watercolor")
///         .set("image_35728", std::path::Path::new("assets/sketch.png"));
///     let files = BuildCache::new("flowscale-cache").outputs("bncu0a1kipv", inputs)?;
///     let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
///     std::fs::copy(&files[0], out.join("banner.png"))?;
///     Ok(())
/// }
/// ```
#[derive(Debug)]
#[must_use = "a BuildCache does nothing until outputs() is called"]
pub struct BuildCache {
    dir: PathBuf,
    wait: WaitOptions,
}

impl BuildCache {
    /// A cache in `dir` (relative paths are relative to the build script's package, where
    /// cargo runs it). Commit this directory.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        BuildCache {
            dir: dir.into(),
            wait: WaitOptions::new(),
        }
    }

    /// How a run is waited for on a miss.
    pub fn wait_options(mut self, options: WaitOptions) -> Self {
        self.wait = options;
        self
    }

    /// The output files of running `workflow_id` with `inputs`: from the cache, or made
    /// now and cached. Prints the build script's `cargo:` lines.
    pub fn outputs(&self, workflow_id: &str, inputs: Inputs) -> Result<Vec<PathBuf>> {
        for (_, input) in inputs.entries() {
            rerun_if_changed(input);
        }
        // Not the key: cargo records a watched variable's value in the target directory.
        // The URL is no secret, and a new pod may serve a miss.
        println!("cargo:rerun-if-env-changed={ENV_API_URL}");
        println!(
            "cargo:rerun-if-changed={}",
            self.dir.join(manifest::MANIFEST_FILE).display()
        );

        let fingerprint = inputs.fingerprint(workflow_id, None)?;
        let recorded = manifest::read_manifest(&self.dir)?;
        for skipped in &recorded.skipped {
            println!(
                "cargo:warning={} line {} left out: {}",
                self.dir.join(manifest::MANIFEST_FILE).display(),
                skipped.line,
                skipped.reason
            );
        }
        let last = recorded
            .last
            .get(&(workflow_id.to_owned(), fingerprint.clone()));
        let on_disk = match last {
            Some(record) => manifest::on_disk(record, &self.dir)?,
            None => None,
        };
        if let Plan::Reuse(saved) = plan::plan(last, on_disk, false, false) {
            return Ok(saved.into_iter().map(|s| s.path).collect());
        }
        if std::env::var_os(ENV_API_KEY).is_none() {
            return Err(Error::config(format!(
                "no cached FlowScale result for workflow {workflow_id} with these inputs in {} \
                 (fingerprint {}): set {ENV_API_KEY} and {ENV_API_URL} to generate it once, \
                 then commit that directory",
                self.dir.display(),
                fingerprint.short()
            )));
        }
        let client = Client::from_env()?;
        // A build is an explicit request: a miss that failed before is tried again, never
        // replayed from the manifest (a run that exists is still attached to, not paid twice).
        let batch = Batch::new(workflow_id, &self.dir)
            .job(Job::new(workflow_id, inputs))
            .concurrency(1)
            .retry_failed(true)
            .wait_options(self.wait.clone());
        // An error every job would meet (a refused key, an unknown workflow) comes as it is.
        let report = client.run_batch(batch)?;
        let Some(job) = report.jobs.into_iter().next() else {
            return Err(Error::input("inputs", "the build cache ran no job"));
        };
        let words = job.error.clone().unwrap_or_default();
        match (job.status, job.cause.take()) {
            (JobStatus::Completed, _) => Ok(job.saved.into_iter().map(|s| s.path).collect()),
            // The job's own error (a failed run, a refused input, a wait that gave up).
            (_, Some(cause)) => Err(cause),
            (status, None) => Err(Error::input(
                "workflow_id",
                format!("the FlowScale run for {workflow_id} is {status}: {words}"),
            )),
        }
    }
}

/// `cargo:rerun-if-changed` for every file among an input's values.
fn rerun_if_changed(input: &Input) {
    match input {
        Input::File { path, .. } => print_rerun(path),
        Input::List(items) => items.iter().for_each(rerun_if_changed),
        _ => {}
    }
}

fn print_rerun(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
}
