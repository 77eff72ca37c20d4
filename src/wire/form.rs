//! The form encoder shared by both clients: turns [`Inputs`] into a request body.
//!
//! Always `multipart/form-data` (RFC 7578), text-only forms included, as FlowScale's
//! OpenAPI file has the execute body (the Python SDK sends text-only forms urlencoded; both
//! are known to work): a list of segments (header bytes, open files, readers) that the
//! transports stream, with the exact total length when every size is known. An empty form
//! is an empty multipart body (its closing boundary). Files are opened here, before any byte is sent, so a missing file is an
//! [`Error::Input`] naming the field and the path.

use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::PathBuf;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::inputs::{Input, Inputs, ReaderSource};
use crate::wire::error::{Error, Result};
use crate::wire::progress::ProgressCallback;
#[cfg(feature = "async")]
use crate::wire::submission::SentFields;
use crate::wire::submission::SentValue;
use crate::wire::upload::Origin;

/// An encoded body, ready to stream.
pub(crate) struct EncodedForm {
    /// The `Content-Type` header value (with the boundary for multipart).
    pub content_type: String,
    /// The exact body length, when every part's size is known.
    pub length: Option<u64>,
    /// The body, in order.
    pub segments: Vec<Segment>,
    /// Who watches the upload's progress, if anyone.
    pub progress: Option<ProgressCallback>,
    /// Whether the body went out whole, and whether to stop it before its end.
    pub flags: crate::wire::upload::UploadFlags,
    /// Every field as it goes out (moved into `flags` once encoded).
    sent: Vec<(String, SentValue)>,
}

/// The largest body sent from memory in one piece, without the streaming machinery (the
/// progress and stall watch an upload needs): a form of text fields is a few hundred bytes.
const SMALL_BODY: usize = 64 * 1024;

impl EncodedForm {
    /// Takes the whole body out when it is one piece of memory of at most 64 KiB and nobody
    /// watches its progress: what every form without files or readers is. The transports
    /// send it as it is, as a caller of the bare HTTP client would.
    /// The body counts as whole from then on: it goes out in one write.
    pub(crate) fn take_small(&mut self) -> Option<Vec<u8>> {
        match self.segments.as_mut_slice() {
            [Segment::Bytes(bytes)] if bytes.len() <= SMALL_BODY && self.progress.is_none() => {
                // (One write: too short to stop half way, so `stop` does not matter here.)
                self.flags.mark_whole();
                Some(std::mem::take(bytes))
            }
            _ => None,
        }
    }
}

/// One piece of a body.
pub(crate) enum Segment {
    /// Bytes in memory: part headers, text fields, boundaries.
    Bytes(Vec<u8>),
    /// An open file with its size at opening time.
    File {
        file: File,
        len: u64,
        path: PathBuf,
        field: String,
    },
    /// A caller's reader, with the length it promised, if any.
    Reader {
        source: ReaderSource,
        len: Option<u64>,
        field: String,
    },
    /// Fields still to come, each encoded with `boundary` as it arrives.
    #[cfg(feature = "async")]
    Deferred {
        fields: crate::inputs::FieldStream,
        boundary: String,
    },
}

/// One form field after lists are flattened and nulls dropped.
enum Part {
    Text(String),
    File {
        path: PathBuf,
        filename: String,
        content_type: String,
    },
    Reader {
        source: ReaderSource,
        filename: String,
        content_type: String,
        len: Option<u64>,
    },
}

/// Encodes the inputs. Opens every file (so call it off the async runtime's workers).
pub(crate) fn encode(mut inputs: Inputs) -> Result<EncodedForm> {
    let flags = inputs.take_flags();
    let (entries, tail, progress) = inputs.into_parts();
    // Only the async client streams fields; the blocking one refuses them before this.
    #[cfg(not(feature = "async"))]
    let _ = tail;
    let parts = flatten_all(entries)?;
    let mut form = Multipart::new(new_boundary());
    for (name, part) in parts {
        form.add(name, part)?;
    }
    #[cfg(feature = "async")]
    if let Some(fields) = tail {
        form.length = None;
        form.segments.push(Segment::Deferred {
            fields,
            boundary: form.boundary.clone(),
        });
    }
    let mut encoded = EncodedForm {
        progress,
        ..form.finish()
    };
    flags.begin(std::mem::take(&mut encoded.sent))?;
    encoded.flags = flags;
    Ok(encoded)
}

