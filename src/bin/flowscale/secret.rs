//! The API key as the tool holds it: a value whose `Debug` never shows it, so that no
//! `{:?}` of the arguments, a profile or a resolved pair can print it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An API key. Leading and trailing white space is removed; `Debug` prints `Secret(***)`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a key, trimmed.
    pub fn new(key: impl AsRef<str>) -> Self {
        Secret(key.as_ref().trim().to_owned())
    }

    /// The key itself: only for the client that sends it and the file `login` writes.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether there is no key at all (an empty line, a variable set to nothing).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The key as `flowscale profiles` shows it: its last four characters when it is long
    /// enough for them to give nothing away (as `gh auth status` does), else only stars.
    pub fn masked(&self) -> String {
        let count = self.0.chars().count();
        if count >= 16 {
            let tail: String = self.0.chars().skip(count - 4).collect();
            format!("****{tail}")
        } else {
            "****".to_owned()
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_shows_in_no_debug_and_only_its_tail_when_masked() {
        let key = Secret::new("  sk-0123456789abcdefWXYZ \n");
        assert_eq!(key.expose(), "sk-0123456789abcdefWXYZ");
        assert_eq!(format!("{key:?}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(key.clone())), "Some(Secret(***))");
        assert_eq!(key.masked(), "****WXYZ");
        assert_eq!(Secret::new("short-key").masked(), "****");
        assert!(Secret::new(" ").is_empty());
    }
}
