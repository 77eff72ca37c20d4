//! Which pod a command talks to and with which key: the key and the URL chosen as a pair,
//! without I/O (`credentials.rs` reads the places, this decides).
//!
//! The places, first found wins:
//!
//! | rank | place | gives |
//! |---|---|---|
//! | 1 | `--api-key-file` / `--api-key`, `--api-url` | either or both |
//! | 2 | the profile named by `--profile` or `FLOWSCALE_PROFILE` | both |
//! | 3 | `FLOWSCALE_API_KEY` / `FLOWSCALE_API_URL` in the environment | either or both |
//! | 4 | `./.env` | either or both |
//! | 5 | the profile `default`, when no profile is named | both |
//!
//! The key comes from the first place that has one, the URL likewise. When they come from
//! two places, the pair is refused where it could send a key to a pod it was not given for:
//!
//! - the key's own place names another pod (a profile, or an environment or `.env` that
//!   also sets a URL): the key was given for that pod, not this one;
//! - the URL comes from `./.env` and the key from anywhere else: a `.env` is a file found in
//!   the current folder (a cloned repository's, say), and a key is never sent where such a
//!   file alone points;
//! - the key comes from a profile and the environment or `./.env` sets a URL without a key
//!   for another pod: the user meant two pods at once, and a paid run must not go to the
//!   wrong one.
//!
//! A key without a URL of its own (a flag, or an environment or `.env` without a URL) may go
//! to a URL from a flag, the environment or a profile: the user named both.

use std::fmt;

use crate::secret::Secret;

/// A place a key or URL can come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// The command's flags; `key_flag` is the one that gave the key (`--api-key-file` or
    /// `--api-key`), if any.
    Flags { key_flag: Option<&'static str> },
    /// A saved profile; `named` when `--profile` or `FLOWSCALE_PROFILE` chose it.
    Profile { name: String, named: bool },
    /// `FLOWSCALE_API_KEY` / `FLOWSCALE_API_URL`.
    Environment,
    /// The `.env` file, as its path is shown.
    DotEnv(String),
}

/// Which of the two values a place is named for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Half {
    Key,
    Url,
}

impl Place {
    /// The place in words, for one of the two halves: `--api-url`, `FLOWSCALE_API_KEY in
    /// the environment`, `./.env`, `profile `staging``.
    pub fn describe(&self, half: Half) -> String {
        match (self, half) {
            (Place::Flags { key_flag }, Half::Key) => key_flag.unwrap_or("--api-key").to_owned(),
            (Place::Flags { .. }, Half::Url) => "--api-url".to_owned(),
            (Place::Profile { name, .. }, _) => format!("profile `{name}`"),
            (Place::Environment, Half::Key) => {
                format!("{} in the environment", flowscale::constants::ENV_API_KEY)
            }
            (Place::Environment, Half::Url) => {
                format!("{} in the environment", flowscale::constants::ENV_API_URL)
            }
            (Place::DotEnv(path), _) => path.clone(),
        }
    }

    /// The place as `flowscale profiles --json` gives it.
    pub fn json(&self, half: Half) -> serde_json::Value {
        use serde_json::json;
        match self {
            Place::Flags { .. } => json!({"kind": "flag", "name": self.describe(half)}),
            Place::Profile { name, named } => {
                json!({"kind": "profile", "name": name, "named": named})
            }
            Place::Environment => {
                let var = match half {
                    Half::Key => flowscale::constants::ENV_API_KEY,
                    Half::Url => flowscale::constants::ENV_API_URL,
                };
                json!({"kind": "environment", "name": var})
            }
            Place::DotEnv(path) => json!({"kind": "dotenv", "path": path}),
        }
    }
}

/// What one place gives.
#[derive(Clone, Debug)]
pub struct Source {
    pub place: Place,
    pub key: Option<Secret>,
    pub url: Option<String>,
}

/// The pod to talk to, the key to send it, and where each came from.
#[derive(Clone, Debug)]
pub struct Pair {
    pub key: Secret,
    pub url: String,
    pub key_from: Place,
    pub url_from: Place,
}

/// Why no pair was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No place gives a key; the URL, if one was found, and where.
    NoKey { url: Option<(Place, String)> },
    /// No place gives a URL; where the key was found.
    NoUrl { key_from: Place },
    /// The key and the URL come from two places that point at two pods.
    Split {
        key_from: Place,
        /// The pod the key was given for, when its place names one.
        key_pod: Option<String>,
        url_from: Place,
        url: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoKey { url: None } => f.write_str("no API key and no API URL"),
            Refusal::NoKey {
                url: Some((place, url)),
            } => write!(
                f,
                "no API key for {url} (the URL comes from {})",
                place.describe(Half::Url)
            ),
            Refusal::NoUrl { key_from } => write!(
                f,
                "no API URL (the key comes from {})",
                key_from.describe(Half::Key)
            ),
            Refusal::Split {
                key_from,
                key_pod,
                url_from,
                url,
            } => {
                write!(f, "the key comes from {}", key_from.describe(Half::Key))?;
                if let Some(pod) = key_pod {
                    write!(f, " ({pod})")?;
                }
                write!(f, ", the URL from {} ({url})", url_from.describe(Half::Url))
            }
        }
    }
}

