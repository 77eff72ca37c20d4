//! Every FlowScale endpoint, written once and compiled into both clients.

use std::time::Instant;

use super::{Client, ClientBuilder, maybe_async, transport};
use crate::config::Draft;
use crate::decide::catalog::{CatalogCache, Lookup};
use crate::decide::retry::Retrier;
use crate::decide::submission;
use crate::inputs::Inputs;
use crate::trace::{self, RequestTrace};
use crate::wire::catalog::Workflow;
use crate::wire::error::{Error, Result};
use crate::wire::failure::TransportErrorKind;
use crate::wire::form;
use crate::wire::query::RunsQuery;
use crate::wire::request::{self, Request, Response};
use crate::wire::response;
use crate::wire::submission::SubmissionState;
use crate::wire::types::{ContainerHealth, ContainerQueue, Execution, Output, Run, RunPage};

/// A submission checked and encoded, nothing of it sent yet.
pub(crate) struct Submission {
    req: Request,
    workflow_id: String,
    group_id: Option<String>,
    /// The body's flags, shared with the caller's handle: `stop` is set when the caller gave
    /// up (its future dropped, a Ctrl-C): not sent if not begun, cut short if not whole;
    /// `whole` tells whether the server can hold a complete request; `sent` is every field
    /// as it went out (what its run is recognised by if the answer is lost); and the
    /// submission's state, set here by `decide::submission`'s rules.
    pub(super) flags: crate::wire::upload::UploadFlags,
}

// Read by the async client's submission task (the blocking client sends on the caller's
// thread and needs neither).
#[allow(dead_code)]
impl Submission {
    /// The workflow it runs.
    pub(super) fn workflow_id(&self) -> &str {
        &self.workflow_id
    }

    /// The group it is filed under.
    pub(super) fn group_id(&self) -> Option<&str> {
        self.group_id.as_deref()
    }
}

