//! # flowscale
//!
//! The Rust SDK for the [FlowScale](https://flowscale.ai) ComfyUI API: upload inputs
//! (prompts, numbers, images, videos), run a hosted ComfyUI workflow, get download links.
//!
//! - [`Client`] is blocking (ureq; feature `blocking`, on by default).
//! - `AsyncClient` is the same API on Tokio (reqwest; feature `async`).
//!
//! Both are compiled from one source and may be used in the same program.
//!
//! ```no_run
//! # #[cfg(feature = "blocking")]
//! # fn main() -> flowscale::Result<()> {
//! use std::path::Path;
//! use flowscale::{Client, Inputs};
//!
//! // FLOWSCALE_API_KEY and FLOWSCALE_API_URL
//! let client = Client::from_env()?;
//! let inputs = Inputs::new()
//!     .set("text_51536", "a cat on a sofa")
//!     .set("image_35728", Path::new("cat.png"));
//! let run = client.execute_workflow("bncu0a1kipv", inputs)?;
//! let details = client.run(&run.run_id)?;
//! println!("run {} is {}", run.run_id, details.status);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "blocking"))]
//! # fn main() {}
//! ```
//!
//! Inputs are detected from their Rust type (see [`inputs`]); errors are one
//! [`Error`] type for both clients. Waiting for a run is
//! [`Client::execute_workflow_and_wait`] / [`Client::wait_for_run`] with [`WaitOptions`].
//!
//! With the `mock` feature, the same code runs offline against the built-in simulator
//! (`flowscale::mock`), which is also how to test code that uses this crate:
//!
//! ```
//! # #[cfg(all(feature = "blocking", feature = "mock"))] {
//! use std::time::Duration;
//! use flowscale::mock::{MockServer, MockWorkflow};
//! use flowscale::{Inputs, WaitOptions};
//!
//! let server = MockServer::start();
//! server.register(MockWorkflow::new("bncu0a1kipv").outputs(["image"]));
//! let client = flowscale::Client::new(server.api_key(), server.url())?;
//!
//! let options = WaitOptions::new().poll_interval(Duration::from_millis(20));
//! let inputs = Inputs::new().set("text_51536", "a cat on a sofa").set("seed", 7);
//! let result = client.execute_workflow_and_wait("bncu0a1kipv", inputs, &options)?;
//! assert_eq!(result.outputs.len(), 1);
//! println!("{}", result.outputs[0].download_url);
//! # }
//! # Ok::<(), flowscale::Error>(())
//! ```
//!
//! ## Features
//!
//! | feature | default | gives |
//! |---|---|---|
//! | `blocking` | yes | [`Client`], on ureq |
//! | `async` | no | `AsyncClient`, on reqwest and Tokio |
//! | `mock` | no | `flowscale::mock`, a local FlowScale simulator (axum) |
//! | `lock` | no | `flowscale::lock`: `flowscale.lock`, what each workflow takes, and drift from it (toml) |
//! | `codegen` | no | `flowscale::codegen`: Rust types from `flowscale.lock`, for build scripts (with `lock`) |
//! | `cli` | no | the `flowscale` command-line tool (with `lock`) |
//! | `tracing` | no | spans and events for every request, wait and retry |
//!
//! Features are additive: with both clients on, both exist.

#![cfg_attr(docsrs, feature(doc_cfg))]
// One exception, `partial::lock` (a `flock` call: std's `File::try_lock` needs Rust 1.89,
// newer than `rust-version`).
#![deny(unsafe_code)]
#![warn(missing_docs)]
// `src/client/` is compiled twice on purpose (once per client): see the `blocking` and
// `nonblocking` modules below.
#![allow(clippy::duplicate_mod)]

#[cfg(not(any(feature = "blocking", feature = "async")))]
compile_error!(
    "flowscale needs a client: enable the feature `blocking` (the default, flowscale::Client) \
     and/or `async` (flowscale::AsyncClient), e.g. `flowscale = { version = \"0.1\", features = [\"async\"] }`"
);

// The layers (ARCHITECTURE.md maps them): decisions without I/O, the wire contract,
// file work, the client source compiled once per client, and the transports.
mod decide;
mod files;
mod trace;
mod transport;
mod wire;

mod batch;
#[cfg(feature = "blocking")]
mod build_cache;
#[cfg(feature = "codegen")]
#[cfg_attr(docsrs, doc(cfg(feature = "codegen")))]
pub mod codegen;
mod config;

// A module of the wire layer, declared here so that its public path is `flowscale::inputs`.
#[path = "wire/inputs.rs"]
pub mod inputs;

#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub mod mock;

/// FlowScale in build scripts: generate an asset once, keep it in a committed directory.
#[cfg(feature = "blocking")]
pub mod build {
    pub use crate::build_cache::BuildCache;
}