/// The pair from `sources`, given in rank order (flags, the named profile, the environment,
/// `.env`, the default profile), or why there is none. See the module's rules.
pub fn choose(sources: &[Source]) -> Result<Pair, Refusal> {
    let key_at = sources.iter().position(|s| s.key.is_some());
    let url_at = sources.iter().position(|s| s.url.is_some());
    let (key_at, url_at) = match (key_at, url_at) {
        (Some(k), Some(u)) => (k, u),
        (None, url_at) => {
            let url = url_at.map(|u| (sources[u].place.clone(), url_of(&sources[u]).to_owned()));
            return Err(Refusal::NoKey { url });
        }
        (Some(k), None) => {
            return Err(Refusal::NoUrl {
                key_from: sources[k].place.clone(),
            });
        }
    };
    let (keyed, urled) = (&sources[key_at], &sources[url_at]);
    let url = url_of(urled);
    let split = |key_pod: Option<&str>, url_from: &Place, url: &str| Refusal::Split {
        key_from: keyed.place.clone(),
        key_pod: key_pod.map(str::to_owned),
        url_from: url_from.clone(),
        url: url.to_owned(),
    };
    if key_at != url_at {
        // The key was given for a pod of its own: it goes there or nowhere.
        if let Some(own) = keyed.url.as_deref().filter(|own| !same_origin(own, url)) {
            return Err(split(Some(own), &urled.place, url));
        }
        // A URL found only in a .env never receives a key from elsewhere.
        if matches!(urled.place, Place::DotEnv(_)) && keyed.url.is_none() {
            return Err(split(None, &urled.place, url));
        }
    }
    // A profile's key, while the environment or .env asks for another pod.
    if let Place::Profile { .. } = keyed.place {
        let asked = sources.iter().find(|s| {
            matches!(s.place, Place::Environment | Place::DotEnv(_))
                && s.key.is_none()
                && s.url.as_deref().is_some_and(|u| !same_origin(u, url))
        });
        if let Some(asked) = asked {
            return Err(split(Some(url), &asked.place, url_of(asked)));
        }
    }
    Ok(Pair {
        key: keyed.key.clone().unwrap_or_else(|| Secret::new("")),
        url: url.to_owned(),
        key_from: keyed.place.clone(),
        url_from: urled.place.clone(),
    })
}

fn url_of(source: &Source) -> &str {
    source.url.as_deref().unwrap_or_default()
}

/// Whether two URLs name one origin: scheme, host and port (the scheme's default port when
/// none is written), case aside. Anything that is not a URL is its own origin.
pub fn same_origin(a: &str, b: &str) -> bool {
    origin(a) == origin(b)
}

