//! What kind of media some bytes are, for the check before a paid run: the formats' magic
//! numbers in a file's first bytes, else its name's extension. Shared by the library's
//! check (`Inputs::check_media`, `files/media.rs` reads the bytes) and the tool's (files,
//! and standard input, whose first bytes it reads before sending them on). No I/O.

use crate::wire::catalog::ValueKind;

/// How many first bytes the check reads.
pub const HEAD_LEN: usize = 16;

/// The kind a file's first bytes say, for the formats ComfyUI workflows take.
pub(crate) fn sniff(head: &[u8]) -> Option<ValueKind> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    if at(4, b"ftypavif") || at(4, b"ftypheic") {
        return Some(ValueKind::Image);
    }
    if starts(b"\x89PNG\r\n\x1a\n")
        || starts(b"\xff\xd8\xff")
        || starts(b"GIF87a")
        || starts(b"GIF89a")
        || starts(b"BM")
        || starts(b"II*\0")
        || starts(b"MM\0*")
        || (starts(b"RIFF") && at(8, b"WEBP"))
    {
        return Some(ValueKind::Image);
    }
    if at(4, b"ftyp") || starts(b"\x1a\x45\xdf\xa3") || (starts(b"RIFF") && at(8, b"AVI ")) {
        return Some(ValueKind::Video);
    }
    if (starts(b"RIFF") && at(8, b"WAVE"))
        || starts(b"ID3")
        || starts(b"\xff\xfb")
        || starts(b"\xff\xf3")
        || starts(b"OggS")
        || starts(b"fLaC")
    {
        return Some(ValueKind::Audio);
    }
    None
}

/// The kind `head` (a file's first bytes, at most [`HEAD_LEN`] of them) says, else the
/// kind `name`'s extension says.
pub(crate) fn kind_of(head: &[u8], name: &str) -> Option<ValueKind> {
    sniff(head).or_else(|| {
        let guessed = mime_guess::from_path(name).first_raw().unwrap_or_default();
        match guessed.split('/').next() {
            Some("image") => Some(ValueKind::Image),
            Some("video") => Some(ValueKind::Video),
            Some("audio") => Some(ValueKind::Audio),
            _ => None,
        }
    })
}

/// Whether bytes that start with `head` (all of them when shorter than [`HEAD_LEN`]) and
/// are called `name` can go into the input `field` where the catalog takes `wanted`: an
/// [`Error::Input`](crate::Error::Input) naming the field, with why not (empty, or of
/// another kind). Kinds other than image, video and audio are not judged.
///
/// ```
/// use flowscale::{Error, ValueKind};
/// use flowscale::inputs::check_media_bytes;
/// let png = b"\x89PNG\r\n\x1a\n....";
/// assert!(check_media_bytes(png, "image_1", "stdin", &ValueKind::Image).is_ok());
/// let err = check_media_bytes(b"hello", "image_1", "stdin", &ValueKind::Image).unwrap_err();
/// match err {
///     Error::Input { field, reason, .. } => {
///         assert_eq!(field, "image_1");
///         assert_eq!(reason, "stdin is not an image (neither its first bytes nor its name say so)");
///     }
///     other => panic!("{other}"),
/// }
/// ```
pub fn check_media_bytes(
    head: &[u8],
    field: &str,
    name: &str,
    wanted: &ValueKind,
) -> crate::wire::error::Result<()> {
    judge(head, name, wanted).map_err(|why| crate::wire::error::Error::input(field, why))
}

/// Why bytes called `name` cannot go where `wanted` goes, if they cannot.
pub(crate) fn judge(head: &[u8], name: &str, wanted: &ValueKind) -> Result<(), String> {
    if !matches!(
        wanted,
        ValueKind::Image | ValueKind::Video | ValueKind::Audio
    ) {
        return Ok(());
    }
    if head.is_empty() {
        return Err(format!("{name} is empty"));
    }
    match kind_of(head, name) {
        Some(kind) if &kind == wanted => Ok(()),
        Some(kind) => Err(format!(
            "{name} is {} {}, not {} {}",
            article(&kind),
            kind.as_str(),
            article(wanted),
            wanted.as_str()
        )),
        None => Err(format!(
            "{name} is not {} {} (neither its first bytes nor its name say so)",
            article(wanted),
            wanted.as_str()
        )),
    }
}

fn article(kind: &ValueKind) -> &'static str {
    match kind {
        ValueKind::Image | ValueKind::Audio => "an",
        _ => "a",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_known_by_their_magic_before_their_name() {
        assert_eq!(
            kind_of(b"\x89PNG\r\n\x1a\n0000", "x.txt"),
            Some(ValueKind::Image)
        );
        assert_eq!(
            kind_of(b"\0\0\0\x18ftypmp42\0\0\0\0", "clip.bin"),
            Some(ValueKind::Video)
        );
        assert_eq!(
            kind_of(b"\0\0\0\x18ftypavif\0\0\0\0", "a.bin"),
            Some(ValueKind::Image)
        );
        assert_eq!(kind_of(b"hello", "readme.txt"), None);
        assert_eq!(kind_of(b"not really", "photo.jpg"), Some(ValueKind::Image));
        let mp4 = judge(b"\0\0\0\x18ftypmp42\0\0\0\0", "clip.bin", &ValueKind::Image);
        assert_eq!(mp4.unwrap_err(), "clip.bin is a video, not an image");
        assert!(judge(b"hello", "readme.txt", &ValueKind::Text).is_ok());
        assert_eq!(
            judge(b"", "stdin", &ValueKind::Image).unwrap_err(),
            "stdin is empty"
        );
    }
}
