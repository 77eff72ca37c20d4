//! Where the key goes, tried over the real binary in a hostile environment: every way the
//! flags, a named profile, the environment, `./.env` and the default profile can give a key
//! and a URL, each place with a key of its own and a pod of its own (a server that records
//! every `X-API-KEY` it receives). No key may reach a server the user did not name as that
//! key's pod. Also `flowscale login` and `flowscale profiles`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

mod common;

/// The five places, in rank order.
const PLACES: [&str; 5] = [
    "flags",
    "named profile",
    "environment",
    ".env",
    "default profile",
];
const FLAGS: usize = 0;
const NAMED: usize = 1;
const ENV: usize = 2;
const DOTENV: usize = 3;
const DEFAULT: usize = 4;

/// What one place gives in a case: a key, a URL, both or nothing (a profile gives both or
/// is not there).
#[derive(Clone, Copy, Debug)]
struct Gives {
    key: bool,
    url: bool,
}

const HALVES: [Gives; 4] = [
    Gives {
        key: false,
        url: false,
    },
    Gives {
        key: true,
        url: false,
    },
    Gives {
        key: false,
        url: true,
    },
    Gives {
        key: true,
        url: true,
    },
];

struct Pod {
    url: String,
    keys: Arc<Mutex<Vec<Option<String>>>>,
}

fn key_of(place: usize) -> String {
    format!(
        "key-of-the-{}-0123456789",
        PLACES[place].replace([' ', '.'], "-")
    )
}

