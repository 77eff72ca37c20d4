//! The command line, as clap derives it: global options, one subcommand each.

use std::path::PathBuf;
use std::time::Duration;

// Ids and names are refused empty by clap (exit 2): an unset `$RUN_ID` in a script is a
// mistake in how the tool was called, not something to send to the pod.
use clap::{Args, Parser, Subcommand};
use flowscale::{SortBy, SortOrder};

use crate::secret::Secret;

const AFTER_HELP: &str = "\
Which pod and key, first found wins (the key and the URL as a pair):
  1  --api-key-file (or --api-key), --api-url
  2  the profile named by --profile or FLOWSCALE_PROFILE (`flowscale login` saves it)
  3  FLOWSCALE_API_KEY, FLOWSCALE_API_URL in the environment
  4  ./.env with those two lines
  5  the profile `default`, when none is named
A key is sent only to the pod it was given for: when the key and the URL come from two
places that name two pods (a profile's key with a URL from the environment or .env, a URL
found only in ./.env with a key from elsewhere), the command is refused (exit 2), naming
both. `flowscale profiles` shows which pod a command here would use, and why.

Exit codes:
  0    success
  1    an API or server error, a download that failed, or anything else that went wrong
  2    usage error (bad arguments; inputs refused before anything was sent)
  3    a wait timed out or gave up (the run goes on: resume with `flowscale wait RUN_ID`);
       in a batch: some jobs need another run
  4    `flowscale output`: the output is not ready yet (nothing on stdout)
  5    a run may exist that could not be confirmed (a submission's answer was lost: look
       with `flowscale runs --since TIME`; `batch`: jobs left `unknown`, then --attach
       JOB=RUN_ID or --resubmit-unknown); or the batch directory is another process's
       (--wait waits)
  6    the key was refused (401/403): check the key and the pod (`flowscale profiles`)
  7    not found (404): no such run, output or workflow
  8    the run failed or timed out on FlowScale (in a batch: a job did)
  9    `flowscale lock --check`: the pod differs from flowscale.lock (each difference on
       stdout)
  130  interrupted (Ctrl-C, SIGTERM or SIGHUP): an upload not yet gone out whole is
       stopped (no run); a submission that went out is let finish so that its run id is
       printed or recorded; a run being waited for goes on, and the line that resumes it is
       printed (with --json, a document that names the run)
  141  stdout was closed (`| head`): a listing stops quietly, as Unix tools do; `run`,
       `wait`, `download` and `batch` finish their work first (outputs saved, results on
       stderr)";

/// The heading the options every command takes are shown under, apart from its own.
const GLOBAL: &str = "Global options";

/// `--version`: the version and the features built in (what `flowscale mock` needs, say).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (features: cli",
    cfg_mock!(),
    ")"
);

/// `, mock` when the simulator is built in.
#[cfg(feature = "mock")]
macro_rules! cfg_mock {
    () => {
        ", mock"
    };
}
#[cfg(not(feature = "mock"))]
macro_rules! cfg_mock {
    () => {
        ""
    };
}
use cfg_mock;

