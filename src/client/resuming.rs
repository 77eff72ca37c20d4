//! Fetching one download into its partial file, resumed where it stopped: written once and
//! compiled into both clients. The decisions (what to ask for, what an answer means, what
//! to do after a failure) are `decide::resume`'s and `decide::fetch`'s; this is the I/O
//! around them.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::Path;
use std::time::Instant;

use super::{Client, maybe_async, transport};
use crate::decide::fetch::{Body, Fetch, Next};
use crate::decide::resume::Part;
use crate::files::partial::PartialFile;
use crate::transport::DownloadHead;
use crate::wire::error::{Error, Result};
use crate::wire::failure::TransportErrorKind;
use crate::wire::link;
use crate::wire::progress::Meter;

/// A download link, and the output it is of when a fresh link can be asked for (a presigned
/// link that expired answers 403).
pub(super) struct Link {
    pub url: String,
    pub output: Option<String>,
}

/// Where the bytes go: the partial file (which records what it holds for a later
/// process) and a handle on it, positioned by the loop.
pub(super) struct Target<'a> {
    pub partial: &'a PartialFile,
    pub file: &'a File,
}

impl Target<'_> {
    fn path(&self) -> &Path {
        self.partial.path()
    }
}

#[maybe_async]
impl Client {
    /// Streams `link` into `target`, which holds `part` already (bytes an earlier process
    /// left, or none), and returns the file's final length, checked against the whole
    /// length the server gave.
    ///
    /// A body cut short (reset, truncated, stalled past the response timeout) is asked for
    /// again from where the file ends, with `Range` and `If-Range`: at once when the body
    /// brought bytes before it broke, else after the retry policy's delay, and given up
    /// only when the policy's attempts (or `max_total`) pass without a byte; the partial
    /// file is then kept for the next call ([`Error::Incomplete`]). A `206` that continues
    /// the file is appended, a `200` (the range
    /// ignored, or the file changed) starts the file over, and a `416` or a range that
    /// does not fit asks for the whole file again. A link that answers 403 is replaced
    /// once by a fresh one for its output. `first` is an answer already in hand (asked
    /// without a range). `turn` is the caller's turn through the request bound, given up
    /// while a fresh link is asked for (that request needs a turn of its own).
    pub(super) async fn fetch_resuming<'c>(
        &'c self,
        link: &mut Link,
        target: &Target<'_>,
        part: &mut Part,
        meter: &mut Meter,
        turn: &mut Option<transport::Pass<'c>>,
        mut first: Option<(DownloadHead, transport::DownloadBody)>,
    ) -> Result<u64> {
        let mut fetch = Fetch::new(&self.settings.retry, link.output.is_some(), Instant::now());
        loop {
            let asked = part.range().map(|(from, v)| (from, v.map(str::to_owned)));
            let fetched = match first.take() {
                Some(answer) => Ok(answer),
                None => {
                    let range = asked.as_ref().map(|(from, v)| (*from, v.as_deref()));
                    transport::fetch(&self.http, &self.settings, &link.url, range).await
                }
            };
            let (head, body) = match fetched {
                Ok(answer) => answer,
                Err(e) => {
                    match fetch.failed(part, &e, Instant::now()) {
                        Next::Refresh => self.refresh(link, turn, e).await?,
                        next => self.after_cut(next, e, target, part).await?,
                    }
                    continue;
                }
            };
            let (at, total) = match fetch.answered(part, asked.map(|(from, _)| from), &head) {
                Body::Write { at, total } => (at, total),
                Body::Refetch => continue,
                Body::Refuse => return Err(no_fit(&link.url, head.content_range.as_deref())),
            };
            // Small, local file operations: done in place, as the writes themselves are.
            position(target, at)?;
            if part.resumable() {
                target.partial.remember(part)?;
            }
            meter.at(at, total);
            let writer = target
                .file
                .try_clone()
                .map_err(|e| Error::io(target.path(), e))?;
            let outcome = transport::save(&link.url, body, writer, target.path(), meter).await;
            part.have = (target.file.metadata())
                .map_err(|e| Error::io(target.path(), e))?
                .len();
            match outcome {
                Ok(_) => return link::check_length(&link.url, part.have, total),
                Err(e) => {
                    let next = fetch.broke(part, at, &e, Instant::now());
                    self.after_cut(next, e, target, part).await?;
                }
            }
        }
    }

    /// Carries out `next` after `error`: at once, after a delay, or giving up with the
    /// partial file kept.
    async fn after_cut(
        &self,
        next: Next,
        error: Error,
        target: &Target<'_>,
        part: &Part,
    ) -> Result<()> {
        match next {
            Next::Again => Ok(()),
            Next::Sleep(delay) => {
                transport::sleep(delay).await;
                Ok(())
            }
            Next::Refresh | Next::GiveUp => Err(kept(error, target.path(), part)),
        }
    }

    /// Replaces an expired link (`error`, a 403) by a fresh one for its output. `turn` is
    /// given up meanwhile: that request needs a turn of its own through the request bound.
    async fn refresh<'c>(
        &'c self,
        link: &mut Link,
        turn: &mut Option<transport::Pass<'c>>,
        error: Error,
    ) -> Result<()> {
        *turn = None;
        let name = link.output.as_deref().unwrap_or_default();
        let fresh = self.fetch_output(name, None).await?.ok_or(error)?;
        link::check_url(&fresh.download_url)?;
        link.url = fresh.download_url;
        *turn = Some(self.turn(&link.url).await?);
        Ok(())
    }
}

/// Cuts the partial file to `at` bytes and puts its handle there.
fn position(target: &Target<'_>, at: u64) -> Result<()> {
    let io = |e| Error::io(target.path(), e);
    target.file.set_len(at).map_err(io)?;
    (&mut &*target.file).seek(SeekFrom::Start(at)).map_err(io)?;
    Ok(())
}

/// A server that keeps answering ranges that do not continue the file.
fn no_fit(url: &str, range: Option<&str>) -> Error {
    let reason = format!(
        "the server answered a range ({}) that does not continue the file, again; try the \
         download later, or ask the link's owner: its server mixes up ranges",
        range.unwrap_or("none")
    );
    Error::transport(
        &link::redact(url),
        TransportErrorKind::Other,
        Some(Box::new(std::io::Error::other(reason))),
    )
}

/// A download given up: its partial file and record stay for the next call, which resumes
/// them (said in the error when there are bytes to resume).
fn kept(error: Error, partial: &Path, part: &Part) -> Error {
    if part.have == 0 || !part.resumable() {
        return error;
    }
    Error::Incomplete {
        partial: partial.to_path_buf(),
        have: part.have,
        total: part.total,
        cause: Box::new(error),
    }
}
