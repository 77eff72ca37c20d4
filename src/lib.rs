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
//! let run = client.execute_workflow("bncu0a1kipv", inputs, None)?;
//! let details = client.get_run(&run.run_id)?;
//! println!("run {} is {}", details.id, details.status);
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
//! use flowscale::mock::{MockServer, Workflow};
//! use flowscale::{Inputs, WaitOptions};
//!
//! let server = MockServer::start();
//! server.register(Workflow::new("bncu0a1kipv").outputs(["image"]));
//! let client = flowscale::Client::new(server.api_key(), server.url())?;
//!
//! let options = WaitOptions::new().poll_interval(Duration::from_millis(20));
//! let inputs = Inputs::new().set("text_51536", "a cat on a sofa").set("seed", 7);
//! let result = client.execute_workflow_and_wait("bncu0a1kipv", inputs, None, &options)?;
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

mod aligned;
mod batch;
#[cfg(feature = "blocking")]
mod build_cache;
mod clock;
mod config;
mod download;
mod error;
mod failure;
mod file_name;
mod fingerprint;
mod flush;
mod form;
pub mod inputs;
mod paging;
mod partial;
mod progress;
mod request;
mod response;
mod retry;
mod trace;
mod transport;
mod types;
mod upload;
mod wait;

#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub mod mock;

/// FlowScale in build scripts: generate an asset once, keep it in a committed directory.
#[cfg(feature = "blocking")]
pub mod build {
    pub use crate::build_cache::BuildCache;
}

pub use batch::{
    Batch, BatchCounts, BatchEvent, BatchReport, Job, JobOutcome, JobStatus, MANIFEST_FILE,
};
pub use config::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_RESPONSE_TIMEOUT,
    ENV_API_KEY, ENV_API_URL, MAX_CONCURRENT_REQUESTS,
};
pub use download::{DEFAULT_DOWNLOAD_CONCURRENCY, DownloadOptions, SavedOutput};
pub use error::{BoxError, Error, Result};
pub use failure::TransportErrorKind;
pub use fingerprint::Fingerprint;
pub use inputs::{Input, Inputs, Reader};
pub use paging::{MAX_PAGE_SIZE, RunsQuery, SortBy, SortOrder};
pub use progress::{Progress, Transfer};
pub use retry::{DEFAULT_RETRY_ATTEMPTS, RetryPolicy};
pub use types::{
    ContainerHealth, ContainerQueue, ContainerStatus, Execution, Output, PageMeta, QueueEntry,
    QueueState, Run, RunInput, RunOutput, RunPage, RunStatus,
};
pub use wait::{
    CANCEL_RESERVE, DEFAULT_MAX_POLL_FAILURES, DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT,
    MIN_POLL_INTERVAL, OutputFile, RunEvent, WaitOptions, WorkflowResult,
};

/// The blocking client, compiled from `src/client/` with `maybe_async` bound to
/// `must_be_sync` and the ureq transport.
#[cfg(feature = "blocking")]
#[path = "client"]
mod blocking {
    use std::sync::Arc;

    use crate::transport::ureq as transport;
    use maybe_async::must_be_sync as maybe_async;

    /// A method's doc example for `Client`. The shared source spells every example twice
    /// (blocking, then async); this module keeps the first, `nonblocking` the second.
    macro_rules! example {
        (client { $($blocking:literal)* } { $($async:literal)* }) => {
            concat!(
                "```no_run\n# fn main() -> flowscale::Result<()> {\n",
                "# let client = flowscale::Client::new(\"key\", \"https://pod.example\")?;\n",
                $($blocking, "\n",)*
                "# Ok(())\n# }\n```"
            )
        };
        ({ $($blocking:literal)* } { $($async:literal)* }) => {
            concat!(
                "```no_run\n# fn main() -> flowscale::Result<()> {\n",
                $($blocking, "\n",)*
                "# Ok(())\n# }\n```"
            )
        };
    }

    mod api;
    mod batch;
    mod batch_threads;
    mod builder;
    mod download;
    mod outputs_sequential;
    mod pages_iter;
    mod wait;

    pub use builder::ClientBuilder;
    pub use pages_iter::RunsIter;

    /// The blocking FlowScale client.
    ///
    /// Cheap to clone (clones share one connection pool) and safe to share between
    /// threads. Every method blocks the calling thread until the answer is in.
    ///
    /// ```no_run
    /// let client = flowscale::Client::from_env()?;
    /// for c in client.check_health()? {
    ///     println!("{}: {}", c.container, c.status);
    /// }
    /// # Ok::<(), flowscale::Error>(())
    /// ```
    #[derive(Clone, Debug)]
    pub struct Client {
        http: transport::Http,
        gate: Arc<transport::Gate>,
        settings: Arc<crate::config::Settings>,
    }
}

/// The async client, compiled from `src/client/` with `maybe_async` bound to
/// `must_be_async` and the reqwest transport.
#[cfg(feature = "async")]
#[path = "client"]
mod nonblocking {
    use std::sync::Arc;

    use crate::transport::reqwest as transport;
    use maybe_async::must_be_async as maybe_async;

    /// A method's doc example for `AsyncClient`: the async spelling of the shared source's
    /// two (see `blocking`).
    macro_rules! example {
        (client { $($blocking:literal)* } { $($async:literal)* }) => {
            concat!(
                "```no_run\n# async fn example() -> flowscale::Result<()> {\n",
                "# let client = flowscale::AsyncClient::new(\"key\", \"https://pod.example\")?;\n",
                $($async, "\n",)*
                "# Ok(())\n# }\n```"
            )
        };
        ({ $($blocking:literal)* } { $($async:literal)* }) => {
            concat!(
                "```no_run\n# async fn example() -> flowscale::Result<()> {\n",
                $($async, "\n",)*
                "# Ok(())\n# }\n```"
            )
        };
    }

    mod api;
    mod batch;
    mod batch_tasks;
    mod builder;
    mod download;
    mod outputs_concurrent;
    mod pages_stream;
    mod wait;

    pub use builder::ClientBuilder;

    /// The async FlowScale client (feature `async`), on Tokio.
    ///
    /// The same methods as the blocking [`Client`](crate::Client), as `async fn`s. Cheap
    /// to clone and safe to share between tasks; its futures are `Send`.
    ///
    /// ```no_run
    /// # async fn f() -> flowscale::Result<()> {
    /// let client = flowscale::AsyncClient::from_env()?;
    /// for c in client.check_health().await? {
    ///     println!("{}: {}", c.container, c.status);
    /// }
    /// # Ok(()) }
    /// ```
    #[derive(Clone, Debug)]
    pub struct Client {
        http: transport::Http,
        gate: Arc<transport::Gate>,
        settings: Arc<crate::config::Settings>,
    }
}

#[cfg(feature = "blocking")]
pub use blocking::{Client, ClientBuilder, RunsIter};

#[cfg(feature = "async")]
pub use nonblocking::{Client as AsyncClient, ClientBuilder as AsyncClientBuilder};
#[cfg(feature = "async")]
pub use transport::reqwest::install_crypto_provider;

/// The README's examples, compiled as doc tests so they stay true.
#[cfg(all(doctest, feature = "blocking", feature = "async", feature = "mock"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
