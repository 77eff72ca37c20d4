//! Each subcommand: call the SDK, then print for people, for scripts (`--quiet`) or as one
//! JSON document (`--json`). Results go to stdout; bars and the spinner to stderr.

use flowscale::{
    Client, DownloadOptions, RunEvent, RunsQuery, SavedOutput, SortBy, WaitOptions, WorkflowResult,
};
use serde_json::{Value, json};

use crate::args::{Command, RunArgs, RunsArgs, SaveSettings, WaitSettings};
use crate::display::Bars;
use crate::exit::Failure;
use crate::inputs::parse_inputs;
use crate::interrupt;
use crate::output::{self, Mode, emit};

/// Runs one command.
pub fn run(client: &Client, command: Command, mode: Mode) -> Result<(), Failure> {
    // A failure of a command about one run is about that run, whatever the SDK's error
    // knew: the `--json` error document says which (never `null` for a known run).
    let about = match &command {
        Command::Wait(args) => Some(args.run_id.clone()),
        Command::Get { run_id } | Command::Cancel { run_id } | Command::Download { run_id, .. } => {
            Some(run_id.clone())
        }
        _ => None,
    };
    run_command(client, command, mode).map_err(|mut failure| {
        failure.run_id = failure.run_id.or(about);
        failure
    })
}

fn run_command(client: &Client, command: Command, mode: Mode) -> Result<(), Failure> {
    match command {
        Command::Health => {
            let health = client.health()?;
            emit(mode, &json!({"containers": health}), || {
                if mode == Mode::Quiet {
                    return Vec::new();
                }
                health
                    .iter()
                    .map(|c| format!("{}\t{}", c.container, c.status))
                    .collect()
            })
        }
        Command::Queue => {
            let queue = client.queue()?;
            emit(mode, &json!({"containers": queue}), || {
                if mode == Mode::Quiet {
                    return Vec::new();
                }
                queue
                    .iter()
                    .map(|c| {
                        format!(
                            "{}\t{} running\t{} pending",
                            c.container,
                            c.queue.queue_running.len(),
                            c.queue.queue_pending.len()
                        )
                    })
                    .collect()
            })
        }
        Command::Run(args) => run_workflow(client, args, mode),
        Command::Wait(args) => {
            if !args.wait.no_download {
                usable_dir(&args.wait.output_dir)?;
            }
            let bars = Bars::new(mode == Mode::Human);
            remember(&args.run_id, &args.wait);
            let result = client.wait_for_run(&args.run_id, &wait_options(&args.wait, &bars, mode));
            finish_wait(client, result, &args.wait, &bars, mode)
        }
        Command::Get { run_id } => {
            let run = client.run(&run_id)?;
            emit(mode, &run_doc(&run), || {
                if mode == Mode::Quiet {
                    return Vec::new();
                }
                let mut lines = vec![
                    format!("run       {}", run.id.as_deref().unwrap_or(&run_id)),
                    format!("status    {}", run.status),
                    format!("workflow  {}", run.workflow_id.as_deref().unwrap_or("-")),
                    format!("created   {}", run.created_at.as_deref().unwrap_or("-")),
                ];
                if let Some(done) = &run.completed_at {
                    lines.push(format!("completed {done}"));
                }
                for name in &run.output_names {
                    lines.push(format!("output    {name}"));
                }
                lines
            })
        }
        Command::Cancel { run_id } => {
            let message = match client.cancel_run(&run_id) {
                Ok(message) => format!("run {run_id}: {message}"),
                // Refused: a run that has ended already (cancelled twice, say) is what the
                // user wanted, said as such; anything else is the error.
                Err(e) if e.status() == Some(400) => match client.run(&run_id) {
                    Ok(run) if run.status.is_finished() => {
                        format!("run {run_id} is already {}: nothing to cancel", run.status)
                    }
                    _ => return Err(e.into()),
                },
                Err(e) => return Err(e.into()),
            };
            let doc = json!({"run_id": run_id, "message": message});
            emit(mode, &doc, || match mode {
                Mode::Quiet => Vec::new(),
                _ => vec![message.clone()],
            })
        }
        Command::Output { name } => {
            let out = client.output(&name).map_err(|e| {
                let mut failure = Failure::from(e);
                if failure.code == crate::exit::EXIT_NOT_FOUND {
                    failure.hint = Some(
                        "check the output's name: `flowscale get RUN_ID` lists a run's outputs"
                            .to_owned(),
                    );
                }
                failure
            })?;
            let url = out.map(|o| o.download_url);
            let doc = json!({"name": name, "ready": url.is_some(), "download_url": url});
            match url {
                Some(url) => emit(mode, &doc, || vec![url.clone()]),
                None => {
                    // Not a result: `url=$(flowscale output NAME)` must not take this for one.
                    if mode == Mode::Json {
                        emit(mode, &doc, Vec::new)?;
                    }
                    Err(Failure {
                        message: format!("output {name} is not ready yet"),
                        hint: Some(
                            "its run is still going: `flowscale wait RUN_ID` waits for it"
                                .to_owned(),
                        ),
                        run_id: None,
                        code: crate::exit::EXIT_NOT_READY,
                        result_printed: true,
                        status: None,
                    })
                }
            }
        }
        Command::Download {
            run_id,
            output_dir,
            saving,
            ..
        } => {
            usable_dir(&output_dir)?;
            let bars = Bars::new(mode == Mode::Human);
            let quiet = bars.clone();
            interrupt::silence_with(move || quiet.silence());
            // Interrupted, the line that resumes it (bytes saved so far are kept).
            let again = crate::resume::download_line(&run_id, &output_dir, saving.overwrite);
            interrupt::set_resume(
                Some(&run_id),
                format!("the download stopped; its bytes so far are kept: resume with: {again}"),
            );
            let options = save_options(&bars, mode, Some(&run_id), &saving);
            let saved = client.download_run_outputs(&run_id, &output_dir, &options)?;
            interrupt::clear_resume();
            bars.finish();
            let doc = json!({"run_id": run_id, "outputs": output::outputs_doc(&saved)});
            emit(mode, &doc, || saved_lines(&saved, mode))
        }
        Command::Runs(args) => list_runs(client, args, mode),
        Command::Workflows { workflow_id } => {
            crate::catalog::show(client, workflow_id.as_deref(), mode)
        }
        Command::Batch(args) => crate::batch_command::run(client, args, mode),
        Command::Lock {
            workflow_ids,
            check,
            strict,
            file,
        } => crate::lock::run(client, &workflow_ids, (check, strict), &file, mode),
        #[cfg(feature = "mock")]
        Command::Mock { .. } => unreachable!("handled before a client is built"),
        Command::Completions { .. }
        | Command::Schema
        | Command::Man { .. }
        | Command::Login
        | Command::Logout
        | Command::Profiles => {
            unreachable!("handled before a client is built")
        }
    }
}

