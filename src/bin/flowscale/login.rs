//! The profile commands: `flowscale login` (checks the key against the pod, then stores
//! the profile), `logout`, and `profiles` (the saved ones, never a key, and the pod a
//! command here would use, and why). The file itself is `profiles.rs`.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use serde_json::json;

use crate::credentials::{self, Given};
use crate::exit::{EXIT_FAILED, Failure};
use crate::output::{self, Mode, emit};
use crate::pod_choice::Half;
use crate::profiles;
use crate::secret::Secret;

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
    let name = profile.unwrap_or(profiles::DEFAULT_PROFILE);
    let url = api_url
        .or_else(|| std::env::var(flowscale::constants::ENV_API_URL).ok())
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
    client.health().map_err(|e| not_accepted(e, &url))?;
    let path = profiles::save(name, &url, key)?;
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
    if let Some(key) = std::env::var(flowscale::constants::ENV_API_KEY)
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
    let name = profile.unwrap_or(profiles::DEFAULT_PROFILE);
    let Some(path) = profiles::remove(name)? else {
        return Err(Failure {
            message: format!(
                "no profile `{name}` in {}",
                profiles::config_path()?.display()
            ),
            hint: Some("`flowscale profiles` lists them".to_owned()),
            run_id: None,
            code: EXIT_FAILED,
            result_printed: false,
            status: None,
        });
    };
    let doc = json!({"profile": name, "removed": true, "config": path});
    emit(mode, &doc, || {
        vec![format!("logged out: profile `{name}` removed")]
    })
}

/// `flowscale profiles`: the saved profiles (names and URLs, never keys), and the pod a
/// command here would talk to: where its URL and key come from, the key masked, or why
/// there is none (a listing is no failure: showing that is this command's job).
pub fn list(mode: Mode, given: &Given) -> Result<(), Failure> {
    let (path, saved) = profiles::all()?;
    let listed: Vec<_> = (saved.iter())
        .map(|(name, url)| json!({"name": name, "api_url": url}))
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
    let doc = json!({"profiles": listed, "config": path, "active": active, "problem": problem});
    emit(mode, &doc, || {
        let mut lines: Vec<String> = (saved.iter())
            .map(|(name, url)| match mode {
                Mode::Quiet => name.clone(),
                _ => format!("{name}\t{url}"),
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
        rpassword::prompt_password("FlowScale API key: ").map_err(|e| {
            // Ctrl-C at the prompt: the user left, nothing was saved.
            if e.kind() == std::io::ErrorKind::Interrupted || crate::interrupt::pressed() {
                return Failure {
                    message: "interrupted: no profile was saved".to_owned(),
                    hint: None,
                    run_id: None,
                    code: crate::exit::EXIT_INTERRUPTED,
                    result_printed: false,
                    status: None,
                };
            }
            Failure::usage(format!("cannot read the key: {e}"), "type or paste it")
        })?
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