/// Run FlowScale ComfyUI workflows from a shell: upload inputs, wait, save the outputs.
#[derive(Debug, Parser)]
#[command(name = "flowscale", version = VERSION, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// API key (default: FLOWSCALE_API_KEY, or .env). Other users of this machine can see
    /// it in `ps`, and it lands in shell history: prefer --api-key-file or the environment
    #[arg(
        long,
        global = true,
        value_name = "KEY",
        conflicts_with = "api_key_file",
        help_heading = GLOBAL
    )]
    pub api_key: Option<Secret>,

    /// Read the API key from this file (its first line); refused when others may read it
    #[arg(long, global = true, value_name = "PATH", help_heading = GLOBAL)]
    pub api_key_file: Option<PathBuf>,

    /// The pod saved by `flowscale login --profile NAME` (default: FLOWSCALE_PROFILE, else
    /// the profile `default`); wins over the environment and .env
    #[arg(long, global = true, value_name = "NAME", value_parser = parse_profile, help_heading = GLOBAL)]
    pub profile: Option<String>,

    /// Pod base URL, https://<pod-id>.pod.flowscale.ai (default: FLOWSCALE_API_URL, or .env)
    #[arg(long, global = true, value_name = "URL", help_heading = GLOBAL)]
    pub api_url: Option<String>,

    /// How long the pod may take to answer a request once it went out, as 30s or 2m
    /// (default 60s). A submission whose answer does not come in time is looked for among
    /// the pod's runs before anything else is done
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        value_parser = parse_duration,
        help_heading = GLOBAL
    )]
    pub response_timeout: Option<Duration>,

    /// Print one JSON document on stdout (no bars)
    #[arg(long, global = true, conflicts_with = "quiet", help_heading = GLOBAL)]
    pub json: bool,

    /// Print only what a script needs: run ids and saved paths (and an output's link, a
    /// list's ids); commands that have neither print nothing, and the exit code tells
    #[arg(long, short, global = true, help_heading = GLOBAL)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the state of every ComfyUI container
    #[command(after_help = "Example:\n  flowscale health")]
    Health,

    /// Show what every container is running and what waits
    #[command(after_help = "Example:\n  flowscale queue --json")]
    Queue,

    /// Start a workflow run, wait for it and save its outputs
    #[command(after_help = "\
Inputs (-i, repeatable; each name once):
  name=value     a text field (numbers and JSON are sent as their text)
  name=@path     a file, streamed from disk
  name=@-        a file read from standard input (not a terminal; its kind is checked)
  name=<path     a text field holding the text of a file (a long prompt), as curl's -F
  name=@@text    a text field whose value starts with a literal `@` (`@text`)
  name=<<text    a text field whose value starts with a literal `<` (`<text`)

Example:
  flowscale run bncu0a1kipv -i text_51536=\"a cat\" -i image_35728=@cat.png -o out/")]
    Run(RunArgs),

    /// Run a workflow over many inputs, a few at a time; re-running resumes
    #[command(after_help = "\
