//! The value types of typed workflow inputs (the fields `flowscale::codegen` generates):
//! a file input takes a path or a reader and nothing else, a number input a number and
//! nothing else, so that a value of the wrong kind is a compile error. Both become an
//! [`Input`] of the same kind as the untyped API's.

use std::path::{Path, PathBuf};

use crate::inputs::{Input, Reader};

/// The value of a file input (image, video, audio) of a typed workflow: a path on disk
/// (streamed, its name and type taken from the path) or a [`Reader`] with its file name.
///
/// ```
/// use std::path::Path;
/// use flowscale::inputs::FileInput;
/// use flowscale::Reader;
///
/// let from_disk: FileInput = "cat.png".into();
/// let also: FileInput = Path::new("cat.png").into();
/// let from_memory: FileInput = Reader::new(&b"\x89PNG..."[..], "cat.png").into();
/// # let _ = (from_disk, also, from_memory);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum FileInput {
    /// A file on disk.
    Path(PathBuf),
    /// A file part streamed from a reader.
    Reader(Reader),
}

impl From<&str> for FileInput {
    fn from(path: &str) -> Self {
        FileInput::Path(path.into())
    }
}

impl From<String> for FileInput {
    fn from(path: String) -> Self {
        FileInput::Path(path.into())
    }
}

impl From<&Path> for FileInput {
    fn from(path: &Path) -> Self {
        FileInput::Path(path.to_owned())
    }
}

impl From<PathBuf> for FileInput {
    fn from(path: PathBuf) -> Self {
        FileInput::Path(path)
    }
}

impl From<&PathBuf> for FileInput {
    fn from(path: &PathBuf) -> Self {
        FileInput::Path(path.clone())
    }
}

impl From<Reader> for FileInput {
    fn from(reader: Reader) -> Self {
        FileInput::Reader(reader)
    }
}

impl From<FileInput> for Input {
    fn from(file: FileInput) -> Self {
        match file {
            FileInput::Path(path) => Input::file(path),
            FileInput::Reader(reader) => Input::Reader(reader),
        }
    }
}

/// The value of a number input of a typed workflow: any Rust integer or float, sent as its
/// decimal text (large integers such as seeds exactly: no float in between).
///
/// ```
/// use flowscale::inputs::Number;
/// let seed: Number = 18_446_744_073_709_551_615u64.into();
/// let strength: Number = 0.75.into();
/// # let _ = (seed, strength);
/// ```
#[derive(Debug)]
pub struct Number(Input);

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(n: $t) -> Self {
                Number(Input::from(n))
            }
        }
    )*};
}
numbers!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64);

impl From<Number> for Input {
    fn from(n: Number) -> Self {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values_become_the_inputs_of_their_kind() {
        let file = Input::from(FileInput::from("cat.png"));
        assert!(matches!(file, Input::File { ref path, .. } if path == Path::new("cat.png")));
        let seed = Input::from(Number::from(u64::MAX));
        assert!(matches!(seed, Input::Number(ref n) if n.to_string() == "18446744073709551615"));
        let reader = Input::from(FileInput::from(Reader::new(&b"x"[..], "a.png")));
        assert!(matches!(reader, Input::Reader(_)));
    }
}
