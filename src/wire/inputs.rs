//! What a workflow gets: [`Inputs`], one [`Input`] per form field, with the kind of each
//! input chosen by its Rust type.
//!
//! | Rust value | sent as |
//! |---|---|
//! | `&str`, `String` | a text field |
//! | integers, floats | a text field with the decimal number (`12345`, `7.5`) |
//! | `bool` | `true` / `false` |
//! | `serde_json::Value` | string/number/bool as above, object or array as compact JSON text, `null` dropped |
//! | `&Path`, `PathBuf` | a file part streamed from disk (filename = base name, type guessed) |
//! | [`Reader`] | a file part streamed from any reader, with the filename you give |
//! | `Vec<T>`, `[T; N]` | one field per item: `key_0`, `key_1`, ... |
//! | `Option<T>` | `None` dropped |
//!
//! A string is never uploaded as a file, even when it names one: use a `Path`, or opt in
//! with [`Input::path_or_text`].

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::wire::progress::{Progress, ProgressCallback};

pub use crate::wire::media::{HEAD_LEN as MEDIA_HEAD_LEN, check_media_bytes};
pub use crate::wire::typed_inputs::{FileInput, Number};

/// The inputs of one workflow run: form fields in the order they were added.
///
/// ```
/// use std::path::Path;
/// use flowscale::{Inputs, Reader};
///
/// let inputs = Inputs::new()
///     .set("text_51536", "a cat on a sofa")            // text
///     .set("seed_456", 12345)                          // number
///     .set("upscale_1", true)                          // boolean
///     .set("image_35728", Path::new("cat.png"))        // file from disk
///     .set("mask_1", Reader::new(&b"\x89PNG..."[..], "mask.png")) // any reader
///     .set("loras", vec!["a.safetensors", "b.safetensors"]) // loras_0, loras_1
///     .set("style", serde_json::json!({"steps": 20})); // compact JSON text
/// assert_eq!(inputs.len(), 7);
/// ```
#[derive(Default)]
#[must_use = "Inputs do nothing until passed to execute_workflow"]
pub struct Inputs {
    entries: Vec<(String, Input)>,
    #[cfg(feature = "async")]
    tail: Option<FieldStream>,
    progress: Option<ProgressCallback>,
    stop: Vec<Arc<std::sync::atomic::AtomicBool>>,
    handle: Option<crate::wire::submission::SubmissionHandle>,
    group: Option<String>,
}

/// Fields that arrive while the upload is already going (see [`Inputs::streamed_fields`]).
#[cfg(feature = "async")]
pub(crate) type FieldStream =
    std::pin::Pin<Box<dyn futures_core::Stream<Item = (String, Input)> + Send>>;

impl fmt::Debug for Inputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Inputs");
        d.field("entries", &self.entries);
        d.field("group_id", &self.group);
        #[cfg(feature = "async")]
        d.field("streamed_fields", &self.tail.is_some());
        d.field(
            "on_progress",
            &self.progress.as_ref().map(|_| "Fn(&Progress)"),
        );
        d.finish()
    }
}

impl Inputs {
    /// No inputs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field; the kind comes from the value's type (see the [module docs](self)).
    pub fn set(mut self, name: impl Into<String>, value: impl Into<Input>) -> Self {
        self.entries.push((name.into(), value.into()));
        self
    }

    /// Adds a text field.
    pub fn text(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.set(name, Input::Text(value.into()))
    }

    /// Adds a file from disk (filename = its base name, Content-Type guessed from it).
    pub fn file(self, name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        self.set(name, Input::file(path))
    }

    /// Adds a file part read from `reader`, sent with `filename`.
    pub fn reader(
        self,
        name: impl Into<String>,
        reader: impl Read + Send + 'static,
        filename: impl Into<String>,
    ) -> Self {
        self.set(name, Reader::new(reader, filename))
    }

    /// Adds a JSON value (objects and arrays are sent as one compact JSON text field).
    pub fn json(self, name: impl Into<String>, value: Value) -> Self {
        self.set(name, Input::from(value))
    }