/// Encodes one streamed field as multipart segments with `boundary` (for fields that
/// arrive after the upload started). Opens files, so call it off the runtime's workers.
#[cfg(feature = "async")]
pub(crate) fn encode_field(
    boundary: &str,
    name: String,
    input: Input,
) -> Result<(Vec<Segment>, SentFields)> {
    let mut form = Multipart::new(boundary.to_owned());
    for (name, part) in flatten_all(vec![(name, input)])? {
        form.add(name, part)?;
    }
    Ok((form.segments, form.sent))
}

fn flatten_all(entries: Vec<(String, Input)>) -> Result<Vec<(String, Part)>> {
    let mut parts = Vec::new();
    for (name, input) in entries {
        if name.is_empty() {
            return Err(Error::input("", "an input has an empty field name"));
        }
        flatten(name, input, &mut parts)?;
    }
    Ok(parts)
}

/// The parts of one input, through the one walker (`Input::into_fields`).
fn flatten(name: String, input: Input, out: &mut Vec<(String, Part)>) -> Result<()> {
    for (field, leaf) in input.into_fields(&name) {
        if let Some(text) = field_text(&leaf) {
            out.push((field, Part::Text(text)));
            continue;
        }
        let part = match leaf {
            Input::File {
                path,
                filename,
                content_type,
            } => {
                let (filename, content_type) = file_naming(&field, &path, filename, content_type)?;
                Part::File {
                    path,
                    filename,
                    content_type,
                }
            }
            Input::Reader(r) => {
                let content_type = r.content_type.unwrap_or_else(|| guess_type(&r.filename));
                let filename = if r.filename.is_empty() {
                    field.clone()
                } else {
                    r.filename
                };
                Part::Reader {
                    source: r.source,
                    filename,
                    content_type,
                    len: r.len,
                }
            }
            // Text, numbers, booleans and JSON were sent above; lists and null are walked.
            _ => continue,
        };
        out.push((field, part));
    }
    Ok(())
}

/// The text a text-like input is sent as; `None` for files, readers, lists and null.
pub(crate) fn field_text(input: &Input) -> Option<String> {
    match input {
        Input::Text(s) => Some(s.clone()),
        Input::Number(n) => Some(match n.as_f64().filter(|_| n.is_f64()) {
            Some(x) => python_float(x),
            None => n.to_string(),
        }),
        Input::Bool(b) => Some(b.to_string()),
        Input::Json(v) => Some(v.to_string()),
        _ => None,
    }
}

/// A float as Python's `str(float)` writes it, so that requests equal the Python SDK's:
/// the shortest digits that read back as the same number, in fixed notation for
/// `1e-4 <= |x| < 1e16` (`7.5`, `123.0`, `0.0001`), else scientific with a signed exponent of
/// at least two digits (`1e-07`, `1e+16`).
pub(crate) fn python_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // Rust's `{:e}` gives the same shortest digits: `-1.25e-7`, `7.5e0`, `0e0`.
    let scientific = format!("{x:e}");
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} has an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} has a numeric exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        let fixed = if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{fixed}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_owned()
        } else {
            format!("{first}.{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.unsigned_abs())
    }
}

/// The field name of item `i` of a list input: `<name>_<i>`.
/// A file part's filename (given, else the path's base name) and Content-Type (given, else
/// guessed from the filename).
pub(crate) fn file_naming(
    field: &str,
    path: &std::path::Path,
    filename: Option<String>,
    content_type: Option<String>,
) -> Result<(String, String)> {
    let filename = match filename {
        Some(f) => f,
        None => match path.file_name() {
            Some(base) => base.to_string_lossy().into_owned(),
            None => {
                return Err(Error::input(
                    field,
                    format!("{} does not name a file", path.display()),
                ));
            }
        },
    };
    let content_type = content_type.unwrap_or_else(|| guess_type(&filename));
    Ok((filename, content_type))
}

/// The Content-Type for a filename: guessed from its extension, else octet-stream.
pub(crate) fn guess_type(filename: &str) -> String {
    mime_guess::from_path(filename)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_owned()
}

