//! Where the API key and URL come from: the flags, else the environment, else a `.env`
//! file in the current directory (as the Python SDK's docs recommend), else the profile
//! `flowscale login` saved.

use std::path::Path;

use flowscale::{ENV_API_KEY, ENV_API_URL};

use crate::exit::Failure;

/// The key and URL to use, or a failure that says where to set them.
/// Each of the two is taken from the first place that has it: the flag, the environment,
/// the `.env` file, the profile (`profile`: its URL and key).
pub fn resolve(
    api_key: Option<String>,
    api_url: Option<String>,
    profile: impl FnOnce() -> Result<Option<(String, String)>, Failure>,
) -> Result<(String, String), Failure> {
    let dotenv = read_dotenv(Path::new(".env"));
    let pick = |flag: Option<String>, name: &str| {
        flag.or_else(|| std::env::var(name).ok())
            .filter(|v| !v.trim().is_empty())
            .or_else(|| {
                dotenv
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
            .filter(|v| !v.trim().is_empty())
    };
    let (key, url) = (pick(api_key, ENV_API_KEY), pick(api_url, ENV_API_URL));
    // The profiles file is read only for what the places before it left unset.
    let (key, url) = match (key, url) {
        (Some(key), Some(url)) => (Some(key), Some(url)),
        (key, url) => {
            let (saved_url, saved_key) = profile()?.unzip();
            (key.or(saved_key), url.or(saved_url))
        }
    };
    let key = key.ok_or_else(|| {
        Failure::usage(
            "no API key",
            "set FLOWSCALE_API_KEY, put it in a .env file, pass --api-key-file, or save a \
             profile with `flowscale login` (try `flowscale mock` for a local simulator)",
        )
    })?;
    let url = url.ok_or_else(|| {
        Failure::usage(
            "no API URL",
            "set FLOWSCALE_API_URL (https://<pod-id>.pod.flowscale.ai), put it in a .env \
             file, or pass --api-url",
        )
    })?;
    Ok((key, url))
}

/// The key in the first line of `path` (`--api-key-file`). A file that others may read (or
/// write) is refused, as ssh refuses such a private key: the key would not be private.
/// Nothing of the file's content is ever part of a message.
pub fn key_from_file(path: &Path) -> Result<String, Failure> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        Failure::usage(
            format!("cannot read the key file {shown}: {e}"),
            "give a file holding the API key on its first line",
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Failure::usage(
                format!(
                    "the key file {shown} may be read by other users (mode {mode:03o}): refused"
                ),
                format!("make it yours alone: chmod 600 {shown}"),
            ));
        }
    }
    if !meta.is_file() {
        return Err(Failure::usage(
            format!("the key file {shown} is not a file"),
            "give a file holding the API key on its first line",
        ));
    }
    let mut text = String::new();
    let read = std::fs::File::open(path).and_then(|f| {
        std::io::Read::read_to_string(&mut std::io::Read::take(f, 64 * 1024), &mut text)
    });
    if let Err(e) = read {
        return Err(Failure::usage(
            format!("cannot read the key file {shown}: {e}"),
            "give a file holding the API key on its first line",
        ));
    }
    match text.lines().next().map(str::trim).filter(|k| !k.is_empty()) {
        Some(key) => Ok(key.to_owned()),
        None => Err(Failure::usage(
            format!("the key file {shown} is empty"),
            "put the API key on its first line",
        )),
    }
}

/// `KEY=value` lines of a `.env` file, as `dotenvy` reads them (comments, `export `,
/// quotes, a comment after a quoted value); nothing when there is no file. A line it
/// cannot read is said on stderr and left out.
fn read_dotenv(path: &Path) -> Vec<(String, String)> {
    let Ok(lines) = dotenvy::from_path_iter(path) else {
        return Vec::new();
    };
    let mut pairs = Vec::new();
    for line in lines {
        match line {
            Ok(pair) => pairs.push(pair),
            // Never the line itself: it may hold a key.
            Err(dotenvy::Error::LineParse(..)) => crate::output::warn(format_args!(
                "{} has a line that is not KEY=value: left out",
                path.display()
            )),
            Err(_) => crate::output::warn(format_args!(
                "{} could not be read whole: left out",
                path.display()
            )),
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_lines_are_read_like_shells_write_them() {
        let dir = std::env::temp_dir().join(format!("flowscale-dotenv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(".env");
        std::fs::write(
            &file,
            "# comment\nexport FLOWSCALE_API_KEY=\"abc\" # prod\nbad line\nexport FLOWSCALE_API_URL=http://h:1\n\n",
        )
        .unwrap();
        assert_eq!(
            read_dotenv(&file),
            [
                ("FLOWSCALE_API_KEY".to_string(), "abc".to_string()),
                ("FLOWSCALE_API_URL".to_string(), "http://h:1".to_string())
            ]
        );
        assert!(read_dotenv(&dir.join("missing")).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
