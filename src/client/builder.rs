//! The client builder's methods, compiled once per mode. The struct itself is declared by
//! each mode (`ClientBuilder`, `AsyncClientBuilder`), so that each has its own name in the
//! docs and in every signature.

use std::sync::Arc;
use std::time::Duration;

use super::{Client, ClientBuilder, transport};
use crate::config::{ApiKey, Draft};
use crate::wire::error::Result;

impl ClientBuilder {
    pub(crate) fn from_draft(draft: Draft) -> Self {
        ClientBuilder { draft, http: None }
    }

    /// The API key, sent as `X-API-KEY` to the base URL and nowhere else.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.draft.api_key = Some(ApiKey::new(key));
        self
    }

    /// The pod's base URL, `https://<pod-id>.pod.flowscale.ai` (a trailing `/` is fine).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.draft.base_url = Some(url.into());
        self
    }

    /// Time allowed to open a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.draft.connect_timeout = Some(timeout);
        self
    }

    /// Time allowed for the server to start answering once the request has gone out, and
    /// between two reads (default 60 s); while an upload goes out, the most the connection
    /// may leave a piece of it untaken. (`AsyncClient` starts it when a request without a
    /// body starts, its connection included: reqwest says nothing of when such a request has
    /// gone out.) There is no limit on a whole request, so large uploads are never cut off
    /// while they flow. Longer than about 30 years means no limit.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.draft.response_timeout = Some(timeout);
        self
    }

    /// The `User-Agent` header (default `flowscale-rust/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.draft.user_agent = Some(user_agent.into());
        self
    }

    /// How single calls are retried after a transient failure (default
    /// [`RetryPolicy::new`](crate::RetryPolicy::new): 3 attempts for GETs and cancel, never
    /// for `execute_workflow`). [`RetryPolicy::none`](crate::RetryPolicy::none) turns it off.
    pub fn retry(mut self, policy: crate::RetryPolicy) -> Self {
        self.draft.retry = Some(policy);
        self
    }

    /// The most requests this client (and its clones) has in flight at once; more wait
    /// for a turn instead of opening more connections (default 64, at least 1, at most
    /// [`MAX_CONCURRENT_REQUESTS`](crate::constants::MAX_CONCURRENT_REQUESTS)). Keeps a
    /// program that starts thousands of waits within its open-file limit. A download
    /// holds its turn until its whole body is read; a wait's poll waits for its turn no
    /// longer than the wait's deadline.
    ///
    /// Open sockets stay under twice this number: each request in flight holds one, and the
    /// idle keep-alive connections are capped (at this number in `AsyncClient`; `Client`'s
    /// ureq keeps at most 3 per host). The pool of `AsyncClient` (reqwest) may open a new
    /// connection while a finished one is still on its way back to the pool, which is why
    /// the sockets can outnumber the requests in flight; `BENCHMARKS.md` records the most
    /// seen with 10,000 concurrent waits.
    ///
    /// **A server relaying its callers' runs** (an axum service on one `AsyncClient`)
    /// shares these turns between all of them: 200 concurrent relays on the default 64 wait
    /// in line, which shows as latency (a 6 s p99 was measured so). Raise it to the number of
    /// callers you serve at once (within your open-file limit); every request that has to
    /// wait for a turn emits a `tracing` event (feature `tracing`) saying so.
    pub fn max_concurrent_requests(mut self, n: usize) -> Self {
        self.draft.max_concurrent_requests = Some(n);
        self
    }

    /// Checks the inputs of every `execute_workflow*` call (and every batch job) against the
    /// pod's workflow catalog before anything is sent (default off), as
    /// [`Inputs::check`](crate::Inputs::check) does: a misspelt name, a file where text is
    /// expected or text where a file is, is an [`Error::Input`](crate::Error::Input) instead
    /// of a paid run that ignores it.
    ///
    /// The catalog is fetched on the first submission, shared by the client's clones, and
    /// fetched again after 5 minutes, or when a submission names a workflow it does not list
    /// (at most every 10 seconds). A workflow the catalog does not list is sent unchecked,
    /// for FlowScale to judge. A pod without a catalog (404 or 405) is not an error: its
    /// submissions are sent unchecked, and a `tracing` event says so once per fetch. Any
    /// other failure to fetch the catalog fails the submission, before anything is sent.
    pub fn check_inputs(mut self, check: bool) -> Self {
        self.draft.check_inputs = check;
        self
    }

    /// Uses HTTP settings you already have: a `ureq::Agent` for `Client` (sharing its
    /// connection pool, proxy and TLS settings), a `reqwest::ClientBuilder` for
    /// `AsyncClient` (its proxy, TLS, pool and timeout settings). Its own timeouts and user
    /// agent then apply instead of this builder's.
    ///
    /// The key never follows a redirect, whatever the settings: API requests on a caller's
    /// agent are made with redirects off, and a caller's `reqwest::ClientBuilder` is built
    /// with `redirect::Policy::none()` (reqwest fixes a client's redirect policy when it is
    /// built, and strips only the headers it knows on a redirect to another host, so an
    /// already built `reqwest::Client` could carry `X-API-KEY` away; this is why it is not
    /// taken). Download links, which carry no key, follow redirects as always.
    pub fn http_client(mut self, http: transport::CallerHttp) -> Self {
        self.http = Some(http);
        self
    }

    /// Checks the settings and builds the client.
    ///
    /// Fails with [`Error::Config`](crate::Error::Config) when the key or the base URL is
    /// missing or invalid.
    pub fn build(self) -> Result<client_type!()> {
        let settings = self.draft.finish()?;
        let http = match self.http {
            Some(http) => transport::adopt_http(http)?,
            None => transport::new_http(&settings)?,
        };
        Ok(Client {
            http,
            gate: Arc::new(transport::Gate::new(settings.max_concurrent_requests)),
            settings: Arc::new(settings),
            catalog: Arc::default(),
            claimed: Arc::default(),
            in_flight: Arc::default(),
        })
    }
}