/// Characters left as they are in `application/x-www-form-urlencoded` (WHATWG): ASCII
/// alphanumerics and `*-._`; space becomes `+`, everything else is percent-encoded.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b' ');

/// Encodes pairs as `application/x-www-form-urlencoded`.
pub(crate) fn urlencoded<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let enc = |s: &str| utf8_percent_encode(s, FORM).to_string().replace(' ', "+");
    pairs
        .into_iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A multipart body being built: segments, and the total length while it is known.
struct Multipart {
    boundary: String,
    segments: Vec<Segment>,
    length: Option<u64>,
    /// The fields as they will go out.
    sent: Vec<(String, SentValue)>,
}

impl Multipart {
    fn new(boundary: String) -> Self {
        Multipart {
            boundary,
            segments: Vec::new(),
            length: Some(0),
            sent: Vec::new(),
        }
    }

    fn add_len(&mut self, n: Option<u64>) {
        self.length = self.length.zip(n).map(|(a, b)| a + b);
    }

    /// Appends bytes, merged with the previous bytes segment.
    fn push_bytes(&mut self, bytes: Vec<u8>) {
        self.add_len(Some(bytes.len() as u64));
        if let Some(Segment::Bytes(prev)) = self.segments.last_mut() {
            prev.extend_from_slice(&bytes);
        } else {
            self.segments.push(Segment::Bytes(bytes));
        }
    }

    fn add(&mut self, name: String, part: Part) -> Result<()> {
        let mut head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{}\"",
            self.boundary,
            escape_quoted(&name)
        );
        match part {
            Part::Text(value) => {
                self.sent
                    .push((name.clone(), SentValue::Text(value.clone())));
                head.push_str("\r\n\r\n");
                head.push_str(&value);
                head.push_str("\r\n");
                self.push_bytes(head.into_bytes());
            }
            Part::File {
                path,
                filename,
                content_type,
            } => {
                let (file, len) = open(&name, &path)?;
                self.sent.push((
                    name.clone(),
                    SentValue::File {
                        filename: filename.clone(),
                        size: Some(len),
                    },
                ));
                push_file_head(&mut head, &filename, &content_type);
                self.push_bytes(head.into_bytes());
                self.add_len(Some(len));
                self.segments.push(Segment::File {
                    file,
                    len,
                    path,
                    field: name,
                });
                self.push_bytes(b"\r\n".to_vec());
            }
            Part::Reader {
                source,
                filename,
                content_type,
                len,
            } => {
                self.sent.push((
                    name.clone(),
                    SentValue::File {
                        filename: filename.clone(),
                        size: len,
                    },
                ));
                push_file_head(&mut head, &filename, &content_type);
                self.push_bytes(head.into_bytes());
                self.add_len(len);
                self.segments.push(Segment::Reader {
                    source,
                    len,
                    field: name,
                });
                self.push_bytes(b"\r\n".to_vec());
            }
        }
        Ok(())
    }

    fn finish(mut self) -> EncodedForm {
        let tail = format!("--{}--\r\n", self.boundary);
        self.push_bytes(tail.into_bytes());
        EncodedForm {
            content_type: format!("multipart/form-data; boundary={}", self.boundary),
            length: self.length,
            segments: self.segments,
            progress: None,
            flags: Default::default(),
            sent: self.sent,
        }
    }
}

fn push_file_head(head: &mut String, filename: &str, content_type: &str) {
    head.push_str("; filename=\"");
    head.push_str(&escape_quoted(filename));
    head.push_str("\"\r\nContent-Type: ");
    // A Content-Type with CR/LF would let a caller inject headers: drop those characters.
    head.extend(content_type.chars().filter(|c| !c.is_control()));
    head.push_str("\r\n\r\n");
}

