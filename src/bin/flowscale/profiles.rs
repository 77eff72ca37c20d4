//! Named pods: a config file (`~/.config/flowscale/config.toml` on Linux, the platform's
//! config directory elsewhere, `FLOWSCALE_CONFIG` to choose another) holding, per profile,
//! a pod's URL and key. `flowscale login` writes it (mode 0600), `logout` removes a profile,
//! `profiles` lists them (never a key). A file that others may read is refused, as ssh
//! refuses such a private key.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::exit::{EXIT_FAILED, Failure};
use crate::output::{self, Mode, emit};

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

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Profile {
    api_url: String,
    api_key: String,
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

/// The profile to use: `--profile`, else `FLOWSCALE_PROFILE`, else `default` when the file
/// has one. Its URL and key, or `None` when no profile was named and there is no default.
pub fn chosen(flag: Option<&str>) -> Result<Option<(String, String)>, Failure> {
    let named = flag.map(str::to_owned).or_else(|| {
        std::env::var(ENV_PROFILE)
            .ok()
            .filter(|p| !p.trim().is_empty())
    });
    let path = config_path()?;
    let config = read(&path)?.unwrap_or_default();
    let name = named.clone().unwrap_or_else(|| DEFAULT_PROFILE.to_owned());
    match (config.profiles.get(&name), named) {
        (Some(p), _) => Ok(Some((p.api_url.clone(), p.api_key.clone()))),
        (None, None) => Ok(None),
        (None, Some(name)) => Err(Failure::usage(
            format!("no profile `{name}` in {}", path.display()),
            format!("add it with `flowscale login --profile {name} --api-url URL`"),
        )),
    }
}

/// `flowscale login`: reads the key (from the terminal without echo, else the first line
/// of standard input), checks it against the pod, and stores the profile.
pub fn login(profile: Option<&str>, api_url: Option<String>) -> Result<(), Failure> {
    let name = profile.unwrap_or(DEFAULT_PROFILE);
    let url = api_url
        .or_else(|| std::env::var(flowscale::ENV_API_URL).ok())
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| {
            Failure::usage(
                "login needs the pod's URL",
                "pass --api-url https://<pod-id>.pod.flowscale.ai",
            )
        })?;
    let key = read_key()?;
    // Checked before it is stored: a typo is said now, not at the first run.
    let client = flowscale::Client::new(key.clone(), url.trim())?;
    client.check_health().map_err(|e| {
        let mut failure = Failure::from(e);
        failure.message = format!("the pod did not accept the key: {}", failure.message);
        failure
    })?;
    let path = config_path()?;
    let mut config = read(&path)?.unwrap_or_default();
    config.profiles.insert(
        name.to_owned(),
        Profile {
            api_url: url.trim().to_owned(),
            api_key: key,
        },
    );
    write(&path, &config)?;
    output::note(format_args!(
        "logged in: profile `{name}` at {} (saved in {})",
        url.trim(),
        path.display()
    ));
    Ok(())
}

/// `flowscale logout`: removes a profile from the file.
pub fn logout(profile: Option<&str>) -> Result<(), Failure> {
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
    output::note(format_args!("logged out: profile `{name}` removed"));
    Ok(())
}

/// `flowscale profiles`: names and URLs, never keys.
pub fn list(mode: Mode) -> Result<(), Failure> {
    let path = config_path()?;
    let config = read(&path)?.unwrap_or_default();
    let profiles: Vec<_> = (config.profiles.iter())
        .map(|(name, p)| json!({"name": name, "api_url": p.api_url}))
        .collect();
    emit(mode, &json!({"profiles": profiles}), || {
        (config.profiles.iter())
            .map(|(name, p)| match mode {
                Mode::Quiet => name.clone(),
                _ => format!("{name}\t{}", p.api_url),
            })
            .collect()
    })
}

/// The key, from the terminal without echo, or from standard input's first line.
fn read_key() -> Result<String, Failure> {
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
    let key = key.trim().to_owned();
    if key.is_empty() {
        return Err(Failure::usage(
            "no key given",
            "type it at the prompt, or pipe it in on standard input",
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
