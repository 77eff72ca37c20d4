//! The workflow catalog, `GET /api/v1/comfy/workflows`: what a pod can run, with the names
//! and kinds of each workflow's inputs and outputs.
//!
//! Two shapes are documented (`shared/API.md`, "The workflow catalog"), and both decode into
//! the same [`Workflow`]:
//! - the Python SDK beta's `{"workflows": [{"workflow_id", "name", "description",
//!   "inputs": {name: kind}, "outputs": [name]}]}`;
//! - the JS SDK docs' `[{"id", "name", "description", "inputs": "<JSON text>", "outputs":
//!   "<JSON text>"}]`, whose inputs and outputs are JSON objects encoded as strings.

use std::fmt;

use serde::de::{Error as _, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// What kind of value a workflow input takes (or an output gives), as the catalog names it.
///
/// The catalog's spellings vary (`string`, `text`, `int`, `float`...); they are folded into
/// these kinds, and a kind this SDK does not know is kept by name in `Other`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueKind {
    /// Text (`string`, `text`, `str`, `prompt`).
    Text,
    /// A number (`number`, `int`, `integer`, `float`).
    Number,
    /// An image file.
    Image,
    /// A video file.
    Video,
    /// An audio file.
    Audio,
    /// A kind this version of the SDK does not know, as the catalog spells it.
    Other(String),
}

impl ValueKind {
    /// The kind as this SDK spells it (`text`, `number`, `image`, `video`, `audio`, or the
    /// catalog's own word for another kind).
    pub fn as_str(&self) -> &str {
        match self {
            ValueKind::Text => "text",
            ValueKind::Number => "number",
            ValueKind::Image => "image",
            ValueKind::Video => "video",
            ValueKind::Audio => "audio",
            ValueKind::Other(s) => s,
        }
    }

    /// Whether the input is a file (image, video, audio) rather than a text field.
    pub fn is_file(&self) -> bool {
        matches!(self, ValueKind::Image | ValueKind::Video | ValueKind::Audio)
    }

    /// Whether the input is a text field (text or number).
    pub fn is_text(&self) -> bool {
        matches!(self, ValueKind::Text | ValueKind::Number)
    }
}

impl From<&str> for ValueKind {
    fn from(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "string" | "text" | "str" | "prompt" => ValueKind::Text,
            "number" | "int" | "integer" | "float" | "double" => ValueKind::Number,
            "image" | "img" => ValueKind::Image,
            "video" => ValueKind::Video,
            "audio" => ValueKind::Audio,
            _ => ValueKind::Other(s.to_owned()),
        }
    }
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ValueKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ValueKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ValueKind::from(String::deserialize(d)?.as_str()))
    }
}

/// One input of a workflow: its form field name (a ComfyUI parameter with its node number,
/// `text_51536`) and kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkflowInput {
    /// The form field name.
    pub name: String,
    /// What it takes.
    pub kind: ValueKind,
    /// Whether runs must give it, where the catalog says (`{"type": "image", "required":
    /// true}`); `None` when it does not, as FlowScale's catalog does not today.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}

/// One output of a workflow: its name prefix and, where the catalog says, its kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkflowOutput {
    /// The output's name (run outputs are named `<name>_<node>_<suffix>`).
    pub name: String,
    /// Its kind, when the catalog gives one (the Python shape lists names only).
    pub kind: Option<ValueKind>,
}

/// A workflow deployed on the pod, from its catalog (`Client::workflows`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Workflow {
    /// The id to run it by (`execute_workflow`'s `workflow_id`).
    pub id: String,
    /// Its display name (the id when the catalog gives none).
    pub name: String,
    /// Its description, if any.
    pub description: Option<String>,
    /// Its inputs, in the catalog's order.
    pub inputs: Vec<WorkflowInput>,
    /// Its outputs, in the catalog's order.
    pub outputs: Vec<WorkflowOutput>,
}

impl Workflow {
    /// The input named `name`, if the workflow has one.
    pub fn input(&self, name: &str) -> Option<&WorkflowInput> {
        self.inputs.iter().find(|i| i.name == name)
    }
}