fn origin(url: &str) -> String {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host_port = host_port.to_ascii_lowercase();
    // A port is what follows the last `:` outside an IPv6 literal's brackets.
    let has_port = host_port
        .rfind(':')
        .is_some_and(|i| !host_port[i..].contains(']'));
    let default = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => "",
    };
    if has_port {
        format!("{scheme}://{host_port}")
    } else {
        format!("{scheme}://{host_port}{default}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAGING: &str = "https://staging-pod";
    const OTHER: &str = "http://127.0.0.1:9999";

    fn flags(key: bool, url: Option<&str>) -> Source {
        Source {
            place: Place::Flags {
                key_flag: key.then_some("--api-key-file"),
            },
            key: key.then(|| Secret::new("flag-key")),
            url: url.map(str::to_owned),
        }
    }

    fn profile(named: bool) -> Source {
        Source {
            place: Place::Profile {
                name: if named { "staging" } else { "default" }.to_owned(),
                named,
            },
            key: Some(Secret::new("profile-key")),
            url: Some(STAGING.to_owned()),
        }
    }

    fn env(key: bool, url: Option<&str>) -> Source {
        Source {
            place: Place::Environment,
            key: key.then(|| Secret::new("env-key")),
            url: url.map(str::to_owned),
        }
    }

    fn dotenv(key: bool, url: Option<&str>) -> Source {
        Source {
            place: Place::DotEnv("./.env".to_owned()),
            key: key.then(|| Secret::new("dotenv-key")),
            url: url.map(str::to_owned),
        }
    }

    fn chosen(sources: &[Source]) -> Result<(String, String), Refusal> {
        choose(sources).map(|p| (p.key.expose().to_owned(), p.url))
    }

    #[test]
    fn the_issue_scenario_is_refused_naming_both_places() {
        // A saved profile and a .env (or an exported URL) for another host, named or not.
        for named in [true, false] {
            for other in [dotenv(false, Some(OTHER)), env(false, Some(OTHER))] {
                let sources = [profile(named), other.clone()];
                let sources = if named {
                    sources.to_vec()
                } else {
                    vec![other.clone(), profile(false)]
                };
                let refusal = choose(&sources).unwrap_err();
                let text = refusal.to_string();
                let profile = if named { "staging" } else { "default" };
                assert!(
                    text.starts_with(&format!(
                        "the key comes from profile `{profile}` ({STAGING}), the URL from "
                    )) && text.ends_with(&format!("({OTHER})")),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn one_place_giving_both_is_used_whole() {
        assert_eq!(
            chosen(&[dotenv(true, Some(OTHER))]).unwrap(),
            ("dotenv-key".to_owned(), OTHER.to_owned())
        );
        // A named profile wins over a whole pair in the environment and in .env.
        assert_eq!(
            chosen(&[
                profile(true),
                env(true, Some(OTHER)),
                dotenv(true, Some(OTHER))
            ])
            .unwrap(),
            ("profile-key".to_owned(), STAGING.to_owned())
        );
        // The environment's pair wins over the default profile and a .env half.
        assert_eq!(
            chosen(&[
                env(true, Some(OTHER)),
                dotenv(false, Some(STAGING)),
                profile(false)
            ])
            .unwrap(),
            ("env-key".to_owned(), OTHER.to_owned())
        );
    }

    #[test]
    fn a_key_never_moves_to_another_pod() {
        // --api-url elsewhere with a profile's or the environment's pair.
        assert!(matches!(
            choose(&[flags(false, Some(OTHER)), profile(true)]),
            Err(Refusal::Split { .. })
        ));
        assert!(matches!(
            choose(&[flags(false, Some(OTHER)), env(true, Some(STAGING))]),
            Err(Refusal::Split { .. })
        ));
        // The same pod written another way is the same pod.
        assert_eq!(
            chosen(&[
                flags(false, Some("HTTPS://Staging-Pod:443/")),
                profile(true)
            ])
            .unwrap(),
            (
                "profile-key".to_owned(),
                "HTTPS://Staging-Pod:443/".to_owned()
            )
        );
        // A key with no pod of its own goes where the user's flags, environment or
        // profile point, never where a .env alone does.
        assert_eq!(
            chosen(&[flags(true, None), env(false, Some(OTHER))]).unwrap(),
            ("flag-key".to_owned(), OTHER.to_owned())
        );
        assert_eq!(
            chosen(&[env(true, None), profile(false)]).unwrap(),
            ("env-key".to_owned(), STAGING.to_owned())
        );
        for keyed in [flags(true, None), env(true, None)] {
            let refusal = choose(&[keyed, dotenv(false, Some(OTHER))]).unwrap_err();
            assert!(
                matches!(
                    &refusal,
                    Refusal::Split {
                        key_pod: None,
                        url_from: Place::DotEnv(_),
                        ..
                    }
                ),
                "{refusal:?}"
            );
        }
        // A .env key may go where the user points with a flag or the environment.
        assert_eq!(
            chosen(&[env(false, Some(OTHER)), dotenv(true, None)]).unwrap(),
            ("dotenv-key".to_owned(), OTHER.to_owned())
        );
    }

    #[test]
    fn a_missing_half_names_what_was_found() {
        let refusal = choose(&[dotenv(false, Some(OTHER))]).unwrap_err();
        assert_eq!(
            refusal.to_string(),
            format!("no API key for {OTHER} (the URL comes from ./.env)")
        );
        let refusal = choose(&[env(true, None)]).unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "no API URL (the key comes from FLOWSCALE_API_KEY in the environment)"
        );
        assert_eq!(
            choose(&[]).unwrap_err().to_string(),
            "no API key and no API URL"
        );
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert!(same_origin("http://a", "HTTP://A:80/x?y"));
        assert!(same_origin("https://[::1]/", "https://[::1]:443"));
        assert!(!same_origin("https://[::1]:8443", "https://[::1]"));
        assert!(!same_origin("http://a", "https://a"));
        assert!(!same_origin("http://a.example", "http://a.example.evil"));
        assert!(!same_origin("http://a:1", "http://a:2"));
        assert!(!same_origin("http://user@evil@a", "http://a.evil"));
    }
}
