//! The pod's workflow catalog: `flowscale workflows [ID]`, and the check of `-i` names and
//! kinds that `run` and `batch` make against it before anything is uploaded.

use flowscale::{Client, Error, Inputs, Workflow};
use serde_json::json;

use crate::exit::{EXIT_FAILED, Failure};
use crate::output::{self, Mode, emit};

/// `flowscale workflows`: every workflow with its inputs; with an id, that one in full.
pub fn show(client: &Client, id: Option<&str>, mode: Mode) -> Result<(), Failure> {
    let Some(workflows) = client.workflows()? else {
        return Err(Failure {
            message: "this pod has no workflow catalog (GET /api/v1/comfy/workflows answers \
                      404)"
                .to_owned(),
            hint: Some(
                "runs still work: `flowscale run` sends its inputs unchecked on such a pod"
                    .to_owned(),
            ),
            run_id: None,
            code: EXIT_FAILED,
            result_printed: false,
        });
    };
    let Some(id) = id else {
        let doc = json!({"workflows": workflows});
        return emit(mode, &doc, || table(&workflows, mode));
    };
    let Some(workflow) = workflows.iter().find(|w| w.id == id) else {
        let ids: Vec<&str> = workflows.iter().map(|w| w.id.as_str()).collect();
        return Err(Failure {
            message: format!("workflow `{id}` is not in this pod's catalog"),
            hint: Some(match ids.is_empty() {
                true => "the catalog lists no workflows".to_owned(),
                false => format!("its workflows: {}", ids.join(", ")),
            }),
            run_id: None,
            code: EXIT_FAILED,
            result_printed: false,
        });
    };
    emit(mode, workflow, || in_full(workflow, mode))
}

/// One line per workflow: id, name, inputs with their kinds (`--quiet`: ids only).
fn table(workflows: &[Workflow], mode: Mode) -> Vec<String> {
    if mode == Mode::Quiet {
        return workflows.iter().map(|w| w.id.clone()).collect();
    }
    let id_width = workflows
        .iter()
        .map(|w| w.id.len())
        .max()
        .unwrap_or(0)
        .max(2);
    let name_width = workflows
        .iter()
        .map(|w| w.name.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut lines = vec![format!(
        "{:id_width$}  {:name_width$}  INPUTS",
        "ID", "NAME"
    )];
    for w in workflows {
        let inputs = match w.inputs.is_empty() {
            true => "-".to_owned(),
            false => (w.inputs.iter())
                .map(|i| format!("{} ({})", i.name, i.kind))
                .collect::<Vec<_>>()
                .join(", "),
        };
        lines.push(format!(
            "{:id_width$}  {:name_width$}  {inputs}",
            w.id, w.name
        ));
    }
    lines
}

/// One workflow: what it is, each input on a line with how to give it, its outputs.
fn in_full(w: &Workflow, mode: Mode) -> Vec<String> {
    if mode == Mode::Quiet {
        return w.inputs.iter().map(|i| i.name.clone()).collect();
    }
    let mut lines = vec![
        format!("workflow     {}", w.id),
        format!("name         {}", w.name),
    ];
    if let Some(description) = &w.description {
        lines.push(format!("description  {description}"));
    }
    let described: Vec<String> = (w.inputs.iter())
        .map(|i| format!("{} ({})", i.name, i.kind))
        .collect();
    let width = described.iter().map(String::len).max().unwrap_or(0);
    for (input, described) in w.inputs.iter().zip(&described) {
        let example = match input.kind.is_file() {
            true => format!("-i {}=@FILE", input.name),
            false => format!("-i {}=VALUE", input.name),
        };
        lines.push(format!("input        {described:width$}  {example}"));
    }
    for out in &w.outputs {
        match &out.kind {
            Some(kind) => lines.push(format!("output       {} ({kind})", out.name)),
            None => lines.push(format!("output       {}", out.name)),
        }
    }
    lines
}

/// The workflow's catalog entry, to check inputs against before anything is uploaded;
/// `None` when the pod has no catalog or it does not list the workflow (FlowScale judges
/// then), or when the catalog cannot be read (said as a warning: the check is a help).
///
/// An id the catalog does not list but that is one typo from one it does is refused (exit
/// 2) with that one named: a run of a workflow the pod does not have is a 404 at best.
pub fn entry(client: &Client, workflow_id: &str) -> Result<Option<Workflow>, Failure> {
    let catalog = match client.workflows() {
        Ok(Some(catalog)) => catalog,
        Ok(None) => return Ok(None),
        Err(e) => {
            output::warn(format_args!(
                "inputs not checked: the catalog could not be read: {e}"
            ));
            return Ok(None);
        }
    };
    if let Some(found) = catalog.iter().find(|w| w.id == workflow_id) {
        return Ok(Some(found.clone()));
    }
    match closest(workflow_id, catalog.iter().map(|w| w.id.as_str())) {
        Some(near) => Err(Failure::usage(
            format!("workflow `{workflow_id}` is not in the pod's catalog"),
            format!(
                "did you mean `{near}`? (`flowscale workflows` lists them; --no-check sends it \
                 as it is)"
            ),
        )),
        None => Ok(None),
    }
}

/// The id in `ids` nearest to `wanted`, when it is near enough to be a typo of it.
fn closest<'a>(wanted: &str, ids: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (wanted.chars().count() / 4).clamp(1, 3);
    ids.map(|id| (strsim::damerau_levenshtein(wanted, id), id))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, id)| id)
}