/// A ComfyUI input name without its node number (`image_35728` is `image`), or the name as
/// it is when it has none. A node renumbered by an edit in ComfyUI changes only the number:
/// the lock's drift check guesses renames by it, and generated field names leave it out.
#[cfg(feature = "lock")]
pub(crate) fn without_node(name: &str) -> &str {
    match name.rsplit_once('_') {
        Some((stem, node))
            if !stem.is_empty() && !node.is_empty() && node.bytes().all(|b| b.is_ascii_digit()) =>
        {
            stem
        }
        _ => name,
    }
}

/// A catalog entry as sent, in either shape.
#[derive(Deserialize)]
struct RawWorkflow {
    #[serde(default)]
    workflow_id: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    inputs: Named,
    #[serde(default)]
    outputs: Named,
}

/// Names with their kinds, in the order sent (a JSON object's order matters here: it is
/// the order the workflow's author gave, and `serde_json::Value` would sort it).
#[derive(Default)]
struct Named(Vec<(String, Option<String>, Option<bool>)>);

/// `data` of the catalog answer: `{workflows: [...]}` or the array itself.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawCatalog {
    Listed { workflows: Vec<RawWorkflow> },
    Bare(Vec<RawWorkflow>),
}

impl<'de> Deserialize<'de> for Workflow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RawWorkflow::deserialize(d)?
            .finish()
            .map_err(D::Error::custom)
    }
}

impl RawWorkflow {
    fn finish(self) -> Result<Workflow, String> {
        let id = self
            .workflow_id
            .or(self.id)
            .filter(|id| !id.is_empty())
            .ok_or("a catalog workflow has no `workflow_id` nor `id`")?;
        let inputs = (self.inputs.0.into_iter())
            .map(|(name, kind, required)| WorkflowInput {
                name,
                // A name without a kind is a text field: what the form sends it as.
                kind: kind.as_deref().map_or(ValueKind::Text, ValueKind::from),
                required,
            })
            .collect();
        let outputs = (self.outputs.0.into_iter())
            .map(|(name, kind, _)| WorkflowOutput {
                name,
                kind: kind.as_deref().map(ValueKind::from),
            })
            .collect();
        Ok(Workflow {
            name: self
                .name
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| id.clone()),
            id,
            description: self.description.filter(|d| !d.is_empty()),
            inputs,
            outputs,
        })
    }
}

/// The catalog answer's `data`, in either documented shape.
pub(crate) struct Catalog(pub Vec<Workflow>);

impl<'de> Deserialize<'de> for Catalog {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (RawCatalog::Listed { workflows } | RawCatalog::Bare(workflows)) =
            RawCatalog::deserialize(d).map_err(|_| {
                D::Error::custom(
                    "the workflow catalog is neither `{workflows: [...]}` nor a list of workflows",
                )
            })?;
        let list = workflows.into_iter().map(RawWorkflow::finish);
        list.collect::<Result<_, _>>()
            .map(Catalog)
            .map_err(D::Error::custom)
    }
}

/// Reads inputs or outputs: an object `{name: kind}`, a list of names or of
/// `{name, kind|type}` objects, or either of those encoded as JSON text (the JS docs' shape).
impl<'de> Deserialize<'de> for Named {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NamedVisitor)
    }
}

struct NamedVisitor;