    /// Adds a field in place.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<Input>) {
        self.entries.push((name.into(), value.into()));
    }

    /// How many fields were added (a list counts once).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no field was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether encoding these fields opens files (which the async client does off its
    /// runtime's workers; anything else is encoded in place).
    pub(crate) fn opens_files(&self) -> bool {
        self.entries.iter().any(|(_, input)| input.opens_files())
    }

    /// The fields, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Input)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Fields that are not known yet when the upload starts, sent after every other field
    /// as the stream yields them (`AsyncClient` only; the body is then sent chunked).
    ///
    /// This is how a server relays an upload it is still receiving without holding it: for
    /// each incoming field, yield its name and an [`Input`] (a
    /// [`Reader::from_async`] over a pipe for a file), and the request streams it on.
    /// `examples/axum_server.rs` does exactly that.
    #[cfg(feature = "async")]
    pub fn streamed_fields(
        mut self,
        fields: impl futures_core::Stream<Item = (String, Input)> + Send + 'static,
    ) -> Self {
        self.tail = Some(Box::pin(fields));
        self
    }

    /// Calls `callback` with the upload's [`Progress`]: bytes sent of the whole form, and
    /// its total when known, at most every 100 ms; the last report equals the total. For
    /// `execute_workflow` and `execute_workflow_and_wait` in both clients.
    ///
    /// ```
    /// use flowscale::Inputs;
    /// let inputs = Inputs::new()
    ///     .set("text_1", "a cat")
    ///     .on_progress(|p| eprintln!("{p}"));
    /// ```
    pub fn on_progress(mut self, callback: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(callback));
        self
    }

    /// Files the run under `group_id` (FlowScale's `group_id`: `runs_page` and `runs` list a
    /// group's runs). Runs are filed under no group otherwise. A [`Batch`](crate::Batch)
    /// files its jobs under its own [`Batch::group_id`](crate::Batch::group_id).
    ///
    /// ```
    /// let inputs = flowscale::Inputs::new()
    ///     .set("text_51536", "a cat")
    ///     .group_id("batch_001");
    /// assert_eq!(inputs.group(), Some("batch_001"));
    /// ```
    pub fn group_id(mut self, group_id: impl Into<String>) -> Self {
        self.group = Some(group_id.into());
        self
    }

    /// The group the run will be filed under, if one was given.
    pub fn group(&self) -> Option<&str> {
        self.group.as_deref()
    }

    /// Files the run under `group`, or under none: a batch's jobs go under the batch's.
    pub(crate) fn filed_under(mut self, group: Option<String>) -> Self {
        self.group = group;
        self
    }

    /// Takes the group out, for the request's query.
    pub(crate) fn take_group(&mut self) -> Option<String> {
        self.group.take()
    }

    /// Stops the upload before its end once `flag` is set (a Ctrl-C handler sets it, say):
    /// the body fails at its next piece and the request is cut short, so no run is started
    /// and nothing is paid for; the call returns [`Error::Input`](crate::Error::Input) with
    /// field `upload`. Once the body has gone out whole the flag has no effect: the run may
    /// exist, and the call waits for its answer. For `execute_workflow` and
    /// `execute_workflow_and_wait` in both clients. May be given more than once: any flag
    /// stops it.
    ///
    /// A relay that must refuse a request it is still streaming (a bad field in the middle
    /// of an upload) sets its flag *before* it ends the stream of
    /// [`streamed_fields`](Self::streamed_fields): the end of the stream then fails the body
    /// instead of completing it, and no run starts.
    ///
    /// To know whether the body had gone out whole when you stopped it, use a
    /// [`SubmissionHandle`](crate::SubmissionHandle) ([`track`](Self::track)) instead.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::AtomicBool;
    /// let stop = Arc::new(AtomicBool::new(false));
    /// let inputs = flowscale::Inputs::new()
    ///     .set("video", std::path::Path::new("clip.mp4"))
    ///     .stop_on(stop.clone());
    /// ```
    pub fn stop_on(mut self, flag: Arc<std::sync::atomic::AtomicBool>) -> Self {
        self.stop.push(flag);
        self
    }

    /// Lets `handle` watch this submission: its [state](crate::SubmissionState) (not sent,
    /// going out, out whole, answered, lost, found...) and a way to stop its upload. One
    /// handle for one submission; clones of the handle share it.
    ///
    /// ```
    /// use flowscale::{Inputs, SubmissionHandle};
    /// let handle = SubmissionHandle::new();
    /// let inputs = Inputs::new().set("text_51536", "a cat").track(&handle);
    /// // On Ctrl-C: handle.stop(), then say what handle.state() says.
    /// # drop(inputs);
    /// ```
    pub fn track(mut self, handle: &crate::wire::submission::SubmissionHandle) -> Self {
        self.handle = Some(handle.clone());
        self
    }

    /// The flags the upload shares with its sender and the caller's handle: the handle's
    /// (or new ones), stopped by every flag given to `stop_on` too.
    pub(crate) fn take_flags(&mut self) -> crate::wire::upload::UploadFlags {
        let mut flags = self
            .handle
            .take()
            .map(|h| h.flags().clone())
            .unwrap_or_default();
        flags.also_stop.append(&mut self.stop);
        flags
    }

    /// The fields, in the order they were set.
    pub(crate) fn entries(&self) -> &[(String, Input)] {
        &self.entries
    }

    /// Whether fields are still to come from a stream (`AsyncClient` only).
    pub(crate) fn has_streamed_fields(&self) -> bool {
        #[cfg(feature = "async")]
        return self.tail.is_some();
        #[cfg(not(feature = "async"))]
        return false;
    }

    /// The fields, the stream of later fields if any, and the progress callback.
    #[cfg(feature = "async")]
    pub(crate) fn into_parts(
        self,
    ) -> (
        Vec<(String, Input)>,
        Option<FieldStream>,
        Option<ProgressCallback>,
    ) {
        (self.entries, self.tail, self.progress)
    }

    /// The fields and the progress callback (blocking-only builds have no streamed fields).
    #[cfg(not(feature = "async"))]
    pub(crate) fn into_parts(
        self,
    ) -> (
        Vec<(String, Input)>,
        Option<std::convert::Infallible>,
        Option<ProgressCallback>,
    ) {
        (self.entries, None, self.progress)
    }
}

