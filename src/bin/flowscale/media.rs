//! What kind of media a file is, before it goes into a paid run: its first bytes (the
//! formats' magic numbers), else its extension. A `readme.txt` given where the workflow
//! takes an image, or an empty file, is refused before anything is uploaded.

use std::io::Read;
use std::path::Path;

use flowscale::ValueKind;

/// The kind of media in `path`: by its first bytes when they are a known format's, else by
/// its extension (`mime_guess`); `None` for anything else (text, an archive...).
pub fn kind_of(path: &Path) -> std::io::Result<Option<ValueKind>> {
    let mut head = [0u8; 16];
    let mut file = std::fs::File::open(path)?;
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..])? {
            0 => break,
            n => read += n,
        }
    }
    if let Some(kind) = sniff(&head[..read]) {
        return Ok(Some(kind));
    }
    let guessed = mime_guess::from_path(path).first_raw().unwrap_or_default();
    Ok(match guessed.split('/').next() {
        Some("image") => Some(ValueKind::Image),
        Some("video") => Some(ValueKind::Video),
        Some("audio") => Some(ValueKind::Audio),
        _ => None,
    })
}

/// The kind a file's first bytes say, for the formats ComfyUI workflows take.
fn sniff(head: &[u8]) -> Option<ValueKind> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
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
    if (at(4, b"ftyp") && !at(8, b"avif") && !at(8, b"heic"))
        || starts(b"\x1a\x45\xdf\xa3")
        || (starts(b"RIFF") && at(8, b"AVI "))
    {
        return Some(ValueKind::Video);
    }
    if at(4, b"ftypavif") || at(4, b"ftypheic") {
        return Some(ValueKind::Image);
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

/// Why `path` cannot go where the catalog takes `wanted`, if it cannot: empty, or of
/// another kind. Kinds the tool does not know (the catalog's own words) are not judged.
pub fn refusal(path: &Path, wanted: &ValueKind) -> Option<String> {
    if !matches!(
        wanted,
        ValueKind::Image | ValueKind::Video | ValueKind::Audio
    ) {
        return None;
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() == 0 => {
            return Some(format!("{} is empty", path.display()));
        }
        Err(e) => return Some(format!("cannot read {}: {e}", path.display())),
        Ok(_) => {}
    }
    match kind_of(path) {
        Ok(Some(kind)) if &kind == wanted => None,
        Ok(Some(kind)) => Some(format!(
            "{} is {} {}, not {} {}",
            path.display(),
            article(&kind),
            kind.as_str(),
            article(wanted),
            wanted.as_str()
        )),
        Ok(None) => Some(format!(
            "{} is not {} {} (neither its first bytes nor its extension say so)",
            path.display(),
            article(wanted),
            wanted.as_str()
        )),
        Err(e) => Some(format!("cannot read {}: {e}", path.display())),
    }
}

fn article(kind: &ValueKind) -> &'static str {
    match kind {
        ValueKind::Image | ValueKind::Audio => "an",
        _ => "a",
    }
}

/// Whether standard input is known to be empty: `/dev/null`, or an empty regular file.
/// (A pipe or a terminal cannot be known before it is read.)
pub fn stdin_is_empty() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(stdin) = std::fs::metadata("/dev/stdin") else {
            return false;
        };
        if stdin.is_file() {
            return stdin.len() == 0;
        }
        let Ok(null) = std::fs::metadata("/dev/null") else {
            return false;
        };
        (null.dev() == stdin.dev() && null.ino() == stdin.ino())
            || (null.rdev() == stdin.rdev() && stdin.rdev() != 0)
    }
    #[cfg(not(unix))]
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_known_by_their_first_bytes_before_their_names() {
        let dir = std::env::temp_dir().join(format!("flowscale-media-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let png = dir.join("looks-like.txt");
        std::fs::write(&png, b"\x89PNG\r\n\x1a\n0000").unwrap();
        assert_eq!(kind_of(&png).unwrap(), Some(ValueKind::Image));
        let mp4 = dir.join("clip.bin");
        std::fs::write(&mp4, b"\0\0\0\x18ftypmp42\0\0\0\0").unwrap();
        assert_eq!(kind_of(&mp4).unwrap(), Some(ValueKind::Video));
        let readme = dir.join("readme.txt");
        std::fs::write(&readme, b"hello").unwrap();
        assert_eq!(kind_of(&readme).unwrap(), None);
        let named = dir.join("photo.jpg");
        std::fs::write(&named, b"not really").unwrap();
        assert_eq!(
            kind_of(&named).unwrap(),
            Some(ValueKind::Image),
            "by its extension"
        );
        let empty = dir.join("empty.png");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(
            refusal(&empty, &ValueKind::Image).unwrap(),
            format!("{} is empty", empty.display())
        );
        assert!(
            refusal(&readme, &ValueKind::Image)
                .unwrap()
                .contains("is not an image")
        );
        assert!(
            refusal(&mp4, &ValueKind::Image)
                .unwrap()
                .contains("is a video, not an image")
        );
        assert_eq!(refusal(&png, &ValueKind::Image), None);
        assert_eq!(refusal(&readme, &ValueKind::Text), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
