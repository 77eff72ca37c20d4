//! Response types, tolerant of both server generations: unknown fields are ignored,
//! documented fields may be missing or `null`, unknown status strings are kept as `Other`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Deserializes `null` as the type's default (an empty list, say).
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A bookkeeping value the client does not act on (a count, a page number, a queue number):
/// taken when it is what the field holds, else `None`, never an error. A negative, huge,
/// fractional or mistyped one must not cost the data around it (a page of runs).
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Value::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
}

/// Declares a string enum with an `Other(String)` arm, so unknown values never fail decoding.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version of the SDK does not know.
            Other(String),
        }

        impl $name {
            /// The value as the API spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s,
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $($text => $name::$variant,)+
                    _ => $name::Other(s),
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name::from(s.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.as_str().to_owned()
            }
        }

        /// Parses the API's spelling; an unknown value becomes `Other`, so this never fails.
        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok($name::from(s))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// The state of one ComfyUI container.
    ContainerStatus {
        /// Waiting for work.
        Idle = "idle",
        /// Executing a workflow.
        Running = "running",
        /// Not running.
        Stopped = "stopped",
    }
}

string_enum! {
    /// The state of a run.
    RunStatus {
        /// Accepted, waiting for a container.
        Queued = "queued",
        /// Accepted, not started yet.
        Pending = "pending",
        /// Executing.
        Running = "running",
        /// Finished; outputs are available.
        Completed = "completed",
        /// Finished with an error.
        Failed = "failed",
        /// Finished with an error (older spelling).
        Error = "error",
        /// Cancelled by a user.
        Cancelled = "cancelled",
    }
}

impl RunStatus {
    /// `failed`, `error` or `cancelled`: the run will never produce its outputs.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            RunStatus::Failed | RunStatus::Error | RunStatus::Cancelled
        )
    }

    /// The run has ended, one way or the other.
    pub fn is_finished(&self) -> bool {
        self.is_failure() || *self == RunStatus::Completed
    }
}

/// Health of one ComfyUI container, from [`health`](crate::Client::health).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ContainerHealthWire")]
#[non_exhaustive]
pub struct ContainerHealth {
    /// The container's name (`"container #1"`): the first of `container`, `url` (the
    /// OpenAPI file's name) and `comfy_uri` the server sends; several at once are fine.
    pub container: String,
    /// Its state.
    pub status: ContainerStatus,
}

#[derive(Deserialize)]
struct ContainerHealthWire {
    #[serde(default)]
    container: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    comfy_uri: Option<String>,
    status: ContainerStatus,
}

impl From<ContainerHealthWire> for ContainerHealth {
    fn from(wire: ContainerHealthWire) -> Self {
        ContainerHealth {
            container: wire
                .container
                .or(wire.url)
                .or(wire.comfy_uri)
                .unwrap_or_default(),
            status: wire.status,
        }
    }
}

/// The ComfyUI queue of one container, from [`queue`](crate::Client::queue).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ContainerQueueWire")]
#[non_exhaustive]
pub struct ContainerQueue {
    /// The container's name: the first of `container`, `comfy_uri` (the OpenAPI file's
    /// name) and `url` the server sends; several at once are fine.
    pub container: String,
    /// Running and pending prompts.
    pub queue: QueueState,
}

#[derive(Deserialize)]
struct ContainerQueueWire {
    #[serde(default)]
    container: Option<String>,
    #[serde(default)]
    comfy_uri: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    queue: QueueState,
}

impl From<ContainerQueueWire> for ContainerQueue {
    fn from(wire: ContainerQueueWire) -> Self {
        ContainerQueue {
            container: wire
                .container
                .or(wire.comfy_uri)
                .or(wire.url)
                .unwrap_or_default(),
            queue: wire.queue,
        }
    }
}

/// What a container is running and what waits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QueueState {
    /// Prompts being executed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub queue_running: Vec<QueueEntry>,
    /// Prompts waiting.
    #[serde(default, deserialize_with = "null_as_default")]
    pub queue_pending: Vec<QueueEntry>,
}

/// One ComfyUI queue entry: `[number, prompt_id, prompt, extra_data, outputs_to_execute]`
/// as ComfyUI sends it. The fields past the first two are ComfyUI's own and unstable, so
/// they are reachable only as raw JSON ([`QueueEntry::values`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QueueEntry(Vec<Value>);

impl QueueEntry {
    /// The entry as ComfyUI sent it.
    pub fn values(&self) -> &[Value] {
        &self.0
    }

    /// The entry's queue number, when present.
    pub fn number(&self) -> Option<i64> {
        self.0.first().and_then(Value::as_i64)
    }

    /// The prompt (run) id, when present.
    pub fn prompt_id(&self) -> Option<&str> {
        self.0.get(1).and_then(Value::as_str)
    }
}

/// A run just started by [`execute_workflow`](crate::Client::execute_workflow).
///
/// Newer servers send `{run_id, workflow_id}`; older ones `{run_id, number, node_errors,
/// output_names}`. Fields a server did not send are `None` or empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Execution {
    /// The new run's id.
    pub run_id: String,
    /// The workflow that runs (newer servers).
    #[serde(default)]
    pub workflow_id: Option<String>,
    /// The ComfyUI queue number (older servers).
    #[serde(default, deserialize_with = "lenient")]
    pub number: Option<i64>,
    /// ComfyUI's node errors, if any (older servers).
    #[serde(default)]
    pub node_errors: Option<Value>,
    /// The names of the outputs the run will produce (older servers; empty otherwise).
    #[serde(default, deserialize_with = "null_as_default")]
    pub output_names: Vec<String>,
    /// The answer to the submission was lost (a timeout, a cut connection) and this run
    /// was found among the pod's runs instead, for certain: the only run of the workflow
    /// with exactly the inputs sent, created since the submission was sent, and no other
    /// submission's of this client. Only `run_id` and `workflow_id` are known then.
    #[serde(skip)]
    pub recovered: bool,
    /// When `recovered`: why this run is the submission's, in words (when it was created,
    /// the rules it met), for a tool to say out loud.
    #[serde(skip)]
    pub recovery: Option<String>,
}