impl<K: Into<String>, V: Into<Input>> FromIterator<(K, V)> for Inputs {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Inputs {
            entries: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            ..Inputs::default()
        }
    }
}

impl<K: Into<String>, V: Into<Input>, const N: usize> From<[(K, V); N]> for Inputs {
    fn from(pairs: [(K, V); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl<K: Into<String>, V: Into<Input>> From<Vec<(K, V)>> for Inputs {
    fn from(pairs: Vec<(K, V)>) -> Self {
        pairs.into_iter().collect()
    }
}

/// One input value. Usually made for you by `Into<Input>`; build it directly to override
/// the detected kind (a file's name or type, say).
#[non_exhaustive]
pub enum Input {
    /// A text field.
    Text(String),
    /// A number, sent as its decimal text.
    Number(serde_json::Number),
    /// A boolean, sent as `true` / `false`.
    Bool(bool),
    /// A JSON object or array, sent as one compact JSON text field.
    Json(Value),
    /// A file from disk, streamed.
    File {
        /// Where the file is.
        path: PathBuf,
        /// The filename to send; default: the path's base name.
        filename: Option<String>,
        /// The Content-Type to send; default: guessed from the filename.
        content_type: Option<String>,
    },
    /// A file part streamed from a reader.
    Reader(Reader),
    /// Several values: item *i* is sent as field `<name>_<i>`.
    List(Vec<Input>),
    /// Nothing: the field is not sent.
    Null,
}

/// How an input is sent, field by field: a `List`'s item *i* is the field `<name>_<i>`
/// (items of items likewise), `Null` is sent as nothing, anything else as the one field
/// `name`. The one walker over an input: the form, the fingerprint and the check against
/// the catalog all take their fields from it, so the three can never disagree.
impl Input {
    /// The fields this input is sent as, borrowed, in order.
    pub(crate) fn fields<'a>(&'a self, name: &str) -> Vec<(String, &'a Input)> {
        let mut out = Vec::new();
        walk(name.to_owned(), self, &mut |field, input| {
            out.push((field, input))
        });
        out
    }

    /// The fields this input is sent as, owned, in order (for the form, which consumes
    /// readers).
    pub(crate) fn into_fields(self, name: &str) -> Vec<(String, Input)> {
        let mut out = Vec::new();
        walk_owned(name.to_owned(), self, &mut out);
        out
    }
}

/// The field of a list's item `i`.
pub(crate) fn list_item_name(name: &str, i: usize) -> String {
    format!("{name}_{i}")
}

fn walk<'a>(name: String, input: &'a Input, each: &mut dyn FnMut(String, &'a Input)) {
    match input {
        Input::Null => {}
        Input::List(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(list_item_name(&name, i), item, each);
            }
        }
        one => each(name, one),
    }
}

fn walk_owned(name: String, input: Input, out: &mut Vec<(String, Input)>) {
    match input {
        Input::Null => {}
        Input::List(items) => {
            for (i, item) in items.into_iter().enumerate() {
                walk_owned(list_item_name(&name, i), item, out);
            }
        }
        one => out.push((name, one)),
    }
}

impl Input {
    /// Whether encoding this input opens a file.
    pub(crate) fn opens_files(&self) -> bool {
        match self {
            Input::File { .. } => true,
            Input::List(items) => items.iter().any(Input::opens_files),
            _ => false,
        }
    }

