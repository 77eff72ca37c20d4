//! A stable fingerprint of a run request: what lets a batch or a build script recognise a
//! request it already paid for.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

// SHA-256 from ring, which rustls compiles in already (no hashing crates of its own).
use ring::digest::{Context, SHA256};

use crate::decide::record::Fingerprint;
use crate::inputs::{Input, Inputs};
use crate::wire::error::{Error, Result};
use crate::wire::form::{field_text, file_naming};
use crate::wire::submission::SentValue;

/// Names the encoding below; a new encoding gets a new tag (and a new major version).
const DOMAIN: &[u8] = b"flowscale-fingerprint-v1\0";

/// One field as it is sent, borrowed from the inputs.
enum Leaf<'a> {
    Text(String),
    File {
        path: &'a Path,
        filename: String,
        content_type: String,
    },
}

impl Inputs {
    /// A stable fingerprint of running `workflow_id` with these inputs under `group_id`.
    ///
    /// It covers every field exactly as it is sent (lists as `name_0`, `name_1`, ...; nulls
    /// dropped; numbers, booleans and JSON as their text), in name order (the order fields
    /// were set in does not matter), and files by their name, Content-Type and content,
    /// read from disk in pieces (never whole). The same request gives the same fingerprint in
    /// every run, on every platform, with either client; any change to a value or a file's
    /// bytes gives another. The encoding is stable within a major version of this crate.
    ///
    /// Readers and streamed fields cannot be fingerprinted without consuming them: give
    /// such an input as a file (an [`Error::Input`] says which field).
    ///
    /// ```
    /// use flowscale::Inputs;
    /// let a = Inputs::new().set("text_1", "a cat").set("seed", 7);
    /// let b = Inputs::new().set("seed", 7).set("text_1", "a cat");
    /// assert_eq!(a.fingerprint("wf", None)?, b.fingerprint("wf", None)?);
    /// assert_ne!(a.fingerprint("wf", None)?, a.fingerprint("wf", Some("g"))?);
    /// # Ok::<(), flowscale::Error>(())
    /// ```
    pub fn fingerprint(&self, workflow_id: &str, group_id: Option<&str>) -> Result<Fingerprint> {
        if self.has_streamed_fields() {
            return Err(Error::input(
                "streamed_fields",
                "streamed fields cannot be fingerprinted: they are known only while sending",
            ));
        }
        let mut leaves = Vec::new();
        for (name, input) in self.entries() {
            flatten(name.clone(), input, &mut leaves)?;
        }
        // A stable sort: fields that share a name keep their order.
        leaves.sort_by(|a, b| a.0.cmp(&b.0));

        let mut h = Context::new(&SHA256);
        h.update(DOMAIN);
        put(&mut h, workflow_id.as_bytes());
        match group_id {
            Some(g) => {
                h.update(&[1]);
                put(&mut h, g.as_bytes());
            }
            None => h.update(&[0]),
        }
        h.update(&(leaves.len() as u64).to_le_bytes());
        for (name, leaf) in &leaves {
            put(&mut h, name.as_bytes());
            match leaf {
                Leaf::Text(text) => {
                    h.update(b"t");
                    put(&mut h, text.as_bytes());
                }
                Leaf::File {
                    path,
                    filename,
                    content_type,
                } => {
                    h.update(b"f");
                    put(&mut h, filename.as_bytes());
                    put(&mut h, content_type.as_bytes());
                    let (len, digest) = hash_file(name, path)?;
                    h.update(&len.to_le_bytes());
                    h.update(&digest);
                }
            }
        }
        Ok(Fingerprint::from_hex(hex(h.finish().as_ref())))
    }
}

impl Inputs {
    /// Every field as it will be sent, in name order: a text field's text, a file's name
    /// and size (what a lost submission's run is recognised by). `None` when the inputs
    /// cannot be read without consuming them (readers, streams).
    pub(crate) fn sent_fields(&self) -> Option<Vec<(String, SentValue)>> {
        if self.has_streamed_fields() {
            return None;
        }
        let mut leaves = Vec::new();
        for (name, input) in self.entries() {
            flatten(name.clone(), input, &mut leaves).ok()?;
        }
        leaves.sort_by(|a, b| a.0.cmp(&b.0));
        Some(
            leaves
                .into_iter()
                .map(|(name, leaf)| match leaf {
                    Leaf::Text(text) => (name, SentValue::Text(text)),
                    Leaf::File { filename, path, .. } => {
                        let size = std::fs::metadata(path).ok().map(|m| m.len());
                        (name, SentValue::File { filename, size })
                    }
                })
                .collect(),
        )
    }
}

/// The leaves of one input, through the one walker (`Input::fields`).
fn flatten<'a>(name: String, input: &'a Input, out: &mut Vec<(String, Leaf<'a>)>) -> Result<()> {
    for (field, leaf) in input.fields(&name) {
        if let Some(text) = field_text(leaf) {
            out.push((field, Leaf::Text(text)));
            continue;
        }
        match leaf {
            Input::File {
                path,
                filename,
                content_type,
            } => {
                let (filename, content_type) =
                    file_naming(&field, path, filename.clone(), content_type.clone())?;
                out.push((
                    field,
                    Leaf::File {
                        path,
                        filename,
                        content_type,
                    },
                ));
            }
            Input::Reader(_) => {
                return Err(Error::input(
                    field,
                    "a reader cannot be fingerprinted without consuming it; give it as a file path",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// A length-prefixed piece, so that no two different requests encode alike.
fn put(h: &mut Context, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// A file's length and SHA-256, read in 64 KiB pieces.
fn hash_file(field: &str, path: &Path) -> Result<(u64, [u8; 32])> {
    let fail =
        |e: io::Error| Error::input(field, format!("cannot read file {}: {e}", path.display()));
    let mut file = File::open(path).map_err(fail)?;
    let mut h = Context::new(&SHA256);
    let mut buf = vec![0; 64 * 1024];
    let mut len = 0u64;
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                h.update(&buf[..n]);
                len += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(fail(e)),
        }
    }
    let mut digest = [0; 32];
    digest.copy_from_slice(h.finish().as_ref());
    Ok((len, digest))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
