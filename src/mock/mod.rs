//! A local, stateful FlowScale simulator (feature `mock`), for offline runs and for testing
//! code that uses this SDK.
//!
//! [`MockServer`] serves the whole API contract on a free loopback port from a background
//! thread: register workflows, start runs that move `queued -> running -> completed` on the
//! clock, list, cancel, fetch outputs and download them (the simulator serves the files
//! itself). It can be told to misbehave ([`Fault`]), and records every request it gets.
//!
//! ```
//! use std::time::Duration;
//! use flowscale::mock::{MockServer, Workflow};
//! use flowscale::{Inputs, WaitOptions};
//!
//! let server = MockServer::start();
//! server.register(
//!     Workflow::new("txt2img")
//!         .required_input("text_1")
//!         .outputs(["image"])
//!         .duration(Duration::from_millis(50)),
//! );
//! # #[cfg(feature = "blocking")] {
//! let client = server.client();
//! let options = WaitOptions::new().poll_interval(Duration::from_millis(10));
//! let result = client
//!     .execute_workflow_and_wait("txt2img", Inputs::new().set("text_1", "a cat"), None, &options)
//!     .unwrap();
//! assert_eq!(result.outputs.len(), 1);
//! assert_eq!(server.requests()[0].fields, [("text_1".to_string(), "a cat".to_string())]);
//! # }
//! ```

mod routes;
mod state;

use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::wire::catalog::ValueKind;
use crate::wire::types::RunStatus;
use state::State;

/// The API key the simulator expects unless told otherwise.
pub const DEFAULT_API_KEY: &str = "mock-api-key";

/// A workflow the simulator can run: the inputs it requires, the outputs it produces, and
/// how its runs unfold over time.
#[derive(Clone, Debug)]
#[must_use = "a Workflow does nothing until registered with MockServer::register"]
pub struct Workflow {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) description: Option<String>,
    /// Every input, in the order given: name, kind, and whether runs need it.
    pub(crate) inputs: Vec<(String, ValueKind, bool)>,
    pub(crate) outputs: Vec<String>,
    pub(crate) phases: Vec<(RunStatus, Duration)>,
    pub(crate) times_out: bool,
    /// The size of each output served, when not the built-in PNG.
    pub(crate) output_size: Option<usize>,
}

impl Workflow {
    /// A workflow with one output (`output`), whose runs wait 20 ms in the queue, run for
    /// 200 ms and complete.
    pub fn new(id: impl Into<String>) -> Self {
        Workflow {
            id: id.into(),
            name: None,
            description: None,
            inputs: Vec::new(),
            outputs: vec!["output".into()],
            phases: vec![
                (RunStatus::Queued, Duration::from_millis(20)),
                (RunStatus::Running, Duration::from_millis(200)),
                (RunStatus::Completed, Duration::ZERO),
            ],
            times_out: false,
            output_size: None,
        }
    }

    /// The workflow id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The display name the catalog gives (default: the id).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The description the catalog gives.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// An input that must be present (else POST /runs answers 422 like FastAPI). Its kind in
    /// the catalog is told by its name, as ComfyUI's are: `image_*`, `video_*` and
    /// `audio_*` are files of that kind, anything else text; [`Workflow::input`] sets
    /// another.
    pub fn required_input(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        let kind = kind_of_name(&name);
        self.set_input(name, kind, true);
        self
    }

    /// An input the catalog lists with `kind`, which runs may leave out; for a name already
    /// given, sets its kind only (a required input stays required).
    pub fn input(mut self, name: impl Into<String>, kind: ValueKind) -> Self {
        let name = name.into();
        match self.inputs.iter_mut().find(|i| i.0 == name) {
            Some(known) => known.1 = kind,
            None => self.set_input(name, kind, false),
        }
        self
    }

    fn set_input(&mut self, name: String, kind: ValueKind, required: bool) {
        match self.inputs.iter_mut().find(|i| i.0 == name) {
            Some(known) => known.2 |= required,
            None => self.inputs.push((name, kind, required)),
        }
    }

    /// The names of the inputs runs need.
    pub(crate) fn required(&self) -> impl Iterator<Item = &str> {
        self.inputs.iter().filter(|i| i.2).map(|i| i.0.as_str())
    }

    /// The outputs' name prefixes; each run gets names like `<prefix>_58359_5WWF7GQUYF`.
    pub fn outputs<S: Into<String>>(mut self, prefixes: impl IntoIterator<Item = S>) -> Self {
        self.outputs = prefixes.into_iter().map(Into::into).collect();
        self
    }

    /// How long a run waits in the queue (its `queued` phase; a status script without one
    /// is left as it is).
    pub fn queued_for(mut self, d: Duration) -> Self {
        if let Some(p) = self.phases.iter_mut().find(|p| p.0 == RunStatus::Queued) {
            p.1 = d;
        }
        self
    }

