//! Named pods, stored: a config file (`~/.config/flowscale/config.toml` on Linux, the
//! platform's config directory elsewhere, `FLOWSCALE_CONFIG` to choose another) holding,
//! per profile, a pod's URL and key, written mode 0600 and read only when private (as ssh
//! refuses a private key others may read). The key is stored here on purpose: it is the
//! one file the tool writes a key into. The commands over it are in `login.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::exit::{EXIT_FAILED, Failure};
use crate::secret::Secret;

/// The config file's path, when set in the environment.
pub const ENV_CONFIG: &str = "FLOWSCALE_CONFIG";
/// The profile to use, when set in the environment (`--profile` wins).
pub const ENV_PROFILE: &str = "FLOWSCALE_PROFILE";
/// The profile used when none is named, and the one `login` writes by default.
pub const DEFAULT_PROFILE: &str = "default";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Config {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// A saved pod; its `Debug` shows no key (`Secret`).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Profile {
    api_url: String,
    api_key: Secret,
}

/// Where the config file is: `FLOWSCALE_CONFIG`, else `flowscale/config.toml` in the
/// platform's config directory.
pub fn config_path() -> Result<PathBuf, Failure> {
    if let Some(path) = std::env::var_os(ENV_CONFIG).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    dirs::config_dir()
        .map(|dir| dir.join("flowscale").join("config.toml"))
        .ok_or_else(|| {
            Failure::usage(
                "this system has no config directory for the profiles",
                format!("set {ENV_CONFIG} to the file to use"),
            )
        })
}

/// The profile named for this command: `--profile`, else `FLOWSCALE_PROFILE` (checked as
/// `--profile` is); `None` when neither names one.
pub fn named(flag: Option<&str>) -> Result<Option<String>, Failure> {
    if let Some(name) = flag {
        return Ok(Some(name.to_owned()));
    }
    match std::env::var(ENV_PROFILE) {
        Ok(name) if !name.trim().is_empty() => check_name(name.trim())
            .map(|name| Some(name.to_owned()))
            .map_err(|e| Failure::usage(format!("{ENV_PROFILE}: {e}"), NAME_RULE)),
        _ => Ok(None),
    }
}

/// What a profile name may be, for the hint of a refused one.
pub const NAME_RULE: &str = "a profile name is 1 to 64 letters, digits, `-`, `_` or `.`, \
                             starting with a letter or digit";

/// A profile name, or why it is refused: 1 to 64 ASCII letters, digits, `-`, `_` or `.`,
/// starting with a letter or digit (a name is a key in the file and a word in messages).
pub fn check_name(name: &str) -> Result<&str, String> {
    let fine = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if fine {
        Ok(name)
    } else {
        Err(format!("`{}` is not a profile name", name.escape_debug()))
    }
}

/// The profile `name`'s URL and key, `None` when the file or the profile is not there.
pub fn find(name: &str) -> Result<Option<(String, Secret)>, Failure> {
    let config = read(&config_path()?)?.unwrap_or_default();
    Ok(config
        .profiles
        .get(name)
        .map(|p| (p.api_url.clone(), p.api_key.clone())))
}

/// The failure for a named profile that is not saved.
pub fn missing(name: &str) -> Failure {
    let path = config_path().map_or_else(
        |_| "the profiles file".to_owned(),
        |p| p.display().to_string(),
    );
    Failure::usage(
        format!("no profile `{name}` in {path}"),
        format!("add it with `flowscale login --profile {name} --api-url URL`"),
    )
}

/// The names of the saved profiles, for a hint; none when the file cannot be read.
pub fn saved_names() -> Vec<String> {
    let config = config_path()
        .ok()
        .and_then(|path| read(&path).ok().flatten());
    config.map_or_else(Vec::new, |c| c.profiles.into_keys().collect())
}

/// Saves the profile `name` (its URL and key) in the file; the file's path.
pub fn save(name: &str, api_url: &str, api_key: Secret) -> Result<PathBuf, Failure> {
    let path = config_path()?;
    let mut config = read(&path)?.unwrap_or_default();
    config.profiles.insert(
        name.to_owned(),
        Profile {
            api_url: api_url.to_owned(),
            api_key,
        },
    );
    write(&path, &config)?;
    Ok(path)
}

/// Removes the profile `name` from the file: the file's path, or `None` when there was no
/// such profile.
pub fn remove(name: &str) -> Result<Option<PathBuf>, Failure> {
    let path = config_path()?;
    let mut config = read(&path)?.unwrap_or_default();
    if config.profiles.remove(name).is_none() {
        return Ok(None);
    }
    write(&path, &config)?;
    Ok(Some(path))
}

/// The file's path and every profile in it (name and URL, never the key), by name.
pub fn all() -> Result<(PathBuf, Vec<(String, String)>), Failure> {
    let path = config_path()?;
    let config = read(&path)?.unwrap_or_default();
    let listed = (config.profiles.into_iter())
        .map(|(name, p)| (name, p.api_url))
        .collect();
    Ok((path, listed))
}

/// The config file, if there is one; refused when others may read it.
fn read(path: &Path) -> Result<Option<Config>, Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::usage(
                format!("cannot read {}: {e}", path.display()),
                format!("check the file, or set {ENV_CONFIG} to another"),
            ));
        }
    };
    private(path)?;
    // The parser's own message only: its excerpt of the file could show a key.
    toml::from_str(&text).map(Some).map_err(|e| {
        Failure::usage(
            format!(
                "{} is not a valid profiles file: {}",
                path.display(),
                e.message()
            ),
            "fix it, or remove it and run `flowscale login` again",
        )
    })
}

/// Refuses a file that users other than its owner may read or write.
fn private(path: &Path) -> Result<(), Failure> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        if mode & 0o077 != 0 {
            return Err(Failure::usage(
                format!(
                    "{} may be read by other users (mode {mode:03o}): refused, it holds keys",
                    path.display()
                ),
                format!("make it yours alone: chmod 600 {}", path.display()),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes the file whole, mode 0600, through a new file renamed over it (never half-written,
/// never readable by others, even for a moment).
fn write(path: &Path, config: &Config) -> Result<(), Failure> {
    let failed = |e: std::io::Error| Failure {
        message: format!("cannot write {}: {e}", path.display()),
        hint: None,
        run_id: None,
        code: EXIT_FAILED,
        result_printed: false,
        status: None,
    };
    let text = toml::to_string(config).map_err(|e| failed(std::io::Error::other(e)))?;
    let contents =
        format!("# flowscale profiles: written by `flowscale login`; keep it private\n{text}");
    crate::write_file::write_whole(path, contents.as_bytes(), true).map_err(failed)?;
    Ok(())
}