/// `flowscale run`: submit, then (unless `--no-wait`) wait and save.
fn run_workflow(client: &Client, args: RunArgs, mode: Mode) -> Result<(), Failure> {
    let bars = Bars::new(mode == Mode::Human);
    let quiet = bars.clone();
    interrupt::silence_with(move || quiet.silence());
    // Until the submission goes out, a signal leaves with nothing sent.
    interrupt::set_resume(None, "nothing was submitted: no run was started".to_owned());
    let mut inputs = parse_inputs(&args.inputs)?;
    if !args.no_check {
        bars.status("reading the pod's workflow catalog");
    }
    if !args.no_check
        && let Some(workflow) = crate::catalog::entry(client, &args.workflow_id)?
    {
        crate::catalog::check_files(&workflow, &args.inputs)?;
        crate::catalog::check(&workflow, &[(None, &inputs)], mode)?;
    }
    // Checked (and made) once the run would be accepted, before it is paid for: a refused
    // run leaves no folder behind.
    if !args.no_wait && !args.wait.no_download {
        usable_dir(&args.wait.output_dir)?;
    }
    bars.status("submitting the run");
    interrupt::clear_resume();
    let upload = bars.clone();
    // What a signal finds: before the upload went out whole it stops it (no run, nothing
    // paid); after, a run may exist and is looked for.
    let handle = flowscale::SubmissionHandle::new();
    inputs = inputs.on_progress(move |p| upload.upload(p)).track(&handle);
    if let Some(group) = &args.group {
        inputs = inputs.group_id(group.as_str());
    }
    if args.no_wait {
        let wait = args.wait.clone();
        interrupt::uploading(&handle, client, move |id| {
            crate::resume::line(id, false, &wait)
        });
        let exec = client.execute_workflow(&args.workflow_id, inputs);
        if let Ok(exec) = &exec {
            remember(&exec.run_id, &args.wait);
            if mode == Mode::Events {
                crate::events::run_event(&RunEvent::Submitted {
                    run_id: exec.run_id.clone(),
                });
            } else if interrupt::pressed() && mode != Mode::Json {
                // Interrupted while the submission was on the wire: the run exists.
                output::line(&exec.run_id);
            }
        }
        interrupt::answered();
        let exec = exec?;
        bars.finish();
        let mut doc = json!({"run_id": exec.run_id, "workflow_id": exec.workflow_id});
        if let Some(why) = &exec.recovery {
            recovered(&exec.run_id, why, &bars);
            doc["recovered"] = json!(why);
        }
        return emit(mode, &doc, || match mode {
            Mode::Quiet => vec![exec.run_id.clone()],
            _ => vec![
                format!("run {} started", exec.run_id),
                format!("wait for it with: flowscale wait {}", exec.run_id),
            ],
        });
    }
    let options = wait_options(&args.wait, &bars, mode);
    // A Ctrl-C from here until the run id is printed stops the upload if it has not gone out
    // whole, else looks for the run.
    let wait = args.wait.clone();
    interrupt::uploading(&handle, client, move |id| {
        crate::resume::line(id, false, &wait)
    });
    let result = client.execute_workflow_and_wait(&args.workflow_id, inputs, &options);
    interrupt::answered();
    finish_wait(client, result, &args.wait, &bars, mode)
}

