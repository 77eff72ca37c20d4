//! Checking a run's inputs against its workflow's catalog entry, before anything is sent:
//! names the workflow does not have (with the closest one it has), a file where text is
//! expected or text where a file is, a number that is not one, and the inputs left out.

use crate::inputs::{Input, Inputs};
use crate::wire::catalog::{ValueKind, Workflow};
use crate::wire::error::{Error, Result};

/// What a successful [`Inputs::check`] found: the workflow's inputs that were not given.
///
/// Not an error: the catalog does not say which inputs are optional, and the workflow then
/// runs with its own defaults for them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use = "the check may have found inputs left out"]
pub struct InputCheck {
    missing: Vec<String>,
}

impl InputCheck {
    /// The names of the workflow's inputs that were not given, in the catalog's order.
    pub fn missing(&self) -> &[String] {
        &self.missing
    }
}

impl Inputs {
    /// Checks these inputs against `workflow` (from
    /// [`Client::workflows`](crate::Client::workflows)) without sending anything.
    ///
    /// Every problem is reported at once, in one [`Error::Input`]: a
    /// name the workflow does not have (with the closest one it has: "`text_5153` is not
    /// an input of `Text to Image`; did you mean `text_51536`?"), a file given where the
    /// workflow takes text or a number, text where it takes an image, video or audio file,
    /// and a number input given text that is not a number. Inputs of a kind this SDK does
    /// not know are checked by name only. A list input is checked as the fields it is sent
    /// as (`<name>_0`, `<name>_1`...); a `Null` input is not sent, so not checked. A
    /// workflow the catalog lists without inputs is not checked at all: the catalog says
    /// nothing of its inputs then.
    ///
    /// On success, [`InputCheck::missing`] lists the workflow's inputs that were not given.
    ///
    /// ```
    /// use flowscale::{Inputs, Workflow};
    /// # let workflow: Workflow = serde_json::from_value(serde_json::json!({
    /// #     "workflow_id": "bncu0a1kipv", "name": "Text to Image",
    /// #     "inputs": {"text_51536": "string", "image_35728": "image"}})).unwrap();
    /// let err = Inputs::new().set("text_5153", "a cat").check(&workflow).unwrap_err();
    /// assert!(err.to_string().contains("did you mean `text_51536`?"));
    ///
    /// let check = Inputs::new().set("text_51536", "a cat").check(&workflow)?;
    /// assert_eq!(check.missing(), ["image_35728"]);
    /// # Ok::<(), flowscale::Error>(())
    /// ```
    pub fn check(&self, workflow: &Workflow) -> Result<InputCheck> {
        if workflow.inputs.is_empty() {
            return Ok(InputCheck::default());
        }
        let mut problems = Vec::new();
        let mut given = Vec::new();
        for (name, input) in self.entries() {
            fields(name, input, &mut |field, input| {
                given.push(field.to_owned());
                if let Some(problem) = problem(workflow, field, input) {
                    problems.push((field.to_owned(), problem));
                }
            });
        }
        if !problems.is_empty() {
            return Err(one_error(workflow, problems));
        }
        let missing = workflow
            .inputs
            .iter()
            .filter(|i| !given.contains(&i.name))
            .map(|i| i.name.clone())
            .collect();
        Ok(InputCheck { missing })
    }
}

/// Calls `each` with every field an input is sent as, through the one walker
/// (`Input::fields`), so the check names what the form sends.
fn fields(name: &str, input: &Input, each: &mut dyn FnMut(&str, &Input)) {
    for (field, leaf) in input.fields(name) {
        each(&field, leaf);
    }
}

/// What is wrong with one field, if anything.
fn problem(workflow: &Workflow, field: &str, input: &Input) -> Option<String> {
    let Some(expected) = workflow.input(field) else {
        return Some(unknown(workflow, field));
    };
    let is_file = matches!(input, Input::File { .. } | Input::Reader(_));
    let kind = &expected.kind;
    if is_file && kind.is_text() {
        return Some(format!("takes {}, not a file", article(kind)));
    }
    if !is_file && kind.is_file() {
        return Some(format!("takes {} file, not text", article(kind)));
    }
    if *kind == ValueKind::Number {
        let number = match input {
            Input::Number(_) => true,
            Input::Text(text) => text.trim().parse::<f64>().is_ok_and(f64::is_finite),
            _ => false,
        };
        if !number {
            return Some(format!("takes a number, not `{}`", shown(input)));
        }
    }
    None
}

/// "`x` is not an input", with the closest name the workflow has.
fn unknown(workflow: &Workflow, field: &str) -> String {
    let names: Vec<&str> = workflow.inputs.iter().map(|i| i.name.as_str()).collect();
    match closest(field, &names) {
        Some(near) => format!(
            "not an input of `{}`; did you mean `{near}`?",
            workflow.name
        ),
        None => format!(
            "not an input of `{}`; its inputs are {}",
            workflow.name,
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The known name closest to `field`: within a third of its length in edits (a typo), or
/// else one with the same node number (`prompt_51536` for `text_51536`).
fn closest<'a>(field: &str, names: &[&'a str]) -> Option<&'a str> {
    let limit = (field.chars().count() / 3).max(1);
    let near = names
        .iter()
        .map(|n| (edits(&field.to_lowercase(), &n.to_lowercase()), *n))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n);
    near.or_else(|| {
        let node = node_number(field)?;
        names.iter().copied().find(|n| node_number(n) == Some(node))
    })
}