/// Opens a file for upload, checking that it is a readable regular file.
fn open(field: &str, path: &PathBuf) -> Result<(File, u64)> {
    let fail =
        |e: io::Error| Error::input(field, format!("cannot read file {}: {e}", path.display()));
    let file = File::open(path).map_err(fail)?;
    let meta = file.metadata().map_err(fail)?;
    if !meta.is_file() {
        return Err(Error::input(
            field,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok((file, meta.len()))
}

/// Escapes a name or filename for a quoted header parameter, as the Python SDK's urllib3
/// does (HTML5 style): `"` and every ASCII control character as `%XX`, `\` doubled. HTTP
/// forbids control characters in header values, and a lone backslash would escape the
/// closing quote for parsers that read quoted strings (both found by the form fuzz test).
fn escape_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("%22"),
            c if c.is_ascii_control() => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A boundary of 32 random hex digits, from the standard library's randomly seeded hasher.
fn new_boundary() -> String {
    let random = || {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(random());
    format!("flowscale-{:016x}{:016x}", random(), h.finish())
}

impl Segment {
    /// The field name, when only the async client can send this segment.
    #[cfg(feature = "blocking")]
    pub fn async_only(&self) -> Option<&str> {
        match self {
            Segment::Reader { source, field, .. } if source.is_async() => Some(field),
            #[cfg(feature = "async")]
            Segment::Deferred { .. } => Some("streamed_fields"),
            _ => None,
        }
    }

    /// Where this segment's bytes come from, and how many it promised.
    pub fn origin(&self) -> (Origin, Option<u64>) {
        match self {
            Segment::Bytes(b) => (Origin::Memory, Some(b.len() as u64)),
            Segment::File {
                len, path, field, ..
            } => (
                Origin::File {
                    field: field.clone(),
                    path: path.clone(),
                },
                Some(*len),
            ),
            Segment::Reader { len, field, .. } => (Origin::Reader(field.clone()), *len),
            #[cfg(feature = "async")]
            Segment::Deferred { .. } => (Origin::Memory, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoding_matches_the_form_rules() {
        assert_eq!(
            urlencoded([("a b", "x&y=z"), ("t", "café+*-._~")]),
            "a+b=x%26y%3Dz&t=caf%C3%A9%2B*-._%7E"
        );
    }

    #[test]
    fn quoted_parameters_cannot_break_headers() {
        assert_eq!(escape_quoted("a\"b\r\nc"), "a%22b%0D%0Ac");
        assert_eq!(escape_quoted("tab\there\u{e}\u{7f}é"), "tab%09here%0E%7Fé");
        assert_eq!(escape_quoted("C:\\dir\\a.png"), "C:\\\\dir\\\\a.png");
    }

    #[test]
    fn floats_read_as_python_writes_them() {
        for (x, text) in [
            (1e-7, "1e-07"),
            (7.5, "7.5"),
            (1e16, "1e+16"),
            (123.0, "123.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e15, "1000000000000000.0"),
            (5e-324, "5e-324"),
            (1.5e300, "1.5e+300"),
            (-3.25e-10, "-3.25e-10"),
        ] {
            assert_eq!(python_float(x), text);
        }
    }

    #[test]
    fn boundaries_differ() {
        assert_ne!(new_boundary(), new_boundary());
    }

    #[test]
    fn only_a_small_form_in_memory_without_a_watcher_is_taken_whole() {
        let text = |value: &str| encode(Inputs::new().set("prompt", value).set("seed", 3)).unwrap();
        let mut form = text("bench");
        let whole = form.take_small().expect("a text form is one piece");
        assert_eq!(Some(whole.len() as u64), form.length);
        let body = String::from_utf8(whole).unwrap();
        assert!(body.contains("name=\"prompt\"\r\n\r\nbench\r\n"), "{body}");
        assert!(body.contains("name=\"seed\"\r\n\r\n3\r\n"), "{body}");
        assert!(body.ends_with("--\r\n"), "{body}");

        let mut big = text(&"x".repeat(SMALL_BODY));
        assert!(big.take_small().is_none(), "over 64 KiB streams");
        let mut watched = encode(Inputs::new().set("prompt", "bench").on_progress(|_| {})).unwrap();
        assert!(
            watched.take_small().is_none(),
            "a progress callback sees the upload"
        );
        let file = std::env::temp_dir().join(format!("flowscale-small-{}.txt", std::process::id()));
        std::fs::write(&file, b"hello").unwrap();
        let mut with_file = encode(Inputs::new().set("image_1", file.as_path())).unwrap();
        assert!(with_file.take_small().is_none(), "a file streams from disk");
        std::fs::remove_file(&file).unwrap();
    }
}
