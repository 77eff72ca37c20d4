//! How the pod differs from a lock: every workflow gone or added, every input added,
//! removed, renamed (a guess, said to be one) or of another kind, every output added or
//! removed. Two locks in, a list out: `flowscale lock --check` prints it.

use std::fmt;

use serde::Serialize;

use crate::wire::catalog::{ValueKind, without_node};
use crate::wire::lock::{Lock, LockedInput, LockedWorkflow};

/// One difference between a lock and the pod's catalog (see [`changes`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// The lock's workflow is not in the pod's catalog any more.
    WorkflowGone {
        /// Its id.
        workflow: String,
    },
    /// The pod runs a workflow the lock does not hold (only for a lock of the whole
    /// catalog: [`Lock::complete`]).
    WorkflowAdded {
        /// Its id.
        workflow: String,
    },
    /// The workflow takes an input the lock does not list.
    InputAdded {
        /// The workflow's id.
        workflow: String,
        /// The input's name.
        input: String,
        /// Its kind.
        kind: ValueKind,
    },
    /// The workflow no longer takes an input the lock lists.
    InputRemoved {
        /// The workflow's id.
        workflow: String,
        /// The input's name.
        input: String,
        /// Its kind in the lock.
        kind: ValueKind,
    },
    /// A guess: an input removed and one added of the same kind, read as one renamed (a
    /// node renumbered after an edit in ComfyUI: `image_35728` now `image_40112`). To the
    /// pod it is a removal and an addition all the same.
    InputRenamed {
        /// The workflow's id.
        workflow: String,
        /// The name in the lock.
        from: String,
        /// The name on the pod.
        to: String,
        /// The kind both have.
        kind: ValueKind,
    },
    /// An input takes another kind of value.
    KindChanged {
        /// The workflow's id.
        workflow: String,
        /// The input's name.
        input: String,
        /// Its kind in the lock.
        from: ValueKind,
        /// Its kind on the pod.
        to: ValueKind,
    },
    /// Whether runs must give an input changed (where the catalog says).
    RequiredChanged {
        /// The workflow's id.
        workflow: String,
        /// The input's name.
        input: String,
        /// Whether it is required on the pod now.
        required: bool,
    },
    /// The workflow makes an output the lock does not list.
    OutputAdded {
        /// The workflow's id.
        workflow: String,
        /// The output's name.
        output: String,
    },
    /// The workflow no longer makes an output the lock lists.
    OutputRemoved {
        /// The workflow's id.
        workflow: String,
        /// The output's name.
        output: String,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::WorkflowGone { workflow } => {
                write!(f, "{workflow}: workflow gone from the pod")
            }
            Change::WorkflowAdded { workflow } => {
                write!(f, "{workflow}: workflow added on the pod, not in the lock")
            }
            Change::InputAdded {
                workflow,
                input,
                kind,
            } => write!(f, "{workflow}: input `{input}` ({kind}) added"),
            Change::InputRemoved {
                workflow,
                input,
                kind,
            } => write!(f, "{workflow}: input `{input}` ({kind}) removed"),
            Change::InputRenamed {
                workflow,
                from,
                to,
                kind,
            } => write!(
                f,
                "{workflow}: input `{from}` ({kind}) renamed `{to}` (a guess: `{from}` removed, \
                 `{to}` added)"
            ),
            Change::KindChanged {
                workflow,
                input,
                from,
                to,
            } => write!(
                f,
                "{workflow}: input `{input}` changed kind from {from} to {to}"
            ),
            Change::RequiredChanged {
                workflow,
                input,
                required,
            } => match required {
                true => write!(f, "{workflow}: input `{input}` is now required"),
                false => write!(f, "{workflow}: input `{input}` is no longer required"),
            },
            Change::OutputAdded { workflow, output } => {
                write!(f, "{workflow}: output `{output}` added")
            }
            Change::OutputRemoved { workflow, output } => {
                write!(f, "{workflow}: output `{output}` removed")
            }
        }
    }
}

/// Every difference between `lock` and `pod` (the pod's catalog as a lock, from
/// [`Lock::from_catalog`]), by workflow id then input name. Workflows the pod runs that a
/// lock of some workflows only ([`Lock::complete`] false) does not hold are not
/// differences. Empty: the pod still runs what the lock was written for.
pub fn changes(lock: &Lock, pod: &Lock) -> Vec<Change> {
    let mut changes = Vec::new();
    for locked in &lock.workflows {
        match pod.workflow(&locked.id) {
            None => changes.push(Change::WorkflowGone {
                workflow: locked.id.clone(),
            }),
            Some(now) => workflow_changes(locked, now, &mut changes),
        }
    }
    if lock.complete {
        for w in pod
            .workflows
            .iter()
            .filter(|w| lock.workflow(&w.id).is_none())
        {
            changes.push(Change::WorkflowAdded {
                workflow: w.id.clone(),
            });
        }
    }
    changes
}