/// The ComfyUI node number a field name ends in (`51536` of `text_51536`).
fn node_number(name: &str) -> Option<&str> {
    let (_, tail) = name.rsplit_once('_')?;
    (!tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit())).then_some(tail)
}

/// The Levenshtein distance between two names (they are short: field names).
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// The kind with its article, as a message says it ("an image", "text").
fn article(kind: &ValueKind) -> String {
    match kind {
        ValueKind::Text => "text".to_owned(),
        ValueKind::Image | ValueKind::Audio => format!("an {kind}"),
        ValueKind::Other(other) => format!("a `{other}`"),
        _ => format!("a {kind}"),
    }
}

/// An input's value for a message, shortened.
fn shown(input: &Input) -> String {
    let text = match input {
        Input::Text(t) => t.clone(),
        Input::Bool(b) => b.to_string(),
        Input::Json(v) => v.to_string(),
        _ => String::new(),
    };
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text,
    }
}

/// All problems as one `Error::Input`: the field is the one at fault, or `inputs` when there
/// are several (each then named in the reason).
fn one_error(workflow: &Workflow, mut problems: Vec<(String, String)>) -> Error {
    if problems.len() == 1 {
        let (field, reason) = problems.remove(0);
        return Error::input(field, reason);
    }
    let reason = problems
        .iter()
        .map(|(field, reason)| format!("`{field}` {reason}"))
        .collect::<Vec<_>>()
        .join("; ");
    Error::input(
        "inputs",
        format!(
            "{} problems with the inputs of `{}`: {reason}",
            problems.len(),
            workflow.name
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn workflow() -> Workflow {
        serde_json::from_value(serde_json::json!({
            "workflow_id": "wf", "name": "Text to Image",
            "inputs": {"text_51536": "string", "image_35728": "image", "steps_3": "int"}
        }))
        .unwrap()
    }

    fn reason(err: Error) -> (String, String) {
        match err {
            Error::Input { field, reason } => (field, reason),
            other => panic!("not an input error: {other}"),
        }
    }

    #[test]
    fn a_typo_names_the_closest_input() {
        let err = Inputs::new().set("text_5153", "x").check(&workflow());
        let (field, reason) = reason(err.unwrap_err());
        assert_eq!(field, "text_5153");
        assert_eq!(
            reason,
            "not an input of `Text to Image`; did you mean `text_51536`?"
        );
        let (_, reason) = reason_of(Inputs::new().set("prompt_51536", "x"));
        assert!(reason.ends_with("did you mean `text_51536`?"), "{reason}");
        let (_, reason) = reason_of(Inputs::new().set("zzz", "x"));
        assert!(reason.contains("its inputs are `"), "{reason}");
    }

    fn reason_of(inputs: Inputs) -> (String, String) {
        reason(inputs.check(&workflow()).unwrap_err())
    }

    #[test]
    fn kinds_are_checked() {
        let (_, r) = reason_of(Inputs::new().set("image_35728", "cat.png"));
        assert_eq!(r, "takes an image file, not text");
        let (_, r) = reason_of(Inputs::new().set("text_51536", Path::new("cat.png")));
        assert_eq!(r, "takes text, not a file");
        let (_, r) = reason_of(Inputs::new().set("steps_3", "many"));
        assert_eq!(r, "takes a number, not `many`");
        let ok = Inputs::new()
            .set("steps_3", " 20 ")
            .set("text_51536", 5)
            .check(&workflow())
            .unwrap();
        assert_eq!(ok.missing(), ["image_35728"]);
    }

    #[test]
    fn every_problem_in_one_error() {
        let (field, r) = reason_of(
            Inputs::new()
                .set("text_5153", "x")
                .set("image_35728", "not a file"),
        );
        assert_eq!(field, "inputs");
        assert!(
            r.starts_with("2 problems with the inputs of `Text to Image`"),
            "{r}"
        );
        assert!(r.contains("`text_5153` not an input") && r.contains("`image_35728` takes"));
    }

    #[test]
    fn lists_and_nulls_are_checked_as_sent() {
        let (field, _) = reason_of(Inputs::new().set("text", vec!["a", "b"]));
        assert_eq!(field, "inputs", "text_0 and text_1 are both unknown");
        let check = Inputs::new()
            .set("text_51536", Input::Null)
            .check(&workflow())
            .unwrap();
        assert_eq!(check.missing().len(), 3);
    }

    #[test]
    fn edit_distance() {
        assert_eq!(edits("", "abc"), 3);
        assert_eq!(edits("text_5153", "text_51536"), 1);
        assert_eq!(edits("kitten", "sitting"), 3);
        assert_eq!(edits("é", "e"), 1);
    }
}
