//! `flowscale batch`: jobs from a JSON-lines file or a folder, run with the SDK's batch
//! runner (which keeps the manifest that makes a re-run resume), an overall bar, a
//! summary table.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use flowscale::{
    Batch, BatchEvent, Client, DownloadOptions, Input, Inputs, Job, JobStatus, WaitOptions,
};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use crate::args::BatchArgs;
use crate::exit::{EXIT_INTERRUPTED, EXIT_RUN_FAILED, EXIT_TIMEOUT, EXIT_UNCONFIRMED, Failure};
use crate::inputs::add_inputs;
use crate::interrupt;
use crate::output::{Mode, emit};

/// Runs the batch and prints its summary; fails (exit 5) when a job may have a run that
/// was not found for certain or the directory is another process's, (exit 8) when a job
/// failed, (exit 3) when a job needs another run of the command (its run still going, or
/// not started), (exit 130) when a signal stopped it.
pub fn run(client: &Client, args: BatchArgs, mode: Mode) -> Result<(), Failure> {
    let workflow = match args.no_check {
        true => None,
        false => crate::catalog::entry(client, &args.workflow_id)?,
    };
    let mut jobs = match (&args.jobs, &args.each) {
        (Some(file), _) => jobs_from_file(file)?,
        (None, Some(each)) => jobs_from_folder(each, workflow.as_ref())?,
        (None, None) => unreachable!("clap requires --jobs or --each"),
    };
    for job in &mut jobs {
        job.inputs = add_inputs(std::mem::take(&mut job.inputs), &args.inputs)?;
    }
    if let Some(workflow) = &workflow {
        crate::catalog::check_files(workflow, &args.inputs)?;
        let each: Vec<_> = jobs
            .iter()
            .map(|j| (Some(j.name.as_str()), &j.inputs))
            .collect();
        crate::catalog::check(workflow, &each, mode)?;
    }
    let total = jobs.len() as u64;

    let target = if mode == Mode::Human && !crate::output::dumb_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bars = MultiProgress::with_draw_target(target);
    let overall = bars.add(
        ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} jobs")
                .expect("a valid template")
                .progress_chars("=> "),
        ),
    );
    overall.set_message("batch");
    let (lines, bar) = (bars.clone(), overall.clone());
    // For people, on a stderr that cannot redraw (a CI log, a pipe, TERM=dumb): a line per
    // change of state of each job, with the time since the start, instead of the bar.
    let redraws =
        std::io::IsTerminal::is_terminal(&std::io::stderr()) && !crate::output::dumb_terminal();
    let started = (mode == Mode::Human && !redraws).then(std::time::Instant::now);
    let mut batch = Batch::new(&args.workflow_id, &args.output_dir)
        .jobs(jobs)
        .concurrency(args.concurrency)
        .retry_failed(args.retry_failed)
        .resubmit_unknown(args.resubmit_unknown)
        .wait_for_directory(args.wait_for_directory)
        .wait_options(
            WaitOptions::new()
                .timeout(args.timeout)
                .poll_interval(args.poll),
        )
        .download_options(match mode {
            // Each job's files as they come, as `run --events` has them (as they land:
            // `BatchEvent::Saved`, which names the job and run).
            Mode::Events => {
                DownloadOptions::new().on_progress(|p| crate::events::progress(None, p))
            }
            _ => DownloadOptions::new(),
        })
        .on_event(move |event| {
            if mode == Mode::Events {
                crate::events::batch_event(event);
            }
            let counts = match event {
                BatchEvent::Submitted { counts, .. }
                | BatchEvent::Attached { counts, .. }
                | BatchEvent::Finished { counts, .. } => Some(*counts),
                _ => None,
            };
            if let Some(counts) = counts {
                bar.set_position((counts.done + counts.failed) as u64);
                bar.set_message(format!("{} running", counts.running));
            }
            // Jobs paid for anew while recorded ones no longer match (inputs or --group
            // changed): said before the first is sent, whatever the mode.
            let repaid = matches!(event, BatchEvent::Planned { new, unmatched, .. }
                if *new > 0 && *unmatched > 0);
            if let BatchEvent::Planned { .. } = event
                && !repaid
            {
                return;
            }
            if repaid
                || matches!(
                    event,
                    BatchEvent::SkippedLine { .. } | BatchEvent::DirectoryBusy { .. }
                )
            {
                // A warning, whatever the mode.
                match lines.is_hidden() {
                    true => crate::output::note(event),
                    false => {
                        let _ = lines.println(event.to_string());
                    }
                }
            } else if !lines.is_hidden() {
                let _ = lines.println(format!("  {event}"));
            } else if let Some(start) = started {
                let secs = start.elapsed().as_secs();
                crate::output::note(format_args!("[{:02}:{:02}] {event}", secs / 60, secs % 60));
            }
        });
    if let Some(group) = &args.group {
        batch = batch.group_id(group.clone());
    }
    for (job, run_id) in &args.attach {
        batch = batch.attach(job, run_id);
    }
    interrupt::set_resume(
        None,
        "recorded runs go on; run the same command again to resume".to_owned(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    interrupt::batch(stop.clone());
    let report = client.run_batch(batch.stop_on(stop)).map_err(|e| {
        let busy = matches!(e, flowscale::Error::Busy { .. });
        let mut failure = Failure::from(e);
        if busy {
            return failure;
        }
        failure.hint = Some(
            "fix the cause, then run the same command again: runs submitted so far are \
             listed above and in the manifest"
                .to_owned(),
        );
        failure
    })?;
    overall.finish_and_clear();

    // The SDK's report, with each job's files as `outputs` in the tool's one shape.
    let mut doc = serde_json::to_value(&report).unwrap_or_default();
    if let Some(jobs) = doc.get_mut("jobs").and_then(|j| j.as_array_mut()) {
        for (job, outcome) in jobs.iter_mut().zip(&report.jobs) {
            if let Some(fields) = job.as_object_mut() {
                fields.remove("saved");
                fields.insert("outputs".into(), crate::output::outputs_doc(&outcome.saved));
            }
        }
    }
    emit(mode, &doc, || {
        if mode == Mode::Quiet {
            // What -q prints everywhere: run ids and saved paths (each job's run, then its
            // files).
            return (report.jobs.iter())
                .flat_map(|j| {
                    let paths = j.saved.iter().map(|s| s.path.display().to_string());
                    j.run_id.clone().into_iter().chain(paths)
                })
                .collect();
        }
        // The table fits 100 columns, or the terminal when it is narrower (a run id is
        // then cut to its first 8 characters, enough to find it in `flowscale runs`): what
        // went wrong is listed below it, one job a line.
        let width = crate::display::stdout_width()
            .map_or(100, usize::from)
            .min(100);
        let (job_w, status_w, run_w) = match width {
            w if w >= 100 => (28, 11, 36),
            w => ((w.saturating_sub(30)).clamp(8, 28), 9, 8),
        };
        let cell = crate::display::cell;
        let mut lines = vec![format!(
            "{}  {}  {}  FILES",
            cell("JOB", job_w),
            cell("STATUS", status_w),
            cell("RUN", run_w)
        )];
        lines.extend(report.jobs.iter().map(|j| {
            let files = match j.status {
                JobStatus::Completed if j.reused && width >= 100 => {
                    format!("{} (already done)", j.saved.len())
                }
                JobStatus::Completed => j.saved.len().to_string(),
                _ => "-".to_owned(),
            };
            let run: String = j
                .run_id
                .as_deref()
                .unwrap_or("-")
                .chars()
                .take(run_w)
                .collect();
            format!(
                "{}  {}  {}  {files}",
                cell(&j.name, job_w),
                cell(&j.status.to_string(), status_w),
                cell(&run, run_w)
            )
        }));
        for j in &report.jobs {
            if let Some(e) = j
                .error
                .as_ref()
                .filter(|_| j.status != JobStatus::Completed)
            {
                lines.push(format!("{}: {}", j.name, e.replace('\n', " ")));
            }
        }
        let unknown = match report.count(JobStatus::Unknown) {
            0 => String::new(),
            n => format!(", {n} unknown"),
        };
        lines.push(format!(
            "{} completed, {} failed, {} still running, {} not started{unknown}; manifest: {}",
            report.count(JobStatus::Completed),
            report.count(JobStatus::Failed),
            report.count(JobStatus::Submitted),
            report.count(JobStatus::NotStarted),
            args.output_dir
                .join(flowscale::constants::MANIFEST_FILE)
                .display()
        ));
        lines
    })?;

    let names = |wanted: &[JobStatus]| -> Vec<&str> {
        report
            .jobs
            .iter()
            .filter(|j| wanted.contains(&j.status))
            .map(|j| j.name.as_str())
            .collect()
    };
    let (failed, pending) = (
        names(&[JobStatus::Failed]),
        names(&[JobStatus::Submitted, JobStatus::NotStarted]),
    );
    let unknown = names(&[JobStatus::Unknown]);
    let total = report.jobs.len();
    // A run that may exist outweighs the rest: nothing may be sent before someone looks.
    if !unknown.is_empty() {
        return Err(Failure {
            message: format!(
                "{} of {total} jobs may have a run that could not be found for certain: {}",
                unknown.len(),
                list(&unknown)
            ),
            hint: Some(
                "look for their runs (`flowscale runs --since TIME`, as each job's line says), \
                 then run the same command with --attach JOB=RUN_ID for each found, or with \
                 --resubmit-unknown for those that have none (they are paid for again)"
                    .to_owned(),
            ),
            run_id: None,
            code: EXIT_UNCONFIRMED,
            result_printed: true,
            status: None,
        });
    }
    // Interrupted: what may have been paid (above) is said first, then what is left.
    if interrupt::pressed() {
        return Err(Failure {
            message: format!(
                "interrupted: {} of {total} jobs are not done yet (their runs recorded, or not \
                 started)",
                pending.len()
            ),
            hint: Some(
                "run the same command again to resume: recorded runs are attached to (not paid \
                 again), the rest submitted"
                    .to_owned(),
            ),
            run_id: None,
            code: EXIT_INTERRUPTED,
            result_printed: true,
            status: None,
        });
    }
    if !failed.is_empty() {
        let mut message = format!(
            "{} of {total} jobs failed on FlowScale: {}",
            failed.len(),
            list(&failed)
        );
        if !pending.is_empty() {
            message.push_str(&format!(
                "; {} need another run: {}",
                pending.len(),
                list(&pending)
            ));
        }
        return Err(Failure {
            message,
            hint: Some(
                "add --retry-failed to submit the failed jobs again (they are paid for again)"
                    .to_owned(),
            ),
            run_id: None,
            code: EXIT_RUN_FAILED,
            result_printed: true,
            status: None,
        });
    }
    if !pending.is_empty() {
        return Err(Failure {
            message: format!(
                "{} of {total} jobs need another run (still running, or not started): {}",
                pending.len(),
                list(&pending)
            ),
            hint: Some(
                "run the same command again: recorded runs are attached to, nothing is paid twice"
                    .to_owned(),
            ),
            run_id: None,
            code: EXIT_TIMEOUT,
            result_printed: true,
            status: None,
        });
    }
    Ok(())
}

/// Job names for a message: the first few, then how many more.
fn list(names: &[&str]) -> String {
    const SHOWN: usize = 5;
    let mut text = names[..names.len().min(SHOWN)].join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

/// What a jobs file holds, for its errors.
const JOBS_FILE_HINT: &str = "each line must be a JSON object of inputs, like {\"text_1\": \"a cat\", \"image_1\": \"@cat.png\"}";

/// One job per line of a JSON-lines file: an object of inputs; `"@path"` is a file
/// relative to the file, `"@@text"` the text `@text`. A `"name"` string names the job
/// (else it is known by its inputs, `job-<hash>`): the manifest knows a job by its name and
/// inputs, so two named lines with the same inputs are two runs. Every bad line is listed
/// at once, before anything is sent.
fn jobs_from_file(file: &Path) -> Result<Vec<Job>, Failure> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        Failure::usage(
            format!("cannot read the jobs file {}: {e}", file.display()),
            "give a JSON-lines file, one object of inputs per line",
        )
    })?;
    let base = file.parent().unwrap_or(Path::new("."));
    let mut jobs = Vec::new();
    let mut names = std::collections::HashMap::new();
    // Every bad line, said at once: a file is fixed in one go, not one line per run.
    let mut bad = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut complain =
            |why: String| bad.push(format!("{} line {}: {why}", file.display(), n + 1));
        let mut object = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(object)) => object,
            Ok(_) => {
                complain("not a JSON object".into());
                continue;
            }
            Err(e) => {
                complain(e.to_string());
                continue;
            }
        };
        let (job, named) = match object.remove("name") {
            Some(Value::String(name)) if !name.is_empty() => (name, true),
            // Known by its inputs, not its place: deleting or adding a line never renames
            // (and so never pays again for) the unnamed jobs below it.
            None => (unnamed_job(&object), false),
            Some(_) => {
                complain("\"name\" must be a non-empty string (the job's name)".into());
                continue;
            }
        };
        if let Some(first) = names.insert(job.clone(), n + 1) {
            complain(match named {
                true => format!("a job named `{job}` comes earlier in the file (line {first})"),
                false => format!(
                    "it has the same inputs as line {first}, and neither has a name: give each a \
                     \"name\" (several samples of one prompt are several jobs)"
                ),
            });
            continue;
        }
        let mut inputs = Inputs::new();
        for (name, value) in object {
            inputs = match value {
                Value::String(s) if s.starts_with("@@") => inputs.text(name, &s[1..]),
                Value::String(s) if s.starts_with('@') => {
                    let path = base.join(&s[1..]);
                    match std::fs::metadata(&path) {
                        Ok(meta) if meta.is_file() => {}
                        Ok(_) => complain(format!("`{name}`: {} is not a file", path.display())),
                        Err(e) => {
                            complain(format!("`{name}`: cannot read {}: {e}", path.display()))
                        }
                    }
                    inputs.file(name, path)
                }
                other => inputs.set(name, Input::from(other)),
            };
        }
        jobs.push(Job::new(job, inputs));
    }
    if !bad.is_empty() {
        let count = bad.len();
        return Err(Failure::usage(
            match count {
                1 => bad.remove(0),
                _ => format!(
                    "{count} lines of the jobs file are wrong:\n  {}",
                    bad.join("\n  ")
                ),
            },
            JOBS_FILE_HINT,
        ));
    }
    // As a folder with no input files: nothing to run is a mistake, not a success.
    if jobs.is_empty() {
        return Err(Failure::usage(
            format!("the jobs file {} holds no job", file.display()),
            JOBS_FILE_HINT,
        ));
    }
    Ok(jobs)
}