/// Why the run of this command's submission is its own, when its answer was lost and the
/// run was found (for `--json`'s `recovered`).
static RECOVERY: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Says on stderr that the submission's answer was lost and its run found, and why it is
/// this run; kept for the `--json` document.
fn recovered(run_id: &str, why: &str, bars: &Bars) {
    let line = format!(
        "note: the answer to the submission was lost; run {run_id} was found as its run: {why}"
    );
    bars.note(&line);
    if let Ok(mut kept) = RECOVERY.lock() {
        *kept = Some(why.to_owned());
    }
}

/// Wait options that drive the spinner and print the run id as soon as it is known.
fn wait_options(settings: &WaitSettings, bars: &Bars, mode: Mode) -> WaitOptions {
    let bars = bars.clone();
    let resume_with = settings.clone();
    WaitOptions::new()
        .timeout(settings.timeout)
        .poll_interval(settings.poll)
        .on_event(move |event| {
            // A lost answer's run, found for certain: said out loud, whatever the mode.
            if let RunEvent::Recovered { run_id, why } = event {
                recovered(run_id, why, &bars);
            }
            if let RunEvent::Submitted { run_id } = event {
                remember(run_id, &resume_with);
                // The id first, so that the user can always resume.
                match mode {
                    Mode::Human => bars.println(&format!("run {run_id}")),
                    Mode::Quiet => output::line(run_id),
                    Mode::Json | Mode::Events => {}
                }
                // The id is out: a Ctrl-C pressed meanwhile ends the tool now.
                interrupt::answered();
            }
            match mode {
                Mode::Events => crate::events::run_event(event),
                _ => bars.event(event),
            }
        })
}

/// After a wait: save the outputs (unless `--no-download`) and print the result.
fn finish_wait(
    client: &Client,
    result: flowscale::Result<WorkflowResult>,
    settings: &WaitSettings,
    bars: &Bars,
    mode: Mode,
) -> Result<(), Failure> {
    let result = match result {
        Ok(result) => result,
        Err(e) => {
            bars.finish();
            let run_id = e.run_id().map(str::to_owned);
            let mut failure = Failure::from(e);
            // Not found before any run: the workflow, not a run.
            if failure.code == crate::exit::EXIT_NOT_FOUND && run_id.is_none() {
                failure.hint = Some(
                    "check the workflow id: `flowscale workflows` lists the pod's workflows"
                        .to_owned(),
                );
            }
            if let (Some(id), Some(hint)) = (&run_id, &failure.hint) {
                failure.hint = Some(crate::resume::fill(hint, id, false, settings));
            }
            return Err(failure);
        }
    };
    let saved = if settings.no_download {
        Vec::new()
    } else {
        let id = result.run_id.clone();
        // From here on the run is complete: only its outputs are left to save.
        let download = crate::resume::line(&id, true, settings);
        interrupt::set_resume(
            Some(&id),
            format!("run {id} is complete; save its outputs with: {download}"),
        );
        let options = save_options(bars, mode, Some(&id), &settings.saving);
        client
            .download_outputs(&result, &settings.output_dir, &options)
            .map_err(|e| {
                bars.finish();
                let full = crate::exit::disk_full(&e);
                let mut failure = Failure::from(e);
                failure.run_id = Some(id.clone());
                failure.hint = Some(match full {
                    // Into a full disk, the same -o would fail the same way.
                    true => format!(
                        "the disk is full: free space, then save the outputs of the completed \
                         run with `{download}` (or into another folder: `flowscale download {id} \
                         -o OTHER_DIR`)"
                    ),
                    false => format!(
                        "the run is complete: save its outputs with `{download}` (bytes already \
                         saved are resumed)"
                    ),
                });
                failure
            })?
    };
    bars.finish();
    interrupt::clear_resume();
    let outputs: Vec<Value> = result
        .outputs
        .iter()
        .map(|out| {
            let file = saved.iter().find(|s| s.name == out.name);
            output::output_doc(&out.name, Some(&out.download_url), file)
        })
        .collect();
    let mut doc = json!({
        "run_id": result.run_id,
        "workflow_id": result.workflow_id,
        "status": "completed",
        "outputs": outputs,
    });
    if let Some(why) = RECOVERY.lock().ok().and_then(|r| r.clone()) {
        doc["recovered"] = json!(why);
    }
    emit(mode, &doc, || {
        if settings.no_download {
            let links = result.outputs.iter();
            match mode {
                Mode::Quiet => links.map(|o| o.download_url.clone()).collect(),
                _ => links
                    .map(|o| format!("{}\t{}", o.name, o.download_url))
                    .collect(),
            }
        } else {
            saved_lines(&saved, mode)
        }
    })
}

