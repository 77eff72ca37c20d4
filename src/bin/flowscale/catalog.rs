//! The pod's workflow catalog: `flowscale workflows [ID]`, and the check of `-i` names and
//! kinds that `run` and `batch` make against it before anything is uploaded.

use flowscale::{Client, Inputs, Workflow};
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
            status: None,
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
            code: crate::exit::EXIT_NOT_FOUND,
            result_printed: false,
            status: None,
        });
    };
    emit(mode, workflow, || in_full(workflow, mode))
}

/// One line per workflow: id, name, inputs with their kinds (`--quiet`: ids only).
fn table(workflows: &[Workflow], mode: Mode) -> Vec<String> {
    if mode == Mode::Quiet {
        return workflows.iter().map(|w| w.id.clone()).collect();
    }
    // Columns in terminal cells (a CJK name takes two a character), names cut at 30.
    let width = |text: &str| unicode_width::UnicodeWidthStr::width(text);
    let id_width = workflows
        .iter()
        .map(|w| width(&w.id))
        .max()
        .unwrap_or(0)
        .max(2);
    let name_width = (workflows.iter().map(|w| width(&w.name)).max())
        .unwrap_or(0)
        .clamp(4, 30);
    let cell = crate::display::cell;
    let mut lines = vec![format!(
        "{}  {}  INPUTS",
        cell("ID", id_width),
        cell("NAME", name_width)
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
            "{}  {}  {inputs}",
            cell(&w.id, id_width),
            cell(&w.name, name_width)
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
/// `None` when the pod has no catalog (FlowScale judges then).
///
/// A catalog that cannot be read stops the run before anything is sent (its error's exit
/// code: 6 for the key, 1 for the network), since nothing else says whether the run would
/// be refused; an id the catalog does not list exits 7, with the nearest one named.
pub fn entry(client: &Client, workflow_id: &str) -> Result<Option<Workflow>, Failure> {
    let catalog = match client.workflows() {
        Ok(Some(catalog)) => catalog,
        // This pod has no catalog: nothing to check against, FlowScale judges.
        Ok(None) => return Ok(None),
        // A catalog that could not be read (the network, a timeout, the key) says nothing
        // about the run: stop before paying for one the check would have refused.
        Err(e) => {
            let mut failure = Failure::from(e);
            failure.message = format!(
                "the pod's workflow catalog could not be read, so nothing was sent: {}",
                failure.message
            );
            let retry = "nothing was submitted: running the same command again is safe; \
                         --no-check sends without checking";
            failure.hint = Some(match failure.hint.take() {
                Some(hint) => format!("{hint}; {retry}"),
                None => retry.to_owned(),
            });
            return Err(failure);
        }
    };
    if let Some(found) = catalog.iter().find(|w| w.id == workflow_id) {
        return Ok(Some(found.clone()));
    }
    let hint = match closest(workflow_id, catalog.iter().map(|w| w.id.as_str())) {
        Some(near) => format!(
            "did you mean `{near}`? (`flowscale workflows` lists them; --no-check sends it as \
             it is)"
        ),
        None => "`flowscale workflows` lists the pod's workflows; --no-check sends it as it is"
            .to_owned(),
    };
    Err(Failure {
        message: format!("workflow `{workflow_id}` is not in the pod's catalog: nothing was sent"),
        hint: Some(hint),
        run_id: None,
        code: crate::exit::EXIT_NOT_FOUND,
        result_printed: false,
        status: None,
    })
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
/// catalog entry before anything is uploaded: a wrong name or kind, a file of another kind,
/// or a required input left out exits 2, every one listed at once.
pub fn check(
    workflow: &Workflow,
    jobs: &[(Option<&str>, &Inputs)],
    mode: Mode,
) -> Result<(), Failure> {
    // Every job's mistakes at once: a batch is fixed in one go, and nothing is paid first.
    let mut refusals = Vec::new();
    for (job, inputs) in jobs {
        if let Err(e) = inputs.check(workflow) {
            refusals.push(said(*job, &e.to_string()));
        }
        // Each file's first bytes against its kind: the library's one check.
        if let Err(e) = inputs.check_media(workflow) {
            refusals.push(said(*job, &e.to_string()));
        }
    }
    if !refusals.is_empty() {
        let message = match refusals.len() {
            1 => refusals.remove(0),
            n => format!("{n} inputs are wrong:\n  {}", refusals.join("\n  ")),
        };
        return Err(Failure::usage(
            message,
            format!(
                "`flowscale workflows {}` lists its inputs (files as -i NAME=@FILE); --no-check \
                 sends them unchecked",
                workflow.id
            ),
        ));
    }
    // Said in every mode but `--events` (whose stderr carries nothing but errors).
    if mode != Mode::Events
        && workflow.inputs.is_empty()
        && jobs.iter().any(|(_, inputs)| !inputs.is_empty())
    {
        // The catalog lists no inputs: whether the workflow takes none, or the catalog does
        // not say, the names given cannot be checked.
        output::warn(format_args!(
            "the catalog lists no inputs for `{}`: the inputs given are sent unchecked",
            workflow.id
        ));
    }
    // An input the catalog says is required and a job leaves out would be refused by the
    // pod (422) after the upload: refused here, before it. Inputs left out that the catalog
    // does not require are the workflow's own business: no note on every run.
    let mut required_missing = Vec::new();
    for (job, inputs) in jobs {
        if let Ok(check) = inputs.check(workflow) {
            for name in check.missing() {
                if workflow.input(name).and_then(|i| i.required) == Some(true) {
                    required_missing.push(said(*job, &format!("input `{name}` is required")));
                }
            }
        }
    }
    if !required_missing.is_empty() {
        return Err(Failure::usage(
            required_missing.join("; "),
            format!(
                "give it with -i NAME=VALUE (files as -i NAME=@FILE); `flowscale workflows {}` \
                 lists its inputs",
                workflow.id
            ),
        ));
    }
    Ok(())
}

/// A job's mistake, named after the job (a batch's) or not (`run`'s).
fn said(job: Option<&str>, what: &str) -> String {
    match job {
        Some(job) => format!("job `{job}`: {what}"),
        None => what.to_owned(),
    }
}

/// Checks standard input (`-i NAME=@-`) against the kind the catalog gives its input, by
/// its first bytes: empty, or of another kind, is refused before anything is uploaded
/// (exit 2). Files given by path are checked by `check`, through the library.
pub fn check_files(workflow: &Workflow, raw: &[String]) -> Result<(), Failure> {
    for item in raw {
        let Some((name, value)) = item.split_once('=') else {
            continue;
        };
        let Some(input) = workflow.inputs.iter().find(|i| i.name == name) else {
            continue;
        };
        // Files given by path are checked with the rest (`check`); standard input by the
        // first bytes read from it.
        let why = match (value, crate::inputs::stdin_head()) {
            ("@-", Some(head)) => {
                match flowscale::inputs::check_media_bytes(
                    head,
                    name,
                    "standard input",
                    &input.kind,
                ) {
                    Err(flowscale::Error::Input { reason, .. }) => Some(reason),
                    Err(e) => Some(e.to_string()),
                    Ok(()) => None,
                }
            }
            _ => None,
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