/// Checks the inputs of each job (a name, or `None` for `run`'s one) against the workflow's
/// catalog entry before anything is uploaded: a wrong name or kind exits 2; inputs the
/// workflow has that no job gives are noted (they may be optional).
pub fn check(
    workflow: &Workflow,
    jobs: &[(Option<&str>, &Inputs)],
    mode: Mode,
) -> Result<(), Failure> {
    let mut missing_everywhere: Option<Vec<String>> = None;
    for (job, inputs) in jobs {
        match inputs.check(workflow) {
            Ok(check) => {
                let missing = check.missing().to_vec();
                missing_everywhere = Some(match missing_everywhere {
                    None => missing,
                    Some(before) => before.into_iter().filter(|m| missing.contains(m)).collect(),
                });
            }
            Err(e) => return Err(refused(workflow, *job, e)),
        }
    }
    let missing = missing_everywhere.unwrap_or_default();
    if !missing.is_empty() && mode == Mode::Human {
        output::note(format_args!(
            "note: not given: {} (`{}` uses its own values for inputs left out)",
            missing.join(", "),
            workflow.name
        ));
    }
    Ok(())
}

/// The check's error as a usage error (exit 2), saying how to see the inputs and how to skip.
fn refused(workflow: &Workflow, job: Option<&str>, e: Error) -> Failure {
    let message = match job {
        Some(job) => format!("job `{job}`: {e}"),
        None => e.to_string(),
    };
    Failure::usage(
        message,
        format!(
            "`flowscale workflows {}` lists its inputs (files as -i NAME=@FILE); --no-check \
             sends them unchecked",
            workflow.id
        ),
    )
}

/// Checks the files of `-i NAME=@PATH` (and `@-`) against the kinds the catalog gives
/// their inputs: an empty file, or one of another kind (a `readme.txt` for an image), is
/// refused before anything is uploaded (exit 2).
pub fn check_files(workflow: &Workflow, raw: &[String]) -> Result<(), Failure> {
    for item in raw {
        let Some((name, value)) = item.split_once('=') else {
            continue;
        };
        let Some(input) = workflow.inputs.iter().find(|i| i.name == name) else {
            continue;
        };
        let why = if value == "@-" {
            (input.kind.is_file() && crate::media::stdin_is_empty())
                .then(|| "standard input is empty".to_owned())
        } else if let Some(path) = value.strip_prefix('@').filter(|p| !p.starts_with('@')) {
            crate::media::refusal(std::path::Path::new(path), &input.kind)
        } else {
            None
        };
        if let Some(why) = why {
            return Err(Failure::usage(
                format!("input `{name}`: {why}"),
                format!(
                    "`{}` takes {} {} there (`flowscale workflows {}` lists its inputs); \
                     --no-check sends it unchecked",
                    workflow.name,
                    match input.kind.as_str() {
                        "image" | "audio" => "an",
                        _ => "a",
                    },
                    input.kind,
                    workflow.id
                ),
            ));
        }
    }
    Ok(())
}
