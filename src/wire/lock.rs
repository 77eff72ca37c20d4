//! `flowscale.lock`: what each workflow takes, as the pod's catalog said when the lock was
//! written. A TOML file (a format version, then one `[[workflow]]` table per workflow,
//! sorted by id, their inputs and outputs sorted by name) so that a change to it reads
//! well in a diff. Text in, text out: the tool reads and writes the file, and
//! `decide::drift` compares a lock with the pod.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::wire::catalog::{ValueKind, Workflow};
use crate::wire::error::{Error, Result};

/// The file name `flowscale lock` writes, in the current directory unless told otherwise.
pub const LOCK_FILE: &str = "flowscale.lock";

/// The format version written. A lock of a later version is refused by name, never read
/// half-way.
pub const LOCK_VERSION: u32 = 1;

/// What each workflow takes, as written to `flowscale.lock` by `flowscale lock` (or
/// [`Lock::from_catalog`]) and read back by `flowscale lock --check` and
/// `flowscale::codegen`.
///
/// ```
/// use flowscale::lock::Lock;
/// let lock = Lock::parse(r#"
/// version = 1
/// complete = true
///
/// [[workflow]]
/// id = "bncu0a1kipv"
/// name = "Text to Image"
/// inputs = [{ name = "text_51536", kind = "text" }]
/// outputs = [{ name = "image_output", kind = "image" }]
/// "#)?;
/// assert_eq!(lock.workflows[0].inputs[0].name, "text_51536");
/// assert_eq!(Lock::parse(&lock.to_toml())?, lock);
/// # Ok::<(), flowscale::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Lock {
    /// The format version ([`LOCK_VERSION`]).
    pub version: u32,
    /// Whether the lock holds every workflow of the catalog (`flowscale lock` without
    /// names): only then is a workflow added to the pod a difference.
    #[serde(default)]
    pub complete: bool,
    /// The workflows, sorted by id.
    #[serde(default, rename = "workflow")]
    pub workflows: Vec<LockedWorkflow>,
}

/// One workflow of a [`Lock`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LockedWorkflow {
    /// The id it is run by.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its description, if the catalog gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its inputs, sorted by name.
    #[serde(default)]
    pub inputs: Vec<LockedInput>,
    /// Its outputs, sorted by name.
    #[serde(default)]
    pub outputs: Vec<LockedOutput>,
}

/// One input of a [`LockedWorkflow`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LockedInput {
    /// The form field name (`text_51536`).
    pub name: String,
    /// What it takes.
    pub kind: ValueKind,
    /// Whether runs must give it, where the catalog says (FlowScale's catalog does not
    /// today: an input it lists may be left out, and the workflow uses its own default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}

/// One output of a [`LockedWorkflow`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LockedOutput {
    /// The output's name (run outputs are named `<name>_<node>_<suffix>`).
    pub name: String,
    /// Its kind, when the catalog gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ValueKind>,
}

impl Lock {
    /// The lock of `workflows` (a pod's catalog, from `Client::workflows`), sorted.
    /// `complete`: whether they are the whole catalog.
    pub fn from_catalog<'a>(
        workflows: impl IntoIterator<Item = &'a Workflow>,
        complete: bool,
    ) -> Self {
        let mut workflows: Vec<LockedWorkflow> =
            workflows.into_iter().map(LockedWorkflow::from).collect();
        workflows.sort_by(|a, b| a.id.cmp(&b.id));
        workflows.dedup_by(|a, b| a.id == b.id);
        Lock {
            version: LOCK_VERSION,
            complete,
            workflows,
        }
    }

    /// The workflow with id `id`, if the lock holds it.
    pub fn workflow(&self, id: &str) -> Option<&LockedWorkflow> {
        self.workflows.iter().find(|w| w.id == id)
    }

    /// Reads a lock from its text. A lock of a later format version, one with a workflow
    /// without an id, or one that is not a lock, is an [`Error::Config`] that says so (and
    /// where, for TOML that does not parse). [`read`](crate::lock::read) reads a file.
    pub fn parse(text: &str) -> Result<Self> {
        Self::parse_named(text, LOCK_FILE)
    }

    /// [`Lock::parse`], its errors naming the lock `name` (the file it was read from).
    pub(crate) fn parse_named(text: &str, name: &str) -> Result<Self> {
        #[derive(Deserialize)]
        struct Version {
            version: Option<u32>,
        }
        // Where, as an editor counts (line and column from 1), and what.
        let problem = |e: toml::de::Error| {
            let at = e.span().map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!(" line {line}, column {column}:")
            });
            Error::config(format!("{name}:{} {}", at.unwrap_or_default(), e.message()))
        };
        match toml::from_str::<Version>(text).map_err(problem)?.version {
            None => Err(Error::config(format!(
                "{name} has no `version`: is it a lock? `flowscale lock` writes one"
            ))),
            Some(v) if v > LOCK_VERSION => Err(Error::config(format!(
                "{name} is of format version {v}, written by a later flowscale; this one \
                 reads version {LOCK_VERSION}: upgrade flowscale"
            ))),
            Some(_) => {
                let mut lock: Lock = toml::from_str(text).map_err(problem)?;
                if lock.workflows.iter().any(|w| w.id.is_empty()) {
                    return Err(Error::config(format!(
                        "{name} has a workflow with an empty `id`: write it again with `flowscale lock`"
                    )));
                }
                // Sorted as written, whoever wrote it: comparisons and generated code
                // depend on no order.
                lock.sort();
                Ok(lock)
            }
        }
    }

    fn sort(&mut self) {
        self.workflows.sort_by(|a, b| a.id.cmp(&b.id));
        for w in &mut self.workflows {
            w.inputs.sort_by(|a, b| a.name.cmp(&b.name));
            w.outputs.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }

    /// The lock as the file's text: a comment saying what it is, the format version, then
    /// one table per workflow with one line per input and output.
    pub fn to_toml(&self) -> String {
        let mut text = String::from(
            "# What each workflow on the pod takes, written by `flowscale lock` from the pod's\n\
             # catalog. `flowscale lock --check` compares the pod with it; `flowscale::codegen`\n\
             # makes Rust types from it. Run `flowscale lock` again rather than editing it.\n",
        );
        let _ = writeln!(text, "version = {}", self.version);
        let _ = writeln!(text, "complete = {}", self.complete);
        for w in &self.workflows {
            let _ = write!(
                text,
                "\n[[workflow]]\nid = {}\nname = {}\n",
                quote(&w.id),
                quote(&w.name)
            );
            if let Some(d) = &w.description {
                let _ = writeln!(text, "description = {}", quote(d));
            }
            text.push_str("inputs = [");
            for i in &w.inputs {
                let _ = write!(
                    text,
                    "\n    {{ name = {}, kind = {}",
                    quote(&i.name),
                    quote(i.kind.as_str())
                );
                if let Some(required) = i.required {
                    let _ = write!(text, ", required = {required}");
                }
                text.push_str(" },");
            }
            text.push_str(if w.inputs.is_empty() { "]\n" } else { "\n]\n" });
            text.push_str("outputs = [");
            for o in &w.outputs {
                let _ = write!(text, "\n    {{ name = {}", quote(&o.name));
                if let Some(kind) = &o.kind {
                    let _ = write!(text, ", kind = {}", quote(kind.as_str()));
                }
                text.push_str(" },");
            }
            text.push_str(if w.outputs.is_empty() { "]\n" } else { "\n]\n" });
        }
        text
    }
}

