//! Asking for several outputs, and saving them, one after the other (blocking client).

use std::path::Path;
use std::time::Instant;

use super::Client;
use crate::decide::names::NameBook;
use crate::decide::record::SavedOutput;
use crate::decide::wait::OutputFile;
use crate::files::save::DownloadOptions;
use crate::wire::error::Result;
use crate::wire::types::Output;

impl Client {
    /// `output` for each name, in order, each answered by `deadline`.
    pub(crate) fn fetch_outputs(
        &self,
        names: Vec<String>,
        deadline: Option<Instant>,
    ) -> Vec<(String, Result<Option<Output>>)> {
        names
            .into_iter()
            .map(|name| {
                let answer = self.fetch_output(&name, deadline);
                (name, answer)
            })
            .collect()
    }

    /// Saves each output in turn; a failure does not stop the others (as in `AsyncClient`,
    /// which saves them all concurrently), so both clients leave the same files behind. The
    /// first failure is returned.
    pub(crate) fn save_each(
        &self,
        outputs: &[(&OutputFile, u32)],
        dir: &Path,
        book: &NameBook,
        options: &DownloadOptions,
    ) -> Result<Vec<SavedOutput>> {
        let saved: Vec<_> = outputs
            .iter()
            .map(|&out| self.save_output(out, dir, book, options))
            .collect();
        saved.into_iter().collect()
    }
}
