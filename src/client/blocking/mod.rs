//! The blocking client, `flowscale::Client`: the shared source of `src/client/` compiled
//! with `maybe_async` bound to `must_be_sync` and the ureq transport, plus what only this
//! client has (threads for batch jobs, outputs saved one after another, pages as an
//! iterator).

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

/// This client's types by their own names, for the shared source's public signatures:
/// rustdoc shows a type as its signature spells it, and an alias would read as the other
/// client's.
macro_rules! client_type {
    () => {
        $crate::Client
    };
}
macro_rules! builder_type {
    () => {
        $crate::ClientBuilder
    };
}

// The shared source, compiled here for this client.
#[path = "../api.rs"]
mod api;
#[path = "../batch_runner.rs"]
mod batch_runner;
#[path = "../builder.rs"]
mod builder;
#[path = "../downloads.rs"]
mod downloads;
#[path = "../lost.rs"]
mod lost;
#[path = "../resuming.rs"]
mod resuming;
#[path = "../wait_loop.rs"]
mod wait_loop;

// This client's own pieces: threads, one output after another, an iterator.
mod jobs;
mod outputs;
mod pages;
mod submit;

/// Builds a client with non-default settings.
///
#[doc = example!({
    "use std::time::Duration;"
    "let client = flowscale::Client::builder()"
    "    .api_key(\"your-api-key\")"
    "    .base_url(\"https://your-pod.pod.flowscale.ai\")"
    "    .connect_timeout(Duration::from_secs(5))"
    "    .response_timeout(Duration::from_secs(120))"
    "    .build()?;"
} {
    "use std::time::Duration;"
    "let client = flowscale::AsyncClient::builder()"
    "    .api_key(\"your-api-key\")"
    "    .base_url(\"https://your-pod.pod.flowscale.ai\")"
    "    .connect_timeout(Duration::from_secs(5))"
    "    .response_timeout(Duration::from_secs(120))"
    "    .build()?;"
})]
#[derive(Debug, Default)]
#[must_use = "call .build() to get a client"]
pub struct ClientBuilder {
    draft: crate::config::Draft,
    http: Option<transport::CallerHttp>,
}
pub use pages::RunsIter;

/// The blocking FlowScale client.
///
/// Cheap to clone (clones share one connection pool) and safe to share between
/// threads. Every method blocks the calling thread until the answer is in.
///
/// ```no_run
/// let client = flowscale::Client::from_env()?;
/// for c in client.health()? {
///     println!("{}: {}", c.container, c.status);
/// }
/// # Ok::<(), flowscale::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    http: transport::Http,
    gate: Arc<transport::Gate>,
    settings: Arc<crate::config::Settings>,
    /// The workflow catalog, when inputs are checked (`ClientBuilder::check_inputs`).
    catalog: Arc<std::sync::Mutex<crate::decide::catalog::CatalogCache>>,
    /// The runs this client's submissions have, so that a lost answer never takes one.
    claimed: Arc<std::sync::Mutex<crate::decide::lost::Claimed>>,
    /// This client's submissions waiting for their answers, by their inputs.
    in_flight: Arc<std::sync::Mutex<crate::decide::lost::InFlightTable>>,
}