impl Execution {
    /// The run found after a lost answer.
    pub(crate) fn found(run_id: String, workflow_id: String, why: String) -> Self {
        Execution {
            run_id,
            workflow_id: Some(workflow_id),
            number: None,
            node_errors: None,
            output_names: Vec::new(),
            recovered: true,
            recovery: Some(why),
        }
    }
}

/// A finished output, from [`output`](crate::Client::output).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Output {
    /// A presigned link to the file. Download it without the API key.
    pub download_url: String,
    /// `"success"` when the output was generated.
    #[serde(default, deserialize_with = "null_as_default")]
    pub generation_status: String,
}

/// One run, from [`run`](crate::Client::run) or [`runs_page`](crate::Client::runs_page).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Run {
    /// The run id (`_id` on the wire). FlowScale's OpenAPI file describes runs without it:
    /// `run` then gives the id it asked for, and in a list (`runs_page`, `runs`) a run
    /// the server sent without one has `None`, rather than an id made up.
    #[serde(rename = "_id", alias = "id", alias = "run_id", default)]
    pub id: Option<String>,
    /// The team that owns the run.
    #[serde(default)]
    pub team_id: Option<String>,
    /// The workflow that ran.
    #[serde(default)]
    pub workflow_id: Option<String>,
    /// The group the run was filed under, if any.
    #[serde(default)]
    pub group_id: Option<String>,
    /// Where the run is.
    pub status: RunStatus,
    /// The inputs it was given.
    #[serde(default, deserialize_with = "null_as_default")]
    pub inputs: Vec<RunInput>,
    /// The files it produced so far.
    #[serde(default, deserialize_with = "null_as_default")]
    pub outputs: Vec<RunOutput>,
    /// The names of the outputs it produces (no extension); pass them to `output`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub output_names: Vec<String>,
    /// When it was created (ISO-8601).
    #[serde(default)]
    pub created_at: Option<String>,
    /// When it started.
    #[serde(default)]
    pub started_at: Option<String>,
    /// When it ended.
    #[serde(default)]
    pub completed_at: Option<String>,
}

/// One input of a run, as the server stored it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunInput {
    /// The input's field name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub path: String,
    /// Its value (text, or a file's name).
    #[serde(default)]
    pub value: Value,
    /// Where an uploaded file was stored.
    #[serde(default)]
    pub s3_key: Option<String>,
    /// A link to an uploaded file.
    #[serde(default)]
    pub url: Option<String>,
}

/// One output file of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunOutput {
    /// The file name, with extension.
    #[serde(default, deserialize_with = "null_as_default")]
    pub filename: String,
    /// Where it is stored.
    #[serde(default)]
    pub s3_key: Option<String>,
    /// A link to it.
    #[serde(default)]
    pub url: Option<String>,
}

/// One page of runs, from [`runs_page`](crate::Client::runs_page).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunPage {
    /// The runs on this page.
    pub runs: Vec<Run>,
    /// Paging facts, when the server sent them (newer servers).
    pub meta: Option<PageMeta>,
}

/// Paging facts of a [`RunPage`]. Every field may be missing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PageMeta {
    /// The sort field used.
    #[serde(default, deserialize_with = "lenient")]
    pub sort_by: Option<String>,
    /// The sort order used.
    #[serde(default, deserialize_with = "lenient")]
    pub sort_order: Option<String>,
    /// This page's number (1-based).
    #[serde(default, deserialize_with = "lenient")]
    pub page: Option<u32>,
    /// The group filter, if any.
    #[serde(default, deserialize_with = "lenient")]
    pub group_id: Option<String>,
    /// The page size.
    #[serde(default, deserialize_with = "lenient")]
    pub page_size: Option<u32>,
    /// Runs matching the query, on all pages.
    #[serde(default, deserialize_with = "lenient")]
    pub total_count: Option<u64>,
    /// Number of pages.
    #[serde(default, deserialize_with = "lenient")]
    pub total_pages: Option<u32>,
}

/// The `data` of a runs list, in either generation (`{runs}` or `{group_id, count, runs}`).
#[derive(Deserialize)]
pub(crate) struct RunsData {
    #[serde(default, deserialize_with = "null_as_default")]
    pub runs: Vec<Run>,
    #[serde(default, deserialize_with = "lenient")]
    pub group_id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub count: Option<u64>,
}

impl RunPage {
    /// Builds a page from the envelope's `data` and `meta`; an older server's
    /// `{group_id, count}` becomes the meta's `group_id` and `total_count`.
    pub(crate) fn from_parts(data: RunsData, meta: Option<PageMeta>) -> Self {
        let meta = match meta {
            Some(m) => Some(m),
            None if data.count.is_some() || data.group_id.is_some() => Some(PageMeta {
                group_id: data.group_id,
                total_count: data.count,
                ..PageMeta::default()
            }),
            None => None,
        };
        RunPage {
            runs: data.runs,
            meta,
        }
    }
}
