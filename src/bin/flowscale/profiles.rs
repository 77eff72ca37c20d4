//! Named pods: a config file (`~/.config/flowscale/config.toml` on Linux, the platform's
//! config directory elsewhere, `FLOWSCALE_CONFIG` to choose another) holding, per profile,
//! a pod's URL and key. `flowscale login` writes it (mode 0600), `logout` removes a profile,
//! `profiles` lists them (never a key) and says which pod a command here would use. A file
//! that others may read is refused, as ssh refuses such a private key. The key is stored
//! here on purpose: it is the one file the tool writes a key into.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::credentials::{self, Given};
use crate::exit::{EXIT_FAILED, Failure};
use crate::output::{self, Mode, emit};
use crate::pod_choice::Half;
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

/// Where `login` takes the key from, first found: the flags, `FLOWSCALE_API_KEY`, the
/// terminal (without echo) or standard input's first line.
pub struct LoginKey {
    pub api_key: Option<Secret>,
    pub api_key_file: Option<PathBuf>,
}

/// `flowscale login`: reads the key, checks it against the pod, and stores the profile.
pub fn login(
    profile: Option<&str>,
    api_url: Option<String>,
    given: LoginKey,
    mode: Mode,
) -> Result<(), Failure> {
    let name = profile.unwrap_or(DEFAULT_PROFILE);
    let url = api_url
        .or_else(|| std::env::var(flowscale::ENV_API_URL).ok())
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            Failure::usage(
                "login needs the pod's URL",
                "pass --api-url https://<pod-id>.pod.flowscale.ai",
            )
        })?;
    let key = login_key(given)?;
    // Checked before it is stored: a typo is said now, not at the first run.
    let client = flowscale::Client::new(key.expose(), url.as_str())?;
    client.check_health().map_err(|e| not_accepted(e, &url))?;
    let path = config_path()?;
    let mut config = read(&path)?.unwrap_or_default();
    config.profiles.insert(
        name.to_owned(),
        Profile {
            api_url: url.clone(),
            api_key: key,
        },
    );
    write(&path, &config)?;
    let doc = json!({"profile": name, "api_url": url, "config": path});
    emit(mode, &doc, || {
        vec![format!(
            "logged in: profile `{name}` at {url} (saved in {})",
            path.display()
        )]
    })
}

/// The key for `login`, from the first place that has one.
fn login_key(given: LoginKey) -> Result<Secret, Failure> {
    if let Some(path) = &given.api_key_file {
        return crate::credentials::key_from_file(path);
    }
    if let Some(key) = given.api_key.filter(|k| !k.is_empty()) {
        output::warn(
            "--api-key can be read by other users of this machine (`ps`) and stays in the \
             shell's history: prefer --api-key-file or FLOWSCALE_API_KEY",
        );
        return Ok(key);
    }
    if let Some(key) = std::env::var(flowscale::ENV_API_KEY)
        .ok()
        .map(Secret::new)
        .filter(|k| !k.is_empty())
    {
        return Ok(key);
    }
    read_key()
}

/// Why `login` stores nothing, in words that tell a refused key from a pod out of reach.
fn not_accepted(e: flowscale::Error, url: &str) -> Failure {
    let refused = matches!(e.status(), Some(401 | 403));
    let unreachable = matches!(e, flowscale::Error::Transport { .. });
    let mut failure = Failure::from(e);
    if refused {
        failure.message = format!("the pod refused the key: {}", failure.message);
        failure.hint = Some(format!(
            "check the key (FlowScale's dashboard shows the pod's keys); nothing was saved, \
             and {url} answered, so the URL is right"
        ));
    } else if unreachable {
        failure.message = format!("could not reach the pod at {url}: {}", failure.message);
        failure.hint = Some(
            "check --api-url (https://<pod-id>.pod.flowscale.ai) and the network; nothing \
             was saved"
                .to_owned(),
        );
    } else {
        failure.message = format!("the pod did not accept the key: {}", failure.message);
    }
    failure
}

/// `flowscale logout`: removes a profile from the file.
pub fn logout(profile: Option<&str>, mode: Mode) -> Result<(), Failure> {
    let name = profile.unwrap_or(DEFAULT_PROFILE);
    let path = config_path()?;
    let mut config = read(&path)?.unwrap_or_default();
    if config.profiles.remove(name).is_none() {
        return Err(Failure {
            message: format!("no profile `{name}` in {}", path.display()),
            hint: Some("`flowscale profiles` lists them".to_owned()),
            run_id: None,
            code: EXIT_FAILED,
            result_printed: false,
        });
    }
    write(&path, &config)?;
    let doc = json!({"profile": name, "removed": true, "config": path});
    emit(mode, &doc, || {
        vec![format!("logged out: profile `{name}` removed")]
    })
}

/// `flowscale profiles`: the saved profiles (names and URLs, never keys), and the pod a
/// command here would talk to: where its URL and key come from, the key masked, or why
/// there is none (a listing is no failure: showing that is this command's job).
pub fn list(mode: Mode, given: &Given) -> Result<(), Failure> {
    let path = config_path()?;
    let config = read(&path)?.unwrap_or_default();
    let profiles: Vec<_> = (config.profiles.iter())
        .map(|(name, p)| json!({"name": name, "api_url": p.api_url}))
        .collect();
    let here = credentials::resolve(given);
    let active = here.as_ref().ok().map(|pair| {
        json!({
            "api_url": pair.url,
            "key": pair.key.masked(),
            "key_source": pair.key_from.json(Half::Key),
            "url_source": pair.url_from.json(Half::Url),
        })
    });
    let problem = here
        .as_ref()
        .err()
        .map(|f| json!({"error": f.message, "hint": f.hint}));
    let doc = json!({"profiles": profiles, "config": path, "active": active, "problem": problem});
    emit(mode, &doc, || {
        let mut lines: Vec<String> = (config.profiles.iter())
            .map(|(name, p)| match mode {
                Mode::Quiet => name.clone(),
                _ => format!("{name}\t{}", p.api_url),
            })
            .collect();
        if mode != Mode::Quiet {
            lines.push(match &here {
                Ok(pair) => format!("here: {}", credentials::describe(pair)),
                Err(f) => format!("here: no pod: {}", f.message),
            });
        }
        lines
    })
}

/// The key, from the terminal without echo, or from standard input's first line.
fn read_key() -> Result<Secret, Failure> {
    let key = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("FlowScale API key: ")
            .map_err(|e| Failure::usage(format!("cannot read the key: {e}"), "type or paste it"))?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| {
            Failure::usage(
                format!("cannot read the key from standard input: {e}"),
                "pipe it in: flowscale login < key-file",
            )
        })?;
        line
    };
    let key = Secret::new(key);
    if key.is_empty() {
        return Err(Failure::usage(
            "no key given",
            "pass --api-key-file, set FLOWSCALE_API_KEY, type it at the prompt, or pipe it in \
             on standard input",
        ));
    }
    Ok(key)
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
    };
    let text = toml::to_string(config).map_err(|e| failed(std::io::Error::other(e)))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(failed)?;
    }
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    let temp = path.with_file_name(name);
    let _ = std::fs::remove_file(&temp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(b"# flowscale profiles: written by `flowscale login`; keep it private\n")?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(failed(e));
    }
    Ok(())
}
