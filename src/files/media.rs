//! A file's kind, from its first bytes (`wire::media` judges them): the check of file
//! inputs against the catalog before a paid run, for the library (`Inputs::check_media`,
//! run by `ClientBuilder::check_inputs`) and the tool alike.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::inputs::{Input, Inputs};
use crate::wire::catalog::{ValueKind, Workflow};
use crate::wire::error::{Error, Result};
use crate::wire::media::{HEAD_LEN, judge};

/// Whether the file at `path` can go where the catalog takes `wanted`: `Err` with why not
/// (empty, unreadable, or of another kind).
pub(crate) fn check_media_file(path: &Path, wanted: &ValueKind) -> std::result::Result<(), String> {
    if !wanted.is_file() {
        return Ok(());
    }
    let shown = path.display().to_string();
    let cannot = |e: std::io::Error| format!("cannot read {shown}: {e}");
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    let mut head = [0u8; HEAD_LEN];
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(cannot(e)),
        }
    }
    judge(&head[..read], &shown, wanted)
}

impl Inputs {
    /// Checks every file input given as a path against the kind `workflow`'s catalog entry
    /// gives it, by its first bytes (else its extension): an empty file, or one of another
    /// kind (a `readme.txt` where an image goes), is an [`Error::Input`] naming the field,
    /// before anything is sent. Readers are not read ahead (that would consume them); the
    /// tool reads standard input's first bytes itself and checks them with
    /// [`check_media_bytes`](crate::inputs::check_media_bytes()).
    ///
    /// A client built with [`check_inputs(true)`](crate::ClientBuilder::check_inputs) runs
    /// this with [`check`](Inputs::check) before every submission (the async client on its
    /// blocking pool). It reads the files: called directly from async code, it blocks.
    pub fn check_media(&self, workflow: &Workflow) -> Result<()> {
        check_paths(&self.file_paths(), workflow)
    }

    /// Every file input given as a path, by the field it is sent as.
    pub(crate) fn file_paths(&self) -> Vec<(String, PathBuf)> {
        let mut files = Vec::new();
        for (name, input) in self.iter() {
            for (field, leaf) in input.fields(name) {
                if let Input::File { path, .. } = leaf {
                    files.push((field, path.clone()));
                }
            }
        }
        files
    }
}

/// Checks files (field, path) against the kinds `workflow`'s catalog entry gives them.
pub(crate) fn check_paths(files: &[(String, PathBuf)], workflow: &Workflow) -> Result<()> {
    for (field, path) in files {
        if let Some(wanted) = workflow.input(field) {
            check_media_file(path, &wanted.kind).map_err(|why| Error::input(field, why))?;
        }
    }
    Ok(())
}
