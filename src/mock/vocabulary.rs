//! What a test tells the simulator and reads back from it: the workflows it runs, the
//! answers' shapes, the routes and the faults, the requests it recorded. No server here
//! (`server.rs`), so that the server's parts (`state.rs`, `routes.rs`) build on it.

use std::time::Duration;

use crate::wire::catalog::ValueKind;
use crate::wire::types::RunStatus;

/// The API key the simulator expects unless told otherwise.
pub const DEFAULT_API_KEY: &str = "mock-api-key";

/// A workflow the simulator can run: the inputs it requires, the outputs it produces, and
/// how its runs unfold over time.
#[derive(Clone, Debug)]
#[must_use = "a MockWorkflow does nothing until registered with MockServer::register"]
pub struct MockWorkflow {
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

impl MockWorkflow {
    /// A workflow with one output (`output`), whose runs wait 20 ms in the queue, run for
    /// 200 ms and complete.
    pub fn new(id: impl Into<String>) -> Self {
        MockWorkflow {
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
    /// `audio_*` are files of that kind, anything else text; [`MockWorkflow::input`] sets
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
    /// same every time: see [`MockServer::output_bytes`](crate::mock::MockServer::output_bytes)) instead of the built-in 166-byte
    /// PNG: for downloads big enough to be interrupted.
    pub fn output_size(mut self, bytes: usize) -> Self {
        self.output_size = Some(bytes);
        self
    }

    /// Runs never complete: past their running time, `output` answers 408.
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
pub fn demo_workflows() -> Vec<MockWorkflow> {
    vec![
        MockWorkflow::new("bncu0a1kipv")
            .name("Text to Image")
            .description("Renders an image from a prompt.")
            .input("text_51536", ValueKind::Text)
            .input("seed_3", ValueKind::Number)
            .outputs(["filename_prefix"])
            .duration(Duration::from_secs(2)),
        MockWorkflow::new("demo-img2img")
            .name("Image to Image")
            .description("Repaints an image as a prompt says.")
            .required_input("text_51536")
            .required_input("image_35728")
            .outputs(["filename_prefix", "preview"])
            .queued_for(Duration::from_millis(300))
            .duration(Duration::from_millis(1500)),
        MockWorkflow::new("wf1").outputs(["image", "preview"]),
        MockWorkflow::new("failing").fails(),
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
    /// one. The runs list requires `group_id`, as the file does: without one it answers 422
    /// with FastAPI's `detail` (the current server and every SDK send it only when given;
    /// the other modes follow them).
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
    RunDetails,
    /// `GET /api/v1/runs`
    RunList,
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