    /// How long a run is `running`.
    pub fn duration(mut self, d: Duration) -> Self {
        if let Some(p) = self.phases.iter_mut().find(|p| p.0 == RunStatus::Running) {
            p.1 = d;
        }
        self
    }

    /// Runs end `failed` instead of `completed`.
    pub fn fails(mut self) -> Self {
        if let Some(last) = self.phases.last_mut() {
            last.0 = RunStatus::Failed;
        }
        self
    }

    /// Each output served as `bytes` bytes of its own (a pattern made from its name, the
    /// same every time: see [`MockServer::output_bytes`]) instead of the built-in 166-byte
    /// PNG: for downloads big enough to be interrupted.
    pub fn output_size(mut self, bytes: usize) -> Self {
        self.output_size = Some(bytes);
        self
    }

    /// Runs never complete: past their running time, `get_output` answers 408.
    pub fn times_out(mut self) -> Self {
        self.times_out = true;
        self
    }

    /// A full script of statuses and how long each lasts; the last one holds forever.
    /// Panics on an empty script.
    pub fn statuses(mut self, script: impl IntoIterator<Item = (RunStatus, Duration)>) -> Self {
        let script: Vec<_> = script.into_iter().collect();
        assert!(
            !script.is_empty(),
            "a status script needs at least one status"
        );
        self.phases = script;
        self
    }
}

/// The catalog kind of an input by its name's prefix: `image_35728` is an image.
fn kind_of_name(name: &str) -> ValueKind {
    match name.split('_').next().unwrap_or_default() {
        "image" => ValueKind::Image,
        "video" => ValueKind::Video,
        "audio" => ValueKind::Audio,
        _ => ValueKind::Text,
    }
}

/// The demo workflows of the standalone simulator (`flowscale mock`, `examples/mock_server.rs`):
///
/// - `bncu0a1kipv`, the Python SDK README's id ("Text to Image"): takes `text_51536`
///   (text) and `seed_3` (a number), both optional; one output, runs 2 s;
/// - `demo-img2img` ("Image to Image"): requires `text_51536` and `image_35728` (an image),
///   two outputs, runs 1.5 s;
/// - `wf1`: two outputs, runs 200 ms;
/// - `failing`: every run fails.
pub fn demo_workflows() -> Vec<Workflow> {
    vec![
        Workflow::new("bncu0a1kipv")
            .name("Text to Image")
            .description("Renders an image from a prompt.")
            .input("text_51536", ValueKind::Text)
            .input("seed_3", ValueKind::Number)
            .outputs(["filename_prefix"])
            .duration(Duration::from_secs(2)),
        Workflow::new("demo-img2img")
            .name("Image to Image")
            .description("Repaints an image as a prompt says.")
            .required_input("text_51536")
            .required_input("image_35728")
            .outputs(["filename_prefix", "preview"])
            .queued_for(Duration::from_millis(300))
            .duration(Duration::from_millis(1500)),
        Workflow::new("wf1").outputs(["image", "preview"]),
        Workflow::new("failing").fails(),
    ]
}

/// The shapes the simulator's answers take.
///
/// FlowScale's server generations and the Python SDK releases' docs disagree on a few keys;
/// the default serves every documented key at once where they do not conflict, so a client
/// written against any of them works. The strict shapes are for tests that need exactly one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Shapes {
    /// The union (the default): execute answers `{run_id, workflow_id, output_names}`
    /// (the Python SDK's README reads `output_names` there); the runs list has `runs`,
    /// `count` and `group_id` in `data` and the paging `meta`; health and queue name each
    /// container `container`, as every Python SDK release documents, and also `url`
    /// (health) and `comfy_uri` (queue), as FlowScale's OpenAPI file does. The workflow
    /// catalog is the Python SDK beta's `{workflows: [{workflow_id, inputs: {..}, outputs:
    /// [..]}]}`.
    #[default]
    Union,
    /// Exactly the current server: execute `{run_id, workflow_id}`, the runs list
    /// `{runs}` with `meta`, containers named `container`; the workflow catalog as the JS
    /// SDK's docs have it, a list whose `inputs` and `outputs` are JSON text.
    Current,
    /// Exactly the older server: execute `{run_id, number, node_errors, output_names}`, the
    /// runs list `{group_id, count, runs}` without `meta`, containers named `url` (health)
    /// and `comfy_uri` (queue) as the OpenAPI file has them; the Python SDK beta's catalog.
    Legacy,
    /// Exactly FlowScale's published OpenAPI file: execute answers `data` as an array of
    /// one `{run_id, workflow_id}`; runs have no `_id` nor `team_id`; the runs list is
    /// `{group_id, count, runs}` without `meta`; containers are named `url` (health) and
    /// `comfy_uri` (queue). No workflow catalog (404), as the file has none: a pod without
    /// one.
    Spec,
}