pub use batch::{Batch, BatchEvent, BatchReport, Job, JobOutcome};
pub use decide::record::{JobStatus, SavedOutput};
pub use decide::retry::RetryPolicy;
pub use decide::wait::{RunEvent, WaitOptions, WorkflowResult};
pub use files::save::DownloadOptions;
pub use inputs::{Input, Inputs, Reader};
pub use wire::catalog::{ValueKind, Workflow};
pub use wire::error::{Error, Result};
pub use wire::failure::TransportErrorKind;
pub use wire::progress::Progress;
pub use wire::query::{RunsQuery, SortBy, SortOrder};
pub use wire::submission::{Paid, SubmissionHandle, SubmissionState};
pub use wire::types::{Execution, Output, Run, RunStatus};

/// Defaults, limits and fixed names: the settings' defaults, the bounds they saturate at,
/// the environment variables `from_env` reads, the manifest's file name.
pub mod constants {
    pub use crate::config::{
        DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_RESPONSE_TIMEOUT,
        ENV_API_KEY, ENV_API_URL, MAX_CONCURRENT_REQUESTS,
    };
    pub use crate::decide::retry::DEFAULT_RETRY_ATTEMPTS;
    pub use crate::decide::wait::{
        CANCEL_RESERVE, DEFAULT_MAX_POLL_FAILURES, DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT,
        MIN_POLL_INTERVAL,
    };
    pub use crate::files::manifest::MANIFEST_FILE;
    pub use crate::files::save::DEFAULT_DOWNLOAD_CONCURRENCY;
    pub use crate::wire::query::MAX_PAGE_SIZE;
}

/// The other types of the API: what the endpoints answer in full (health, queue, pages of
/// runs), the parts of a result, a batch's counts and skipped lines, a catalog entry's
/// inputs and outputs, a check's outcome, a fingerprint, the runs iterator.
pub mod types {
    pub use crate::batch::BatchCounts;
    #[cfg(feature = "blocking")]
    pub use crate::blocking::RunsIter;
    pub use crate::decide::check::InputCheck;
    pub use crate::decide::record::Fingerprint;
    pub use crate::decide::wait::OutputFile;
    pub use crate::files::manifest::SkippedLine;
    pub use crate::wire::catalog::{WorkflowInput, WorkflowOutput};
    pub use crate::wire::error::BoxError;
    pub use crate::wire::progress::Transfer;
    pub use crate::wire::submission::OrphanedRun;
    pub use crate::wire::types::{
        ContainerHealth, ContainerQueue, ContainerStatus, PageMeta, QueueEntry, QueueState,
        RunInput, RunOutput, RunPage,
    };
}

/// Workflow contracts: `flowscale.lock`, what each workflow takes as the pod's catalog said
/// when it was written (`flowscale lock`), and every way the pod differs from it now
/// (`flowscale lock --check`). Feature `lock` (on with `cli` and `codegen`).
#[cfg(feature = "lock")]
#[cfg_attr(docsrs, doc(cfg(feature = "lock")))]
pub mod lock {
    pub use crate::decide::drift::{Change, changes};
    pub use crate::files::lock_file::read;
    pub use crate::wire::lock::{
        LOCK_FILE, LOCK_VERSION, Lock, LockedInput, LockedOutput, LockedWorkflow,
    };
}

/// The blocking client: the shared source in `src/client/` with `maybe_async` bound to
/// `must_be_sync` and the ureq transport, and the pieces of its own in
/// `src/client/blocking/`.
#[cfg(feature = "blocking")]
#[path = "client/blocking/mod.rs"]
mod blocking;

/// The async client: the shared source in `src/client/` with `maybe_async` bound to
/// `must_be_async` and the reqwest transport, and the pieces of its own in
/// `src/client/nonblocking/`.
#[cfg(feature = "async")]
#[path = "client/nonblocking/mod.rs"]
mod nonblocking;

#[cfg(feature = "blocking")]
pub use blocking::{Client, ClientBuilder};

#[cfg(feature = "async")]
pub use nonblocking::{AsyncClient, AsyncClientBuilder};
#[cfg(feature = "async")]
pub use transport::reqwest::install_crypto_provider;

/// Guides: how to do each job with this crate, with examples that are compiled and tested
/// as doc tests (they use both clients and the simulator: built with every feature, as on
/// docs.rs).
#[cfg(any(doc, all(feature = "blocking", feature = "async", feature = "mock")))]
pub mod guide {
    #![doc = "Guides: how to do each job with this crate. Each is a page of its own; their \
              examples are compiled and run as doc tests."]
    #[doc = include_str!("guide/client.md")]
    pub mod client {}
    #[doc = include_str!("guide/inputs.md")]
    pub mod inputs {}
    #[doc = include_str!("guide/waiting.md")]
    pub mod waiting {}
    #[doc = include_str!("guide/downloads.md")]
    pub mod downloads {}
    #[doc = include_str!("guide/batches.md")]
    pub mod batches {}
    #[doc = include_str!("guide/build_scripts.md")]
    pub mod build_scripts {}
    #[doc = include_str!("guide/errors.md")]
    pub mod errors {}
    #[doc = include_str!("guide/contracts.md")]
    pub mod contracts {}
    #[doc = include_str!("guide/cli.md")]
    pub mod cli {}
    #[doc = include_str!("guide/testing.md")]
    pub mod testing {}
}

/// The README's examples, compiled as doc tests so they stay true.
#[cfg(all(doctest, feature = "blocking", feature = "async", feature = "mock"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