    /// A file from disk, with the filename and Content-Type derived from the path.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Input::File {
            path: path.into(),
            filename: None,
            content_type: None,
        }
    }

    /// The Python SDK's rule, on request: a file part when `s` names an existing file,
    /// else a text field. Prefer [`Input::file`] or a `Path`: with this, text that happens
    /// to name a local file gets uploaded.
    pub fn path_or_text(s: impl Into<String>) -> Self {
        let s = s.into();
        if Path::new(&s).is_file() {
            Input::file(s)
        } else {
            Input::Text(s)
        }
    }

    /// Sets the filename sent for a file or reader (other kinds are returned unchanged).
    pub fn with_filename(self, name: impl Into<String>) -> Self {
        match self {
            Input::File {
                path, content_type, ..
            } => Input::File {
                path,
                filename: Some(name.into()),
                content_type,
            },
            Input::Reader(r) => Input::Reader(Reader {
                filename: name.into(),
                ..r
            }),
            other => other,
        }
    }

    /// Sets the Content-Type sent for a file or reader (other kinds are returned unchanged).
    pub fn with_content_type(self, mime: impl Into<String>) -> Self {
        match self {
            Input::File { path, filename, .. } => Input::File {
                path,
                filename,
                content_type: Some(mime.into()),
            },
            Input::Reader(r) => Input::Reader(r.with_content_type(mime)),
            other => other,
        }
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Text(s) => f.debug_tuple("Text").field(s).finish(),
            Input::Number(n) => f.debug_tuple("Number").field(n).finish(),
            Input::Bool(b) => f.debug_tuple("Bool").field(b).finish(),
            Input::Json(v) => f.debug_tuple("Json").field(v).finish(),
            Input::File {
                path,
                filename,
                content_type,
            } => f
                .debug_struct("File")
                .field("path", path)
                .field("filename", filename)
                .field("content_type", content_type)
                .finish(),
            Input::Reader(r) => r.fmt(f),
            Input::List(items) => f.debug_tuple("List").field(items).finish(),
            Input::Null => f.write_str("Null"),
        }
    }
}

/// Where a [`Reader`]'s bytes come from.
pub(crate) enum ReaderSource {
    Sync(Box<dyn Read + Send>),
    #[cfg(feature = "async")]
    Async(Box<dyn tokio::io::AsyncRead + Send + Unpin>),
}

/// Only the blocking transport asks these: the async one reads both kinds.
#[cfg(feature = "blocking")]
impl ReaderSource {
    /// Whether only the async client can read this source.
    pub(crate) fn is_async(&self) -> bool {
        !matches!(self, ReaderSource::Sync(_))
    }

    /// The blocking reader, if this is one.
    pub(crate) fn into_sync(self) -> Option<Box<dyn Read + Send>> {
        match self {
            ReaderSource::Sync(r) => Some(r),
            #[cfg(feature = "async")]
            ReaderSource::Async(_) => None,
        }
    }
}