impl std::str::FromStr for Shapes {
    type Err = String;

    /// `union`, `current`, `legacy` or `spec`.
    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "union" => Ok(Shapes::Union),
            "current" => Ok(Shapes::Current),
            "legacy" => Ok(Shapes::Legacy),
            "spec" => Ok(Shapes::Spec),
            other => Err(format!(
                "`{other}` is not a shape mode: use union, current, legacy or spec"
            )),
        }
    }
}

/// Which route a [`Fault`] applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Route {
    /// `GET /api/v1/comfy/health`
    Health,
    /// `GET /api/v1/comfy/queue`
    Queue,
    /// `POST /api/v1/runs`
    Execute,
    /// `GET /api/v1/runs/output`
    Output,
    /// `GET /api/v1/runs/{id}`
    Run,
    /// `GET /api/v1/runs`
    Runs,
    /// `POST /api/v1/runs/{id}/cancel`
    Cancel,
    /// `GET /api/v1/comfy/workflows`
    Workflows,
    /// `GET /files/...`: output downloads
    Download,
    /// Every route.
    Any,
}

/// A way to misbehave.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status and a FlowScale error body.
    Status(u16),
    /// Answer 502 with an HTML page, as a proxy in front of the API would.
    BadGatewayHtml,
    /// Answer 429 with `Retry-After: <seconds>`.
    TooManyRequests {
        /// The `Retry-After` value.
        retry_after_secs: u64,
    },
    /// Send the headers, then break the connection before the body.
    DropConnection,
    /// Announce the full length but send only half the body, then break the connection.
    TruncateBody,
    /// Wait this long before answering normally.
    Delay(Duration),
    /// Handle the request, then wait this long before answering: for an execute, the run
    /// exists (and is paid for) while its answer is still on its way.
    DelayAnswer(Duration),
    /// Handle the request, then answer 200 with its answer wrapped in a shape no client
    /// knows (`{"status": "success", "data": {"unknown": <the answer>}}`): for an execute,
    /// a run started whose answer cannot be read.
    UnknownShape,
    /// A download: send this many bytes of the body (announcing all of it), then break the
    /// connection, as a network that drops mid-transfer does.
    CutBodyAfter(u64),
    /// A download: answer `200` with the whole file, ignoring `Range`, as a server that
    /// does not serve ranges does.
    IgnoreRange,
    /// A download: serve other bytes under another `ETag`, as a link whose file was
    /// replaced does (a `Range` with the old `If-Range` then gets the whole new file).
    ChangedContent,
}

/// A file the simulator received.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedFile {
    /// The form field.
    pub name: String,
    /// The filename sent.
    pub filename: String,
    /// The Content-Type sent, if any.
    pub content_type: Option<String>,
    /// Its size in bytes.
    pub size: u64,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A request the simulator received.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without query.
    pub path: String,
    /// The query pairs, decoded.
    pub query: Vec<(String, String)>,
    /// The `X-API-KEY` header, if sent.
    pub api_key: Option<String>,
    /// The `Range` header, if sent (a resumed download).
    pub range: Option<String>,
    /// Text form fields (for `POST /api/v1/runs`).
    pub fields: Vec<(String, String)>,
    /// Uploaded files (for `POST /api/v1/runs`).
    pub files: Vec<RecordedFile>,
}

/// A run as the simulator stored it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredRunInfo {
    /// The run id.
    pub id: String,
    /// The workflow.
    pub workflow_id: String,
    /// The group, if any.
    pub group_id: Option<String>,
    /// Its status now.
    pub status: RunStatus,
    /// Text inputs.
    pub fields: Vec<(String, String)>,
    /// Uploaded files.
    pub files: Vec<RecordedFile>,
    /// Its output names.
    pub output_names: Vec<String>,
}

