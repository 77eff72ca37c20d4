//! `-i` values, as the tool reads them: `name=value` a text field, `name=@path` a file,
//! `name=@-` standard input, `name=@@text` the text `@text`, `name=<path` the text of a
//! file (curl's `-F name=<file`: a long prompt), `name=<<text` the text `<text`.

use std::path::Path;

use flowscale::{Inputs, Reader};

use crate::exit::Failure;

/// `-i` values: `name=value`, `name=@path`, `name=@-`, `name=@@literal`.
pub fn parse_inputs(raw: &[String]) -> Result<Inputs, Failure> {
    add_inputs(Inputs::new(), raw)
}

/// Adds `-i` values to `inputs`.
pub fn add_inputs(mut inputs: Inputs, raw: &[String]) -> Result<Inputs, Failure> {
    let mut stdin_used = false;
    let mut seen = std::collections::HashSet::new();
    for item in raw {
        let Some((name, value)) = item.split_once('=').filter(|(n, _)| !n.is_empty()) else {
            return Err(Failure::usage(
                format!("input `{item}` is not NAME=VALUE"),
                "write -i text_1=\"a cat\", -i image_1=@cat.png or -i image_1=@- (stdin)",
            ));
        };
        // Both would be sent, and which one the workflow takes is anyone's guess.
        if !seen.insert(name) {
            return Err(Failure::usage(
                format!("input `{name}` is given twice"),
                "give each input once; to run one workflow over several values, use \
                 `flowscale batch` (--each, or a jobs file)",
            ));
        }
        inputs = if let Some(literal) = value.strip_prefix("@@") {
            inputs.text(name, format!("@{literal}"))
        } else if let Some(literal) = value.strip_prefix("<<") {
            inputs.text(name, format!("<{literal}"))
        } else if let Some(path) = value.strip_prefix('<') {
            inputs.text(name, text_of(name, Path::new(path))?)
        } else if value == "@-" {
            if stdin_used {
                return Err(Failure::usage(
                    "standard input can be read for one input only",
                    "give the other files as name=@path",
                ));
            }
            stdin_used = true;
            inputs.set(name, Reader::new(stdin_peeked(name)?, name))
        } else if let Some(path) = value.strip_prefix('@') {
            readable(name, Path::new(path))?;
            inputs.file(name, Path::new(path))
        } else {
            inputs.text(name, value)
        };
    }
    Ok(inputs)
}

/// The largest text file `-i name=<path` reads (a prompt is a few KiB; a file far larger is
/// likely the wrong one, and would go into one form field).
const MAX_TEXT_FILE: u64 = 16 << 20;

/// The text of `-i name=<path`: UTF-8, at most 16 MiB, one trailing newline dropped (an
/// editor's, which the prompt does not mean); anything else is a usage error (exit 2).
fn text_of(name: &str, path: &Path) -> Result<String, Failure> {
    let refused = |why: String| {
        Failure::usage(
            format!("input `{name}`: {why}"),
            format!(
                "give a text file: -i '{name}=<prompt.txt' (or -i '{name}=<<text' for text \
                 starting with <)"
            ),
        )
    };
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(refused(format!(
                "{} is a folder, not a file",
                path.display()
            )));
        }
        Ok(meta) if meta.len() > MAX_TEXT_FILE => {
            return Err(refused(format!(
                "{} holds {} bytes, more than the 16 MiB a text input takes",
                path.display(),
                meta.len()
            )));
        }
        Ok(_) => {}
        Err(e) => return Err(refused(format!("cannot read {}: {e}", path.display()))),
    }
    let bytes =
        std::fs::read(path).map_err(|e| refused(format!("cannot read {}: {e}", path.display())))?;
    let mut text = String::from_utf8(bytes)
        .map_err(|_| refused(format!("{} is not UTF-8 text", path.display())))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

/// A `-i name=@path` that cannot be sent is a usage error (exit 2), found before anything
/// is uploaded or paid for: a missing file, a folder, one that cannot be opened.
fn readable(name: &str, path: &Path) -> Result<(), Failure> {
    let refused = |why: String| {
        Failure::usage(
            format!("input `{name}`: {why}"),
            format!(
                "give a readable file: -i {name}=@FILE (or -i {name}=@@text for text starting with @)"
            ),
        )
    };
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(refused(format!(
            "{} is a folder, not a file",
            path.display()
        ))),
        Ok(_) => std::fs::File::open(path)
            .map(drop)
            .map_err(|e| refused(format!("cannot open {}: {e}", path.display()))),
        Err(e) => Err(refused(format!("cannot open {}: {e}", path.display()))),
    }
}

/// The first bytes of standard input, once `-i NAME=@-` read them: what its kind is checked
/// by before anything is sent (they are sent first, then the rest).
static STDIN_HEAD: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

/// The first bytes read from standard input, if an input takes it.
pub fn stdin_head() -> Option<&'static [u8]> {
    STDIN_HEAD.get().map(Vec::as_slice)
}

/// Standard input for `-i name=@-`: refused when it is a terminal (the tool would wait for
/// typing nobody means to do); else its first bytes are read now, for the kind check, and
/// sent first.
fn stdin_peeked(name: &str) -> Result<impl std::io::Read + Send + 'static, Failure> {
    use std::io::{IsTerminal, Read};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Failure::usage(
            format!("input `{name}`: standard input is a terminal, not a file"),
            format!("pipe the file in (`-i {name}=@- < photo.png`), or give it as -i {name}=@FILE"),
        ));
    }
    let mut head = vec![0u8; flowscale::inputs::MEDIA_HEAD_LEN];
    let mut read = 0;
    let mut lock = stdin.lock();
    while read < head.len() {
        match lock.read(&mut head[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Failure::usage(
                    format!("input `{name}`: standard input cannot be read: {e}"),
                    format!("give the file as -i {name}=@FILE"),
                ));
            }
        }
    }
    drop(lock);
    head.truncate(read);
    let _ = STDIN_HEAD.set(head.clone());
    Ok(std::io::Cursor::new(head).chain(std::io::stdin()))
}