/// A file part streamed from a reader: an open file, an in-memory buffer, a network body.
///
/// ```
/// use flowscale::Reader;
/// let png: &[u8] = b"\x89PNG\r\n...";
/// let part = Reader::new(png, "cat.png").with_length(png.len() as u64);
/// ```
///
/// The Content-Type is guessed from the filename unless set. Give the length with
/// [`Reader::with_length`] when you know it: the upload then carries an exact
/// `Content-Length`; without it the body is sent with chunked transfer encoding.
#[must_use = "a Reader does nothing until added to Inputs"]
pub struct Reader {
    pub(crate) source: ReaderSource,
    pub(crate) filename: String,
    pub(crate) content_type: Option<String>,
    pub(crate) len: Option<u64>,
}

impl Reader {
    /// A part read from `reader`, sent as `filename`.
    pub fn new(reader: impl Read + Send + 'static, filename: impl Into<String>) -> Self {
        Reader {
            source: ReaderSource::Sync(Box::new(reader)),
            filename: filename.into(),
            content_type: None,
            len: None,
        }
    }

    /// A part read from a Tokio `AsyncRead` (an upload your own server is receiving, say).
    /// Only [`AsyncClient`](crate::AsyncClient) can send it; `Client` rejects it with
    /// [`Error::Input`](crate::Error::Input).
    #[cfg(feature = "async")]
    pub fn from_async(
        reader: impl tokio::io::AsyncRead + Send + Unpin + 'static,
        filename: impl Into<String>,
    ) -> Self {
        Reader {
            source: ReaderSource::Async(Box::new(reader)),
            filename: filename.into(),
            content_type: None,
            len: None,
        }
    }

    /// The exact number of bytes the reader yields. The upload fails (rather than sending a
    /// corrupt file) if the reader yields a different number.
    pub fn with_length(mut self, len: u64) -> Self {
        self.len = Some(len);
        self
    }

    /// The Content-Type to send instead of the guess from the filename.
    pub fn with_content_type(mut self, mime: impl Into<String>) -> Self {
        self.content_type = Some(mime.into());
        self
    }
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl From<Reader> for Input {
    fn from(r: Reader) -> Self {
        Input::Reader(r)
    }
}

impl From<&str> for Input {
    fn from(s: &str) -> Self {
        Input::Text(s.to_owned())
    }
}

impl From<String> for Input {
    fn from(s: String) -> Self {
        Input::Text(s)
    }
}

impl From<&String> for Input {
    fn from(s: &String) -> Self {
        Input::Text(s.clone())
    }
}

impl From<bool> for Input {
    fn from(b: bool) -> Self {
        Input::Bool(b)
    }
}

macro_rules! integer_inputs {
    ($($t:ty),*) => {$(
        impl From<$t> for Input {
            fn from(n: $t) -> Self {
                Input::Number(serde_json::Number::from(n))
            }
        }
    )*};
}
integer_inputs!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl From<f64> for Input {
    fn from(x: f64) -> Self {
        match serde_json::Number::from_f64(x) {
            Some(n) => Input::Number(n),
            // NaN and infinities have no JSON number; send their usual text.
            None => Input::Text(x.to_string()),
        }
    }
}

impl From<f32> for Input {
    fn from(x: f32) -> Self {
        // Through the shortest decimal text, so 0.1f32 is sent as "0.1", not 0.10000000149.
        Input::from(x.to_string().parse::<f64>().unwrap_or(f64::NAN))
    }
}

impl From<Value> for Input {
    fn from(v: Value) -> Self {
        match v {
            Value::Null => Input::Null,
            Value::Bool(b) => Input::Bool(b),
            Value::Number(n) => Input::Number(n),
            Value::String(s) => Input::Text(s),
            v @ (Value::Array(_) | Value::Object(_)) => Input::Json(v),
        }
    }
}

impl From<&Path> for Input {
    fn from(p: &Path) -> Self {
        Input::file(p)
    }
}

impl From<PathBuf> for Input {
    fn from(p: PathBuf) -> Self {
        Input::file(p)
    }
}

impl From<&PathBuf> for Input {
    fn from(p: &PathBuf) -> Self {
        Input::file(p.clone())
    }
}

impl<T: Into<Input>> From<Vec<T>> for Input {
    fn from(items: Vec<T>) -> Self {
        Input::List(items.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Input>, const N: usize> From<[T; N]> for Input {
    fn from(items: [T; N]) -> Self {
        Input::List(items.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Input>> From<Option<T>> for Input {
    fn from(v: Option<T>) -> Self {
        v.map_or(Input::Null, Into::into)
    }
}