fn workdir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowscale-cred-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A file only its owner may read, as the tool asks of key and profiles files.
fn private_file(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// The binary in `dir`, with none of the caller's FlowScale settings.
fn tool(dir: &Path, config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowscale"));
    cmd.current_dir(dir)
        .env_remove("FLOWSCALE_API_KEY")
        .env_remove("FLOWSCALE_API_URL")
        .env_remove("FLOWSCALE_PROFILE")
        .env("FLOWSCALE_CONFIG", config);
    cmd
}

fn profiles_file(pods: &[Pod], default: bool) -> String {
    let mut text = format!(
        "[profiles.staging]\napi_url = \"{}\"\napi_key = \"{}\"\n",
        pods[NAMED].url,
        key_of(NAMED)
    );
    if default {
        text += &format!(
            "[profiles.default]\napi_url = \"{}\"\napi_key = \"{}\"\n",
            pods[DEFAULT].url,
            key_of(DEFAULT)
        );
    }
    text
}

#[test]
fn no_key_reaches_a_pod_it_was_not_given_for() {
    let pods: Vec<Pod> = (0..PLACES.len())
        .map(|_| {
            let (url, keys) = common::key_capture_server(Duration::from_secs(600));
            Pod { url, keys }
        })
        .collect();
    let dir = workdir("table");
    let key_file = dir.join("key");
    private_file(&key_file, &format!("{}\n", key_of(FLAGS)));
    let with_default = dir.join("with-default.toml");
    let without_default = dir.join("without-default.toml");
    private_file(&with_default, &profiles_file(&pods, true));
    private_file(&without_default, &profiles_file(&pods, false));

    let mut cases = 0;
    for flags in HALVES {
        for named in [false, true] {
            for env in HALVES {
                for dotenv in HALVES {
                    for default in [false, true] {
                        let gives = [
                            flags,
                            Gives {
                                key: named,
                                url: named,
                            },
                            env,
                            dotenv,
                            Gives {
                                key: default,
                                url: default,
                            },
                        ];
                        let config = if default {
                            &with_default
                        } else {
                            &without_default
                        };
                        let mut cmd = tool(&dir, config);
                        cmd.arg("health");
                        if flags.key {
                            cmd.arg("--api-key-file").arg(&key_file);
                        }
                        if flags.url {
                            cmd.args(["--api-url", &pods[FLAGS].url]);
                        }
                        // A profile is named by the flag or by FLOWSCALE_PROFILE, in turn.
                        if named && cases % 2 == 0 {
                            cmd.args(["--profile", "staging"]);
                        } else if named {
                            cmd.env("FLOWSCALE_PROFILE", "staging");
                        }
                        if env.key {
                            cmd.env("FLOWSCALE_API_KEY", key_of(ENV));
                        }
                        if env.url {
                            cmd.env("FLOWSCALE_API_URL", &pods[ENV].url);
                        }
                        let mut lines = String::new();
                        if dotenv.key {
                            lines += &format!("FLOWSCALE_API_KEY={}\n", key_of(DOTENV));
                        }
                        if dotenv.url {
                            lines += &format!("FLOWSCALE_API_URL={}\n", pods[DOTENV].url);
                        }
                        std::fs::write(dir.join(".env"), lines).unwrap();
                        let out = cmd.output().unwrap();
                        let code = out.status.code().unwrap_or(-1);
                        let text = String::from_utf8_lossy(&out.stdout).into_owned()
                            + &String::from_utf8_lossy(&out.stderr);
                        let case = format!("{gives:?}: exit {code}: {text}");
                        check_case(&pods, &gives, code, &text, &case);
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, 256);
}

/// What one case must show: no key at a pod that was not named for it, a refusal that
/// sent nothing, a success that sent one request, and the places the rules name.
fn check_case(pods: &[Pod], gives: &[Gives; 5], code: i32, text: &str, case: &str) {
    assert!(
        PLACES
            .iter()
            .enumerate()
            .all(|(p, _)| !text.contains(&key_of(p))),
        "a key was printed: {case}"
    );
    let mut received = Vec::new();
    for (at, pod) in pods.iter().enumerate() {
        for key in pod.keys.lock().unwrap().drain(..) {
            received.push((at, key));
        }
    }
    for (at, key) in &received {
        let key = key
            .as_deref()
            .unwrap_or_else(|| panic!("no key sent: {case}"));
        let from = (0..PLACES.len()).find(|p| key_of(*p) == key).unwrap();
        // A key goes to its own place's pod; a key given without a pod of its own may go
        // where the user pointed, never where only a .env points.
        let named_for_it = from == *at || (!gives[from].url && *at != DOTENV);
        assert!(
            named_for_it,
            "the key of the {} reached the pod of the {}: {case}",
            PLACES[from], PLACES[*at]
        );
    }
    match code {
        0 => assert_eq!(received.len(), 1, "{case}"),
        2 => assert!(received.is_empty(), "a refusal sent a request: {case}"),
        _ => panic!("neither used nor refused: {case}"),
    }
    let first = gives.iter().position(|g| g.key || g.url);
    let url_only_halves = [ENV, DOTENV].iter().any(|&p| gives[p].url && !gives[p].key);
    // A named profile wins over the environment and .env, unless they point elsewhere.
    if first == Some(NAMED) {
        if url_only_halves {
            assert_eq!(code, 2, "{case}");
            assert!(
                text.contains("the key comes from profile `staging`"),
                "{case}"
            );
        } else {
            assert_eq!((code, received[0].0), (0, NAMED), "{case}");
        }
    }
    // The issue's scenario without --profile: the default profile and a URL elsewhere.
    if gives[DEFAULT].key && first.is_some_and(|f| f == ENV || f == DOTENV) {
        let key_elsewhere = gives[ENV].key || gives[DOTENV].key;
        if !key_elsewhere {
            assert_eq!(code, 2, "{case}");
            assert!(
                text.contains("the key comes from profile `default`"),
                "{case}"
            );
        }
    }
    // A place that gives both, before any other, is used whole.
    if let Some(f) = first.filter(|&f| f != NAMED && gives[f].key && gives[f].url) {
        assert_eq!((code, received[0].0), (0, f), "{case}");
    }
}

#[test]
fn the_issue_scenario_names_both_places_and_sends_nothing() {
    let (other, keys) = common::key_capture_server(Duration::from_secs(120));
    let (pod, pod_keys) = common::key_capture_server(Duration::from_secs(120));
    let dir = workdir("scenario");
    let config = dir.join("conf").join("config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    let key = "the-staging-key-0123456789";
    private_file(
        &config,
        &format!("[profiles.staging]\napi_url = \"{pod}\"\napi_key = \"{key}\"\n"),
    );
    std::fs::write(dir.join(".env"), format!("FLOWSCALE_API_URL={other}\n")).unwrap();
    for named in [true, false] {
        let mut cmd = tool(&dir, &config);
        if named {
            cmd.args(["--profile", "staging"]);
        } else {
            cmd.env("FLOWSCALE_PROFILE", "staging");
        }
        let out = cmd.arg("health").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!(
                "error: the key comes from profile `staging` ({pod}), the URL from ./.env ({other})"
            )),
            "{err}"
        );
        assert!(!err.contains(key), "{err}");
    }
    // The same with the URL exported instead.
    std::fs::remove_file(dir.join(".env")).unwrap();
    let out = tool(&dir, &config)
        .args(["--profile", "staging", "health"])
        .env("FLOWSCALE_API_URL", &other)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the URL from FLOWSCALE_API_URL in the environment"),
        "{err}"
    );
    assert!(keys.lock().unwrap().is_empty());
    assert!(pod_keys.lock().unwrap().is_empty());

    // `flowscale profiles` says which pod a command here would use, and why not.
    let out = tool(&dir, &config)
        .args(["profiles", "--json", "--profile", "staging"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["active"]["api_url"], pod.as_str());
    assert_eq!(doc["active"]["key"], "****6789");
    assert_eq!(doc["active"]["key_source"]["kind"], "profile");
    assert_eq!(doc["active"]["url_source"]["name"], "staging");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(key));
    std::fs::write(dir.join(".env"), format!("FLOWSCALE_API_URL={other}\n")).unwrap();
    let out = tool(&dir, &config)
        .args(["profiles", "--profile", "staging"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("staging\t{pod}")) && text.contains("here: no pod: the key comes"),
        "{text}"
    );
    let out = tool(&dir, &config)
        .args(["profiles", "--json"])
        .env("FLOWSCALE_API_KEY", "an-exported-key-0000")
        .output()
        .unwrap();
    // An exported key with a URL only a .env gives: refused, and said so.
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["active"].is_null(), "{doc}");
    let problem = doc["problem"]["error"].as_str().unwrap();
    assert!(
        problem.starts_with(
            "the key comes from FLOWSCALE_API_KEY in the environment, the URL from ./.env"
        ),
        "{doc}"
    );
}

#[test]
fn login_takes_the_key_from_a_file_the_environment_or_stdin_and_says_what_failed() {
    use std::io::Write;
    let server = flowscale::mock::MockServer::start();
    server.set_api_key("the-right-key-0123456789");
    let dir = workdir("login");
    let config = dir.join("conf").join("config.toml");
    let key_file = dir.join("key");
    private_file(&key_file, "the-right-key-0123456789\n");

    // --api-key-file: a working profile, and a --json document.
    let out = tool(&dir, &config)
        .args([
            "login",
            "--profile",
            "ci",
            "--json",
            "--api-url",
            server.url(),
        ])
        .arg("--api-key-file")
        .arg(&key_file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (doc["profile"].as_str(), doc["version"].as_u64()),
        (Some("ci"), Some(1))
    );
    assert_eq!(doc["api_url"], server.url());
    let out = tool(&dir, &config)
        .args(["--profile", "ci", "health", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // FLOWSCALE_API_KEY, then stdin.
    let out = tool(&dir, &config)
        .args(["login", "--profile", "env", "--api-url", server.url()])
        .env("FLOWSCALE_API_KEY", "the-right-key-0123456789")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut child = tool(&dir, &config)
        .args(["login", "--profile", "piped", "--api-url", server.url()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "the-right-key-0123456789").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // --api-key works, with the warning that `ps` shows it.
    let out = tool(&dir, &config)
        .args(["login", "--profile", "flag", "--api-url", server.url()])
        .args(["--api-key", "the-right-key-0123456789"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`ps`"));

    // The profiles list has them all, never a key.
    let out = tool(&dir, &config)
        .args(["profiles", "-q"])
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        ["ci", "env", "flag", "piped"]
    );

    // A refused key and a pod out of reach are told apart; nothing is saved.
    let out = tool(&dir, &config)
        .args(["login", "--profile", "bad", "--api-url", server.url()])
        .env("FLOWSCALE_API_KEY", "a-wrong-key")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(
        err.contains("the pod refused the key") && err.contains("check the key"),
        "{err}"
    );
    let out = tool(&dir, &config)
        .args([
            "login",
            "--profile",
            "bad",
            "--api-url",
            &common::closed_port_url(),
        ])
        .env("FLOWSCALE_API_KEY", "the-right-key-0123456789")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("could not reach the pod at") && err.contains("--api-url"),
        "{err}"
    );
    assert!(
        !std::fs::read_to_string(&config)
            .unwrap()
            .contains("[profiles.bad]")
    );

    // Odd or empty profile names, and a directory given as the key file.
    for name in ["", "../x", "a b", "-dash", "x".repeat(65).as_str()] {
        let out = tool(&dir, &config)
            .args([
                "login",
                "--api-url",
                server.url(),
                &format!("--profile={name}"),
            ])
            .env("FLOWSCALE_API_KEY", "the-right-key-0123456789")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains("profile name"), "{err}");
    }
    let out = tool(&dir, &config)
        .args(["login", "--api-url", server.url(), "--api-key-file"])
        .arg(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is not a file") && !err.contains("chmod"),
        "{err}"
    );

    // logout --json.
    let out = tool(&dir, &config)
        .args(["logout", "--profile", "flag", "--json"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (doc["profile"].as_str(), doc["removed"].as_bool()),
        (Some("flag"), Some(true))
    );
}