Jobs come from a JSON-lines file (one object of inputs per line; \"@path\" values are files
relative to the file; a \"name\" string names the job, else it is job-<its inputs' hash>) or from --each
NAME=DIR (one job per file in DIR, or per match of a pattern like photos/*.png; the job is
named after its file). -i inputs are added to every job. A job is known by its name and
its inputs: two jobs with the same inputs under different names are two runs.

Progress is kept in DIR/manifest.jsonl: running the same command again skips completed jobs,
waits for runs already submitted, and submits only the rest; nothing is paid for twice. One
process at a time: another one on the same DIR is refused (exit 5), or waits with --wait.
A job whose submission's answer was lost and whose run is not found for certain is left
`unknown` (exit 5): look with `flowscale runs --since TIME`, then --attach JOB=RUN_ID or
--resubmit-unknown. Ctrl-C (or SIGTERM, SIGHUP) submits nothing more, records the
submissions already sent, and exits 130; a second one quits at once. Exit 3: some jobs need
another run; exit 8: some failed on FlowScale.

Example:
  flowscale batch demo-img2img --each image_35728=photos/ -i text_51536=\"a cat\" -o out/")]
    Batch(BatchArgs),

    /// Wait for a run started earlier and save its outputs
    #[command(
        after_help = "Example:\n  flowscale wait 808f34d0-ef97-4b78-a00f-1268077ea6db -o out/"
    )]
    Wait(WaitArgs),

    /// List the workflows the pod can run, with their inputs; or one workflow in full
    #[command(after_help = "\
Reads the pod's workflow catalog (GET /api/v1/comfy/workflows). `run` and `batch` check their
-i names and kinds against it before uploading anything; a pod without a catalog runs them
unchecked.

Examples:
  flowscale workflows
  flowscale workflows bncu0a1kipv --json")]
    Workflows {
        /// Show this workflow only, with each input and output
        #[arg(value_parser = parse_id)]
        workflow_id: Option<String>,
    },

    /// Write flowscale.lock (what each workflow takes), or check the pod against it
    #[command(after_help = "\
Reads the pod's workflow catalog and writes what each workflow takes (inputs with their kinds,
outputs) to flowscale.lock: TOML, sorted, for a diff to read. Commit it beside the code that
calls the workflows. `flowscale::codegen` (a build script) makes Rust types from it.

--check compares the pod with the lock and prints every difference, one per line (or as
`changes` with --json): a workflow gone or added, an input added, removed, renamed (a guess,
said to be one) or of another kind, an output added or removed. Exit 0 when the pod matches,
9 when it does not: for CI, \"the pod still runs what our code was written for\".

Examples:
  flowscale lock
  flowscale lock bncu0a1kipv demo-img2img
  flowscale lock --check --json")]
    Lock {
        /// Lock (or check) these workflows only (default: every workflow in the catalog)
        #[arg(value_name = "WORKFLOW_ID", value_parser = parse_id)]
        workflow_ids: Vec<String>,

        /// Compare the pod with the lock instead of writing it; exit 9 if they differ in a
        /// way that can break code written for the lock (a workflow only added to the pod is
        /// reported, not failed, unless --strict)
        #[arg(long)]
        check: bool,

        /// With --check: fail (exit 9) on any difference, workflows added to the pod too
        #[arg(long, requires = "check")]
        strict: bool,

        /// The lock file
        #[arg(long, value_name = "FILE", default_value = "flowscale.lock")]
        file: PathBuf,
    },

    /// Show one run: status, inputs, outputs
    #[command(after_help = "Example:\n  flowscale get 808f34d0-ef97-4b78-a00f-1268077ea6db")]
    Get {
        /// The run id
        #[arg(value_parser = parse_id)]
        run_id: String,
    },

    /// Cancel a run
    #[command(after_help = "Example:\n  flowscale cancel 808f34d0-ef97-4b78-a00f-1268077ea6db")]
    Cancel {
        /// The run id
        #[arg(value_parser = parse_id)]
        run_id: String,
    },

    /// Show the download link of one output, if it is ready
    #[command(after_help = "Example:\n  flowscale output filename_prefix_58358_5WWF7GQUYF")]
    Output {
        /// The output name (as a run lists it, without extension)
        #[arg(value_parser = parse_id)]
        name: String,
    },

    /// Save every output of a completed run
    #[command(
        after_help = "Example:\n  flowscale download 808f34d0-ef97-4b78-a00f-1268077ea6db -o out/"
    )]
    Download {
        /// The run id
        #[arg(value_parser = parse_id)]
        run_id: String,
        /// Directory to save into (created if needed)
        #[arg(short, long, value_name = "DIR", default_value = ".")]
        output_dir: PathBuf,
        /// Print one JSON event per line on stdout as things happen (no bars)
        #[arg(long, conflicts_with_all = ["json", "quiet"])]
        events: bool,
        #[command(flatten)]
        saving: SaveSettings,
    },

    /// List runs, newest first
    #[command(after_help = "Example:\n  flowscale runs --group batch_001 --sort started_at --all")]
    Runs(RunsArgs),

    /// Save a pod's URL and key as a profile, after checking them against the pod
    #[command(after_help = "\
The key is taken from --api-key-file, else --api-key (visible in `ps`), else
FLOWSCALE_API_KEY, else the terminal without echo, or standard input's first line when it is
not a terminal. The URL from --api-url, else FLOWSCALE_API_URL. It is stored in the profiles file (FLOWSCALE_CONFIG, else
~/.config/flowscale/config.toml on Linux), created with mode 0600.

Examples:
  flowscale login --profile staging --api-url https://staging-pod.pod.flowscale.ai
  flowscale login --api-url https://pod.pod.flowscale.ai --api-key-file key.txt
  flowscale login --api-url https://pod.pod.flowscale.ai < key.txt
  flowscale --profile staging runs")]
    Login,

    /// Remove a profile
    #[command(after_help = "Example:\n  flowscale logout --profile staging")]
    Logout,

    /// List the saved profiles (names and URLs, never keys) and the pod a command here uses
    #[command(after_help = "\
The last line (`active` in --json) is the pod a command run here would talk to, with where its
key and URL come from (a flag, the environment, ./.env or a profile) and the key masked; or
why a command here would be refused.

Example:
  flowscale profiles --json")]
    Profiles,

    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    #[command(after_help = "\
Load it in the current shell, or install it where your shell looks for completions:
  source <(flowscale completions bash)
  flowscale completions bash > ~/.local/share/bash-completion/completions/flowscale
  flowscale completions zsh > \"${fpath[1]}/_flowscale\"
  flowscale completions fish > ~/.config/fish/completions/flowscale.fish")]
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the JSON Schema of every --json document and --events line (version 1)
    #[command(after_help = "Example:\n  flowscale schema > flowscale-cli.schema.json")]
    Schema,

    /// Print the manual pages (roff), for `man`: the tool's, then one per command
    #[command(after_help = "\
Examples:
  flowscale man > flowscale.1 && man ./flowscale.1
  flowscale man --dir /usr/local/share/man/man1    # flowscale.1, flowscale-run.1, ...")]
    Man {
        /// Write one page per command into DIR (flowscale.1, flowscale-run.1, ...) instead
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },

    /// Run the built-in FlowScale simulator (for trying things offline)
    #[cfg(feature = "mock")]
    #[command(after_help = "\
Its workflow catalog can be edited while it runs, to try `flowscale lock --check`:
  PUT /_mock/workflows/ID with a catalog entry ({\"inputs\": {\"text_1\": \"string\"},
  \"outputs\": [\"image\"]}) adds or replaces workflow ID; DELETE /_mock/workflows/ID removes it.

Examples:
  flowscale mock --port 8080 --shapes spec
  flowscale mock --run-time 30s --output-size 100000000 --failure-rate 0.1
  curl -X PUT localhost:8080/_mock/workflows/wf1 -d '{\"inputs\": {\"image_40112\": \"image\"}}'")]
    Mock {
        /// Port to listen on (127.0.0.1)
        #[arg(long, default_value_t = 8080)]
        port: u16,

        /// The answers' shapes: union (every key any server or Python SDK release has),
        /// current, legacy, or spec (exactly FlowScale's OpenAPI file)
        #[arg(long, value_name = "MODE", default_value = "union", value_parser = parse_shapes)]
        shapes: flowscale::mock::Shapes,

        /// How long each run of the demo workflows runs, as 0s, 500ms, 10s or 2m (default:
        /// each workflow's own, 0.2 to 2 s)
        #[arg(long, value_name = "DURATION", value_parser = parse_duration_or_zero)]
        run_time: Option<Duration>,

        /// The size of each output, as 1000, 64KiB, 512MiB or 2GB (default: a 166-byte PNG)
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        output_size: Option<usize>,

        /// Wait this long before every answer, as 200ms or 2s (a slow pod, a far region)
        #[arg(long, value_name = "DURATION", value_parser = parse_duration_or_zero)]
        latency: Option<Duration>,

        /// Hold every submission's answer this long after its run is created: longer than
        /// a client's --response-timeout, the answer is lost while the run exists (what
        /// `flowscale run` must find among the pod's runs, never pay for twice)
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        hold_answers: Option<Duration>,

        /// Misbehave on a route (repeatable): ROUTE=FAULT, or ROUTE=FAULT*N for the next N
        /// requests only. ROUTE: health, queue, execute, output, run, runs, cancel,
        /// workflows, download, any. FAULT: a status (500), 429:SECS (with Retry-After),
        /// html (a proxy's 502 page), drop (no body), truncate (half a body), delay:DURATION
        /// (before reading the request: a slow upload), hold:DURATION (after handling it: a
        /// lost answer)
        #[arg(long, value_name = "ROUTE=FAULT", value_parser = parse_fault)]
        fault: Vec<MockFault>,

        /// The share of runs that fail, from 0 to 1
        #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = parse_rate)]
        failure_rate: f64,

        /// The pod's options, which mean nothing to the simulator: declared here, hidden, so
        /// that the global ones are not offered in `flowscale mock --help`, and refused when
        /// given.
        #[command(flatten)]
        not_for_mock: NotForMock,
    },
}

/// The global options, shadowed in `flowscale mock` (hidden there, refused if given).
#[cfg(feature = "mock")]
#[derive(Debug, Args)]
pub struct NotForMock {
    #[arg(long, hide = true)]
    pub api_key: Option<Secret>,
    #[arg(long, hide = true)]
    pub api_key_file: Option<PathBuf>,
    #[arg(long, hide = true)]
    pub api_url: Option<String>,
    #[arg(long, hide = true)]
    pub profile: Option<String>,
    #[arg(long, hide = true)]
    pub json: bool,
    #[arg(long, short, hide = true)]
    pub quiet: bool,
    #[arg(long, hide = true)]
    pub response_timeout: Option<String>,
}

#[cfg(feature = "mock")]
impl NotForMock {
    /// The first of them given after `mock`, as its flag.
    pub fn given(&self) -> Option<&'static str> {
        first_given([
            (self.api_key.is_some(), "--api-key"),
            (self.api_key_file.is_some(), "--api-key-file"),
            (self.api_url.is_some(), "--api-url"),
            (self.profile.is_some(), "--profile"),
            (self.json, "--json"),
            (self.quiet, "--quiet"),
            (self.response_timeout.is_some(), "--response-timeout"),
        ])
    }
}

#[cfg(feature = "mock")]
impl Cli {
    /// The first of the pod's options given before the command, as its flag (the same
    /// options, in the same order, as [`NotForMock`]).
    pub fn pod_option_given(&self) -> Option<&'static str> {
        first_given([
            (self.api_key.is_some(), "--api-key"),
            (self.api_key_file.is_some(), "--api-key-file"),
            (self.api_url.is_some(), "--api-url"),
            (self.profile.is_some(), "--profile"),
            (self.json, "--json"),
            (self.quiet, "--quiet"),
            (self.response_timeout.is_some(), "--response-timeout"),
        ])
    }
}

/// The flag of the first option given.
#[cfg(feature = "mock")]
fn first_given(options: [(bool, &'static str); 7]) -> Option<&'static str> {
    options
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
}

impl Command {
    /// Whether `--events` was asked for.
    pub fn events(&self) -> bool {
        match self {
            Command::Run(args) => args.wait.events,
            Command::Wait(args) => args.wait.events,
            Command::Download { events, .. } => *events,
            Command::Batch(args) => args.events,
            _ => false,
        }
    }
}

/// A share from 0 to 1.
#[cfg(feature = "mock")]
fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a share from 0 to 1 (0.1 is one run in ten)"
        )),
    }
}

/// A shape mode of the simulator.
#[cfg(feature = "mock")]
fn parse_shapes(name: &str) -> Result<flowscale::mock::Shapes, String> {
    name.parse()
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The workflow to run
    #[arg(value_parser = parse_id)]
    pub workflow_id: String,

    /// An input: name=value, name=@path, name=@- (stdin), name=<path (a file's text),
    /// name=@@literal, name=<<literal
    #[arg(short, long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,

    /// Send the inputs without checking their names and kinds against the pod's catalog
    #[arg(long)]
    pub no_check: bool,

    /// File the run under this group
    #[arg(long, value_name = "G", value_parser = parse_id)]
    pub group: Option<String>,

    /// Print the run id and return at once, without waiting
    #[arg(long, conflicts_with_all = ["output_dir", "timeout", "poll", "no_download"])]
    pub no_wait: bool,

    #[command(flatten)]
    pub wait: WaitSettings,
}

#[derive(Debug, Args)]
pub struct BatchArgs {
    /// The workflow every job runs
    #[arg(value_parser = parse_id)]
    pub workflow_id: String,

    /// A JSON-lines file of jobs
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "each",
        conflicts_with = "each"
    )]
    pub jobs: Option<PathBuf>,

    /// One job per file: NAME=DIR or NAME=DIR/*.png
    #[arg(long, value_name = "NAME=DIR")]
    pub each: Option<String>,

    /// An input for every job: name=value, name=@path
    #[arg(short, long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,

    /// Send the inputs without checking their names and kinds against the pod's catalog
    #[arg(long)]
    pub no_check: bool,

    /// File every run under this group
    #[arg(long, value_name = "G", value_parser = parse_id)]
    pub group: Option<String>,

    /// Jobs at once
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub concurrency: usize,

    /// Submit again the jobs whose run failed last time
    #[arg(long)]
    pub retry_failed: bool,

    /// Submit again the jobs left `unknown` (an answer lost, its run not found for certain),
    /// once you have checked with `flowscale runs --since` that no run of theirs exists
    #[arg(long)]
    pub resubmit_unknown: bool,

    /// Take RUN_ID as the run of the `unknown` job JOB (found with `flowscale runs`):
    /// recorded and waited for, nothing submitted (repeatable)
    #[arg(long, value_name = "JOB=RUN_ID", value_parser = parse_attach)]
    pub attach: Vec<(String, String)>,

    /// When another process is using the output directory, wait for it to finish instead
    /// of refusing (two processes on one directory could pay for a job twice)
    #[arg(long = "wait")]
    pub wait_for_directory: bool,

    /// How long to wait for each run, as 90s, 10m or 1h
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Time between polls, as 500ms or 2s
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub poll: Duration,

    /// Directory for the manifest and one folder of outputs per job
    #[arg(short, long, value_name = "DIR", default_value = "flowscale-batch")]
    pub output_dir: PathBuf,

    /// Print one JSON event per line on stdout as things happen (no bars)
    #[arg(long, conflicts_with_all = ["json", "quiet"])]
    pub events: bool,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The run id
    #[arg(value_parser = parse_id)]
    pub run_id: String,

    #[command(flatten)]
    pub wait: WaitSettings,
}

#[derive(Clone, Debug, Args)]
pub struct WaitSettings {
    /// How long to wait, as 90s, 10m or 1h
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Time between polls, as 500ms or 2s
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub poll: Duration,

    /// Directory to save the outputs into (created if needed)
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub output_dir: PathBuf,

    /// Do not save the outputs; print their links
    #[arg(long)]
    pub no_download: bool,

    /// Print one JSON event per line on stdout as things happen (no bars)
    #[arg(long, conflicts_with_all = ["json", "quiet"])]
    pub events: bool,

    #[command(flatten)]
    pub saving: SaveSettings,
}

/// What to do with an output whose file is already in the directory.
#[derive(Clone, Debug, Args)]
pub struct SaveSettings {
    /// Keep an output's file that is already there (from an earlier run of the command)
    /// instead of saving it again under a numbered name
    #[arg(long, conflicts_with = "overwrite")]
    pub skip_existing: bool,

    /// Replace an output's file that is already there instead of saving a numbered copy
    #[arg(long)]
    pub overwrite: bool,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only runs filed under this group
    #[arg(long, value_name = "G", value_parser = parse_id)]
    pub group: Option<String>,

    /// Sort field: created_at, started_at or completed_at
    #[arg(long, value_name = "FIELD", default_value = "created_at", value_parser = parse_sort)]
    pub sort: SortBy,

    /// Oldest first
    #[arg(long)]
    pub asc: bool,

    /// Page number, from 1
    #[arg(long, value_name = "N", default_value_t = 1, conflicts_with = "all",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub page: u32,

    /// Runs per page, 1 to 100
    #[arg(long, value_name = "M", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub page_size: u32,

    /// Walk every page
    #[arg(long)]
    pub all: bool,

    /// Only runs created at or after TIME: a time as 2026-12-05T17:20:00Z, or a span back
    /// from now as 10m or 2h (walks the pages it needs; what an error about a lost answer
    /// asks you to look through)
    #[arg(long, value_name = "TIME", value_parser = parse_since, conflicts_with = "page")]
    pub since: Option<std::time::SystemTime>,
}

impl RunsArgs {
    pub fn order(&self) -> SortOrder {
        if self.asc {
            SortOrder::Asc
        } else {
            SortOrder::Desc
        }
    }
}

/// A duration as `humantime` reads it (`500ms`, `90s`, `10m`, `1h 30m`, `2days`), or plain
/// seconds (`7`). One too large for any clock is refused here, not left to overflow later,
/// and so is zero: a run submitted with `--timeout 0s` would be paid for and given up at once.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    match read_duration(text)? {
        Duration::ZERO => Err(format!(
            "`{}` is no time at all: give more than zero",
            text.trim()
        )),
        d => Ok(d),
    }
}

/// One `--fault`: where, what, how many times.
#[cfg(feature = "mock")]
#[derive(Clone, Debug)]
pub struct MockFault {
    pub route: flowscale::mock::Route,
    pub fault: flowscale::mock::Fault,
    pub times: u32,
}

/// `--fault ROUTE=FAULT[*N]` (see `flowscale mock --help`).
#[cfg(feature = "mock")]
pub fn parse_fault(text: &str) -> Result<MockFault, String> {
    use flowscale::mock::{Fault, Route};
    let bad =
        |why: &str| format!("`{text}`: {why} (as execute=500, runs=429:5*3, execute=hold:30s)");
    let (route, rest) = text.split_once('=').ok_or_else(|| bad("no `=`"))?;
    let route = match route.trim() {
        "health" => Route::Health,
        "queue" => Route::Queue,
        "execute" => Route::Execute,
        "output" => Route::Output,
        "run" => Route::RunDetails,
        "runs" => Route::RunList,
        "cancel" => Route::Cancel,
        "workflows" => Route::Workflows,
        "download" => Route::Download,
        "any" => Route::Any,
        _ => return Err(bad("not a route")),
    };
    let (fault, times) = match rest.rsplit_once('*') {
        Some((fault, n)) => (
            fault,
            n.trim()
                .parse::<u32>()
                .map_err(|_| bad("`*N` is not a count"))?,
        ),
        None => (rest, u32::MAX),
    };
    let duration = |d: &str| parse_duration(d).map_err(|e| bad(&e));
    let fault = match fault.trim().split_once(':') {
        Some(("429", secs)) => Fault::TooManyRequests {
            retry_after_secs: duration(secs)?.as_secs(),
        },
        Some(("delay", d)) => Fault::Delay(duration(d)?),
        Some(("hold", d)) => Fault::DelayAnswer(duration(d)?),
        Some(_) => return Err(bad("not a fault")),
        None => match fault.trim() {
            "html" => Fault::BadGatewayHtml,
            "drop" => Fault::DropConnection,
            "truncate" => Fault::TruncateBody,
            status => match status.parse::<u16>() {
                Ok(code) if (100..600).contains(&code) => Fault::Status(code),
                _ => return Err(bad("not a fault")),
            },
        },
    };
    Ok(MockFault {
        route,
        fault,
        times,
    })
}

/// A duration where zero makes sense (`0s`: no delay).
#[cfg(feature = "mock")]
pub fn parse_duration_or_zero(text: &str) -> Result<Duration, String> {
    read_duration(text)
}

/// A size in bytes, with or without a unit (`1000`, `64KiB`, `512MiB`, `2GB`).
#[cfg(feature = "mock")]
pub fn parse_size(text: &str) -> Result<usize, String> {
    let bytes = parse_size::parse_size(text.trim()).map_err(|e| {
        format!(
            "`{}` is not a size like 1000, 64KiB, 512MiB or 2GB ({e})",
            text.trim()
        )
    })?;
    usize::try_from(bytes).map_err(|_| format!("`{}` is too large a size here", text.trim()))
}

fn read_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| format!("`{text}` is too large a number of seconds"));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration like 500ms, 90s, 10m or 1h ({e})"))
}

/// An id or a name (a run, a workflow, a group, an output): refused when blank, before
/// anything is sent (exit 2).
fn parse_id(text: &str) -> Result<String, String> {
    match text.trim() {
        "" => Err("it is blank: give an id".to_owned()),
        _ => Ok(text.to_owned()),
    }
}

/// `--sort`: a field the runs list sorts by, named in the tool's words on a mistake.
fn parse_sort(text: &str) -> Result<SortBy, String> {
    match text.trim() {
        "created_at" => Ok(SortBy::CreatedAt),
        "started_at" => Ok(SortBy::StartedAt),
        "completed_at" => Ok(SortBy::CompletedAt),
        other => Err(format!(
            "`{other}` is not a field runs sort by: created_at, started_at or completed_at"
        )),
    }
}

/// `--since`: an RFC 3339 time, a date (its midnight, UTC), or a duration back from now.
fn parse_since(text: &str) -> Result<std::time::SystemTime, String> {
    let trimmed = text.trim();
    if let Ok(at) = humantime::parse_rfc3339_weak(trimmed) {
        return Ok(at);
    }
    let is_date = trimmed.len() == 10
        && trimmed.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if is_date && let Ok(at) = humantime::parse_rfc3339_weak(&format!("{trimmed}T00:00:00Z")) {
        return Ok(at);
    }
    let back = parse_duration(text).map_err(|_| {
        format!(
            "`{text}` is neither a time (2026-12-05T17:20:00Z), a date (2026-12-05) nor a span \
             (10m, 2h)"
        )
    })?;
    std::time::SystemTime::now()
        .checked_sub(back)
        .ok_or_else(|| format!("`{text}` reaches back before any clock"))
}

/// `--attach JOB=RUN_ID`.
fn parse_attach(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((job, run)) if !job.trim().is_empty() && !run.trim().is_empty() => {
            Ok((job.trim().to_owned(), run.trim().to_owned()))
        }
        _ => Err("expected JOB=RUN_ID, as `flowscale runs` shows the run".to_owned()),
    }
}

/// `--profile`: a name a profile can have.
fn parse_profile(name: &str) -> Result<String, String> {
    crate::profiles::check_name(name)
        .map(str::to_owned)
        .map_err(|e| format!("{e}: {}", crate::profiles::NAME_RULE))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option and subcommand a user can see says what it does, and under its own
    /// name (a doc comment written one line too high lands on the option above it).
    #[test]
    fn every_visible_option_has_its_own_help() {
        use clap::CommandFactory;
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                match arg.get_help().map(|h| h.to_string()) {
                    None => missing.push(format!("{path} --{id}: no help")),
                    Some(h) if joined(&h) => {
                        missing.push(format!("{path} --{id}: {h:?} reads as two helps"))
                    }
                    Some(_) => {}
                }
            }
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {}: no about", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        // Two doc lines joined: "... this group Send the inputs ..." (a sentence starting
        // after a lowercase word, with no stop between).
        fn joined(help: &str) -> bool {
            let words: Vec<&str> = help.split_whitespace().collect();
            words.windows(2).any(|w| {
                let ends_lower = w[0].chars().last().is_some_and(|c| c.is_ascii_lowercase());
                let mut next = w[1].chars();
                let capitalised = next.next().is_some_and(|c| c.is_ascii_uppercase())
                    && w[1].len() > 1
                    && next.all(|c| c.is_ascii_lowercase());
                // Names, not sentences.
                let name = matches!(w[1], "Python" | "Rust" | "Linux" | "Ctrl-C");
                ends_lower && capitalised && !name
            })
        }
        assert!(joined("File the run under this group Send the inputs"));
        let mut missing = Vec::new();
        walk(&Cli::command(), "flowscale", &mut missing);
        assert!(missing.is_empty(), "{missing:#?}");
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("0").is_err());
        // Longer than any clock holds: taken (waits saturate: no deadline), or refused
        // when it is not even a number of seconds; never a panic.
        assert_eq!(
            parse_duration("10000000000000000000s"),
            Ok(Duration::from_secs(10_000_000_000_000_000_000))
        );
        assert!(parse_duration("99999999999999999999").is_err());
    }
}