/// The name of a job the jobs file does not name: `job-` and the start of the SHA-256 of its
/// inputs as JSON (keys sorted), so it stays the same wherever its line moves.
fn unnamed_job(inputs: &serde_json::Map<String, Value>) -> String {
    // Sorted here, whatever order serde_json's map keeps (a feature of another crate could
    // make it keep the file's): the same inputs are the same job.
    let sorted: std::collections::BTreeMap<&String, &Value> = inputs.iter().collect();
    let text = serde_json::to_string(&sorted).unwrap_or_default();
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let hex: String = digest.as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("job-{hex}")
}

/// One job per file of a folder (`NAME=DIR`) or per match of `NAME=DIR/*.ext`, in name
/// order; the job is named after its file. When the catalog gives `NAME` a media kind, only
/// files of that kind (by their first bytes, else their extension) are taken; the others
/// are listed on stderr as skipped.
fn jobs_from_folder(
    each: &str,
    workflow: Option<&flowscale::Workflow>,
) -> Result<Vec<Job>, Failure> {
    let Some((name, place)) = each
        .split_once('=')
        .filter(|(n, p)| !n.is_empty() && !p.is_empty())
    else {
        return Err(Failure::usage(
            format!("--each `{each}` is not NAME=DIR"),
            "write --each image_35728=photos/ or --each image_35728=photos/*.png",
        ));
    };
    let place = PathBuf::from(place);
    let (dir, pattern) = match place.file_name().and_then(|f| f.to_str()) {
        Some(last) if last.contains('*') => (
            place.parent().map_or(PathBuf::from("."), Path::to_path_buf),
            Some(last.to_owned()),
        ),
        _ => (place.clone(), None),
    };
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        Failure::usage(
            format!("cannot read the folder {}: {e}", dir.display()),
            "give --each NAME=DIR with a folder of input files",
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let file = p.file_name().and_then(|f| f.to_str()).unwrap_or_default();
            !file.starts_with('.') && pattern.as_deref().is_none_or(|pat| matches(pat, file))
        })
        .collect();
    files.sort();
    let wanted = workflow.and_then(|w| Some((w, w.inputs.iter().find(|i| i.name == name)?)));
    if let Some((workflow, input)) = wanted.filter(|(_, i)| i.kind.is_file()) {
        let listed = files.len();
        // The library's one kind check, file by file: the others are skipped, and said.
        files.retain(
            |path| match Inputs::new().file(name, path).check_media(workflow) {
                Ok(()) => true,
                Err(flowscale::Error::Input { reason, .. }) => {
                    crate::output::note(format_args!("skipped: {reason}"));
                    false
                }
                Err(e) => {
                    crate::output::note(format_args!("skipped: {e}"));
                    false
                }
            },
        );
        if files.is_empty() && listed > 0 {
            return Err(Failure::usage(
                format!(
                    "no {} files in {} for `{name}`",
                    input.kind,
                    place.display()
                ),
                "check the folder or the pattern; --no-check takes every file",
            ));
        }
    }
    if files.is_empty() {
        return Err(Failure::usage(
            format!("no input files in {}", place.display()),
            "check the folder or the pattern",
        ));
    }
    Ok(files
        .into_iter()
        .map(|path| {
            let job = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            Job::new(job, Inputs::new().file(name, path))
        })
        .collect())
}

/// A file-name pattern where `*` matches any run of characters.
fn matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == name;
    }
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn patterns_match_like_a_shell() {
        assert!(matches("*.png", "cat.png"));
        assert!(!matches("*.png", "cat.jpg"));
        assert!(matches("img_*_v*.png", "img_01_v2.png"));
        assert!(!matches("img_*_v*.png", "img_01.png"));
        assert!(matches("cat.png", "cat.png"));
        assert!(!matches("a*a", "a"));
    }
}
