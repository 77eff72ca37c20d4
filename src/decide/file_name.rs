//! Turning a name the server sends into a safe file name: a plain base name that cannot
//! leave the directory it is joined to on any platform, with the output's real extension.

/// The longest file name most file systems take, in bytes.
pub(crate) const MAX_NAME_BYTES: usize = 255;

/// Room kept for a numbered suffix (`-99999`) and `.part`.
const SUFFIX_ROOM: usize = 6 + ".part".len();

/// `name` with `suffix` (`.part`, `.part.meta`), as a name that fits in
/// [`MAX_NAME_BYTES`]: the two joined when they fit; else the name cut on a character
/// boundary, `~` and 16 hex digits of the whole name's SHA-256 (so that two long names that
/// share their start keep two records), then the suffix.
pub(crate) fn with_suffix(name: &std::ffi::OsStr, suffix: &str) -> std::ffi::OsString {
    let mut joined = name.to_os_string();
    if name.len() + suffix.len() <= MAX_NAME_BYTES {
        joined.push(suffix);
        return joined;
    }
    let text = name.to_string_lossy();
    let digest = ring::digest::digest(&ring::digest::SHA256, name.as_encoded_bytes());
    let tag: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut cut = MAX_NAME_BYTES - suffix.len() - 1 - tag.len();
    while !text.is_char_boundary(cut.min(text.len())) {
        cut -= 1;
    }
    let head = &text[..cut.min(text.len())];
    format!("{head}~{tag}{suffix}").into()
}

/// Names Windows reserves for devices, with or without an extension.
const WINDOWS_RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// A safe base name for `name`: no path separators, drive prefixes, `.`/`..`, leading
/// dots, control characters or NUL, characters Windows forbids, Windows device names,
/// trailing dots or spaces; cut on a character boundary so that the name with `ext`, a
/// numbered suffix and `.part` fits in 255 bytes; never empty.
pub(crate) fn sanitize(name: &str, ext: &str) -> String {
    let mut base: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    base = base.trim_start_matches(['.', ' ']).to_owned();
    let budget = MAX_NAME_BYTES - SUFFIX_ROOM - ext.len();
    if base.len() > budget {
        let mut cut = budget;
        while !base.is_char_boundary(cut) {
            cut -= 1;
        }
        base.truncate(cut);
    }
    base = base.trim_end_matches(['.', ' ']).to_owned();
    if base.is_empty() {
        base = "output".to_owned();
    }
    let stem = base.split('.').next().unwrap_or_default().trim_end();
    if WINDOWS_RESERVED
        .iter()
        .any(|r| r.eq_ignore_ascii_case(stem))
    {
        base.insert(0, '_');
    }
    base
}

/// The output's real extension (with its dot), from the first of: the file name the run
/// reports, the download URL's path, the response's `Content-Type`. Empty when none says.
pub(crate) fn extension(filename: Option<&str>, url: &str, content_type: Option<&str>) -> String {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    let path = path.split_once('/').map_or("", |(_, p)| p);
    filename
        .and_then(extension_of)
        .or_else(|| extension_of(path))
        .or_else(|| content_type.and_then(extension_for_type))
        .map(|ext| format!(".{ext}"))
        .unwrap_or_default()
}

/// The extension of the last component of `name`, when it looks like one: 1 to 10 ASCII
/// letters and digits.
fn extension_of(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next()?;
    let (stem, ext) = base.rsplit_once('.')?;
    let fits = !stem.is_empty()
        && (1..=10).contains(&ext.len())
        && ext.bytes().all(|b| b.is_ascii_alphanumeric());
    fits.then(|| ext.to_ascii_lowercase())
}

/// The usual extension of a media type.
fn extension_for_type(content_type: &str) -> Option<String> {
    let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
    let common = match essence.as_str() {
        "image/png" => Some("png"),
        "image/jpeg" => Some("jpg"),
        "image/webp" => Some("webp"),
        "image/gif" => Some("gif"),
        "video/mp4" => Some("mp4"),
        "video/webm" => Some("webm"),
        "audio/mpeg" => Some("mp3"),
        "audio/wav" | "audio/x-wav" => Some("wav"),
        "application/json" => Some("json"),
        "text/plain" => Some("txt"),
        "image/avif" => Some("avif"),
        "image/bmp" => Some("bmp"),
        "image/tiff" => Some("tiff"),
        "video/quicktime" => Some("mov"),
        "audio/ogg" => Some("ogg"),
        "audio/flac" => Some("flac"),
        "application/zip" => Some("zip"),
        "model/gltf-binary" => Some("glb"),
        _ => None,
    };
    common
        .filter(|e| e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suffix_always_fits_the_name_limit() {
        use std::ffi::OsStr;
        assert_eq!(
            with_suffix(OsStr::new("a.png"), ".part.meta"),
            "a.png.part.meta"
        );
        let long = "é".repeat(127); // 254 bytes
        let other = format!("{}x", "é".repeat(126));
        for suffix in [".part", ".part.meta"] {
            let a = with_suffix(OsStr::new(&long), suffix);
            let b = with_suffix(OsStr::new(&other), suffix);
            assert!(
                a.len() <= MAX_NAME_BYTES && b.len() <= MAX_NAME_BYTES,
                "{a:?}"
            );
            assert!(a.to_string_lossy().ends_with(suffix));
            assert_ne!(a, b, "two long names keep two records");
            assert_eq!(a, with_suffix(OsStr::new(&long), suffix), "stable");
        }
    }

    #[test]
    fn hostile_names_become_plain_base_names() {
        for (name, safe) in [
            ("../../x", "_.._x"),
            ("/abs/x", "_abs_x"),
            ("a/b/c", "a_b_c"),
            ("..", "output"),
            (".", "output"),
            ("", "output"),
            (".hidden", "hidden"),
            ("CON", "_CON"),
            ("nul.txt", "_nul.txt"),
            ("com1", "_com1"),
            ("C:\\win", "C__win"),
            ("a\0b\nc", "a_b_c"),
            ("trailing. . ", "trailing"),
            ("image", "image"),
        ] {
            assert_eq!(sanitize(name, ".png"), safe, "{name:?}");
        }
        let long = "é".repeat(300);
        let cut = sanitize(&long, ".png");
        assert!(cut.len() + ".png".len() + SUFFIX_ROOM <= MAX_NAME_BYTES);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn the_extension_comes_from_the_best_source() {
        let url = "https://s3.example/bucket/out_1.webp?X-Amz-Signature=abc.png";
        assert_eq!(extension(Some("out_1.png"), url, None), ".png");
        assert_eq!(extension(None, url, Some("image/png")), ".webp");
        let plain = "https://s3.example/bucket/blob?sig=1";
        assert_eq!(extension(None, plain, Some("image/jpeg")), ".jpg");
        assert_eq!(extension(None, plain, Some("video/mp4; codecs=x")), ".mp4");
        assert_eq!(extension(None, plain, None), "");
        assert_eq!(extension(Some("../../etc/x.P/NG"), plain, None), "");
        assert_eq!(extension(None, "https://host", None), "");
    }
}
