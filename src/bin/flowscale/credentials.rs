//! Where the API key and URL are read from: the flags, a profile (`profiles.rs`), the
//! environment and a `.env` file in the current directory (as the Python SDK's docs
//! recommend). Which pair is used is decided in `pod_choice.rs`, without I/O.

use std::path::{Path, PathBuf};

use flowscale::constants::{ENV_API_KEY, ENV_API_URL};

use crate::exit::Failure;
use crate::pod_choice::{self, Half, Pair, Place, Refusal, Source};
use crate::profiles;
use crate::secret::Secret;

/// The credentials given on the command line.
#[derive(Debug, Default)]
pub struct Given {
    pub api_key: Option<Secret>,
    pub api_key_file: Option<PathBuf>,
    pub api_url: Option<String>,
    pub profile: Option<String>,
}

/// The pair a command uses, or a usage failure that says which places disagree, or what
/// is missing and where to set it.
pub fn resolve(given: &Given) -> Result<Pair, Failure> {
    pod_choice::choose(&sources(given)?).map_err(refused)
}

/// Every place that gives a key or a URL here, in rank order (`pod_choice.rs`). The profiles
/// file is read for a named profile, else for `default` only when the places before it
/// leave a half unset (a profiles file that cannot be read then stops nobody who does not
/// use it).
pub fn sources(given: &Given) -> Result<Vec<Source>, Failure> {
    let mut sources = Vec::new();
    let (key, key_flag) = match (&given.api_key_file, &given.api_key) {
        (Some(path), _) => (Some(key_from_file(path)?), Some("--api-key-file")),
        (None, Some(key)) => (Some(key.clone()), Some("--api-key")),
        (None, None) => (None, None),
    };
    sources.push(Source {
        place: Place::Flags { key_flag },
        key: key.filter(|k| !k.is_empty()),
        url: nonempty(given.api_url.clone()),
    });
    let named = profiles::named(given.profile.as_deref())?;
    if let Some(name) = &named {
        let (url, key) = profiles::find(name)?.ok_or_else(|| profiles::missing(name))?;
        sources.push(profile_source(name, true, url, key));
    }
    sources.push(Source {
        place: Place::Environment,
        key: nonempty(std::env::var(ENV_API_KEY).ok()).map(Secret::new),
        url: nonempty(std::env::var(ENV_API_URL).ok()),
    });
    let dotenv = read_dotenv(Path::new(".env"));
    let from_dotenv = |name: &str| {
        let value = dotenv
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone());
        nonempty(value)
    };
    sources.push(Source {
        place: Place::DotEnv(format!(".{}.env", std::path::MAIN_SEPARATOR)),
        key: from_dotenv(ENV_API_KEY).map(Secret::new),
        url: from_dotenv(ENV_API_URL),
    });
    let whole = sources.iter().any(|s| s.key.is_some()) && sources.iter().any(|s| s.url.is_some());
    if named.is_none() && !whole {
        let name = profiles::DEFAULT_PROFILE;
        if let Some((url, key)) = profiles::find(name)? {
            sources.push(profile_source(name, false, url, key));
        }
    }
    // Places that give nothing are no part of any decision.
    sources.retain(|s| s.key.is_some() || s.url.is_some());
    Ok(sources)
}

fn profile_source(name: &str, named: bool, url: String, key: Secret) -> Source {
    Source {
        place: Place::Profile {
            name: name.to_owned(),
            named,
        },
        key: Some(key).filter(|k| !k.is_empty()),
        url: nonempty(Some(url)),
    }
}

fn nonempty(value: Option<String>) -> Option<String> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.trim().to_owned())
}

/// The refusal as the tool says it: what was found where, and what to do.
pub fn refused(refusal: Refusal) -> Failure {
    let hint = match &refusal {
        Refusal::NoKey { .. } => {
            let saved = profiles::saved_names();
            let profiles = if saved.is_empty() {
                "save a profile with `flowscale login`".to_owned()
            } else {
                format!("use a saved profile with --profile ({})", saved.join(", "))
            };
            format!(
                "set {ENV_API_KEY} with {ENV_API_URL}, pass --api-key-file with --api-url, \
                 or {profiles} (try `flowscale mock` for a local simulator)"
            )
        }
        Refusal::NoUrl { .. } => format!(
            "set {ENV_API_URL} (https://<pod-id>.pod.flowscale.ai) or pass --api-url, from \
             the same place as the key"
        ),
        Refusal::Split { url_from, .. } => {
            let fix = match url_from {
                Place::DotEnv(path) => format!("remove {ENV_API_URL} from {path}"),
                Place::Environment => format!("unset {ENV_API_URL}"),
                _ => "drop --api-url".to_owned(),
            };
            format!(
                "{fix}, or give the key for that URL from the same place: a key is sent only \
                 to the pod it was given for"
            )
        }
    };
    Failure::usage(refusal.to_string(), hint)
}

/// The pair in words, for `flowscale profiles`.
pub fn describe(pair: &Pair) -> String {
    format!(
        "{} with key {} (key from {}, URL from {})",
        pair.url,
        pair.key.masked(),
        pair.key_from.describe(Half::Key),
        pair.url_from.describe(Half::Url)
    )
}

/// The key in the first line of `path` (`--api-key-file`). A file that others may read (or
/// write) is refused, as ssh refuses such a private key: the key would not be private.
/// Nothing of the file's content is ever part of a message.
pub fn key_from_file(path: &Path) -> Result<Secret, Failure> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        Failure::usage(
            format!("cannot read the key file {shown}: {e}"),
            "give a file holding the API key on its first line",
        )
    })?;
    // Said before the mode: a directory's usual mode is no mistake of the user's.
    if !meta.is_file() {
        return Err(Failure::usage(
            format!("the key file {shown} is not a file"),
            "give a file holding the API key on its first line",
        ));
    }
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
        Some(key) => Ok(Secret::new(key)),
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
