//! `flowscale lock`: writes `flowscale.lock` from the pod's catalog, or (`--check`) lists
//! every way the pod differs from it and exits 9 if it does. The comparison is
//! `flowscale::lock::changes`; this file reads the catalog and the file, and prints.

use std::path::Path;

use flowscale::Client;
use flowscale::lock::{self, Lock};
use serde_json::json;

use crate::exit::{EXIT_DRIFT, EXIT_FAILED, EXIT_NOT_FOUND, Failure};
use crate::output::{Mode, emit};

/// `flowscale lock [WF...] [--check [--strict]] [--file FILE]`; `check` is (`--check`,
/// `--strict`).
pub fn run(
    client: &Client,
    ids: &[String],
    (check, strict): (bool, bool),
    file: &Path,
    mode: Mode,
) -> Result<(), Failure> {
    // Refused before anything is asked of the pod.
    if file.is_dir() {
        return Err(Failure::usage(
            format!("{} is a directory", file.display()),
            "give --file the path of the lock file, such as DIR/flowscale.lock",
        ));
    }
    match check {
        false => write(&pod_lock(client, ids)?, file, mode),
        true => {
            let locked = read(file)?;
            compare(&locked, pod_lock(client, &[])?, ids, file, strict, mode)
        }
    }
}

/// The pod's catalog as a lock: every workflow, or those named (each must be there).
fn pod_lock(client: &Client, ids: &[String]) -> Result<Lock, Failure> {
    let Some(catalog) = client.workflows()? else {
        return Err(failure(
            EXIT_FAILED,
            "this pod has no workflow catalog (GET /api/v1/comfy/workflows answers 404): \
             there is nothing to lock",
            None,
        ));
    };
    if ids.is_empty() {
        return Ok(Lock::from_catalog(&catalog, true));
    }
    let mut chosen = Vec::new();
    for id in ids {
        match catalog.iter().find(|w| &w.id == id) {
            Some(w) => chosen.push(w),
            None => {
                let known: Vec<&str> = catalog.iter().map(|w| w.id.as_str()).collect();
                return Err(failure(
                    EXIT_NOT_FOUND,
                    format!("workflow `{id}` is not in this pod's catalog"),
                    Some(format!("its workflows: {}", known.join(", "))),
                ));
            }
        }
    }
    Ok(Lock::from_catalog(chosen, false))
}

fn write(lock: &Lock, file: &Path, mode: Mode) -> Result<(), Failure> {
    crate::write_file::write_whole(file, lock.to_toml().as_bytes(), false).map_err(|e| {
        failure(
            EXIT_FAILED,
            format!("cannot write {}: {e}", file.display()),
            None,
        )
    })?;
    let ids: Vec<&str> = lock.workflows.iter().map(|w| w.id.as_str()).collect();
    let doc = json!({"file": file, "workflows": ids});
    emit(mode, &doc, || match mode {
        Mode::Quiet => Vec::new(),
        _ => vec![format!(
            "wrote {}: {} workflow(s): {}",
            file.display(),
            ids.len(),
            ids.join(", ")
        )],
    })
}

fn read(file: &Path) -> Result<Lock, Failure> {
    lock::read(file).map_err(|e| {
        let missing = matches!(&e, flowscale::Error::Io { source, .. }
            if source.kind() == std::io::ErrorKind::NotFound);
        let hint = missing.then(|| "write it first with `flowscale lock`".to_owned());
        let message = match missing {
            true => format!("cannot read {}: it does not exist", file.display()),
            false => e.to_string(),
        };
        // No lock to check against is a mistake in how the check was asked for (exit 2).
        let code = match missing {
            true => crate::exit::EXIT_USAGE,
            false => EXIT_FAILED,
        };
        failure(code, message, hint)
    })
}

/// Prints every difference (a result: stdout, or `--json`'s `changes`), then fails with
/// exit 9 if there is one that can break code written for the lock (any, with `strict`): a
/// workflow only added to the pod breaks nothing.
fn compare(
    locked: &Lock,
    mut pod: Lock,
    ids: &[String],
    file: &Path,
    strict: bool,
    mode: Mode,
) -> Result<(), Failure> {
    let mut locked = locked.clone();
    if !ids.is_empty() {
        // Only the workflows named are compared: each must be in the lock.
        if let Some(id) = ids.iter().find(|id| locked.workflow(id).is_none()) {
            return Err(Failure::usage(
                format!("workflow `{id}` is not in {}", file.display()),
                "lock it first with `flowscale lock`, or check the workflows the lock holds",
            ));
        }
        locked.workflows.retain(|w| ids.contains(&w.id));
        locked.complete = false;
        pod.workflows.retain(|w| ids.contains(&w.id));
    }
    let changes = lock::changes(&locked, &pod);
    let failing = changes
        .iter()
        .filter(|c| strict || !matches!(c, lock::Change::WorkflowAdded { .. }))
        .count();
    let doc = json!({"file": file, "matches": changes.is_empty(), "breaking": failing,
                     "changes": changes});
    emit(mode, &doc, || match mode {
        Mode::Quiet => Vec::new(),
        _ if changes.is_empty() => vec![format!("the pod matches {}", file.display())],
        _ if failing == 0 => {
            let mut lines = vec![format!(
                "the pod matches {} for every workflow it locks, and runs more:",
                file.display()
            )];
            lines.extend(changes.iter().map(ToString::to_string));
            lines.push(
                "(lock them with `flowscale lock`; --strict fails on workflows added)".to_owned(),
            );
            lines
        }
        _ => changes.iter().map(ToString::to_string).collect(),
    })?;
    match failing {
        0 => Ok(()),
        n => Err(Failure {
            message: format!("the pod differs from {} in {n} way(s)", file.display()),
            hint: Some(
                "if the change is meant, update the code that calls these workflows and run \
                 `flowscale lock` again"
                    .to_owned(),
            ),
            run_id: None,
            code: EXIT_DRIFT,
            result_printed: true,
            status: None,
        }),
    }
}

fn failure(code: i32, message: impl Into<String>, hint: Option<String>) -> Failure {
    Failure {
        message: message.into(),
        hint,
        run_id: None,
        code,
        result_printed: false,
        status: None,
    }
}
