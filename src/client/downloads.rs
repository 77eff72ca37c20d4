//! Downloading outputs, written once and compiled into both clients: one link to a file,
//! one link into memory, and every output of a run into a directory.

use std::path::Path;

use super::resuming::{Link, Target};
use super::{Client, maybe_async, transport};
use crate::decide::file_name;
use crate::decide::names::{self, NameBook, Naming};
use crate::decide::record::SavedOutput;
use crate::decide::wait::{OutputFile, WorkflowResult, file_for};
use crate::files::partial::{NotCommitted, PartialFile, Unavailable};
use crate::files::reserve;
use crate::files::save::{self, DownloadOptions};
use crate::wire::error::{Error, Result};
use crate::wire::failure::TransportErrorKind;
use crate::wire::link;
use crate::wire::progress::Meter;
use crate::wire::types::RunStatus;

#[maybe_async]
impl Client {
    /// Saves every output of a completed run into `dir` (created if needed), each under a
    /// safe name, and returns what was written.
    ///
    /// - The name is the output's name with its real extension (from the file name the run
    ///   reports, else the link's path, else the `Content-Type`), sanitised: a plain base
    ///   name, never a path, so no server answer can make this write outside `dir`.
    /// - A name that exists in `dir` (or that two outputs share) gets a numbered suffix
    ///   (`image-1.png`) unless [`DownloadOptions::overwrite`] is set;
    ///   [`DownloadOptions::skip_existing`] keeps the file that is there instead.
    /// - Bytes go to `<name>.part`, renamed into place only when complete and matching
    ///   `Content-Length`; a failed download leaves no file at its final name, and keeps
    ///   the bytes it got in `<name>.part` for the next call to resume
    ///   ([`Error::Incomplete`](crate::Error::Incomplete)).
    /// - A body cut short is resumed with `Range` / `If-Range` while it makes progress, a
    ///   `.part` file of the same output left by a killed process is resumed, and an expired
    ///   link (403) is replaced once by a fresh one (`flowscale::guide::downloads`).
    /// - `AsyncClient` downloads up to [`DownloadOptions::concurrency`] outputs at once;
    ///   `Client` one after the other. Links are fetched without the API key.
    #[doc = example!(client {
        "use flowscale::{DownloadOptions, Inputs, WaitOptions};"
        "let result = client.execute_workflow_and_wait("
        "    \"bncu0a1kipv\", Inputs::new().set(\"text_51536\", \"a cat\"), &WaitOptions::new(),"
        ")?;"
        "for saved in client.download_outputs(&result, \"outputs\", &DownloadOptions::new())? {"
        "    println!(\"{} -> {} ({} bytes)\", saved.name, saved.path.display(), saved.bytes);"
        "}"
    } {
        "use flowscale::{DownloadOptions, Inputs, WaitOptions};"
        "let result = client.execute_workflow_and_wait("
        "    \"bncu0a1kipv\", Inputs::new().set(\"text_51536\", \"a cat\"), &WaitOptions::new(),"
        ").await?;"
        "for saved in client.download_outputs(&result, \"outputs\", &DownloadOptions::new()).await? {"
        "    println!(\"{} -> {} ({} bytes)\", saved.name, saved.path.display(), saved.bytes);"
        "}"
    })]
    pub async fn download_outputs(
        &self,
        result: &WorkflowResult,
        dir: impl AsRef<Path>,
        options: &DownloadOptions,
    ) -> Result<Vec<SavedOutput>> {
        for out in &result.outputs {
            link::check_url(&out.download_url)?;
        }
        let dir = dir.as_ref();
        let suffixes = names::first_suffixes(result.outputs.iter().map(|o| o.name.as_str()));
        let jobs: Vec<_> = result.outputs.iter().zip(suffixes).collect();
        self.save_each(&jobs, dir, &NameBook::default(), options)
            .await
    }

    /// Saves every output of a run finished earlier (by id) into `dir`, as
    /// `download_outputs` does: asks FlowScale for the run and its outputs' links first.
    /// A run that has not completed is an [`Error::Input`](crate::Error::Input) that says
    /// so: one still going is to be waited for first (`wait_for_run`), one that failed has
    /// nothing to download.
    #[doc = example!(client {
        "use flowscale::DownloadOptions;"
        "let run_id = \"808f34d0-ef97-4b78-a00f-1268077ea6db\";"
        "let saved = client.download_run_outputs(run_id, \"outputs\", &DownloadOptions::new())?;"
        "println!(\"{} file(s)\", saved.len());"
    } {
        "use flowscale::DownloadOptions;"
        "let run_id = \"808f34d0-ef97-4b78-a00f-1268077ea6db\";"
        "let saved = client.download_run_outputs(run_id, \"outputs\", &DownloadOptions::new()).await?;"
        "println!(\"{} file(s)\", saved.len());"
    })]
    pub async fn download_run_outputs(
        &self,
        run_id: &str,
        dir: impl AsRef<Path>,
        options: &DownloadOptions,
    ) -> Result<Vec<SavedOutput>> {
        let run = self.run(run_id).await?;
        if run.status != RunStatus::Completed {
            // Said without naming a function: the tool shows this message too.
            let why = match run.status.is_failure() {
                true => format!(
                    "run {run_id} is {}: it has no outputs to download",
                    run.status
                ),
                false => format!(
                    "run {run_id} is {}, not completed yet: wait for it to complete first",
                    run.status
                ),
            };
            return Err(Error::input("run_id", why));
        }
        let mut outputs = Vec::new();
        for name in &run.output_names {
            let Some(out) = self.output(name).await? else {
                return Err(Error::input(
                    "run_id",
                    format!("output {name} of run {run_id} is not ready yet"),
                ));
            };
            outputs.push(OutputFile {
                name: name.clone(),
                download_url: out.download_url,
                generation_status: out.generation_status,
                filename: file_for(&run.outputs, name),
            });
        }
        let result = WorkflowResult {
            run_id: run.id.unwrap_or_else(|| run_id.to_owned()),
            workflow_id: run.workflow_id,
            outputs,
        };
        self.download_outputs(&result, dir, options).await
    }

    /// Saves one output into `dir` under a reserved safe name, resuming a partial file of
    /// it that a killed process left, and a body cut short (`fetch_resuming`).
    pub(super) async fn save_output(
        &self,
        (out, first): (&OutputFile, u32),
        dir: &Path,
        book: &NameBook,
        options: &DownloadOptions,
    ) -> Result<SavedOutput> {
        let url = out.download_url.as_str();
        let mut turn = Some(self.turn(url).await?);
        // The name, hence the partial file to resume, is known before anything is fetched
        // unless only the answer's Content-Type can give the extension.
        let known = file_name::extension(out.filename.as_deref(), url, None);
        let answer = match known.is_empty() {
            true => Some(transport::fetch(&self.http, &self.settings, url, None).await?),
            false => None,
        };
        let ext = match &answer {
            Some((head, _)) => {
                file_name::extension(out.filename.as_deref(), url, head.content_type.as_deref())
            }
            None => known,
        };
        // One order of names for every step that takes one: the file saved earlier, the
        // reservation, the commit.
        let mut naming = Naming::new(&out.name, &ext, first, book.clone());
        // A small local check, done in place (as the resume loop's are).
        if options.skips_existing()
            && let Some((path, bytes)) = reserve::existing(dir, &mut naming)
        {
            let saved = SavedOutput::new(out.name.clone(), path, bytes);
            options.saved(&saved);
            return Ok(saved);
        }
        let (reserved, file, mut part) = {
            let (dir, source, overwrite) =
                (dir.to_path_buf(), out.name.clone(), options.overwrites());
            let reserve = move || reserve::reserve(&dir, naming, &source, overwrite);
            transport::run_blocking(reserve).await?
        };
        let mut meter = options.meter(&out.name, &reserved.path(), None);
        let mut link = Link {
            url: url.to_owned(),
            output: Some(out.name.clone()),
        };
        let target = Target {
            partial: reserved.partial(),
            file: &file,
        };
        let written = self
            .fetch_resuming(&mut link, &target, &mut part, &mut meter, &mut turn, answer)
            .await?;
        drop(file);
        // Dropped on any error, `reserved` keeps a partial file with bytes to resume.
        let path = transport::run_blocking(move || reserved.commit()).await?;
        meter.finish();
        let saved = SavedOutput::new(out.name.clone(), path, written);
        options.saved(&saved);
        Ok(saved)
    }

    /// Downloads `url` (an output's `download_url`) to the file `dest`, streaming, and
    /// returns the number of bytes written. The API key is not sent: download links are
    /// presigned. `dest` is taken as given and replaced if it exists: to save a run's
    /// outputs under names the server chose, use `download_outputs`, which sanitises them.
    ///
    /// The bytes go to `<dest>.part` first (created new, never through a link; one left by
    /// a killed process is taken over, and resumed when it is of the same link and the
    /// server's validator still holds), which is renamed to `dest` only once the whole body
    /// has arrived, matched its `Content-Length` and is synced, so a partial download is
    /// never left looking complete. A body cut short is resumed with `Range` and `If-Range`
    /// while it makes progress; given up, the call fails with
    /// [`Error::Incomplete`](crate::Error::Incomplete) and keeps the `.part` file (and its
    /// record) for the next call to resume. Two downloads to one `dest` at once: the second fails with
    /// [`Error::Io`](crate::Error::Io) before anything is written.
    #[doc = example!(client {
        "let bytes = client.download(\"https://bucket.example/out.png?sig=...\", \"out.png\")?;"
        "println!(\"{bytes} bytes\");"
    } {
        "let bytes = client.download(\"https://bucket.example/out.png?sig=...\", \"out.png\").await?;"
        "println!(\"{bytes} bytes\");"
    })]
    pub async fn download(&self, url: &str, dest: impl AsRef<Path>) -> Result<u64> {
        link::check_url(url)?;
        let dest = dest.as_ref().to_path_buf();
        save::check_dest(&dest)?;
        let mut turn = Some(self.turn(url).await?);
        // A partial file of this link's (by its address without the signature) that a
        // killed process left is resumed.
        let source = link::redact(url);
        let (partial, file, mut part) = {
            let dest = dest.clone();
            transport::run_blocking(move || match PartialFile::create(&dest, &source) {
                Ok(created) => Ok(created),
                Err(Unavailable::InUse(partial)) => Err(Error::io(
                    &partial,
                    std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "another download to this file is in progress, or something that is \
                         not a file of ours is in the way",
                    ),
                )),
                Err(Unavailable::Failed(e)) => Err(e),
            })
            .await?
        };
        let mut meter = Meter::off();
        let mut link = Link {
            url: url.to_owned(),
            output: None,
        };
        let target = Target {
            partial: &partial,
            file: &file,
        };
        let written = self
            .fetch_resuming(&mut link, &target, &mut part, &mut meter, &mut turn, None)
            .await?;
        drop(file);
        // Dropped on any error (or with this future), `partial` keeps bytes to resume.
        transport::run_blocking(move || match partial.commit(&dest, true) {
            Ok(()) => Ok(written),
            Err(NotCommitted::Failed(e)) => Err(e),
            // A replacing commit does not look at what is there; kept for completeness.
            Err(NotCommitted::Taken(_)) => Err(Error::io(
                &dest,
                std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            )),
        })
        .await
    }

    /// Downloads `url` into memory, refusing a body larger than `max_bytes`: one announced
    /// larger is refused before it is read, one that grows past it as soon as it does
    /// ([`TransportErrorKind::BodyTooLarge`](crate::TransportErrorKind::BodyTooLarge)).
    #[doc = example!(client {
        "let png = client.download_bytes(\"https://bucket.example/out.png?sig=...\", 50 << 20)?;"
        "println!(\"{} bytes\", png.len());"
    } {
        "let png = client.download_bytes(\"https://bucket.example/out.png?sig=...\", 50 << 20).await?;"
        "println!(\"{} bytes\", png.len());"
    })]
    pub async fn download_bytes(&self, url: &str, max_bytes: u64) -> Result<Vec<u8>> {
        link::check_url(url)?;
        let _turn = self.turn(url).await?;
        let (head, body) = transport::fetch(&self.http, &self.settings, url, None).await?;
        if head.content_length.is_some_and(|n| n > max_bytes) {
            let kind = TransportErrorKind::BodyTooLarge { limit: max_bytes };
            return Err(Error::transport(&link::redact(url), kind, None));
        }
        let bytes = transport::read_to_vec(url, body, max_bytes).await?;
        link::check_length(url, bytes.len() as u64, head.content_length)?;
        Ok(bytes)
    }

    /// A turn through the bound on requests in flight, held for the whole body: a
    /// download is a request like any other to `max_concurrent_requests`.
    pub(super) async fn turn(&self, url: &str) -> Result<transport::Pass<'_>> {
        transport::enter(&self.gate, None)
            .await
            .ok_or_else(|| Error::transport(&link::redact(url), TransportErrorKind::Other, None))
    }
}