fn workflow_changes(locked: &LockedWorkflow, now: &LockedWorkflow, out: &mut Vec<Change>) {
    let workflow = || locked.id.clone();
    let mut removed: Vec<&LockedInput> = Vec::new();
    for was in &locked.inputs {
        match now.input(&was.name) {
            None => removed.push(was),
            Some(is) => {
                if is.kind != was.kind {
                    out.push(Change::KindChanged {
                        workflow: workflow(),
                        input: was.name.clone(),
                        from: was.kind.clone(),
                        to: is.kind.clone(),
                    });
                }
                if let (Some(a), Some(b)) = (was.required, is.required)
                    && a != b
                {
                    out.push(Change::RequiredChanged {
                        workflow: workflow(),
                        input: was.name.clone(),
                        required: b,
                    });
                }
            }
        }
    }
    let mut added: Vec<&LockedInput> = (now.inputs.iter())
        .filter(|i| locked.input(&i.name).is_none())
        .collect();
    for (from, to) in renames(&mut removed, &mut added) {
        out.push(Change::InputRenamed {
            workflow: workflow(),
            from: from.name.clone(),
            to: to.name.clone(),
            kind: to.kind.clone(),
        });
    }
    for was in removed {
        out.push(Change::InputRemoved {
            workflow: workflow(),
            input: was.name.clone(),
            kind: was.kind.clone(),
        });
    }
    for is in added {
        out.push(Change::InputAdded {
            workflow: workflow(),
            input: is.name.clone(),
            kind: is.kind.clone(),
        });
    }
    let has = |w: &LockedWorkflow, name: &str| w.outputs.iter().any(|o| o.name == name);
    for o in locked.outputs.iter().filter(|o| !has(now, &o.name)) {
        out.push(Change::OutputRemoved {
            workflow: workflow(),
            output: o.name.clone(),
        });
    }
    for o in now.outputs.iter().filter(|o| !has(locked, &o.name)) {
        out.push(Change::OutputAdded {
            workflow: workflow(),
            output: o.name.clone(),
        });
    }
}

/// The pairs of a removed and an added input read as one renamed, taken out of both
/// lists: first those of one kind whose names differ only in their node number
/// (`image_35728`, `image_40112`), then a kind with exactly one removed and one added.
fn renames<'a>(
    removed: &mut Vec<&'a LockedInput>,
    added: &mut Vec<&'a LockedInput>,
) -> Vec<(&'a LockedInput, &'a LockedInput)> {
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < removed.len() {
        let was = removed[i];
        let twin = added.iter().position(|is| {
            is.kind == was.kind && without_node(&is.name) == without_node(&was.name)
        });
        match twin {
            Some(j) => pairs.push((removed.remove(i), added.remove(j))),
            None => i += 1,
        }
    }
    let mut i = 0;
    while i < removed.len() {
        let kind = &removed[i].kind;
        let of_kind = |list: &[&LockedInput]| list.iter().filter(|x| &x.kind == kind).count();
        match (of_kind(removed), of_kind(added)) {
            (1, 1) => {
                let j = added.iter().position(|x| &x.kind == kind);
                match j {
                    Some(j) => pairs.push((removed.remove(i), added.remove(j))),
                    None => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::catalog::Workflow;

    fn lock(catalog: serde_json::Value, complete: bool) -> Lock {
        let workflows: Vec<Workflow> = serde_json::from_value(catalog).unwrap();
        Lock::from_catalog(&workflows, complete)
    }

    fn said(changes: &[Change]) -> Vec<String> {
        changes.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_same_catalog_has_no_changes() {
        let a = lock(
            serde_json::json!([{"id": "w", "inputs": {"text_1": "string"}}]),
            true,
        );
        assert_eq!(changes(&a, &a.clone()), []);
    }

    #[test]
    fn a_renumbered_node_is_a_guessed_rename_and_other_changes_are_named() {
        let before = lock(
            serde_json::json!([
                {"id": "w", "inputs": {"image_35728": "image", "text_1": "string", "seed_2": "int", "old_9": "string"}, "outputs": ["out"]},
                {"id": "gone"},
            ]),
            true,
        );
        let after = lock(
            serde_json::json!([
                {"id": "w", "inputs": {"image_40112": "image", "text_1": "image", "seed_2": "int", "steps_4": "int"}, "outputs": ["out", "preview"]},
                {"id": "new"},
            ]),
            true,
        );
        assert_eq!(
            said(&changes(&before, &after)),
            [
                "gone: workflow gone from the pod",
                "w: input `text_1` changed kind from text to image",
                "w: input `image_35728` (image) renamed `image_40112` (a guess: `image_35728` removed, `image_40112` added)",
                "w: input `old_9` (text) removed",
                "w: input `steps_4` (number) added",
                "w: output `preview` added",
                "new: workflow added on the pod, not in the lock",
            ]
        );
        // A lock of some workflows only does not care about others on the pod.
        let mut partial = before.clone();
        partial.complete = false;
        assert!(
            !said(&changes(&partial, &after))
                .iter()
                .any(|c| c.contains("new"))
        );
    }

    #[test]
    fn one_removed_and_one_added_of_a_kind_are_a_rename_two_are_not_guessed() {
        let before = lock(
            serde_json::json!([{"id": "w", "inputs": {"prompt": "string"}}]),
            false,
        );
        let after = lock(
            serde_json::json!([{"id": "w", "inputs": {"text_7": "string"}}]),
            false,
        );
        assert!(
            matches!(&changes(&before, &after)[..], [Change::InputRenamed { from, to, .. }] if from == "prompt" && to == "text_7")
        );
        let two = lock(
            serde_json::json!([{"id": "w", "inputs": {"a": "string", "b": "string"}}]),
            false,
        );
        let said = said(&changes(&before, &two));
        assert_eq!(said.len(), 3, "{said:?}");
        assert!(said.iter().all(|c| !c.contains("renamed")), "{said:?}");
    }
}
