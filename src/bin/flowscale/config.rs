//! Where the API key and URL come from: the flags, else the environment, else a `.env`
//! file in the current directory (as the Python SDK's docs recommend).

use std::path::Path;

use flowscale::{ENV_API_KEY, ENV_API_URL};

use crate::failure::Failure;

/// The key and URL to use, or a failure that says where to set them.
pub fn resolve(
    api_key: Option<String>,
    api_url: Option<String>,
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
    let key = pick(api_key, ENV_API_KEY).ok_or_else(|| {
        Failure::usage(
            "no API key",
            "set FLOWSCALE_API_KEY, put it in a .env file, or pass --api-key \
             (try `flowscale mock` for a local simulator)",
        )
    })?;
    let url = pick(api_url, ENV_API_URL).ok_or_else(|| {
        Failure::usage(
            "no API URL",
            "set FLOWSCALE_API_URL (https://<pod-id>.pod.flowscale.ai), put it in a .env \
             file, or pass --api-url",
        )
    })?;
    Ok((key, url))
}

/// `KEY=value` lines of a `.env` file (comments, `export ` and quotes allowed); nothing
/// when there is no file.
fn read_dotenv(path: &Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_owned(), v.to_owned()))
        })
        .collect()
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
            "# comment\nFLOWSCALE_API_KEY=\"abc\"\nexport FLOWSCALE_API_URL=http://h:1\n\nbad line\n",
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