impl<'de> Visitor<'de> for NamedVisitor {
    type Value = Named;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of names and kinds, a list of names, or either as JSON text")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Named, E> {
        Ok(Named::default())
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Named, E> {
        Ok(Named::default())
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Named, E> {
        if text.trim().is_empty() {
            return Ok(Named::default());
        }
        serde_json::from_str(text).map_err(|_| {
            E::custom(format!(
                "inputs or outputs are text that is not a JSON object or list: `{}`",
                snippet(text)
            ))
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Named, A::Error> {
        let mut named = Vec::new();
        while let Some((name, kind)) = map.next_entry::<String, Value>()? {
            named.push((name, kind_text(&kind), required(&kind)));
        }
        Ok(Named(named))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Named, A::Error> {
        let mut named = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            named.push(match item {
                Value::String(name) => (name, None, None),
                Value::Object(map) => {
                    let name = map.get("name").and_then(Value::as_str).ok_or_else(|| {
                        A::Error::custom("a listed input or output has no `name`")
                    })?;
                    let kind = map.get("kind").or_else(|| map.get("type"));
                    let required = map.get("required").and_then(Value::as_bool);
                    (name.to_owned(), kind.and_then(kind_text), required)
                }
                other => {
                    return Err(A::Error::custom(format!(
                        "an input or output is `{}`, not a name",
                        snippet(&other.to_string())
                    )));
                }
            });
        }
        Ok(Named(named))
    }
}

/// The start of a value, for a message.
fn snippet(text: &str) -> &str {
    text.char_indices()
        .nth(60)
        .map_or(text, |(at, _)| &text[..at])
}

/// A kind given as a string, or as an object naming it (`{"type": "image"}`).
fn kind_text(kind: &Value) -> Option<String> {
    match kind {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => map
            .get("type")
            .or_else(|| map.get("kind"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

/// Whether a kind given as an object says the input is required (`"required": true`).
fn required(kind: &Value) -> Option<bool> {
    kind.get("required").and_then(Value::as_bool)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &str) -> serde_json::Result<Vec<Workflow>> {
        serde_json::from_str::<Catalog>(text).map(|c| c.0)
    }

    #[test]
    fn python_shape_in_its_own_order() {
        let list = decode(
            r#"{"workflows": [{
            "workflow_id": "wf", "name": "Text to Image", "description": null,
            "inputs": {"text_51536": "string", "image_35728": "image", "steps_3": "int"},
            "outputs": ["image_output"]
        }]}"#,
        )
        .unwrap();
        let wf = &list[0];
        assert_eq!((wf.id.as_str(), wf.name.as_str()), ("wf", "Text to Image"));
        assert_eq!(wf.description, None);
        let inputs: Vec<_> = wf
            .inputs
            .iter()
            .map(|i| (i.name.as_str(), &i.kind))
            .collect();
        assert_eq!(
            inputs,
            [
                ("text_51536", &ValueKind::Text),
                ("image_35728", &ValueKind::Image),
                ("steps_3", &ValueKind::Number)
            ]
        );
        assert_eq!(wf.outputs[0].name, "image_output");
        assert_eq!(wf.outputs[0].kind, None);
    }

    #[test]
    fn js_shape_with_json_text() {
        let list = decode(
            r#"[{
            "id": "wf", "name": "", "description": "makes images",
            "inputs": "{ \"text_51536\": \"string\", \"mask_1\": \"latent\" }",
            "outputs": "{ \"image_output\": \"image\" }"
        }]"#,
        )
        .unwrap();
        let wf = &list[0];
        assert_eq!(wf.name, "wf", "an empty name falls back to the id");
        assert_eq!(wf.description.as_deref(), Some("makes images"));
        assert_eq!(wf.inputs[0].name, "text_51536");
        assert_eq!(wf.inputs[1].kind, ValueKind::Other("latent".into()));
        assert_eq!(wf.outputs[0].kind, Some(ValueKind::Image));
    }

    #[test]
    fn listed_inputs_and_kind_objects() {
        let list = decode(
            r#"[{"id": "x", "inputs": [{"name": "a", "type": "video", "required": true}, "b"],
                 "outputs": {"o": {"type": "audio"}}},
                {"id": "y", "inputs": {"c": {"type": "image", "required": false}, "d": "image"}}]"#,
        )
        .unwrap();
        assert_eq!(list[0].inputs[0].kind, ValueKind::Video);
        assert_eq!(list[0].inputs[0].required, Some(true));
        assert_eq!(list[0].inputs[1].kind, ValueKind::Text);
        assert_eq!(list[0].inputs[1].required, None);
        assert_eq!(list[1].inputs[0].required, Some(false));
        assert_eq!(list[1].inputs[1].required, None);
        assert_eq!(list[0].outputs[0].kind, Some(ValueKind::Audio));
    }

    #[test]
    fn broken_entries_are_errors_not_panics() {
        assert!(decode(r#"[{"name": "no id"}]"#).is_err());
        assert!(decode(r#"[{"id": "x", "inputs": "not json"}]"#).is_err());
        assert!(decode(r#"[{"id": "x", "inputs": 7}]"#).is_err());
        assert!(decode(r#"[{"id": "x", "inputs": [7]}]"#).is_err());
        assert!(decode(r#""nothing""#).is_err());
        assert!(decode(r#"[{"id": "x"}]"#).unwrap()[0].inputs.is_empty());
        assert!(decode(r#"[{"id": "x", "inputs": null, "outputs": ""}]"#).is_ok());
    }
}