fn save_options(
    bars: &Bars,
    mode: Mode,
    run_id: Option<&str>,
    saving: &SaveSettings,
) -> DownloadOptions {
    let bars = bars.clone();
    let run_id = run_id.map(str::to_owned);
    let mut options = DownloadOptions::new()
        .skip_existing(saving.skip_existing)
        .overwrite(saving.overwrite);
    if mode == Mode::Events {
        // Each file as it lands, not all at the end.
        let run_id = run_id.clone();
        options = options.on_saved(move |s| crate::events::saved(run_id.as_deref(), s));
    }
    options.on_progress(move |p| match mode {
        Mode::Events => crate::events::progress(run_id.as_deref(), p),
        _ => bars.download(p),
    })
}

fn saved_lines(saved: &[SavedOutput], mode: Mode) -> Vec<String> {
    saved
        .iter()
        .map(|s| match mode {
            Mode::Quiet => s.path.display().to_string(),
            _ => format!("saved {} ({} bytes)", s.path.display(), s.bytes),
        })
        .collect()
}

/// `flowscale runs`: one page, or every page with `--all`, as a compact table.
fn list_runs(client: &Client, args: RunsArgs, mode: Mode) -> Result<(), Failure> {
    let grouped = args.group.is_some();
    list_runs_of(client, args, mode).map_err(|failure| match failure.message.contains("group_id") {
        // A pod that follows FlowScale's OpenAPI file to the letter lists runs only within a
        // group (422 "group_id: Field required"): say how to ask it.
        true if !grouped && failure.message.contains("422") => Failure::usage(
            format!(
                "this pod lists runs only within a group ({})",
                failure.message
            ),
            "give --group GROUP_ID (the group the runs were filed under with `run --group` or \
             `batch --group`); `flowscale get RUN_ID` shows one run of any group",
        ),
        _ => failure,
    })
}