impl From<&Workflow> for LockedWorkflow {
    fn from(w: &Workflow) -> Self {
        let mut inputs: Vec<LockedInput> = (w.inputs.iter())
            .map(|i| LockedInput {
                name: i.name.clone(),
                kind: i.kind.clone(),
                required: i.required,
            })
            .collect();
        inputs.sort_by(|a, b| a.name.cmp(&b.name));
        let mut outputs: Vec<LockedOutput> = (w.outputs.iter())
            .map(|o| LockedOutput {
                name: o.name.clone(),
                kind: o.kind.clone(),
            })
            .collect();
        outputs.sort_by(|a, b| a.name.cmp(&b.name));
        LockedWorkflow {
            id: w.id.clone(),
            name: w.name.clone(),
            description: w.description.clone(),
            inputs,
            outputs,
        }
    }
}

impl LockedWorkflow {
    /// The input named `name`, if the workflow has one.
    pub fn input(&self, name: &str) -> Option<&LockedInput> {
        self.inputs.iter().find(|i| i.name == name)
    }
}

/// A TOML basic string: JSON's escapes are TOML's for every character JSON escapes.
fn quote(s: &str) -> String {
    // serde_json escapes `"`, `\` and control characters as `\"`, `\\`, `\n`, `\uXXXX`,
    // all valid in a TOML basic string.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Vec<Workflow> {
        serde_json::from_value(serde_json::json!([
            {"workflow_id": "zeta", "name": "Zeta \"quoted\"\nline", "inputs": {"b_2": "image", "a_1": "string"}, "outputs": ["out"]},
            {"workflow_id": "alpha", "name": "Alpha", "inputs": {}, "outputs": []},
        ]))
        .unwrap()
    }

    #[test]
    fn a_lock_is_written_sorted_and_reads_back_the_same() {
        let lock = Lock::from_catalog(&catalog(), true);
        let text = lock.to_toml();
        assert!(text.find("id = \"alpha\"").unwrap() < text.find("id = \"zeta\"").unwrap());
        assert!(text.find("a_1").unwrap() < text.find("b_2").unwrap());
        assert_eq!(Lock::parse(&text).unwrap(), lock);
        assert_eq!(
            lock.workflow("zeta").unwrap().input("b_2").unwrap().kind,
            ValueKind::Image
        );
    }

    #[test]
    fn a_later_version_or_a_file_that_is_no_lock_is_refused_by_name() {
        let later = Lock::parse("version = 2\n").unwrap_err().to_string();
        assert!(later.contains("format version 2"), "{later}");
        let none = Lock::parse("[package]\nname = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(none.contains("no `version`"), "{none}");
        let broken = Lock::parse("version = 1\n[[workflow]]\nid = 3\n")
            .unwrap_err()
            .to_string();
        assert!(broken.contains("flowscale.lock"), "{broken}");
        // Where, as an editor counts.
        let unquoted = Lock::parse("version = 1\ncomplete = true\n[[workflow]]\nid = \n")
            .unwrap_err()
            .to_string();
        assert!(unquoted.contains("line 4, column 6:"), "{unquoted}");
    }
}