/// A running simulator. Stops when dropped.
pub struct MockServer {
    url: String,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl MockServer {
    /// Starts a simulator on a free loopback port, expecting [`DEFAULT_API_KEY`].
    ///
    /// Panics if no port can be bound; use [`MockServer::start_on`] to handle that.
    pub fn start() -> Self {
        Self::start_on("127.0.0.1:0").expect("could not start the FlowScale simulator")
    }

    /// Starts a simulator on `addr` (`"127.0.0.1:8080"`, or port 0 for a free one).
    pub fn start_on(addr: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State::new(DEFAULT_API_KEY.into(), url.clone())));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = routes::router(state.clone());
        // The runtime and the listener are set up here, so that a failure is returned
        // to the caller instead of dying quietly on the background thread.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = {
            let _entered = rt.enter();
            tokio::net::TcpListener::from_std(listener)
        };
        let listener = match listener {
            Ok(listener) => listener,
            Err(e) => {
                // Dropping a runtime inside another one (a #[tokio::test]) would panic.
                rt.shutdown_background();
                return Err(e);
            }
        };
        let thread = std::thread::Builder::new()
            .name("flowscale-mock".into())
            .spawn(move || {
                rt.block_on(async move {
                    tokio::select! {
                        r = axum::serve(listener, app) => {
                            if let Err(e) = r { eprintln!("flowscale mock stopped: {e}"); }
                        }
                        _ = rx => {}
                    }
                });
                rt.shutdown_background();
            })?;
        Ok(MockServer {
            url,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The base URL to give a client (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The API key the simulator accepts.
    pub fn api_key(&self) -> String {
        self.state().api_key.clone()
    }

    /// Accept this key instead of [`DEFAULT_API_KEY`].
    pub fn set_api_key(&self, key: impl Into<String>) {
        self.state().api_key = key.into();
    }

    /// A blocking client for this simulator.
    #[cfg(feature = "blocking")]
    pub fn client(&self) -> crate::blocking::Client {
        crate::blocking::Client::new(self.api_key(), self.url())
            .expect("the simulator's URL is valid")
    }

    /// An async client for this simulator.
    #[cfg(feature = "async")]
    pub fn async_client(&self) -> crate::nonblocking::Client {
        crate::nonblocking::Client::new(self.api_key(), self.url())
            .expect("the simulator's URL is valid")
    }

    /// Adds (or replaces) a workflow.
    pub fn register(&self, workflow: Workflow) -> &Self {
        self.state().workflows.insert(workflow.id.clone(), workflow);
        self
    }

    /// Misbehave on the next `times` requests to `route`.
    pub fn fail_next(&self, route: Route, times: u32, fault: Fault) -> &Self {
        if times > 0 {
            self.state().faults.push(state::PendingFault {
                route,
                fault,
                remaining: times,
            });
        }
        self
    }

    /// Wait this long before every answer.
    pub fn set_latency(&self, latency: Duration) -> &Self {
        self.state().latency = latency;
        self
    }

    /// Which answer shapes to serve (default [`Shapes::Union`]).
    pub fn serve_shapes(&self, shapes: Shapes) -> &Self {
        self.state().shapes = shapes;
        self
    }

    /// `serve_shapes(Shapes::Legacy)` when `true`, back to the default
    /// [`Shapes::Union`] when `false`.
    pub fn serve_legacy_shapes(&self, legacy: bool) -> &Self {
        self.serve_shapes(if legacy {
            Shapes::Legacy
        } else {
            Shapes::Union
        })
    }

    /// The share of runs started from now on that fail, from 0 (the default: each as its
    /// workflow says) to 1 (all); which ones is fixed by their order, so a test sees the
    /// same runs fail every time.
    pub fn set_failure_rate(&self, rate: f64) -> &Self {
        self.state().failure_rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self
    }

    /// How many ComfyUI containers health and queue report (default 2).
    pub fn set_containers(&self, n: usize) -> &Self {
        self.state().containers = n.max(1);
        self
    }

    /// Downloads of outputs are sent `chunk` bytes at a time with `gap` between chunks (a
    /// slow link), from now on; `None` sends them at once again.
    pub fn throttle_downloads(&self, throttle: Option<(usize, Duration)>) -> &Self {
        self.state().download_throttle = throttle.map(|(chunk, gap)| (chunk.max(1), gap));
        self
    }

    /// The bytes the simulator serves for output `name` (with or without extension), once
    /// its run has completed; `None` for an output it does not know.
    pub fn output_bytes(&self, name: &str) -> Option<Vec<u8>> {
        let state = self.state();
        let (run, output) = state.run_with_output(name)?;
        Some(state::output_bytes(output, run.output_size))
    }

    /// Every run the simulator has created, oldest first.
    pub fn runs(&self) -> Vec<StoredRunInfo> {
        let state = self.state();
        let ids: Vec<String> = state.runs.iter().map(|r| r.id.clone()).collect();
        drop(state);
        ids.iter().filter_map(|id| self.run(id)).collect()
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// A run as the simulator stored it.
    pub fn run(&self, run_id: &str) -> Option<StoredRunInfo> {
        let state = self.state();
        let now = std::time::Instant::now();
        state.run(run_id).map(|r| StoredRunInfo {
            id: r.id.clone(),
            workflow_id: r.workflow_id.clone(),
            group_id: r.group_id.clone(),
            status: r.status(now),
            fields: r.fields.clone(),
            files: r.files.clone(),
            output_names: r.outputs.clone(),
        })
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