fn list_runs_of(client: &Client, args: RunsArgs, mode: Mode) -> Result<(), Failure> {
    let mut query = RunsQuery::new()
        .sort_by(args.sort)
        .sort_order(args.order())
        .page(args.page)
        .page_size(args.page_size);
    if let Some(g) = &args.group {
        query = query.group_id(g.clone());
    }
    let (runs, meta) = if let Some(since) = args.since {
        // Newest first by creation: the walk ends at the first run older than `since`.
        let newest_first = args.sort == SortBy::CreatedAt && !args.asc;
        let mut kept = Vec::new();
        for run in client.runs(query.page(1)) {
            let run = run?;
            let created = run
                .created_at
                .as_deref()
                .and_then(|at| humantime::parse_rfc3339_weak(at).ok());
            match created {
                Some(at) if at < since && newest_first => break,
                Some(at) if at < since => {}
                _ => kept.push(run),
            }
        }
        (kept, None)
    } else if args.all {
        let runs = client.runs(query).collect::<flowscale::Result<Vec<_>>>()?;
        (runs, None)
    } else {
        let page = client.runs_page(&query)?;
        (page.runs, page.meta)
    };
    // A page past the last is a mistake, not an empty success.
    let last_page = meta.as_ref().and_then(|m| m.total_pages);
    if runs.is_empty()
        && let Some(last) = last_page
        && args.page > last.max(1)
    {
        return Err(Failure::usage(
            format!("page {} is past the last page of runs ({last})", args.page),
            format!("give --page 1 to {}, or --all for every run", last.max(1)),
        ));
    }
    let docs: Vec<Value> = runs.iter().map(run_doc).collect();
    // `meta` only where a page was asked for (`--all` and `--since` walk every page).
    let doc = match &meta {
        Some(meta) => json!({"runs": docs, "meta": meta}),
        None => json!({"runs": docs}),
    };
    emit(mode, &doc, || {
        if mode == Mode::Quiet {
            // A run listed without its id (as FlowScale's OpenAPI file has runs) shows `-`.
            return runs
                .iter()
                .map(|r| r.id.clone().unwrap_or_else(|| "-".to_owned()))
                .collect();
        }
        // Fits the terminal (a run id cut to 8 characters under 100 columns, enough to
        // find it), measured in cells: long workflow ids are cut, never break the table.
        let width = crate::display::stdout_width().map_or(100, usize::from);
        let (run_w, workflow_w) = match width {
            w if w >= 100 => (36, 20),
            w => (8, w.saturating_sub(8 + 10 + 20 + 6).clamp(6, 20)),
        };
        let cell = crate::display::cell;
        let mut lines = vec![format!(
            "{}  {}  {}  CREATED",
            cell("RUN", run_w),
            cell("STATUS", 10),
            cell("WORKFLOW", workflow_w)
        )];
        lines.extend(runs.iter().map(|r| {
            let id: String = r.id.as_deref().unwrap_or("-").chars().take(run_w).collect();
            format!(
                "{}  {}  {}  {}",
                cell(&id, run_w),
                cell(r.status.as_str(), 10),
                cell(r.workflow_id.as_deref().unwrap_or("-"), workflow_w),
                r.created_at.as_deref().unwrap_or("-")
            )
        }));
        if let Some(total) = meta.as_ref().and_then(|m| m.total_count) {
            lines.push(format!(
                "page {} of {} ({total} in all)",
                meta.as_ref().and_then(|m| m.page).unwrap_or(args.page),
                meta.as_ref().and_then(|m| m.total_pages).unwrap_or(1)
            ));
        }
        lines
    })
}

/// Notes the run being waited for, for the Ctrl-C handler.
fn remember(run_id: &str, wait: &WaitSettings) {
    interrupt::set_resume(
        Some(run_id),
        format!(
            "run {run_id} goes on; resume with: {} (or stop it: flowscale cancel {run_id})",
            crate::resume::line(run_id, false, wait)
        ),
    );
}

/// An output directory the outputs can be saved into, checked (and made) before a run is
/// submitted and paid for: a file in its place is a usage error, not a failure after the run.
pub fn usable_dir(dir: &std::path::Path) -> Result<(), Failure> {
    let refused = |why: String| {
        Failure::usage(
            format!("cannot save into {}: {why}", dir.display()),
            "give -o a directory (it is made if it does not exist)",
        )
    };
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Err(refused("it is a file, not a directory".to_owned())),
        Ok(_) => Ok(()),
        Err(_) => std::fs::create_dir_all(dir).map_err(|e| refused(e.to_string())),
    }
}

/// A run as the tool's documents name it: `run_id`, as every other document does, where the
/// server's answer (and the SDK's `Run`, which keeps the wire's name) says `_id`.
fn run_doc(run: &flowscale::Run) -> Value {
    let mut doc = serde_json::to_value(run).unwrap_or(Value::Null);
    if let Some(fields) = doc.as_object_mut() {
        let id = fields.remove("_id").unwrap_or(Value::Null);
        fields.insert("run_id".to_owned(), id);
        // Outputs in the tool's one shape (`run`, `wait`, `download`, `batch` alike): the
        // output's name (the file's, less its extension) and its link.
        let outputs: Vec<Value> = run
            .outputs
            .iter()
            .map(|o| {
                let name = o
                    .filename
                    .rsplit_once('.')
                    .map_or(o.filename.as_str(), |(n, _)| n);
                output::output_doc(name, o.url.as_deref(), None)
            })
            .collect();
        fields.insert("outputs".to_owned(), Value::Array(outputs));
        // Each input by its name (FlowScale calls it `path`).
        let inputs: Vec<Value> = run
            .inputs
            .iter()
            .map(|i| json!({"name": i.path, "value": i.value, "url": i.url}))
            .collect();
        fields.insert("inputs".to_owned(), Value::Array(inputs));
    }
    doc
}