#[maybe_async]
impl Client {
    /// A client for the pod at `base_url` (`https://<pod-id>.pod.flowscale.ai`).
    ///
    #[doc = example!({
        "let client = flowscale::Client::new(\"your-api-key\", \"https://your-pod.pod.flowscale.ai\")?;"
    } {
        "let client = flowscale::AsyncClient::new(\"your-api-key\", \"https://your-pod.pod.flowscale.ai\")?;"
    })]
    ///
    /// Fails with [`Error::Config`](crate::Error::Config) on an empty key or a base URL that
    /// is not `http(s)://host[:port][/path]`.
    #[doc(alias = "FlowscaleAPI")]
    pub fn new(api_key: impl Into<String>, base_url: impl Into<String>) -> Result<Self> {
        Self::builder().api_key(api_key).base_url(base_url).build()
    }

    /// A client configured by the environment variables `FLOWSCALE_API_KEY` and
    /// `FLOWSCALE_API_URL`; a missing or empty one is an error naming it.
    pub fn from_env() -> Result<Self> {
        ClientBuilder::from_draft(Draft::from_env()?).build()
    }

    /// A builder for timeouts, user agent, or your own HTTP client.
    pub fn builder() -> builder_type!() {
        ClientBuilder::default()
    }

    /// The base URL requests go to (without trailing `/`).
    pub fn base_url(&self) -> &str {
        self.settings.base_url.as_str()
    }

    /// Sends a single call, retried by the client's [`RetryPolicy`](crate::RetryPolicy)
    /// when it is safe to send twice.
    pub(super) async fn send(&self, req: Request) -> Result<Response> {
        let mut retrier = Retrier::new(&self.settings.retry, Instant::now());
        let idempotence = req.idempotence();
        let mut req = req;
        let mut attempt = 1;
        loop {
            let again = req.try_clone();
            let failure = match self.send_once(req, attempt, None).await {
                Ok(resp) => match response::retryable_status(&resp) {
                    // An answer a retry may change (429, 5xx): the policy decides.
                    Some(error) => error,
                    None => return Ok(resp),
                },
                Err(error) => error,
            };
            match (
                retrier.after_failure(&failure, idempotence, Instant::now()),
                again,
            ) {
                (Some(delay), Some(next)) => {
                    trace::retrying(&next.url, attempt, delay, &failure);
                    transport::sleep(delay).await;
                    req = next;
                    attempt += 1;
                }
                _ => return Err(failure),
            }
        }
    }

    /// Sends a request once, within the client's bound on requests in flight; with a
    /// `deadline`, the wait for a turn counts against it too (a saturated client gives up
    /// at the deadline, not after).
    async fn send_once(
        &self,
        req: Request,
        attempt: u32,
        deadline: Option<Instant>,
    ) -> Result<Response> {
        if self.gate.is_full() {
            // A server author's clue that `max_concurrent_requests` is what holds it up.
            trace::waiting_for_turn(&req.url, self.settings.max_concurrent_requests);
        }
        let Some(_pass) = transport::enter(&self.gate, deadline).await else {
            return Err(Error::transport(
                &req.url,
                TransportErrorKind::Timeout,
                None,
            ));
        };
        let req = match deadline {
            Some(deadline) => req.within(Some(crate::decide::clock::cap(
                deadline.saturating_duration_since(Instant::now()),
            ))),
            None => req,
        };
        let trace = RequestTrace::start(req.method, &req.url, attempt);
        let outcome = transport::send(&self.http, &self.settings, req).await;
        trace.finish(&outcome);
        outcome
    }

    /// Sends a request for a wait: once (the wait's own rules decide about retries), and
    /// answered by `deadline`. Without a deadline it is a single call, as `send`.
    pub(super) async fn send_by(
        &self,
        req: Request,
        deadline: Option<Instant>,
    ) -> Result<Response> {
        match deadline {
            Some(_) => self.send_once(req, 1, deadline).await,
            None => self.send(req).await,
        }
    }

    /// The state of every ComfyUI container of the pod.
    ///
    #[doc = example!(client {
        "for c in client.health()? {"
        "    println!(\"{}: {}\", c.container, c.status);"
        "}"
    } {
        "for c in client.health().await? {"
        "    println!(\"{}: {}\", c.container, c.status);"
        "}"
    })]
    #[doc(alias = "check_health")]
    pub async fn health(&self) -> Result<Vec<ContainerHealth>> {
        let resp = self.send(request::health(&self.settings.base_url)).await?;
        response::data(&resp)
    }

    /// The ComfyUI queue of every container: what runs and what waits.
    ///
    #[doc = example!(client {
        "for c in client.queue()? {"
        "    println!(\"{}: {} running, {} pending\", c.container,"
        "        c.queue.queue_running.len(), c.queue.queue_pending.len());"
        "}"
    } {
        "for c in client.queue().await? {"
        "    println!(\"{}: {} running, {} pending\", c.container,"
        "        c.queue.queue_running.len(), c.queue.queue_pending.len());"
        "}"
    })]
    #[doc(alias = "get_queue")]
    pub async fn queue(&self) -> Result<Vec<ContainerQueue>> {
        let resp = self.send(request::queue(&self.settings.base_url)).await?;
        response::data(&resp)
    }

    /// Starts a run of `workflow_id` with `inputs` and returns at once with the run id. Use
    /// `execute_workflow_and_wait` to also wait for the outputs. A run is filed under a
    /// group with [`Inputs::group_id`](crate::Inputs::group_id).
    ///
    /// Files are streamed from disk. Every file is opened before anything is sent: a
    /// missing one is an [`Error::Input`](crate::Error::Input) naming the field and path.
    ///
    /// A lost answer (a timeout or a cut connection after the body went out whole, a 5xx,
    /// an answer that names no run) is never taken as "no run": the run is looked for among
    /// those FlowScale lists (the same workflow and inputs, created since the send) and
    /// returned when found for certain ([`Execution::recovered`](crate::Execution::recovered)
    /// says so); otherwise the error is [`Error::AnswerLost`](crate::Error::AnswerLost): a
    /// run may exist, look before submitting again.
    ///
    /// **Cancel safety** (`AsyncClient`): cancel-safe. The request runs on a task of its
    /// own; a future dropped before the body went out whole stops the upload (no run is
    /// started), one dropped after lets the request finish and hands the run to
    /// [`AsyncClientBuilder::on_orphaned_run`](crate::AsyncClientBuilder::on_orphaned_run)
    /// and a `tracing` event.
    ///
    #[doc = example!(client {
        "use std::path::Path;"
        "use flowscale::Inputs;"
        "let inputs = Inputs::new()"
        "    .set(\"text_51536\", \"a cat on a sofa\")"
        "    .set(\"image_35728\", Path::new(\"cat.png\"))"
        "    .group_id(\"batch_001\");"
        "let run = client.execute_workflow(\"bncu0a1kipv\", inputs)?;"
        "println!(\"started run {}\", run.run_id);"
    } {
        "use std::path::Path;"
        "use flowscale::Inputs;"
        "let inputs = Inputs::new()"
        "    .set(\"text_51536\", \"a cat on a sofa\")"
        "    .set(\"image_35728\", Path::new(\"cat.png\"))"
        "    .group_id(\"batch_001\");"
        "let run = client.execute_workflow(\"bncu0a1kipv\", inputs).await?;"
        "println!(\"started run {}\", run.run_id);"
    })]
    pub async fn execute_workflow(
        &self,
        workflow_id: &str,
        inputs: impl Into<Inputs>,
    ) -> Result<Execution> {
        let submission = self.prepare_submission(workflow_id, inputs.into()).await?;
        self.send_submission(submission).await
    }

    /// Checks and encodes a submission: everything before the first byte goes out (the
    /// catalog check, opening files). An error here means nothing was sent: safe to retry.
    pub(super) async fn prepare_submission(
        &self,
        workflow_id: &str,
        mut inputs: Inputs,
    ) -> Result<Submission> {
        let group_id = inputs.take_group();
        let group_id = group_id.as_deref();
        request::check_execute(workflow_id, group_id)?;
        if self.settings.check_inputs
            && let Some(workflow) = self.catalog_entry(workflow_id).await?
        {
            // Inputs left out are no error: the catalog does not say which are optional.
            let _missing = inputs.check(&workflow)?;
            // Each file's first bytes against its kind (reading blocks: off the workers).
            if inputs.opens_files() {
                let files = inputs.file_paths();
                transport::run_blocking(move || {
                    crate::files::media::check_paths(&files, &workflow)
                })
                .await?;
            }
        }
        // Opening files blocks: off the runtime's workers. Text alone is encoded in place.
        let form = if inputs.opens_files() {
            transport::run_blocking(move || form::encode(inputs)).await?
        } else {
            form::encode(inputs)?
        };
        form.flags.set_target(workflow_id, group_id);
        Ok(Submission {
            flags: form.flags.clone(),
            req: request::execute(&self.settings.base_url, workflow_id, group_id, form),
            workflow_id: workflow_id.to_owned(),
            group_id: group_id.map(str::to_owned),
        })
    }

    /// Sends a prepared submission and reads its answer, moving its state by
    /// `decide::submission`'s rules. When the answer is lost after the request went out
    /// whole (a timeout, a cut connection, a 5xx, an answer that names no run), a run may
    /// exist: it is looked for among the runs FlowScale lists (`decide::lost`) and returned
    /// when found for certain; otherwise the error is [`Error::AnswerLost`] naming the runs
    /// that may be it, never a silent second submission.
    pub(super) async fn deliver(&self, submission: Submission) -> Result<Execution> {
        let Submission {
            req,
            workflow_id,
            group_id,
            flags,
        } = submission;
        // A caller gone before anything was sent: nothing to send, nothing to pay for.
        if flags.stopped() {
            flags.set(SubmissionState::NotSubmitted {
                reason: "it was stopped before it was sent".to_owned(),
            });
            return Err(Error::input("upload", crate::wire::upload::STOPPED));
        }
        let sent_at = super::lost::now_ms();
        flags.set(SubmissionState::Sending {
            sent_at: submission::at(sent_at),
        });
        // Known to this client while it waits for its answer: a lost answer of the same
        // inputs cannot take the run it may be waiting for.
        let known = flags.sent_fields();
        let _waiting = self.in_flight(&workflow_id, &known);
        let outcome = match self.send(req).await {
            Ok(resp) => response::execution(&resp),
            Err(e) => Err(e),
        };
        let lost = match outcome {
            Ok(exec) => {
                self.claim_run(&exec.run_id);
                flags.set(SubmissionState::Started {
                    run_id: exec.run_id.clone(),
                });
                return Ok(exec);
            }
            Err(e) => {
                let state = submission::after_error(&e, flags.whole(), flags.stopped(), sent_at);
                if let Some(run_id) = state.run_id() {
                    self.claim_run(run_id);
                }
                let lost = matches!(state, SubmissionState::Lost { .. });
                flags.set(state);
                if !lost {
                    return Err(e);
                }
                e
            }
        };
        // Every field as it went out, streamed ones included; runs are looked for from when
        // the body went out whole (no run of it is older).
        let fields = flags.sent_fields();
        let from = flags.whole_at_ms().unwrap_or(sent_at);
        // Others of these inputs still waiting: the run found may be theirs.
        let rivals = self.others_in_flight(&workflow_id, &known);
        let found = self
            .find_lost_run(&workflow_id, group_id.as_deref(), &fields, from, rivals)
            .await;
        trace::lost_answer(&workflow_id, &found);
        let state = submission::after_lookup(found, sent_at);
        flags.set(state.clone());
        match state {
            SubmissionState::Found { run_id, why, .. } => {
                Ok(Execution::found(run_id, workflow_id, why))
            }
            // `after_lookup` ends found or in doubt.
            doubt => Err(doubt.answer_lost(workflow_id, lost).unwrap_or_else(|| {
                Error::input("upload", "the lost answer's look ended in no state")
            })),
        }
    }

    /// The workflows deployed on the pod, with their inputs and outputs
    /// (`GET /api/v1/comfy/workflows`), in either documented shape.
    ///
    /// `Ok(None)` when the pod has no catalog (it answers 404 or 405; later FlowScale
    /// servers dropped the route): nothing is wrong, runs go through as before.
    ///
    #[doc = example!(client {
        "match client.workflows()? {"
        "    Some(workflows) => for w in workflows {"
        "        let inputs: Vec<_> = w.inputs.iter().map(|i| format!(\"{} ({})\", i.name, i.kind)).collect();"
        "        println!(\"{}: {} takes {}\", w.id, w.name, inputs.join(\", \"));"
        "    },"
        "    None => println!(\"this pod has no workflow catalog\"),"
        "}"
    } {
        "match client.workflows().await? {"
        "    Some(workflows) => for w in workflows {"
        "        let inputs: Vec<_> = w.inputs.iter().map(|i| format!(\"{} ({})\", i.name, i.kind)).collect();"
        "        println!(\"{}: {} takes {}\", w.id, w.name, inputs.join(\", \"));"
        "    },"
        "    None => println!(\"this pod has no workflow catalog\"),"
        "}"
    })]
    #[doc(alias = "get_workflows")]
    pub async fn workflows(&self) -> Result<Option<Vec<Workflow>>> {
        let resp = self
            .send(request::workflows(&self.settings.base_url))
            .await?;
        response::workflows(&resp)
    }

    /// The catalog entry to check a submission to `workflow_id` against, fetching the
    /// catalog when the shared cache says so (`decide::catalog`); `None`: send unchecked.
    async fn catalog_entry(&self, workflow_id: &str) -> Result<Option<Workflow>> {
        let mut just_fetched = false;
        loop {
            let lookup = lock(&self.catalog).lookup(workflow_id, Instant::now(), just_fetched);
            match lookup {
                Lookup::Check(workflow) => return Ok(Some(workflow)),
                Lookup::Skip(skip) => {
                    trace::unchecked(workflow_id, &skip);
                    return Ok(None);
                }
                Lookup::Fetch => {
                    let catalog = self.workflows().await?;
                    lock(&self.catalog).store(catalog, Instant::now());
                    just_fetched = true;
                }
            }
        }
    }

    /// The download link of one output, by its name (as in `Run::output_names`, without
    /// extension). `Ok(None)` while it is not ready yet (HTTP 204);
    /// [`Error::RunTimedOut`](crate::Error::RunTimedOut) when its run timed out (HTTP 408).
    ///
    #[doc = example!(client {
        "match client.output(\"filename_prefix_58358_5WWF7GQUYF\")? {"
        "    Some(out) => println!(\"ready: {}\", out.download_url),"
        "    None => println!(\"not ready yet\"),"
        "}"
    } {
        "match client.output(\"filename_prefix_58358_5WWF7GQUYF\").await? {"
        "    Some(out) => println!(\"ready: {}\", out.download_url),"
        "    None => println!(\"not ready yet\"),"
        "}"
    })]
    #[doc(alias = "get_output")]
    pub async fn output(&self, name: &str) -> Result<Option<Output>> {
        self.fetch_output(name, None).await
    }

    /// `output`, answered by `deadline`.
    pub(super) async fn fetch_output(
        &self,
        name: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<Output>> {
        request::require("name", name)?;
        let req = request::output(&self.settings.base_url, name);
        let resp = self.send_by(req, deadline).await?;
        response::output(&resp, name)
    }

    /// One run, with its status, inputs and outputs.
    ///
    #[doc = example!(client {
        "let run = client.run(\"808f34d0-ef97-4b78-a00f-1268077ea6db\")?;"
        "println!(\"{} is {}\", run.id.unwrap_or_default(), run.status);"
    } {
        "let run = client.run(\"808f34d0-ef97-4b78-a00f-1268077ea6db\").await?;"
        "println!(\"{} is {}\", run.id.unwrap_or_default(), run.status);"
    })]
    #[doc(alias = "get_run")]
    pub async fn run(&self, run_id: &str) -> Result<Run> {
        self.fetch_run(run_id, None).await
    }

    /// `run`, answered by `deadline`.
    pub(super) async fn fetch_run(&self, run_id: &str, deadline: Option<Instant>) -> Result<Run> {
        request::require("run_id", run_id)?;
        let req = request::run(&self.settings.base_url, run_id);
        let resp = self.send_by(req, deadline).await?;
        let mut run: Run = response::data(&resp)?;
        // The OpenAPI file's runs carry no id: this one is the id asked for.
        run.id.get_or_insert_with(|| run_id.to_owned());
        Ok(run)
    }

    /// One page of runs. The query is checked (page from 1, page size 1 to 100) before
    /// anything is sent. To walk every page, use `runs`.
    ///
    #[doc = example!(client {
        "use flowscale::{RunsQuery, SortBy};"
        "let page = client.runs_page(&RunsQuery::new().sort_by(SortBy::StartedAt).page_size(50))?;"
        "for run in &page.runs {"
        "    println!(\"{} {}\", run.id.as_deref().unwrap_or(\"-\"), run.status);"
        "}"
    } {
        "use flowscale::{RunsQuery, SortBy};"
        "let page = client.runs_page(&RunsQuery::new().sort_by(SortBy::StartedAt).page_size(50)).await?;"
        "for run in &page.runs {"
        "    println!(\"{} {}\", run.id.as_deref().unwrap_or(\"-\"), run.status);"
        "}"
    })]
    #[doc(alias = "get_runs")]
    pub async fn runs_page(&self, query: &RunsQuery) -> Result<RunPage> {
        query.validate()?;
        let resp = self
            .send(request::runs(&self.settings.base_url, query))
            .await?;
        response::run_page(&resp)
    }

    /// Cancels a run. Returns the server's confirmation message.
    ///
    #[doc = example!(client {
        "client.cancel_run(\"808f34d0-ef97-4b78-a00f-1268077ea6db\")?;"
    } {
        "client.cancel_run(\"808f34d0-ef97-4b78-a00f-1268077ea6db\").await?;"
    })]
    pub async fn cancel_run(&self, run_id: &str) -> Result<String> {
        request::require("run_id", run_id)?;
        let resp = self
            .send(request::cancel(&self.settings.base_url, run_id))
            .await?;
        let message: serde_json::Value = response::data(&resp)?;
        Ok(match message {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        })
    }
}

/// The catalog cache, whatever a panicking holder left it as (it is only ever replaced
/// whole, so it is never half-written).
fn lock(cache: &std::sync::Mutex<CatalogCache>) -> std::sync::MutexGuard<'_, CatalogCache> {
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
