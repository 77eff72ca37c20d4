//! The async client, `flowscale::AsyncClient`: the shared source of `src/client/` compiled
//! with `maybe_async` bound to `must_be_async` and the reqwest transport, plus what only
//! this client has (concurrent futures for batch jobs and outputs, pages as a stream).

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

/// This client's types by their own names, for the shared source's public signatures:
/// rustdoc shows a type as its signature spells it, and an alias would read as the other
/// client's.
macro_rules! client_type {
    () => {
        $crate::AsyncClient
    };
}
macro_rules! builder_type {
    () => {
        $crate::AsyncClientBuilder
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

// This client's own pieces: concurrent futures for jobs and outputs, a stream of pages.
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
pub struct AsyncClientBuilder {
    draft: crate::config::Draft,
    http: Option<transport::CallerHttp>,
}

// The shared source (`src/client/`) names the types of the mode it is compiled for.
use self::{AsyncClient as Client, AsyncClientBuilder as ClientBuilder};

/// The async FlowScale client (feature `async`), on Tokio.
///
/// The same methods as the blocking [`Client`](crate::Client), as `async fn`s. Cheap
/// to clone and safe to share between tasks; its futures are `Send`.
///
/// ```no_run
/// # async fn f() -> flowscale::Result<()> {
/// let client = flowscale::AsyncClient::from_env()?;
/// for c in client.health().await? {
///     println!("{}: {}", c.container, c.status);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AsyncClient {
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
