//! Asking for several outputs, and saving them, concurrently (async client).

use std::path::Path;
use std::time::Instant;

use futures_util::StreamExt;
use futures_util::future::join_all;

use super::Client;
use crate::decide::names::NameBook;
use crate::decide::record::SavedOutput;
use crate::decide::wait::OutputFile;
use crate::files::save::DownloadOptions;
use crate::wire::error::Result;
use crate::wire::types::Output;

impl Client {
    /// `output` for each name, concurrently, each answered by `deadline`; answers in
    /// the order of `names`.
    pub(crate) async fn fetch_outputs(
        &self,
        names: Vec<String>,
        deadline: Option<Instant>,
    ) -> Vec<(String, Result<Option<Output>>)> {
        join_all(names.into_iter().map(|name| async move {
            let answer = self.fetch_output(&name, deadline).await;
            (name, answer)
        }))
        .await
    }

    /// Saves the outputs, up to the options' concurrency at once, in order. Every started
    /// download runs to its end (none is dropped half-way); the first failure is returned.
    pub(crate) async fn save_each(
        &self,
        outputs: &[(&OutputFile, u32)],
        dir: &Path,
        book: &NameBook,
        options: &DownloadOptions,
    ) -> Result<Vec<SavedOutput>> {
        // Indices, not borrowed items: a closure taking references would make the future
        // not `Send` (its lifetimes cannot be proven general enough).
        futures_util::stream::iter(0..outputs.len())
            .map(|i| self.save_output(outputs[i], dir, book, options))
            .buffered(options.concurrency_limit())
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    }
}
