//! Tracing (feature `tracing`): a span per request and per wait, events for retries. What
//! is recorded never holds the API key, input values or a link's signature: paths go
//! without their query, errors are the SDK's own messages (which never hold them either).
//! Without the feature every function here is empty and the calls compile to nothing.

use std::time::Duration;

use crate::wire::error::{Error, Result};
use crate::wire::request::{Method, Response};

/// The path of a URL, without scheme, host and query: `/api/v1/runs/output`.
#[cfg(feature = "tracing")]
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split(['?', '#']).next().unwrap_or(path)
}

/// One attempt of one request.
pub(crate) struct RequestTrace {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
    #[cfg(feature = "tracing")]
    started: std::time::Instant,
}

impl RequestTrace {
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub fn start(method: Method, url: &str, attempt: u32) -> Self {
        RequestTrace {
            #[cfg(feature = "tracing")]
            span: tracing::info_span!(
                "flowscale.request",
                method = match method {
                    Method::Get => "GET",
                    Method::Post => "POST",
                },
                path = path_of(url),
                attempt,
                status = tracing::field::Empty,
                duration_ms = tracing::field::Empty,
                error = tracing::field::Empty,
            ),
            #[cfg(feature = "tracing")]
            started: std::time::Instant::now(),
        }
    }

    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub fn finish(self, outcome: &Result<Response>) {
        #[cfg(feature = "tracing")]
        {
            let ms = self.started.elapsed().as_secs_f64() * 1000.0;
            self.span.record("duration_ms", ms);
            match outcome {
                Ok(resp) => {
                    self.span.record("status", resp.status);
                }
                Err(e) => {
                    self.span.record("error", tracing::field::display(e));
                }
            }
            self.span.in_scope(|| tracing::debug!("request done"));
        }
    }
}

/// A single call about to be sent again.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn retrying(url: &str, attempt: u32, delay: Duration, error: &Error) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        path = path_of(url),
        next_attempt = attempt + 1,
        delay_ms = delay.as_millis() as u64,
        error = %error,
        "flowscale: retrying"
    );
}

/// What the runs listed said of a submission whose answer was lost.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn lost_answer(workflow_id: &str, found: &crate::decide::lost::LostMatch) {
    #[cfg(feature = "tracing")]
    match found {
        crate::decide::lost::LostMatch::Found { run_id, why } => tracing::warn!(
            workflow_id,
            run_id = run_id.as_str(),
            why = why.as_str(),
            "flowscale: the answer to a submission was lost; its run was found among the pod's runs"
        ),
        other => tracing::warn!(
            workflow_id,
            found = ?other,
            "flowscale: the answer to a submission was lost; a run may exist"
        ),
    }
}

/// A run whose submission's caller went away (its future dropped) before the answer came:
/// the run exists and is paid for, and this is where its id is told.
#[cfg(feature = "async")]
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn orphaned_run(run: &Result<crate::wire::types::Execution>) {
    #[cfg(feature = "tracing")]
    match run {
        Ok(exec) => tracing::warn!(
            run_id = exec.run_id.as_str(),
            "flowscale: the caller dropped a submission in flight; its run was started"
        ),
        Err(e) => tracing::warn!(
            error = %e,
            "flowscale: the caller dropped a submission in flight; it did not start a run for sure"
        ),
    }
}

/// A request waits for a turn: the client already has `max_concurrent_requests` in flight.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn waiting_for_turn(url: &str, limit: usize) {
    #[cfg(feature = "tracing")]
    tracing::info!(
        url = crate::wire::link::redact(url).as_str(),
        max_concurrent_requests = limit,
        "flowscale: every turn is taken; the request waits for one (raise \
         max_concurrent_requests if this is a server with many callers)"
    );
}

/// A submission sent without checking its inputs against the catalog.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn unchecked(workflow_id: &str, skip: &crate::decide::catalog::Skip) {
    #[cfg(feature = "tracing")]
    match skip {
        crate::decide::catalog::Skip::NoCatalog { first: true } => tracing::info!(
            workflow_id,
            "flowscale: the pod has no workflow catalog; inputs are sent unchecked"
        ),
        crate::decide::catalog::Skip::NoCatalog { first: false } => {}
        crate::decide::catalog::Skip::Unlisted => tracing::info!(
            workflow_id,
            "flowscale: the workflow catalog does not list this workflow; inputs are sent unchecked"
        ),
    }
}

/// One wait, for its whole length.
pub(crate) struct WaitTrace {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl WaitTrace {
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub fn start(run_id: &str) -> Self {
        WaitTrace {
            #[cfg(feature = "tracing")]
            span: tracing::info_span!("flowscale.wait", run_id, outcome = tracing::field::Empty),
        }
    }

    /// A poll failed and will be tried again.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub fn poll_retry(&self, attempt: u32, delay: Duration, error: &str) {
        #[cfg(feature = "tracing")]
        self.span.in_scope(|| {
            tracing::warn!(
                attempt,
                delay_ms = delay.as_millis() as u64,
                error,
                "flowscale: poll failed, retrying"
            )
        });
    }

    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub fn finish<T>(self, outcome: &Result<T>) {
        #[cfg(feature = "tracing")]
        {
            match outcome {
                Ok(_) => self.span.record("outcome", "completed"),
                Err(e) => self.span.record("outcome", tracing::field::display(e)),
            };
            self.span.in_scope(|| tracing::debug!("wait done"));
        }
    }
}
